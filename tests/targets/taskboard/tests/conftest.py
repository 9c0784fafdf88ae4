"""Fixtures: an app on a fresh SQLite file per test, two users, and logged-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from taskboard import create_app
from taskboard.models import Base, Task, User

# Cheap hashes keep the suite fast; the app checks whatever method a stored hash names.
FAST_HASH = "pbkdf2:sha256:1000"
PASSWORDS = {"alice@example.com": "correct horse", "bob@example.com": "battery staple"}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'taskboard.db'}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all(
            [
                User(
                    email="alice@example.com",
                    password_hash=generate_password_hash(PASSWORDS["alice@example.com"], FAST_HASH),
                    display_name="Alice Anders",
                    tasks=[Task(title="Water the plants"), Task(title="File taxes", done=True)],
                ),
                User(
                    email="bob@example.com",
                    password_hash=generate_password_hash(PASSWORDS["bob@example.com"], FAST_HASH),
                    display_name="Bob Baker",
                    tasks=[Task(title="Bob's secret plan")],
                ),
            ]
        )
        s.commit()
    engine.dispose()
    return url


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret", "TESTING": True})
    yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def log_in(client: FlaskClient, email: str) -> None:
    response = client.post("/login", data={"email": email, "password": PASSWORDS[email]})
    assert response.status_code == 302, response.text


@pytest.fixture
def alice(app: Flask) -> FlaskClient:
    client = app.test_client()
    log_in(client, "alice@example.com")
    return client


@pytest.fixture
def bob(app: Flask) -> FlaskClient:
    client = app.test_client()
    log_in(client, "bob@example.com")
    return client


@pytest.fixture
def task_id(database_url: str) -> Callable[[str], int]:
    """The id of the task with this title, read straight from the database."""

    def find(title: str) -> int:
        engine = create_engine(database_url)
        try:
            with Session(engine) as s:
                return s.scalars(select(Task.id).where(Task.title == title)).one()
        finally:
            engine.dispose()

    return find
