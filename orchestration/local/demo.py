"""The local demo: an example ticket through ``orchestration/factory.yaml`` on the local engine.

The example app is seeded into a bare repository standing in for GitHub (kept between runs unless
``fresh``), then the ticket runs exactly as ``factory solve-linear-ticket`` runs it: each phase's job as
a Cloud Run Job would run it, a directory for the artifact prefix, the example ticket files for Linear,
and the offline model (the example scenarios, or ``scenarios``) unless ``real_model`` asks for Claude.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from orchestration.local.inputs import check_ticket, resolve_path
from orchestration.local.remote import seed_bare_remote
from orchestration.local.stack import EXAMPLES, LocalStack
from orchestration.local.ticket import solve_ticket


def demo(
    ticket: str,
    artifacts: Path,
    real_model: bool,
    fresh: bool,
    *,
    scenarios: Path | None = None,
    keep_work: bool = False,
) -> int:
    """Seed the example remote and take ``ticket`` through the workflow on the local engine.

    A ticket with no file under ``examples/tickets`` is a ConfigError before anything is seeded."""
    check_ticket(EXAMPLES / "tickets", ticket)
    artifacts = resolve_path(artifacts)
    remote = artifacts / "demo" / "remote.git"
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
    seed_bare_remote(EXAMPLES / "notes-app", remote)
    return solve_ticket(stack, ticket)
