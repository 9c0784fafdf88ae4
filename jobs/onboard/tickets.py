"""An onboarding is a ticket: the review and e2e phases read one where they read a ticket.

Its identifier (``ONBOARD-1234567``) and its branch (``factory/onboard/<client>-<mode>``) come from the
client and the mode alone, so every run of the same onboarding works on the same branch and PR. The
onboard phase writes the ticket (``onboarding/tickets/<ID>.json``): what was asked, and the accuracy
table our code measured, which the reviewer reads and the PR shows. Comments the phases keep on it go
beside it; an onboarding has no workflow states: a move is written down and changes nothing.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict

from jobs.artifacts import ArtifactStore, read_model, write_model
from jobs.errors import ArtifactNotFound, ConfigError, TicketNotFound
from jobs.onboard.config import check_client
from jobs.tickets import Ticket
from jobs.tickets.source import check_identifier
from jobs.tickets.stored import StoredComments
from jobs.workspace import check_branch

ROOT = "onboarding"
LABEL = "factory:onboarding"
PREFIX = "ONBOARD"


def identifier_for(client: str, mode: str) -> str:
    """The onboarding's ticket identifier: a hash of client and mode, seven digits as a ticket's."""
    digest = int.from_bytes(hashlib.sha256(f"{check_client(client)}\0{mode}".encode()).digest()[:8], "big")
    return f"{PREFIX}-{1_000_000 + digest % 9_000_000}"


def branch_for_onboarding(client: str, mode: str) -> str:
    return check_branch(f"factory/onboard/{check_client(client)}-{mode}")


def ticket_key(identifier: str) -> str:
    return f"{ROOT}/tickets/{check_identifier(identifier)}.json"


class OnboardingTicket(BaseModel):
    """What the onboard phase tells the phases after it."""

    model_config = ConfigDict(extra="forbid")
    identifier: str
    client: str
    mode: str
    run_id: str
    title: str
    body: str


def write_ticket(store: ArtifactStore, ticket: OnboardingTicket) -> None:
    """Write (or rewrite, on a later run) the onboarding's ticket; an identifier another onboarding
    holds is refused (two clients whose hashes meet)."""
    key = ticket_key(ticket.identifier)
    try:
        earlier = read_model(store, key, OnboardingTicket)
    except ArtifactNotFound:
        earlier = None
    if earlier is not None and (earlier.client, earlier.mode) != (ticket.client, ticket.mode):
        raise ConfigError(
            f"{ticket.identifier} already names the onboarding of {earlier.client} ({earlier.mode})"
        )
    write_model(store, key, ticket)


class OnboardingTickets(StoredComments):
    """A TicketSource over the onboardings the onboard phase wrote."""

    def __init__(self, store: ArtifactStore) -> None:
        super().__init__(store, ROOT)

    def get(self, identifier: str) -> Ticket:
        try:
            record = read_model(self.store, ticket_key(identifier), OnboardingTicket)
        except ArtifactNotFound:
            raise TicketNotFound(f"no onboarding {identifier} (no {ticket_key(identifier)})") from None
        return Ticket(
            identifier=identifier,
            title=record.title,
            body=record.body,
            labels=[LABEL, f"client:{record.client}", f"mode:{record.mode}"],
        )
