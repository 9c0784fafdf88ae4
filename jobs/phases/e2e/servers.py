"""Starting the target's dev servers for E2E verification, and always stopping them.

The servers are the target's own code, so they run like its other repository commands
(``jobs/workspace/shell.py``): the environment allowlist with no token of ours, a private HOME, stdin
from /dev/null, output to a log file, and each under the subreaper, so whatever a server forks (workers,
a ``setsid`` daemon) is stopped with it. When they cannot come up the E2E phase ends "skipped", not
"failed": ``ServersUnavailable`` carries one line a human can act on, and says whether the app itself
failed (it started, then crashed or never got healthy) or the machine did (a busy port, the lock).

The ports are fixed by the target's config, so two e2e runs on one machine (``factory serve`` runs
executions in parallel) would take each other's ports and health-check each other's servers. They take
turns: an exclusive ``flock`` on one lock file per machine, held from the port check until the servers
are stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Annotated, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from jobs.agent.cli import supervised
from jobs.agent.policy import agent_environment
from jobs.errors import ConfigError, FactoryError
from jobs.logs import get_logger
from jobs.sandbox import AppSide, Box, side_of
from jobs.serving import PORT_TAKEN_IN_LOG
from jobs.workspace.shell import reap_supervised

GRACE = 3.0  # the reaper's SIGTERM-to-SIGKILL wait for a server's tree
KILL_WAIT = 5.0  # beyond the grace, before we SIGKILL the reaper's own group
POLL_SECONDS = 0.1
REQUEST_TIMEOUT = 1.0  # per health request: a server that accepts but never answers must not eat the budget
LOG_TAIL_BYTES = 16384  # enough for a traceback's last frames and its exception line
LOG_LINES = 3  # lines quoted from a failing server's log when no exception line stands out
LINE_CHARS = 200
CONNECT_TIMEOUT = 0.5
LOCK_ENV = "FACTORY_E2E_LOCK"
LOCK_WAIT_SECONDS = 900.0  # the default wait for another run's servers; the phase passes its time left
LOCK_POLL_SECONDS = 0.2
# An exception's own line: "ValueError: ...", "sqlalchemy.exc.OperationalError: ...", node's "Error: ...".
EXCEPTION_LINE = re.compile(r"^[\w.]*(?:Error|Exception|Exit)\b(?::|$)")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Only ``{identifier}`` is a placeholder, so JSON or shell braces in a value stay as written.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class ServersUnavailable(FactoryError):
    """The dev servers could not be brought up; the E2E phase reports "skipped" with ``reason``.

    ``app_fault`` is True when the app itself failed (a server exited or never got healthy), False when
    the machine is the cause (a busy port, another run holding the ports): only the former can be a
    change's fault.
    """

    def __init__(self, reason: str, *, app_fault: bool = False) -> None:
        super().__init__(reason, retryable=False)
        self.reason = reason
        self.app_fault = app_fault


class ServerSpec(BaseModel):
    """One dev server of the target: how to start it and how to tell it is ready."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$")]  # also its log file's name
    command: Annotated[str, StringConstraints(min_length=1)]
    port: int = Field(ge=1024, le=65535)
    health_url: str
    env: dict[EnvName, str] = Field(default_factory=dict)
    start_timeout_seconds: float = Field(default=60, gt=0, le=900)

    @model_validator(mode="after")
    def _local_health_url(self) -> Self:
        # Health checks go to the server we started, never to a host the target's config picks.
        pattern = rf"http://(127\.0\.0\.1|localhost):{self.port}(/[^\s#]*)?"
        if not re.fullmatch(pattern, self.health_url):
            raise ValueError(
                f"health_url must be http://127.0.0.1:{self.port}/... or http://localhost:{self.port}/..."
            )
        return self


def substitute(value: str, variables: Mapping[str, str]) -> str:
    """Replace each ``{name}`` in ``value`` with ``variables[name]``; an unknown name is a ``KeyError``.

    Not ``str.format_map``: a value from the target's config must not reach attributes
    (``{x.__class__}``), and braces that are not placeholders need no escaping.
    """
    unknown = sorted({name for name in PLACEHOLDER.findall(value) if name not in variables})
    if unknown:
        raise KeyError(unknown[0])
    return PLACEHOLDER.sub(lambda m: variables[m.group(1)], value)


