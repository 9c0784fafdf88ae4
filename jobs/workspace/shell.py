"""Running the target repository's own commands (install, tests, linters) from our code.

Repository commands are untrusted code: they get the agent's environment allowlist without model auth
(so no token of ours is in reach), a private HOME and stdin from /dev/null, and they run under the same
subreaper as the agent: when the command ends, or runs out of time, everything it started is stopped,
even processes that left its session. In a contained box (``jobs/sandbox``) they also run as the box's
uid, in its network. Output goes to a file of ours (an open descriptor, never a path the command could
swap for a link), not a pipe, so a background child that keeps the output open cannot make a finished
command look hung.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from jobs.agent.cli import supervised
from jobs.agent.policy import agent_environment
from jobs.sandbox import AppSide, Box, side_of

GRACE = 2.0  # SIGTERM to SIGKILL for what a command left behind
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


def run_repo_command(
    command: str,
    cwd: Path,
    timeout: float,
    box: Box | None = None,
    extra_env: dict[str, str] | None = None,
    app: AppSide | None = None,
) -> CommandRun:
    """Run ``command`` with ``/bin/sh -c`` in ``cwd`` (in ``box``; on the ``app``'s side of it when
    given: ``jobs/sandbox/app.py``); stdout and stderr combined, in order."""
    started = time.monotonic()
    box = box or Box()
    who, app_env = side_of(app)
    home = box.private_dir("factory-cmd-home-", who)
    try:
        env = {**app_env, **agent_environment(os.environ, home, {}), **(extra_env or {})}
        box.hand_over(home, who)
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen(
                supervised(box.untrusted(["/bin/sh", "-c", command], who), GRACE),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            code: int | None
            try:
                code = proc.wait(timeout=max(timeout, 0.1))
            except subprocess.TimeoutExpired:
                code = None
                _stop(proc)
            out.seek(0)
            output = out.read().decode("utf-8", errors="replace")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return CommandRun(command, code, output, round(time.monotonic() - started, 3))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask the reaper to clear the tree; SIGKILL its group if it does not finish in time."""
    proc.terminate()
    reap_supervised(proc, GRACE + KILL_WAIT)


def reap_supervised(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for a supervisor already told to stop; SIGKILL its whole group if it outlives ``timeout``."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
