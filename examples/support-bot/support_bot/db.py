"""One engine per app, one session per request (closed when the request ends)."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

EXTENSION = "support_bot.sessions"


def init_app(app: Flask, url: str) -> None:
    # pool_pre_ping: a dev server outlives database restarts in e2e runs.
    engine = create_engine(url, pool_pre_ping=True)
    app.extensions[EXTENSION] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions[EXTENSION]()
    current: Session = g.db_session
    return current


def ping() -> None:
    """Raise if the database does not answer."""
    with current_app.extensions[EXTENSION]() as s:
        s.execute(text("SELECT 1"))


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
