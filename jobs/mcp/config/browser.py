"""The browser server's configuration (``jobs/mcp/browser.py``): ``FACTORY_BROWSER_ORIGINS``
(comma-separated origins), ``FACTORY_SCREENSHOT_DIR`` and ``FACTORY_CHROMIUM`` (default
``/usr/bin/chromium``); and the files it leaves beside the screenshots.

The server, run by path and isolated, loads this file by path too: it imports nothing of our package at
load time.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.agent.models import McpServer

ORIGINS_ENV = "FACTORY_BROWSER_ORIGINS"
SCREENSHOT_DIR_ENV = "FACTORY_SCREENSHOT_DIR"
CHROMIUM_ENV = "FACTORY_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
BROWSER_START = "browser-start.json"  # written next to the screenshots: seconds Chromium took to come up
# Written there instead when Chromium could not start: the machine's failure, never the app's.
BROWSER_FAILED = "browser-failed.json"


def browser_env(origins: Sequence[str], screenshot_dir: Path, chromium: str | None = None) -> dict[str, str]:
    """The server's configuration, as its environment."""
    env = {ORIGINS_ENV: ",".join(origins), SCREENSHOT_DIR_ENV: str(screenshot_dir.resolve())}
    if chromium:
        env[CHROMIUM_ENV] = chromium
    return env


def browser_command() -> list[str]:
    """The server by path, isolated (``-I``): it loads nothing from our package."""
    return [sys.executable, "-I", str(Path(__file__).resolve().parent.parent / "browser.py")]


def browser_mcp(origins: Sequence[str], screenshot_dir: Path, chromium: str | None = None) -> McpServer:
    """The server as a stdio entry the CLI starts itself (an open box: our uid is the agent's)."""
    # Imported here so the server, which loads this file by path, loads nothing from our package.
    from jobs.agent.models import McpServer

    return McpServer(command=browser_command(), env=browser_env(origins, screenshot_dir, chromium))
