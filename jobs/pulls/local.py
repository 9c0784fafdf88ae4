"""Pull requests as records in the artifact store: the local stand-in for GitHub.

One record per branch, not per run: ``pulls/{branch}.json`` (``/`` in the branch written as ``--``) holds
the PR and its sticky comments, and ``pulls/{branch}.md`` is rendered from it after every change for a
human to read. Numbers are claimed as ``pulls/numbers/{n}`` objects with create-if-absent writes, and a
record is created the same way, so two runs racing on one branch still make one PR: the loser updates the
winner's record (its claimed number stays unused, as a deleted PR's would on GitHub).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jobs.artifacts.store import ArtifactStore, read_model, write_model
from jobs.errors import ArtifactExists, ArtifactNotFound, ConfigError, ServiceError
from jobs.pulls.models import FLAG_LABEL, PullRequest, PullRequestDraft
from jobs.pulls.source import clamp_body, clamp_title, marked_comment
from jobs.tickets.source import check_comment_key

SERVICE = "local-pulls"
PREFIX = "pulls"
NUMBERS = f"{PREFIX}/numbers/"


class LocalComment(BaseModel):
    """One sticky comment: the latest text (marker line first, as on GitHub) for its key."""

    model_config = ConfigDict(extra="forbid")
    id: int
    key: str
    body: str
    created_at: datetime
    updated_at: datetime


class PullRecord(PullRequestDraft):
    """The local PR of one branch: the draft as last upserted (texts clamped), then what the host adds."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: Literal[1] = 1
    number: int = Field(gt=0)
    state: Literal["open", "closed"] = "open"
    comments: list[LocalComment] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class LocalPulls:
    """PullRequests kept in an artifact store (a directory locally, GCS prefix alike)."""

    def __init__(self, store: ArtifactStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"LocalPulls({self.store!r})"

    def find_open(self, head: str, base: str) -> PullRequest | None:
        """The branch's record, if it is open and targets ``base``."""
        record = self._read(head)
        if record is None or record.state != "open" or record.base != base:
            return None
        return self._model(record)

    def upsert(self, draft: PullRequestDraft) -> PullRequest:
        """Update the branch's record (reopened, pointed at the draft's base if need be), else create it."""
        now = datetime.now(UTC)
        clamped = draft.model_copy(
            update={"title": clamp_title(draft.title) or draft.head, "body": clamp_body(draft.body)}
        )
        record = self._read(draft.head) or self._create(clamped, now)
        record = record.model_copy(update={**clamped.model_dump(), "state": "open", "updated_at": now})
        self._write(record)
        return self._model(record)

    def upsert_comment(self, number: int, key: str, body: str) -> str:
        """Replace the text of the comment kept for ``key`` on PR ``number``, else add it; its URL."""
        check_comment_key(key)
        record = self._by_number(number)
        now = datetime.now(UTC)
        text = marked_comment(key, body)
        comment = next((c for c in record.comments if c.key == key), None)
        if comment is None:
            comment = LocalComment(
                id=max((c.id for c in record.comments), default=0) + 1,
                key=key,
                body=text,
                created_at=now,
                updated_at=now,
            )
            record.comments.append(comment)
            self._write(record)
        elif comment.body != text:
            comment.body, comment.updated_at = text, now
            self._write(record)
        return f"{self.store.url(record_key(record.head, '.md'))}#comment-{comment.id}"

    # -- records ---------------------------------------------------------------------------------------

    def _create(self, draft: PullRequestDraft, now: datetime) -> PullRecord:
        key = record_key(draft.head, ".json")
        number = len(self.store.list(NUMBERS)) + 1
        while True:
            try:
                self.store.write_bytes(f"{NUMBERS}{number}", key.encode(), if_absent=True)
                break
            except ArtifactExists:
                number += 1
        record = PullRecord(**draft.model_dump(), number=number, created_at=now, updated_at=now)
        try:
            write_model(self.store, key, record, if_absent=True)
        except ArtifactExists:  # another run created the branch's record first: update theirs
            return self._read(draft.head) or record
        return record

    def close(self, number: int) -> None:
        """Close PR ``number``, as a person merging or closing it on the host would."""
        record = self._by_number(number)
        self._write(record.model_copy(update={"state": "closed", "updated_at": datetime.now(UTC)}))

    def _read(self, head: str) -> PullRecord | None:
        try:
            record = read_model(self.store, record_key(head, ".json"), PullRecord)
        except ArtifactNotFound:
            return None
        if record.head != head:
            raise ConfigError(
                f"branches {head!r} and {record.head!r} map to the same local PR record; rename one"
            )
        return record

    def _by_number(self, number: int) -> PullRecord:
        try:
            key = self.store.read_bytes(f"{NUMBERS}{number}").decode()
            return read_model(self.store, key, PullRecord)
        except ArtifactNotFound:
            raise ServiceError(SERVICE, 404, f"no pull request #{number}") from None

    def _write(self, record: PullRecord) -> None:
        write_model(self.store, record_key(record.head, ".json"), record)
        self.store.write_bytes(record_key(record.head, ".md"), render(record).encode())

    def _model(self, record: PullRecord) -> PullRequest:
        return PullRequest(
            number=record.number,
            url=self.store.url(record_key(record.head, ".md")),
            head=record.head,
            base=record.base,
            title=record.title,
            body=record.body,
            state=record.state,
            labels=[FLAG_LABEL] if record.flagged else [],  # no one else labels local PRs
        )


def record_key(branch: str, suffix: str) -> str:
    """The artifact key of a branch's record (``.json``) or its rendering (``.md``)."""
    return f"{PREFIX}/{branch.replace('/', '--')}{suffix}"


def render(record: PullRecord) -> str:
    """The PR as a human reads it: title, a header line, the body, then the sticky comments."""
    labels = f"`{FLAG_LABEL}`" if record.flagged else "none"
    lines = [
        f"# {record.title}",
        "",
        f"> **#{record.number}** ({record.state}) · `{record.head}` → `{record.base}` · labels: {labels}",
        "",
        record.body,
    ]
    for comment in record.comments:
        stamp = comment.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        anchor = f'<a id="comment-{comment.id}"></a>'
        lines += ["", "---", "", anchor, f"**Comment {comment.id}** ({stamp})", "", comment.body]
    return "\n".join(lines).rstrip() + "\n"
