"""The example ticket's chain, run once for the tests that read it: ``example_chain``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from jobs.phases.e2e.records import E2EResult
from jobs.phases.review.records import ReviewResult
from orchestration.local.offline import offline_env
from orchestration.local.offline_model import OfflineModelServer
from orchestration.local.remote import seed_bare_remote
from tests.conftest import EXAMPLES
from tests.phase_jobs import e2e_job, implement_job, job_env, review_job

EXAMPLE_RUN = "demo"


@dataclass(frozen=True)
class ExampleChain:
    """IX-101 on the notes app through implement, review and e2e-verify, in-process, as run ``demo``."""

    tmp: Path  # holds remote.git, artifacts/ and work/, as the phase tests' own tmp_path does
    remote: Path
    env: dict[str, str]  # the jobs' environment (a re-run changes RUN_ID)
    run_dir: Path  # the run's artifacts
    after_implement: str  # the run's index.html as the implement phase left it
    review: ReviewResult
    review_requests: slice  # the offline model's requests during the review (``requests[...]``)
    ticket_after_review: str  # the ticket's comment log (the local ticket source's) as the review left it
    e2e: E2EResult


@pytest.fixture(scope="session")
def example_chain(
    tmp_path_factory: pytest.TempPathFactory, offline_model: OfflineModelServer
) -> ExampleChain:
    """The whole chain of the example ticket, once a session: the review and e2e phases' tests of it and
    the report's browser tests read the same run (``tests/conftest.py`` makes them one unit of work: one
    worker, one chain). A test may add runs of its own beside it (another RUN_ID), never change this
    one's."""
    tmp = tmp_path_factory.mktemp("example-chain")
    remote = seed_bare_remote(EXAMPLES / "notes-app", tmp / "remote.git")
    env = job_env("IX-101", remote, tmp, offline_env(offline_model), EXAMPLE_RUN)
    run_dir = tmp / "artifacts" / "runs" / EXAMPLE_RUN
    assert implement_job(env).status == "done"
    after_implement = (run_dir / "index.html").read_text()
    asked = len(offline_model.requests)
    review = review_job(env)
    review_requests = slice(asked, len(offline_model.requests))
    ticket_after_review = (tmp / "artifacts" / "tickets" / "IX-101.json").read_text()
    return ExampleChain(
        tmp, remote, env, run_dir, after_implement, review, review_requests, ticket_after_review, e2e_job(env)
    )
