"""POST /api/chat: keys, validation, what is stored, CORS, the widget settings and /health."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import ACME, INITECH, KEYS, NORTHWIND, REVOKED_KEY, chat, make_backend
from sqlalchemy import select

from support_bot import db
from support_bot.keys import HEADER
from support_bot.models import Conversation, Message


def stored(app: Flask) -> list[tuple[str, str, str, str | None]]:
    """(client, session, role, skill) of every message, in order."""
    with app.app_context():
        rows = db.session().execute(
            select(Conversation.session_id, Message.role, Message.skill, Conversation.client_id)
            .join(Message)
            .order_by(Message.id)
        )
        return [(str(client_id), session, role, skill) for session, role, skill, client_id in rows]


def test_chat_answers_with_skill_sources_and_an_answer_id(api: FlaskClient) -> None:
    response = chat(api, "Do you offer express delivery?")
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["answer_id", "answer", "skill", "sources", "session_id"]
    assert body["skill"] == "shipping" and "$12.95" in body["answer"]
    assert body["sources"][0] == {
        "doc": "shipping.md",
        "title": "Shipping and delivery",
        "section": body["sources"][0]["section"],
    }
    assert body["session_id"] == "session-1" and len(body["answer_id"]) == 36


def test_each_turn_stores_the_question_and_the_answer(api: FlaskClient, backend: Flask) -> None:
    first = chat(api, "Hello").get_json()
    chat(api, "Which payment methods do you accept?")
    assert [(role, skill) for _, _, role, skill in stored(backend)] == [
        ("user", None),
        ("bot", "greeting"),
        ("user", None),
        ("bot", "payments"),
    ]
    with backend.app_context():
        conversations = db.session().scalars(select(Conversation)).all()
        assert len(conversations) == 1
        [answer] = db.session().scalars(select(Message).where(Message.public_id == first["answer_id"]))
        assert answer.role == "bot" and answer.latency_ms is not None and answer.sources == []


def test_sessions_are_separate_conversations_and_never_shared_across_clients(
    api: FlaskClient, backend: Flask
) -> None:
    chat(api, "Hello", session_id="a")
    chat(api, "Hello", session_id="b")
    chat(api, "Good morning", session_id="a", client=NORTHWIND)
    with backend.app_context():
        pairs = db.session().execute(select(Conversation.client_id, Conversation.session_id)).all()
    assert len(pairs) == 3 and len({client for client, _ in pairs}) == 2


def test_message_is_trimmed_before_it_is_answered_and_stored(api: FlaskClient, backend: Flask) -> None:
    assert chat(api, "   Hello   ").get_json()["skill"] == "greeting"
    with backend.app_context():
        assert db.session().scalar(select(Message.content).where(Message.role == "user")) == "Hello"


@pytest.mark.parametrize("key", ["", "not-a-key", REVOKED_KEY])
def test_a_missing_unknown_or_revoked_key_is_401(api: FlaskClient, key: str) -> None:
    response = chat(api, "Hello", key=key)
    assert response.status_code == 401
    assert response.get_json() == {"error": f"a valid {HEADER} header is required"}


def test_a_key_for_another_client_is_403(api: FlaskClient, backend: Flask) -> None:
    response = chat(api, "Hello", client=NORTHWIND, key=KEYS[ACME])
    assert response.status_code == 403
    assert response.get_json() == {"error": f"this API key is not valid for {NORTHWIND}"}
    assert stored(backend) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"session_id": "s", "message": "Hello"}, "client must be the client's domain"),
        ({"client": ACME, "message": "Hello"}, "session_id must be"),
        ({"client": ACME, "session_id": "has spaces", "message": "Hello"}, "session_id must be"),
        ({"client": ACME, "session_id": "x" * 65, "message": "Hello"}, "session_id must be"),
        ({"client": ACME, "session_id": "s"}, "message must be a non-empty string"),
        ({"client": ACME, "session_id": "s", "message": "   "}, "message must be a non-empty string"),
        ({"client": ACME, "session_id": "s", "message": 42}, "message must be a non-empty string"),
        (
            {"client": ACME, "session_id": "s", "message": "a" * 2001},
            "message is longer than 2000 characters",
        ),
    ],
)
def test_invalid_requests_are_400(api: FlaskClient, body: dict[str, object], error: str) -> None:
    response = api.post("/api/chat", json=body, headers={HEADER: KEYS[ACME]})
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(error)


def test_a_body_that_is_not_a_json_object_is_400(api: FlaskClient) -> None:
    for data in ("not json", "[1, 2]"):
        response = api.post(
            "/api/chat", data=data, headers={HEADER: KEYS[ACME], "Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert response.get_json() == {"error": "the body must be a JSON object"}


def test_a_client_without_files_is_503(database_url: str, tmp_path: Path) -> None:
    api = make_backend(database_url, CLIENTS_DIR=tmp_path).test_client()
    response = chat(api, "Hello")
    assert response.status_code == 503
    assert response.get_json() == {"error": f"{ACME} is not configured yet"}


def test_widget_settings_come_from_the_key_s_client(api: FlaskClient) -> None:
    response = api.get("/api/widget", headers={HEADER: KEYS[NORTHWIND]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["client"] == NORTHWIND and body["name"] == "Northwind Travel"
    assert body["greeting"].startswith("Good day, and welcome to Northwind Travel.")
    assert api.get("/api/widget").status_code == 401


def test_cors_lets_a_client_site_call_the_api(api: FlaskClient) -> None:
    preflight = api.options(
        "/api/chat",
        headers={"Origin": "http://127.0.0.1:3001", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert HEADER in preflight.headers["Access-Control-Allow-Headers"]
    assert chat(api, "Hello").headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in api.get("/health").headers


def test_unknown_routes_answer_json(api: FlaskClient) -> None:
    response = api.get("/api/nothing")
    assert response.status_code == 404 and "error" in response.get_json()
    assert api.get("/api/chat").status_code == 405


def test_health(api: FlaskClient, tmp_path: Path) -> None:
    assert api.get("/health").get_json() == {"ok": True}
    broken = make_backend(f"sqlite:///{tmp_path / 'missing' / 'x.db'}").test_client()
    response = broken.get("/health")
    assert response.status_code == 503 and response.get_json() == {
        "ok": False,
        "error": "database unavailable",
    }


def test_a_client_in_the_database_without_a_key_cannot_chat(api: FlaskClient) -> None:
    assert chat(api, "Hello", client=INITECH, key="").status_code == 401
