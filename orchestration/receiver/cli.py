"""``factory receiver``: the Linear webhook receiver from the command line.

Settings come from the environment, as on Cloud Run (``LINEAR_WEBHOOK_SECRET``, ``FACTORY_TRIGGER_LABEL``,
``FACTORY_LINEAR_TEAM``, ...; see settings.py); ``--port`` and ``--host`` override ``PORT`` and ``HOST``.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from orchestration.receiver.service import main

app = typer.Typer(add_completion=False, no_args_is_help=True, help="The Linear webhook receiver.")


@app.callback()
def receiver() -> None:
    """The Linear webhook receiver (a group, so that `serve` is a subcommand on its own too)."""


@app.command("serve")
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default: PORT, else 8080).")] = None,
    host: Annotated[str | None, typer.Option(help="Interface (default: HOST, else 0.0.0.0).")] = None,
) -> None:
    """Serve POST /linear/webhook until SIGTERM or Ctrl-C; exit 2 on a bad setting."""
    environ = dict(os.environ)
    if port is not None:
        environ["PORT"] = str(port)
    if host is not None:
        environ["HOST"] = host
    raise typer.Exit(main(environ))
