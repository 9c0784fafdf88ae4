"""Removing secrets from everything we write: logs, transcripts, artifacts, PR bodies, messages, commits.

Two nets: the exact values of the secrets this process holds, in the encodings they leak in, and the
shapes of well-known token formats, which also catches secrets we were never told about. The encodings:
raw; base64 (standard and URL-safe) and base32 (upper and lower case) at any alignment, padded or not;
hex (lower and upper case); URL-encoded; JSON-escaped (``\\/``, ``\\u00xx`` for every character); and
each of those reversed, and of the reversed value. The forms are computed once per redactor and compiled
into one prefix-tree alternation, so a text is scanned in one pass however many forms there are.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from itertools import groupby
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
# An escape as quote() writes it, to add the lower-case spelling other encoders use.
PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
URL_SAFE = str.maketrans("+/", "-_")


def _cores(secret: bytes, encode: Callable[[bytes], bytes], group: int, bits: int) -> set[str]:
    """The characters of ``encode``'s output that depend on ``secret`` alone, at each of the ``group``
    alignments it can take inside a longer encoded text (one character holds ``bits`` bits)."""
    cores: set[str] = set()
    for shift in range(group):
        encoded = encode(b"\0" * shift + secret).decode().rstrip("=")
        first = -(-8 * shift // bits)  # the first character with no bit of the bytes before the secret
        end = 8 * (shift + len(secret)) // bits  # past the last character with no bit of the bytes after
        cores.add(encoded[first:end])
    return {core for core in cores if len(core) >= MIN_SECRET_LENGTH}


def base64_cores(secret: bytes) -> set[str]:
    """Substrings of any base64 text containing ``secret``: 3 alignments, standard and URL-safe alphabets."""
    cores = _cores(secret, base64.b64encode, 3, 6)
    return cores | {core.translate(URL_SAFE) for core in cores}


def base32_cores(secret: bytes) -> set[str]:
    """Substrings of any base32 text containing ``secret``: 5 alignments, upper and lower case."""
    cores = _cores(secret, base64.b32encode, 5, 5)
    return cores | {core.lower() for core in cores}


def _url_forms(secret: str) -> set[str]:
    """Percent-encoded as libraries do (``/`` kept or not, ``+`` for spaces) and every byte escaped."""
    escaped = {
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        "".join(f"%{byte:02X}" for byte in secret.encode()),
    }
    return escaped | {PERCENT_ESCAPE.sub(lambda m: m.group().lower(), form) for form in escaped}


def _json_forms(secret: str) -> set[str]:
    """Inside a JSON string: as serializers write it, with ``\\/``, and with every character ``\\uXXXX``."""
    written = {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    utf16 = secret.encode("utf-16-be")
    units = [int.from_bytes(utf16[i : i + 2], "big") for i in range(0, len(utf16), 2)]
    return (
        written
        | {form.replace("/", "\\/") for form in written}
        | {"".join(f"\\u{unit:04x}" for unit in units), "".join(f"\\u{unit:04X}" for unit in units)}
    )


def encodings(secret: str) -> set[str]:
    """``secret`` and the forms it takes through each encoding we know."""
    data = secret.encode()
    return {
        secret,
        data.hex(),
        data.hex().upper(),
        *_url_forms(secret),
        *_json_forms(secret),
        *base64_cores(data),
        *base32_cores(data),
    }


def variants(secret: str) -> set[str]:
    """The forms a secret value takes when it leaks: each encoding of it or of it reversed, either way."""
    found: set[str] = set()
    for value in (secret, secret[::-1]):
        for form in encodings(value):
            found |= {form, form[::-1]}
    return {v for v in found if len(v) >= MIN_SECRET_LENGTH}


def _any_of(needles: set[str]) -> re.Pattern[str] | None:
    """One pattern for all ``needles`` that matches the longest of those starting at the same place.

    A flat alternation makes the engine try each needle in turn at every position (about 20 s on 50 MB
    for 5 secrets); a prefix tree costs one step per distinct next character (about 2 s)."""
    if not needles:
        return None
    try:
        return re.compile(_prefix_tree(sorted(needles)))
    except RecursionError:  # needles nested too deep for a tree: the flat form, slower, the same matches
        return re.compile("|".join(map(re.escape, sorted(needles, key=len, reverse=True))))


def _prefix_tree(words: list[str]) -> str:
    """A regex for the sorted, distinct ``words`` (the first may be empty), grouped on common prefixes."""
    ends_here = words[0] == ""
    branches = []
    for _, grouped in groupby(words[ends_here:], key=lambda word: word[0]):
        group = list(grouped)
        first, last = group[0], group[-1]  # sorted: what these two share, the whole group shares
        shared = min(len(first), len(last))
        size = next((i for i in range(shared) if first[i] != last[i]), shared)
        prefix = first[:size]
        branches.append(re.escape(prefix) + _prefix_tree([word[len(prefix) :] for word in group]))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # Greedy: the longer needle is preferred, so a value is masked whole, not by a shorter form inside it.
    return f"(?:{body})?" if ends_here else body


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
        self._pattern = _any_of(self._values)

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
