"""HTTP front end: a JSON API for notes and a small HTML page listing them.

Run it with ``python3 -m notes_app.server --port 8000``. Notes are kept in memory unless
``NOTES_DATABASE_URL`` names a PostgreSQL database (schema: Factory's ``seeds/base.sql``); then they are
that database's notes of tenant ``NOTES_TENANT`` (default 1).
"""

from __future__ import annotations

import argparse
import hmac
import html
import json
import os
import re
import sys
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from notes_app.pg_store import PgNoteStore, StoreError
from notes_app.store import NoteStore, ValidationError

Store = NoteStore | PgNoteStore

_NOTE_PATH = re.compile(r"^/api/notes/(\d+)$")
MAX_BODY_BYTES = 64 * 1024


class NotesHandler(BaseHTTPRequestHandler):
    """Routes requests to the store held by the server (``self.server.store``)."""

    server: NotesServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; tests and demos do not need access logs."""

    def parse_request(self) -> bool:
        """Refuse ``/api/`` requests without the server's API key, when it has one (the page is public)."""
        if not super().parse_request():
            return False
        key = self.server.api_key
        if key and self.path.startswith("/api/"):
            given = self.headers.get("X-Api-Key", "")
            if not hmac.compare_digest(given.encode(), key.encode()):
                self._send_json(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong X-Api-Key"})
                return False
        return True

    def handle_one_request(self) -> None:
        """Answer 503 when the database fails (stores raise before anything is sent)."""
        try:
            super().handle_one_request()
        except StoreError as exc:
            print(f"notes: database error: {exc}", file=sys.stderr, flush=True)
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "database unavailable"})

    def do_GET(self) -> None:
        """``/``, ``/api/notes`` and ``/api/notes/{id}``."""
        store = self.server.store
        if self.path == "/":
            self._send_html(render_page(store))
        elif self.path == "/api/notes":
            self._send_json(HTTPStatus.OK, [n.to_dict() for n in store.list()])
        elif match := _NOTE_PATH.match(self.path):
            note = store.get(int(match.group(1)))
            if note is None:
                self._send_json(HTTPStatus.NOT_FOUND, {"error": "note not found"})
            else:
                self._send_json(HTTPStatus.OK, note.to_dict())
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "no such route"})

    def do_POST(self) -> None:
        """``/api/notes`` with a JSON object ``{"title": ..., "body": ...}``."""
        if self.path != "/api/notes":
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "no such route"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request too large"})
            return
        try:
            payload = json.loads(self.rfile.read(length) or b"null")
            if not isinstance(payload, dict):
                raise ValidationError("expected a JSON object")
            note = self.server.store.add(payload.get("title"), payload.get("body", ""))
        except (json.JSONDecodeError, ValidationError) as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        self._send_json(HTTPStatus.CREATED, note.to_dict())

    def do_DELETE(self) -> None:
        """``/api/notes/{id}``."""
        match = _NOTE_PATH.match(self.path)
        if match is None:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "no such route"})
        elif self.server.store.delete(int(match.group(1))):
            self._send_json(HTTPStatus.OK, {"deleted": int(match.group(1))})
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "note not found"})

    def _send_json(self, status: HTTPStatus, payload: Any) -> None:
        self._send(status, "application/json", json.dumps(payload).encode())

    def _send_html(self, page: str) -> None:
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", page.encode())

    def _send(self, status: HTTPStatus, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class NotesServer(ThreadingHTTPServer):
    """An HTTP server that owns one note store."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: Store | None = None, api_key: str = "") -> None:
        super().__init__(address, NotesHandler)
        self.store = store if store is not None else NoteStore()
        self.api_key = api_key  # empty: the API is open (the in-memory demo and the tests)


def store_from_env(env: Mapping[str, str]) -> Store:
    """PostgreSQL when ``NOTES_DATABASE_URL`` is set (tenant ``NOTES_TENANT``, default 1), else memory."""
    url = env.get("NOTES_DATABASE_URL", "")
    if not url:
        return NoteStore()
    tenant = env.get("NOTES_TENANT", "1")
    if not tenant.isascii() or not tenant.isdigit() or int(tenant) < 1:
        raise ValueError(f"NOTES_TENANT must be a positive integer, not {tenant!r}")
    return PgNoteStore(url, int(tenant))


def render_page(store: Store) -> str:
    """The HTML page listing every note, escaped."""
    items = "".join(
        f"<li><strong>{html.escape(n.title)}</strong> {html.escape(n.body)}</li>" for n in store.list()
    )
    return f"<!doctype html><title>Notes</title><h1>Notes</h1><ul>{items or '<li>No notes yet.</li>'}</ul>"


def main(argv: list[str] | None = None) -> None:
    """Parse ``--host``/``--port`` and serve until interrupted."""
    parser = argparse.ArgumentParser(description="Serve the notes app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    try:
        store = store_from_env(os.environ)
        where = "in memory"
        if isinstance(store, PgNoteStore):
            where = f"in PostgreSQL, tenant {store.tenant_id} ({store.check()})"
    except (ValueError, StoreError) as exc:
        parser.exit(2, f"notes: {exc}\n")
    with NotesServer((args.host, args.port), store, os.environ.get("NOTES_API_KEY", "")) as server:
        print(f"Serving notes {where} on http://{args.host}:{server.server_address[1]}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
