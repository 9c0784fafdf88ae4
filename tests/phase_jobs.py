"""Each phase's job run in-process from an environment, as Cloud Run runs it, with its result typed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from jobs.entrypoint import run_from_env
from jobs.models import PhaseResult
from jobs.phases.e2e.records import E2EResult
from jobs.phases.implement.records import ImplementResult
from jobs.phases.review.records import ReviewResult
from orchestration.local.stack import local_job_env
from tests.conftest import TESTS

TICKETS = TESTS / "tickets"

R = TypeVar("R", bound=PhaseResult)


def job_env(ticket: str, remote: Path, tmp: Path, model_auth: dict[str, str], run_id: str) -> dict[str, str]:
    """A phase job's environment for ``ticket`` of the test tickets, working under ``tmp``."""
    env = local_job_env(
        ticket, remote, tmp / "artifacts", run_id, workdir=tmp / "work" / run_id, tickets_dir=TICKETS
    )
    return {**env, "KILL_GRACE_SECONDS": "2", **model_auth}


def _run(phase: str, environ: Mapping[str, str], model: type[R]) -> R:
    result = run_from_env(phase, environ)
    assert isinstance(result, model), type(result)
    return result


def implement_job(environ: Mapping[str, str]) -> ImplementResult:
    return _run("implement", environ, ImplementResult)


def review_job(environ: Mapping[str, str]) -> ReviewResult:
    return _run("review", environ, ReviewResult)


def e2e_job(environ: Mapping[str, str]) -> E2EResult:
    return _run("e2e", environ, E2EResult)
