"""The playground: a second front end that talks to the notes API with an API key, as a client app would.

It is configured the way the original system configured its playground: the API's URL and a key, from
the environment (``NOTES_API_URL``, ``NOTES_API_KEY``). Run it with
``NOTES_API_URL=http://127.0.0.1:8080 python3 -m notes_app.playground --port 3001``.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def fetch_notes(api_url: str, api_key: str) -> list[dict[str, Any]]:
    """The notes the API returns, asked for with the key (urllib: the app stays stdlib-only)."""
    request = urllib.request.Request(f"{api_url}/api/notes", headers={"X-Api-Key": api_key})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - a configured http URL
        data = json.loads(response.read())
    return data if isinstance(data, list) else []


def render(api_url: str, notes: list[dict[str, Any]], error: str | None) -> str:
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            html.escape(str(n.get("title", ""))),
            html.escape(str(n.get("body", ""))),
            html.escape(str(n.get("word_count", "-"))),
        )
        for n in notes
    )
    status = f"<p class=error>API error: {html.escape(error)}</p>" if error else ""
    return (
        "<!doctype html><title>Notes playground</title><h1>Notes playground</h1>"
        f"<p>Connected to <code>{html.escape(api_url)}</code></p>{status}"
        "<table border=1><tr><th>Title</th><th>Body</th><th>Words</th></tr>"
        f"{rows or '<tr><td colspan=3>No notes.</td></tr>'}</table>"
    )


class PlaygroundHandler(BaseHTTPRequestHandler):
    server: PlaygroundServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(HTTPStatus.OK, "text/plain", b"ok")
            return
        if self.path != "/":
            self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
            return
        api_url, api_key = self.server.api_url, self.server.api_key
        try:
            notes, error = fetch_notes(api_url, api_key), None
        except (OSError, ValueError) as exc:
            notes, error = [], str(exc)
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", render(api_url, notes, error).encode())

    def _send(self, status: HTTPStatus, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class PlaygroundServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api_url: str, api_key: str) -> None:
        super().__init__(address, PlaygroundHandler)
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the notes playground.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    args = parser.parse_args(argv)
    api_url = os.environ.get("NOTES_API_URL", "http://127.0.0.1:8080")
    with PlaygroundServer((args.host, args.port), api_url, os.environ.get("NOTES_API_KEY", "")) as server:
        print(f"Playground on http://{args.host}:{server.server_address[1]} -> {api_url}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
