"""The tables (SQLAlchemy 2.x declarative). Schema changes go through an Alembic migration too.

A client is a tenant, named by its domain; everything a chat produces (conversations, messages,
feedback) hangs off one client, and the API only ever reads rows of the client its key belongs to.
The bot's behaviour is not here: it lives in the client's files (``clients/<domain>/``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

DOMAIN_MAX = 253
SESSION_ID_MAX = 64
ROLES = ("user", "bot")
UP, DOWN = 1, -1


class Base(DeclarativeBase):
    # Named constraints, so a migration can drop or alter them by the same name on every database.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        }
    )


def _created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.current_timestamp())


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(DOMAIN_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created_at()

    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="client", cascade="all, delete-orphan")


class ApiKey(Base):
    """A client's key for the chat API; only its SHA-256 is stored, so a database leak leaks no key."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = _created_at()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    client: Mapped[Client] = relationship(back_populates="api_keys")


class StaffUser(Base):
    """Someone who signs in to the backoffice."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))


class Conversation(Base):
    """One chat session on a client's site: the widget's session id, unique per client."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("client_id", "session_id", name="uq_conversations_client_session"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(String(SESSION_ID_MAX))
    started_at: Mapped[datetime] = _created_at()
    last_message_at: Mapped[datetime] = _created_at()

    client: Mapped[Client] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="Message.id"
    )


class Message(Base):
    """A line of a conversation. A bot message is an answer: ``public_id`` is the API's answer id."""

    __tablename__ = "messages"
    __table_args__ = (CheckConstraint("role IN ('user', 'bot')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # also the order within a conversation
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(8))
    content: Mapped[str] = mapped_column(Text)
    skill: Mapped[str | None] = mapped_column(String(64))
    sources: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    feedback: Mapped[Feedback | None] = relationship(back_populates="message", cascade="all, delete-orphan")


class Feedback(Base):
    """A thumbs up (1) or down (-1) on an answer; rating again replaces it."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("rating IN (1, -1)", name="rating"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()

    message: Mapped[Message] = relationship(back_populates="feedback")
