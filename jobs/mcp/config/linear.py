"""The ticket tool's configuration (``jobs.mcp.linear``): ``FACTORY_TICKET`` (the run's ticket),
``TICKET_SOURCE`` (``linear`` or ``local``); for Linear ``LINEAR_API_KEY`` (and
``FACTORY_LINEAR_ENDPOINT``, default Linear's); for local tickets ``TICKETS_DIR`` and
``FACTORY_TICKET_LOG_DIR`` (where comments are kept)."""

from __future__ import annotations

import sys
from pathlib import Path

from jobs.errors import ConfigError
from jobs.settings import JobSettings
from jobs.tickets.source import check_identifier

TICKET_ENV = "FACTORY_TICKET"
SOURCE_ENV = "TICKET_SOURCE"
LINEAR_KEY_ENV = "LINEAR_API_KEY"
ENDPOINT_ENV = "FACTORY_LINEAR_ENDPOINT"
TICKETS_DIR_ENV = "TICKETS_DIR"
LOG_DIR_ENV = "FACTORY_TICKET_LOG_DIR"


def linear_env(settings: JobSettings, ticket_identifier: str, log_dir: Path) -> dict[str, str]:
    """The server's configuration, as its environment (with the Linear key when the source is Linear).

    ``log_dir`` is where local tickets' comments are kept (``jobs.services`` picks it)."""
    if settings.job == "solve-chatbot-issues":
        raise ConfigError("the ticket tool serves Linear or ticket files: a finding is the triage's")
    env = {TICKET_ENV: check_identifier(ticket_identifier), SOURCE_ENV: settings.ticket_source}
    if settings.ticket_source == "linear":
        if settings.linear_api_key is None:
            raise ConfigError("invalid setting LINEAR_API_KEY: required when TICKET_SOURCE=linear")
        env[LINEAR_KEY_ENV] = settings.linear_api_key.get_secret_value()
    else:
        env[TICKETS_DIR_ENV] = str(settings.tickets_dir.resolve())
        env[LOG_DIR_ENV] = str(log_dir.resolve())
    return env


def command() -> list[str]:
    """How the harness starts the server (its configuration is in its environment, never here)."""
    return [sys.executable, "-m", "jobs.mcp.linear"]
