"""A fake Linear GraphQL API, in memory, as an ``httpx.MockTransport`` handler.

It parses each query (operation, root fields, arguments, nested selections) well enough to resolve the
operations Factory uses and to answer with only the fields asked for, in Linear's JSON shapes:
``issue(id:)`` by UUID or identifier, ``viewer``, ``commentCreate``, ``commentUpdate``, ``issueUpdate``
and ``team(id:)``, with Relay-style connections (``first``/``after``, ``nodes``, ``pageInfo``). Asking
for a field the fake does not know is a 400 GRAPHQL_VALIDATION_FAILED, as a typo would be against Linear.

Faults: ``rate_limit(n)`` answers the next n requests with Linear's RATELIMITED error (HTTP 400) and
``X-RateLimit-Requests-*`` headers; ``fail(n, status)`` answers n requests with a 5xx. Every request is
recorded, and ``sent_while_limited`` counts those that arrived before an advertised reset time.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

# -- a small GraphQL parser ---------------------------------------------------------------------------

_TOKEN = re.compile(
    r'(?P<ws>[\s,]+|#[^\n]*)|(?P<str>"(?:\\.|[^"\\])*")|(?P<num>-?\d+(?:\.\d+)?)'
    r"|(?P<var>\$[_A-Za-z]\w*)|(?P<name>[_A-Za-z]\w*)|(?P<punct>[{}()\[\]:!=@]|\.\.\.)"
)


class GraphQLSyntaxError(Exception):
    """The query uses syntax this fake does not parse."""


@dataclass
class Selection:
    """One field of a selection set: ``alias: name(args) { children }``."""

    name: str
    alias: str
    args: dict[str, Any]
    children: list[Selection] | None


@dataclass
class Operation:
    kind: str
    name: str | None
    fields: list[Selection]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise GraphQLSyntaxError(f"unexpected character {text[pos]!r} at {pos}")
        pos = match.end()
        kind = match.lastgroup or ""
        if kind != "ws":
            out.append((kind, match.group()))
    return out


class _Parser:
    def __init__(self, text: str, variables: dict[str, Any]) -> None:
        self.toks = _tokens(text)
        self.pos = 0
        self.variables = variables

    def peek(self) -> str | None:
        return self.toks[self.pos][1] if self.pos < len(self.toks) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.toks):
            raise GraphQLSyntaxError("unexpected end of query")
        tok = self.toks[self.pos]
        if expected is not None and tok[1] != expected:
            raise GraphQLSyntaxError(f"expected {expected!r}, got {tok[1]!r}")
        self.pos += 1
        return tok

    def document(self) -> Operation:
        kind, name = "query", None
        if self.peek() in ("query", "mutation"):
            kind = self.take()[1]
            if self.peek() not in ("{", "("):
                name = self.take()[1]
            if self.peek() == "(":  # variable definitions: their types are not checked
                depth = 0
                while True:
                    tok = self.take()[1]
                    depth += {"(": 1, ")": -1}.get(tok, 0)
                    if depth == 0:
                        break
        fields = self.selection_set()
        if self.peek() is not None:
            raise GraphQLSyntaxError("only one operation per document")
        return Operation(kind, name, fields)

    def selection_set(self) -> list[Selection]:
        self.take("{")
        fields = []
        while self.peek() != "}":
            kind, name = self.take()
            if kind != "name":
                raise GraphQLSyntaxError(f"unsupported selection {name!r}")
            alias = name
            if self.peek() == ":":
                self.take(":")
                name = self.take()[1]
            args = self.arguments() if self.peek() == "(" else {}
            children = self.selection_set() if self.peek() == "{" else None
            fields.append(Selection(name, alias, args, children))
        self.take("}")
        return fields

    def arguments(self) -> dict[str, Any]:
        self.take("(")
        return self.pairs(")")

    def pairs(self, close: str) -> dict[str, Any]:
        """``key: value`` pairs up to ``close`` (argument lists and object literals alike)."""
        found: dict[str, Any] = {}
        while self.peek() != close:
            key = self.take()[1]
            self.take(":")
            found[key] = self.value()
        self.take(close)
        return found

    def value(self) -> Any:
        kind, tok = self.take()
        if kind == "var":
            return self.variables.get(tok[1:])
        if kind == "str":
            return json.loads(tok)
        if kind == "num":
            return float(tok) if "." in tok else int(tok)
        if tok == "[":
            items = []
            while self.peek() != "]":
                items.append(self.value())
            self.take("]")
            return items
        if tok == "{":
            return self.pairs("}")
        return {"true": True, "false": False, "null": None}.get(tok, tok)


def parse_operation(query: str, variables: dict[str, Any] | None = None) -> Operation:
    """Parse one GraphQL operation, substituting ``variables`` into its arguments."""
    return _Parser(query, variables or {}).document()


# -- the fake service ---------------------------------------------------------------------------------


class GraphQLError(Exception):
    """Becomes one entry of the response's ``errors`` array."""

    def __init__(self, message: str, code: str, *, status: int = 200, **extensions: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.extensions = extensions


@dataclass
class FakeComment:
    id: str
    body: str
    user_id: str
    created_at: float
    updated_at: float


@dataclass
class FakeIssue:
    id: str
    identifier: str
    title: str
    description: str | None
    team_id: str
    state_id: str
    labels: list[str] = field(default_factory=list)
    comments: list[FakeComment] = field(default_factory=list)


@dataclass
class Recorded:
    """One request the fake received."""

    operation: str
    root_fields: list[str]
    variables: dict[str, Any]
    authorization: str | None
    at: float


Connection = Callable[[], list[dict[str, Any]]]


class FakeLinear:
    """In-memory Linear: teams with workflow states, issues, comments, one API key, one viewer."""

    def __init__(self, api_key: str, *, clock: Callable[[], float] = time.time) -> None:
        self.api_key = api_key
        self.clock = clock
        self.viewer_id = "user-factory"
        self.not_found_status = 200
        self.teams: dict[str, dict[str, Any]] = {}
        self.issues: dict[str, FakeIssue] = {}
        self.requests: list[Recorded] = []
        self.sent_while_limited = 0
        self._limited = 0
        self._reset_in = 0.0
        self._limited_until = 0.0
        self._failures: list[int] = []
        self._ids = itertools.count(1)

    # -- setup and fault injection --------------------------------------------------------------------

    def add_team(self, key: str, states: list[str]) -> str:
        team_id = str(uuid.uuid4())
        self.teams[team_id] = {
            "id": team_id,
            "key": key,
            "states": [{"id": str(uuid.uuid4()), "name": name, "type": "unstarted"} for name in states],
        }
        return team_id

    def add_issue(
        self,
        identifier: str,
        title: str,
        description: str | None = "",
        *,
        labels: list[str] | None = None,
        state: str = "Todo",
    ) -> FakeIssue:
        key = identifier.split("-")[0]
        team_id = next((t["id"] for t in self.teams.values() if t["key"] == key), None)
        if team_id is None:
            team_id = self.add_team(key, ["Backlog", "Todo", "In Progress", "In Review", "Done", "Canceled"])
        state_id = self._state_named(team_id, state)["id"]
        issue = FakeIssue(
            str(uuid.uuid4()), identifier, title, description, team_id, state_id, list(labels or [])
        )
        self.issues[issue.id] = issue
        return issue

    def add_comment(self, issue: FakeIssue, body: str, *, user_id: str = "user-someone-else") -> FakeComment:
        now = self.clock()
        comment = FakeComment(f"comment-{next(self._ids)}", body, user_id, now, now)
        issue.comments.append(comment)
        return comment

    def rate_limit(self, count: int, *, reset_in: float = 7.0) -> None:
        """Answer the next ``count`` requests with RATELIMITED, advertising a reset ``reset_in`` s ahead."""
        self._limited = count
        self._reset_in = reset_in

    def fail(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with HTTP ``status``."""
        self._failures.extend([status] * count)

    def calls(self, root_field: str) -> int:
        """How many requests asked for ``root_field``."""
        return sum(root_field in r.root_fields for r in self.requests)

    def state_name(self, issue: FakeIssue) -> str:
        return str(next(s["name"] for s in self.teams[issue.team_id]["states"] if s["id"] == issue.state_id))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    # -- the HTTP side --------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = self.clock()
        try:
            body = json.loads(request.content)
            query, variables = body["query"], body.get("variables") or {}
            operation = parse_operation(query, variables)
        except (ValueError, KeyError, TypeError, GraphQLSyntaxError) as exc:
            return _error_response(400, GraphQLError(f"Syntax Error: {exc}", "GRAPHQL_PARSE_FAILED"))
        self.requests.append(
            Recorded(
                operation.name or "",
                [f.name for f in operation.fields],
                variables,
                request.headers.get("authorization"),
                now,
            )
        )
        if request.method != "POST" or request.url.path != "/graphql":
            return httpx.Response(404, text="Not Found")
        if now < self._limited_until:
            self.sent_while_limited += 1
        if self._failures:
            return httpx.Response(self._failures.pop(0), text="<html>upstream unavailable</html>")
        if request.headers.get("authorization") != self.api_key:
            error = GraphQLError("Authentication required, not authenticated", "AUTHENTICATION_ERROR")
            return _error_response(401, error)
        if self._limited:
            self._limited -= 1
            return self._rate_limited(now)
        try:
            data = {f.alias: self._resolve(operation.kind, f) for f in operation.fields}
        except GraphQLError as error:
            status = self.not_found_status if error.code == "INPUT_ERROR" else error.status
            return _error_response(status, error)
        return httpx.Response(200, json={"data": data}, headers=self._limit_headers(now, remaining=1000))

    def _rate_limited(self, now: float) -> httpx.Response:
        self._limited_until = now + self._reset_in
        error = GraphQLError(
            "Rate limit exceeded. Only 2500 requests are allowed per 1 hour.", "RATELIMITED", statusCode=429
        )
        return _error_response(400, error, headers=self._limit_headers(now, remaining=0))

    def _limit_headers(self, now: float, remaining: int) -> dict[str, str]:
        reset_ms = round(now * 1000) + round(self._reset_in * 1000 if remaining == 0 else 3_600_000)
        return {
            "X-RateLimit-Requests-Limit": "2500",
            "X-RateLimit-Requests-Remaining": str(remaining),
            "X-RateLimit-Requests-Reset": str(reset_ms),
        }

    # -- resolvers ------------------------------------------------------------------------------------

    def _resolve(self, kind: str, selection: Selection) -> Any:
        resolvers: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
            ("query", "issue"): lambda a: self._issue_object(self._find_issue(a.get("id"))),
            ("query", "viewer"): lambda a: {"id": self.viewer_id, "name": "Factory"},
            ("query", "team"): lambda a: self._team_object(self._find_team(a.get("id"))),
            ("mutation", "commentCreate"): self._comment_create,
            ("mutation", "commentUpdate"): self._comment_update,
            ("mutation", "issueUpdate"): self._issue_update,
        }
        resolver = resolvers.get((kind, selection.name))
        if resolver is None:
            raise GraphQLError(
                f'Cannot query field "{selection.name}" on type "{kind.title()}".',
                "GRAPHQL_VALIDATION_FAILED",
                status=400,
            )
        return _project(resolver(selection.args), selection, kind.title())

    def _find_issue(self, key: Any) -> FakeIssue:
        for issue in self.issues.values():
            if key in (issue.id, issue.identifier):
                return issue
        raise _not_found("Issue")

    def _find_team(self, key: Any) -> dict[str, Any]:
        if key not in self.teams:
            raise _not_found("Team")
        return self.teams[key]

    def _state_named(self, team_id: str, name: str) -> dict[str, Any]:
        state: dict[str, Any] = next(s for s in self.teams[team_id]["states"] if s["name"] == name)
        return state

    def _issue_object(self, issue: FakeIssue) -> dict[str, Any]:
        team = self.teams[issue.team_id]
        state = next(s for s in team["states"] if s["id"] == issue.state_id)
        return {
            "__typename": "Issue",
            "id": issue.id,
            "identifier": issue.identifier,
            "title": issue.title,
            "description": issue.description,
            "url": f"https://linear.app/fake/issue/{issue.identifier}/slug",
            "state": dict(state),
            "team": self._team_object(team),
            "labels": lambda: [{"id": f"label-{name}", "name": name} for name in issue.labels],
            "comments": lambda: [self._comment_object(c) for c in issue.comments],
        }

    def _team_object(self, team: dict[str, Any]) -> dict[str, Any]:
        return {
            "__typename": "Team",
            "id": team["id"],
            "key": team["key"],
            "name": team["key"],
            "states": lambda: [dict(s) for s in team["states"]],
        }

    def _comment_object(self, comment: FakeComment) -> dict[str, Any]:
        return {
            "__typename": "Comment",
            "id": comment.id,
            "body": comment.body,
            "user": {"id": comment.user_id, "name": comment.user_id},
            "createdAt": _iso(comment.created_at),
            "updatedAt": _iso(comment.updated_at),
        }

    def _comment_create(self, args: dict[str, Any]) -> dict[str, Any]:
        data = args.get("input") or {}
        issue = next((i for i in self.issues.values() if i.id == data.get("issueId")), None)
        if issue is None:  # mutations are given the UUID
            raise _not_found("Issue")
        if not isinstance(data.get("body"), str):
            raise GraphQLError("Argument Validation Error", "INVALID_INPUT")
        comment = self.add_comment(issue, data["body"], user_id=self.viewer_id)
        return {"success": True, "lastSyncId": 1, "comment": self._comment_object(comment)}

    def _comment_update(self, args: dict[str, Any]) -> dict[str, Any]:
        found = [(i, c) for i in self.issues.values() for c in i.comments if c.id == args.get("id")]
        if not found:
            raise _not_found("Comment")
        comment = found[0][1]
        if comment.user_id != self.viewer_id:
            raise GraphQLError("You can only edit your own comments", "FORBIDDEN")
        comment.body = (args.get("input") or {}).get("body", comment.body)
        comment.updated_at = self.clock()
        return {"success": True, "lastSyncId": 2, "comment": self._comment_object(comment)}

    def _issue_update(self, args: dict[str, Any]) -> dict[str, Any]:
        issue = next((i for i in self.issues.values() if i.id == args.get("id")), None)
        if issue is None:
            raise _not_found("Issue")
        state_id = (args.get("input") or {}).get("stateId")
        if state_id not in [s["id"] for s in self.teams[issue.team_id]["states"]]:
            raise _not_found("WorkflowState")
        issue.state_id = str(state_id)
        return {"success": True, "lastSyncId": 3, "issue": self._issue_object(issue)}


def _project(value: Any, selection: Selection, parent: str) -> Any:
    """Keep only the selected fields, resolving connections with their ``first``/``after`` arguments."""
    if selection.children is None:
        return value
    if isinstance(value, list):
        return [_project(item, selection, parent) for item in value]
    if value is None:
        return None
    out = {}
    for child in selection.children:
        if child.name not in value:
            raise GraphQLError(
                f'Cannot query field "{child.name}" on type "{value.get("__typename", parent)}".',
                "GRAPHQL_VALIDATION_FAILED",
                status=400,
            )
        item = value[child.name]
        if callable(item):
            item = _connection(item(), child.args)
        out[child.alias] = _project(item, child, child.name)
    return out


def _connection(nodes: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
    start = 0
    if args.get("after") is not None:
        start = next((i + 1 for i, n in enumerate(nodes) if n["id"] == args["after"]), len(nodes))
    first = args.get("first") or 50
    page = nodes[start : start + first]
    return {
        "nodes": page,
        "pageInfo": {
            "hasNextPage": start + first < len(nodes),
            "hasPreviousPage": start > 0,
            "startCursor": page[0]["id"] if page else None,
            "endCursor": page[-1]["id"] if page else None,
        },
    }


def _not_found(entity: str) -> GraphQLError:
    return GraphQLError(
        f"Entity not found: {entity}",
        "INPUT_ERROR",
        type="invalid input",
        userError=True,
        userPresentableMessage=f"Could not find referenced {entity}.",
    )


def _error_response(
    status: int, error: GraphQLError, headers: dict[str, str] | None = None
) -> httpx.Response:
    extensions = {"code": error.code, **error.extensions}
    return httpx.Response(
        status,
        json={"errors": [{"message": str(error), "extensions": extensions}], "data": None},
        headers=headers,
    )


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(timestamp))
