"""The ticket lock: released by the workflow (test_workflow_local.py), taken over here once stale.

Over real HTTP with the directory store, and through ``locks.acquire`` against both real backends (the
directory and the GCS emulator), with concurrent triggers: a fresh lock is never taken over, a stale one
exactly once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobs.artifacts import DirectoryStore, GcsStore, VersionedStore
from jobs.errors import ArtifactError, ArtifactExists
from orchestration.receiver.locks import (
    DEFAULT_MAX_AGE_MS,
    acquire,
    created_ms,
    lock_record,
    release_if_owned,
    timestamp,
)
from tests.jobs.test_artifacts import _client, _new_bucket, gcs_endpoint  # noqa: F401 - the GCS emulator fixture
from tests.orchestration.receiver.test_receiver import NOW_MS, issue, make_rig, send

HOUR_MS = 3600 * 1000


def test_the_lock_record_says_when_and_by_which_delivery(tmp_path: Path) -> None:
    rigs = make_rig(tmp_path)
    rig = next(rigs)
    try:
        assert send(rig, issue("ENG-1", previous_labels=[]), delivery="d-first") == (200, "started")
        record = json.loads(rig.store.read_bytes("receiver/locks/ENG-1"))
        assert record == {
            "delivery": "d-first",
            "ticket_id": "id-ENG-1",
            "created_at": "2025-10-09T08:53:20.000Z",
        }
        assert created_ms(rig.store.read_bytes("receiver/locks/ENG-1")) == NOW_MS
    finally:
        next(rigs, None)


def test_a_fresh_lock_holds_and_a_stale_one_is_taken_over_exactly_once(tmp_path: Path) -> None:
    rigs = make_rig(tmp_path)
    rig = next(rigs)
    try:
        assert send(rig, issue("ENG-1", previous_labels=[]), delivery="first") == (200, "started")
        # Seven hours on, the run may still be going: the lock holds.
        rig.clock[0] = NOW_MS + 7 * HOUR_MS
        fresh = send(rig, issue("ENG-1", previous_labels=[], ts=rig.clock[0]), delivery="later")
        assert fresh == (200, "already running")
        # Past the maximum age, with no release: 50 triggers at once, one takes the lock over.
        rig.clock[0] = NOW_MS + DEFAULT_MAX_AGE_MS + 1
        stale_trigger = issue("ENG-1", previous_labels=[], ts=rig.clock[0])
        results: list[tuple[int, str]] = []
        barrier = threading.Barrier(50)

        def fire(number: int) -> None:
            barrier.wait()
            results.append(send(rig, stale_trigger, delivery=f"stale-{number}"))

        threads = [threading.Thread(target=fire, args=(n,)) for n in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        messages = [m for m in rig.wait_published() if m["ticket"] == "ENG-1"]
        takeovers = sum(outcome == "started" for _, outcome in results)
        print(f"\nlock: fresh lock taken over 0; stale lock, 50 concurrent triggers -> takeovers {takeovers}")
        assert sorted(results) == [(200, "already running")] * 49 + [(200, "started")]
        assert len(messages) == 2 and messages[0]["delivery"] == "first"
        record = json.loads(rig.store.read_bytes("receiver/locks/ENG-1"))
        assert record["delivery"] == messages[1]["delivery"]
        assert record["created_at"] == timestamp(rig.clock[0])
    finally:
        next(rigs, None)


@pytest.fixture(params=["directory", "gcs"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], VersionedStore]:
    if request.param == "directory":
        return lambda: DirectoryStore(tmp_path / "store")
    endpoint: str = request.getfixturevalue("gcs_endpoint")
    bucket = _new_bucket(endpoint)
    return lambda: GcsStore(bucket, "factory", _client(endpoint))


def test_acquire_on_both_backends(make_store: Callable[[], VersionedStore]) -> None:
    store = make_store()
    old = lock_record("d-old", "id-1", NOW_MS)
    assert acquire(store, "IX-1", old, NOW_MS, HOUR_MS) == "acquired"
    assert (
        acquire(store, "IX-1", lock_record("d-2", "id-1", NOW_MS + HOUR_MS), NOW_MS + HOUR_MS, HOUR_MS)
        == "held"
    )
    assert store.read_bytes("receiver/locks/IX-1") == old
    # Released by the workflow: the next trigger simply creates it again.
    store.delete("receiver/locks/IX-1")
    assert acquire(store, "IX-1", lock_record("d-3", "id-1", NOW_MS), NOW_MS, HOUR_MS) == "acquired"
    # Something that is not a lock record cannot say it is fresh: it is taken over.
    store.write_bytes("receiver/locks/IX-2", b"not json")
    assert acquire(store, "IX-2", lock_record("d-4", "id-2", NOW_MS), NOW_MS, HOUR_MS) == "taken over"
    assert json.loads(store.read_bytes("receiver/locks/IX-2"))["delivery"] == "d-4"


def test_concurrent_takeovers_of_a_stale_lock_on_both_backends(
    make_store: Callable[[], VersionedStore],
) -> None:
    contenders = 12
    stores = [make_store() for _ in range(contenders)]
    stores[0].write_bytes("receiver/locks/IX-1", lock_record("d-crashed", "id-1", NOW_MS), if_absent=True)
    later = NOW_MS + HOUR_MS + 1
    barrier = threading.Barrier(contenders)
    outcomes: dict[int, str] = {}

    def take(i: int) -> None:
        barrier.wait()
        outcomes[i] = acquire(stores[i], "IX-1", lock_record(f"d-{i}", "id-1", later), later, HOUR_MS)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [i for i, outcome in outcomes.items() if outcome == "taken over"]
    assert sorted(outcomes.values()) == ["held"] * (contenders - 1) + ["taken over"]
    assert json.loads(stores[0].read_bytes("receiver/locks/IX-1"))["delivery"] == f"d-{winners[0]}"


def test_a_store_failure_at_the_lock_lets_linear_s_retry_start_the_run(tmp_path: Path) -> None:
    rigs = make_rig(tmp_path)
    rig = next(rigs)
    try:
        rig.store.write_bytes("receiver/locks", b"a file where the locks folder goes")  # writes there fail
        payload = issue("ENG-1", previous_labels=[])
        assert send(rig, payload, delivery="d-1") == (503, "store unavailable")
        assert rig.store.list("receiver/deliveries/") == []  # the delivery is not remembered as handled
        rig.store.delete("receiver/locks")
        assert send(rig, payload, delivery="d-1") == (200, "started")
        assert [m["delivery"] for m in rig.wait_published()] == ["d-1"]
    finally:
        next(rigs, None)


class Ambiguous:
    """A store whose first write to a key happens and then reports an error, as GCS can: the library
    retries after a lost response and gets 412 on its own write (``exists``), or the error comes after the
    commit (``error``)."""

    def __init__(self, inner: DirectoryStore, key: str, how: str) -> None:
        self.inner, self.key, self.how = inner, key, how
        self.tripped = False

    def write_bytes(self, key: str, data: bytes, *, if_absent: bool = False) -> None:
        self.inner.write_bytes(key, data, if_absent=if_absent)
        if key.startswith(self.key) and not self.tripped:
            self.tripped = True
            if self.how == "exists":
                raise ArtifactExists(f"{key} already exists")
            raise ArtifactError(f"could not write {key}: the connection dropped", retryable=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("key", ["receiver/deliveries/", "receiver/locks/"])
def test_our_own_write_reported_as_existing_is_still_ours(tmp_path: Path, key: str) -> None:
    rigs = make_rig(tmp_path)
    rig = next(rigs)
    try:
        store = Ambiguous(rig.store, key, "exists")
        rig.receiver.store = store
        assert send(rig, issue("ENG-1", previous_labels=[]), delivery="d-1") == (200, "started")
        assert store.tripped
        assert [m["delivery"] for m in rig.wait_published()] == ["d-1"]
        # Another delivery of the same ticket still finds the lock held, and a replay is a duplicate.
        assert send(rig, issue("ENG-1", previous_labels=[]), delivery="d-2") == (200, "already running")
        assert send(rig, issue("ENG-1", previous_labels=[]), delivery="d-1") == (200, "duplicate")
    finally:
        next(rigs, None)


@pytest.mark.parametrize("key", ["receiver/deliveries/", "receiver/locks/"])
def test_a_write_that_committed_then_failed_is_undone_and_the_retry_starts(tmp_path: Path, key: str) -> None:
    rigs = make_rig(tmp_path)
    rig = next(rigs)
    try:
        rig.store.write_bytes("receiver/locks/ENG-9", lock_record("d-other", "id-ENG-9", NOW_MS))
        store = Ambiguous(rig.store, key, "error")
        rig.receiver.store = store
        payload = issue("ENG-1", previous_labels=[])
        assert send(rig, payload, delivery="d-1") == (503, "store unavailable")
        # What this request wrote is gone (it was its own); what another delivery holds is untouched.
        assert rig.store.list() == ["receiver/locks/ENG-9"]
        assert send(rig, payload, delivery="d-1") == (200, "started")  # Linear's retry
        assert [m["delivery"] for m in rig.wait_published()] == ["d-1"]
    finally:
        next(rigs, None)


def test_undo_removes_only_what_the_request_still_owns(tmp_path: Path) -> None:
    """A refused publish undoes the start, but not a lock taken over (or record rewritten) since."""
    store = DirectoryStore(tmp_path / "store")
    store.write_bytes("receiver/locks/IX-1", lock_record("d-new", "id-1", NOW_MS))
    assert release_if_owned(store, "IX-1", "d-old") is False and store.exists("receiver/locks/IX-1")
    assert release_if_owned(store, "IX-1", "d-new") is True and not store.exists("receiver/locks/IX-1")
    assert release_if_owned(store, "IX-1", "d-new") is False


def test_losing_every_attempt_is_a_retryable_store_error(tmp_path: Path) -> None:
    class Contended(DirectoryStore):
        """Every swap loses to another trigger that writes yet another stale-looking lock."""

        def replace_if_version(self, key: str, data: bytes, version: str) -> str:
            self.write_bytes(key, lock_record("d-racer", "id-1", NOW_MS - 2 * HOUR_MS))
            raise ArtifactExists(f"{key} changed")

    store = Contended(tmp_path / "store")
    store.write_bytes("receiver/locks/IX-1", lock_record("d-crashed", "id-1", NOW_MS - 2 * HOUR_MS))
    with pytest.raises(ArtifactError, match="3 attempts lost") as caught:
        acquire(store, "IX-1", lock_record("d-1", "id-1", NOW_MS), NOW_MS, HOUR_MS)
    assert caught.value.retryable  # the receiver answers 503 and Linear retries
