"""An agent transcript (Claude Code's ``stream-json`` lines) read into a conversation a person can follow.

The stream has one line per event: ``system`` (the ``init`` names the model, the tools and the working
directory), ``assistant`` (one content block per line: text, a tool call, thinking), ``user`` (the tool
results, matched to their calls by ``tool_use_id``) and ``result`` (how the run ended, its turns and
cost). Lines are read forgivingly: a transcript is cut short when a run is killed, and the CLI adds
event types over time, so an unreadable or unknown line is counted, never fatal.

Everything here is text as the agent or its tools wrote it (already redacted when it was stored); only
the renderer turns it into markup, escaped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_BLOCK_CHARS = 20_000  # one tool's input or output, kept for the page; the raw file has it all
MAX_ENTRIES = 800  # entries of one transcript shown; a longer one says how many were left out


@dataclass
class Said:
    """Text the assistant wrote (``thinking`` for its visible reasoning)."""

    text: str
    thinking: bool = False
    at: str | None = None


@dataclass
class ToolCall:
    """One tool use, and what came back for it."""

    id: str
    name: str
    input: dict[str, Any]
    output: str | None = None
    images: int = 0
    is_error: bool = False
    at: str | None = None


@dataclass
class Ending:
    """The ``result`` event: how the run ended as the CLI saw it."""

    subtype: str
    is_error: bool
    turns: int | None
    cost_usd: float | None
    seconds: float | None
    text: str


Entry = Said | ToolCall


@dataclass
class Conversation:
    """A transcript read: the entries in order, and what frames them."""

    entries: list[Entry] = field(default_factory=list)
    model: str | None = None
    cwd: str | None = None
    tools: list[str] = field(default_factory=list)
    ending: Ending | None = None
    unreadable: int = 0
    left_out: int = 0

    @property
    def calls(self) -> int:
        return sum(isinstance(entry, ToolCall) for entry in self.entries)


def clamp(text: str, limit: int = MAX_BLOCK_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... {len(text) - limit} more characters in the raw transcript]"


def read_conversation(data: bytes) -> Conversation:
    """The conversation in a transcript's bytes."""
    convo = Conversation()
    calls: dict[str, ToolCall] = {}
    for line in data.decode(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            convo.unreadable += 1
            continue
        if not isinstance(event, dict):
            convo.unreadable += 1
            continue
        _take(event, convo, calls)
    if len(convo.entries) > MAX_ENTRIES:
        convo.left_out = len(convo.entries) - MAX_ENTRIES
        convo.entries = convo.entries[:MAX_ENTRIES]
    return convo


def _take(event: dict[str, Any], convo: Conversation, calls: dict[str, ToolCall]) -> None:
    kind = event.get("type")
    if kind == "system" and event.get("subtype") == "init":
        convo.model = _str(event.get("model"))
        convo.cwd = _str(event.get("cwd"))
        convo.tools = [t for t in event.get("tools") or [] if isinstance(t, str)]
    elif kind == "assistant":
        for block in _blocks(event):
            _assistant_block(block, _str(event.get("timestamp")), convo, calls)
    elif kind == "user":
        for block in _blocks(event):
            if block.get("type") == "tool_result":
                _tool_result(block, convo, calls)
    elif kind == "result":
        convo.ending = Ending(
            subtype=_str(event.get("subtype")) or "",
            is_error=event.get("is_error") is True,
            turns=_int(event.get("num_turns")),
            cost_usd=_float(event.get("total_cost_usd")),
            seconds=(ms / 1000 if (ms := _float(event.get("duration_ms"))) is not None else None),
            text=clamp(_str(event.get("result")) or ""),
        )


def _assistant_block(
    block: dict[str, Any], at: str | None, convo: Conversation, calls: dict[str, ToolCall]
) -> None:
    kind = block.get("type")
    if kind == "text" and (text := _str(block.get("text"))):
        convo.entries.append(Said(clamp(text), at=at))
    elif kind == "thinking" and (text := _str(block.get("thinking"))):
        convo.entries.append(Said(clamp(text), thinking=True, at=at))
    elif kind == "tool_use":
        raw = block.get("input")
        call = ToolCall(
            id=_str(block.get("id")) or "",
            name=_str(block.get("name")) or "?",
            input=raw if isinstance(raw, dict) else {"input": raw},
            at=at,
        )
        calls[call.id] = call
        convo.entries.append(call)


def _tool_result(block: dict[str, Any], convo: Conversation, calls: dict[str, ToolCall]) -> None:
    content = block.get("content")
    texts: list[str] = []
    images = 0
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                texts.append(_str(part.get("text")) or "")
            elif isinstance(part, dict) and part.get("type") == "image":
                images += 1
    call = calls.get(_str(block.get("tool_use_id")) or "")
    if call is None:  # a result whose call is not in the transcript (cut short at the start)
        call = ToolCall(id="", name="(result)", input={})
        convo.entries.append(call)
    call.output = clamp("\n".join(texts))
    call.images = images
    call.is_error = block.get("is_error") is True


def _blocks(event: dict[str, Any]) -> list[dict[str, Any]]:
    message = event.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content or [] if isinstance(block, dict)] if isinstance(content, list) else []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
