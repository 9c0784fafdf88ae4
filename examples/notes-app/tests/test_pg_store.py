"""Tests for the PostgreSQL store, against a real database.

Skipped unless ``NOTES_TEST_DATABASE_URL`` names a database holding the schema (Factory's
``seeds/base.sql``). Each test works in a tenant of its own, created here and dropped afterwards, so
whatever else the database holds (seeded notes) is left alone.
"""

import json
import os
import subprocess
import threading
import unittest
import uuid
from urllib.error import HTTPError
from urllib.request import urlopen

from notes_app.pg_store import PgNoteStore, StoreError
from notes_app.server import NotesServer
from notes_app.store import ValidationError

DATABASE_URL = os.environ.get("NOTES_TEST_DATABASE_URL", "")

HOSTILE_TEXTS = [
    'it\'s "quoted"',
    "back\\slash \\' and E'\\x41'",
    "'; DROP TABLE notes; --",
    ":'tenant' :tenant :\"tenant\"",
    "\\! echo psql meta-command",
    "two\nlines\twith a tab",
    "  padded  ",
    "naïve café 日本語 🙂",
]


def psql(sql: str, **variables: str) -> str:
    """Run SQL with psql variables; its unaligned output."""
    command = ["psql", "-X", "-q", "-w", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", DATABASE_URL]
    for name, value in variables.items():
        command += ["-v", f"{name}={value}"]
    result = subprocess.run(command, input=sql, capture_output=True, text=True, timeout=10, check=True)
    return result.stdout.strip()


@unittest.skipUnless(DATABASE_URL, "set NOTES_TEST_DATABASE_URL to a database loaded with seeds/base.sql")
class PgNoteStoreTest(unittest.TestCase):
    def setUp(self) -> None:
        name = f"test-{uuid.uuid4().hex}"
        self.tenant = int(psql("INSERT INTO tenants (name) VALUES (:'name') RETURNING id;", name=name))
        self.addCleanup(psql, "DELETE FROM tenants WHERE id = :'id';", id=str(self.tenant))
        self.store = PgNoteStore(DATABASE_URL, self.tenant)

    def test_check_names_the_tenant(self) -> None:
        self.assertTrue(self.store.check().startswith("test-"))
        with self.assertRaises(StoreError):
            PgNoteStore(DATABASE_URL, 2**62).check()

    def test_add_get_list_delete(self) -> None:
        self.assertEqual(self.store.list(), [])
        first = self.store.add("Groceries", "milk, eggs")
        second = self.store.add("Todo")
        self.assertLess(first.id, second.id)
        self.assertEqual(second.body, "")
        self.assertEqual(self.store.get(first.id), first)
        self.assertEqual(self.store.list(), [first, second])
        self.assertTrue(self.store.delete(first.id))
        self.assertFalse(self.store.delete(first.id))
        self.assertIsNone(self.store.get(first.id))
        self.assertEqual(self.store.list(), [second])

    def test_values_are_data_not_sql(self) -> None:
        for text in HOSTILE_TEXTS:
            with self.subTest(text=text):
                note = self.store.add(text, text)
                self.assertEqual((note.title, note.body), (text, text))
                self.assertEqual(self.store.get(note.id), note)
        self.assertEqual([n.title for n in self.store.list()], HOSTILE_TEXTS)

    def test_tenants_are_kept_apart(self) -> None:
        note = self.store.add("Mine", "only mine")
        other = PgNoteStore(DATABASE_URL, self.tenant + 10**9)
        self.assertIsNone(other.get(note.id))
        self.assertFalse(other.delete(note.id))
        self.assertNotIn(note, other.list())
        self.assertEqual(self.store.get(note.id), note)

    def test_rejects_what_the_memory_store_rejects(self) -> None:
        for title, body in [("", ""), (None, ""), ("Title", 42), ("nul\0", "")]:
            with self.subTest(title=title, body=body), self.assertRaises(ValidationError):
                self.store.add(title, body)
        self.assertIsNone(self.store.get(2**70))
        self.assertFalse(self.store.delete(2**70))

    def test_server_reads_the_database(self) -> None:
        note = self.store.add("From Postgres", "served")
        self.assertEqual(self._get_json(self.store, "/api/notes"), (200, [note.to_dict()]))
        broken = PgNoteStore("postgresql://nobody@127.0.0.1:1/none", self.tenant, timeout=5)
        self.assertEqual(self._get_json(broken, "/api/notes")[0], 503)

    def _get_json(self, store: PgNoteStore, path: str) -> tuple[int, object]:
        server = NotesServer(("127.0.0.1", 0), store)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            with urlopen(f"http://127.0.0.1:{server.server_address[1]}{path}", timeout=10) as response:
                return response.status, json.loads(response.read())
        except HTTPError as error:
            with error:
                return error.code, json.loads(error.read())
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


if __name__ == "__main__":
    unittest.main()
