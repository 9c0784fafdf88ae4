"""Installing the target's dependencies, as its ``.factory.yaml`` says, with no secrets in reach."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from jobs.errors import StepFailed
from jobs.sandbox import Box
from jobs.target_config import TargetConfig
from jobs.workspace.repo import Workspace
from jobs.workspace.shell import run_repo_command
from jobs.workspace.snapshot import InstallOutput, tree_state


def run_commands(
    commands: list[str], cwd: Path, timeout: float, box: Box | None = None, hosts: Iterable[str] = ()
) -> str:
    """Run shell commands in order, sharing one deadline; returns the combined log.

    Raises StepFailed naming the first command that fails or times out.
    """
    log: list[str] = []
    deadline = time.monotonic() + timeout
    box = box or Box()
    with box.reaching(hosts) as network:
        for command in commands:
            log.append(f"$ {command}")
            run = run_repo_command(command, cwd, deadline - time.monotonic(), box, network)
            log.append(run.output)
            if run.timed_out:
                raise StepFailed(f"install command timed out after {timeout:g}s: {command}")
            if run.exit_code != 0:
                raise StepFailed(f"install command failed ({run.exit_code}): {command}\n{run.output[-500:]}")
    return "\n".join(log)


def install(config: TargetConfig, cwd: Path, timeout: float | None = None, box: Box | None = None) -> str:
    """Run the target's install commands (in ``box``); ``timeout`` (what the phase has left) can only
    shorten theirs."""
    limit = (
        float(config.install_timeout_seconds)
        if timeout is None
        else min(config.install_timeout_seconds, timeout)
    )
    return run_commands(config.install, cwd, limit, box, config.reachable_on_install())


def install_in(workspace: Workspace, config: TargetConfig, timeout: float | None = None) -> str:
    """``install`` in a workspace whose agent's work will be committed: what install leaves in the tree
    is recorded on the workspace, and ``adopt_agent_tree`` leaves it out of the commit."""
    before = tree_state(workspace.path)
    log = install(config, workspace.path, timeout, workspace.box)
    workspace.install_output = InstallOutput.between(before, tree_state(workspace.path))
    return log
