"""The backoffice (port 3002): staff sign in and see the clients, their feedback and recent conversations.

Read-only on purpose: clients and keys are made with ``python -m support_bot.admin``, and a client's
bot is configured in its files, so the web page has nothing to break.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, jsonify

from .. import config, db
from ..engine import Catalog
from ..observability.sentry import init_sentry
from . import auth, views


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """The app; ``overrides`` (tests) win over the environment: ``DATABASE_URL``, ``SECRET_KEY``,
    ``CLIENTS_DIR``, ``SENTRY_DSN`` ("" turns Sentry off)."""
    settings = dict(overrides or {})
    init_sentry("backoffice", settings.pop("SENTRY_DSN", None))
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.pop("SECRET_KEY", None) or config.secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    url = config.database_url(settings.pop("DATABASE_URL", None))
    clients_root = Path(settings.pop("CLIENTS_DIR", None) or config.clients_dir())
    app.config.update(settings)
    db.init_app(app, url)
    app.extensions[views.CATALOG] = Catalog(clients_root)
    app.jinja_env.filters["when"] = _when

    app.before_request(auth.load_staff)
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)

    @app.get("/health")
    def health() -> Any:
        try:
            db.ping()
        except Exception:
            app.logger.exception("health check: database unavailable")
            return jsonify(ok=False, error="database unavailable"), 503
        return jsonify(ok=True)

    return app


def _when(moment: datetime | None) -> str:
    """A timestamp as staff read it (UTC; SQLite hands back naive ones, PostgreSQL aware ones)."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "—"
