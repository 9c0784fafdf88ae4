"""POST /api/feedback: rating an answer, rating it again, and never another client's answer."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import ACME, KEYS, NORTHWIND, chat, rate
from sqlalchemy import select

from support_bot import db
from support_bot.keys import HEADER
from support_bot.models import Feedback, Message


def answer_id(api: FlaskClient, message: str = "Do you offer express delivery?", **kw: str) -> str:
    response = chat(api, message, **kw)
    assert response.status_code == 200, response.text
    return str(response.get_json()["answer_id"])


def ratings(app: Flask) -> list[tuple[int, str | None]]:
    with app.app_context():
        return [(f.rating, f.comment) for f in db.session().scalars(select(Feedback).order_by(Feedback.id))]


def test_thumbs_up_is_stored(api: FlaskClient, backend: Flask) -> None:
    answer = answer_id(api)
    response = rate(api, answer, "up")
    assert response.status_code == 201
    assert response.get_json() == {"answer_id": answer, "rating": "up"}
    assert ratings(backend) == [(1, None)]


def test_rating_again_replaces_the_rating(api: FlaskClient, backend: Flask) -> None:
    answer = answer_id(api)
    rate(api, answer, "up")
    response = rate(api, answer, "down", comment="  Not what I asked  ")
    assert response.status_code == 200
    assert ratings(backend) == [(-1, "Not what I asked")]


def test_another_client_s_answer_is_not_found(api: FlaskClient, backend: Flask) -> None:
    answer = answer_id(api)
    response = rate(api, answer, "down", client=NORTHWIND)
    assert response.status_code == 404 and response.get_json() == {"error": "no such answer"}
    assert ratings(backend) == []


def test_only_answers_can_be_rated(api: FlaskClient, backend: Flask) -> None:
    answer_id(api)
    with backend.app_context():
        question = db.session().scalar(select(Message.public_id).where(Message.role == "user"))
    assert question is not None
    assert rate(api, question, "up").status_code == 404
    assert rate(api, "00000000-0000-0000-0000-000000000000", "up").status_code == 404


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"rating": "meh"}, "rating must be 'up' or 'down'"),
        ({"answer_id": ""}, "answer_id must be"),
        ({"answer_id": 7}, "answer_id must be"),
        ({"comment": 3}, "comment must be a string"),
        ({"comment": "x" * 1001}, "comment must be a string of at most 1000 characters"),
    ],
)
def test_invalid_feedback_is_400(api: FlaskClient, extra: dict[str, object], error: str) -> None:
    body = {"answer_id": answer_id(api), "rating": "up"} | extra
    response = api.post("/api/feedback", json=body, headers={HEADER: KEYS[ACME]})
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(error)


def test_feedback_needs_a_key(api: FlaskClient) -> None:
    assert api.post("/api/feedback", json={"answer_id": "x", "rating": "up"}).status_code == 401
