"""What the tests share besides fixtures: the test clients' keys, and requests as the widget makes them.

Imported as ``helpers`` (pytest puts this folder on sys.path; there is no tests package).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from support_bot import backend
from support_bot.keys import HEADER
from support_bot.observability.langfuse import Langfuse

REPO = Path(__file__).resolve().parent.parent
CLIENTS = REPO / "clients"
ACME, NORTHWIND, INITECH = "acme-shop.example", "northwind-travel.example", "initech-insurance.example"
KEYS = {ACME: "test-key-acme", NORTHWIND: "test-key-northwind"}
REVOKED_KEY = "test-key-acme-revoked"
# Cheap hashes keep the suite fast; the app checks whatever method a stored hash names.
FAST_HASH = "pbkdf2:sha256:1000"
PASSWORDS = {"alice@support.example": "correct horse", "bob@support.example": "battery staple"}


def chat(
    api: FlaskClient,
    message: str,
    *,
    client: str = ACME,
    session_id: str = "session-1",
    key: str | None = None,
) -> TestResponse:
    """POST /api/chat as the widget does; the key defaults to the client's own."""
    headers = {HEADER: KEYS[client] if key is None else key}
    return api.post(
        "/api/chat", json={"client": client, "session_id": session_id, "message": message}, headers=headers
    )


def rate(api: FlaskClient, answer_id: str, rating: str, *, client: str = ACME, **extra: Any) -> TestResponse:
    """POST /api/feedback with the client's key."""
    body = {"answer_id": answer_id, "rating": rating, **extra}
    return api.post("/api/feedback", json=body, headers={HEADER: KEYS[client]})


def log_in(client: FlaskClient, email: str) -> None:
    response = client.post("/login", data={"email": email, "password": PASSWORDS[email]})
    assert response.status_code == 302, response.text


def make_backend(database_url: str, **overrides: Any) -> Flask:
    """The chat API on ``database_url`` with Sentry off and a Langfuse sender that sends nothing."""
    settings: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "CLIENTS_DIR": CLIENTS,
        "SENTRY_DSN": "",
        "LANGFUSE": Langfuse(None),
        "TESTING": True,
    }
    return backend.create_app(settings | overrides)
