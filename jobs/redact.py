"""Removing secrets from everything we write: logs, transcripts, artifacts, PR bodies, messages.

Two nets: the exact values of the secrets this process holds, in the encodings they leak in (raw,
base64 at any alignment, URL-encoded, JSON-escaped), and the shapes of well-known token formats,
which also catches secrets we were never told about.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from pydantic import SecretStr

MASK = "[REDACTED]"
MIN_SECRET_LENGTH = 8

TOKEN_PATTERNS = (
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"lin_(?:api|oauth)_[A-Za-z0-9]{20,}"),
    re.compile(r"xox[abposr]-[A-Za-z0-9\-]{10,}"),
    re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]+"),
    re.compile(r"AIza[0-9A-Za-z_\-]{35}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"sntry[su]_[A-Za-z0-9+/=_\-]{20,}"),
    re.compile(r"(?:sk|pk)-lf-[A-Za-z0-9\-]{16,}"),
)
# Credentials inside URLs: https://user:token@host -> https://[REDACTED]@host
URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)[^/\s@:]+(?::[^/\s@]*)?@", re.IGNORECASE)


def base64_cores(secret: bytes) -> set[str]:
    """Substrings that appear in any base64 text containing ``secret``, at each of the 3 alignments."""
    cores: set[str] = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret).decode().rstrip("=")
        start = (shift * 4 + 2) // 3
        end = len(encoded) - (1 if (shift + len(secret)) % 3 else 0)
        core = encoded[start:end]
        if len(core) >= MIN_SECRET_LENGTH:
            cores.add(core)
            cores.add(core.replace("+", "-").replace("/", "_"))
    return cores


def variants(secret: str) -> set[str]:
    """The forms a secret value takes when it leaks through common encodings."""
    found = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    found |= base64_cores(secret.encode())
    return {v for v in found if len(v) >= MIN_SECRET_LENGTH}


class Redactor:
    """Masks known secret values (in every variant) and well-known token shapes."""

    def __init__(self, secrets: Iterable[SecretStr | str | None] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: SecretStr | str | None) -> None:
        for secret in secrets:
            value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
            if value and len(value) >= MIN_SECRET_LENGTH:
                self._values |= variants(value)
        # Longest first, so a value is masked whole before any shorter variant inside it.
        ordered = sorted(self._values, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def finds_secret(self, text: str) -> bool:
        """Whether ``text`` holds a known secret value or a well-known token shape."""
        if self._pattern is not None and self._pattern.search(text):
            return True
        return any(pattern.search(text) for pattern in TOKEN_PATTERNS)

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        for pattern in TOKEN_PATTERNS:
            text = pattern.sub(MASK, text)
        return URL_USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", text)
