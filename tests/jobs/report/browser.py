"""A run report opened in real headless Chromium (Debian's, through Playwright), read as a person sees it.

Also a command, to look at a report: ``python -m tests.jobs.report.browser REPORT TOP.png TRANSCRIPT.png``
saves the top of the page and the page with its first transcript opened.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from jobs.mcp.browser import CHROMIUM_ARGS

CHROMIUM = Path(os.environ.get("FACTORY_CHROMIUM", "/usr/bin/chromium"))


@contextmanager
def opened(report: Path, width: int = 1360, height: int = 900) -> Iterator[Page]:
    """The report loaded from its file (images and all) in a fresh headless Chromium page."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(report.resolve().as_uri(), wait_until="load")
            yield page
        finally:
            browser.close()


def text(page: Page) -> str:
    """What a reader sees: the body's rendered text (closed <details> hide their content)."""
    value = page.evaluate("document.body.innerText")
    assert isinstance(value, str)
    return value


def screenshots(report: Path, top: Path, transcript: Path) -> None:
    """The top of the page, and the page scrolled to its first transcript, opened, with its first edit
    (or first tool call) opened too."""
    with opened(report) as page:
        page.screenshot(path=str(top))
        page.evaluate(
            """() => {
              const first = document.querySelector('details.transcript');
              first.open = true;
              const tools = [...first.querySelectorAll('details.tool')];
              const edit = tools.find(t => t.querySelector('.tname').textContent === 'Edit') || tools[0];
              if (edit) edit.open = true;
              first.scrollIntoView();
            }"""
        )
        page.screenshot(path=str(transcript))


if __name__ == "__main__":
    screenshots(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
