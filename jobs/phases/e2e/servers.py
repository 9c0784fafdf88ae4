"""Starting the target's dev servers for E2E verification, and always stopping them.

The servers are the target's own code, so they run like its other repository commands
(``jobs/workspace/shell.py``): the environment allowlist with no token of ours, a private HOME, stdin
from /dev/null, output to a log file, and each under the subreaper, so whatever a server forks (workers,
a ``setsid`` daemon) is stopped with it. When they cannot come up the E2E phase ends "skipped", not
"failed": ``ServersUnavailable`` carries one line a human can act on.
"""

from __future__ import annotations

import os
import re
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
from jobs.workspace.shell import reap_supervised

GRACE = 3.0  # the reaper's SIGTERM-to-SIGKILL wait for a server's tree
KILL_WAIT = 5.0  # beyond the grace, before we SIGKILL the reaper's own group
POLL_SECONDS = 0.1
REQUEST_TIMEOUT = 1.0  # per health request: a server that accepts but never answers must not eat the budget
LOG_TAIL_BYTES = 4096
# Only ``{identifier}`` is a placeholder, so JSON or shell braces in a value stay as written.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class ServersUnavailable(FactoryError):
    """The dev servers could not be brought up; the E2E phase reports "skipped" with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)
        self.reason = reason


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


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now.

    SO_REUSEADDR, as servers set it, so a closed connection in TIME_WAIT does not count as in use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def last_line(log: Path) -> str:
    """The log's last non-blank line: what a failing server says last is usually why."""
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - LOG_TAIL_BYTES))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(no output)"


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
    """

    def __init__(
        self,
        specs: Sequence[ServerSpec],
        cwd: Path,
        log_dir: Path,
        variables: Mapping[str, str] | None = None,
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
        self._home: tempfile.TemporaryDirectory[str] | None = None

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
        for spec in self.specs:
            if not port_is_free(spec.port):
                raise ServersUnavailable(f"port {spec.port} is already in use (needed by server {spec.name})")
        self._home = tempfile.TemporaryDirectory(prefix="factory-servers-home-", ignore_cleanup_errors=True)
        try:
            base = agent_environment(os.environ, Path(self._home.name), {})
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
                supervised(["/bin/sh", "-c", spec.command], GRACE),
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
            outcome = probe(
                client, spec.health_url, min(REQUEST_TIMEOUT, max(deadline - time.monotonic(), 0.1))
            )
            if outcome is None:
                self.start_seconds[spec.name] = round(time.monotonic() - started, 3)
                return
            code = proc.poll()
            if code is not None:
                raise ServersUnavailable(
                    f"server {spec.name} exited with code {code} during start "
                    f"(see {log_path.name}): {last_line(log_path)}"
                )
            if time.monotonic() >= deadline:
                raise ServersUnavailable(
                    f"server {spec.name} did not answer {spec.health_url} "
                    f"within {spec.start_timeout_seconds:g}s (last: {outcome})"
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
        if self._home is not None:
            self._home.cleanup()
            self._home = None
