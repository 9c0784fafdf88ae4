"""Tests for the HTTP API, against a real server on a free port."""

import json
import threading
import unittest
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from notes_app.server import NotesServer


class ServerTest(unittest.TestCase):
    def setUp(self) -> None:
        self.server = NotesServer(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def tearDown(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        """Send a request; return the status and the decoded JSON body."""
        data = None if payload is None else json.dumps(payload).encode()
        request = Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except HTTPError as error:
            with error:
                return error.code, json.loads(error.read())

    def test_create_list_get_delete(self) -> None:
        status, created = self.call("POST", "/api/notes", {"title": "First", "body": "hello"})
        self.assertEqual(status, 201)
        self.assertEqual(created["title"], "First")
        self.assertEqual(self.call("GET", "/api/notes"), (200, [created]))
        self.assertEqual(self.call("GET", f"/api/notes/{created['id']}"), (200, created))
        self.assertEqual(self.call("DELETE", f"/api/notes/{created['id']}")[0], 200)
        self.assertEqual(self.call("GET", "/api/notes"), (200, []))

    def test_unknown_note_is_404(self) -> None:
        self.assertEqual(self.call("GET", "/api/notes/42")[0], 404)
        self.assertEqual(self.call("DELETE", "/api/notes/42")[0], 404)

    def test_bad_input_is_400(self) -> None:
        self.assertEqual(self.call("POST", "/api/notes", {"body": "no title"})[0], 400)
        self.assertEqual(self.call("POST", "/api/notes", ["not", "an", "object"])[0], 400)

    def test_index_page_lists_escaped_titles(self) -> None:
        self.call("POST", "/api/notes", {"title": "<b>bold</b>"})
        with urlopen(self.base + "/", timeout=5) as response:
            page = response.read().decode()
        self.assertIn("&lt;b&gt;bold&lt;/b&gt;", page)


if __name__ == "__main__":
    unittest.main()
