"""RELIABILITY B3: a phase job killed outright at each boundary, then run again, repairs the run.

Each case SIGKILLs the job (``FACTORY_CRASH_AT``, jobs/faults.py) after the clone, after the commit,
after the push, or after the PR's upsert, then runs the phase again with the same RUN_ID and once more
with a new one. What must hold: one branch, no duplicate commit, one PR, one Factory comment on the
ticket. Real jobs (``python -m jobs <phase>``), real git, the real CLI against the offline model.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from jobs.faults import CRASH_ENV
from orchestration.local.connectors import run_subprocess
from tests.conftest import git
from tests.phase_jobs import job_env

TICKET, BRANCH = "IX-101", "factory/ix-101"


def run(phase: str, remote: Path, tmp: Path, model_auth: dict[str, str], run_id: str, crash: str = "") -> int:
    """The phase's job as the local engine runs it (``run_subprocess``: a killed job's box tree goes with
    it), SIGKILLing itself at ``crash`` when given."""
    env = {**job_env(TICKET, remote, tmp, model_auth, run_id), **({CRASH_ENV: crash} if crash else {})}
    code = run_subprocess(phase, env, 300)
    assert code is not None, f"{phase} ran past 300 s"
    return code


def state(remote: Path, tmp: Path) -> dict[str, int]:
    """What a re-run must not multiply: branches, the branch's commits, PRs, Factory's ticket comments."""
    branches = git(
        "--git-dir", str(remote), "for-each-ref", "--format=%(refname:short)", "refs/heads"
    ).split()
    has_branch = BRANCH in branches
    commits = git("--git-dir", str(remote), "rev-list", f"main..{BRANCH}").split() if has_branch else []
    pulls = list((tmp / "artifacts" / "pulls").glob("*.md")) if (tmp / "artifacts" / "pulls").exists() else []
    log = tmp / "artifacts" / "tickets" / f"{TICKET}.json"
    comments = json.loads(log.read_text())["comments"] if log.exists() else []
    return {
        "branches besides main": len(branches) - 1,
        "commits on the branch": len(commits),
        "pull requests": len(pulls),
        "Factory comments on the ticket": sum(c["key"] == "factory-status" for c in comments),
    }


@pytest.mark.parametrize("point", ["implement:clone", "implement:commit", "implement:push"])
def test_b3_implement_killed_at_a_boundary_then_run_again(
    remote: Path, tmp_path: Path, model_auth: dict[str, str], point: str
) -> None:
    assert run("implement", remote, tmp_path, model_auth, "r1", crash=point) == -signal.SIGKILL
    after_crash = state(remote, tmp_path)
    assert run("implement", remote, tmp_path, model_auth, "r1") == 0  # the same run, again
    assert run("implement", remote, tmp_path, model_auth, "r2") == 0  # and a new run of the ticket
    final = state(remote, tmp_path)
    print(f"\nB3 {point}: after the kill {after_crash}; after two re-runs {final}")
    assert final == {
        "branches besides main": 1,
        "commits on the branch": 1,  # the agent's change, once, whoever pushed it
        "pull requests": 0,
        "Factory comments on the ticket": 1,
    }


def test_b3_review_killed_after_the_pr_upsert_then_run_again(
    remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    assert run("implement", remote, tmp_path, model_auth, "r1") == 0
    crashed = run("review", remote, tmp_path, model_auth, "r1", crash="review:pull_request")
    assert crashed == -signal.SIGKILL
    after_crash = state(remote, tmp_path)
    assert after_crash["pull requests"] == 1  # the kill came after the upsert
    assert run("review", remote, tmp_path, model_auth, "r1") == 0
    assert run("review", remote, tmp_path, model_auth, "r2") == 0
    final = state(remote, tmp_path)
    print(f"\nB3 review:pull_request: after the kill {after_crash}; after two re-runs {final}")
    assert final == {**after_crash, "Factory comments on the ticket": 1}  # nothing multiplied
    assert final["branches besides main"] == 1 and final["pull requests"] == 1