def _answers(family: socket.AddressFamily, host: str, port: int) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect((host, port))
    except OSError:  # refused, or no such address or family here (no IPv6)
        return False
    return True


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now, and nothing else answers on it.

    The bind sets SO_REUSEADDR, as servers do (Python's, node's, Go's): without it a connection of the
    last run left in TIME_WAIT would count as in use for a minute, and on Linux it never lets the bind
    share a port something listens on. The connects catch what the bind cannot: a listener on ::1 alone,
    which a health URL naming ``localhost`` could reach instead of our server.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return not (_answers(socket.AF_INET, "127.0.0.1", port) or _answers(socket.AF_INET6, "::1", port))


def port_owner(port: int) -> str | None:
    """``pid N (name)`` of a process listening on ``port``, when /proc shows it, else None.

    The listening socket's inode (/proc/net/tcp, tcp6) matched against open descriptors: exact, but only
    processes of our own user can be read, so an answer is a bonus and None says nothing.
    """
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            for row in Path(table).read_text().splitlines()[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                return f"pid {proc.name} ({(proc / 'comm').read_text().strip()})"
    return None


def relevant_lines(log: Path) -> str:
    """What in a failing server's log says why, as one line.

    The last exception line (a Python traceback ends with one, node prints ``Error: ...``), else the last
    lines mentioning an error, else the last lines.
    """
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - LOG_TAIL_BYTES))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    lines = [line.strip()[:LINE_CHARS] for line in ANSI_ESCAPE.sub("", text).splitlines() if line.strip()]
    if not lines:
        return "(no output)"
    exceptions = [line for line in lines if EXCEPTION_LINE.match(line)]
    if exceptions:
        return exceptions[-1]
    errors = [line for line in lines if "error" in line.lower()]
    return " | ".join((errors or lines)[-LOG_LINES:])


