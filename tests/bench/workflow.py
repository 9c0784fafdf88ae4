"""Benchmark: factory.yaml on the local engine for the example ticket: the chain's wall time and the
engine's own overhead per step (wall time minus the time spent in jobs, connectors and sleeps).

Run with ``make bench``. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import contextlib
import io

from jobs.artifacts import open_store
from orchestration.local.run import run_workflow
from tests.bench.example_run import example_run


def main() -> None:
    with example_run() as run, contextlib.redirect_stderr(io.StringIO()):
        store = open_store(str(run.tmp / "a"))
        result = run_workflow({"job": "solve-linear-ticket", "ticket": "IX-101"}, "bench", run.env, store)
    assert result.error is None, result.error
    print("factory.yaml on the local engine, example ticket IX-101 (implement -> review -> e2e-verify)")
    print(f"  chain wall time   {result.seconds:8.3f} s   result: {result.result['e2e']}")
    total = sum(result.overhead.values())
    print(f"  engine overhead   {total * 1000:8.3f} ms over {len(result.overhead)} steps")
    print("  per step (ms, engine's own time, summed over its runs):")
    for step, seconds in sorted(result.overhead.items(), key=lambda kv: -kv[1]):
        print(f"    {step:<20} {seconds * 1000:8.3f}")


if __name__ == "__main__":
    main()
