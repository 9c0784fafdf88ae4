"""The playground page: configured from the API like the real widget, and honest when the API is down."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import ACME, CLIENTS, KEYS, NORTHWIND
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from support_bot import admin, playground
from support_bot.playground import TEST_KEYS_ENV, fetch_widget

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


def test_client_param_acts_as_any_client_with_its_test_key(backend: Flask, database_url: str) -> None:
    engine = create_engine(database_url)
    with Session(engine) as session:
        admin.seed_test_keys(session, CLIENTS)
    engine.dispose()
    client = page(httpx.WSGITransport(app=backend), TEST_KEYS=True)
    html = client.get(f"/?client={NORTHWIND}").text
    assert 'data-api-key="sb-test-key-northwind-travel-example"' in html
    assert f'data-client="{NORTHWIND}"' in html and "welcome to Northwind Travel" in html
    assert f'data-client="{ACME}"' in client.get("/").text  # without ?client=, the configured key


def test_client_param_without_a_seeded_key_shows_the_api_s_refusal(backend: Flask) -> None:
    html = page(httpx.WSGITransport(app=backend), TEST_KEYS=True).get(f"/?client={ACME}").text
    assert "answered 401: a valid X-Api-Key header is required" in html


@pytest.mark.parametrize("query", [f"client={NORTHWIND}", "client="])
def test_client_param_is_refused_unless_test_keys_are_on(query: str) -> None:
    response = page(None).get(f"/?{query}")
    assert response.status_code == 400 and response.mimetype == "text/plain"
    assert f"?client= is for browser checks only: it needs {TEST_KEYS_ENV}=1" in response.text


@pytest.mark.parametrize("domain", ["", "Not A Domain", "../etc", "x" * 300])
def test_client_param_must_be_a_domain(domain: str) -> None:
    response = page(None, TEST_KEYS=True).get("/", query_string={"client": domain})
    assert response.status_code == 400 and "?client= must be a client's domain" in response.text
    assert "sb-test-key" not in response.text


def test_test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert playground.create_app({"SENTRY_DSN": ""}).config["TEST_KEYS"] is False
    monkeypatch.setenv(TEST_KEYS_ENV, "1")
    assert playground.create_app({"SENTRY_DSN": ""}).config["TEST_KEYS"] is True
