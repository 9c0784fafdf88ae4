"""Agent transcripts as conversations: what the agent said, each tool call folded with its input and
output, long outputs folded again. Every transcript is one closed ``<details>``, so the page stays
short until someone opens one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from jobs.report.fmt import duration, money
from jobs.report.links import anchor
from jobs.report.markup import Html, el, join, link
from jobs.report.parts import folded, pill
from jobs.report.transcript import Said, ToolCall, read_conversation

# Transcripts are the phases' agent streams: <phase>/transcript.jsonl or <phase>/transcripts/*.jsonl,
# and the onboarding's onboard/transcript-<n>-<purpose>.jsonl.
_KINDS = (
    (re.compile(r"^onboard/transcript-(\d+)-([a-z]+)\.jsonl$"), "Onboarding agent", "run {0}: {1}"),
    (re.compile(r"^implement/transcript\.jsonl$"), "Implementer", "the ticket"),
    (re.compile(r"^review/transcripts/review-(\d+)-ask-(\d+)\.jsonl$"), "Reviewer", "round {0}"),
    (re.compile(r"^review/transcripts/fix-(\d+)\.jsonl$"), "Fixer", "after review round {0}"),
    (re.compile(r"^e2e/transcripts/attempt-(\d+)-ask-(\d+)\.jsonl$"), "Browser agent", "attempt {0}"),
    (re.compile(r"^e2e/transcripts/fix-(\d+)\.jsonl$"), "Fixer", "after browser attempt {0}"),
)
_BRIEF_KEYS = ("file_path", "notebook_path", "path", "command", "pattern", "url", "selector", "name", "query")
BRIEF_CHARS = 140
INPUT_LINES = 20
OUTPUT_LINES = 14


@dataclass(frozen=True)
class TranscriptFile:
    """One transcript of the run: its run-relative path and its bytes."""

    path: str
    data: bytes

    @property
    def who(self) -> tuple[str, str]:
        """Which agent, and when: ("Reviewer", "round 2")."""
        for pattern, who, when in _KINDS:
            found = pattern.match(self.path)
            if found:
                when = when.format(*found.groups())
                asks = found.groups()[1:] if len(found.groups()) > 1 else ()
                if asks and asks[0].isdigit() and asks[0] != "1":
                    when += f", ask {asks[0]}"
                return who, when
        return "Agent", self.path

    @property
    def order(self) -> tuple[int, int, int, int]:
        """Phase, then round or attempt, its agent before its fix, then the ask."""
        phase = next(
            (
                i
                for i, p in enumerate(("onboard", "implement", "review", "e2e"))
                if self.path.startswith(p + "/")
            ),
            4,
        )
        numbers = [int(n) for n in re.findall(r"\d+", self.path.rsplit("/", 1)[-1])] or [0]
        is_fix = 1 if "/fix-" in self.path else 0
        return phase, numbers[0], is_fix, numbers[1] if len(numbers) > 1 else 0


def is_transcript(path: str) -> bool:
    """Whether a run-relative path is an agent transcript (not, say, the offline model's request log)."""
    return bool(
        re.match(r"^(implement|review|e2e)/(transcript\.jsonl|transcripts/[^/]+\.jsonl)$", path)
        or re.match(r"^onboard/transcript-\d+-[a-z]+\.jsonl$", path)
    )


def transcripts_section(files: list[TranscriptFile]) -> Html:
    items = [_transcript(file) for file in sorted(files, key=lambda f: f.order)]
    if not items:
        items = [el("p", "No agent transcript yet.", class_="muted")]
    return el(
        "section",
        el("h2", "Agent transcripts", el("span", f"{len(files)}", class_="tag")),
        el(
            "p",
            "Every agent run as it was streamed (secrets were masked before it was stored). "
            "Open one to read it; tool calls open on their own.",
            class_="muted small",
        ),
        items,
        class_="card",
        id="transcripts",
    )


def _transcript(file: TranscriptFile) -> Html:
    convo = read_conversation(file.data)
    who, when = file.who
    ending = convo.ending
    figures: list[str | Html] = []
    if ending is not None:
        figures.append(pill("error" if ending.is_error else "done", ending.subtype or "ended"))
        if ending.turns is not None:
            figures.append(f"{ending.turns} turns")
        if ending.seconds is not None:
            figures.append(duration(ending.seconds))
        if ending.cost_usd is not None:
            figures.append(money(ending.cost_usd))
    else:
        figures.append(pill("unfinished", "no result event"))
    figures.append(f"{convo.calls} tool calls")
    summary = el(
        "summary",
        el("span", who, class_="who"),
        el("span", when, class_="muted"),
        [
            join(el("span", "·", class_="faint"), " ", fig) if not isinstance(fig, Html) else fig
            for fig in figures
        ],
        el("span", convo.model or "", class_="faint small"),
    )
    body: list[Html] = []
    for entry in convo.entries:
        body.append(_said(entry) if isinstance(entry, Said) else _call(entry, convo.cwd))
    if convo.left_out:
        body.append(
            el("p", f"{convo.left_out} more entries are in the raw transcript.", class_="muted small")
        )
    if convo.unreadable:
        body.append(
            el("p", f"{convo.unreadable} line(s) were not JSON and are left out.", class_="muted small")
        )
    tail = [link("raw transcript (.jsonl)", quote(file.path))]
    if ending is not None and ending.is_error and ending.text:
        tail.insert(0, join(el("b", "The CLI's error: "), ending.text[:2000], " · "))
    body.append(el("div", *tail, class_="ending"))
    return el("details", summary, el("div", body, class_="convo"), class_="transcript", id=anchor(file.path))


def _said(entry: Said) -> Html:
    return el("div", entry.text, class_="say thinking" if entry.thinking else "say")


def _call(call: ToolCall, cwd: str | None) -> Html:
    name = call.name
    if name.startswith("mcp__"):
        name = ".".join(name.split("__")[1:])
    mark = (
        el("span", "✗", class_="mark-err", title="the tool reported an error")
        if call.is_error
        else el("span", "✓", class_="mark-ok")
        if call.output is not None
        else el("span", "…", class_="faint", title="no result")
    )
    summary = el(
        "summary", mark, el("span", name, class_="tname"), el("span", _brief(call.input, cwd), class_="targ")
    )
    body: list[Html] = [_input(call, cwd)]
    if call.output is not None:
        body.append(el("div", "error" if call.is_error else "output", class_="label"))
        body.append(
            folded(call.output, OUTPUT_LINES)
            if call.output.strip()
            else el("div", "(empty)", class_="faint small")
        )
    if call.images:
        body.append(
            el("div", f"({call.images} image(s) returned to the agent, not shown)", class_="faint small")
        )
    return el("details", summary, el("div", body, class_="tool-body"), class_="tool")


def _brief(args: dict[str, Any], cwd: str | None) -> str:
    for key in _BRIEF_KEYS:
        value = args.get(key)
        if isinstance(value, str) and value:
            return _short(_relative(value, cwd))
    return _short(json.dumps(args, ensure_ascii=False)) if args else ""


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= BRIEF_CHARS else flat[: BRIEF_CHARS - 1] + "…"


def _relative(path: str, cwd: str | None) -> str:
    if cwd and path.startswith(cwd.rstrip("/") + "/"):
        return path[len(cwd.rstrip("/")) + 1 :]
    return path


def _input(call: ToolCall, cwd: str | None) -> Html:
    args = call.input
    old, new = args.get("old_string"), args.get("new_string")
    if isinstance(old, str) and isinstance(new, str):
        return join(el("div", "edit", class_="label"), _diff(old, new))
    edits = args.get("edits")
    if isinstance(edits, list) and all(isinstance(e, dict) for e in edits):
        return join(
            el("div", f"{len(edits)} edits", class_="label"),
            [_diff(str(e.get("old_string", "")), str(e.get("new_string", ""))) for e in edits],
        )
    content = args.get("content")
    if isinstance(content, str):
        return join(el("div", "content written", class_="label"), folded(content, INPUT_LINES))
    command = args.get("command")
    if isinstance(command, str):
        note = args.get("description")
        return join(
            el("div", "command", class_="label"),
            el("pre", command),
            el("div", note, class_="muted small") if isinstance(note, str) else "",
        )
    if not args:
        return Html("")
    if all(_flat(value) for value in args.values()):
        rows = [
            el("div", el("span", key, class_="k"), el("code", _relative(str(value), cwd)), class_="kv")
            for key, value in args.items()
        ]
        return join(el("div", "input", class_="label"), rows)
    return join(
        el("div", "input", class_="label"),
        folded(json.dumps(args, indent=2, ensure_ascii=False), INPUT_LINES),
    )


def _flat(value: object) -> bool:
    """A value short and flat enough to show on one line of its own."""
    if isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and len(value) <= 300 and "\n" not in value


def _diff(old: str, new: str) -> Html:
    lines = [el("span", f"- {line}\n", class_="del") for line in old.split("\n")] if old else []
    lines += [el("span", f"+ {line}\n", class_="add") for line in new.split("\n")] if new else []
    return el("pre", lines, class_="diff")
