"""The one way out of a box: an HTTPS proxy of ours that tunnels to the hosts a step may reach.

Only install needs the network (package registries); the agent, the checks and the app's servers get
none. For install, the harness listens on the box's loopback and the commands get ``HTTPS_PROXY`` (pip,
uv, npm, yarn and git all honour it). The proxy answers ``CONNECT host:443`` for an allowed host by
opening the connection itself, from outside the box, and relaying bytes: TLS stays end to end, so the
commands verify the registry's certificate as they would directly. Anything else (another host or port,
plain HTTP) is refused with 403 and counted by host. A command that ignores the proxy and connects
directly has no route: the kernel refuses it (``NetworkNamespace.unroutable``).
"""

from __future__ import annotations

import re
import select
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from jobs.logs import get_logger
from jobs.serving import LoopbackHTTPServer, ServingThread, on_socket

# What installs reach by default: PyPI, npm and yarn's registries, and GitHub for git dependencies.
DEFAULT_HOSTS = (
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "registry.yarnpkg.com",
    "github.com",
    "codeload.github.com",
    "objects.githubusercontent.com",
)
HOST_PATTERN = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
CONNECT_TIMEOUT = 30.0
IDLE_TIMEOUT = 300.0  # a tunnel with no byte either way for this long is closed
CHUNK = 65536
Connect = Callable[[tuple[str, int], float], socket.socket]


def check_host(pattern: str) -> str:
    """A host allowlist entry: ``pypi.org``, or ``*.example.com`` for its subdomains."""
    value = pattern.strip().lower()
    if not HOST_PATTERN.match(value):
        raise ValueError(f"not a host name: {pattern!r} (a name like pypi.org or *.example.com)")
    return value


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    for entry in allowed:
        if entry.startswith("*."):
            if host.endswith(entry[1:]):
                return True
        elif host == entry:
            return True
    return False


class EgressTally:
    """Hosts tunnelled to and hosts refused, over every proxy of one box."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.allowed: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def count(self, host: str, ok: bool) -> None:
        with self._lock:
            (self.allowed if ok else self.refused)[host] += 1


class EgressProxy:
    """One step's proxy on ``sock`` (listening on the box's loopback), to ``hosts`` on port 443 only."""

    def __init__(
        self,
        sock: socket.socket,
        hosts: Iterable[str],
        tally: EgressTally,
        connect: Connect = socket.create_connection,
    ) -> None:
        self.hosts = tuple(check_host(h) for h in hosts)
        self.tally = tally
        self.connect = connect  # how the tunnel's far end is opened (tests point it at a local server)
        self._server = _Server(("127.0.0.1", 0), _Handler, bind_and_activate=False)
        on_socket(self._server, sock)
        self._server.egress = self
        self._serving = ServingThread(self._server, "egress-proxy")

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def environment(self) -> dict[str, str]:
        """What the commands need to go through it (both spellings: tools read one or the other)."""
        env = {"HTTPS_PROXY": self.url, "HTTP_PROXY": self.url, "NO_PROXY": "127.0.0.1,localhost"}
        return {**env, **{k.lower(): v for k, v in env.items()}}

    def __enter__(self) -> Self:
        self._serving.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._serving.stop()


class _Server(LoopbackHTTPServer):
    egress: EgressProxy


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 60

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        proxy = self.server.egress
        if port != "443" or not host_allowed(host, proxy.hosts):
            self._refuse(self.path, f"{self.path} is not on this step's allowlist")
            return
        try:
            upstream = proxy.connect((host, 443), CONNECT_TIMEOUT)
        except OSError as exc:
            proxy.tally.count(host, ok=True)
            self.send_error(502, f"could not reach {host}: {exc.strerror or exc}")
            return
        proxy.tally.count(host, ok=True)
        self.send_response(200, "Connection established")
        self.end_headers()
        with upstream:
            _relay(self.connection, upstream)
        self.close_connection = True

    def _plain(self) -> None:
        where = urlsplit(self.path).netloc or self.path
        self._refuse(where, "plain HTTP is not proxied: registries are reached over HTTPS")

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = _plain

    def _refuse(self, host: str, why: str) -> None:
        self.server.egress.tally.count(host[:200], ok=False)
        get_logger().info("egress refused: %s", why[:300])
        self.send_error(403, why[:300])
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        return


def _relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes or nothing moves for IDLE_TIMEOUT."""
    a.settimeout(None)
    b.settimeout(None)
    sockets = [a, b]
    while True:
        ready, _, failed = select.select(sockets, [], sockets, IDLE_TIMEOUT)
        if failed or not ready:
            return
        for source in ready:
            try:
                data = source.recv(CHUNK)
            except OSError:
                return
            if not data:
                return
            try:
                (b if source is a else a).sendall(data)
            except OSError:
                return
