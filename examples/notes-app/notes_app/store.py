"""The notes domain: a note type and an in-memory, thread-safe store."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any


class ValidationError(ValueError):
    """Raised when a note's input is not acceptable."""


@dataclass(frozen=True)
class Note:
    """One note as the store keeps it."""

    id: int
    title: str
    body: str

    def to_dict(self) -> dict[str, Any]:
        """The note as a JSON-ready dictionary."""
        return asdict(self)


def validate(title: object, body: object) -> tuple[str, str]:
    """Check a new note's fields and return them as strings."""
    if not isinstance(title, str) or not title:
        raise ValidationError("title must be a non-empty string")
    if not isinstance(body, str):
        raise ValidationError("body must be a string")
    return title, body


class NoteStore:
    """Notes kept in memory, keyed by an increasing integer id."""

    def __init__(self) -> None:
        self._notes: dict[int, Note] = {}
        self._next_id = 1
        self._lock = threading.Lock()

    def add(self, title: object, body: object = "") -> Note:
        """Validate and store a new note; return it with its id."""
        clean_title, clean_body = validate(title, body)
        with self._lock:
            note = Note(id=self._next_id, title=clean_title, body=clean_body)
            self._notes[note.id] = note
            self._next_id += 1
            return note

    def get(self, note_id: int) -> Note | None:
        """The note with this id, or None."""
        with self._lock:
            return self._notes.get(note_id)

    def list(self) -> list[Note]:
        """Every note, oldest first."""
        with self._lock:
            return sorted(self._notes.values(), key=lambda n: n.id)

    def delete(self, note_id: int) -> bool:
        """Remove a note; True if it existed."""
        with self._lock:
            return self._notes.pop(note_id, None) is not None
