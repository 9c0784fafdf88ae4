"""Shared fixtures: the offline model, seeded bare remotes, canary secrets; and stopping a server process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from orchestration.local.offline import offline_env
from orchestration.local.offline_model import OfflineModelServer, ScenarioBook
from orchestration.local.remote import seed_bare_remote

if TYPE_CHECKING:
    from tests.attacker.scene import Listener

TESTS = Path(__file__).resolve().parent  # fixtures: tickets/, scenarios/, workflows/, fake_cli.py
ROOT = TESTS.parent
EXAMPLES = ROOT / "examples"
TEST_SCENARIOS = TESTS / "scenarios"


@pytest.fixture(scope="session")
def offline_model() -> Iterator[OfflineModelServer]:
    """One offline model for the session, playing the example scenarios and the tests' own."""
    book = ScenarioBook.load(EXAMPLES / "scenarios", TEST_SCENARIOS)
    with OfflineModelServer(book) as server:
        yield server


@pytest.fixture
def model_auth(offline_model: OfflineModelServer) -> dict[str, str]:
    return offline_env(offline_model)


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A TCP listener on every address of this machine, counting who reached it (the attacker's aim)."""
    from tests.attacker.scene import Listener  # here: the scene module uses this one's helpers

    server = Listener()
    yield server
    server.sock.close()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository seeded with the example notes app on ``main``."""
    return seed_bare_remote(EXAMPLES / "notes-app", tmp_path / "remote.git")


def git(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def stop_process(proc: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM, and SIGKILL if it still runs ``grace`` seconds later; reaped either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def processes_matching(marker: str) -> list[str]:
    """Command lines of live processes containing ``marker`` (to find orphans)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z" and str(os.getpid()) != proc.name:
            found.append(cmdline)
    return found
