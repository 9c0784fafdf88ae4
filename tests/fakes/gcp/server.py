"""One loopback HTTP server speaking the Google Cloud REST APIs ``factory deploy`` calls, dispatched by path.

Each API lives in its own module (run.py, workflows.py, ...) and registers routes here. What is shared:

- the request log: every request's method, path, query, body, API and whether it writes, so tests can
  count writes (an idempotent apply issues none);
- Google's error body, ``{"error": {"code", "message", "status", "details"}}``; a disabled API answers
  403 with an ``ErrorInfo`` whose reason is ``SERVICE_DISABLED``, as Google does;
- long-running operations (``google.longrunning.Operation``): a create or update answers ``done: false``
  and the operation completes when the client first polls it (``GET .../operations/{id}``);
- IAM policies with etags: ``setIamPolicy`` with a stale etag answers 409 ABORTED, and a binding to a
  service account that does not exist, or a member that is not ``type:value`` (or allUsers,
  allAuthenticatedUsers), answers 400, as IAM does. IAM is eventually consistent, and so can this be:
  after ``policies.delay_grants(reads=N)`` a new binding is left out of the first N permission checks
  that consult it (``policies.effective``), as a grant made a moment ago can be;
- fault injection: the next matching request fails with a given status, or a hook runs before it.
"""

from __future__ import annotations

import base64
import builtins
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

Json = dict[str, Any]
STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
}


