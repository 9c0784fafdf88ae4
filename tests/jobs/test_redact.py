"""The redactor: known secrets in every encoding they leak in, and well-known token shapes (E1)."""

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
    ]


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


def test_credentials_in_urls_are_masked() -> None:
    out = Redactor()("cloning https://x-access-token:abc123def456@github.com/o/r.git")
    assert "abc123def456" not in out and "github.com/o/r.git" in out


def test_ordinary_text_is_untouched() -> None:
    text = "Added word_count to notes; 11 tests pass."
    assert Redactor([SecretStr("short")])(text) == text
