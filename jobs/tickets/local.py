"""Tickets as markdown files: the local stand-in for Linear.

``{tickets_dir}/IX-101.md`` holds YAML front matter (identifier, title, labels, state) between ``---``
lines, then the markdown body. Ticket files are never written: comments and state moves go to a log,
``{log_dir}/IX-101.json``, replaced atomically under a lock so concurrent writers never lose an update.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from jobs.errors import ConfigError, FactoryError, TicketNotFound
from jobs.tickets.models import Ticket
from jobs.tickets.source import check_comment_key, check_identifier, check_state_name
from jobs.yaml_load import untrusted_load

MAX_TICKET_BYTES = 256 * 1024
FRONT_MATTER_KEYS = frozenset({"identifier", "title", "labels", "state"})


def _now() -> datetime:
    return datetime.now(UTC)


class LoggedComment(BaseModel):
    """One comment in a ticket's log: the latest body for its key."""

    model_config = ConfigDict(extra="forbid")
    id: str
    key: str
    body: str
    created_at: datetime
    updated_at: datetime


class StateChange(BaseModel):
    """One move of a ticket to a workflow state."""

    model_config = ConfigDict(extra="forbid")
    state: str
    previous: str | None
    at: datetime


class TicketLog(BaseModel):
    """Everything Factory said about, or did to, one local ticket."""

    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1] = 1
    identifier: str
    comments: list[LoggedComment] = Field(default_factory=list)
    states: list[StateChange] = Field(default_factory=list)


class LocalTickets:
    """A TicketSource over a directory of ticket files, with a separate log directory."""

    def __init__(self, tickets_dir: Path, log_dir: Path) -> None:
        self.tickets_dir = Path(tickets_dir).expanduser().resolve()
        self.log_dir = Path(log_dir).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalTickets({str(self.tickets_dir)!r}, {str(self.log_dir)!r})"

    def get(self, identifier: str) -> Ticket:
        """Parse ``{identifier}.md``; its state is the last one moved to, else the front matter's."""
        path = self.tickets_dir / f"{check_identifier(identifier)}.md"
        ticket = parse_ticket_file(path)
        log = self._read_log(ticket.identifier)
        if log.states:
            ticket = ticket.model_copy(update={"state": log.states[-1].state})
        return ticket

    def upsert_comment(self, ticket: Ticket, key: str, body: str) -> str:
        """Record the comment for ``key``, replacing the body of an earlier one; returns its id."""
        check_comment_key(key)
        with self._locked(ticket.identifier):
            log = self._read_log(ticket.identifier)
            now = _now()
            for comment in log.comments:
                if comment.key == key:
                    comment.body = body
                    comment.updated_at = now
                    break
            else:
                comment = LoggedComment(
                    id=f"local-{secrets.token_hex(8)}", key=key, body=body, created_at=now, updated_at=now
                )
                log.comments.append(comment)
            self._write_log(log)
        return comment.id

    def move(self, ticket: Ticket, state_name: str) -> None:
        """Record a move to ``state_name`` (any name: local tickets have no workflow to check against)."""
        state = check_state_name(state_name)
        with self._locked(ticket.identifier):
            log = self._read_log(ticket.identifier)
            previous = log.states[-1].state if log.states else ticket.state
            log.states.append(StateChange(state=state, previous=previous, at=_now()))
            self._write_log(log)

    def log_path(self, identifier: str) -> Path:
        """Where the log of a ticket lives."""
        return self.log_dir / f"{check_identifier(identifier)}.json"

    def _read_log(self, identifier: str) -> TicketLog:
        path = self.log_path(identifier)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return TicketLog(identifier=identifier)
        except OSError as exc:
            raise FactoryError(f"could not read ticket log {path}: {exc.strerror or exc}") from exc
        try:
            return TicketLog.model_validate_json(data)
        except pydantic.ValidationError as exc:
            raise ConfigError(f"corrupt ticket log {path}: {exc.error_count()} problem(s)") from None

    def _write_log(self, log: TicketLog) -> None:
        path = self.log_path(log.identifier)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            with open(tmp, "x", encoding="utf-8") as file:
                file.write(log.model_dump_json(indent=2))
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise FactoryError(f"could not write ticket log {path}: {exc.strerror or exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self, identifier: str) -> Iterator[None]:
        # Read-modify-write of the log happens under an exclusive lock on a sibling file.
        lock_path = self.log_dir / f".{check_identifier(identifier)}.lock"
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise FactoryError(f"could not lock ticket log {lock_path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def parse_ticket_file(path: Path) -> Ticket:
    """Read and validate one ticket file; TicketNotFound if absent, ConfigError naming it if malformed."""
    text = _read_bounded(path)
    front, body = _split_front_matter(path, text)
    unknown = sorted(str(key) for key in front if key not in FRONT_MATTER_KEYS)
    if unknown:
        raise ConfigError(f"ticket file {path}: unknown front matter key(s) {', '.join(unknown)[:100]}")
    if front.get("identifier") != path.stem:
        raise ConfigError(
            f"ticket file {path}: front matter identifier is missing or differs from the file name"
        )
    try:
        return Ticket.model_validate(
            {
                "identifier": path.stem,
                "title": front.get("title"),
                "body": body,
                "labels": front.get("labels") or [],
                "state": front.get("state"),
                "url": path.as_uri(),
            }
        )
    except pydantic.ValidationError as exc:
        fields = ", ".join(sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()}))
        raise ConfigError(f"ticket file {path}: invalid front matter field(s): {fields[:100]}") from None


def _read_bounded(path: Path) -> str:
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_TICKET_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise TicketNotFound(f"no ticket file {path}") from None
    except OSError as exc:
        raise ConfigError(f"ticket file {path}: cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_TICKET_BYTES:
        raise ConfigError(f"ticket file {path}: larger than {MAX_TICKET_BYTES // 1024} KiB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"ticket file {path}: not UTF-8 text") from None


def _split_front_matter(path: Path, text: str) -> tuple[dict[str, Any], str]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        raise ConfigError(f"ticket file {path}: must start with a '---' front matter line")
    closing = next((i for i, line in enumerate(lines) if i and line.rstrip("\r\n") == "---"), None)
    if closing is None:
        raise ConfigError(f"ticket file {path}: front matter has no closing '---' line")
    try:
        front = untrusted_load("".join(lines[1:closing]))
    except yaml.YAMLError:
        raise ConfigError(f"ticket file {path}: front matter is not valid YAML") from None
    if not isinstance(front, dict):
        raise ConfigError(f"ticket file {path}: front matter must be a YAML mapping")
    body = "".join(lines[closing + 1 :]).lstrip("\r\n").rstrip()
    return front, body
