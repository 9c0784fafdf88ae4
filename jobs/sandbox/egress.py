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

import ipaddress
import re
import selectors
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
Resolve = Callable[[str], list[str]]
MAX_TUNNELS = 64  # at once, per step: a box cannot spend the harness's descriptors and threads


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# Where a tunnel never goes, whatever name led there: this machine, the cloud's metadata server, and
# the private networks a job sits in (RFC 1918, carrier-grade NAT, IPv6 unique-local).
INTERNAL = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def check_host(pattern: str) -> str:
    """A host allowlist entry: ``pypi.org``, or ``*.example.com`` for its subdomains; never an address."""
    value = pattern.strip().lower()
    if not HOST_PATTERN.match(value) or _is_address(value):
        raise ValueError(f"not a host name: {pattern!r} (a name like pypi.org or *.example.com)")
    return value


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def internal(address: str) -> bool:
    """Whether a tunnel to ``address`` would reach this machine or a private network."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return True
    return any(ip in net for net in INTERNAL if net.version == ip.version)


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
        resolve: Resolve | None = None,
    ) -> None:
        self.hosts = tuple(check_host(h) for h in hosts)
        self.tally = tally
        self.connect = connect  # how the tunnel's far end is opened (tests point it at a local server)
        self.resolve = resolve or _resolve
        self.slots = threading.BoundedSemaphore(MAX_TUNNELS)
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
            addresses = proxy.resolve(host)
        except OSError as exc:
            self.send_error(502, f"could not resolve {host}: {exc.strerror or exc}")
            return
        public = [address for address in addresses if not internal(address)]
        if not public:
            self._refuse(self.path, f"{host} resolves to an internal address ({', '.join(addresses[:3])})")
            return
        if not proxy.slots.acquire(blocking=False):
            self.send_error(503, f"more than {MAX_TUNNELS} tunnels at once")
            return
        try:
            self._tunnel(host, public[0])
        finally:
            proxy.slots.release()

    def _tunnel(self, host: str, address: str) -> None:
        """Connect to the address we resolved and checked (never the name again: no DNS rebinding)."""
        proxy = self.server.egress
        try:
            upstream = proxy.connect((address, 443), CONNECT_TIMEOUT)
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
    with selectors.DefaultSelector() as selector:  # epoll: no FD_SETSIZE limit, unlike select()
        selector.register(a, selectors.EVENT_READ)
        selector.register(b, selectors.EVENT_READ)
        while True:
            events = selector.select(IDLE_TIMEOUT)
            if not events or not _move(a, b, [key.fileobj for key, _ in events]):
                return


def _move(a: socket.socket, b: socket.socket, ready: list[object]) -> bool:
    """Copy what the ``ready`` sockets have to the other side; False when either side is done."""
    for source in ready:
        other = b if source is a else a
        try:
            data = (a if source is a else b).recv(CHUNK)
            if not data:
                return False
            other.sendall(data)
        except OSError:
            return False
    return True
