"""Where a run's report is, and opening it: in a browser when this machine has a display, else its
location printed for the person to open where they can.

A run that has no report yet (it ran before reports existed, or its phase could not write one) gets
one rendered from its artifacts on the way.
"""

from __future__ import annotations

import os
import sys
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from jobs.artifacts import ArtifactStore
from jobs.report import report_key, write_report

CONSOLE_OBJECTS = "https://storage.cloud.google.com/"


@dataclass(frozen=True)
class Report:
    """A run's report: its URL in the store, the URL a browser opens, whether it was rendered now."""

    url: str
    browser_url: str
    rendered: bool


def locate(store: ArtifactStore, run_id: str, *, render: bool = False) -> Report:
    """The run's report, rendered first when it has none (or when ``render`` asks for a fresh one)."""
    key = report_key(run_id)
    rendered = render or not store.exists(key)
    if rendered:
        write_report(store, run_id)
    url = store.url(key)
    return Report(url, browser_url(url), rendered)


def browser_url(url: str) -> str:
    """A URL a browser can open: ``gs://bucket/name`` becomes Cloud Storage's authenticated link (which
    also serves the report's relative images and links); other URLs stay as they are."""
    if url.startswith("gs://"):
        return CONSOLE_OBJECTS + url.removeprefix("gs://")
    return url


def has_display(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Whether a browser window could be shown here: macOS and Windows always, others with X or Wayland."""
    if platform == "darwin" or platform.startswith("win"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def open_in_browser(
    url: str, *, display: bool | None = None, opener: Callable[[str], bool] = webbrowser.open
) -> bool:
    """Open ``url`` in a browser when there is a display; False when there is none or none opened."""
    if not (has_display() if display is None else display):
        return False
    try:
        return opener(url)
    except webbrowser.Error:
        return False
