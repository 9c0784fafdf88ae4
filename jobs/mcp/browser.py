"""The browser the E2E agent drives: a stdio MCP server of our own, on Playwright and Debian's Chromium.

Why this rather than agent-browser or Playwright's own MCP server:

- Claude Code speaks MCP natively: the runner hands it this server with ``--mcp-config`` (and
  ``--strict-mcp-config``, so the target repo cannot add its own), and its tools reach the model as
  ``mcp__browser__<tool>``, allowed by one permission rule (``mcp__browser``).
- Our code, not the agent, writes the screenshots: ``screenshot`` saves the PNG and appends it to
  ``index.jsonl`` (with its SHA-256), so the phase can check that every screenshot a report cites was
  really taken by this tool, of the page it names.
- Navigation is fenced to the app's own origins: ``navigate`` refuses any other URL, and every request
  or WebSocket the page opens to another origin is aborted (by a Playwright route, and for redirects by
  a dead proxy in Chromium's own network stack), so a page cannot exfiltrate through the browser.
- No browser download (Playwright's does not work on these machines): Chromium comes from Debian
  (``apt-get install chromium``) and is launched by ``executable_path``. Python, not Node, so the
  server is ours to test and type-check like the rest of the job.

Run as ``python -I /abs/path/jobs/mcp/browser.py``. The CLI starts it with the agent's
environment, in the target repository (untrusted, and it could hold a ``jobs/`` package): so this file
imports nothing from our package at load time, and ``-I`` keeps the working directory off ``sys.path``.
Its configuration, read from the environment, is in ``config/browser.py``, loaded by path as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from playwright.async_api import (
    Browser,
    Page,
    Playwright,
    Route,
    ViewportSize,
    WebSocketRoute,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError


def _load(relative: str, name: str) -> Any:
    """A module of this directory loaded by path: this file, run isolated, imports nothing of our package."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SERVER_NAME = "browser"
_config = _load("config/browser.py", "factory_mcp_browser_config")
ORIGINS_ENV: str = _config.ORIGINS_ENV
SCREENSHOT_DIR_ENV: str = _config.SCREENSHOT_DIR_ENV
CHROMIUM_ENV: str = _config.CHROMIUM_ENV
DEFAULT_CHROMIUM: str = _config.DEFAULT_CHROMIUM
BROWSER_START: str = _config.BROWSER_START
BROWSER_FAILED: str = _config.BROWSER_FAILED
# Needed on these machines: without the background-networking ones Chromium's outbound connections are
# refused, and as root (or in most containers) it will not start with its sandbox. Playwright gives each
# launch a fresh temporary profile (user-data-dir) under TMPDIR, removed when the browser closes.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
NO_WEBRTC = """(() => {
  for (const name of ["RTCPeerConnection", "webkitRTCPeerConnection", "RTCDataChannel",
                      "RTCSessionDescription", "RTCIceCandidate", "RTCRtpSender", "RTCRtpReceiver"]) {
    try { Object.defineProperty(globalThis, name, {value: undefined, writable: false, configurable: false}); }
    catch (e) {}
  }
})();"""
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
ACTION_TIMEOUT_MS = 5_000
NAVIGATION_TIMEOUT_MS = 15_000
MAX_TEXT_CHARS = 8_000
MAX_SLUG_CHARS = 60
INDEX_FILE = "index.jsonl"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WS_SCHEMES = {"ws": "http", "wss": "https"}
# How Chromium reports a request the fence stopped: by our route, or by the dead proxy (see _fence_args).
_FENCE_ERRORS = ("ERR_BLOCKED_BY_CLIENT", "ERR_PROXY_CONNECTION_FAILED")
_SHOT_NUMBER = re.compile(r"^(\d+)-.*\.png$")


def origin_of(url: str) -> str | None:
    """``scheme://host:port`` of an http(s) or ws(s) URL (WebSockets count as their page's origin)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = _WS_SCHEMES.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return f"{scheme}://{parts.hostname.lower()}:{port or _DEFAULT_PORTS[scheme]}"


def parse_origins(value: str) -> tuple[str, ...]:
    """The allowlist from ``FACTORY_BROWSER_ORIGINS`` (comma-separated, paths ignored), in order."""
    origins = (origin_of(item) for item in value.split(",") if item.strip())
    return tuple(dict.fromkeys(o for o in origins if o))


def slug(name: str) -> str:
    """A file-name-safe form of ``name``: lowercase letters, digits and dashes, at most 60 characters."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return cleaned[:MAX_SLUG_CHARS].rstrip("-") or "screenshot"


def clamp(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... {len(text) - limit} more characters not shown]"


