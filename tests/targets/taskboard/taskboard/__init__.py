"""taskboard: a small Flask app where each user keeps a list of tasks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify

from . import auth, board, config, db


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """The app; ``overrides`` (tests) win over the environment, e.g. ``{"DATABASE_URL": "sqlite://"}``."""
    app = Flask(__name__)
    settings = dict(overrides or {})
    app.config.update(
        SECRET_KEY=settings.pop("SECRET_KEY", None) or config.secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    url = config.database_url(settings.pop("DATABASE_URL", None))
    app.config.update(settings)
    db.init_app(app, url)

    app.before_request(auth.load_user)
    app.register_blueprint(auth.bp)
    app.register_blueprint(board.bp)

    @app.get("/health")
    def health() -> Any:
        try:
            db.ping()
        except Exception:
            app.logger.exception("health check: database unavailable")
            return jsonify(ok=False, error="database unavailable"), 503
        return jsonify(ok=True)

    return app
