"""Running the target repository's own commands (install, tests, linters) from our code.

Repository commands are untrusted code: they get the agent's environment allowlist without model auth
(so no token of ours is in reach), a private HOME, stdin from /dev/null, and a session of their own so
that a timeout kills everything they started, not just the shell.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from jobs.agent.policy import agent_environment

KILL_WAIT = 5.0


@dataclass(frozen=True)
class CommandRun:
    """How one command ended: ``exit_code`` is None when it was killed for running too long."""

    command: str
    exit_code: int | None
    output: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


def run_repo_command(command: str, cwd: Path, timeout: float) -> CommandRun:
    """Run ``command`` with ``/bin/sh -c`` in ``cwd``; stdout and stderr are combined, in order."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="factory-cmd-home-") as home:
        env = agent_environment(os.environ, Path(home), {})
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        try:
            output, _ = proc.communicate(timeout=max(timeout, 0.1))
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            output, _ = proc.communicate(timeout=KILL_WAIT)
            code = None
    return CommandRun(command, code, output, round(time.monotonic() - started, 3))


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
