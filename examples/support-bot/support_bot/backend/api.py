"""The chat API's routes: the key names the client, the body must agree, and nothing crosses clients."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any, NoReturn

import sentry_sdk
from flask import Blueprint, abort, current_app, jsonify, make_response, request

from .. import db, keys, store
from ..engine import Bot, Catalog
from ..models import DOWN, UP, Client
from ..observability.langfuse import ChatTurn, Langfuse

bp = Blueprint("api", __name__, url_prefix="/api")
CATALOG = "support_bot.catalog"
LANGFUSE = "support_bot.langfuse"
MESSAGE_MAX = 2000
COMMENT_MAX = 1000
ANSWER_ID_MAX = 36
SESSION_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
RATINGS = {"up": UP, "down": DOWN}


@bp.post("/chat")
def chat() -> Any:
    """``{"client", "session_id", "message"}`` -> ``{"answer_id", "answer", "skill", "sources", ...}``."""
    client = _authenticated_client()
    body = _json_body()
    _check_client(client, body.get("client"))
    session_id = body.get("session_id")
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        _fail(400, "session_id must be 1 to 64 letters, digits or . _ : -")
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        _fail(400, "message must be a non-empty string")
    message = message.strip()
    if len(message) > MESSAGE_MAX:
        _fail(400, f"message is longer than {MESSAGE_MAX} characters")

    bot = _bot(client)
    started_at, clock = datetime.now(UTC), time.perf_counter()
    answer = bot.answer(message)
    latency_ms = round((time.perf_counter() - clock) * 1000)
    reply = store.record_turn(db.session(), client, session_id, message, answer, latency_ms)
    sources = [s.as_dict() for s in answer.sources]
    _langfuse().trace_chat_turn(
        ChatTurn(
            answer_id=reply.public_id,
            client=client.domain,
            session_id=session_id,
            question=message,
            answer=answer.text,
            skill=answer.skill,
            sources=sources,
            started_at=started_at,
            latency_ms=latency_ms,
        )
    )
    return jsonify(
        answer_id=reply.public_id,
        answer=answer.text,
        skill=answer.skill,
        sources=sources,
        session_id=session_id,
    )


@bp.post("/feedback")
def feedback() -> Any:
    """``{"answer_id", "rating": "up"|"down", "comment"?}``; 201 the first time, 200 when re-rated."""
    client = _authenticated_client()
    body = _json_body()
    answer_id, rating, comment = body.get("answer_id"), body.get("rating"), body.get("comment")
    if not isinstance(answer_id, str) or not 0 < len(answer_id) <= ANSWER_ID_MAX:
        _fail(400, "answer_id must be the answer_id of a chat answer")
    if rating not in RATINGS:
        _fail(400, "rating must be 'up' or 'down'")
    if comment is not None and (not isinstance(comment, str) or len(comment) > COMMENT_MAX):
        _fail(400, f"comment must be a string of at most {COMMENT_MAX} characters")
    comment = (comment.strip() or None) if isinstance(comment, str) else None
    answer = store.find_answer(db.session(), client, answer_id)
    if answer is None:
        _fail(404, "no such answer")
    created = store.record_feedback(db.session(), answer, RATINGS[rating], comment)
    _langfuse().score_feedback(answer_id, client.domain, rating == "up", comment)
    return jsonify(answer_id=answer_id, rating=rating), 201 if created else 200


@bp.get("/widget")
def widget() -> Any:
    """What the chat widget shows before the first question: the client's name and greeting."""
    client = _authenticated_client()
    bot = _bot(client)
    return jsonify(client=client.domain, name=bot.config.name, greeting=bot.config.greeting)


def _authenticated_client() -> Client:
    client = keys.client_for_key(db.session(), request.headers.get(keys.HEADER, "").strip())
    if client is None:
        _fail(401, f"a valid {keys.HEADER} header is required")
    sentry_sdk.set_tag("client", client.domain)  # an error from here on names the client it hit
    return client


def _check_client(client: Client, domain: object) -> None:
    if not isinstance(domain, str) or not domain:
        _fail(400, "client must be the client's domain")
    if domain != client.domain:
        # The key is valid, for another client: refusing beats answering with the wrong client's data.
        _fail(403, f"this API key is not valid for {domain}")


def _bot(client: Client) -> Bot:
    bot = _catalog().get(client.domain)  # a broken client file raises: a 500, reported to Sentry
    if bot is None:
        _fail(503, f"{client.domain} is not configured yet")
    return bot


def _catalog() -> Catalog:
    catalog: Catalog = current_app.extensions[CATALOG]
    return catalog


def _langfuse() -> Langfuse:
    sender: Langfuse = current_app.extensions[LANGFUSE]
    return sender


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        _fail(400, "the body must be a JSON object")
    return body


def _fail(status: int, message: str) -> NoReturn:
    abort(make_response(jsonify(error=message), status))
