"""Installing the target's dependencies, as its ``.factory.yaml`` says, with no secrets in reach."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from jobs.agent.policy import agent_environment
from jobs.errors import StepFailed
from jobs.target_config import TargetConfig


def run_commands(commands: list[str], cwd: Path, timeout: float) -> str:
    """Run shell commands in order (repository code: same env allowlist as the agent, minus model auth).

    Returns the combined log; raises StepFailed naming the first command that fails or times out.
    """
    log: list[str] = []
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="factory-install-home-") as home:
        env = agent_environment(os.environ, Path(home), {})
        for command in commands:
            log.append(f"$ {command}")
            left = deadline - time.monotonic()
            try:
                proc = subprocess.run(
                    ["/bin/sh", "-c", command],
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=max(left, 1),
                    start_new_session=True,
                )
            except subprocess.TimeoutExpired:
                raise StepFailed(f"install command timed out after {timeout:g}s: {command}") from None
            log.append(proc.stdout + proc.stderr)
            if proc.returncode != 0:
                raise StepFailed(
                    f"install command failed ({proc.returncode}): {command}\n{proc.stderr[-500:]}"
                )
    return "\n".join(log)


def install(config: TargetConfig, cwd: Path) -> str:
    return run_commands(config.install, cwd, config.install_timeout_seconds)
