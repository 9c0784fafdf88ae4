"""The chat API (port 8080): ``POST /api/chat``, ``POST /api/feedback``, ``GET /api/widget``, ``GET /health``.

Called from the browser by the chat widget on a client's site, so it answers CORS preflights for any
origin: the API key, not a cookie, is what authenticates, and it is the client's to publish.
"""

from __future__ import annotations

import atexit
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import config, db
from ..engine import Catalog
from ..keys import HEADER
from ..observability import langfuse
from ..observability.sentry import init_sentry
from . import api


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """The app; ``overrides`` (tests) win over the environment.

    Besides Flask settings: ``DATABASE_URL``, ``CLIENTS_DIR``, ``SENTRY_DSN`` ("" turns Sentry off)
    and ``LANGFUSE`` (a ``Langfuse`` sender to use instead of one configured from the environment).
    """
    settings = dict(overrides or {})
    init_sentry("backend", settings.pop("SENTRY_DSN", None))
    app = Flask(__name__)
    url = config.database_url(settings.pop("DATABASE_URL", None))
    clients_root = Path(settings.pop("CLIENTS_DIR", None) or config.clients_dir())
    sender = settings.pop("LANGFUSE", None) or langfuse.from_env(
        environment=config.environment(), release=config.release()
    )
    app.config.update(settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # answers read better in the order written
    db.init_app(app, url)
    app.extensions[api.CATALOG] = Catalog(clients_root)
    app.extensions[api.LANGFUSE] = sender
    if sender.enabled:
        atexit.register(sender.flush, 2.0)

    app.register_blueprint(api.bp)
    app.after_request(_cors)
    app.register_error_handler(HTTPException, _json_error)

    @app.get("/health")
    def health() -> Any:
        try:
            db.ping()
        except Exception:
            app.logger.exception("health check: database unavailable")
            return jsonify(ok=False, error="database unavailable"), 503
        return jsonify(ok=True)

    return app


def _cors(response: Response) -> Response:
    if request.path.startswith("/api/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = f"Content-Type, {HEADER}"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def _json_error(exc: HTTPException) -> Any:
    """Errors as JSON, like every other answer of this API (a 500's details stay in the log and Sentry)."""
    code = exc.code or 500
    return jsonify(error="internal server error" if code >= 500 else exc.description or exc.name), code
