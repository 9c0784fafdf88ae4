"""The backoffice: staff sign-in, the clients with their feedback counts, conversations, transcripts."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import ACME, INITECH, NORTHWIND, chat, rate
from sqlalchemy import select

from support_bot import db
from support_bot.models import Conversation


@pytest.fixture
def chats(api: FlaskClient) -> dict[str, str]:
    """Three Acme conversations and one Northwind one; 2 up and 1 down for Acme, 1 down for Northwind."""
    ids = {}
    ids["express"] = chat(api, "Do you offer express delivery?", session_id="a1").get_json()["answer_id"]
    ids["pay"] = chat(api, "Can I pay in instalments?", session_id="a1").get_json()["answer_id"]
    ids["html"] = chat(api, "<b>bold</b> <script>alert(1)</script> gift card?", session_id="a2").get_json()[
        "answer_id"
    ]
    ids["hello"] = chat(api, "Hello", session_id="a3").get_json()["answer_id"]
    ids["bag"] = chat(api, "How big can my cabin bag be?", client=NORTHWIND, session_id="n1").get_json()[
        "answer_id"
    ]
    rate(api, ids["express"], "up")
    rate(api, ids["pay"], "up")
    rate(api, ids["html"], "down", comment="<i>no</i>")
    rate(api, ids["bag"], "down", client=NORTHWIND)
    return ids


def row(html: str, row_id: str) -> list[str]:
    """The text of each cell of the table row ``row_id``."""
    match = re.search(rf'<tr id="{re.escape(row_id)}">(.*?)</tr>', html, re.DOTALL)
    assert match, f"no row {row_id}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.DOTALL)
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells]


def test_pages_need_a_signed_in_staff_user(backoffice: Flask) -> None:
    client = backoffice.test_client()
    for path in ("/", "/conversations", "/conversations/1"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/login", path


def test_login_form(backoffice: Flask) -> None:
    html = backoffice.test_client().get("/login").text
    assert 'name="email"' in html and 'name="password"' in html


def test_sign_in_shows_who_is_signed_in(backoffice: Flask) -> None:
    client = backoffice.test_client()
    response = client.post(
        "/login",
        data={"email": "  Alice@Support.example ", "password": "correct horse"},
        follow_redirects=True,
    )
    assert response.status_code == 200 and "Signed in as Alice Anders" in response.text


@pytest.mark.parametrize(
    ("email", "password"),
    [("alice@support.example", "battery staple"), ("mallory@support.example", "correct horse")],
)
def test_wrong_password_and_unknown_email_get_the_same_answer(
    backoffice: Flask, email: str, password: str
) -> None:
    client = backoffice.test_client()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 401 and "Invalid email or password." in response.text
    assert client.get("/").status_code == 302


def test_sign_out(alice: FlaskClient) -> None:
    assert alice.get("/").status_code == 200
    response = alice.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert alice.get("/").status_code == 302


def test_login_page_sends_a_signed_in_user_home(alice: FlaskClient) -> None:
    response = alice.get("/login")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_clients_with_their_counts(alice: FlaskClient, chats: dict[str, str]) -> None:
    html = alice.get("/").text
    acme = row(html, f"client-{ACME}")
    assert acme[:6] == [f"Acme Shop {ACME}", "configured", "3", "4", "2", "1"]
    assert row(html, f"client-{NORTHWIND}")[1:6] == ["configured", "1", "1", "0", "1"]
    assert row(html, f"client-{INITECH}")[1:7] == ["not configured", "0", "0", "0", "0", "—"]


def test_clients_page_without_activity(alice: FlaskClient) -> None:
    assert row(alice.get("/").text, f"client-{ACME}")[2:6] == ["0", "0", "0", "0"]


def test_recent_conversations_latest_first(
    alice: FlaskClient, backoffice: Flask, chats: dict[str, str]
) -> None:
    html = alice.get("/conversations").text
    order = re.findall(r'<tr id="conversation-(\d+)">', html)
    with backoffice.app_context():
        sessions = dict(db.session().execute(select(Conversation.id, Conversation.session_id)).all())
    assert len(order) == 4 and sessions[int(order[-1])] == "a1"
    first_of_a1 = row(html, f"conversation-{order[-1]}")
    assert first_of_a1[1:] == [ACME, "Do you offer express delivery?", "4", "2 helpful"]


def test_transcript_shows_skills_sources_feedback_and_escapes_html(
    alice: FlaskClient, backoffice: Flask, chats: dict[str, str]
) -> None:
    with backoffice.app_context():
        a2 = db.session().scalar(select(Conversation.id).where(Conversation.session_id == "a2"))
    html = alice.get(f"/conversations/{a2}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "skill <code>payments</code>" in html and "payments.md › Gift cards" in html  # noqa: RUF001
    assert "Rated not helpful: “&lt;i&gt;no&lt;/i&gt;”" in html


def test_unknown_conversation_is_404(alice: FlaskClient) -> None:
    assert alice.get("/conversations/999999").status_code == 404


def test_health(backoffice: Flask) -> None:
    assert backoffice.test_client().get("/health").get_json() == {"ok": True}
