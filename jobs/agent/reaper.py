"""Supervisor that owns every process the agent starts, so the breaker can leave no orphan.

Claude Code runs its Bash tool's commands in sessions of their own, so killing the CLI's process
group misses them. This process makes itself a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``):
whatever the agent forks, even a double-forked daemon, is re-parented to it when its parent dies.
It runs the command, and when the command ends or it is told to stop (SIGTERM/SIGINT) it signals
every descendant with SIGTERM, waits ``--grace`` seconds, then SIGKILLs what is left and reaps it.

Run as ``python -m jobs.agent.reaper --grace 10 -- CMD ARGS...``; exits with the command's code
(128 + signal number when it was signalled). The command gets this process's stdin (the agent's prompt
file; /dev/null for a plain command), which the reaper itself never reads.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.05


def become_subreaper() -> bool:
    """Ask the kernel to re-parent orphaned descendants to this process (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


def stop_with_parent(parent: int) -> None:
    """SIGTERM to us when the process that started us dies, however it died (a job SIGKILLed mid-agent
    must not leave the agent running): the handler then clears everything below us as on a stop."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def descendants(root: int) -> list[int]:
    """Every live process below ``root``, read from /proc (children of children included)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces or parens: the fields we need follow the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def reap() -> dict[int, int]:
    """Collect exited children without blocking; pid -> wait status."""
    statuses: dict[int, int] = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return statuses
        if pid == 0:
            return statuses
        statuses[pid] = status


def clear_tree(grace: float) -> None:
    """SIGTERM every descendant, wait up to ``grace`` seconds, then SIGKILL the rest."""
    me = os.getpid()
    signal_all(descendants(me), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        reap()
        if not descendants(me):
            return
        time.sleep(POLL_SECONDS)
    while True:
        left = descendants(me)
        if not left:
            return
        signal_all(left, signal.SIGKILL)
        reap()
        time.sleep(POLL_SECONDS)


def exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def supervise(command: list[str], grace: float, parent: int | None = None) -> int:
    become_subreaper()
    stopping = False

    def on_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    if parent is not None:
        stop_with_parent(parent)
    child = subprocess.Popen(command)  # stdin passed through: the caller chose it
    status: int | None = None
    while status is None and not stopping:
        status = reap().get(child.pid, status)
        if status is None:
            time.sleep(POLL_SECONDS)
    # Leftovers (background servers the agent started, or everything on a stop) never outlive us.
    clear_tree(grace if stopping else min(grace, 2.0))
    status = reap().get(child.pid, status)
    if status is None:
        return 128 + signal.SIGTERM
    return exit_code(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.agent.reaper")
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    return supervise(command, args.grace, os.getppid())


if __name__ == "__main__":
    sys.exit(main())
