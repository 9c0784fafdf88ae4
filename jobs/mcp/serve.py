"""Our MCP tools served by the harness, over HTTP on the box's loopback, to the holder of a run's bearer.

In a contained box the CLI runs as the box's uid: a stdio server it started would run as that uid too,
with the agent able to signal it, trace it and read what it holds. So the harness starts the server
itself, as its own uid, in the box's network (where the agent, the app's servers and only they can
reach it), and gives the CLI an ``http`` entry with a per-run bearer. The bearer reaches the server by
its environment (never argv: ``/proc/<pid>/cmdline`` is world-readable) and the agent by its MCP config.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from jobs.agent.models import McpServer
from jobs.errors import AgentError
from jobs.mcp.served import HTTP_FD_ENV, HTTP_TOKEN_ENV
from jobs.sandbox import Box

START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
POLL_SECONDS = 0.05


class ServedTool:
    """One MCP server process of ours (``command`` + ``env``) on the box's loopback, for one agent run."""

    def __init__(
        self, box: Box, command: list[str], env: Mapping[str, str], log: Path, *, outside: bool = False
    ) -> None:
        """``outside``: the server itself runs in our network, not the box's (it calls a provider's API:
        Linear, Sentry, Langfuse), while it still listens on the box's loopback, where the agent is."""
        self.box = box
        self.command = command
        self.outside = outside
        self.env = dict(env)
        self.log = log
        self.token = secrets.token_urlsafe(32)
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def entry(self) -> McpServer:
        """The CLI's config entry: the URL and the bearer, nothing else."""
        return McpServer(
            url=f"http://127.0.0.1:{self.port}/mcp", headers={"Authorization": f"Bearer {self.token}"}
        )

    def __enter__(self) -> Self:
        # Listening before the server starts, so nothing else in the box can take the port first.
        sock = self.box.listen()
        self.port = sock.getsockname()[1]
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - ours, not the box's
            "LC_ALL": "C.UTF-8",
            **self.env,
            HTTP_FD_ENV: str(sock.fileno()),
            HTTP_TOKEN_ENV: self.token,
        }
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with sock, self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                # Ended with us, however we end (--pdeathsig): a killed job leaves no browser behind.
                [
                    "setpriv",
                    "--pdeathsig=TERM",
                    "--",
                    *(self.command if self.outside else self.box.trusted(self.command)),
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(sock.fileno(),),
            )
        try:
            self._wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_listening(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-600:].strip()
                raise AgentError(
                    f"the MCP server {self.command[-1]} exited ({self._proc.returncode}): {tail}"
                )
            if self.box.call(lambda: _refuses_strangers(self.port)):
                return
            time.sleep(POLL_SECONDS)
        raise AgentError(f"the MCP server {self.command[-1]} did not listen within {START_TIMEOUT:g}s")

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()  # uvicorn winds down; the browser session closes Chromium
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)  # whatever it left in its group
        self._proc.wait()
        self._proc = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _refuses_strangers(port: int) -> bool:
    """Whether the server serves yet: a request without the bearer gets its 401."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 401")
    except OSError:
        return False
