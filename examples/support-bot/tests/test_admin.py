"""The operator commands: clients, keys shown once and stored hashed, staff users with real hashes."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from support_bot import admin
from support_bot.keys import PREFIX, client_for_key
from support_bot.models import ApiKey, StaffUser


@pytest.fixture
def session(database_url: str) -> Session:
    return Session(create_engine(database_url))


def test_add_client_and_key(session: Session) -> None:
    admin.add_client(session, "globex.example", "Globex")
    key = admin.add_key(session, "globex.example", "widget")
    assert key.startswith(PREFIX) and len(key) > 30
    assert getattr(client_for_key(session, key), "domain", None) == "globex.example"
    assert key not in {k.key_hash for k in session.scalars(select(ApiKey))}


def test_add_client_refuses_duplicates_and_bad_domains(session: Session) -> None:
    with pytest.raises(admin.AdminError, match="already exists"):
        admin.add_client(session, "acme-shop.example", "Acme again")
    with pytest.raises(admin.AdminError, match="not a domain name"):
        admin.add_client(session, "Not A Domain", "x")
    with pytest.raises(admin.AdminError, match="no client"):
        admin.add_key(session, "nobody.example")


def test_add_staff_hashes_with_scrypt(session: Session) -> None:
    admin.add_staff(session, " Carol@Support.example ", "Carol", "a long passphrase")
    carol = session.scalars(select(StaffUser).where(StaffUser.email == "carol@support.example")).one()
    assert carol.password_hash.startswith("scrypt:") and check_password_hash(
        carol.password_hash, "a long passphrase"
    )
    with pytest.raises(admin.AdminError, match="at least 10 characters"):
        admin.add_staff(session, "dave@support.example", "Dave", "short")


def test_cli(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert admin.main(["add-client", "globex.example", "Globex"]) == 0
    assert admin.main(["add-key", "globex.example"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(PREFIX)
    monkeypatch.setenv(admin.PASSWORD_ENV, "a long passphrase")
    assert admin.main(["add-staff", "erin@support.example", "Erin"]) == 0
    assert admin.main(["add-client", "globex.example", "Globex"]) == 1
    assert "already exists" in capsys.readouterr().err
