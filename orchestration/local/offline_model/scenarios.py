"""Scenario files: which scripted turns to play for which request.

A scenario is YAML::

    name: implement-IX-101
    match: ["IX-101", "phase: implement"]   # every string must occur in the request's prompt text
    turns:
      - text: "Reading the app first."
        tool_uses:
          - {name: Read, input: {file_path: "{{workspace}}/app.py"}}
      - text: "Done."

The turn to play is the number of assistant messages already in the request, so the server keeps no
conversation state: a retried request gets the same answer. ``{{workspace}}`` is replaced with the
repository path named in the prompt (``Repository root: /abs/path``) or, failing that, the CLI's own
``Working directory:`` line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobs.yaml_load import safe_load

_WORKSPACE_PATTERNS = (
    re.compile(r"Repository root: (/\S+)"),
    re.compile(r"Working directory: (/\S+)"),
)


class ToolUse(BaseModel):
    """One scripted tool call."""

    model_config = ConfigDict(extra="forbid")
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class ScriptedError(BaseModel):
    """An API error to answer with instead of a message (429, 529, 500...)."""

    model_config = ConfigDict(extra="forbid")
    status: int
    type: str = "overloaded_error"
    message: str = "scripted error"
    retry_after: float | None = None


class Turn(BaseModel):
    """One assistant turn: optional text, then tool calls (which make the stop reason ``tool_use``)."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = None
    tool_uses: list[ToolUse] = Field(default_factory=list)
    delay_seconds: float = 0.0
    error: ScriptedError | None = None


class Scenario(BaseModel):
    """A named script chosen when every ``match`` string occurs in the request."""

    model_config = ConfigDict(extra="forbid")
    name: str
    match: list[str] = Field(min_length=1)
    turns: list[Turn] = Field(min_length=1)
    final_text: str = "Scenario finished."

    def turn(self, index: int) -> Turn:
        """The turn at ``index``; past the end, a closing text turn so the agent stops."""
        if index < len(self.turns):
            return self.turns[index]
        return Turn(text=self.final_text)


class NoScenarioError(LookupError):
    """No scenario's match strings all occur in the request."""


def request_text(body: dict[str, Any]) -> str:
    """The text a scenario is matched against: the system prompt and the first user message."""
    parts: list[str] = [_flatten(body.get("system"))]
    messages = body.get("messages") or []
    if messages:
        parts.append(_flatten(messages[0].get("content")))
    return "\n".join(parts)


def assistant_turns(body: dict[str, Any]) -> int:
    """How many assistant turns the conversation already holds."""
    return sum(1 for m in body.get("messages") or [] if m.get("role") == "assistant")


def workspace_of(text: str) -> str | None:
    """The repository path the prompt names, for ``{{workspace}}`` substitution."""
    for pattern in _WORKSPACE_PATTERNS:
        found = pattern.search(text)
        if found:
            return found.group(1).rstrip(".,;")
    return None


def _flatten(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_flatten(item.get("text") if isinstance(item, dict) else item) for item in content)
    return str(content)


def substitute(value: Any, variables: dict[str, str]) -> Any:
    """Replace ``{{name}}`` placeholders in every string inside ``value``."""
    if isinstance(value, str):
        for key, replacement in variables.items():
            value = value.replace("{{" + key + "}}", replacement)
        return value
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    return value


class ScenarioBook:
    """All scenarios the server knows, loaded from files or given directly."""

    def __init__(self, scenarios: list[Scenario]) -> None:
        self.scenarios = scenarios

    @classmethod
    def load(cls, *paths: Path) -> ScenarioBook:
        """Load every ``*.yaml`` file under the given files or directories."""
        found: list[Scenario] = []
        for path in paths:
            files = sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
            for file in files:
                data = safe_load(file.read_text(encoding="utf-8"))
                found.append(Scenario.model_validate(data))
        return cls(found)

    def choose(self, body: dict[str, Any]) -> Scenario:
        """The most specific scenario (most match strings) whose strings all occur in the request."""
        text = request_text(body)
        candidates = [s for s in self.scenarios if all(m in text for m in s.match)]
        if not candidates:
            raise NoScenarioError("no offline-model scenario matches this request")
        return max(candidates, key=lambda s: len(s.match))
