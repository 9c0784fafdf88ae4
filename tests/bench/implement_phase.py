"""Benchmark: the implement phase's step times on the example ticket, and the breaker's kill overshoot.

Run with ``make bench``. Prints figures; asserts nothing (targets are in the issue: every step but the
agent <= 3 s in total; overshoot <= grace + 1 s; 0 orphans).
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from jobs.agent import AgentRequest, AgentRunner
from orchestration.local.offline import offline_env
from orchestration.local.offline_model import OfflineModelServer, ScenarioBook
from orchestration.local.remote import seed_bare_remote
from orchestration.local.stack import local_job_env
from tests.conftest import EXAMPLES, TEST_SCENARIOS, git, processes_matching
from tests.phase_jobs import implement_job

PHASE_RUNS = 3
BREAKER_TRIALS = 10
GRACE = 1.0


def phase_timings(server: OfflineModelServer, tmp: Path, n: int) -> dict[str, float]:
    remote = seed_bare_remote(EXAMPLES / "notes-app", tmp / f"remote-{n}.git")
    env = local_job_env("IX-101", remote, tmp / "artifacts", f"bench-{n}", workdir=tmp / "work" / str(n))
    with contextlib.redirect_stderr(io.StringIO()):  # the phase's progress lines would drown the figures
        result = implement_job({**env, **offline_env(server)})
    assert result.status == "done", result.detail
    return result.timings


def breaker_trial(server: OfflineModelServer, tmp: Path, n: int) -> tuple[float, int]:
    repo = tmp / f"hang-{n}"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    runner = AgentRunner(model_auth=offline_env(server), grace_seconds=GRACE)
    prompt = f"Ticket: RUN-HANG\nRepository root: {repo}\n"
    runner.run(AgentRequest(prompt=prompt, cwd=repo, max_duration_seconds=2))
    time.sleep(0.2)
    return runner.last_overshoot or 0.0, len(processes_matching("factory-c1-"))


def main() -> None:
    book = ScenarioBook.load(EXAMPLES / "scenarios", TEST_SCENARIOS)
    with OfflineModelServer(book) as server, tempfile.TemporaryDirectory(prefix="factory-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        runs = [phase_timings(server, tmp, n) for n in range(PHASE_RUNS)]
        print(f"implement phase, example ticket IX-101, offline model, {PHASE_RUNS} runs (median seconds)")
        for step in runs[0]:
            print(f"  {step:<12} {statistics.median(r[step] for r in runs):7.3f}")
        rest = statistics.median(sum(v for k, v in r.items() if k != "agent") for r in runs)
        print(f"  {'all but agent':<12} {rest:7.3f}   [target <= 3.000]")
        trials = [breaker_trial(server, tmp, n) for n in range(BREAKER_TRIALS)]
        overshoots = [t[0] for t in trials]
        print(f"breaker, {BREAKER_TRIALS} trials, grace {GRACE:g}s, agent ignoring SIGTERM with a grandchild")
        print(
            f"  overshoot min {min(overshoots):.3f}  median {statistics.median(overshoots):.3f}  "
            f"max {max(overshoots):.3f}   [target <= {GRACE + 1:.3f}]"
        )
        print(f"  orphans     {sum(t[1] for t in trials)}   [target 0]")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
