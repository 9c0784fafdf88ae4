"""Reading Claude Code's ``stream-json`` output: turns, tokens, dollars and the final verdict.

The harness keeps its own count rather than trusting the CLI's caps, which have failed open elsewhere:
it counts assistant messages, adds up their usage, and judges the ``result`` event itself (a result
with ``is_error`` is a failure whatever its subtype says).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from jobs.agent.models import AgentStatus, PermissionDenial, Usage

# USD per million tokens (input, output): used only to enforce a budget mid-run; the CLI's own
# total in the result event is what gets reported when there is one.
PRICES = {"opus": (5.0, 25.0), "sonnet": (3.0, 15.0), "haiku": (1.0, 5.0)}

ERROR_SUBTYPES = {"error_max_turns": AgentStatus.MAX_TURNS, "error_max_budget_usd": AgentStatus.OVER_BUDGET}


def price_for(model: str) -> tuple[float, float]:
    for family, price in PRICES.items():
        if family in model:
            return price
    return PRICES["sonnet"]


def parse_line(line: str) -> dict[str, Any] | None:
    """One stream line as a JSON object, or None for blank or non-JSON noise."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


class StreamTally:
    """Running totals over the events of one run."""

    def __init__(self) -> None:
        self.message_ids: set[str] = set()
        self.usage = Usage()
        self.result: dict[str, Any] | None = None
        self.session_id: str | None = None

    @property
    def turns(self) -> int:
        return len(self.message_ids)

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        self.session_id = event.get("session_id") or self.session_id
        if kind == "assistant":
            self._add_assistant(event.get("message") or {})
        elif kind == "result" and self.result is None:
            # The first verdict stands: a leftover process must not append a "success" after it.
            self.result = event

    def _add_assistant(self, message: dict[str, Any]) -> None:
        # The CLI emits one event per content block, all carrying the same message id and usage.
        msg_id = str(message.get("id") or f"anon-{len(self.message_ids)}")
        if msg_id in self.message_ids:
            return
        self.message_ids.add(msg_id)
        usage = message.get("usage") or {}
        tokens_in = int(usage.get("input_tokens") or 0)
        tokens_out = int(usage.get("output_tokens") or 0)
        price_in, price_out = price_for(str(message.get("model") or ""))
        self.usage = Usage(
            input_tokens=self.usage.input_tokens + tokens_in,
            output_tokens=self.usage.output_tokens + tokens_out,
            cache_read_input_tokens=self.usage.cache_read_input_tokens
            + int(usage.get("cache_read_input_tokens") or 0),
            cache_creation_input_tokens=self.usage.cache_creation_input_tokens
            + int(usage.get("cache_creation_input_tokens") or 0),
            cost_usd=self.usage.cost_usd + (tokens_in * price_in + tokens_out * price_out) / 1_000_000,
        )

    def final_usage(self) -> Usage:
        """Totals from the result event when the CLI sent one, else the running tally."""
        if self.result is None:
            return self.usage
        usage = self.result.get("usage") or {}
        return Usage(
            input_tokens=int(usage.get("input_tokens") or self.usage.input_tokens),
            output_tokens=int(usage.get("output_tokens") or self.usage.output_tokens),
            cache_read_input_tokens=int(usage.get("cache_read_input_tokens") or 0),
            cache_creation_input_tokens=int(usage.get("cache_creation_input_tokens") or 0),
            cost_usd=float(self.result.get("total_cost_usd") or self.usage.cost_usd),
        )


def classify(result: dict[str, Any] | None) -> tuple[AgentStatus, str]:
    """The verdict on a run from its result event alone."""
    if result is None:
        return AgentStatus.NO_RESULT, "the agent ended without a result event"
    subtype = str(result.get("subtype") or "")
    if subtype in ERROR_SUBTYPES:
        return ERROR_SUBTYPES[subtype], f"the CLI stopped: {subtype}"
    if result.get("is_error") is not False:
        # Missing or non-boolean is_error is not a success either.
        text = str(result.get("result") or result.get("api_error_status") or subtype)[:300]
        return AgentStatus.ERROR, f"the CLI reported an error ({subtype or 'no subtype'}): {text}"
    if subtype != "success":
        return AgentStatus.ERROR, f"unexpected result subtype {subtype!r}"
    return AgentStatus.SUCCESS, ""


def permission_denials(lines: Iterable[str]) -> list[PermissionDenial]:
    """The tool uses the CLI refused, read from a run's stream lines (its first ``result`` event)."""
    tally = StreamTally()
    for line in lines:
        event = parse_line(line)
        if event is not None:
            tally.add(event)
    listed = (tally.result or {}).get("permission_denials")
    denials = []
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, dict):
            denials.append(
                PermissionDenial(
                    tool_name=str(item.get("tool_name") or "(unnamed)"),
                    tool_use_id=str(item.get("tool_use_id") or ""),
                    tool_input=json.dumps(item.get("tool_input"), ensure_ascii=False, sort_keys=True),
                )
            )
    return denials