@dataclass(frozen=True)
class BrowserConfig:
    """Where the browser may go, where screenshots go, which Chromium to run.

    ``origins`` are normalised (``parse_origins``); the first is the app's main one, against which a
    bare path is resolved.
    """

    origins: tuple[str, ...]
    screenshot_dir: Path
    chromium: str = DEFAULT_CHROMIUM

    def __post_init__(self) -> None:
        if not self.origins or any(origin_of(o) != o for o in self.origins):
            raise ValueError(f"origins must be non-empty and normalised (scheme://host:port): {self.origins}")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BrowserConfig:
        origins = parse_origins(env.get(ORIGINS_ENV, ""))
        folder = env.get(SCREENSHOT_DIR_ENV)
        if not origins or not folder:
            raise SystemExit(f"{ORIGINS_ENV} (http origins) and {SCREENSHOT_DIR_ENV} must both be set")
        return cls(origins, Path(folder), env.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM)

    def allows(self, url: str) -> bool:
        return origin_of(url) in self.origins

    def resolve(self, url: str) -> str:
        """``url`` made absolute: a path such as ``/notes`` is on the main origin."""
        return urljoin(self.origins[0] + "/", url.strip())


@contextmanager
def tool_errors(action: str) -> Iterator[None]:
    """Playwright failures become tool errors the model reads (first line only, no call log)."""
    try:
        yield
    except PlaywrightError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:500]
        if any(code in first for code in _FENCE_ERRORS):
            first += " (blocked: the browser may only reach the app's own origins)"
        raise ToolError(f"{action} failed: {first}") from exc


class BrowserSession:
    """One Chromium page for the server's lifetime, started on first use; every action is serialised."""

    def __init__(self, config: BrowserConfig) -> None:
        self.config = config
        self.blocked: list[str] = []  # URLs the fence aborted, for tests and logs
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._page: Page | None = None
        self._sink: socket.socket | None = None

    async def _started(self) -> Page:
        if self._page is not None:
            return self._page
        started = time.monotonic()
        if self._playwright is None:
            self._playwright = await async_playwright().start()
        try:
            with tool_errors("starting Chromium"):
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.config.chromium,
                    headless=True,
                    args=[*CHROMIUM_ARGS, *self._fence_args()],
                )
                # Service workers could fetch outside the routes below: block them.
                context = await self._browser.new_context(viewport=VIEWPORT, service_workers="block")
                # WebRTC sends UDP (STUN/TURN) that neither the routes nor the dead proxy see: the
                # page gets no peer connection API at all, in every frame.
                await context.add_init_script(NO_WEBRTC)
                await context.route(lambda url: not self.config.allows(url), self._abort)
                await context.route_web_socket(lambda url: not self.config.allows(url), self._close_socket)
                context.set_default_timeout(ACTION_TIMEOUT_MS)
                context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
                self._page = await context.new_page()
            # For the phase's time split: how long the browser took to come up (inside the agent's time).
            seconds = round(time.monotonic() - started, 3)
            self.config.screenshot_dir.mkdir(parents=True, exist_ok=True)
            (self.config.screenshot_dir / BROWSER_START).write_text(json.dumps({"start_seconds": seconds}))
        except ToolError as exc:
            await self.close()  # a half-started browser is not reused
            # It never came up: say so to the phase, beside the screenshots (the agent's report on
            # pages it could not open must not read as the app failing its checks).
            self.config.screenshot_dir.mkdir(parents=True, exist_ok=True)
            failed = {"error": str(exc)[:MAX_TEXT_CHARS]}
            (self.config.screenshot_dir / BROWSER_FAILED).write_text(json.dumps(failed))
            raise
        return self._page

    def _fence_args(self) -> list[str]:
        """Chromium flags that send every request not bound for an allowed origin to a dead proxy.

        Playwright's routes do not see the hops of a redirect, so an allowed page could still bounce the
        browser to another origin (an open redirect); this fence is in Chromium's network stack and
        catches those. The "proxy" is a port we hold bound but never listen on: connecting fails at once.
        ``<-loopback>`` (which must come first) stops Chromium bypassing proxies for loopback addresses.
        """
        self._sink = socket.socket()
        self._sink.bind(("127.0.0.1", 0))
        port = self._sink.getsockname()[1]
        bypass = ["<-loopback>", *(origin.split("://", 1)[1] for origin in self.config.origins)]
        return [f"--proxy-server=http://127.0.0.1:{port}", f"--proxy-bypass-list={';'.join(bypass)}"]

    async def _abort(self, route: Route) -> None:
        self.blocked.append(route.request.url)
        await route.abort("blockedbyclient")

    async def _close_socket(self, ws: WebSocketRoute) -> None:
        self.blocked.append(ws.url)
        await ws.close(code=1008, reason="origin not allowed")

    async def close(self) -> None:
        """Close Chromium and the Playwright driver (safe to call when never started)."""
        if self._browser is not None:
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
        if self._sink is not None:
            self._sink.close()
        self._playwright = self._browser = self._page = self._sink = None

    async def _where(self, page: Page) -> dict[str, Any]:
        return {"url": page.url, "title": await page.title()}

    async def navigate(self, url: str) -> dict[str, Any]:
        url = self.config.resolve(url)
        if not self.config.allows(url):
            allowed = ", ".join(self.config.origins)
            raise ToolError(f"refused: {url!r} is not on the app's origins ({allowed})")
        async with self._lock:
            page = await self._started()
            with tool_errors(f"navigate to {url}"):
                try:
                    response = await page.goto(url, wait_until="load")
                except PlaywrightError:
                    # A failed navigation leaves Chromium committing its error page: let it finish, or
                    # the next navigation is "interrupted by another navigation".
                    with contextlib.suppress(PlaywrightError):
                        await page.wait_for_url("chrome-error://**", timeout=1_000)
                    raise
                return {**await self._where(page), "status": response.status if response else None}

    async def click(self, selector: str) -> dict[str, Any]:
        async with self._lock:
            page = await self._started()
            with tool_errors(f"click {selector!r}"):
                await page.click(selector)
                return await self._where(page)

    async def fill(self, selector: str, text: str) -> dict[str, Any]:
        async with self._lock:
            page = await self._started()
            with tool_errors(f"fill {selector!r}"):
                await page.fill(selector, text)
                return await self._where(page)

    async def press(self, key: str) -> dict[str, Any]:
        async with self._lock:
            page = await self._started()
            with tool_errors(f"press {key!r}"):
                await page.keyboard.press(key)
                return await self._where(page)

    async def read_text(self, selector: str = "body") -> str:
        async with self._lock:
            page = await self._started()
            with tool_errors(f"read text of {selector!r}"):
                return clamp(await page.inner_text(selector))

    async def screenshot(self, name: str) -> dict[str, Any]:
        async with self._lock:
            page = await self._started()
            folder = self.config.screenshot_dir
            folder.mkdir(parents=True, exist_ok=True)
            file = f"{next_number(folder):02d}-{slug(name)}.png"
            with tool_errors(f"screenshot {name!r}"):
                png = await page.screenshot(path=folder / file, type="png")
                where = await self._where(page)
            entry = {
                "file": file,
                "name": name,
                **where,
                "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "sha256": hashlib.sha256(png).hexdigest(),
            }
            with (folder / INDEX_FILE).open("a", encoding="utf-8") as index:
                index.write(json.dumps(entry) + "\n")
            return {"file": file, **where}


