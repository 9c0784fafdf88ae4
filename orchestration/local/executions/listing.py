"""``executions.list``: filter (AIP-160), orderBy (AIP-132), pages and views.

``filter`` and ``orderBy`` work on the documented fields the local engine has, newest ``createTime``
first by default, ``pageSize`` / ``pageToken``, ``view`` BASIC (default) or FULL. What the API cannot do
it refuses, never ignores: a filter on a documented field the local engine does not keep (``stepName``,
``label``, ``disableConcurrencyQuotaOverflowBuffering``), an unknown field, a bad view, a page token
reused with another filter or order are each a 400 ``INVALID_ARGUMENT`` in Google's error JSON.
"""

from __future__ import annotations

import base64
import hashlib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestration.local.executions.arguments import _shown
from orchestration.local.executions.model import (
    FILTERABLE,
    MAX_FILTER_NESTING,
    NOT_KEPT_LOCALLY,
    ORDERABLE,
    STATES,
    Execution,
    invalid,
)

Predicate = Callable[["Execution"], bool]


def _field_value(execution: Execution, field: str) -> Any:
    """The value a filter or orderBy compares for ``field``; None where the execution has none yet."""
    values: dict[str, Any] = {
        "executionId": execution.execution_id,
        "state": execution.state,
        "createTime": execution.created,
        "startTime": execution.created,
        "endTime": execution.ended,
        "duration": execution.duration,
        "workflowRevisionId": execution.revision,
    }
    return values[field]


def _check_field(field: str, allowed: tuple[str, ...], what: str, not_kept: tuple[str, ...] = ()) -> None:
    """A 400 unless ``field`` is one of ``allowed``; a documented field the local engine does not keep
    (``not_kept``, ``labels.team`` counting as ``labels``) is told apart from one Google does not have."""
    if field in allowed:
        return
    if field.split(".", 1)[0] in not_kept:
        raise invalid(f"{what} on '{field}' is not supported by the local Executions API")
    raise invalid(f"{what} on '{field}' is not supported; supported fields: {', '.join(allowed)}")


