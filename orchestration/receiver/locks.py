"""The per-ticket lock: ``receiver/locks/{identifier}``, created if absent, taken over once stale.

A lock says a run was started for the ticket. The workflow deletes it when that run ends, done or failed
(``release_lock`` in factory.yaml). A run that dies without reaching that step (an execution cancelled
or killed) would block its ticket forever, so a lock older than ``max_age_ms`` is stale and the next
trigger takes it over: with compare-and-swap against the version it read, so that of any number of
concurrent triggers exactly one wins. The default maximum age, 8 h, is longer than a whole run can take
(three phases at the 2 h task timeout, each waited on for 10 min more).

The record is JSON: the delivery that took the lock, the Linear issue id and ``created_at`` (RFC 3339,
UTC). A lock that cannot be read as one counts as stale: it can only have been written by something else.

Releases are compare-and-delete against the owner: the workflow reads the lock's generation and content
and deletes it (``ifGenerationMatch``) only when it names the run's own delivery, so a run that outlived
the maximum age never releases the lock a newer run took over, and manual or scheduled runs (no delivery)
release nothing. The receiver undoes a start the same way (``release_if_owned``).

A store write can succeed and still report an error (the library retried after a lost response and got
412 on its own write): a lock found already there that names this delivery is ours, never someone else's.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Literal

from jobs.artifacts import VersionedStore, delete_if_owned
from jobs.errors import ArtifactError, ArtifactExists, ArtifactNotFound

log = logging.getLogger("orchestration.receiver")

LOCKS = "receiver/locks/"
DEFAULT_MAX_AGE_MS = 8 * 3600 * 1000
ATTEMPTS = 3  # create, or take over, racing other triggers and the workflow's release

Taken = Literal["acquired", "taken over", "held"]


def lock_key(ticket: str) -> str:
    return LOCKS + ticket


def timestamp(ms: int) -> str:
    """Unix milliseconds as RFC 3339 UTC with milliseconds, e.g. ``2026-01-01T00:00:00.000Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lock_record(delivery: str, ticket_id: str, now_ms: int) -> bytes:
    return json.dumps(
        {"delivery": delivery, "ticket_id": ticket_id, "created_at": timestamp(now_ms)}
    ).encode()


def _field(record: bytes, name: str) -> object:
    try:
        parsed = json.loads(record)
    except (ValueError, RecursionError):
        return None
    return parsed.get(name) if isinstance(parsed, dict) else None


def delivery_of(record: bytes) -> str | None:
    """The delivery a lock record names; None if it names none readably."""
    value = _field(record, "delivery")
    return value if isinstance(value, str) and value else None


def created_ms(record: bytes) -> int | None:
    """When a lock record says it was created, in Unix ms; None if it does not say so readably."""
    try:
        value = json.loads(record).get("created_at")
        moment = datetime.fromisoformat(value)
    except (ValueError, TypeError, AttributeError, RecursionError):
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp() * 1000)


def acquire(store: VersionedStore, ticket: str, record: bytes, now_ms: int, max_age_ms: int) -> Taken:
    """Take the ticket's lock: create it, or replace a stale one; ``held`` if a fresh one is there.

    A lock that already names ``record``'s delivery is ours (a write of ours that reported an error, or
    this delivery's earlier attempt that answered 503). ArtifactError (the store failing, or losing the
    race ``ATTEMPTS`` times) propagates, retryable: the caller answers 503 and Linear retries.
    """
    key = lock_key(ticket)
    ours = delivery_of(record)
    for _attempt in range(ATTEMPTS):
        try:
            store.write_bytes(key, record, if_absent=True)
            return "acquired"
        except ArtifactExists:
            pass
        try:
            current = store.read_versioned(key)
        except ArtifactNotFound:
            continue  # released between our create and our read: try creating again
        if ours is not None and delivery_of(current.data) == ours:
            log.info("the lock of %s already names delivery %s: it is ours", ticket, ours)
            return "acquired"
        created = created_ms(current.data)
        if created is not None and now_ms - created <= max_age_ms:
            return "held"
        try:
            store.replace_if_version(key, record, current.version)
        except ArtifactExists:
            continue  # another trigger took it over, or the run released it: look again
        age = "unreadable" if created is None else f"created {timestamp(created)}"
        log.warning("took over the stale lock of %s (%s)", ticket, age)
        return "taken over"
    raise ArtifactError(f"the lock of {ticket} kept changing: {ATTEMPTS} attempts lost", retryable=True)


def release_if_owned(store: VersionedStore, ticket: str, delivery: str) -> bool:
    """Delete the ticket's lock only if it still names ``delivery`` (compare-and-delete); True if it did."""
    return delete_if_owned(store, lock_key(ticket), lambda data: delivery_of(data) == delivery)
