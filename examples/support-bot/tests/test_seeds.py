"""The e2e seed files on PostgreSQL after the migrations, as Factory loads them: in order, each in one
transaction, and safe to load twice. Skipped without ``SUPPORT_BOT_TEST_DATABASE_URL`` (see conftest)."""

from __future__ import annotations

import psycopg
import pytest
import yaml
from conftest import postgres_admin_url
from flask.testing import FlaskClient
from helpers import ACME, INITECH, NORTHWIND, REPO, make_backend
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session
from test_migrations import upgraded
from werkzeug.security import check_password_hash

from support_bot.keys import HEADER, client_for_key
from support_bot.models import Client, Conversation, Feedback, Message, StaffUser

pytestmark = pytest.mark.skipif(not postgres_admin_url(), reason="the seeds are PostgreSQL SQL")
SEEDS = yaml.safe_load((REPO / ".factory.yaml").read_text())["e2e"]["seeds"]


def load(url: str) -> None:
    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    for seed in SEEDS:
        with psycopg.connect(libpq) as connection:  # one transaction per file, like psql --single-transaction
            connection.execute((REPO / seed).read_text())  # a file of ours, not user input


@pytest.fixture
def seeded(empty_database_url: str) -> str:
    url = upgraded(empty_database_url)
    load(url)
    return url


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            tables = ("clients", "api_keys", "staff_users", "conversations", "messages", "feedback")
            return {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
    finally:
        engine.dispose()


def test_the_four_scenarios_are_listed_in_order() -> None:
    assert [s.rsplit("/", 1)[-1] for s in SEEDS] == [
        "base.sql",
        "auth-users.sql",
        "content-populated.sql",
        "multi-tenant.sql",
    ]


def test_seeds_load_and_load_again_without_duplicates(seeded: str) -> None:
    expected = {
        "clients": 3,
        "api_keys": 3,
        "staff_users": 2,
        "conversations": 11,
        "messages": 28,
        "feedback": 10,
    }
    assert counts(seeded) == expected
    load(seeded)
    assert counts(seeded) == expected


def test_seeded_staff_passwords_and_keys_work(seeded: str) -> None:
    engine = create_engine(seeded)
    with Session(engine) as s:
        alice = s.scalar(select(StaffUser).where(StaffUser.email == "alice@support.example"))
        assert alice is not None and check_password_hash(alice.password_hash, "correct horse")
        assert getattr(client_for_key(s, "sb-test-key-acme-shop"), "domain", None) == ACME
        assert getattr(client_for_key(s, "sb-test-key-northwind"), "domain", None) == NORTHWIND
        assert client_for_key(s, "sb-test-key-acme-shop-revoked") is None
    engine.dispose()


def test_seeded_conversations_are_in_order_with_their_feedback(seeded: str) -> None:
    engine = create_engine(seeded)
    with Session(engine) as s:
        conversation = s.scalars(select(Conversation).where(Conversation.session_id == "acme-demo-03")).one()
        assert [(m.role, m.skill) for m in conversation.messages] == [
            ("user", None),
            ("bot", "greeting"),
            ("user", None),
            ("bot", "order-status"),
        ]
        down_skills = s.scalars(select(Message.skill).join(Feedback).where(Feedback.rating == -1)).all()
        assert sorted(str(skill) for skill in down_skills) == [
            "fallback",
            "fallback",
            "shipping",
            "shipping",
            "shipping",
        ]
        initech = select(func.count(Conversation.id)).join(Client).where(Client.domain == INITECH)
        assert s.scalar(initech) == 0
    engine.dispose()


def test_the_api_answers_with_a_seeded_key(seeded: str) -> None:
    api: FlaskClient = make_backend(seeded).test_client()
    body = {"client": ACME, "session_id": "acme-demo-01", "message": "Do you ship to Canada?"}
    response = api.post("/api/chat", json=body, headers={HEADER: "sb-test-key-acme-shop"})
    assert response.status_code == 200 and response.get_json()["skill"] == "shipping"
    assert counts(seeded)["conversations"] == 11  # the seeded conversation continued
