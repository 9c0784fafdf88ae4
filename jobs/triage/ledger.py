"""The triage's memory across nights, in the artifact store: who claimed a night, what each failure became.

Three kinds of object, all under ``triage/``:

- ``nights/<night>.json``: the claim of one scheduled night, created only if absent. A second execution
  for the same night (a Scheduler retry, a manual re-run) finds it and claims nothing (RELIABILITY F2).
- ``records/<digest>.json``: one record per failure, keyed by its fingerprint, holding every key it was
  seen under and every attempt to fix it (identifier, branch, run, pull request), so a failure is never
  fixed twice in parallel or on two nights.
- ``ids/<IDENTIFIER>.json``: which fingerprint an identifier (``BUG-1234567``) was given to, created only
  if absent, so two failures never share a branch.

Only the night's one claimed triage writes records, and its closing step after the fixes: one writer at
a time, so a whole-object replace is enough.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from jobs.artifacts import VersionedStore, delete_if_owned, read_model, write_model
from jobs.errors import ArtifactExists, ArtifactNotFound, FactoryError
from jobs.models import utc_now
from jobs.triage.findings import Finding
from jobs.workspace import branch_for

ROOT = "triage"
ID_SPACE = 9_000_000  # identifiers' numbers: 1000000-9999999, seven digits as a ticket's


class NightClaim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    night: str
    run_id: str
    claimed_at: datetime = Field(default_factory=utc_now)


class Attempt(BaseModel):
    """One night's fix of a failure: its own identifier, branch and run, and the PR it opened."""

    model_config = ConfigDict(extra="forbid")
    identifier: str
    night: str
    run_id: str
    branch: str
    regression: bool = False
    pull_request: str | None = None
    pull_number: int | None = None
    outcome: str | None = None


class Sighting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    night: str
    count: int
    decision: str


class FindingRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fingerprint: str
    keys: list[str]
    source: str
    title: str
    attempts: list[Attempt] = Field(default_factory=list)
    seen: list[Sighting] = Field(default_factory=list)

    @property
    def last_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


class NightTaken(FactoryError):
    """Another execution already claimed this night."""

    def __init__(self, claim: NightClaim) -> None:
        super().__init__(
            f"night {claim.night} was claimed by run {claim.run_id} at {claim.claimed_at:%H:%M:%S}Z"
        )
        self.claim = claim


class Ledger:
    """The records of every failure triage has seen, read once at the start of a night."""

    def __init__(self, store: VersionedStore, id_prefix: str = "BUG") -> None:
        self.store = store
        self.id_prefix = id_prefix
        self.records: dict[str, FindingRecord] = {}
        for key in store.list(f"{ROOT}/records/"):
            record = read_model(store, key, FindingRecord)
            self.records[record.fingerprint] = record

    def claim_night(self, night: str, run_id: str) -> NightClaim:
        """This run's claim of ``night``; NightTaken when another run holds it (the same run may re-enter)."""
        claim = NightClaim(night=night, run_id=run_id)
        key = night_key(night)
        try:
            write_model(self.store, key, claim, if_absent=True)
        except ArtifactExists:
            held = read_model(self.store, key, NightClaim)
            if held.run_id != run_id:
                raise NightTaken(held) from None
            return held
        return claim

    def release_night(self, night: str, run_id: str) -> bool:
        """Give up this run's claim of ``night`` (a night that failed before deciding anything), so that
        another execution can run it; True if released. Only a claim still this run's is removed, by
        compare-and-delete: never another run's."""
        return delete_if_owned(
            self.store, night_key(night), lambda data: NightClaim.model_validate_json(data).run_id == run_id
        )

    def match(self, finding: Finding) -> FindingRecord | None:
        """The record of the same failure: the one whose keys meet the finding's."""
        for record in self.records.values():
            if finding.same_failure(record.keys):
                return record
        return None

    def remember(self, finding: Finding, night: str, decision: str) -> FindingRecord:
        """Record that ``finding`` was seen tonight and decided so; its new keys join the record's."""
        record = self.match(finding) or FindingRecord(
            fingerprint=finding.fingerprint, keys=[], source=finding.source, title=finding.title
        )
        record.keys = sorted(set(record.keys) | set(finding.keys), key=lambda k: (k != record.fingerprint, k))
        record.seen = [s for s in record.seen if s.night != night] + [
            Sighting(night=night, count=finding.count, decision=decision)
        ]
        self.records[record.fingerprint] = record
        return record

    def start_attempt(
        self, record: FindingRecord, night: str, night_run_id: str, regression: bool
    ) -> Attempt:
        """A new attempt at fixing ``record``, with an identifier no other failure has."""
        identifier = self._allocate(record.fingerprint, len(record.attempts))
        attempt = Attempt(
            identifier=identifier,
            night=night,
            run_id=chain_run_id(night_run_id, identifier),
            branch=branch_for(identifier),
            regression=regression,
        )
        record.attempts.append(attempt)
        return attempt

    def save(self, record: FindingRecord) -> None:
        write_model(self.store, record_key(record.fingerprint), record)

    def find_identifier(self, identifier: str) -> tuple[FindingRecord, Attempt]:
        """The record and attempt an identifier was given to; ArtifactNotFound if it never was."""
        for record in self.records.values():
            for attempt in record.attempts:
                if attempt.identifier == identifier:
                    return record, attempt
        raise ArtifactNotFound(f"no triage finding {identifier}")

    def _allocate(self, fingerprint: str, attempt: int) -> str:
        digest = int(hashlib.sha256(f"{fingerprint}#{attempt}".encode()).hexdigest(), 16)
        for step in range(1000):
            identifier = f"{self.id_prefix}-{1_000_000 + (digest + step) % ID_SPACE}"
            key = f"{ROOT}/ids/{identifier}.json"
            owner = IdOwner(fingerprint=fingerprint, attempt=attempt)
            try:
                write_model(self.store, key, owner, if_absent=True)
                return identifier
            except ArtifactExists:
                if read_model(self.store, key, IdOwner) == owner:
                    return identifier  # ours already: a retried start
        raise FactoryError(f"no free identifier for {fingerprint} after 1000 tries")


class IdOwner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fingerprint: str
    attempt: int


def night_key(night: str) -> str:
    return f"{ROOT}/nights/{night}.json"


def record_key(fingerprint: str) -> str:
    return f"{ROOT}/records/{hashlib.sha256(fingerprint.encode()).hexdigest()[:24]}.json"


def evidence_key(identifier: str) -> str:
    """Where the finding a fix works from is kept, as the triage saw it that night."""
    return f"{ROOT}/evidence/{identifier}.json"


def chain_run_id(night_run_id: str, identifier: str) -> str:
    """The run id of one finding's implement → review → e2e chain; factory.yaml builds the same."""
    return f"{night_run_id}-{identifier.lower()}"
