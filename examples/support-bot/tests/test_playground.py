"""The playground page: configured from the API like the real widget, and honest when the API is down."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import ACME, KEYS, NORTHWIND

from support_bot import playground
from support_bot.playground import fetch_widget

API_URL = "http://127.0.0.1:8080"


def page(transport: httpx.BaseTransport | None, key: str = KEYS[ACME], **extra: Any) -> FlaskClient:
    settings = {
        "API_URL": API_URL,
        "API_KEY": key,
        "HTTP_TRANSPORT": transport,
        "SENTRY_DSN": "",
        "TESTING": True,
    }
    return playground.create_app(settings | extra).test_client()


def test_the_page_has_the_widget_configured_from_the_api(backend: Flask) -> None:
    html = page(httpx.WSGITransport(app=backend)).get("/").text
    assert "<title>Acme Shop · Chat playground</title>" in html
    assert f'data-api-url="{API_URL}" data-api-key="{KEYS[ACME]}"' in html
    assert f'data-client="{ACME}"' in html
    assert "Hi! I&#39;m the Acme Shop assistant." in html  # the greeting, escaped
    assert 'src="/static/widget.js"' in html
    assert 'id="message"' in html and "disabled" not in html


def test_another_key_is_another_client_s_widget(backend: Flask) -> None:
    html = page(httpx.WSGITransport(app=backend), key=KEYS[NORTHWIND]).get("/").text
    assert f'data-client="{NORTHWIND}"' in html and "welcome to Northwind Travel" in html


def test_an_unreachable_api_is_shown_and_the_form_disabled() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    response = page(httpx.MockTransport(refused)).get("/")
    assert response.status_code == 200
    assert f"The support API is not available: {API_URL} did not answer (ConnectError)" in response.text
    assert response.text.count("disabled") == 2


def test_a_refused_key_is_shown(backend: Flask) -> None:
    html = page(httpx.WSGITransport(app=backend), key="wrong").get("/").text
    assert "answered 401: a valid X-Api-Key header is required" in html


def test_a_missing_key_is_shown() -> None:
    assert fetch_widget(API_URL, "") == (None, "SUPPORT_BOT_API_KEY is not set")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORT_BOT_API_URL", "http://127.0.0.1:9999/")
    monkeypatch.setenv("SUPPORT_BOT_API_KEY", "k")
    app = playground.create_app({"SENTRY_DSN": ""})
    assert (app.config["API_URL"], app.config["API_KEY"]) == ("http://127.0.0.1:9999", "k")


def test_health_and_the_widget_script() -> None:
    client = page(None)
    assert client.get("/health").get_json() == {"ok": True}
    script = client.get("/static/widget.js")
    assert script.status_code == 200 and "/api/chat" in script.text and "/api/feedback" in script.text
    assert "innerHTML" not in script.text  # answers are inserted as text
