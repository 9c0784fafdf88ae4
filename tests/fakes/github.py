"""A fake GitHub REST API on a real local HTTP server, in GitHub's wire shapes.

It serves the endpoints Factory uses on one repository: list, create, get and edit pull requests; add and
remove a PR's labels (its issue's); list (paged, with a ``Link`` header), create and edit issue comments.
It checks what GitHub checks: a ``Bearer`` token (401 "Bad credentials"), one open PR per head and base
(422 "A pull request already exists for owner:branch."), body and title sizes (422 "body is too long
(maximum is 65536 characters)"), a known base branch, unknown numbers (404), editing someone else's
comment (403). Every answer carries ``x-ratelimit-*`` headers from a primary quota (``set_quota``).

Faults: ``rate_limit(n, kind)`` answers the next n requests with a primary limit (403, remaining 0, a reset
a few seconds ahead), a ``retry-after`` (429) or a secondary limit with no headers (403); ``fail(n,
status)``; ``hide_open_pulls_from_list(n)``, so the client meets the 422 "already exists" path. Every
request is recorded with its arrival time on the injected clock, and ``sent_while_limited`` counts the
ones that arrived before an advertised reset or retry-after time.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

T0 = 1_700_000_000.0
BODY_LIMIT = 65_536
TITLE_LIMIT = 256
DOCS = "https://docs.github.com/rest"
Answer = tuple[int, dict[str, str], Any]


@dataclass
class FakeClock:
    """Time that only the injected sleep moves, shared by the client and the fake server."""

    now: float = T0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    early: bool = False  # arrived before an advertised reset or retry-after time
    status: int = 0


@dataclass
class FakePull:
    number: int
    head: str
    base: str
    title: str
    body: str | None
    user: str
    state: str = "open"
    labels: list[str] = field(default_factory=list)


@dataclass
class FakeComment:
    id: int
    issue: int
    body: str
    user: str
    created_at: float
    updated_at: float


class FakeGitHub:
    """One repository's pull requests, labels and issue comments, served over HTTP on 127.0.0.1."""

    def __init__(
        self, token: str, repo: str = "acme/notes", *, clock: Callable[[], float] = time.time
    ) -> None:
        self.token = token
        self.repo = repo
        self.owner = repo.split("/")[0]
        self.clock = clock
        self.login = "factory-bot"  # whom the token authenticates
        self.branches = {"main", "develop"}  # known bases; heads are taken on trust
        self.pulls: dict[int, FakePull] = {}
        self.comments: list[FakeComment] = []
        self.requests: list[Recorded] = []
        self.url = ""
        self.quota_limit = 5000
        self._remaining = self.quota_limit
        self._reset = math.ceil(clock()) + 3600
        self._limits: list[tuple[str, float]] = []
        self._failures: list[int] = []
        self._hidden_lists = 0
        self._limited_until = 0.0
        self._ids = 0
        self._lock = threading.Lock()

    # -- setup and fault injection --------------------------------------------------------------------

    def rate_limit(
        self, count: int, kind: Literal["primary", "retry_after", "secondary"] = "primary", *, wait: float = 5
    ) -> None:
        """Answer the next ``count`` requests as rate-limited (``wait``: seconds to the reset or retry)."""
        self._limits.extend([(kind, wait)] * count)

    def fail(self, count: int, status: int = 502) -> None:
        """Answer the next ``count`` requests with HTTP ``status``."""
        self._failures.extend([status] * count)

    def hide_open_pulls_from_list(self, count: int) -> None:
        """Let the next ``count`` list-pulls requests answer ``[]``, as a lagging index would."""
        self._hidden_lists += count

    def set_quota(self, remaining: int, reset_in: float) -> None:
        """Leave ``remaining`` requests in the primary quota, refilled ``reset_in`` seconds from now."""
        self._remaining = remaining
        self._reset = math.ceil(self.clock() + reset_in)

    def add_comment(self, number: int, body: str, *, user: str = "someone-else") -> FakeComment:
        now = self.clock()
        comment = FakeComment(self._next_id(), number, body, user, now, now)
        self.comments.append(comment)
        return comment

    # -- inspection -----------------------------------------------------------------------------------

    @property
    def sent_while_limited(self) -> int:
        return sum(r.early for r in self.requests)

    def calls(self, method: str, path_end: str = "") -> int:
        """How many requests used ``method`` on a path ending with ``path_end``."""
        return sum(r.method == method and r.path.endswith(path_end) for r in self.requests)

    def statuses(self) -> list[int]:
        return [r.status for r in self.requests]

    def comments_on(self, number: int) -> list[FakeComment]:
        return [c for c in self.comments if c.issue == number]

    # -- the server -----------------------------------------------------------------------------------

    @contextmanager
    def serving(self) -> Iterator[FakeGitHub]:
        """Serve on 127.0.0.1 (a free port) in a thread; ``url`` is the API base while inside."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        with self._lock:
            now = self.clock()
            parts = urlsplit(target)
            query = dict(parse_qsl(parts.query))
            record = Recorded(method, parts.path, query, headers, now, early=now < self._limited_until)
            self.requests.append(record)
            status, extra, payload = self._answer(method, parts.path, record.query, headers, raw, now)
            record.status = status
            return status, extra, payload

    def _answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes, now: float
    ) -> Answer:
        if self._failures:
            status = self._failures.pop(0)
            if status >= 500:
                return status, {}, b"<html><body>upstream unavailable</body></html>"
            return (
                status,
                {},
                {"message": "Resource not accessible by integration", "documentation_url": DOCS},
            )
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"message": "Bad credentials", "documentation_url": DOCS}
        if self._limits:
            return self._limited(*self._limits.pop(0), now)
        if now >= self._reset:
            self._remaining, self._reset = self.quota_limit, math.ceil(now) + 3600
        if self._remaining <= 0:
            self._limited_until = self._reset
            message = "API rate limit exceeded for user ID 1."
            return 403, self._quota_headers(), {"message": message, "documentation_url": DOCS}
        self._remaining -= 1
        if self._remaining == 0:
            self._limited_until = self._reset
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return 400, self._quota_headers(), {"message": "Problems parsing JSON"}
        status, extra, payload = self._route(method, path, query, body)
        return status, {**self._quota_headers(), **extra}, payload

    def _limited(self, kind: str, wait: float, now: float) -> Answer:
        if kind == "primary":
            reset = math.ceil(now + wait)
            self._limited_until = reset
            headers = {**self._quota_headers(), "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
            return (
                403,
                headers,
                {"message": "API rate limit exceeded for user ID 1.", "documentation_url": DOCS},
            )
        secondary = {
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
            "again.",
            "documentation_url": DOCS,
        }
        if kind == "retry_after":
            self._limited_until = now + math.ceil(wait)
            return 429, {**self._quota_headers(), "retry-after": str(math.ceil(wait))}, secondary
        self._limited_until = now + 60
        return 403, self._quota_headers(), secondary

    def _quota_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.quota_limit),
            "x-ratelimit-remaining": str(max(0, self._remaining)),
            "x-ratelimit-reset": str(self._reset),
            "x-ratelimit-used": str(self.quota_limit - max(0, self._remaining)),
            "x-ratelimit-resource": "core",
        }

    # -- routes ---------------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> Answer:
        prefix = f"/repos/{self.repo}/"
        if not path.startswith(prefix):
            return _not_found()
        parts = [unquote(p) for p in path[len(prefix) :].split("/")]
        match (method, parts):
            case ("GET", ["pulls"]):
                return self._list_pulls(query)
            case ("POST", ["pulls"]):
                return self._create_pull(body)
            case ("GET", ["pulls", number]) if number.isdigit() and int(number) in self.pulls:
                return 200, {}, self._pull_json(self.pulls[int(number)])
            case ("PATCH", ["pulls", number]) if number.isdigit() and int(number) in self.pulls:
                return self._edit_pull(self.pulls[int(number)], body)
            case ("POST", ["issues", number, "labels"]) if number.isdigit() and int(number) in self.pulls:
                pull = self.pulls[int(number)]
                pull.labels += [name for name in body.get("labels", []) if name not in pull.labels]
                return 200, {}, [self._label_json(name) for name in pull.labels]
            case ("DELETE", ["issues", number, "labels", name]) if (
                number.isdigit() and int(number) in self.pulls
            ):
                pull = self.pulls[int(number)]
                if name not in pull.labels:
                    return 404, {}, {"message": "Label does not exist", "documentation_url": DOCS}
                pull.labels.remove(name)
                return 200, {}, [self._label_json(label) for label in pull.labels]
            case ("GET", ["issues", number, "comments"]) if number.isdigit() and int(number) in self.pulls:
                return self._list_comments(int(number), query)
            case ("POST", ["issues", number, "comments"]) if number.isdigit() and int(number) in self.pulls:
                return self._write_comment(None, int(number), body)
            case ("PATCH", ["issues", "comments", cid]) if cid.isdigit():
                found = next((c for c in self.comments if c.id == int(cid)), None)
                return _not_found() if found is None else self._write_comment(found, found.issue, body)
        return _not_found()

    def _list_pulls(self, query: dict[str, str]) -> Answer:
        if self._hidden_lists:
            self._hidden_lists -= 1
            return 200, {}, []
        state, head, base = query.get("state", "open"), query.get("head"), query.get("base")
        found = [
            self._pull_json(p)
            for p in self.pulls.values()
            if state in ("all", p.state)
            and (head is None or head == f"{self.owner}:{p.head}")
            and (base is None or base == p.base)
        ]
        return 200, {}, found

    def _create_pull(self, body: dict[str, Any]) -> Answer:
        for name in ("title", "head", "base"):
            if not isinstance(body.get(name), str) or not body[name]:
                return _invalid("PullRequest", name, "missing_field")
        if body["base"] not in self.branches:
            return _invalid("PullRequest", "base", "invalid")
        if problem := _too_long(body):
            return problem
        if any(
            p.head == body["head"] and p.base == body["base"] and p.state == "open"
            for p in self.pulls.values()
        ):
            message = f"A pull request already exists for {self.owner}:{body['head']}."
            return _invalid("PullRequest", None, "custom", message)
        pull = FakePull(
            self._next_id(), body["head"], body["base"], body["title"], body.get("body"), self.login
        )
        self.pulls[pull.number] = pull
        return 201, {}, self._pull_json(pull)

    def _edit_pull(self, pull: FakePull, body: dict[str, Any]) -> Answer:
        if problem := _too_long(body):
            return problem
        for name in ("title", "body", "state", "base"):
            if name in body:
                setattr(pull, name, body[name])
        return 200, {}, self._pull_json(pull)

    def _list_comments(self, number: int, query: dict[str, str]) -> Answer:
        per_page = min(100, int(query.get("per_page", "30")))
        page = max(1, int(query.get("page", "1")))
        comments = self.comments_on(number)
        last = max(1, math.ceil(len(comments) / per_page))
        chunk = comments[(page - 1) * per_page : page * per_page]
        link = f"{self.url}/repos/{self.repo}/issues/{number}/comments?per_page={per_page}&page="
        rels = ([(page + 1, "next"), (last, "last")] if page < last else []) + (
            [(page - 1, "prev"), (1, "first")] if page > 1 else []
        )
        extra = {"link": ", ".join(f'<{link}{n}>; rel="{rel}"' for n, rel in rels)} if rels else {}
        return 200, extra, [self._comment_json(c) for c in chunk]

    def _write_comment(self, comment: FakeComment | None, number: int, body: dict[str, Any]) -> Answer:
        text = body.get("body")
        if not isinstance(text, str) or not text:
            return _invalid("IssueComment", "body", "missing_field")
        if len(text) > BODY_LIMIT:
            return _invalid(
                "IssueComment", "data", "unprocessable", "Body is too long (maximum is 65536 characters)"
            )
        if comment is None:
            comment = self.add_comment(number, text, user=self.login)
            return 201, {}, self._comment_json(comment)
        if comment.user != self.login:
            return (
                403,
                {},
                {"message": "Resource not accessible by personal access token", "documentation_url": DOCS},
            )
        comment.body, comment.updated_at = text, self.clock()
        return 200, {}, self._comment_json(comment)

    # -- JSON shapes ----------------------------------------------------------------------------------

    def _pull_json(self, pull: FakePull) -> dict[str, Any]:
        return {
            "url": f"{self.url}/repos/{self.repo}/pulls/{pull.number}",
            "html_url": f"https://github.com/{self.repo}/pull/{pull.number}",
            "number": pull.number,
            "state": pull.state,
            "title": pull.title,
            "body": pull.body,
            "user": {"login": pull.user, "type": "User"},
            "labels": [self._label_json(name) for name in pull.labels],
            "head": {"label": f"{self.owner}:{pull.head}", "ref": pull.head, "sha": "0" * 40},
            "base": {"label": f"{self.owner}:{pull.base}", "ref": pull.base, "sha": "1" * 40},
            "draft": False,
            "merged": False,
        }

    def _label_json(self, name: str) -> dict[str, Any]:
        return {"id": abs(hash(name)) % 10**9, "name": name, "color": "ededed", "default": False}

    def _comment_json(self, comment: FakeComment) -> dict[str, Any]:
        return {
            "id": comment.id,
            "html_url": f"https://github.com/{self.repo}/pull/{comment.issue}#issuecomment-{comment.id}",
            "body": comment.body,
            "user": {"login": comment.user, "type": "User"},
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(comment.created_at)),
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(comment.updated_at)),
        }

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids


def _not_found() -> Answer:
    return 404, {}, {"message": "Not Found", "documentation_url": DOCS}


def _invalid(resource: str, field_name: str | None, code: str, message: str | None = None) -> Answer:
    error: dict[str, Any] = {"resource": resource, "code": code}
    if field_name is not None:
        error["field"] = field_name
    if message is not None:
        error["message"] = message
    return 422, {}, {"message": "Validation Failed", "errors": [error], "documentation_url": DOCS}


def _too_long(body: dict[str, Any]) -> Answer | None:
    for name, limit in (("title", TITLE_LIMIT), ("body", BODY_LIMIT)):
        value = body.get(name)
        if isinstance(value, str) and len(value) > limit:
            return _invalid("Issue", name, "custom", f"{name} is too long (maximum is {limit} characters)")
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeGitHub


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = self.server.fake.handle(self.command, self.path, headers, raw)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        kind = "text/html" if isinstance(payload, bytes) else "application/json; charset=utf-8"
        for name, value in {"content-type": kind, **extra}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is ``FakeGitHub.requests``
