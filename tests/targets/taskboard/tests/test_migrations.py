"""The Alembic migrations build the schema the models describe, and run from any directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from taskboard.models import Base

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def upgraded(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")
    return url


def test_upgrade_creates_the_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # paths in alembic.ini are relative to the file, not the cwd
    engine = create_engine(upgraded(tmp_path))
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"users", "tasks", "alembic_version"} <= tables


def test_migrations_match_the_models(tmp_path: Path) -> None:
    engine = create_engine(upgraded(tmp_path))
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
