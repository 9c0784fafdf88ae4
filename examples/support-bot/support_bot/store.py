"""Reading and writing chats: what the API records for each turn and what the backoffice shows.

Kept apart from the HTTP code so the queries can be read (and tested) on their own, and so the API
and the backoffice agree on what a conversation is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from .engine import Answer
from .models import DOWN, UP, Client, Conversation, Feedback, Message


def record_turn(
    session: Session, client: Client, session_id: str, question: str, answer: Answer, latency_ms: int
) -> Message:
    """Store the customer's message and the bot's answer in the session's conversation; the answer."""
    conversation = _conversation(session, client, session_id)
    conversation.last_message_at = datetime.now(UTC)
    session.add(
        Message(public_id=str(uuid.uuid4()), conversation=conversation, role="user", content=question)
    )
    reply = Message(
        public_id=str(uuid.uuid4()),
        conversation=conversation,
        role="bot",
        content=answer.text,
        skill=answer.skill,
        sources=[s.as_dict() for s in answer.sources],
        latency_ms=latency_ms,
    )
    session.add(reply)
    session.commit()
    return reply


def _conversation(session: Session, client: Client, session_id: str) -> Conversation:
    query = select(Conversation).where(
        Conversation.client_id == client.id, Conversation.session_id == session_id
    )
    found = session.scalar(query)
    if found is not None:
        return found
    # Two first messages of one session can race: the unique constraint decides, the loser reads.
    # Nothing else is pending yet, so rolling back loses nothing.
    conversation = Conversation(client_id=client.id, session_id=session_id)
    session.add(conversation)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return session.scalars(query).one()
    return conversation


def find_answer(session: Session, client: Client, answer_id: str) -> Message | None:
    """The bot message ``answer_id`` if it belongs to ``client``; None otherwise (even if it exists)."""
    return session.scalar(
        select(Message)
        .join(Conversation)
        .where(Message.public_id == answer_id, Message.role == "bot", Conversation.client_id == client.id)
    )


def record_feedback(session: Session, answer: Message, rating: int, comment: str | None) -> bool:
    """Rate ``answer`` (UP or DOWN), replacing an earlier rating; True when it is the first one."""
    existing = session.scalar(select(Feedback).where(Feedback.message_id == answer.id))
    if existing is None:
        session.add(Feedback(message_id=answer.id, rating=rating, comment=comment))
    else:
        existing.rating, existing.comment = rating, comment
    session.commit()
    return existing is None


@dataclass(frozen=True)
class ClientSummary:
    domain: str
    name: str
    conversations: int
    answers: int
    thumbs_up: int
    thumbs_down: int
    last_activity: datetime | None


def client_summaries(session: Session) -> list[ClientSummary]:
    """Every client with its conversation, answer and feedback counts, by domain."""
    conversations = (
        select(
            Conversation.client_id,
            func.count(Conversation.id).label("conversations"),
            func.max(Conversation.last_message_at).label("last_activity"),
        )
        .group_by(Conversation.client_id)
        .subquery()
    )
    answers = (
        select(
            Conversation.client_id,
            func.count(Message.id).label("answers"),
            func.coalesce(func.sum(case((Feedback.rating == UP, 1), else_=0)), 0).label("up"),
            func.coalesce(func.sum(case((Feedback.rating == DOWN, 1), else_=0)), 0).label("down"),
        )
        .join(Message, Message.conversation_id == Conversation.id)
        .outerjoin(Feedback, Feedback.message_id == Message.id)
        .where(Message.role == "bot")
        .group_by(Conversation.client_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Client.domain,
            Client.name,
            func.coalesce(conversations.c.conversations, 0),
            func.coalesce(answers.c.answers, 0),
            func.coalesce(answers.c.up, 0),
            func.coalesce(answers.c.down, 0),
            conversations.c.last_activity,
        )
        .outerjoin(conversations, conversations.c.client_id == Client.id)
        .outerjoin(answers, answers.c.client_id == Client.id)
        .order_by(Client.domain)
    )
    return [ClientSummary(*row) for row in rows]


@dataclass(frozen=True)
class ConversationRow:
    id: int
    domain: str
    session_id: str
    started_at: datetime
    last_message_at: datetime
    messages: int
    first_question: str
    thumbs_up: int
    thumbs_down: int


def recent_conversations(session: Session, limit: int = 50) -> list[ConversationRow]:
    """The conversations with the latest activity first, with what the customer asked first."""
    conversations = session.scalars(
        select(Conversation)
        .options(
            selectinload(Conversation.client),
            selectinload(Conversation.messages).selectinload(Message.feedback),
        )
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    return [_row(c) for c in conversations]


def _row(c: Conversation) -> ConversationRow:
    ratings = [m.feedback.rating for m in c.messages if m.feedback is not None]
    first = next((m.content for m in c.messages if m.role == "user"), "")
    return ConversationRow(
        id=c.id,
        domain=c.client.domain,
        session_id=c.session_id,
        started_at=c.started_at,
        last_message_at=c.last_message_at,
        messages=len(c.messages),
        first_question=first,
        thumbs_up=ratings.count(UP),
        thumbs_down=ratings.count(DOWN),
    )


def conversation(session: Session, conversation_id: int) -> Conversation | None:
    """One conversation with its client, messages and their feedback loaded."""
    return session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .options(
            selectinload(Conversation.client),
            selectinload(Conversation.messages).selectinload(Message.feedback),
        )
    )
