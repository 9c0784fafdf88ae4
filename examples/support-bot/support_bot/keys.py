"""Client API keys: made here, stored as their SHA-256, checked on every API request.

A key is shown once, when it is made; the database keeps only its hash, so a leaked backup or a
read-only SQL injection yields no usable key. SHA-256 rather than a slow password hash because
keys are long random strings (nothing to brute-force) and every chat request checks one.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ApiKey, Client

HEADER = "X-Api-Key"
PREFIX = "sb_live_"
# Test fixtures, not secrets: the key ``admin seed-test-keys`` gives each client folder for browser
# checks, and the one the playground uses for ``/?client=<domain>`` when test keys are on.
TEST_PREFIX = "sb-test-key-"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(24)


def make_test_key(domain: str) -> str:
    """The test key of ``domain``: ``sb-test-key-`` and the domain with dots as dashes."""
    return TEST_PREFIX + domain.replace(".", "-")


def client_for_key(session: Session, key: str) -> Client | None:
    """The client owning ``key``, unless the key is unknown or revoked."""
    if not key:
        return None
    return session.scalar(
        select(Client).join(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    )
