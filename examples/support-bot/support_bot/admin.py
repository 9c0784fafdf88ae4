"""Operator commands against ``$DATABASE_URL``; the backoffice is read-only, so these are how rows are made.

python -m support_bot.admin add-client acme-shop.example "Acme Shop"
python -m support_bot.admin add-key acme-shop.example --label "website widget"   # prints the key once
python -m support_bot.admin add-staff alice@support.example "Alice Anders"      # asks for the password
python -m support_bot.admin seed-test-keys   # browser checks: every client folder gets a row and a test key
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from . import config, keys
from .clients import ClientFileError, is_domain, load_config
from .models import ApiKey, Client, StaffUser

# For scripts; otherwise the password is asked for. The variable's name, not a password:
PASSWORD_ENV = "SUPPORT_BOT_STAFF_PASSWORD"  # noqa: S105
MIN_PASSWORD = 10
TEST_KEY_LABEL = "test key (seed-test-keys)"


class AdminError(Exception):
    """A command that cannot be done as asked; the message says why."""


def add_client(session: Session, domain: str, name: str) -> Client:
    if not is_domain(domain):
        raise AdminError(f"{domain!r} is not a domain name (lower case, e.g. acme-shop.example)")
    client = Client(domain=domain, name=name.strip() or domain)
    session.add(client)
    _commit(session, f"a client {domain} already exists")
    return client


def add_key(session: Session, domain: str, label: str = "") -> str:
    """A new key for ``domain``: returned (to show once), stored only as its hash."""
    client = session.scalar(select(Client).where(Client.domain == domain))
    if client is None:
        raise AdminError(f"no client {domain}")
    key = keys.new_key()
    session.add(ApiKey(client_id=client.id, key_hash=keys.hash_key(key), label=label))
    _commit(session, "key collision, try again")
    return key


def add_staff(session: Session, email: str, display_name: str, password: str) -> StaffUser:
    if len(password) < MIN_PASSWORD:
        raise AdminError(f"the password must have at least {MIN_PASSWORD} characters")
    staff = StaffUser(
        email=email.strip().lower(),
        display_name=display_name.strip() or email,
        password_hash=generate_password_hash(password),  # werkzeug's default: scrypt
    )
    session.add(staff)
    _commit(session, f"a staff user {email} already exists")
    return staff


def seed_test_keys(session: Session, clients_root: Path) -> list[str]:
    """For browser checks: each client folder under ``clients_root`` gets a ``clients`` row (named as its
    config.yaml says) and its test key ``sb-test-key-<domain, dots as dashes>``, stored hashed like any
    key. Rows that exist are left as they are, so running it twice adds nothing. Returns what it did,
    a line per folder; a folder that is not a client (no domain name, no readable config) is skipped."""
    done: list[str] = []
    folders = sorted(p for p in clients_root.iterdir() if p.is_dir()) if clients_root.is_dir() else []
    for folder in folders:
        domain = folder.name
        try:
            name = load_config(clients_root, domain).name
        except ClientFileError as exc:
            done.append(f"{domain}: skipped ({exc})")
            continue
        said: list[str] = []
        client = session.scalar(select(Client).where(Client.domain == domain))
        if client is None:
            client = Client(domain=domain, name=name)
            session.add(client)
            said.append(f"added client {name!r}")
        else:
            said.append("client exists")
        key = keys.make_test_key(domain)
        owner = session.scalar(select(ApiKey).where(ApiKey.key_hash == keys.hash_key(key)))
        if owner is None:
            client.api_keys.append(ApiKey(key_hash=keys.hash_key(key), label=TEST_KEY_LABEL))
            said.append(f"added key {key}")
        elif owner.client_id != client.id:
            said.append(f"key {key} belongs to another client, left alone")
        else:
            said.append(f"key {key} exists" + (" (revoked)" if owner.revoked_at else ""))
        _commit(session, f"{domain}: a concurrent change, try again")
        done.append(f"{domain}: {', '.join(said)}")
    if not folders:
        done.append(f"no client folders under {clients_root}")
    return done


def _commit(session: Session, conflict: str) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AdminError(conflict) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support_bot.admin", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    client = commands.add_parser("add-client", help="add a client (a tenant)")
    client.add_argument("domain")
    client.add_argument("name")
    key = commands.add_parser("add-key", help="make an API key for a client and print it")
    key.add_argument("domain")
    key.add_argument("--label", default="")
    staff = commands.add_parser(
        "add-staff", help=f"add a backoffice user (password from ${PASSWORD_ENV} or asked)"
    )
    staff.add_argument("email")
    staff.add_argument("display_name")
    seed = commands.add_parser(
        "seed-test-keys", help="a client row and a test key sb-test-key-<domain> for every client folder"
    )
    seed.add_argument(
        "--clients-dir", type=Path, default=None, help="default: $SUPPORT_BOT_CLIENTS_DIR or clients/"
    )
    args = parser.parse_args(argv)

    engine = create_engine(config.database_url())
    try:
        with Session(engine) as session:
            if args.command == "add-client":
                made = add_client(session, args.domain, args.name)
                print(f"added client {made.domain}")
            elif args.command == "add-key":
                print(add_key(session, args.domain, args.label))
            elif args.command == "seed-test-keys":
                for line in seed_test_keys(session, args.clients_dir or config.clients_dir()):
                    print(line)
            else:
                password = os.environ.get(PASSWORD_ENV) or getpass.getpass("Password: ")
                made_staff = add_staff(session, args.email, args.display_name, password)
                print(f"added staff user {made_staff.email}")
    except AdminError as exc:
        print(f"support_bot.admin: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
