"""The playground (port 3001): a stand-in for a client's website with the support chat widget on it.

It is configured the way a client configures the real widget: the API's URL and the client's API key
(``SUPPORT_BOT_API_URL``, ``SUPPORT_BOT_API_KEY``). The server asks the API for the widget's name and
greeting (``GET /api/widget``) when it renders the page; after that the page's script talks to the API
directly from the browser, as the widget does on a client's site, so what works here works there.

For browser checks of any client, ``/?client=<domain>`` renders the page as that client, with its test
key ``sb-test-key-<domain, dots as dashes>`` (``python -m support_bot.admin seed-test-keys`` makes
them). Only when ``SUPPORT_BOT_PLAYGROUND_TEST_KEYS=1``: test keys are fixtures, never a deployment's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from flask import Flask, render_template, request

from ..clients import is_domain
from ..keys import HEADER, make_test_key
from ..observability.sentry import init_sentry

DEFAULT_API_URL = "http://127.0.0.1:8080"
TIMEOUT = 3.0
TEST_KEYS_ENV = "SUPPORT_BOT_PLAYGROUND_TEST_KEYS"


@dataclass(frozen=True)
class Widget:
    client: str
    name: str
    greeting: str


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """The app; ``overrides`` (tests) win over the environment: ``API_URL``, ``API_KEY``, ``SENTRY_DSN``,
    ``TEST_KEYS`` (``/?client=`` allowed) and ``HTTP_TRANSPORT`` (an httpx transport for the server's own
    call to the API)."""
    settings = dict(overrides or {})
    init_sentry("playground", settings.pop("SENTRY_DSN", None))
    app = Flask(__name__)
    api_url = settings.pop("API_URL", None) or os.environ.get("SUPPORT_BOT_API_URL", "") or DEFAULT_API_URL
    api_key = settings.pop("API_KEY", None)
    test_keys = settings.pop("TEST_KEYS", None)
    app.config.update(
        API_URL=api_url.rstrip("/"),
        API_KEY=os.environ.get("SUPPORT_BOT_API_KEY", "") if api_key is None else api_key,
        HTTP_TRANSPORT=settings.pop("HTTP_TRANSPORT", None),
        TEST_KEYS=os.environ.get(TEST_KEYS_ENV, "").strip() == "1" if test_keys is None else bool(test_keys),
    )
    app.config.update(settings)

    @app.get("/")
    def index() -> Any:
        api_key = app.config["API_KEY"]
        if "client" in request.args:
            domain = request.args["client"]
            if not app.config["TEST_KEYS"]:
                return _plain(f"?client= is for browser checks only: it needs {TEST_KEYS_ENV}=1")
            if not is_domain(domain):
                return _plain(f"?client= must be a client's domain (acme-shop.example), not {domain[:80]!r}")
            api_key = make_test_key(domain)
        widget, error = fetch_widget(app.config["API_URL"], api_key, app.config["HTTP_TRANSPORT"])
        return render_template(
            "chat.html",
            api_url=app.config["API_URL"],
            api_key=api_key,
            widget=widget,
            error=error,
        )

    @app.get("/health")
    def health() -> Any:
        return {"ok": True}

    return app


def _plain(message: str, status: int = 400) -> tuple[str, int, dict[str, str]]:
    return message + "\n", status, {"Content-Type": "text/plain; charset=utf-8"}


def fetch_widget(
    api_url: str, api_key: str, transport: httpx.BaseTransport | None = None
) -> tuple[Widget | None, str | None]:
    """The widget's settings from the API, or None and why not (shown on the page, not raised)."""
    if not api_key:
        return None, "SUPPORT_BOT_API_KEY is not set"
    try:
        with httpx.Client(timeout=TIMEOUT, transport=transport) as http:
            response = http.get(f"{api_url}/api/widget", headers={HEADER: api_key})
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return None, f"{api_url} did not answer ({type(exc).__name__})"
    if response.status_code != 200 or not isinstance(data, dict):
        error = data.get("error") if isinstance(data, dict) else None
        return None, f"{api_url} answered {response.status_code}: {error or 'no details'}"
    return Widget(str(data.get("client", "")), str(data.get("name", "")), str(data.get("greeting", ""))), None
