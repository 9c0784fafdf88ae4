"""The operator commands: clients, keys shown once and stored hashed, staff users with real hashes, and
the test keys of every client folder for browser checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import ACME, CLIENTS, KEYS, NORTHWIND
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from support_bot import admin
from support_bot.keys import PREFIX, client_for_key, hash_key, make_test_key
from support_bot.models import ApiKey, Client, StaffUser


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


def client_folders(root: Path) -> Path:
    """The shipped clients, a new one (only its config.yaml matters here), and two folders that are not
    clients."""
    for domain in (ACME, NORTHWIND):
        shutil.copytree(CLIENTS / domain, root / domain)
    (root / "lumen-fitness.example").mkdir()
    (root / "lumen-fitness.example" / "config.yaml").write_text(
        "name: Lumen Fitness\ntone: concise\ngreeting: Hi.\nfallback: Ask the team.\nskills: [classes]\n"
    )
    (root / "Not A Domain").mkdir()
    (root / "half-done.example").mkdir()  # no config.yaml yet
    return root


def test_seed_test_keys_gives_every_client_folder_a_row_and_a_key(session: Session, tmp_path: Path) -> None:
    done = admin.seed_test_keys(session, client_folders(tmp_path))
    assert done == [
        "Not A Domain: skipped ('Not A Domain' is not a domain name)",
        f"{ACME}: client exists, added key sb-test-key-acme-shop-example",
        f"half-done.example: skipped ({tmp_path / 'half-done.example' / 'config.yaml'}: no such file)",
        "lumen-fitness.example: added client 'Lumen Fitness', added key sb-test-key-lumen-fitness-example",
        f"{NORTHWIND}: client exists, added key sb-test-key-northwind-travel-example",
    ]
    for domain in (ACME, NORTHWIND, "lumen-fitness.example"):
        key = make_test_key(domain)
        assert getattr(client_for_key(session, key), "domain", None) == domain
        assert session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key))) is not None  # hashed
    lumen = session.scalars(select(Client).where(Client.domain == "lumen-fitness.example")).one()
    assert lumen.name == "Lumen Fitness"
    # The existing keys are untouched, and a second run adds nothing.
    assert getattr(client_for_key(session, KEYS[ACME]), "domain", None) == ACME
    count = len(session.scalars(select(ApiKey)).all())
    again = admin.seed_test_keys(session, tmp_path)
    assert len(session.scalars(select(ApiKey)).all()) == count
    assert f"{ACME}: client exists, key sb-test-key-acme-shop-example exists" in again


def test_seed_test_keys_cli(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SUPPORT_BOT_CLIENTS_DIR", str(client_folders(tmp_path)))
    assert admin.main(["seed-test-keys"]) == 0
    assert "lumen-fitness.example: added client 'Lumen Fitness'" in capsys.readouterr().out
    assert admin.main(["seed-test-keys", "--clients-dir", str(tmp_path / "nowhere")]) == 0
    assert capsys.readouterr().out == f"no client folders under {tmp_path / 'nowhere'}\n"
