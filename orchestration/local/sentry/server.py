"""Sentry on ``127.0.0.1``: ``SentryStandIn`` (the state, the read API's shapes, and a loopback HTTP
server), its request handler (envelope ingestion; the read API with bearer-token auth and rate limits)
and ``main``, which serves one until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shlex
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jobs.serving import LoopbackHTTPServer, LoopbackService
from orchestration.local.sentry.api import (
    _ROUTES,
    DEFAULT_STATS_PERIOD,
    INVALID_TOKEN,
    NO_CREDENTIALS,
    NOT_FOUND,
    check_projects,
    cursor_links,
    date_window,
    issue_matches,
    parse_cursor,
    parse_limit,
)
from orchestration.local.sentry.envelopes import _ENVELOPE, _decode_body, _read_envelope, _sentry_auth_key
from orchestration.local.sentry.model import ApiError, Issue, Json, RateLimit, StoredEvent, iso
from orchestration.local.sentry.shapes import IssueShapes


class SentryStandIn(IssueShapes, LoopbackService):
    """Sentry on ``127.0.0.1``: one organization with one project, a DSN public key for ingestion and auth
    tokens for the API. Use as a context manager or call start/stop."""

    def __init__(
        self,
        token: str | list[str],
        public_key: str | None = None,
        project_id: int = 1,
        project_slug: str = "factory",
        org_slug: str = "factory",
        port: int = 0,
        rate_limit: RateLimit | None = None,
        rate_limits: dict[str, RateLimit] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tokens = [token] if isinstance(token, str) else list(token)
        self.public_key = public_key or uuid.uuid4().hex
        if not re.fullmatch(r"[0-9a-f]{32}", self.public_key):
            raise ValueError("a DSN public key is 32 lowercase hex characters, as Relay requires")
        self.project_id = project_id
        self.project_slug = project_slug
        self.org_slug = org_slug
        self.rate_limit = rate_limit or RateLimit()
        self.rate_limits = dict(rate_limits or {})
        self.clock = clock
        self.issues: list[Issue] = []
        self.items_received: dict[str, int] = {}
        self._lock = threading.Lock()
        self._next_issue = 1
        self._windows: dict[tuple[str, str, str, int], int] = {}
        self._in_flight: dict[tuple[str, str, str], int] = {}
        LoopbackService.__init__(
            self, LoopbackHTTPServer(("127.0.0.1", port), _handler_for(self)), "sentry-stand-in"
        )

    @property
    def dsn(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{self.public_key}@{host!s}:{port}/{self.project_id}"


def _handler_for(server: SentryStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read state, not logs
            return

        def do_GET(self) -> None:
            self._api("GET")

        def do_PUT(self) -> None:
            self._api("PUT")

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            match = _ENVELOPE.match(path)
            if match:
                self._envelope(int(match.group("project")))
            else:
                self._api("POST")

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        # -- ingestion (Relay) --------------------------------------------------------------------

        def _envelope(self, project_id: int) -> None:
            query = parse_qs(urlsplit(self.path).query)
            raw = self._body()
            try:
                body = _decode_body(raw, self.headers.get("Content-Encoding") or "")
                header, items = _read_envelope(body)
                keys = [k for k in (_sentry_auth_key(self.headers.get("X-Sentry-Auth") or ""),) if k]
                keys += query.get("sentry_key", [])
                dsn = header.get("dsn")
                if isinstance(dsn, str) and dsn:
                    keys.append(urlsplit(dsn).username or "")
                if not keys:
                    raise ApiError(401, {"detail": "missing authorization information"})
                if any(not re.fullmatch(r"[0-9a-fA-F]{32}", k) for k in keys):
                    raise ApiError(400, {"detail": "bad sentry DSN public key"})
                if any(k.lower() != server.public_key for k in keys) or project_id != server.project_id:
                    raise ApiError(403, {"detail": "event submission rejected with_reason: ProjectId"})
            except ApiError as error:
                self._json(error.status, error.body)
                return
            event_id: str | None = None
            for item_header, payload in items:
                kind = str(item_header["type"])
                with server._lock:
                    server.items_received[kind] = server.items_received.get(kind, 0) + 1
                if kind != "event":
                    continue
                try:
                    event = json.loads(payload)
                except json.JSONDecodeError:
                    self._json(400, {"detail": "invalid event envelope", "causes": ["invalid item payload"]})
                    return
                if isinstance(event, dict):
                    event_id = server.ingest_event(event, header.get("event_id"))
            event_id = event_id or (str(header["event_id"]) if header.get("event_id") else None)
            self._json(200, {"id": event_id} if event_id else {})

        # -- read API -----------------------------------------------------------------------------

        def _api(self, method: str) -> None:
            parts = urlsplit(self.path)
            # Read the body whatever the answer, so a kept-alive connection stays in step.
            self.request_body = self._body()
            route, params = next(
                ((name, m.groupdict()) for name, pattern in _ROUTES if (m := pattern.match(parts.path))),
                (None, {}),
            )
            allowed = {"issues": ("GET",), "issue": ("GET", "PUT"), "events": ("GET",), "event": ("GET",)}
            if route is None:
                self._json(404, NOT_FOUND)
                return
            if method not in allowed.get(route, ("GET", "POST")):
                self._json(405, {"detail": f'Method "{method}" not allowed.'})
                return
            auth = self.headers.get("Authorization") or ""
            scheme, _, credentials = auth.partition(" ")
            valid = scheme.lower() == "bearer" and credentials.strip() in server.tokens
            caller = f"user:{credentials.strip()}" if valid else f"ip:{self.client_address[0]}"
            try:
                with server.rate_limited(caller, route, method) as headers:
                    try:
                        if not auth:
                            raise ApiError(401, NO_CREDENTIALS)
                        if scheme.lower() == "bearer" and not credentials.strip():
                            raise ApiError(401, {"detail": "Invalid token header. No credentials provided."})
                        if not valid:
                            raise ApiError(401, INVALID_TOKEN)
                        org = params.get("org")
                        if org is not None and org != server.org_slug:
                            raise ApiError(404, NOT_FOUND)
                        query = parse_qs(parts.query, keep_blank_values=True)
                        status, payload, extra = self._route(route, method, params, query, parts.path)
                    except ApiError as error:
                        self._json(error.status, error.body, headers)
                        return
                    self._json(status, payload, {**headers, **extra})
            except ApiError as error:  # over a limit: Sentry's 429, a JSON string, with the headers
                self._json(error.status, error.body, error.headers)

        def _route(
            self, route: str, method: str, params: dict[str, str], query: dict[str, list[str]], path: str
        ) -> tuple[int, Any, dict[str, str]]:
            if route == "issues":
                return self._issues(query, path)
            issue = server.find_issue(params["issue"])
            if issue is None:
                raise ApiError(404, NOT_FOUND)
            if route == "issue":
                if method == "PUT":
                    return self._update(issue)
                return 200, server.issue_json(issue), {}
            if route == "events":
                return self._events(issue, query, path)
            if route == "event":
                return 200, self._event(issue, params["event"]), {}
            return self._notes(issue, method, query, path)

        def _issues(self, query: dict[str, list[str]], path: str) -> tuple[int, Any, dict[str, str]]:
            # Sentry's order: the dates, ``groupStatsPeriod``, the projects, then the search itself.
            window = date_window(query, server.clock(), DEFAULT_STATS_PERIOD)
            assert window is not None
            group_stats = (query.get("groupStatsPeriod") or ["24h"])[-1]
            if group_stats not in ("", "24h", "14d", "auto"):
                raise ApiError(400, {"detail": "Invalid groupStatsPeriod"})
            check_projects(query, server.project_id, server.project_slug)
            text = query["query"][-1] if "query" in query else "is:unresolved"
            try:
                tokens = shlex.split(text)
            except ValueError:
                raise ApiError(400, {"detail": "Invalid search query"}) from None
            environments = set(query.get("environment", []))
            sort = (query.get("sort") or ["date"])[-1]
            if sort not in ("date", "new", "freq", "user", "trends", "inbox", "recommended", "priority"):
                raise ApiError(400, {"detail": f"Invalid sort: {sort!r}"})
            limit = parse_limit(query, "limit")
            offset, _ = parse_cursor(query)
            with server._lock:
                candidates = list(server.issues)
            matched = []
            for issue in candidates:
                events = [e for e in issue.events if window[0] <= e.timestamp <= window[1]]
                if environments:
                    events = [e for e in events if dict(e.tags).get("environment") in environments]
                if events and issue_matches(issue, tokens):
                    matched.append((issue, events))
            keys: dict[str, Callable[[tuple[Issue, list[StoredEvent]]], float]] = {
                "date": lambda pair: max(e.timestamp for e in pair[1]),
                "new": lambda pair: min(e.timestamp for e in pair[1]),
                "freq": lambda pair: len(pair[1]),
                "user": lambda pair: len({e.user_key for e in pair[1] if e.user_key}),
            }
            order = keys.get(sort, keys["date"])
            matched.sort(key=lambda pair: (order(pair), int(pair[0].id)), reverse=True)
            page = matched[offset : offset + limit]
            stats = "24h" if group_stats == "auto" else group_stats or None
            body = [server.issue_json(issue, window, stats) for issue, _ in page]
            headers = {
                "Link": cursor_links(server.url, path, query, offset, limit, len(matched)),
                "X-Hits": str(len(matched)),
                "X-Max-Hits": str(len(matched)),
            }
            return 200, body, headers

        def _update(self, issue: Issue) -> tuple[int, Any, dict[str, str]]:
            try:
                body = json.loads(self.request_body or b"{}")
            except json.JSONDecodeError:
                raise ApiError(400, {"detail": "JSON parse error"}) from None
            status = body.get("status") if isinstance(body, dict) else None
            if status not in ("resolved", "unresolved", "ignored", "resolvedInNextRelease"):
                raise ApiError(400, {"status": [f'"{status}" is not a valid choice.']})
            server.set_status(issue.id, "resolved" if status == "resolvedInNextRelease" else status)
            return 200, {"status": issue.status, "statusDetails": {}, "substatus": issue.substatus}, {}

        def _events(
            self, issue: Issue, query: dict[str, list[str]], path: str
        ) -> tuple[int, Any, dict[str, str]]:
            window = date_window(query, server.clock(), None)
            full = (query.get("full") or ["false"])[-1].lower() in ("1", "true", "yes")
            limit = parse_limit(query, "per_page")
            offset, _ = parse_cursor(query)
            environments = set(query.get("environment", []))
            with server._lock:
                events = list(issue.events)
            if window:
                events = [e for e in events if window[0] <= e.timestamp <= window[1]]
            if environments:
                events = [e for e in events if dict(e.tags).get("environment") in environments]
            events.sort(key=lambda e: (e.timestamp, e.received), reverse=True)
            page = events[offset : offset + limit]
            body = [server.event_json(e, issue) if full else server.simple_event_json(e) for e in page]
            return 200, body, {"Link": cursor_links(server.url, path, query, offset, limit, len(events))}

        def _event(self, issue: Issue, which: str) -> Json:
            with server._lock:
                events = sorted(issue.events, key=lambda e: (e.timestamp, e.received))
            if not events:
                raise ApiError(404, NOT_FOUND)
            if which in ("latest", "recommended"):
                chosen: StoredEvent | None = events[-1]
            elif which == "oldest":
                chosen = events[0]
            else:
                wanted = which.replace("-", "").lower()
                chosen = next((e for e in events if e.event_id == wanted), None)
            if chosen is None:
                raise ApiError(404, {"detail": "Event not found"})
            return server.event_json(chosen, issue)

        def _notes(
            self, issue: Issue, method: str, query: dict[str, list[str]], path: str
        ) -> tuple[int, Any, dict[str, str]]:
            if method == "GET":
                limit = parse_limit(query, "per_page")
                offset, _ = parse_cursor(query)
                with server._lock:
                    notes = sorted(issue.notes, key=lambda n: n["dateCreated"], reverse=True)
                page = [
                    {k: v for k, v in n.items() if not k.startswith("_")}
                    for n in notes[offset : offset + limit]
                ]
                return 200, page, {"Link": cursor_links(server.url, path, query, offset, limit, len(notes))}
            try:
                body = json.loads(self.request_body or b"{}")
            except json.JSONDecodeError:
                raise ApiError(400, {"detail": "JSON parse error"}) from None
            text = body.get("text") if isinstance(body, dict) else None
            if not isinstance(text, str) or not text.strip():
                raise ApiError(400, {"text": ["This field is required."]})
            now = server.clock()
            with server._lock:
                if any(n["data"]["text"] == text and now - n["_created"] < 3600 for n in issue.notes):
                    raise ApiError(400, {"detail": "You have already posted that comment."})
                note = {
                    "id": str(sum(len(i.notes) for i in server.issues) + 1),
                    "user": {"id": "1", "name": "factory", "username": "factory", "email": None},
                    "type": "note",
                    "data": {"text": text},
                    "dateCreated": iso(now),
                    "_created": now,
                }
                issue.notes.append(note)
            return 201, {k: v for k, v in note.items() if not k.startswith("_")}, {}

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve a Sentry stand-in on loopback until Ctrl-C, printing its DSN, API URL and token."""
    parser = argparse.ArgumentParser(prog="python -m orchestration.local.sentry", description=main.__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--token", default=None, help="API auth token (default: a random one)")
    parser.add_argument("--public-key", default=None, help="DSN public key, 32 hex (default: random)")
    parser.add_argument("--project-id", type=int, default=1)
    parser.add_argument("--project", default="factory", help="project slug")
    parser.add_argument("--org", default="factory", help="organization slug")
    args = parser.parse_args(argv)
    token = args.token or f"sntryu_{secrets.token_hex(32)}"
    stand_in = SentryStandIn(
        token=token,
        public_key=args.public_key,
        project_id=args.project_id,
        project_slug=args.project,
        org_slug=args.org,
        port=args.port,
    )
    print(f"SENTRY_DSN={stand_in.dsn}")
    print(f"SENTRY_URL={stand_in.url}")
    print(f"SENTRY_AUTH_TOKEN={token}")
    print(f"SENTRY_ORG={args.org}")
    print(f"SENTRY_PROJECT={args.project} (id {args.project_id})", flush=True)
    try:
        stand_in.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stand_in._httpd.server_close()
