"""Tests for the notes domain logic."""

import unittest

from notes_app.store import NoteStore, ValidationError


class NoteStoreTest(unittest.TestCase):
    def setUp(self) -> None:
        self.store = NoteStore()

    def test_add_assigns_increasing_ids(self) -> None:
        first = self.store.add("Groceries", "milk, eggs")
        second = self.store.add("Todo")
        self.assertEqual((first.id, second.id), (1, 2))
        self.assertEqual(second.body, "")

    def test_get_and_list(self) -> None:
        note = self.store.add("Hello", "world")
        self.assertEqual(self.store.get(note.id), note)
        self.assertIsNone(self.store.get(99))
        self.assertEqual(self.store.list(), [note])

    def test_delete(self) -> None:
        note = self.store.add("Gone soon")
        self.assertTrue(self.store.delete(note.id))
        self.assertFalse(self.store.delete(note.id))
        self.assertEqual(self.store.list(), [])

    def test_rejects_bad_input(self) -> None:
        with self.assertRaises(ValidationError):
            self.store.add("")
        with self.assertRaises(ValidationError):
            self.store.add(None)
        with self.assertRaises(ValidationError):
            self.store.add("Title", 42)

    def test_to_dict(self) -> None:
        note = self.store.add("A", "b")
        self.assertEqual(note.to_dict(), {"id": 1, "title": "A", "body": "b"})


if __name__ == "__main__":
    unittest.main()
