"""The background serving every loopback server uses (executions API, Eventarc bridge, receiver, model)."""

from __future__ import annotations

import errno
import socket
import struct
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobs.serving import LoopbackHTTPServer, PortTaken, ServingThread, free_port, on_a_free_port


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


class _Chatty(BaseHTTPRequestHandler):
    """Answers with far more than a socket buffer holds, so a client that hung up breaks the pipe."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        for _ in range(64):
            self.wfile.write(b"x" * 65536)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_client_that_hangs_up_mid_answer_is_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    """An agent stopped by its clock hangs up on the model proxy or the offline model mid-stream: the
    server says nothing on stderr and goes on serving."""
    server = LoopbackHTTPServer(("127.0.0.1", 0), _Chatty)
    port = server.server_port
    serving = ServingThread(server, "chatty")
    serving.start()
    try:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                client.recv(1)
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
        time.sleep(0.5)  # the handlers hit the broken connection
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(12) == b"HTTP/1.0 200"
    finally:
        serving.stop()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err


def _bind(port: int) -> socket.socket:
    """A server's start: bind and listen on ``port``, PortTaken when another socket holds it."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(str(port)) from None
        raise
    sock.listen()
    return sock


def test_a_start_that_lost_its_port_is_tried_on_another_up_to_the_tries() -> None:
    with socket.socket() as holder, socket.socket() as other:
        holder.bind(("127.0.0.1", 0))
        other.bind(("127.0.0.1", 0))
        taken = [holder.getsockname()[1], other.getsockname()[1]]
        offered: list[int] = []

        def ports() -> int:
            offered.append(taken[len(offered)] if len(offered) < len(taken) else free_port())
            return offered[-1]

        with on_a_free_port(_bind, ports) as sock:
            assert offered[:2] == taken and sock.getsockname()[1] == offered[2] not in taken
        with pytest.raises(PortTaken, match=str(taken[0])):
            on_a_free_port(_bind, lambda: taken[0])
    started: list[int] = []

    def refused(port: int) -> None:
        started.append(port)
        raise PermissionError(errno.EACCES, "a privileged port")

    with pytest.raises(PermissionError):  # any other failure is no lost port: never started again
        on_a_free_port(refused)
    assert len(started) == 1
