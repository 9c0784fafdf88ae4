"""Tickets: one ``TicketSource`` interface, a Linear backend and a local ticket-file backend."""

from __future__ import annotations

from jobs.tickets.linear import LinearTickets
from jobs.tickets.local import LocalTickets
from jobs.tickets.models import Ticket, TicketComment
from jobs.tickets.source import TicketSource

__all__ = ["LinearTickets", "LocalTickets", "Ticket", "TicketComment", "TicketSource"]
