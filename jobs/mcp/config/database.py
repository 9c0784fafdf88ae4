"""The database tool's configuration (``jobs.mcp.database``): ``FACTORY_DATABASE_URL``
(``postgresql://role:password@host:port/database``), ``FACTORY_DATABASE_TIMEOUT`` (seconds, default 10),
``FACTORY_DATABASE_MAX_ROWS`` (default 200), ``FACTORY_PSQL`` (default: psql on PATH or beside the
server)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from jobs.phases.e2e.database import READER_TIMEOUT

URL_ENV = "FACTORY_DATABASE_URL"
TIMEOUT_ENV = "FACTORY_DATABASE_TIMEOUT"
MAX_ROWS_ENV = "FACTORY_DATABASE_MAX_ROWS"
PSQL_ENV = "FACTORY_PSQL"
MAX_ROWS = 200
CONNECT_SECONDS = 10


@dataclass(frozen=True)
class DatabaseConfig:
    """Where to connect (the reader role's DSN), how long a statement may run, how many rows to show."""

    url: str
    timeout: float = READER_TIMEOUT
    max_rows: int = MAX_ROWS
    psql: Path | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.username:
            raise ValueError(f"{URL_ENV} must be postgresql://role:password@host:port/database")
        if self.timeout <= 0 or self.max_rows <= 0:
            raise ValueError("the timeout and the row cap must be positive")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DatabaseConfig:
        if not env.get(URL_ENV):
            raise SystemExit(f"{URL_ENV} must be set")
        psql = env.get(PSQL_ENV)
        return cls(
            env[URL_ENV],
            float(env.get(TIMEOUT_ENV) or READER_TIMEOUT),
            int(env.get(MAX_ROWS_ENV) or MAX_ROWS),
            Path(psql) if psql else None,
        )

    def client_env(self) -> dict[str, str]:
        """psql's whole environment: the connection (password included) and the session's limits."""
        parts = urlsplit(self.url)
        timeout_ms = round(self.timeout * 1000)
        options = (
            "-c default_transaction_read_only=on",
            f"-c statement_timeout={timeout_ms}",
            f"-c idle_in_transaction_session_timeout={timeout_ms}",
            "-c client_min_messages=warning",
        )
        return {
            "PATH": os.environ.get("PATH", os.defpath),
            "LC_ALL": "C.UTF-8",
            "HOME": "/nonexistent",  # no ~/.pgpass, ~/.psqlrc or service file of anyone's
            "PGHOST": parts.hostname or "",
            "PGPORT": str(parts.port or 5432),
            "PGUSER": unquote(parts.username or ""),
            "PGPASSWORD": unquote(parts.password or ""),
            "PGDATABASE": unquote(parts.path.lstrip("/")),
            "PGAPPNAME": "factory-agent-tool",
            "PGCLIENTENCODING": "UTF8",
            "PGCONNECT_TIMEOUT": str(CONNECT_SECONDS),
            "PGOPTIONS": " ".join(options),
        }


def database_env(
    dsn: str, *, timeout: float = READER_TIMEOUT, max_rows: int = MAX_ROWS, psql: Path | None = None
) -> dict[str, str]:
    """The server's configuration, as its environment (the DSN holds the role's password)."""
    config = DatabaseConfig(dsn, timeout, max_rows, psql)
    env = {URL_ENV: config.url, TIMEOUT_ENV: f"{config.timeout:g}", MAX_ROWS_ENV: str(config.max_rows)}
    if psql is not None:
        env[PSQL_ENV] = str(psql)
    return env


def command() -> list[str]:
    """How the harness starts this server (its configuration is in its environment, never here)."""
    return [sys.executable, "-m", "jobs.mcp.database"]
