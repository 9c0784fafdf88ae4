"""The Workflows Executions REST API (v1) served by the local engine, so the real ``gcloud`` works locally.

``ExecutionsServer`` answers Google's ``workflowexecutions.googleapis.com/v1`` shapes on 127.0.0.1
(cloud.google.com/workflows/docs/reference/executions/rest/v1):

- ``POST /v1/projects/{p}/locations/{l}/workflows/{w}/executions`` (body: an ``Execution`` whose
  ``argument`` is a JSON *string*) returns the new execution, ``state: ACTIVE``, and runs it in a thread;
- ``GET .../executions/{id}``: ``state`` ACTIVE | SUCCEEDED | FAILED | CANCELLED, ``result`` (the
  workflow's return value as a JSON string) when SUCCEEDED, ``error: {payload, context}`` when FAILED or
  CANCELLED (Google: "only present if the execution's state is FAILED or CANCELLED");
- ``GET .../executions``: ``filter`` (AIP-160) and ``orderBy`` (AIP-132) on the documented fields the
  local engine has, newest ``createTime`` first by default, ``pageSize`` / ``pageToken``, ``view`` BASIC
  (default) or FULL;
- ``POST .../executions/{id}:cancel``: an active execution becomes CANCELLED.

What the API cannot do it refuses, never ignores: a filter on a documented field the local engine does not
keep (``stepName``, ``label``, ``disableConcurrencyQuotaOverflowBuffering``), an unknown field, a bad view,
a page token reused with another filter or order are each a 400 ``INVALID_ARGUMENT`` in Google's error
JSON. An ``argument`` is checked before anything runs: over Google's 32KB, nested deeper than
``MAX_NESTING``, holding a number Workflows cannot hold (its integers are 64-bit signed, its doubles
64-bit floats) or not JSON, it is a 400 that says which. Every request gets an answer: what fails
unexpectedly is a 500 ``INTERNAL`` in the same shape, not a dropped connection.

Cancellation is best-effort: the local engine cannot stop a running step, so the execution is marked
CANCELLED at once (and stays so) while the job already running finishes in the background; its result
is dropped. Only the workflow ``factory`` exists (any project and location are accepted); other names
get Google's 404 error JSON.

What runs an execution is injected: ``start(argument, execution_id) -> LocalRun``; ``factory serve``
passes ``run_workflow`` on orchestration/factory.yaml, tests pass a fast fake.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import operator
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jobs.serving import LoopbackHTTPServer, ServingThread
from orchestration import FACTORY_YAML
from orchestration.engine.errors import WorkflowError
from orchestration.local.run import LocalRun

Start = Callable[[Any, str], LocalRun]
Predicate = Callable[["Execution"], bool]

log = logging.getLogger("orchestration.local.executions_api")

WORKFLOW = "factory"
# ExecutionView BASIC: "name, startTime, endTime, duration, state, and workflowRevisionId".
BASIC_FIELDS = ("name", "startTime", "endTime", "duration", "state", "workflowRevisionId")
# Execution.State, in enum-number order (orderBy=state sorts by it).
STATES = ("STATE_UNSPECIFIED", "ACTIVE", "SUCCEEDED", "FAILED", "CANCELLED", "UNAVAILABLE", "QUEUED")
# Execution.argument: "The size limit is 32KB" (read as 32 KiB of UTF-8).
ARGUMENT_LIMIT = 32 * 1024
# Google documents no nesting limit; this one keeps the local engine (which copies values recursively)
# far from Python's recursion limit, and is deeper than any argument a workflow reads.
MAX_NESTING = 100
# Workflows' Integer is "64 bit, signed".
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# A JSON-escaped 32KB argument (and labels) fits many times over; more is not read into memory.
MAX_BODY = 1024 * 1024
# ListExecutionsRequest: filterable and orderable fields, as documented.
FILTERABLE = ("executionId", "state", "createTime", "startTime", "endTime", "duration", "workflowRevisionId")
NOT_KEPT_LOCALLY = ("stepName", "label", "labels", "disableConcurrencyQuotaOverflowBuffering")
ORDERABLE = FILTERABLE
MAX_FILTER_NESTING = 20

_PARENT = r"/v1/(projects/[^/]+/locations/[^/]+/workflows/[^/:]+)"
_ROUTES = (
    ("POST", re.compile(_PARENT + r"/executions"), "create"),
    ("GET", re.compile(_PARENT + r"/executions"), "list"),
    ("GET", re.compile(_PARENT + r"/executions/([^/:]+)"), "get"),
    ("POST", re.compile(_PARENT + r"/executions/([^/:]+):cancel"), "cancel"),
)


class ApiError(Exception):
    """An error answered in Google's JSON shape: ``{"error": {"code", "message", "status"}}``."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


