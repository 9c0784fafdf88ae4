"""Benchmark: the e2e-verify phase's time split on the example ticket (real Postgres, servers, Chromium).

Run with ``make bench``. Implement and review run first (they make the branch and the PR); then the e2e
phase's two attempts (the scripted first one fails, the fixer adds word counts, the second passes) are
split into seeding, server start, browser start, agent and evidence, plus the phase's report step.
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import contextlib
import io

from tests.bench.example_run import example_run
from tests.phase_jobs import e2e_job, implement_job, review_job

SPLIT = ("install", "seeding", "server_start", "browser_start", "agent", "evidence")


def main() -> None:
    with example_run() as run:
        env = run.env
        with contextlib.redirect_stderr(io.StringIO()):
            implement_job(env)
            review_job(env)
            result = e2e_job(env)
        assert result.status == "verified", result.detail
        print(
            "e2e-verify phase, example ticket IX-101, offline model, real Postgres/servers/Chromium (seconds)"
        )
        print("  " + f"{'attempt':<9}" + "".join(f"{name:>14}" for name in SPLIT) + f"{'verdict':>10}")
        for attempt in result.attempts:
            cells = "".join(f"{attempt.timings.get(name, 0.0):>14.3f}" for name in SPLIT)
            print(f"  {attempt.attempt:<9}{cells}{attempt.verdict:>10}")
        for step in ("fix", "report"):
            print(f"  {step:<13} {result.timings.get(step, 0.0):7.3f}")
        print(f"  {'phase total':<13} {sum(result.timings.values()):7.3f}")
        print("  (agent = the browser agent's run minus Chromium's start, which the browser tool measures)")


if __name__ == "__main__":
    main()
