"""Fixtures the e2e server tests share: a tiny HTTP server script, and a check that nothing of it
outlives a test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import processes_matching

# Serves ``status`` on ``port`` (argv 1 and 2); with a third argument, writes its environment there.
SERVER = """\
import http.server, json, os, sys
port, status = int(sys.argv[1]), int(sys.argv[2])
if len(sys.argv) > 3:
    open(sys.argv[3], "w").write(json.dumps(dict(os.environ)))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(status); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


@pytest.fixture
def marker() -> Iterator[str]:
    """A tag in the script's path: every process running it can be found, and none may be left."""
    tag = f"factory-srv-{uuid.uuid4().hex[:10]}"
    yield tag
    assert processes_matching(tag) == []


@pytest.fixture
def script(tmp_path: Path, marker: str) -> Path:
    """The server script, under a path holding the marker."""
    path = tmp_path / f"{marker}.py"
    path.write_text(SERVER)
    return path