def invalid(message: str) -> ApiError:
    """A 400 ``INVALID_ARGUMENT``: what Google answers a request it will not run."""
    return ApiError(400, "INVALID_ARGUMENT", message)


def revision_id() -> str:
    """A stable ``workflowRevisionId`` (Google's ``000001-abc`` shape) for the current factory.yaml."""
    return "000001-" + hashlib.sha256(FACTORY_YAML.read_bytes()).hexdigest()[:3]


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Execution:
    """One execution as the API shows it."""

    name: str
    argument: str | None
    created: datetime
    revision: str
    sequence: int
    call_log_level: str | None = None
    labels: dict[str, str] | None = None
    state: str = "ACTIVE"
    ended: datetime | None = None
    result: str | None = None
    error: dict[str, str] | None = None

    @property
    def execution_id(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def duration(self) -> timedelta | None:
        return None if self.ended is None else self.ended - self.created

    def resource(self, view: str = "FULL") -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "createTime": _timestamp(self.created),
            "startTime": _timestamp(self.created),
            "state": self.state,
            "workflowRevisionId": self.revision,
        }
        if self.argument is not None:
            body["argument"] = self.argument
        if self.call_log_level:
            body["callLogLevel"] = self.call_log_level
        if self.labels:
            body["labels"] = self.labels
        if self.ended is not None and self.duration is not None:
            body["endTime"] = _timestamp(self.ended)
            body["duration"] = f"{self.duration.total_seconds():.6f}s"
        if self.result is not None:
            body["result"] = self.result
        if self.error is not None:
            body["error"] = self.error
        if view == "BASIC":
            body = {key: value for key, value in body.items() if key in BASIC_FIELDS}
        return body


def error_of(run: LocalRun) -> dict[str, str]:
    """``Execution.error`` for a failed run: the workflow's error map as a JSON string, and a context."""
    assert run.error is not None
    error: WorkflowError = run.error
    return {
        "payload": json.dumps(error.as_value()),
        "context": f"RuntimeError: {error} (execution {run.execution_id}, local engine)",
    }


def cancelled_error(execution_id: str) -> dict[str, str]:
    """``Execution.error`` for a cancelled execution: Google fills ``error`` for CANCELLED as for FAILED,
    so a client reading why an execution ended finds a reason. The wording and tag are the local
    engine's (Google does not document its text)."""
    message = "the execution was cancelled by a cancel request"
    return {
        "payload": json.dumps({"message": message, "tags": ["CancelledError"]}),
        "context": f"CancelledError: {message} (execution {execution_id}, local engine: a step already "
        "running finishes in the background and its outcome is dropped)",
    }


# --- the argument: Google's limits, checked before anything runs -------------------------------------


