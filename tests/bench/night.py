"""Benchmark: a night's fan-out, N findings at concurrency K, against one finding's chain.

Run with ``make bench``. Three nights of the small chatbot (tests/night_scene.py: the real triage and
closing jobs against the Sentry and Langfuse stand-ins, each chain through the real CLI against the
offline model): one with no finding (the night's own cost: triage, closing, notices), one with one
finding (one chain), one with N at concurrency K. The fan-out's wall time is compared with
ceil(N/K) chains, the target being at most 1.2 times that. Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
from pathlib import Path

from tests.night_scene import night_for

# (findings, concurrency): K at this machine's 2 cores, and K past them (the chains then share CPUs,
# as they never do on Cloud Run, where each job has its own).
SHAPES = ((4, 2), (6, 3))


def night_seconds(failures: int, concurrency: int) -> tuple[float, int]:
    """The night's wall time and how many chains it ran."""
    with tempfile.TemporaryDirectory(prefix="factory-bench-night-") as tmp:
        for night in night_for(
            Path(tmp), cap=failures or 1, failures=failures, hostile=False, concurrency=concurrency
        ):
            with contextlib.redirect_stderr(io.StringIO()):
                run = night.run(f"bench-{failures}-{concurrency}")
            assert run.error is None, run.error
            return run.seconds, len(run.result["chains"])
    raise AssertionError("no night ran")


def main() -> None:
    base, _ = night_seconds(0, 1)
    one, chains = night_seconds(1, 1)
    assert chains == 1
    chain = one - base
    print("nightly triage fan-out, small chatbot, offline model, real CLI (seconds)")
    print(f"  night with no finding (triage, close, notices)  {base:7.1f}")
    print(f"  one chain (night with 1 finding, minus that)     {chain:7.1f}")
    for findings, concurrency in SHAPES:
        many, chains = night_seconds(findings, concurrency)
        assert chains == findings
        rounds = math.ceil(findings / concurrency)
        fan_out = many - base
        print(
            f"  {findings} findings at concurrency {concurrency}: fan-out {fan_out:6.1f} = "
            f"{fan_out / (rounds * chain):.2f}x ceil({findings}/{concurrency}) = {rounds} chains "
            "(target <= 1.2x)"
        )


if __name__ == "__main__":
    main()
