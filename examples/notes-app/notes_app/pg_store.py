"""Notes kept in PostgreSQL: the store the server uses when ``NOTES_DATABASE_URL`` is set.

The app stays standard-library only, so there is no driver: each operation runs the ``psql`` client
(``apt-get install postgresql-client``). Values never become SQL text: they are passed as psql
variables (``-v name=value``) and psql quotes them as literals where the query says ``:'name'``.
Rows come back as one JSON document. Every query is scoped to one tenant (schema: Factory's
``seeds/base.sql``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from notes_app.store import Note, ValidationError, validate

MAX_ID = 2**63 - 1  # notes.id is a bigint: a larger id cannot exist, and would be a query error

# Constant SQL: values arrive only as psql variables, which psql quotes where a query says :'name'.
LIST_SQL = """
SELECT coalesce(json_agg(json_build_object('id', id, 'title', title, 'body', body) ORDER BY id), '[]')
FROM notes WHERE tenant_id = :'tenant';
"""
GET_SQL = """
SELECT json_build_object('id', id, 'title', title, 'body', body)
FROM notes WHERE tenant_id = :'tenant' AND id = :'id';
"""
ADD_SQL = """
INSERT INTO notes (tenant_id, title, body) VALUES (:'tenant', :'title', :'body')
RETURNING json_build_object('id', id, 'title', title, 'body', body);
"""
DELETE_SQL = "DELETE FROM notes WHERE tenant_id = :'tenant' AND id = :'id' RETURNING id;"
CHECK_SQL = "SELECT json_build_object('name', name) FROM tenants WHERE id = :'tenant';"


class StoreError(RuntimeError):
    """The database could not be reached, or refused a query."""


class PgNoteStore:
    """The ``NoteStore`` interface (add, get, list, delete) over one tenant's rows in PostgreSQL."""

    def __init__(
        self, dsn: str, tenant_id: int = 1, *, psql: str | None = None, timeout: float = 10.0
    ) -> None:
        self.dsn = dsn
        self.tenant_id = tenant_id
        self.psql = psql or shutil.which("psql") or "psql"
        self.timeout = timeout

    def check(self) -> str:
        """The tenant's name; StoreError if the database is unreachable or has no such tenant."""
        row = self._query(CHECK_SQL)
        if row is None:
            raise StoreError(f"tenant {self.tenant_id} does not exist (load the seeds first)")
        return str(row["name"])

    def add(self, title: object, body: object = "") -> Note:
        """Validate and store a new note; return it with its id."""
        clean_title, clean_body = validate(title, body)
        if "\0" in clean_title or "\0" in clean_body:
            raise ValidationError("title and body must not contain NUL characters")
        return _note(self._query(ADD_SQL, title=clean_title, body=clean_body))

    def get(self, note_id: int) -> Note | None:
        """The tenant's note with this id, or None."""
        if not 0 < note_id <= MAX_ID:
            return None
        row = self._query(GET_SQL, id=str(note_id))
        return None if row is None else _note(row)

    def list(self) -> list[Note]:
        """Every note of the tenant, oldest first."""
        rows = self._query(LIST_SQL)
        return [_note(row) for row in rows]

    def delete(self, note_id: int) -> bool:
        """Remove the tenant's note; True if it existed."""
        if not 0 < note_id <= MAX_ID:
            return False
        return self._query(DELETE_SQL, id=str(note_id)) is not None

    def _query(self, sql: str, **variables: str) -> Any:
        """Run one statement through psql; its single JSON value, or None when it returned no row."""
        command = [self.psql, "-X", "-q", "-w", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.dsn]
        for name, value in {"tenant": str(self.tenant_id), **variables}.items():
            command += ["-v", f"{name}={value}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(PGCLIENTENCODING="UTF8", PGCONNECT_TIMEOUT=str(max(1, int(self.timeout))))
        try:
            result = subprocess.run(
                command,
                input=sql,
                capture_output=True,
                text=True,
                encoding="utf-8",
                env=env,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StoreError(f"psql: {exc}") from exc
        if result.returncode != 0:
            raise StoreError(f"psql failed ({result.returncode}): {result.stderr.strip()[:500]}")
        output = result.stdout.strip()
        return json.loads(output) if output else None


def _note(row: Any) -> Note:
    if not isinstance(row, dict):
        raise StoreError(f"unexpected row from the database: {row!r}")
    return Note(id=int(row["id"]), title=str(row["title"]), body=str(row["body"]))
