"""The redactor: known secrets in every encoding they leak in, and well-known token shapes (E1, issue 13)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from pydantic import SecretStr

from jobs.redact import MASK, Redactor

CANARIES = [
    "sk-ant-api03-canaryCANARYcanaryCANARYcanary-000001AA",
    "ghp_canaryCANARYcanaryCANARYcanary000002",
    "github_pat_11canaryCANARY_canaryCANARYcanary000003",
    "lin_api_canaryCANARYcanaryCANARYcanary000004",
    "https://hooks.slack.com/services/T000/B000/canaryCANARY000005",
    "xoxb-0000-canaryCANARY000006",
    "s3cr3t-value-without-any-known-shape-0007",
]


def leaks(secret: str) -> list[str]:
    return [
        secret,
        f"prefix {secret} suffix",
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(b"x" + secret.encode()).decode(),
        base64.b64encode(b"xy" + secret.encode()).decode(),
        base64.urlsafe_b64encode(b"user:" + secret.encode()).decode(),
        quote(secret, safe=""),
        json.dumps({"k": secret + '"\n'}),
        *(base64.urlsafe_b64encode(b"\xfb" * n + secret.encode()).decode() for n in range(3)),
    ]


# Canaries in the real formats of the secrets a job holds: never real values, but shaped like them.
REAL_FORMAT_CANARIES = {
    "anthropic": "sk-ant-api03-HLxDsCxqjBLd3qbJskH53rGTD-2U3OpSH5r44wLzwTGV6HJYq-EEyUqj37Xa2fCs_4Gu0GSzVrE_"
    "BfeTRxLyvoCvi2e4RAA",
    "github": "ghp_PfHaithAt6rKMSe8EHx21cauvjFJIH0EoQns",
    "linear": "lin_api_ZcyGT6kVjqBR02nqBLpwXpLsBnPwBcuzDfeWcM6a",
    "slack": "https://hooks.slack.com/services/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",
}


def encoded_forms(secret: str) -> dict[str, str]:
    """Texts holding ``secret`` through each encoding the redactor must see through, by name."""
    data = secret.encode()
    return {
        "base64 at offset 0": base64.b64encode(data).decode(),
        "base64 at offset 1": base64.b64encode(b"x" + data).decode(),
        "base64 at offset 2": base64.b64encode(b"xy" + data + b"z").decode(),
        "url-safe base64 at offset 1": base64.urlsafe_b64encode(b"\xfb" + data).decode(),
        "base32 at offset 0": base64.b32encode(data).decode(),
        "base32 at offset 3, unpadded": base64.b32encode(b"abc" + data).decode().rstrip("="),
        "base32 at offset 4, lower case": base64.b32encode(b"abcd" + data + b"e").decode().lower(),
        "hex": data.hex(),
        "HEX": data.hex().upper(),
        "url-encoded": quote(secret, safe=""),
        "url-encoded, every byte": "".join(f"%{byte:02x}" for byte in data),
        "json, every character \\u-escaped": "".join(f"\\u{ord(char):04X}" for char in secret),
        "json, with \\/": json.dumps(secret).replace("/", "\\/")[1:-1],
        "reversed": secret[::-1],
        "reversed hex": data.hex()[::-1],
        "base64 of the reversed value": base64.b64encode(b"x" + data[::-1]).decode(),
    }


FORM_NAMES = list(encoded_forms("x" * 8))


@pytest.mark.parametrize("secret", CANARIES)
def test_known_secret_is_masked_in_every_variant(secret: str) -> None:
    redact = Redactor([SecretStr(secret)])
    for text in leaks(secret):
        out = redact(text)
        assert secret not in out
        assert MASK in out, text


@pytest.mark.parametrize("secret", CANARIES[:6])
def test_token_shapes_masked_without_being_told(secret: str) -> None:
    assert secret not in Redactor()(f"log line {secret} end")


@pytest.mark.parametrize("form", FORM_NAMES)
def test_known_secret_is_masked_in_each_encoding(form: str) -> None:
    redact = Redactor([SecretStr(secret) for secret in REAL_FORMAT_CANARIES.values()])
    for name, secret in REAL_FORMAT_CANARIES.items():
        leaked = encoded_forms(secret)[form]
        out = redact(f"before {leaked} after")
        assert leaked not in out and MASK in out, (name, out)
        # What may survive around the mask: characters that also encode the bytes beside the secret, and
        # padding (at most a base32 block's worth on each side).
        assert len(out) - len(f"before {MASK} after") <= 16, (name, out)


def test_redactor_finds_what_it_masks() -> None:
    redact = Redactor([SecretStr(secret) for secret in REAL_FORMAT_CANARIES.values()])
    for secret in REAL_FORMAT_CANARIES.values():
        assert all(redact.finds_secret(f"<{leaked}>") for leaked in encoded_forms(secret).values())


def test_credentials_in_urls_are_masked() -> None:
    out = Redactor()("cloning https://x-access-token:abc123def456@github.com/o/r.git")
    assert "abc123def456" not in out and "github.com/o/r.git" in out


def test_ordinary_text_is_untouched() -> None:
    text = "Added word_count to notes; 11 tests pass."
    assert Redactor([SecretStr("short")])(text) == text
