"""The playground against a real API server that requires its key."""

import threading
import unittest
from urllib.error import HTTPError
from urllib.request import urlopen

from notes_app.playground import PlaygroundServer
from notes_app.server import NotesServer


def serve(server: NotesServer | PlaygroundServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return thread


class PlaygroundTest(unittest.TestCase):
    def setUp(self) -> None:
        self.api = NotesServer(("127.0.0.1", 0), api_key="k-123")
        self.api.store.add("Groceries", "milk and eggs")
        self.api_url = f"http://127.0.0.1:{self.api.server_address[1]}"
        self.threads = [serve(self.api)]

    def tearDown(self) -> None:
        for server in getattr(self, "servers", []) + [self.api]:
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)

    def playground(self, key: str) -> str:
        server = PlaygroundServer(("127.0.0.1", 0), self.api_url, key)
        self.servers = [*getattr(self, "servers", []), server]
        self.threads.append(serve(server))
        with urlopen(f"http://127.0.0.1:{server.server_address[1]}/", timeout=5) as response:
            return str(response.read().decode())

    def test_the_api_refuses_requests_without_its_key(self) -> None:
        with self.assertRaises(HTTPError) as caught:
            urlopen(f"{self.api_url}/api/notes", timeout=5)
        self.assertEqual(caught.exception.code, 401)
        caught.exception.close()
        with urlopen(f"{self.api_url}/", timeout=5) as page:  # the HTML page stays public
            self.assertIn("Groceries", page.read().decode())

    def test_the_playground_shows_the_notes_with_the_right_key(self) -> None:
        page = self.playground("k-123")
        self.assertIn(f"Connected to <code>{self.api_url}</code>", page)
        self.assertIn("Groceries", page)

    def test_the_playground_says_so_when_the_key_is_wrong(self) -> None:
        page = self.playground("wrong")
        self.assertIn("API error", page)
        self.assertNotIn("Groceries", page)


if __name__ == "__main__":
    unittest.main()
