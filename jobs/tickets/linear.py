"""Linear as a TicketSource: GraphQL over an injected ``httpx.Client``.

Facts this relies on (Linear's developer docs, linear.app/developers, and its SDK):

- one endpoint, ``POST https://api.linear.app/graphql``; a personal API key goes in the ``Authorization``
  header as it is (OAuth access tokens would need ``Bearer``);
- ``issue(id:)`` accepts the issue's UUID or its identifier (``IX-123``); mutations get the UUID;
- failures come back as an ``errors`` array on HTTP 200 or 400; a missing entity says "Entity not found";
- rate limiting is an error whose ``extensions.code`` is ``RATELIMITED`` (HTTP 400, or 429), with
  ``X-RateLimit-{Requests,Complexity,Endpoint-Requests}-Reset`` headers: epoch milliseconds, as the schema's
  ``RateLimitResultPayload.reset`` says of the same limits ("the UNIX timestamp (in milliseconds) at which
  the rate limit will be fully replenished"), while the SDK's ``RatelimitedLinearError`` calls the headers
  a "Unix timestamp" with no unit. So a reset is read by its magnitude: milliseconds from 1e11 up (3 March
  1973 in ms; the year 5138 in seconds), seconds below, and either way comes out right. ``Retry-After`` is
  seconds (RFC 9110; the SDK's ``retryAfter``).

A wait is never shorter than ``MIN_WAIT`` (a reset already past, by clock skew, or a ``Retry-After: 0``
would otherwise retry at once, in a loop), and a reset further than ``MAX_RESET_WAIT`` away is no window
Linear has (its limits refill within an hour): the request gives up with an error naming the header,
instead of sleeping or retrying on a misread value.

Retries follow the shared ``RetryPolicy`` (``jobs/retry.py``) and wrap whole operations: a retried upsert
lists the comments again, so a comment whose creation succeeded but whose answer was lost is found and
updated, never duplicated. Only the reading of Linear's own rate-limit headers lives here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pydantic
from pydantic import BaseModel, SecretStr

from jobs.errors import ConfigError, FactoryError, ServiceError, TicketNotFound
from jobs.retry import RetryPolicy, parse_number, retry_after_header
from jobs.tickets.models import Ticket, TicketComment
from jobs.tickets.source import check_comment_key, check_identifier, check_state_name, comment_marker

SERVICE = "linear"
DEFAULT_ENDPOINT = "https://api.linear.app/graphql"
COMMENT_PAGES = 40  # x 50 comments: an issue busier than that is not searched further
MAX_MESSAGE = 300
# Error codes/types Linear uses for failures worth another try (others are the request's fault).
TRANSIENT = frozenset({"INTERNAL_ERROR", "LOCK_TIMEOUT", "internal error", "lock timeout", "network error"})
MIN_WAIT = 1.0
MAX_RESET_WAIT = 24 * 3600.0
EPOCH_MS_FROM = 1e11  # below: an epoch in seconds (now ~1.7e9); from here on: milliseconds (now ~1.7e12)

M = TypeVar("M", bound=BaseModel)

_GET_ISSUE = """
query FactoryIssue($id: String!) {
  issue(id: $id) {
    id identifier title description url
    state { name }
    labels(first: 50) { nodes { name } }
  }
}"""
_ISSUE_COMMENTS = """
query FactoryIssueComments($id: String!, $after: String) {
  viewer { id }
  issue(id: $id) {
    id
    comments(first: 50, after: $after) {
      nodes { id body user { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""
_CREATE_COMMENT = """
mutation FactoryCommentCreate($issueId: String!, $body: String!) {
  commentCreate(input: { issueId: $issueId, body: $body }) { success comment { id } }
}"""
_UPDATE_COMMENT = """
mutation FactoryCommentUpdate($id: String!, $body: String!) {
  commentUpdate(id: $id, input: { body: $body }) { success comment { id } }
}"""
_ISSUE_STATES = """
query FactoryIssueStates($id: String!) {
  issue(id: $id) {
    id
    state { id name }
    team { id states(first: 100) { nodes { id name } } }
  }
}"""
_UPDATE_ISSUE_STATE = """
mutation FactoryIssueMove($id: String!, $stateId: String!) {
  issueUpdate(id: $id, input: { stateId: $stateId }) { success }
}"""


class _Ref(BaseModel):
    id: str


class _Named(BaseModel):
    id: str | None = None
    name: str


class _NamedNodes(BaseModel):
    nodes: list[_Named]


class _Issue(BaseModel):
    id: str
    identifier: str
    title: str
    description: str | None = None
    url: str | None = None
    state: _Named | None = None
    labels: _NamedNodes | None = None


class _Comment(BaseModel):
    id: str
    body: str
    user: _Ref | None = None


class _PageInfo(BaseModel):
    hasNextPage: bool
    endCursor: str | None = None


class _Comments(BaseModel):
    nodes: list[_Comment]
    pageInfo: _PageInfo


class _IssueComments(BaseModel):
    id: str
    comments: _Comments


class _Team(BaseModel):
    id: str
    states: _NamedNodes


class _IssueStates(BaseModel):
    id: str
    state: _Named | None = None
    team: _Team


class _Payload(BaseModel):
    success: bool
    comment: _Ref | None = None


class LinearTickets:
    """A TicketSource backed by Linear's GraphQL API.

    ``sleep`` and ``clock`` are injectable so tests can run rate limits and backoff without waiting.
    """

    def __init__(
        self,
        client: httpx.Client,
        api_key: SecretStr,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        attempts: int = 4,
        max_wait: float = 60.0,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_key.get_secret_value().strip():
            raise ConfigError("invalid setting LINEAR_API_KEY: empty")
        self._client = client
        self._api_key = api_key
        self._endpoint = endpoint
        self._policy = RetryPolicy(
            attempts=attempts, backoff=backoff, max_wait=max_wait, sleep=sleep, clock=clock
        )

    def __repr__(self) -> str:
        return f"LinearTickets(endpoint={self._endpoint!r})"

    # -- the TicketSource operations -----------------------------------------------------------------

    def get(self, identifier: str) -> Ticket:
        """The issue with this identifier; TicketNotFound if Linear has none."""
        check_identifier(identifier)
        return self._policy.call(self._get_once, identifier)

    def upsert_comment(self, ticket: Ticket, key: str, body: str) -> str:
        """Update our comment for ``key`` (found by its hidden marker and our authorship), else create it."""
        marker = comment_marker(check_comment_key(key))
        return self._policy.call(self._upsert_once, ticket, marker, f"{marker}\n{body}")

    def move(self, ticket: Ticket, state_name: str) -> None:
        """Move the issue to its team's workflow state called ``state_name`` (ConfigError if none is)."""
        self._policy.call(self._move_once, ticket, check_state_name(state_name))

    # -- one attempt of each --------------------------------------------------------------------------

    def _get_once(self, identifier: str) -> Ticket:
        data = self._execute(_GET_ISSUE, {"id": identifier})
        if data.get("issue") is None:
            raise TicketNotFound(f"linear: no issue {identifier}")
        issue = _shape(_Issue, data["issue"], "issue")
        try:
            return Ticket(
                identifier=issue.identifier,
                title=issue.title,
                body=issue.description or "",
                labels=[label.name for label in issue.labels.nodes] if issue.labels else [],
                state=issue.state.name if issue.state else None,
                url=issue.url,
                source_id=issue.id,
            )
        except pydantic.ValidationError:
            raise ServiceError(SERVICE, 200, "the issue's identifier is not of a form we accept") from None

    def _upsert_once(self, ticket: Ticket, marker: str, text: str) -> str:
        issue_id, ours = self._find_comment(ticket, marker)
        if ours is not None:
            if ours.body == text:
                return ours.id
            try:
                return self._write_comment(_UPDATE_COMMENT, "commentUpdate", {"id": ours.id, "body": text})
            except TicketNotFound:
                pass  # deleted since we listed it: write a fresh one
        return self._write_comment(_CREATE_COMMENT, "commentCreate", {"issueId": issue_id, "body": text})

    def _find_comment(self, ticket: Ticket, marker: str) -> tuple[str, TicketComment | None]:
        """The issue's UUID and the first comment we wrote that carries ``marker``, if any."""
        after: str | None = None
        for _ in range(COMMENT_PAGES):
            data = self._execute(_ISSUE_COMMENTS, {"id": _lookup(ticket), "after": after})
            if data.get("issue") is None:
                raise TicketNotFound(f"linear: no issue {ticket.identifier}")
            viewer = _shape(_Ref, data.get("viewer"), "viewer")
            issue = _shape(_IssueComments, data["issue"], "issue comments")
            for node in issue.comments.nodes:
                # Only our own comments: anyone can paste the marker into theirs.
                if node.user is not None and node.user.id == viewer.id and marker in node.body:
                    return issue.id, TicketComment(id=node.id, body=node.body, author_id=node.user.id)
            if not issue.comments.pageInfo.hasNextPage or not issue.comments.pageInfo.endCursor:
                return issue.id, None
            after = issue.comments.pageInfo.endCursor
        raise ServiceError(SERVICE, 200, f"{ticket.identifier} has too many comments to search for ours")

    def _write_comment(self, query: str, field: str, variables: dict[str, str | None]) -> str:
        payload = _shape(_Payload, self._execute(query, variables).get(field), field)
        if not payload.success or payload.comment is None:
            raise ServiceError(SERVICE, 200, f"{field} reported failure")
        return payload.comment.id

    def _move_once(self, ticket: Ticket, state_name: str) -> None:
        data = self._execute(_ISSUE_STATES, {"id": _lookup(ticket)})
        if data.get("issue") is None:
            raise TicketNotFound(f"linear: no issue {ticket.identifier}")
        issue = _shape(_IssueStates, data["issue"], "issue states")
        target = _pick_state(issue.team.states.nodes, state_name)
        if target is None:
            names = ", ".join(repr(state.name) for state in issue.team.states.nodes)
            raise ConfigError(
                f"the Linear team of {ticket.identifier} has no workflow state named {state_name!r} "
                f"(it has: {names[:MAX_MESSAGE]})"
            )
        if issue.state is not None and issue.state.id == target.id:
            return
        result = self._execute(_UPDATE_ISSUE_STATE, {"id": issue.id, "stateId": target.id})
        if not _shape(_Payload, result.get("issueUpdate"), "issueUpdate").success:
            raise ServiceError(SERVICE, 200, "issueUpdate reported failure")

    # -- one request ----------------------------------------------------------------------------------

    def _execute(self, query: str, variables: dict[str, str | None]) -> dict[str, Any]:
        """POST one GraphQL operation; its ``data``, or the error it maps to."""
        headers = {"Authorization": self._api_key.get_secret_value()}
        try:
            response = self._client.post(
                self._endpoint, json={"query": query, "variables": variables}, headers=headers
            )
        except httpx.TransportError as exc:
            raise FactoryError(f"linear: no response ({type(exc).__name__})", retryable=True) from None
        payload = _json_object(response)
        errors = _errors(payload)
        if response.status_code == 429 or any(_is_rate_limit(error) for error in errors):
            retry_after = retry_after_seconds(response.headers, self._policy.clock())
            if retry_after is not None and retry_after > MAX_RESET_WAIT:
                error = ServiceError(
                    SERVICE,
                    429,
                    f"rate limited, and the rate-limit headers say the limit resets in {retry_after:.0f} s, "
                    f"more than any Linear window ({MAX_RESET_WAIT:.0f} s): not retried; check the "
                    "Retry-After and X-RateLimit-*-Reset headers",
                )
                error.retryable = False
                raise error
            raise ServiceError(SERVICE, 429, "rate limited", retry_after=retry_after)
        if errors:
            message = self._describe(errors)
            if any("entity not found" in str(error.get("message", "")).lower() for error in errors):
                raise TicketNotFound(f"linear: {message}")
            status = response.status_code if response.status_code >= 400 else _status_of(errors)
            raise ServiceError(SERVICE, status, message)
        if response.status_code >= 400:
            raise ServiceError(SERVICE, response.status_code, response.reason_phrase or "error")
        data = payload.get("data") if payload else None
        if not isinstance(data, dict):
            raise ServiceError(SERVICE, 502, "the response carries no data")
        return data

    def _describe(self, errors: list[dict[str, Any]]) -> str:
        parts = []
        for error in errors[:3]:
            code = _extensions(error).get("code")
            text = " ".join(str(error.get("message", "error")).split())
            parts.append(f"{text} ({code})" if isinstance(code, str) else text)
        # Server text is echoed into our errors, so it must never carry the key: masked before the cut,
        # which could otherwise leave a prefix of it behind.
        return "; ".join(parts).replace(self._api_key.get_secret_value(), "[REDACTED]")[:MAX_MESSAGE]


def retry_after_seconds(headers: httpx.Headers, now: float) -> float | None:
    """Seconds until the limit that stopped us resets: ``Retry-After``, else the exhausted reset header;
    at least ``MIN_WAIT``; None when the headers do not say (the policy then backs off on its own)."""
    retry_after = retry_after_header(headers.get("retry-after"), now)
    if retry_after is not None:
        return max(MIN_WAIT, retry_after)
    # Linear's own headers, one pair per limit, each resetting at an epoch (see the module's docstring).
    waits = []
    for limit in ("endpoint-requests", "requests", "complexity"):
        reset = parse_number(headers.get(f"x-ratelimit-{limit}-reset"))
        remaining = parse_number(headers.get(f"x-ratelimit-{limit}-remaining"))
        if reset is not None and (remaining is None or remaining <= 0):
            waits.append(_epoch_seconds(reset) - now)
    return max(MIN_WAIT, max(waits)) if waits else None


def _epoch_seconds(reset: float) -> float:
    return reset / 1000 if reset >= EPOCH_MS_FROM else reset


def _lookup(ticket: Ticket) -> str:
    return ticket.source_id or ticket.identifier


def _pick_state(states: list[_Named], name: str) -> _Named | None:
    exact = [state for state in states if state.name == name and state.id]
    if exact:
        return exact[0]
    folded = [state for state in states if state.name.casefold() == name.casefold() and state.id]
    return folded[0] if len(folded) == 1 else None


def _shape(model: type[M], value: object, what: str) -> M:
    try:
        return model.model_validate(value)
    except pydantic.ValidationError:
        raise ServiceError(SERVICE, 200, f"unexpected response shape for {what}") from None


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _errors(payload: dict[str, Any] | None) -> list[dict[str, Any]]:
    errors = payload.get("errors") if payload else None
    if not isinstance(errors, list):
        return []
    return [error if isinstance(error, dict) else {"message": str(error)} for error in errors]


def _extensions(error: dict[str, Any]) -> dict[str, Any]:
    extensions = error.get("extensions")
    return extensions if isinstance(extensions, dict) else {}


def _is_rate_limit(error: dict[str, Any]) -> bool:
    extensions = _extensions(error)
    return str(extensions.get("code", "")).upper() == "RATELIMITED" or extensions.get("type") == "ratelimited"


def _status_of(errors: list[dict[str, Any]]) -> int:
    """An HTTP-like status for errors that came with a 200."""
    extensions = _extensions(errors[0])
    status = extensions.get("statusCode")
    if isinstance(status, int) and 400 <= status <= 599:
        return status
    if extensions.get("code") in TRANSIENT or extensions.get("type") in TRANSIENT:
        return 503
    return 400
