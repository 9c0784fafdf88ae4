"""The background serving every loopback server uses (executions API, Eventarc bridge, receiver, model)."""

from __future__ import annotations

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jobs.serving import ServingThread


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _stops_within(serving: ServingThread, seconds: float) -> bool:
    """Whether ``stop()`` returns in time (socketserver's shutdown() on an idle server never returns)."""
    stopper = threading.Thread(target=serving.stop, daemon=True)
    stopper.start()
    stopper.join(seconds)
    return not stopper.is_alive()


def test_serves_until_stopped_and_stopping_twice_is_harmless() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    serving = ServingThread(server, "test-serving")
    serving.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    with urllib.request.urlopen(url, timeout=5) as answer:
        assert answer.status == 204
    assert serving.alive()
    assert _stops_within(serving, 10)
    assert not serving.alive()
    assert _stops_within(serving, 10)


def test_a_server_that_never_started_stops_at_once() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    assert _stops_within(ServingThread(server, "never-started"), 10)
    assert server.socket.fileno() == -1, "the listening socket is closed"
