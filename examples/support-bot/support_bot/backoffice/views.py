"""The backoffice pages: clients with their feedback counts, recent conversations, one transcript."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template

from .. import db, store
from ..engine import Catalog
from .auth import login_required

bp = Blueprint("views", __name__)
CATALOG = "support_bot.catalog"
RECENT = 50


@bp.get("/")
@login_required
def clients() -> Any:
    catalog: Catalog = current_app.extensions[CATALOG]
    summaries = store.client_summaries(db.session())
    configured = {s.domain: catalog.is_configured(s.domain) for s in summaries}
    return render_template("clients.html", clients=summaries, configured=configured)


@bp.get("/conversations")
@login_required
def conversations() -> Any:
    rows = store.recent_conversations(db.session(), limit=RECENT)
    return render_template("conversations.html", conversations=rows, limit=RECENT)


@bp.get("/conversations/<int:conversation_id>")
@login_required
def conversation(conversation_id: int) -> Any:
    found = store.conversation(db.session(), conversation_id)
    if found is None:
        abort(404)
    return render_template("conversation.html", conversation=found)
