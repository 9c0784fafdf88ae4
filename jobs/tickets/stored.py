"""What a ticket source that Factory itself writes (a finding, an onboarding) does with comments and
state moves: both go to the artifact store beside its tickets, under ``<root>/comments/<ID>/``."""

from __future__ import annotations

from jobs.artifacts import ArtifactStore
from jobs.errors import ArtifactNotFound
from jobs.models import utc_now
from jobs.tickets.models import Ticket
from jobs.tickets.source import check_comment_key, check_state_name


class StoredComments:
    """``upsert_comment`` and ``move`` of a TicketSource whose tickets live in the artifact store."""

    def __init__(self, store: ArtifactStore, root: str) -> None:
        self.store = store
        self.root = root

    def upsert_comment(self, ticket: Ticket, key: str, body: str) -> str:
        name = f"{self.root}/comments/{ticket.identifier}/{check_comment_key(key)}.md"
        self.store.write_bytes(name, body.encode())
        return name

    def move(self, ticket: Ticket, state_name: str) -> None:
        """Such tickets have no workflow states: a move is written down and changes nothing."""
        state = check_state_name(state_name)
        name = f"{self.root}/comments/{ticket.identifier}/states.log"
        try:
            before = self.store.read_bytes(name).decode()
        except ArtifactNotFound:
            before = ""
        self.store.write_bytes(name, f"{before}{utc_now().isoformat()} {state}\n".encode())
