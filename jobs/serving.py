"""Loopback serving: an HTTP server on a background thread (the one start/stop the local servers share),
and a free port to put one on.

``socketserver``'s ``shutdown()`` waits for a running ``serve_forever`` loop, so calling it on a server
that never started blocks forever; ``stop`` only calls it while the loop runs, and is safe to call
before ``start`` and more than once.
"""

from __future__ import annotations

import socket
import threading
from socketserver import BaseServer


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


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it; another process may take it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
