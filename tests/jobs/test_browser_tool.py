"""The E2E agent's browser tool: our MCP server on real Chromium, directly and through the real CLI."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from mcp.server.mcpserver.exceptions import ToolError
from PIL import Image

from jobs.agent import AgentRequest, AgentRunner, AgentStatus
from jobs.agent.cli import cli_arguments, write_mcp_config
from jobs.agent.models import McpServer
from jobs.agent.policy import managed_settings
from jobs.mcp import browser as browser_server
from jobs.mcp.browser import (
    INDEX_FILE,
    BrowserConfig,
    BrowserSession,
    next_number,
    parse_origins,
    slug,
)
from jobs.mcp.config.browser import browser_mcp

CHROMIUM = Path(os.environ.get("FACTORY_CHROMIUM", "/usr/bin/chromium"))
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install chromium"
)

T = TypeVar("T")

HOME_PAGE = """<!doctype html>
<html><head><title>Notes</title>
<style>body {{ font: 20px sans-serif; background: #fff; }} h1 {{ color: #1a3a6b; }}</style></head>
<body><h1>Notes</h1>
<button id="save" onclick="this.textContent = 'Saved'">Save</button>
{extra}
</body></html>"""


class Site:
    """A loopback HTTP server that answers from ``pages`` (path -> HTML, or ``"->URL"`` for a 302)
    and records every path it was asked for."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        self.hits: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits.append(self.path)
                page = site.pages.get(self.path.split("?", 1)[0], "")
                if page.startswith("->"):
                    self.send_response(302)
                    self.send_header("Location", page[2:])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = page.encode()
                self.send_response(200 if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@contextmanager
def serving(pages: dict[str, str]) -> Iterator[Site]:
    site = Site(pages)
    thread = threading.Thread(target=site.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.httpd.shutdown()
        site.httpd.server_close()


def with_session(config: BrowserConfig, steps: Callable[[BrowserSession], Awaitable[T]]) -> T:
    async def go() -> T:
        session = BrowserSession(config)
        try:
            return await steps(session)
        finally:
            await session.close()

    return asyncio.run(go())


def assert_real_screenshot(path: Path) -> None:
    """A 1280x800 PNG that is not one flat colour."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (1280, 800)
        assert image.getcolors(maxcolors=1) is None, "the screenshot is one flat colour"


def index_entries(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / INDEX_FILE).read_text().splitlines()]


def test_origins_are_normalised_and_ordered() -> None:
    assert parse_origins(
        "http://127.0.0.1:8080/api, HTTP://LocalHost, https://x.test,,http://127.0.0.1:8080"
    ) == (
        "http://127.0.0.1:8080",
        "http://localhost:80",
        "https://x.test:443",
    )
    config = BrowserConfig(("http://127.0.0.1:8080",), Path("/tmp"))
    assert config.resolve("/notes") == "http://127.0.0.1:8080/notes"
    assert config.allows("ws://127.0.0.1:8080/hmr")
    assert not config.allows(config.resolve("//evil.test/x"))
    assert not config.allows("http://127.0.0.1:8081/")
    with pytest.raises(ValueError):
        BrowserConfig(("http://127.0.0.1:8080/",), Path("/tmp"))


def test_screenshot_names_are_safe_and_never_reused(tmp_path: Path) -> None:
    assert slug("Home page: after click!") == "home-page-after-click"
    assert slug("../../etc/passwd") == "etc-passwd"
    assert slug("???") == "screenshot"
    assert len(slug("x" * 200)) == 60
    assert next_number(tmp_path) == 1
    (tmp_path / "07-login.png").write_bytes(b"")
    (tmp_path / "notes.png").write_bytes(b"")
    assert next_number(tmp_path) == 8


def test_the_runner_hands_the_cli_our_mcp_servers_only(tmp_path: Path) -> None:
    server = browser_mcp(["http://127.0.0.1:8080"], tmp_path / "shots")
    assert server.command[1:] == ["-I", str(Path(browser_server.__file__).resolve())]
    config_file = write_mcp_config(tmp_path, {"browser": server})
    assert config_file is not None
    assert json.loads(config_file.read_text()) == {
        "mcpServers": {
            "browser": {
                "type": "stdio",
                "command": server.command[0],
                "args": server.command[1:],
                "env": {
                    "FACTORY_BROWSER_ORIGINS": "http://127.0.0.1:8080",
                    "FACTORY_SCREENSHOT_DIR": str((tmp_path / "shots").resolve()),
                },
            }
        }
    }
    request = AgentRequest(prompt="p", cwd=tmp_path, tools=("Read",), mcp_servers={"browser": server})
    argv = cli_arguments(request, tmp_path / "settings.json", config_file)
    at = argv.index("--mcp-config")
    assert argv[at + 1 : at + 3] == [str(config_file), "--strict-mcp-config"]
    assert managed_settings(("Read",), request.mcp_servers)["permissions"]["allow"] == [
        "Read",
        "mcp__browser",
    ]
    assert write_mcp_config(tmp_path, {}) is None
    assert "--mcp-config" not in cli_arguments(request, tmp_path / "settings.json")
    with pytest.raises(ValueError):
        AgentRequest(prompt="p", cwd=tmp_path, mcp_servers={"no spaces": McpServer(command=["x"])})


@needs_chromium
def test_navigate_click_read_and_screenshot(tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    with serving({"/": HOME_PAGE.format(extra="")}) as app:
        config = BrowserConfig((app.origin,), shots, str(CHROMIUM))

        async def steps(session: BrowserSession) -> tuple[Any, ...]:
            opened = await session.navigate("/")
            before = await session.read_text()
            await session.click("#save")
            shot = await session.screenshot("After save: the button!")
            return opened, before, await session.read_text("#save"), shot

        opened, before, after, shot = with_session(config, steps)
    assert opened == {"url": f"{app.origin}/", "title": "Notes", "status": 200}
    assert "Notes" in before and "Save" in before
    assert after == "Saved"
    assert shot == {"file": "01-after-save-the-button.png", "url": f"{app.origin}/", "title": "Notes"}
    png = shots / shot["file"]
    assert_real_screenshot(png)
    [entry] = index_entries(shots)
    assert entry["file"] == shot["file"] and entry["name"] == "After save: the button!"
    assert entry["url"] == f"{app.origin}/" and entry["title"] == "Notes" and entry["taken_at"]
    assert entry["sha256"] == hashlib.sha256(png.read_bytes()).hexdigest()


@needs_chromium
def test_the_browser_cannot_leave_the_apps_origins(tmp_path: Path) -> None:
    with serving({"/": "<title>elsewhere</title>"}) as other:
        leaky = HOME_PAGE.format(
            extra=f'<img src="{other.origin}/pixel.png">'
            f'<script>fetch("{other.origin}/fetch").catch(() => {{}});'
            f'new WebSocket("ws://{other.origin[7:]}/socket");</script>'
        )
        pages = {"/": leaky, "/bounce": f"->{other.origin}/stolen?secret=1"}
        with serving(pages) as app:
            config = BrowserConfig((app.origin,), tmp_path / "shots", str(CHROMIUM))

            async def steps(session: BrowserSession) -> list[str]:
                refused = []
                for url in (f"{other.origin}/", "https://example.com/", "file:///etc/passwd", "/bounce"):
                    with pytest.raises(ToolError) as caught:
                        await session.navigate(url)
                    refused.append(str(caught.value))
                await session.navigate("/")  # the page tries an image, a fetch and a WebSocket
                await asyncio.sleep(0.5)
                with pytest.raises(ToolError, match="press 'NoSuchKey' failed"):
                    await session.press("NoSuchKey")
                assert "Saved" not in await session.read_text()  # still serving after errors
                return refused

            refused = with_session(config, steps)
    assert all("refused" in message for message in refused[:3])
    assert "blocked: the browser may only reach the app's own origins" in refused[3]  # the redirect
    assert other.hits == []
    assert "/bounce" in app.hits


@needs_chromium
def test_webrtc_cannot_send_udp_outside_the_app(tmp_path: Path) -> None:
    """STUN/TURN over UDP bypasses HTTP routes and proxies; the page must have no peer connection API."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(0.2)
        port = udp.getsockname()[1]
        turn = f"{{urls: 'turn:127.0.0.1:{port}', username: 'u', credential: 'c'}}"
        ice = f"[{{urls: 'stun:127.0.0.1:{port}'}}, {turn}]"
        script = (
            "<script>let result = 'no RTCPeerConnection';"
            "const frame = document.createElement('iframe'); document.body.appendChild(frame);"
            "for (const scope of [window, frame.contentWindow]) {"
            "  const Peer = scope.RTCPeerConnection || scope.webkitRTCPeerConnection;"
            f"  if (Peer) {{ const pc = new Peer({{iceServers: {ice}}}); pc.createDataChannel('x');"
            "    pc.createOffer().then(o => pc.setLocalDescription(o)); result = 'peer created'; }"
            "}"
            "document.title = result;</script>"
        )
        with serving({"/": f"<title>t</title><body>{script}</body>"}) as app:
            config = BrowserConfig((app.origin,), tmp_path / "shots", str(CHROMIUM))

            async def steps(session: BrowserSession) -> dict[str, Any]:
                opened = await session.navigate("/")
                await asyncio.sleep(1.5)  # ICE gathering would have sent its STUN/TURN packets by now
                return opened

            opened = with_session(config, steps)
        packets = 0
        with contextlib.suppress(TimeoutError):
            while udp.recv(2048):
                packets += 1
    assert opened["title"] == "no RTCPeerConnection"
    assert packets == 0


@needs_chromium
def test_the_agent_drives_the_browser_through_the_real_cli(
    tmp_path: Path, model_auth: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    shots = tmp_path / "shots"
    # The target repo is untrusted: packages named like ours or our dependencies must not be imported.
    for package in ("jobs", "mcp", "playwright"):
        (repo / package).mkdir(parents=True)
        (repo / package / "__init__.py").write_text(f"open({str(tmp_path / 'shadowed')!r}, 'w')\n")
    lines: list[str] = []
    with serving({"/": HOME_PAGE.format(extra="")}) as app:
        request = AgentRequest(
            prompt=f"Phase: e2e\nTicket: BROWSER-TOOL\nRepository root: {repo}\n",
            cwd=repo,
            tools=("Read",),
            max_duration_seconds=60,
            mcp_servers={"browser": browser_mcp([app.origin], shots, str(CHROMIUM))},
        )
        outcome = AgentRunner(model_auth=model_auth, grace_seconds=2).run(request, lines.append)
    assert outcome.status is AgentStatus.SUCCESS, outcome.detail
    events = [json.loads(line) for line in lines]
    init = next(e for e in events if e.get("subtype") == "init")
    assert {"name": "browser", "status": "connected"}.items() <= init["mcp_servers"][0].items()
    results = [
        block
        for event in events
        if event.get("type") == "user"
        for block in event["message"]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert [bool(r.get("is_error")) for r in results] == [False, False, True]
    assert '"status": 200' in results[0]["content"][0]["text"]
    assert "01-home-page.png" in results[1]["content"][0]["text"]
    assert "refused" in json.dumps(results[2]["content"])
    assert_real_screenshot(shots / "01-home-page.png")
    assert [e["url"] for e in index_entries(shots)] == [f"{app.origin}/"]
    assert not (tmp_path / "shadowed").exists()


def test_served_over_http_it_answers_only_the_runs_bearer(tmp_path: Path) -> None:
    """The harness serves the tool (jobs/mcp/serve.py): without the bearer, 401; with it, MCP's
    initialize over streamable HTTP; the CLI's config entry carries the URL and the bearer only."""
    import httpx

    from jobs.mcp.config.browser import browser_command, browser_env
    from jobs.mcp.serve import ServedTool
    from jobs.sandbox import Box

    env = browser_env(["http://127.0.0.1:9"], tmp_path / "shots", str(CHROMIUM))
    with ServedTool(Box(), browser_command(), env, tmp_path / "tool.log") as tool:
        entry = tool.entry()
        assert entry.url == f"http://127.0.0.1:{tool.port}/mcp" and entry.command == []
        assert entry.headers == {"Authorization": f"Bearer {tool.token}"}
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        accept = {"Accept": "application/json, text/event-stream"}
        with httpx.Client(trust_env=False, timeout=30) as client:
            stranger = client.post(
                entry.url, json=initialize, headers={**accept, "Authorization": "Bearer nope"}
            )
            assert stranger.status_code == 401
            answer = client.post(entry.url, json=initialize, headers={**accept, **entry.headers})
            assert answer.status_code == 200 and '"serverInfo"' in answer.text and '"browser"' in answer.text
    assert "Bearer" not in " ".join(browser_command())  # the bearer is never in argv
