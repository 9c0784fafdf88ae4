"""Benchmark: ``factory runs`` over 200 runs on disk (built from the real result models).

Times the listing as a person runs it (the whole command: read, order, filter, page, the rich table),
and the listing function alone for the first page, the last page and a status filter that has to read
every run's results. Run with ``python -m tests.bench.runs_list``. Prints figures; asserts nothing
about speed.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from jobs.artifacts import DirectoryStore
from orchestration.cli import app
from orchestration.runs.catalog import Filters, list_runs
from tests.orchestration.runs.build import T0, build_run

RUNS = 200
REPEATS = 7
OUTCOMES = (
    {"review": "passed", "e2e": "verified"},
    {"review": "failed_after_max", "e2e": "verified"},
    {"review": "passed", "e2e": "failed"},
    {"implement": "no_changes"},
    {"review": None},
)


def build(root: Path) -> DirectoryStore:
    store = DirectoryStore(root)
    for n in range(RUNS):
        shape = OUTCOMES[n % len(OUTCOMES)]
        build_run(
            store,
            f"ix-{100 + n % 40}-{n:04d}",
            ticket=f"IX-{100 + n % 40}",
            started=T0 + timedelta(minutes=17 * n),
            **shape,
        )
    return store


def timed(work: Callable[[], object]) -> float:
    """The median of ``REPEATS`` runs, in milliseconds."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="factory-bench-runs-") as tmp:
        start = time.perf_counter()
        store = build(Path(tmp) / "a")
        built = time.perf_counter() - start
        files = sum(1 for p in store.root.rglob("*") if p.is_file())
        runner = CliRunner()

        def command(*args: str) -> None:
            result = runner.invoke(app, ["runs", "--artifacts", str(store.root), *args])
            assert result.exit_code == 0, result.output

        cases: list[tuple[str, Callable[[], object]]] = [
            ("factory runs (first page of 20, the table)", command),
            (
                "factory runs --status no_changes --limit 50",
                lambda: command("--status", "no_changes", "--limit", "50"),
            ),
            ("list_runs, page 1 of 20", lambda: list_runs(store)),
            ("list_runs, page 10 of 20 (the last)", lambda: list_runs(store, page=10)),
            (
                "list_runs, --status failed (reads every run)",
                lambda: list_runs(store, Filters(status="failed")),
            ),
            (
                "list_runs, --ticket IX-105 (manifests only)",
                lambda: list_runs(store, Filters(ticket="IX-105")),
            ),
        ]
        print(f"factory runs over {RUNS} runs on disk ({files} files, built in {built:.1f} s)")
        print(f"  median of {REPEATS}, milliseconds:")
        for name, work in cases:
            print(f"  {name:<46} {timed(work):8.1f}")


if __name__ == "__main__":
    main()
