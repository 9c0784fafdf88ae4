"""Loopback serving: the HTTP server class and the background thread (one start/stop) the local servers
share, and a free port to put one on.

A client that hangs up mid-request or mid-answer (an agent stopped by its budget or clock, a CLI that
got its result) is routine: ``LoopbackHTTPServer`` logs it in one line, where socketserver prints a
traceback on stderr.

``socketserver``'s ``shutdown()`` waits for a running ``serve_forever`` loop, so calling it on a server
that never started blocks forever; ``stop`` only calls it while the loop runs, and is safe to call
before ``start`` and more than once.
"""

from __future__ import annotations

import logging
import re
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from socketserver import BaseServer
from typing import Any, Self, TypeVar

_log = logging.getLogger("factory.serving")
_T = TypeVar("_T")


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose request threads never keep the process alive, and for which a
    client going away is one log line, not a traceback."""

    daemon_threads = True

    def serve_forever(self, poll_interval: float = 0.05) -> None:
        # Polls for shutdown every 50 ms (socketserver's default is 500 ms): stopping a server is quick.
        super().serve_forever(poll_interval)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        # Broken pipe, reset, aborted; or stalled past the handler's timeout.
        if isinstance(error, ConnectionError | TimeoutError):
            _log.debug("a client went away (%s)", type(error).__name__)
            return
        super().handle_error(request, client_address)


class ServingThread:
    """``server.serve_forever`` on a daemon thread named ``name``."""

    def __init__(self, server: BaseServer, name: str) -> None:
        self.server = server
        self._thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (if it is), wait for the loop to end, and close the listening socket."""
        if self._thread.is_alive():
            self.server.shutdown()
            self._thread.join(timeout)
        self.server.server_close()


class LoopbackService:
    """What a local server object offers around its HTTP server: its URL, start and stop on a background
    thread, ``with`` for both, and ``serve_forever`` in the foreground (a command's main)."""

    def __init__(self, httpd: LoopbackHTTPServer, name: str) -> None:
        self._httpd = httpd
        self._serving = ServingThread(httpd, name)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> Self:
        self._serving.start()
        return self

    def stop(self) -> None:
        self._serving.stop()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def on_socket(server: socketserver.TCPServer, sock: socket.socket) -> None:
    """Serve ``server`` on ``sock``, a socket already listening (made in a box's network namespace,
    say), in place of the one the server would bind itself; ``server`` was made with
    ``bind_and_activate=False``."""
    server.socket.close()
    server.socket = sock
    server.server_address = sock.getsockname()


# What a server that lost its port says: free_port() is a race, another process may bind it first.
PORT_TAKEN_IN_LOG = re.compile(r"address already in use|EADDRINUSE", re.IGNORECASE)
PORT_TRIES = 3


class PortTaken(Exception):
    """A server could not bind the port ``free_port`` found: another process took it in between."""


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it; another process may take it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def on_a_free_port(
    start: Callable[[int], _T], ports: Callable[[], int] | None = None, tries: int = PORT_TRIES
) -> _T:
    """``start(port)`` on a port found free (by ``ports``, default ``free_port``), and again on another
    each time it raises ``PortTaken``, up to ``tries`` starts; the last ``PortTaken`` propagates."""
    for attempt in range(1, tries + 1):
        try:
            return start((ports or free_port)())
        except PortTaken:
            if attempt == tries:
                raise
    raise ValueError(f"tries must be at least 1: {tries}")