def parse_argument(raw: str) -> Any:
    """The value of an ``argument`` JSON string, or a 400 saying why Workflows would not take it: over
    32KB, nested deeper than ``MAX_NESTING``, a number Workflows cannot hold, or not JSON. The size and
    depth are checked before parsing, so nothing deep or huge reaches Python's recursive parser."""
    size = len(raw.encode("utf-8", "surrogatepass"))
    if size > ARGUMENT_LIMIT:
        raise invalid(f"'argument' is {size} bytes; the size limit is 32KB ({ARGUMENT_LIMIT} bytes)")
    if nesting(raw) > MAX_NESTING:
        raise invalid(f"'argument' is nested deeper than {MAX_NESTING} levels of lists and maps")
    try:
        return json.loads(raw, parse_int=_int64, parse_float=_double, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise invalid(f"'argument' is not valid JSON: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # not expected after the checks above; still a 400
        raise invalid(f"'argument' cannot be read: {type(exc).__name__}: {exc}") from exc


def nesting(text: str) -> int:
    """How deep lists and maps nest in JSON ``text`` (brackets inside strings do not count); one linear
    pass that stops once past ``MAX_NESTING``."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def _int64(text: str) -> int:
    """A JSON integer that fits Workflows' 64-bit signed Integer; the length is checked before ``int``,
    which refuses over 4300 digits with a ValueError of its own."""
    if len(text.lstrip("-")) <= 19 and INT64_MIN <= (value := int(text)) <= INT64_MAX:
        return value
    raise invalid(f"'argument' holds the integer {_shown(text)}, outside Workflows' 64-bit signed Integer")


def _double(text: str) -> float:
    """A JSON number with a fraction or exponent that fits a 64-bit double (``1e400`` does not)."""
    value = float(text)
    if math.isfinite(value):
        return value
    raise invalid(f"'argument' holds the number {_shown(text)}, too large for Workflows' 64-bit Double")


def _shown(text: str, most: int = 40) -> str:
    """``text`` for an error message, cut if long (a 5000-digit number, a filter of 10000 parentheses)."""
    return text if len(text) <= most else f"{text[: most // 2]}...({len(text)} characters)"


def _not_json(name: str) -> Any:
    """``NaN`` and ``Infinity``, which Python's parser takes but JSON (and Workflows) do not."""
    raise invalid(f"'argument' holds {name}, which is not JSON")


def check_labels(labels: Any) -> dict[str, str] | None:
    """``Execution.labels`` as Google documents them: "at most 64 entries. Keys and values can be no
    longer than 63 characters and can only contain lowercase letters, numeric characters, underscores,
    and dashes. Label keys must start with a letter. International characters are allowed."""
    if labels is None:
        return None
    if not isinstance(labels, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in labels.items()
    ):
        raise invalid("'labels' must be a map of strings to strings")
    if len(labels) > 64:
        raise invalid(f"'labels' has {len(labels)} entries; at most 64")
    for key, value in labels.items():
        if not (key[:1].isalpha() and _label_text(key) and _label_text(value)):
            raise invalid(
                f"label {key!r}: {value!r}: keys and values are at most 63 lowercase letters, digits, "
                "underscores and dashes, and keys start with a letter"
            )
    return labels or None


def _label_text(text: str) -> bool:
    return len(text) <= 63 and all(
        char.isdigit() or char in "_-" or (char.isalpha() and not char.isupper()) for char in text
    )


def parse_body(raw: bytes) -> Any:
    """A request body as JSON; anything Python's parser cannot take (bad UTF-8, a 5000-digit integer,
    nesting past the recursion limit) is the same 400 as malformed JSON, never an unanswered request."""
    try:
        return json.loads(raw or b"{}")
    except (ValueError, RecursionError) as exc:
        raise invalid(f"Invalid JSON payload received. {type(exc).__name__}: {exc}") from exc


# --- list: filter (AIP-160), orderBy (AIP-132), pages ------------------------------------------------


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


# --- the executions --------------------------------------------------------------------------------


class Executions:
    """The executions this server knows about, and their runs."""

    def __init__(self, start: Start, revision: str) -> None:
        self.start = start
        self.revision = revision
        self.lock = threading.Lock()
        self.items: dict[str, Execution] = {}
        self.threads: list[threading.Thread] = []

    def create(self, parent: str, body: Any) -> Execution:
        if not isinstance(body, dict):
            raise invalid("the request body must be an Execution object")
        raw = body.get("argument")
        argument: Any = None
        if raw is not None and raw != "":
            if not isinstance(raw, str):
                raise invalid("'argument' must be a JSON string")
            argument = parse_argument(raw)
        execution_id = str(uuid.uuid4())
        with self.lock:
            execution = Execution(
                name=f"{parent}/executions/{execution_id}",
                argument=raw or None,
                created=datetime.now(UTC),
                revision=self.revision,
                sequence=len(self.items),
                call_log_level=_set_enum(body.get("callLogLevel")),
                labels=check_labels(body.get("labels")),
            )
            self.items[execution.name] = execution
        thread = threading.Thread(
            target=self._run, args=(execution, argument, execution_id), name=f"execution-{execution_id}"
        )
        thread.daemon = True
        self.threads.append(thread)
        thread.start()
        return execution

    def _run(self, execution: Execution, argument: Any, execution_id: str) -> None:
        try:
            run = self.start(argument, execution_id)
        except Exception as exc:  # the runner itself broke: a FAILED execution, as the service reports
            run = LocalRun(execution_id, error=WorkflowError(["SystemError"], f"{type(exc).__name__}: {exc}"))
        with self.lock:
            if execution.state != "ACTIVE":  # cancelled meanwhile: the late outcome is dropped
                return
            execution.ended = datetime.now(UTC)
            if run.error is not None:
                execution.state, execution.error = "FAILED", error_of(run)
            else:
                execution.state, execution.result = "SUCCEEDED", json.dumps(run.result)

    def get(self, name: str) -> Execution:
        with self.lock:
            execution = self.items.get(name)
        if execution is None:
            raise ApiError(404, "NOT_FOUND", f"Resource '{name}' was not found")
        return execution

    def page(self, parent: str, listing: Listing) -> tuple[list[Execution], str | None]:
        """One page of ``parent``'s executions that ``listing`` keeps, in its order."""
        with self.lock:
            mine = [item for item in self.items.values() if item.name.startswith(parent + "/executions/")]
        kept = ordered([item for item in mine if listing.keep(item)], listing.order)
        end = listing.offset + listing.size
        more = end < len(kept)
        return kept[listing.offset : end], _encode_token(end, listing.fingerprint) if more else None

    def cancel(self, name: str) -> Execution:
        execution = self.get(name)
        with self.lock:
            if execution.state != "ACTIVE":
                raise ApiError(
                    400, "FAILED_PRECONDITION", f"execution '{name}' is {execution.state}, not active"
                )
            execution.state, execution.ended = "CANCELLED", datetime.now(UTC)
            execution.error = cancelled_error(execution.execution_id)
        return execution


# --- HTTP -------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    # A client that stops sending mid-body is dropped after this long rather than holding a thread.
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:  # quiet: gcloud polls
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        """Route the request and always answer it: an ApiError in Google's shape, anything unexpected as
        a 500 ``INTERNAL`` in the same shape (a client must never wait on a dropped connection)."""
        try:
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            status, body = self._route(method, url.path, query)
        except ApiError as exc:
            status, body = exc.code, exc.body()
        except Exception as exc:
            log.exception("executions API: %s %s failed", method, self.path)
            status, body = 500, ApiError(500, "INTERNAL", f"{type(exc).__name__}: {exc}").body()
        self._answer(status, body)

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        """The request body as JSON. Over ``MAX_BODY`` it is read and dropped in chunks (so the client,
        still sending, gets the answer rather than a reset) and refused."""
        header = (self.headers.get("Content-Length") or "0").strip()
        if not header.isdigit():
            raise invalid(f"invalid Content-Length {header!r}")
        length = int(header)
        if length > MAX_BODY:
            self._discard(length)
            raise invalid(
                f"the request body is {length} bytes; the local Executions API reads at most {MAX_BODY}"
                f" (an execution's argument is limited to 32KB)"
            )
        return parse_body(self.rfile.read(length) if length else b"")

    def _discard(self, length: int) -> None:
        while length > 0 and (chunk := self.rfile.read(min(length, 64 * 1024))):
            length -= len(chunk)

    def _route(self, method: str, path: str, query: dict[str, str]) -> tuple[int, Any]:
        executions = self.server.executions
        for verb, pattern, action in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None or verb != method:
                continue
            parent = match.group(1)
            if parent.rsplit("/", 1)[-1] != WORKFLOW:
                raise ApiError(404, "NOT_FOUND", f"Resource '{parent}' was not found")
            if action == "create":
                return 200, executions.create(parent, self._body()).resource()
            if action == "list":
                return 200, self._list(parent, query)
            name = f"{parent}/executions/{match.group(2)}"
            if action == "cancel":
                self._body()
                return 200, executions.cancel(name).resource()
            return 200, executions.get(name).resource(_view(query, "FULL"))
        raise ApiError(404, "NOT_FOUND", f"no such method: {method} {path}")

    def _list(self, parent: str, query: dict[str, str]) -> dict[str, Any]:
        view = _view(query, "BASIC")
        items, token = self.server.executions.page(parent, Listing.of(query, view))
        listing: dict[str, Any] = {"executions": [item.resource(view) for item in items]}
        if token:
            listing["nextPageToken"] = token
        return listing


class _HttpServer(LoopbackHTTPServer):
    def __init__(self, port: int, executions: Executions) -> None:
        self.executions = executions
        super().__init__(("127.0.0.1", port), _Handler)


class ExecutionsServer:
    """The Executions API on ``127.0.0.1:port`` (0 picks a free port); ``with`` starts and stops it."""

    def __init__(self, start: Start, port: int = 0, *, revision: str | None = None) -> None:
        self.executions = Executions(start, revision or revision_id())
        self._http = _HttpServer(port, self.executions)
        self._serving = ServingThread(self._http, "executions-api")

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> ExecutionsServer:
        self._serving.start()
        return self

    def stop(self) -> None:
        self._serving.stop()

    def __enter__(self) -> ExecutionsServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def _set_enum(value: Any) -> str | None:
    """An enum field as proto3 JSON shows it: the ``*_UNSPECIFIED`` default is left out."""
    return value if isinstance(value, str) and not value.endswith("_UNSPECIFIED") else None
