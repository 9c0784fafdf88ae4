"""``factory runs`` listing (issue 19, part 1): the runs under a prefix, newest first, filtered by job,
ticket and status, paged; one run found by its id (or the start of it); clear errors for an unknown run
or prefix. Runs are built on disk from the real result models (``build.py``)."""

from __future__ import annotations

import builtins
from datetime import timedelta
from pathlib import Path

import pytest

from jobs.artifacts import DirectoryStore
from jobs.models import run_key
from orchestration.runs.catalog import Filters, RunsError, find_run, list_runs, open_prefix, run_ids
from tests.orchestration.runs.build import T0, build_run


@pytest.fixture
def store(tmp_path: Path) -> DirectoryStore:
    """Six runs of three tickets and two jobs, one hour apart, with every outcome but "unverified"."""
    store = DirectoryStore(tmp_path / "artifacts")
    hour = timedelta(hours=1)
    build_run(store, "r1-passed", started=T0)
    build_run(store, "r2-flagged", started=T0 + hour, review="failed_after_max")
    build_run(store, "r3-failed", started=T0 + 2 * hour, ticket="IX-102", implement="failed")
    build_run(store, "r4-nochange", started=T0 + 3 * hour, ticket="IX-103", implement="no_changes")
    build_run(store, "r5-running", started=T0 + 4 * hour, job="solve-chatbot-issues", review=None)
    build_run(store, "r6-e2e-failed", started=T0 + 5 * hour, ticket="IX-102", e2e="failed")
    return store


def ids(store: DirectoryStore, **filters: str) -> list[str]:
    return [facts.run_id for facts in list_runs(store, Filters(**filters), limit=100).runs]


def test_runs_are_listed_newest_first_with_each_phase_and_the_outcome(store: DirectoryStore) -> None:
    page = list_runs(store)
    assert [f.run_id for f in page.runs] == [
        "r6-e2e-failed",
        "r5-running",
        "r4-nochange",
        "r3-failed",
        "r2-flagged",
        "r1-passed",
    ]
    assert [f.outcome for f in page.runs] == [
        "failed",
        "unfinished",
        "no_changes",
        "failed",
        "flagged",
        "passed",
    ]
    passed = page.runs[-1]
    assert (passed.status("implement"), passed.status("review"), passed.status("e2e")) == (
        "done",
        "passed",
        "verified",
    )
    assert passed.job == "solve-linear-ticket" and passed.ticket == "IX-101"
    assert passed.started_at == T0 and passed.seconds == 150.0  # implement start to e2e end
    # Implement's agent, both review rounds (an ask each, no fix cost recorded), the e2e ask.
    assert passed.cost_usd == pytest.approx(0.10 + 0.05 + 0.05 + 0.08)
    assert (page.total, page.more, page.scanned) == (6, False, 6)


def test_a_run_without_a_manifest_is_dated_by_its_first_phase_and_an_empty_one_goes_last(
    store: DirectoryStore,
) -> None:
    build_run(store, "r0-no-manifest", started=T0 + timedelta(hours=10), manifest=False)
    (store.root / "runs" / "r-empty").mkdir()
    (store.root / "runs" / "r-empty" / "offline-model.jsonl").write_text("{}\n")
    listed = ids(store)
    assert listed[0] == "r0-no-manifest" and listed[-1] == "r-empty"
    empty = list_runs(store, limit=100).runs[-1]
    assert (empty.outcome, empty.started_at, empty.ticket) == ("unfinished", None, "")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"job": "solve-chatbot-issues"}, ["r5-running"]),
        ({"ticket": "ix-102"}, ["r6-e2e-failed", "r3-failed"]),  # any case
        ({"status": "failed"}, ["r6-e2e-failed", "r3-failed"]),  # the outcome, or a phase's status
        ({"status": "failed_after_max"}, ["r2-flagged"]),  # a phase's status
        ({"status": "flagged"}, ["r2-flagged"]),
        ({"status": "unfinished"}, ["r5-running"]),
        ({"status": "verified"}, ["r2-flagged", "r1-passed"]),
        ({"ticket": "IX-102", "status": "done"}, ["r6-e2e-failed"]),
        ({"ticket": "IX-999"}, []),
    ],
)
def test_filters(store: DirectoryStore, filters: dict[str, str], expected: list[str]) -> None:
    assert ids(store, **filters) == expected


