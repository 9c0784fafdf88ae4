"""Which runs are under a prefix, newest first, filtered and paged; and one run found by its id.

A listing reads each run's manifest (small, one per run) to order the runs, then the phases' results
only for the runs it needs to fill the page, so a long history costs little more than one page. Runs
are ordered by when they started: the manifest's time, or the first phase's start when a run failed
before writing one.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar, get_args

from jobs.artifacts import ArtifactStore, DirectoryStore, open_store
from jobs.errors import ConfigError
from jobs.onboard.records import OnboardStatus
from jobs.phases.e2e.records import E2EStatus
from jobs.phases.implement.records import ImplementStatus
from jobs.phases.review.records import ReviewStatus
from jobs.report import OUTCOMES, RunFacts
from jobs.report.facts import read_manifest, read_results, valid_run_id
from jobs.triage.records import TriageStatus

DEFAULT_LIMIT = 20
READERS = 16  # concurrent reads: a GCS read is a round trip, a directory read is nearly free
T = TypeVar("T")
R = TypeVar("R")


def _statuses() -> tuple[str, ...]:
    names: list[str] = list(OUTCOMES)
    for literal in (ImplementStatus, ReviewStatus, E2EStatus, TriageStatus, OnboardStatus):
        names += [s for s in get_args(literal) if s not in names]
    return tuple(names)


STATUSES = _statuses()


class RunsError(ConfigError):
    """A prefix with no artifacts, a run id that is not there, a filter that cannot match."""


@dataclass(frozen=True)
class Filters:
    """What a listing keeps: a job, a ticket or finding (any case), and a run outcome or any phase's
    status (a night's outcome is one of its own: done, flagged, failed, unfinished, already-claimed)."""

    job: str | None = None
    ticket: str | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise RunsError(f"--status {self.status!r}: use one of {', '.join(STATUSES)}")

    def keeps_head(self, facts: RunFacts) -> bool:
        """What the manifest can decide (job, ticket)."""
        if self.job is not None and facts.job != self.job:
            return False
        return self.ticket is None or facts.ticket.casefold() == self.ticket.casefold()

    def keeps(self, facts: RunFacts) -> bool:
        return self.keeps_head(facts) and (self.status is None or facts.matches(self.status))


@dataclass(frozen=True)
class RunPage:
    """One page of a listing: its runs, newest first, and whether there are more after it."""

    runs: list[RunFacts]
    page: int
    limit: int
    more: bool
    total: int | None  # runs matching the filters, when known without reading every run's results
    scanned: int  # run folders under the prefix

    @property
    def first(self) -> int:
        return (self.page - 1) * self.limit + 1


def open_prefix(prefix: str) -> ArtifactStore:
    """The store a prefix names; RunsError when a local one is not a directory (a typo, most often)."""
    store = open_store(prefix)
    if isinstance(store, DirectoryStore) and not store.root.is_dir():
        raise RunsError(
            f"no artifacts at {store.root}: no such directory (pass --artifacts DIR or gs://bucket/prefix)"
        )
    return store


def run_ids(store: ArtifactStore) -> list[str]:
    """The ids of the run folders under ``runs/`` (a directory is listed directly, not walked)."""
    if isinstance(store, DirectoryStore):
        runs = store.root / "runs"
        found = [p.name for p in runs.iterdir() if p.is_dir() and not p.is_symlink()] if runs.is_dir() else []
    else:
        found = list({key.split("/")[1] for key in store.list("runs/") if key.count("/") >= 2})
    return sorted(name for name in found if valid_run_id(name))


def list_runs(
    store: ArtifactStore, filters: Filters = Filters(), page: int = 1, limit: int = DEFAULT_LIMIT
) -> RunPage:
    """The ``page``-th ``limit`` runs matching ``filters``, newest first."""
    if page < 1 or limit < 1:
        raise RunsError("--page and --limit start at 1")
    ids = run_ids(store)
    remote = not isinstance(store, DirectoryStore)
    heads = [head for head in _map(lambda rid: _head(store, rid), ids, remote) if filters.keeps_head(head)]
    heads.sort(key=_newest_first)
    skip, matched, more = (page - 1) * limit, 0, False
    rows: list[RunFacts] = []
    for chunk in _chunks(heads, limit):
        for facts in _map(lambda head: _complete(store, head), chunk, remote):
            if not filters.keeps(facts):
                continue
            matched += 1
            if matched <= skip:
                continue
            if len(rows) == limit:
                more = True
                break
            rows.append(facts)
        if more:
            break
    total = len(heads) if filters.status is None else None
    return RunPage(rows, page, limit, more, total, len(ids))


def _head(store: ArtifactStore, run_id: str) -> RunFacts:
    """The manifest alone (the results too, when there is no manifest to date the run by)."""
    facts = RunFacts(run_id)
    facts.manifest = read_manifest(store, run_id, facts.problems)
    if facts.manifest is None:
        facts.results = read_results(store, run_id, facts.problems)
    return facts


def _complete(store: ArtifactStore, head: RunFacts) -> RunFacts:
    if head.results or head.manifest is None:
        return head
    head.results = read_results(store, head.run_id, head.problems)
    return head


def _newest_first(facts: RunFacts) -> tuple[int, float, str]:
    start = facts.started_at
    # Undated runs last; among equals, the id decides, so the order is stable from page to page.
    return (1, 0.0, facts.run_id) if start is None else (0, -start.timestamp(), facts.run_id)


def find_run(store: ArtifactStore, run_id: str) -> str:
    """The run's id as stored: ``run_id`` itself, or the one run whose id starts with it."""
    ids = run_ids(store)
    if run_id in ids:
        return run_id
    starting = [rid for rid in ids if rid.startswith(run_id)] if run_id else []
    if len(starting) == 1:
        return starting[0]
    if len(starting) > 1:
        raise RunsError(f"run id {run_id!r} is the start of {len(starting)} runs: {', '.join(starting[:5])}")
    close = difflib.get_close_matches(run_id, ids, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else "; `factory runs` lists the runs there"
    raise RunsError(f"no run {run_id!r} under {_where(store)}{hint}")


def _where(store: ArtifactStore) -> str:
    if isinstance(store, DirectoryStore):
        return str(store.root)
    url = store.url("runs/x")
    return url[: -len("/runs/x")]


def _map(work: Callable[[T], R], items: Iterable[T], parallel: bool) -> list[R]:
    """``work`` on every item, in order; on a remote store in threads (each read is a round trip)."""
    items = list(items)
    if not parallel or len(items) < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(READERS, len(items))) as pool:
        return list(pool.map(work, items))


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