class PortsLock:
    """One machine's e2e runs take turns with the app's fixed ports: an exclusive ``flock``.

    The file is ``$FACTORY_E2E_LOCK`` or ``factory-e2e-ports.lock`` in the temp directory. A lock on an
    open file goes with the descriptor: a crashed run frees it, and threads of one process exclude each
    other too. The descriptor is close-on-exec, so a server that outlives us cannot keep it.
    """

    def __init__(self, path: Path | None = None) -> None:
        default = Path(tempfile.gettempdir()) / "factory-e2e-ports.lock"
        self.path = path or Path(os.environ.get(LOCK_ENV) or default)
        self._fd: int | None = None

    def acquire(self, wait_seconds: float) -> None:
        """Take the lock, waiting at most ``wait_seconds``; ServersUnavailable if it stays taken."""
        try:
            fd = self._open()
        except OSError as exc:
            raise ServersUnavailable(
                f"cannot open the e2e lock file {self.path} ({exc.strerror}); "
                f"set {LOCK_ENV} to a writable path"
            ) from None
        try:
            self._wait(fd, wait_seconds)
        except BaseException:  # the deadline, or a SIGTERM while waiting
            os.close(fd)
            raise
        self._fd = fd

    def _open(self) -> int:
        # Read-only is enough for flock. No O_CREAT when the file exists: in a sticky /tmp the kernel
        # (fs.protected_regular) refuses O_CREAT on a file of another user, whose run made it first.
        flags = os.O_RDONLY | os.O_CLOEXEC
        try:
            return os.open(self.path, flags)
        except FileNotFoundError:
            return os.open(self.path, flags | os.O_CREAT, 0o644)

    def _wait(self, fd: int, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            else:
                return
            if time.monotonic() >= deadline:
                raise ServersUnavailable(
                    f"another e2e run on this machine kept the app's ports for {round(wait_seconds, 1):g}s "
                    f"(lock file {self.path}); try again when it is done"
                )
            if not waiting:
                get_logger().info("waiting for another e2e run to release the app's ports (%s)", self.path)
                waiting = True
            time.sleep(LOCK_POLL_SECONDS)

    def release(self) -> None:
        """Release the lock (closing the descriptor does); safe to call when not held."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def probe(client: httpx.Client, url: str, timeout: float) -> str | None:
    """None when ``url`` answers 2xx or 3xx; otherwise what went wrong, for the reason line."""
    try:
        status = client.get(url, timeout=timeout).status_code
    except httpx.HTTPError as exc:
        return (str(exc) or type(exc).__name__)[:120]
    return None if 200 <= status < 400 else f"HTTP {status}"


class DevServers:
    """The target's dev servers, up and healthy inside ``with``, every one stopped when it ends.

    Servers start in the order given, each healthy before the next starts, so a front end can count
    on its API. ``variables`` fill the ``{name}`` placeholders in the specs' env values.
    ``start_seconds`` (per server, for the benchmark) and ``log_paths`` stay readable after exit.
    Inside ``with`` the machine's ports lock is held: entering waits up to ``lock_wait_seconds`` for
    another run's servers to stop.
    """

    def __init__(
        self,
        specs: Sequence[ServerSpec],
        cwd: Path,
        log_dir: Path,
        variables: Mapping[str, str] | None = None,
        lock_wait_seconds: float = LOCK_WAIT_SECONDS,
        box: Box | None = None,
        app: AppSide | None = None,
    ) -> None:
        for field in ("name", "port"):
            values = [str(getattr(spec, field)) for spec in specs]
            shared = sorted({v for v in values if values.count(v) > 1})
            if shared:
                raise ConfigError(f"dev servers share a {field}: {', '.join(shared)}")
        self.specs = list(specs)
        self.cwd = cwd
        self.variables = dict(variables or {})
        self.log_paths = {spec.name: log_dir / f"{spec.name}.log" for spec in specs}
        self.start_seconds: dict[str, float] = {}
        self._procs: list[subprocess.Popen[bytes]] = []
        self._home: Path | None = None
        # The servers are the target's code: they run in the box, in its network, on the app's side of
        # it when given one (its uid and configuration, in a tree lent to it: jobs/sandbox/app.py).
        self.box = box or Box()
        self.who, self.app_env = side_of(app)
        self._lock = PortsLock()
        self.lock_wait_seconds = lock_wait_seconds

    def _env(self, spec: ServerSpec) -> dict[str, str]:
        try:
            return {key: substitute(value, self.variables) for key, value in spec.env.items()}
        except KeyError as exc:
            known = ", ".join(sorted(self.variables)) or "none"
            raise ConfigError(
                f"server {spec.name}: unknown placeholder {{{exc.args[0]}}} in its env (known: {known})"
            ) from None

    def __enter__(self) -> Self:
        # Everything that can be checked is checked before anything starts.
        envs = {spec.name: self._env(spec) for spec in self.specs}
        if not self.box.contained:  # a contained run's ports are its own: no other run can hold them
            self._lock.acquire(self.lock_wait_seconds)
        try:
            for spec in self.specs:
                if not self.box.call(functools.partial(port_is_free, spec.port)):
                    owner = (
                        "a process in the box" if self.box.contained else port_owner(spec.port)
                    ) or "another process"
                    raise ServersUnavailable(
                        f"port {spec.port} is already in use by {owner} (needed by server {spec.name}): "
                        "free it or change the server's port in .factory.yaml"
                    )
            self._home = self.box.private_dir("factory-servers-home-", self.who)
            base = {**self.app_env, **agent_environment(os.environ, self._home, {})}
            self.box.hand_over(self._home, self.who)
            with httpx.Client(trust_env=False, follow_redirects=False) as client:  # no proxy for loopback
                for spec in self.specs:
                    self._start(spec, {**base, **envs[spec.name]}, client)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _start(self, spec: ServerSpec, env: dict[str, str], client: httpx.Client) -> None:
        log_path = self.log_paths[spec.name]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                supervised(self.box.untrusted(["/bin/sh", "-c", spec.command], self.who), GRACE),
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._procs.append(proc)
        deadline = started + spec.start_timeout_seconds
        while True:
            wait = min(REQUEST_TIMEOUT, max(deadline - time.monotonic(), 0.1))
            outcome = self.box.call(functools.partial(probe, client, spec.health_url, wait))
            if outcome is None:
                self.start_seconds[spec.name] = round(time.monotonic() - started, 3)
                return
            code = proc.poll()
            if code is not None:
                said = relevant_lines(log_path)
                how = f"exited with code {code}" if code >= 0 else f"was killed by signal {-code}"
                raise ServersUnavailable(
                    f"server {spec.name} {how} during start (see {log_path.name}): {said}",
                    app_fault=not PORT_TAKEN_IN_LOG.search(said),  # a port taken since our check
                )
            if time.monotonic() >= deadline:
                raise ServersUnavailable(
                    f"server {spec.name} is still running but did not answer {spec.health_url} "
                    f"within {spec.start_timeout_seconds:g}s (last: {outcome}); "
                    f"{log_path.name}: {relevant_lines(log_path)}",
                    app_fault=True,
                )
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        """Stop every server; safe to call twice. SIGTERM goes to all first, so they wind down together."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()  # the reaper clears the whole tree, setsid'd descendants included
        for proc in self._procs:
            reap_supervised(proc, GRACE + KILL_WAIT)
        self._procs.clear()
        self.box.sweep(self.who)  # what a server left that its reaper missed
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None
        self._lock.release()  # last: the next run may take the ports once every server is gone
