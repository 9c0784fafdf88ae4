"""The health endpoint, and how the database URL from the environment is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from taskboard import create_app
from taskboard.config import DEFAULT_SQLITE, database_url


def test_health_ok_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}


def test_health_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    # SQLite cannot open a file in a directory that does not exist.
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'x.db'}", "SECRET_KEY": "s"})
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"ok": False, "error": "database unavailable"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # What Factory's e2e phase and most hosts hand out: libpq URLs without a driver.
        (
            "postgresql://postgres@127.0.0.1:54321/factory_e2e",
            "postgresql+psycopg://postgres@127.0.0.1:54321/factory_e2e",
        ),
        ("postgres://u:p@db.internal/app", "postgresql+psycopg://u:p@db.internal/app"),
        ("postgresql+psycopg://u@h/app", "postgresql+psycopg://u@h/app"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_url_forms(raw: str, expected: str) -> None:
    assert database_url(raw) == expected


def test_database_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/tb")
    assert database_url() == "postgresql+psycopg://postgres@127.0.0.1:5432/tb"
    monkeypatch.setenv("DATABASE_URL", "")
    assert database_url() == f"sqlite:///{DEFAULT_SQLITE}"
