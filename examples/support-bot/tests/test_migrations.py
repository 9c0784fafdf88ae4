"""The Alembic migrations build the schema the models describe, and run from any directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from helpers import REPO
from sqlalchemy import create_engine, inspect

from support_bot.config import database_url
from support_bot.models import Base

ALEMBIC_INI = REPO / "alembic.ini"
TABLES = {"clients", "api_keys", "staff_users", "conversations", "messages", "feedback", "alembic_version"}


def upgraded(url: str) -> str:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", database_url(url))
    command.upgrade(config, "head")
    return database_url(url)


def test_upgrade_creates_the_tables(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # paths in alembic.ini are relative to the file, not the cwd
    engine = create_engine(upgraded(empty_database_url))
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_migrations_match_the_models(empty_database_url: str) -> None:
    engine = create_engine(upgraded(empty_database_url))
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_downgrade_removes_everything(empty_database_url: str) -> None:
    url = upgraded(empty_database_url)
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", url)
    command.downgrade(config, "base")
    engine = create_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
