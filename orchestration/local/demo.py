"""The local demo: an example ticket through ``orchestration/factory.yaml`` on the local engine.

The example app is seeded into a bare repository standing in for GitHub (kept between runs unless
``fresh``), then the ticket runs exactly as ``factory solve-linear-ticket`` runs it: each phase's job as
a Cloud Run Job would run it, a directory for the artifact prefix, the example ticket files for Linear,
and the offline model (the example scenarios, or ``scenarios``) unless ``real_model`` asks for Claude.

Two example apps can be the target: the notes app (the default: ``IX-101``) and the support-bot
(``--target support-bot``: ``SB-1``, three servers and a seeded PostgreSQL), each in a remote of its own.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from jobs.errors import ConfigError
from orchestration.local.inputs import check_ticket, resolve_path
from orchestration.local.remote import seed_bare_remote
from orchestration.local.stack import EXAMPLES, LocalStack
from orchestration.local.ticket import solve_ticket


class DemoJob(StrEnum):
    """What ``factory demo`` runs: one example ticket, a night of the chatbot's failures, or a client's
    onboarding."""

    TICKET = "solve-linear-ticket"
    NIGHT = "solve-chatbot-issues"
    ONBOARD = "onboard-client"


class DemoTarget(StrEnum):
    """The example apps ``factory demo`` can seed and run a ticket against."""

    NOTES_APP = "notes-app"
    SUPPORT_BOT = "support-bot"


@dataclass(frozen=True)
class DemoApp:
    """An example app: its folder under ``examples/``, its default ticket, the prefix of the example
    tickets the example scenarios script for it, and its bare remote under ``<artifacts>/demo/``."""

    source: Path
    ticket: str
    prefix: str
    remote: str


APPS = {
    DemoTarget.NOTES_APP: DemoApp(EXAMPLES / "notes-app", "IX-101", "IX-", "remote.git"),
    DemoTarget.SUPPORT_BOT: DemoApp(EXAMPLES / "support-bot", "SB-1", "SB-", "support-bot.git"),
}


def demo(
    ticket: str | None,
    artifacts: Path,
    real_model: bool,
    fresh: bool,
    *,
    target: DemoTarget = DemoTarget.NOTES_APP,
    scenarios: Path | None = None,
    keep_work: bool = False,
) -> int:
    """Seed ``target``'s example remote and take ``ticket`` (default: the target's) through the
    workflow on the local engine.

    A ticket with no file under ``examples/tickets``, or one the example scenarios script for the other
    target, is a ConfigError before anything is seeded."""
    app = APPS[target]
    ticket = ticket or app.ticket
    check_ticket(EXAMPLES / "tickets", ticket)
    if not real_model and scenarios is None:
        check_scripted_for(ticket, target)
    artifacts = resolve_path(artifacts)
    remote = artifacts / "demo" / app.remote
    stack = LocalStack.create(
        str(remote),
        artifacts,
        EXAMPLES / "tickets",
        real_model=real_model,
        scenarios=scenarios,
        keep_work=keep_work,
    )
    if fresh and remote.exists():
        shutil.rmtree(remote)
    seed_bare_remote(app.source, remote)
    return solve_ticket(stack, ticket)


def check_scripted_for(ticket: str, target: DemoTarget) -> None:
    """ConfigError when the example scenarios script ``ticket`` for another target: its scripted edits
    name the other app's files, so the run could only fail."""
    for other, app in APPS.items():
        if other != target and ticket.upper().startswith(app.prefix):
            raise ConfigError(
                f"ticket {ticket} is scripted for the {other} example: run it with --target {other} "
                "(or --real, or your own --scenarios)"
            )
