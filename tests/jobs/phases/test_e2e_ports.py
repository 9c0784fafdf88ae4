"""The app's fixed ports: a busy port is the machine's fault, runs on one machine take turns, and only
the app's own failure to start after a fix is blamed on the fix. Real sockets, processes and locks."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobs.logs import LOGGER_NAME
from jobs.phases.e2e.phase import Skipped
from jobs.phases.e2e.servers import LOCK_ENV, DevServers, PortsLock, ServersUnavailable, port_is_free
from jobs.serving import free_port
from tests.conftest import processes_matching, stop_process
from tests.jobs.phases.test_e2e_servers import spec

# Another run's hold on the lock file: what a second `factory serve` execution does while its servers run.
HOLDER = """\
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lock file of the test's own: other runs on this machine neither delay nor see the test's."""
    path = tmp_path / "ports.lock"
    monkeypatch.setenv(LOCK_ENV, str(path))
    return path


@pytest.fixture
def factory_log() -> Iterator[list[str]]:
    """The messages the ``factory`` logger emits at INFO and above during the test."""
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger, handler = logging.getLogger(LOGGER_NAME), Keep()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_busy_port_names_the_port_the_server_and_its_owner(
    tmp_path: Path, lock_file: Path, marker: str
) -> None:
    free, taken = free_port(), free_port()
    specs = [spec("api", f"touch {marker}-api; sleep 30", free), spec("web", f"touch {marker}-web", taken)]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with pytest.raises(ServersUnavailable) as caught, DevServers(specs, tmp_path, tmp_path / "logs"):
            pass
    me = f"pid {os.getpid()} ({Path('/proc/self/comm').read_text().strip()})"
    assert caught.value.reason == (
        f"port {taken} is already in use by {me} (needed by server web): "
        "free it or change the server's port in .factory.yaml"
    )
    assert not caught.value.app_fault
    assert list(tmp_path.glob(f"{marker}-*")) == []  # no server started, not even the one with a free port
    assert not (tmp_path / "logs").exists()
    PortsLock(lock_file).acquire(0)  # and the lock went with the failure


def test_a_listener_on_ipv6_loopback_alone_makes_the_port_busy() -> None:
    """A health URL naming ``localhost`` may reach ::1: a server there would answer for ours."""
    with socket.socket(socket.AF_INET6) as squatter:
        squatter.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            squatter.bind(("::1", 0))
        except OSError:
            pytest.skip("no IPv6 loopback here")
        squatter.listen()
        port = squatter.getsockname()[1]
        assert not port_is_free(port)
    assert port_is_free(port)


def test_a_connection_left_in_time_wait_does_not_make_a_port_busy() -> None:
    """The last run's server closed its connections first: TIME_WAIT is left, which servers bind over."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            accepted.close()  # the server side closes first, so the TIME_WAIT is on the port
            client.recv(1)
    with socket.socket() as strict, pytest.raises(OSError):
        strict.bind(("127.0.0.1", port))  # the TIME_WAIT is really there: a bind without SO_REUSEADDR fails
    assert port_is_free(port)


def test_two_runs_for_the_same_ports_take_turns(
    tmp_path: Path, lock_file: Path, script: Path, marker: str, factory_log: list[str]
) -> None:
    port = free_port()
    events: list[str] = []
    errors: list[BaseException] = []
    first_up = threading.Event()
    waited: list[float] = []

    def servers(run: str) -> DevServers:
        return DevServers([spec("api", f"python3 {script} {port} 200", port)], tmp_path, tmp_path / run)

    def second_is_waiting() -> bool:
        return any("waiting for another e2e run" in line for line in factory_log)

    def first() -> None:
        try:
            with servers("first"):
                events.append("first up")
                first_up.set()
                # Its browser check lasts until the second run is seen waiting for the lock, so the
                # order does not depend on how fast the second thread gets there.
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not any(
                    "waiting for another" in m for m in factory_log
                ):
                    time.sleep(0.05)
                events.append("first done")
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_up.set()

    def second() -> None:
        first_up.wait(30)
        started = time.monotonic()
        try:
            with servers("second"):
                waited.append(time.monotonic() - started)
                events.append("second up")
                assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert events == ["first up", "first done", "second up"]
    assert f"waiting for another e2e run to release the app's ports ({lock_file})" in factory_log
    print(f"the second run waited {waited[0]:.2f}s for the first")
    assert processes_matching(marker) == []


def test_another_run_holding_the_ports_past_the_wait_skips_with_the_cause(
    tmp_path: Path, lock_file: Path, marker: str
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_file)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        servers = DevServers(
            [spec("api", f"touch {marker}", free_port())], tmp_path, tmp_path, lock_wait_seconds=0.5
        )
        with pytest.raises(ServersUnavailable) as caught, servers:
            pass
    finally:
        stop_process(holder, 5)
    assert caught.value.reason == (
        f"another e2e run on this machine kept the app's ports for 0.5s (lock file {lock_file}); "
        "try again when it is done"
    )
    assert not caught.value.app_fault
    assert not (tmp_path / marker).exists()


def test_only_the_apps_own_failure_after_a_fix_fails_the_phase(
    tmp_path: Path, lock_file: Path, marker: str
) -> None:
    def failure(command: str, squat: bool = False) -> Skipped:
        port = free_port()
        with socket.socket() as squatter:
            if squat:
                squatter.bind(("127.0.0.1", port))
                squatter.listen()
            with (
                pytest.raises(ServersUnavailable) as caught,
                DevServers([spec("api", command, port)], tmp_path, tmp_path),
            ):
                pass
        return Skipped(caught.value.reason, app_fault=caught.value.app_fault)  # as Verifier._attempt does

    busy = failure(f"touch {marker}", squat=True)
    crashed = failure(f"echo 'ImportError: cannot import name app'; exit 1 # {marker}")
    raced = failure(f"echo 'OSError: [Errno 98] Address already in use'; exit 1 # {marker}")

    status, detail = busy.verdict(after_fix=True)
    assert status == "skipped" and "after the fix" not in detail and "is already in use by" in detail
    assert raced.verdict(after_fix=True) == ("skipped", str(raced))  # someone took the port after our check
    assert Skipped("no database: initdb not found").verdict(after_fix=True)[0] == "skipped"
    assert crashed.verdict(after_fix=True) == (
        "failed",
        "after the fix, the app would not start: server api exited with code 1 during start (see api.log): "
        "ImportError: cannot import name app",
    )
    assert crashed.verdict(after_fix=False) == ("skipped", str(crashed))  # before any fix: not the fixer's