def _timestamp_value(text: str) -> datetime:
    """An RFC 3339 timestamp or a date (``2023-08-01``, midnight UTC), aware; more than microsecond
    precision is cut, as the local engine keeps microseconds."""
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        moment = datetime.fromisoformat(trimmed)
    except ValueError:
        raise invalid(f"'{text}' is not an RFC 3339 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _duration_value(text: str) -> timedelta:
    """A protobuf Duration as JSON shows it: seconds with up to nine decimals and an ``s``."""
    match = re.fullmatch(r"(\d+(?:\.\d{1,9})?)s", text)
    if match is None:
        raise invalid(f'\'{text}\' is not a duration such as "60s" or "1.5s"')
    return timedelta(seconds=float(match.group(1)))


def _state_value(text: str) -> str:
    if text not in STATES:
        raise invalid(f"'{text}' is not an execution state; states: {', '.join(STATES)}")
    return text


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_VALUE_OF: dict[str, Callable[[str], Any]] = {
    "state": _state_value,
    "createTime": _timestamp_value,
    "startTime": _timestamp_value,
    "endTime": _timestamp_value,
    "duration": _duration_value,
}
_EQUALITY_ONLY = ("executionId", "state", "workflowRevisionId")


def restriction(field: str, comparator: str, text: str) -> Predicate:
    """``field comparator value`` as a predicate. An execution without the field (an active one has no
    ``endTime``) matches no restriction on it."""
    _check_field(field, FILTERABLE, "filtering", NOT_KEPT_LOCALLY)
    if comparator not in _COMPARATORS:
        raise invalid(f"the '{comparator}' operator is not supported by the local Executions API")
    if field in _EQUALITY_ONLY and comparator not in ("=", "!="):
        raise invalid(f"'{field}' can only be compared with = or !=")
    wanted = _VALUE_OF.get(field, str)(text)
    compare = _COMPARATORS[comparator]

    def matches(execution: Execution) -> bool:
        value = _field_value(execution, field)
        return value is not None and compare(value, wanted)

    return matches


_TOKEN = re.compile(
    r"""\s*(?:(?P<paren>[()])|(?P<op><=|>=|!=|=|<|>|:)|(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
    r"""|(?P<neg>-(?=[A-Za-z(]))|(?P<word>[^\s()<>=!:"']+)|(?P<bad>\S))"""
)
_KEYWORDS = ("AND", "OR", "NOT")


def tokens(text: str) -> list[tuple[str, str]]:
    """AIP-160 tokens as ``(kind, text)``: parentheses, comparators, quoted strings (unquoted), ``-``
    negation, keywords and words."""
    found: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind is None:  # trailing blanks
            continue
        value = match.group(kind)
        if kind == "bad":
            raise invalid(f"invalid filter: unexpected {value!r} at {match.start(kind)}")
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "paren":
            kind = value
        elif kind == "word" and value in _KEYWORDS:
            kind = "keyword"
        found.append((kind, value))
    return found


class FilterParser:
    """AIP-160's grammar over the supported restrictions: ``expression = sequence {AND sequence}``,
    ``sequence = factor {factor}`` (juxtaposition is AND), ``factor = term {OR term}`` (OR binds tighter
    than AND), ``term = [NOT | -] (restriction | "(" expression ")")``. Parentheses nest at most
    ``MAX_FILTER_NESTING`` deep, so no filter can exhaust the recursion."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokens(text)
        self.position = 0
        self.depth = 0

    def parse(self) -> Predicate:
        if not self.tokens:
            return lambda execution: True
        predicate = self.expression()
        if self.position < len(self.tokens):
            unexpected = self.tokens[self.position][1]
            raise invalid(f"invalid filter {_shown(self.text, 100)!r}: unexpected {unexpected!r}")
        return predicate

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kinds: tuple[str, ...], wanted: str) -> str:
        token = self.peek()
        if token is None or token[0] not in kinds:
            got = "the end" if token is None else repr(token[1])
            raise invalid(f"invalid filter {_shown(self.text, 100)!r}: expected {wanted}, found {got}")
        self.position += 1
        return token[1]

    def expression(self) -> Predicate:
        parts = [self.sequence()]
        while self.peek() == ("keyword", "AND"):
            self.position += 1
            parts.append(self.sequence())
        return _all(parts)

    def sequence(self) -> Predicate:
        parts = [self.factor()]
        while (token := self.peek()) is not None and token[0] != ")" and token != ("keyword", "AND"):
            parts.append(self.factor())
        return _all(parts)

    def factor(self) -> Predicate:
        parts = [self.term()]
        while self.peek() == ("keyword", "OR"):
            self.position += 1
            parts.append(self.term())
        return _any(parts)

    def term(self) -> Predicate:
        negated = self.peek() in (("keyword", "NOT"), ("neg", "-"))
        self.position += int(negated)
        simple = self.composite() if self.peek() == ("(", "(") else self.restriction()
        return (lambda execution: not simple(execution)) if negated else simple

    def composite(self) -> Predicate:
        self.depth += 1
        if self.depth > MAX_FILTER_NESTING:
            raise invalid(f"invalid filter: parentheses nest deeper than {MAX_FILTER_NESTING}")
        self.take(("(",), "'('")
        inner = self.expression()
        self.take((")",), "')'")
        self.depth -= 1
        return inner

    def restriction(self) -> Predicate:
        field = self.take(("word",), "a field name")
        comparator = self.take(("op",), f"a comparator after '{field}'")
        value = self.take(("word", "string"), f"a value after '{field}{comparator}'")
        return restriction(field, comparator, value)


def _all(parts: list[Predicate]) -> Predicate:
    return parts[0] if len(parts) == 1 else lambda execution: all(part(execution) for part in parts)


def _any(parts: list[Predicate]) -> Predicate:
    return parts[0] if len(parts) == 1 else lambda execution: any(part(execution) for part in parts)


def parse_order(text: str) -> list[tuple[str, bool]]:
    """AIP-132 ``orderBy``: comma-separated fields, each ascending unless followed by ``desc``, as
    ``(field, descending)``; empty for Google's default (newest ``createTime`` first)."""
    if not text.strip():
        return []
    keys: list[tuple[str, bool]] = []
    for clause in text.split(","):
        words = clause.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            shown = _shown(text, 100)
            raise invalid(f"invalid orderBy {shown!r}: each clause is a field, then optionally asc or desc")
        _check_field(words[0], ORDERABLE, "ordering")
        keys.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return keys


def _sort_key(field: str) -> Callable[[Execution], tuple[Any, ...]]:
    """The sort key for ``field``: absent values sort before (ascending) or after (descending) every
    present one; states sort by their enum number."""

    def key(execution: Execution) -> tuple[Any, ...]:
        value = _field_value(execution, field)
        if value is None:
            return (False,)
        return (True, STATES.index(value) if field == "state" else value)

    return key


def ordered(items: list[Execution], keys: list[tuple[str, bool]]) -> list[Execution]:
    """``items`` in the ``orderBy`` order; ties (and no orderBy) newest ``createTime`` first."""
    result = sorted(items, key=lambda item: (item.created, item.sequence), reverse=True)
    for field, descending in reversed(keys):  # stable sorts, least significant key first
        result.sort(key=_sort_key(field), reverse=descending)
    return result


@dataclass(frozen=True)
class Listing:
    """One list call's parameters, checked: which executions, in which order, which page."""

    keep: Predicate
    order: list[tuple[str, bool]]
    size: int
    offset: int
    fingerprint: str

    @classmethod
    def of(cls, query: dict[str, str], view: str) -> Listing:
        """Google: "When paginating, all other parameters provided to executions.list must match the call
        that provided the page token", so a token carries a fingerprint of the filter and the order."""
        filter_text, order_text = query.get("filter", ""), query.get("orderBy", "")
        fingerprint = hashlib.sha256(f"{filter_text}\0{order_text}".encode()).hexdigest()[:12]
        token = query.get("pageToken", "")
        return cls(
            keep=FilterParser(filter_text).parse(),
            order=parse_order(order_text),
            size=_page_size(query.get("pageSize"), 100 if view == "FULL" else 1000),
            offset=_decode_token(token, fingerprint) if token else 0,
            fingerprint=fingerprint,
        )


def _encode_token(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}:{fingerprint}".encode()).decode()


def _decode_token(token: str, fingerprint: str) -> int:
    try:
        kind, number, made_for = base64.urlsafe_b64decode(token.encode()).decode().split(":")
    except (ValueError, UnicodeDecodeError):
        raise invalid("invalid page token") from None
    if kind != "offset" or not number.isdigit():
        raise invalid("invalid page token")
    if made_for != fingerprint:
        raise invalid("the page token was made for another filter or orderBy; they must match")
    return int(number)


def _page_size(raw: str | None, most: int) -> int:
    if raw is None or raw == "" or raw == "0":
        return 100
    if not raw.isdigit():
        raise invalid(f"invalid pageSize {raw!r}")
    return min(int(raw), most)


def _view(query: dict[str, str], default: str) -> str:
    """``view`` (ExecutionView): BASIC or FULL; unspecified is ``default`` (BASIC for list, FULL for get)."""
    view = query.get("view", "EXECUTION_VIEW_UNSPECIFIED")
    if view not in ("BASIC", "FULL", "EXECUTION_VIEW_UNSPECIFIED"):
        raise invalid(f"invalid view {view!r}: BASIC or FULL")
    return default if view == "EXECUTION_VIEW_UNSPECIFIED" else view
