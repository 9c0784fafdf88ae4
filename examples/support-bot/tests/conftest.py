"""Fixtures: a fresh database per test, three clients (two with keys), two staff users, and the apps.

The database is a SQLite file per test unless ``SUPPORT_BOT_TEST_DATABASE_URL`` names a PostgreSQL
server (``postgresql://postgres@127.0.0.1:5432/postgres``, a role allowed to create databases): then
each test gets its own database there, dropped afterwards. The suite passes on both; the seed tests
(``test_seeds.py``) need PostgreSQL and are skipped without it.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import (
    ACME,
    CLIENTS,
    FAST_HASH,
    INITECH,
    KEYS,
    NORTHWIND,
    PASSWORDS,
    REVOKED_KEY,
    log_in,
    make_backend,
)
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from support_bot import backoffice as backoffice_app
from support_bot.config import database_url as sqlalchemy_url
from support_bot.keys import hash_key
from support_bot.models import ApiKey, Base, Client, StaffUser

POSTGRES_ENV = "SUPPORT_BOT_TEST_DATABASE_URL"


def postgres_admin_url() -> str:
    return os.environ.get(POSTGRES_ENV, "").strip()


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it: a SQLite file, or a new PostgreSQL database."""
    admin = postgres_admin_url()
    if not admin:
        yield f"sqlite:///{tmp_path / 'support_bot.db'}"
        return
    name = f"sb_test_{secrets.token_hex(6)}"
    engine = create_engine(sqlalchemy_url(admin), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(sqlalchemy_url(admin)).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:  # FORCE: the apps' pools may still hold connections
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def seed(url: str) -> None:
    """The schema (from the models); Acme (a key and a revoked one), Northwind (a key), Initech (no key,
    no files); two staff users."""
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    revoked = ApiKey(key_hash=hash_key(REVOKED_KEY), label="old", revoked_at=datetime(2025, 1, 1, tzinfo=UTC))
    with Session(engine) as s:
        s.add_all(
            [
                Client(
                    domain=ACME, name="Acme Shop", api_keys=[ApiKey(key_hash=hash_key(KEYS[ACME])), revoked]
                ),
                Client(
                    domain=NORTHWIND,
                    name="Northwind Travel",
                    api_keys=[ApiKey(key_hash=hash_key(KEYS[NORTHWIND]))],
                ),
                Client(domain=INITECH, name="Initech Insurance"),
                StaffUser(
                    email="alice@support.example",
                    password_hash=generate_password_hash(PASSWORDS["alice@support.example"], FAST_HASH),
                    display_name="Alice Anders",
                ),
                StaffUser(
                    email="bob@support.example",
                    password_hash=generate_password_hash(PASSWORDS["bob@support.example"], FAST_HASH),
                    display_name="Bob Baker",
                ),
            ]
        )
        s.commit()
    engine.dispose()


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file seeded once a session, which each test's database starts as a copy of."""
    path = tmp_path_factory.mktemp("seeded") / "support_bot.db"
    seed(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(empty_database_url: str, request: pytest.FixtureRequest) -> str:
    """A database seeded as ``seed`` does: on PostgreSQL seeded afresh, on SQLite a copy of one file."""
    url = make_url(empty_database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        shutil.copyfile(request.getfixturevalue("seeded_sqlite"), url.database)
    else:
        seed(empty_database_url)
    return empty_database_url


@pytest.fixture
def backend(database_url: str) -> Flask:
    return make_backend(database_url)


@pytest.fixture
def api(backend: Flask) -> FlaskClient:
    return backend.test_client()


@pytest.fixture
def backoffice(database_url: str) -> Flask:
    settings = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "CLIENTS_DIR": CLIENTS,
        "SENTRY_DSN": "",
    }
    return backoffice_app.create_app(settings | {"TESTING": True})


@pytest.fixture
def alice(backoffice: Flask) -> FlaskClient:
    client = backoffice.test_client()
    log_in(client, "alice@support.example")
    return client