def test_an_unknown_status_is_refused_naming_the_ones_there_are() -> None:
    with pytest.raises(RunsError, match=r"--status 'green'.*passed, flagged.*failed_after_max"):
        Filters(status="green")


def test_pages_follow_one_another_without_gaps_or_repeats(store: DirectoryStore) -> None:
    pages = [list_runs(store, page=n, limit=4) for n in (1, 2, 3)]
    assert [[f.run_id for f in p.runs] for p in pages] == [
        ["r6-e2e-failed", "r5-running", "r4-nochange", "r3-failed"],
        ["r2-flagged", "r1-passed"],
        [],
    ]
    assert [p.more for p in pages] == [True, False, False]
    assert (pages[1].first, pages[1].total) == (5, 6)
    # Filtered on status, the total is not known without reading every run; paging still works.
    failed = [list_runs(store, Filters(status="failed"), page=n, limit=1) for n in (1, 2)]
    assert [[f.run_id for f in p.runs] for p in failed] == [["r6-e2e-failed"], ["r3-failed"]]
    assert [p.more for p in failed] == [True, False] and failed[0].total is None
    with pytest.raises(RunsError, match="start at 1"):
        list_runs(store, page=0)


def test_a_run_is_found_by_its_id_or_the_start_of_it(store: DirectoryStore) -> None:
    assert find_run(store, "r3-failed") == "r3-failed"
    assert find_run(store, "r4") == "r4-nochange"
    with pytest.raises(RunsError, match=r"'r' is the start of 6 runs"):
        find_run(store, "r")


def test_an_unknown_run_id_says_where_it_looked_and_what_is_close(store: DirectoryStore) -> None:
    with pytest.raises(RunsError) as caught:
        find_run(store, "r3-faild")
    message = str(caught.value)
    assert f"no run 'r3-faild' under {store.root}" in message and "did you mean r3-failed" in message
    with pytest.raises(RunsError, match="`factory runs` lists the runs there"):
        find_run(store, "zzz-nothing-like-it")


def test_an_unknown_prefix_is_an_error_and_an_empty_one_lists_nothing(tmp_path: Path) -> None:
    with pytest.raises(RunsError, match=f"no artifacts at {tmp_path / 'typo'}: no such directory"):
        open_prefix(str(tmp_path / "typo"))
    (tmp_path / "empty").mkdir()
    page = list_runs(open_prefix(str(tmp_path / "empty")))
    assert (page.runs, page.scanned, page.more) == ([], 0, False)


def test_an_unreadable_record_is_a_problem_on_its_run_not_a_failed_listing(store: DirectoryStore) -> None:
    store.write_bytes(run_key("r1-passed", "review", "result.json"), b'{"status": "pass')
    page = list_runs(store, limit=100)
    broken = next(f for f in page.runs if f.run_id == "r1-passed")
    assert broken.status("review") is None and broken.status("e2e") == "verified"
    assert (
        len(broken.problems) == 1 and "review/result.json is not a valid ReviewResult" in broken.problems[0]
    )


class ListingStore:
    """A store that is not a directory to this code (as GCS is not): runs are found by listing keys."""

    def __init__(self, inner: DirectoryStore) -> None:
        self.inner = inner
        self.lists = 0

    def write_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> None:
        self.inner.write_bytes(key, data, if_absent=if_absent)

    def read_bytes(self, key: str) -> bytes:
        return self.inner.read_bytes(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def list(self, prefix: str = "") -> builtins.list[str]:
        self.lists += 1
        return self.inner.list(prefix)

    def url(self, key: str) -> str:
        return "gs://bucket/p/" + key

    def delete(self, key: str) -> bool:
        return self.inner.delete(key)


def test_a_remote_store_is_listed_by_its_keys_and_read_in_parallel(store: DirectoryStore) -> None:
    remote = ListingStore(store)
    assert run_ids(remote) == run_ids(store)
    assert [f.run_id for f in list_runs(remote).runs] == [f.run_id for f in list_runs(store).runs]
    assert remote.lists == 2  # one listing of runs/ per call, not one per run
    with pytest.raises(RunsError, match="no run 'nope' under gs://bucket/p"):
        find_run(remote, "nope")