def next_number(folder: Path) -> int:
    """One past the highest ``NN-`` already in ``folder``, so a second attempt never overwrites the first."""
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _SHOT_NUMBER.match(p.name))]
    return max(numbers, default=0) + 1


def build_server(session: BrowserSession) -> MCPServer[None]:
    """The MCP server exposing ``session`` as tools (the CLI names them ``mcp__browser__<tool>``)."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[None]) -> AsyncIterator[None]:
        try:
            yield None
        finally:
            await session.close()

    # Plain-text results (JSON for the structured ones): the model reads them as they are, not wrapped
    # in the {"result": ...} envelope MCP's structured output would add.
    server: MCPServer[None] = MCPServer(
        SERVER_NAME,
        instructions="A headless browser on the app under test. Only the app's own origins are reachable.",
        lifespan=lifespan,
        log_level="WARNING",
    )

    @server.tool(structured_output=False)
    async def navigate(url: str) -> dict[str, Any]:
        """Open a page of the app under test: a full URL on its origins, or a path such as ``/notes``.

        Returns the final URL, the HTTP status and the page title.
        """
        return await session.navigate(url)

    @server.tool(structured_output=False)
    async def click(selector: str) -> dict[str, Any]:
        """Click the element matching a Playwright selector (CSS, or e.g. ``text=Save``)."""
        return await session.click(selector)

    @server.tool(structured_output=False)
    async def fill(selector: str, text: str) -> dict[str, Any]:
        """Type ``text`` into the input matching ``selector``, replacing what it held."""
        return await session.fill(selector, text)

    @server.tool(structured_output=False)
    async def press(key: str) -> dict[str, Any]:
        """Press a key on the focused element (e.g. ``Enter``, ``Tab``, ``Control+A``)."""
        return await session.press(key)

    @server.tool(structured_output=False)
    async def read_text(selector: str = "body") -> str:
        """The visible text of the element matching ``selector`` (the whole page by default)."""
        return await session.read_text(selector)

    @server.tool(structured_output=False)
    async def screenshot(name: str) -> dict[str, Any]:
        """Save a screenshot of the page as evidence; returns its file name, the page URL and title."""
        return await session.screenshot(name)

    return server


def main() -> None:
    _load("served.py", "factory_mcp_served").run(
        build_server(BrowserSession(BrowserConfig.from_env(os.environ)))
    )


if __name__ == "__main__":
    main()
