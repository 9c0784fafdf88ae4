"""The narrow interface every ticket tracker implements, and the rules its arguments follow."""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from jobs.errors import ConfigError
from jobs.tickets.models import Ticket, is_identifier

# Comment keys end up inside a hidden marker (``<!-- factory:KEY -->``) and in log files: keep them plain.
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_STATE_NAME = 100


@runtime_checkable
class TicketSource(Protocol):
    """Reads tickets and reports back on them: one status comment per key, and state moves."""

    def get(self, identifier: str) -> Ticket:
        """The ticket; TicketNotFound if there is none, ConfigError for a malformed identifier."""
        ...

    def upsert_comment(self, ticket: Ticket, key: str, body: str) -> str:
        """Create or update in place the one comment this source keeps for ``key``; returns its id."""
        ...

    def move(self, ticket: Ticket, state_name: str) -> None:
        """Move the ticket to the workflow state called ``state_name``."""
        ...


def check_identifier(identifier: str) -> str:
    """The identifier itself, or ConfigError: it is used in file names and branch names."""
    if not is_identifier(identifier):
        raise ConfigError(f"malformed ticket identifier {identifier[:40]!r} (expected e.g. 'IX-101')")
    return identifier


def check_comment_key(key: str) -> str:
    """The key itself, or ConfigError: lowercase letters, digits, '.', '_' and '-' only."""
    if not _KEY_RE.fullmatch(key):
        raise ConfigError(f"malformed comment key {key[:40]!r}")
    return key


def comment_marker(key: str) -> str:
    """The hidden first line that marks the one comment Factory keeps for ``key``."""
    return f"<!-- factory:{key} -->"


def check_state_name(name: str) -> str:
    """The state name, stripped, or ConfigError if it is empty, multi-line or absurdly long."""
    clean = name.strip()
    if not clean or len(clean) > MAX_STATE_NAME or not clean.isprintable():
        raise ConfigError(f"malformed workflow state name {name[:40]!r}")
    return clean
