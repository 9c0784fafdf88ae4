"""What the night found: one finding per failure, with the identity that makes it the same failure later.

A finding's ``keys`` are every identity under which the failure may come back: a Sentry issue's id and
each of its grouping hashes (a grouping upgrade can give the same failure a new issue id, but keeps
hashes in common), or for Langfuse the score name and the route (tags) its failed traces share. Two
findings are the same failure when their keys meet.

Everything quoted from the services (messages, stack frames, chat inputs written by end users) is
untrusted data: it is redacted, size-capped here, and fenced wherever it reaches an agent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_FRAMES = 30
MAX_EXAMPLES = 8
MAX_TEXT = 1_500


class Frame(BaseModel):
    """One stack frame, innermost last, as far as the event told us."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str | None = None
    function: str | None = None
    module: str | None = None
    line: int | None = None
    in_app: bool = False
    code: str | None = Field(default=None, description="the frame's own line of source, when sent")


class Example(BaseModel):
    """One failed chat turn: what the user asked, what the bot answered, and how it was scored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    trace_id: str
    input: str = ""
    output: str = ""
    score: float | None = None
    comment: str | None = None
    url: str | None = None


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str
    url: str


class Evidence(BaseModel):
    """What a fixer needs to reproduce the failure: the error and its frames, or failed examples."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    error: str = ""
    frames: list[Frame] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)
    truncated: bool = False


class Finding(BaseModel):
    """One failure of the night, from one source."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    source: Literal["sentry", "langfuse"]
    fingerprint: str = Field(description="the first of its keys: how people and records name it")
    keys: list[str] = Field(min_length=1)
    title: str
    count: int = Field(ge=0, description="events (Sentry) or failed traces (Langfuse) in the window")
    users: int = Field(default=0, ge=0)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    regressed: bool = Field(default=False, description="the source itself says it was resolved and is back")
    links: list[Link] = Field(default_factory=list)
    evidence: Evidence = Field(default_factory=Evidence)
    sentry_issue_id: str | None = None

    @property
    def impact(self) -> int:
        """How much it hurts: events, with each affected user counting as much as four more events."""
        return self.count + 4 * self.users

    def same_failure(self, keys: set[str] | list[str]) -> bool:
        return bool(set(self.keys) & set(keys))


def sentry_keys(issue_id: str, hashes: list[str]) -> list[str]:
    """A Sentry issue's identities: its id first (the fingerprint), then its grouping hashes."""
    return [f"sentry:issue:{issue_id}", *(f"sentry:hash:{h}" for h in sorted(set(hashes)))]


def langfuse_key(score: str, group: dict[str, str]) -> str:
    """A Langfuse cluster's identity: the failing score and the route its traces share."""
    route = ",".join(f"{name}={group[name]}" for name in sorted(group))
    return f"langfuse:{score}:{route or '*'}"


def capped(evidence: Evidence, redact: Callable[[str], str], max_bytes: int) -> Evidence:
    """``evidence`` redacted, each text cut to MAX_TEXT, and whole items dropped past ``max_bytes``."""

    def clip(text: str | None) -> str | None:
        if text is None:
            return None
        clean = redact(text)
        return clean if len(clean) <= MAX_TEXT else clean[: MAX_TEXT - 1] + "…"

    frames = [
        frame.model_copy(
            update={"file": clip(frame.file), "function": clip(frame.function), "code": clip(frame.code)}
        )
        for frame in evidence.frames[-MAX_FRAMES:]
    ]
    examples = [
        example.model_copy(
            update={
                "input": clip(example.input),
                "output": clip(example.output),
                "comment": clip(example.comment),
            }
        )
        for example in evidence.examples[:MAX_EXAMPLES]
    ]
    truncated = (
        evidence.truncated or len(frames) < len(evidence.frames) or len(examples) < len(evidence.examples)
    )
    result = Evidence(error=clip(evidence.error) or "", frames=frames, examples=examples, truncated=truncated)
    # Past the budget, drop the outermost frames and the last examples until it fits.
    while _size(result) > max_bytes and (result.frames or result.examples):
        if len(result.examples) > 1 or not result.frames:
            result = result.model_copy(update={"examples": result.examples[:-1], "truncated": True})
        else:
            result = result.model_copy(update={"frames": result.frames[1:], "truncated": True})
    return result


def sanitized(finding: Finding, redact: Callable[[str], str], max_bytes: int) -> Finding:
    """The finding as it may be kept and shown: every quoted text redacted, the evidence capped."""
    return finding.model_copy(
        update={
            "title": redact(finding.title)[:200],
            "links": [Link(label=redact(link.label), url=redact(link.url)) for link in finding.links],
            "evidence": capped(finding.evidence, redact, max_bytes),
        }
    )


def _size(evidence: Evidence) -> int:
    return len(json.dumps(evidence.model_dump(mode="json"), ensure_ascii=False).encode())
