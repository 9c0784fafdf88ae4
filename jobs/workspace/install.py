"""Installing the target's dependencies, as its ``.factory.yaml`` says, with no secrets in reach."""

from __future__ import annotations

import time
from pathlib import Path

from jobs.errors import StepFailed
from jobs.target_config import TargetConfig
from jobs.workspace.shell import run_repo_command


def run_commands(commands: list[str], cwd: Path, timeout: float) -> str:
    """Run shell commands in order, sharing one deadline; returns the combined log.

    Raises StepFailed naming the first command that fails or times out.
    """
    log: list[str] = []
    deadline = time.monotonic() + timeout
    for command in commands:
        log.append(f"$ {command}")
        run = run_repo_command(command, cwd, deadline - time.monotonic())
        log.append(run.output)
        if run.timed_out:
            raise StepFailed(f"install command timed out after {timeout:g}s: {command}")
        if run.exit_code != 0:
            raise StepFailed(f"install command failed ({run.exit_code}): {command}\n{run.output[-500:]}")
    return "\n".join(log)


def install(config: TargetConfig, cwd: Path, timeout: float | None = None) -> str:
    """Run the target's install commands; ``timeout`` (what the phase has left) can only shorten theirs."""
    limit = config.install_timeout_seconds
    return run_commands(config.install, cwd, limit if timeout is None else min(limit, timeout))
