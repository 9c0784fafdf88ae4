"""Sentry: off without a DSN; with one, an unhandled error reaches it with our frames, release and tags."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from helpers import ACME, CLIENTS, chat, make_backend
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from support_bot.observability.sentry import init_sentry

DSN = "http://public@sentry.test/1"


class Captured(Transport):
    """Keeps the events instead of sending them."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(dict(event))


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    monkeypatch.setenv("SUPPORT_BOT_ENVIRONMENT", "test")
    monkeypatch.setenv("SUPPORT_BOT_RELEASE", "support-bot@test")
    transport = Captured()
    assert init_sentry("backend", DSN, transport=transport)
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)  # back to the no-op client: other tests send nothing


def test_off_without_a_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    assert init_sentry("backend") is False
    assert init_sentry("backend", "  ") is False
    assert not sentry_sdk.get_client().is_active()


def test_an_unhandled_error_is_reported_with_its_stack_trace(
    captured: Captured, database_url: str, tmp_path: Path
) -> None:
    shutil.copytree(CLIENTS / ACME, tmp_path / ACME)
    (tmp_path / ACME / "skills" / "payments.md").write_text("no front matter\n")  # a broken client file
    api = make_backend(database_url, CLIENTS_DIR=tmp_path, TESTING=False).test_client()

    response = chat(api, "Hello")
    sentry_sdk.flush()

    assert response.status_code == 500 and response.get_json() == {"error": "internal server error"}
    [event] = captured.events
    [exception] = event["exception"]["values"]
    assert exception["type"] == "ClientFileError" and "payments.md" in exception["value"]
    frames = exception["stacktrace"]["frames"]
    assert frames[-1]["module"] == "support_bot.clients" and frames[-1]["in_app"]
    assert any(f["module"] == "support_bot.backend.api" and f["function"] == "chat" for f in frames)
    assert (event["environment"], event["release"]) == ("test", "support-bot@test")
    assert event["tags"]["service"] == "backend" and event["tags"]["client"] == ACME
    assert event["transaction"] == "/api/chat"
    assert event["request"]["data"]["message"] == "Hello"  # what the customer sent, for whoever triages
    assert event["request"]["headers"]["X-Api-Key"] == "[Filtered]"  # the SDK scrubs the key


def test_client_errors_are_not_reported(captured: Captured, database_url: str) -> None:
    api = make_backend(database_url, TESTING=False).test_client()
    assert chat(api, "Hello", key="wrong").status_code == 401
    assert chat(api, "   ").status_code == 400
    sentry_sdk.flush()
    assert captured.events == []
