"""A network namespace of its own for a run: only a loopback, and whatever the harness puts in it.

A sleeping ``unshare --net`` process holds the namespace; commands enter it with ``nsenter`` and the
harness enters it per thread (``setns`` applies to the calling thread only). A socket keeps the
namespace it was made in, so the harness can listen inside (the model proxy, the MCP tools) from a
short-lived thread while serving from its own. Nothing routes out: a connection to any other address
fails with "Network is unreachable" in the kernel, which counts it (``OutNoRoutes``).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import itertools
import os
import socket
import struct
import subprocess
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from jobs.errors import FactoryError

CLONE_NEWNET = 0x40000000
SIOCSIFFLAGS = 0x8914
IFF_UP, IFF_LOOPBACK, IFF_RUNNING = 0x1, 0x8, 0x40
START_TIMEOUT = 5.0

T = TypeVar("T")


class NamespaceError(FactoryError):
    """The kernel would not give us a network namespace (not root, or namespaces are not allowed)."""


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NamespaceError(f"setns failed: {os.strerror(err)}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh", b"lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING))


class NetworkNamespace:
    """One new network namespace with its loopback up; ``close`` ends it."""

    def __init__(self) -> None:
        try:
            self._holder = subprocess.Popen(
                # --pdeathsig: if we are killed outright, the namespace does not outlive us.
                ["setpriv", "--pdeathsig=KILL", "--", "unshare", "--net", "--", "sleep", "infinity"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env={"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"},
            )
        except OSError as exc:
            raise NamespaceError(f"could not run unshare: {exc}") from exc
        # The namespace ends with us even when nobody calls close (a test, an interpreter exiting).
        self._end = weakref.finalize(self, _end_holder, self._holder)
        self.path = Path(f"/proc/{self._holder.pid}/ns/net")
        self._fd = -1
        try:
            self._wait_entered()
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                self.call(_loopback_up)
            except OSError as exc:  # no CAP_NET_ADMIN (a container without it)
                raise NamespaceError(f"could not bring the loopback up: {exc.strerror or exc}") from exc
        except BaseException:
            self.close()
            raise

    def _wait_entered(self) -> None:
        ours = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._holder.poll() is not None:
                said = (
                    self._holder.stderr.read().decode(errors="replace").strip() if self._holder.stderr else ""
                )
                raise NamespaceError(f"unshare --net failed: {said or f'exit {self._holder.returncode}'}")
            with contextlib.suppress(OSError):
                if os.readlink(self.path) != ours:
                    return
            time.sleep(0.01)
        raise NamespaceError("unshare --net did not start in time")

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on a thread inside the namespace and return what it returns (or raise what it raised).

        Threads and processes that ``fn`` starts stay inside too.
        """
        box: dict[str, T] = {}
        failure: list[BaseException] = []

        def inside() -> None:
            try:
                _setns(self._fd)
                box["value"] = fn()
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)

        thread = threading.Thread(target=inside, name="netns", daemon=True)
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
        return box["value"]

    def listen(self, port: int = 0) -> socket.socket:
        """A TCP socket listening on the namespace's 127.0.0.1 (``port`` 0: any free one)."""
        return self.call(lambda: listening_socket(port))

    def unroutable(self) -> int:
        """Packets the namespace's processes tried to send somewhere it has no route to (v4 and v6)."""
        total = 0
        for name, field in (("snmp", "OutNoRoutes"), ("snmp6", "Ip6OutNoRoutes")):
            with contextlib.suppress(OSError, ValueError):
                text = Path(f"/proc/{self._holder.pid}/net/{name}").read_text()
                total += _counter(text, field)
        return total

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._end()


def _end_holder(holder: subprocess.Popen[bytes]) -> None:
    if holder.poll() is None:
        holder.kill()
    holder.wait()
    if holder.stderr:
        holder.stderr.close()


def listening_socket(port: int = 0) -> socket.socket:
    """A TCP socket listening on 127.0.0.1 of the calling thread's network (``port`` 0: any free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
    except BaseException:
        sock.close()
        raise
    return sock


def _counter(text: str, field: str) -> int:
    """One counter from ``/proc/net/snmp`` (a header line then a value line per protocol) or ``snmp6``."""
    lines = text.splitlines()
    for line in lines:  # snmp6: "Ip6OutNoRoutes   3"
        parts = line.split()
        if len(parts) == 2 and parts[0] == field:
            return int(parts[1])
    for header, values in itertools.pairwise(lines):
        names, numbers = header.split(), values.split()
        if names[:1] == numbers[:1] and field in names:
            return int(numbers[names.index(field)])
    return 0
