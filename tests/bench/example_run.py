"""What the phase benchmarks share: the offline model and a fresh local remote for ticket IX-101."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from orchestration.local.offline import offline_env
from orchestration.local.offline_model import OfflineModelServer, ScenarioBook
from orchestration.local.remote import seed_bare_remote
from orchestration.local.stack import local_job_env
from tests.conftest import EXAMPLES, TEST_SCENARIOS


@dataclass
class ExampleRun:
    server: OfflineModelServer
    tmp: Path
    env: dict[str, str]  # the jobs' environment: local stand-ins, run id "bench", the offline model


@contextmanager
def example_run() -> Iterator[ExampleRun]:
    book = ScenarioBook.load(EXAMPLES / "scenarios", TEST_SCENARIOS)
    with OfflineModelServer(book) as server, tempfile.TemporaryDirectory(prefix="factory-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        remote = seed_bare_remote(EXAMPLES / "notes-app", tmp / "remote.git")
        env = {
            **local_job_env("IX-101", remote, tmp / "a", "bench", workdir=tmp / "w"),
            **offline_env(server),
        }
        yield ExampleRun(server, tmp, env)