class ApiError(Exception):
    """Raised by a handler: becomes Google's JSON error body."""

    def __init__(self, code: int, message: str, status: str | None = None, details: list[Json] | None = None):
        super().__init__(message)
        self.code = code
        self.status = status or STATUS.get(code, "UNKNOWN")
        self.details = details or []

    def body(self) -> Json:
        error: Json = {"code": self.code, "message": str(self), "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def not_found(what: str) -> ApiError:
    return ApiError(404, f"Resource '{what}' was not found")


def already_exists(what: str) -> ApiError:
    return ApiError(409, f"Resource '{what}' already exists")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    api: str = ""
    write: bool = False


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    api: str
    write: bool
    handler: Callable[[Request, re.Match[str]], Any]


@dataclass
class Injected:
    method: str
    pattern: re.Pattern[str]
    error: ApiError | None
    hook: Callable[[], None] | None
    times: int


@dataclass
class Operation:
    name: str
    type_url: str
    result: Callable[[], Json]
    error: Json | None = None
    done: bool = False


MEMBER = re.compile(
    r"^(allUsers|allAuthenticatedUsers"
    r"|(deleted:)?(user|serviceAccount|group):[^\s@:]+@[a-z0-9.-]+\.[a-z]{2,}(\?uid=\d+)?"
    r"|domain:[a-z0-9.-]+\.[a-z]{2,}"
    r"|principal(Set)?://\S+)$"
)
# Cloud Storage alone also takes its "convenience values" for a bucket's legacy roles.
BUCKET_MEMBER = re.compile(r"^project(Owner|Editor|Viewer):[a-z][a-z0-9-]{4,28}[a-z0-9]$")


class Policies:
    """IAM policies by resource name, each with an etag that changes on every write, and the bindings
    not in effect yet (``pending``: how many more permission checks each stays out of)."""

    def __init__(self, server: GcpServer) -> None:
        self.server = server
        self.policies: dict[str, Json] = {}
        self._versions = itertools.count(1)
        self.lag = 0
        self.pending: dict[tuple[str, str, str], int] = {}

    def _etag(self) -> str:
        return base64.b64encode(f"etag-{next(self._versions)}".encode()).decode()

    def get(self, resource: str) -> Json:
        if resource not in self.policies:
            self.policies[resource] = {"version": 1, "etag": self._etag(), "bindings": []}
        held: Json = json.loads(json.dumps(self.policies[resource]))
        return held

    def set(self, resource: str, policy: Json) -> Json:
        held = self.get(resource)
        if policy.get("etag") and policy["etag"] != held["etag"]:
            raise ApiError(
                409,
                "There were concurrent policy changes. Please retry the whole read-modify-write "
                "with exponential backoff.",
                "ABORTED",
            )
        for binding in policy.get("bindings", []):
            for member in binding.get("members", []):
                self._check_form(resource, member)
                self.server.check_member(member)
        if self.lag:
            before = {(b["role"], m) for b in held["bindings"] for m in b.get("members", [])}
            for binding in policy.get("bindings", []):
                for member in binding.get("members", []):
                    if (binding["role"], member) not in before:
                        self.pending[(resource, binding["role"], member)] = self.lag
        stored = {
            "version": policy.get("version", 1),
            "etag": self._etag(),
            "bindings": policy.get("bindings", []),
        }
        self.policies[resource] = stored
        answer: Json = json.loads(json.dumps(stored))
        return answer

    @staticmethod
    def _check_form(resource: str, member: str) -> None:
        if MEMBER.match(member) or (resource.startswith("b/") and BUCKET_MEMBER.match(member)):
            return
        if ":" not in member:
            raise ApiError(400, 'Policy members must be of the form "<type>:<value>".')
        raise ApiError(400, f"Invalid principal {member!r}: unknown type or malformed value.")

    def delay_grants(self, reads: int) -> None:
        """From now on, each new binding stays out of effect for its first ``reads`` permission checks."""
        self.lag = reads

    def pend(self, resource: str, role: str, member: str, reads: int) -> None:
        """An existing binding (a service agent's, say) that is not in effect for ``reads`` more checks."""
        self.pending[(resource, role, member)] = reads

    def effective(self, resource: str, role: str) -> builtins.set[str]:
        """The members a permission check sees now; each check uses up one read of a pending binding."""
        seen: builtins.set[str] = builtins.set()
        for member in self.members(resource, role):
            left = self.pending.get((resource, role, member), 0)
            if left > 0:
                self.pending[(resource, role, member)] = left - 1
            else:
                seen.add(member)
        return seen

    def grant(self, resource: str, role: str, member: str) -> None:
        """Someone else's change, made directly (as another admin would)."""
        policy = self.get(resource)
        policy["bindings"].append({"role": role, "members": [member]})
        policy["etag"] = self._etag()
        self.policies[resource] = policy

    def members(self, resource: str, role: str) -> builtins.set[str]:
        return {m for b in self.get(resource)["bindings"] if b["role"] == role for m in b.get("members", [])}


class GcpServer:
    """The server core; ``FakeGcp`` (this package's ``__init__``) attaches one module per API to it."""

    def __init__(self, project: str = "factory-test") -> None:
        self.project = project
        self.requests: list[Request] = []
        self.routes: list[Route] = []
        self.injected: list[Injected] = []
        self.disabled: set[str] = set()
        self.operations: dict[str, Operation] = {}
        self.policies = Policies(self)
        self.service_accounts: dict[str, Json] = {}  # by email; iam.py serves them
        self.lock = threading.RLock()
        self._clock = itertools.count(0)
        self._server: ThreadingHTTPServer | None = None

    # --- Registration and helpers the API modules use ---
    def route(self, method: str, pattern: str, api: str, *, write: bool) -> Callable[..., Any]:
        def register(
            handler: Callable[[Request, re.Match[str]], Any],
        ) -> Callable[[Request, re.Match[str]], Any]:
            self.routes.append(Route(method, re.compile(f"^{pattern}$"), api, write, handler))
            return handler

        return register

    def now(self) -> str:
        seconds = next(self._clock)
        return f"2025-01-01T00:{seconds // 60 % 60:02d}:{seconds % 60:02d}.000000Z"

    def operation(
        self, location: str, type_url: str, result: Callable[[], Json], error: Json | None = None
    ) -> Json:
        """A pending LRO whose ``response`` is ``result()`` (or whose ``error`` is ``error``) once polled."""
        name = f"{location}/operations/{uuid.uuid4()}"
        self.operations[name] = Operation(name, type_url, result, error)
        return {"name": name, "done": False}

    def poll(self, name: str) -> Json:
        op = self.operations.get(name)
        if op is None:
            raise not_found(name)
        op.done = True
        if op.error is not None:
            return {"name": name, "done": True, "error": op.error}
        return {"name": name, "done": True, "response": {"@type": op.type_url, **op.result()}}

    def check_member(self, member: str) -> None:
        """IAM refuses a binding to a service account that does not exist."""
        kind, _, email = member.partition(":")
        ours = kind == "serviceAccount" and email.endswith(f"@{self.project}.iam.gserviceaccount.com")
        if ours and email not in self.service_accounts:
            raise ApiError(400, f"Service account {email} does not exist.")

    # --- Test controls ---
    def fail_next(
        self,
        method: str,
        pattern: str,
        code: int,
        message: str,
        *,
        status: str | None = None,
        details: list[Json] | None = None,
        times: int = 1,
    ) -> None:
        error = ApiError(code, message, status, details)
        self.injected.append(Injected(method, re.compile(pattern), error, None, times))

    def before_next(self, method: str, pattern: str, hook: Callable[[], None]) -> None:
        self.injected.append(Injected(method, re.compile(pattern), None, hook, 1))

    def disable(self, api: str) -> None:
        self.disabled.add(api)

    def writes(self, api: str | None = None) -> list[Request]:
        return [r for r in self.requests if r.write and (api is None or r.api == api)]

    def count(self, method: str, pattern: str) -> int:
        compiled = re.compile(pattern)
        return sum(1 for r in self.requests if r.method == method and compiled.search(r.path))

    # --- Serving ---
    def dispatch(self, method: str, raw_path: str, raw_body: bytes) -> tuple[int, Json]:
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            body = json.loads(raw_body) if raw_body else None
        except json.JSONDecodeError:
            return 400, ApiError(400, "Invalid JSON payload received.").body()
        request = Request(method, path, query, body)
        with self.lock:
            self.requests.append(request)
            route, match = self._match(method, path)
            if route is None or match is None:
                return 404, ApiError(404, f"no fake for {method} {path}").body()
            request.api, request.write = route.api, route.write
            try:
                self._injected(method, path)
                if route.api in self.disabled:
                    raise self._disabled(route.api)
                return 200, route.handler(request, match)
            except ApiError as exc:
                return exc.code, exc.body()

    def _match(self, method: str, path: str) -> tuple[Route | None, re.Match[str] | None]:
        for route in self.routes:
            match = route.pattern.match(path) if route.method == method else None
            if match:
                return route, match
        return None, None

    def _injected(self, method: str, path: str) -> None:
        for item in list(self.injected):
            if item.method == method and item.pattern.search(path):
                item.times -= 1
                if item.times <= 0:
                    self.injected.remove(item)
                if item.hook:
                    item.hook()
                if item.error:
                    raise item.error
                return

    def _disabled(self, api: str) -> ApiError:
        message = (
            f"{api} API has not been used in project {self.project} before or it is disabled. Enable it by "
            f"visiting https://console.developers.google.com/apis/api/{api}/overview?project={self.project} "
            "then retry."
        )
        info = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "SERVICE_DISABLED",
            "domain": "googleapis.com",
            "metadata": {"service": api, "consumer": f"projects/{self.project}"},
        }
        return ApiError(403, message, "PERMISSION_DENIED", [info])

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, payload = fake.dispatch(
                    self.command, self.path, self.rfile.read(length) if length else b""
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
