"""The run report in real headless Chromium (issue 19, part 2), read as a person sees it.

One real run of the example ticket (``example_chain``: implement, review, e2e-verify in-process, the real
CLI, the offline model, real git, Postgres, dev servers and screenshots) writes ``index.html`` at the end
of each phase; the page is loaded from its file and judged on its rendered text
(``document.body.innerText``), not on its HTML source. A page built from hostile records shows the
hostile text as text and runs nothing, even with its Content Security Policy taken away.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

from jobs.artifacts import DirectoryStore
from jobs.models import run_key
from jobs.report import write_report
from tests.jobs.conftest import ExampleChain
from tests.jobs.report.browser import CHROMIUM, opened, text
from tests.orchestration.runs.build import build_run

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")


def rows(page: Page, selector: str) -> list[list[str]]:
    """A table's rows as the reader sees them: each cell's rendered text."""
    found = page.evaluate(
        "(s) => [...document.querySelectorAll(s + ' tr')]"
        ".map(r => [...r.cells].map(c => c.innerText.trim()))",
        selector,
    )
    assert isinstance(found, list)
    return found


def test_the_report_is_readable_mid_run(example_chain: ExampleChain, tmp_path: Path) -> None:
    early = tmp_path / "index.html"
    early.write_text(example_chain.after_implement)
    with opened(early) as page:
        seen = text(page)
    assert "Add a word count to each note" in seen
    assert "This run is unfinished: review, e2e have not written a result yet." in seen
    assert re.search(r"implement\s+done", seen) and re.search(r"review\s+pending", seen)
    assert re.search(r"e2e-verify\s+pending", seen) and "Implementer" in seen


def test_the_finished_report_shows_phases_scores_checks_and_the_checklist(
    example_chain: ExampleChain,
) -> None:
    with opened(example_chain.run_dir / "index.html") as page:
        seen = text(page)
        scores = rows(page, "table.scores")
        checks = rows(page, "table.checks tbody")
        images = page.evaluate(
            "[...document.images].map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
        )
        pr_link = page.evaluate("document.querySelector('.fact a').href")
        scripts = page.evaluate("document.scripts.length")
    # The timeline: each phase with its status, time and cost; the outcome and the total cost.
    for phase, status in (("implement", "done"), ("review", "passed"), ("e2e-verify", "verified")):
        assert re.search(rf"{phase}\s+{status}\s+[\d.]+ s\s+duration\s+\$0\.\d{{4}}\s+cost", seen), phase
    assert re.search(r"OUTCOME\s+passed", seen) and re.search(r"COST\s+\$0\.\d{4}", seen)
    # The review: the six scores per round, the verdicts, what the reviewer asked and what the fix did.
    assert scores[0] == ["CRITERION", "ROUND 1", "ROUND 2"]
    assert scores[1:8] == [
        ["correctness", "5", "5"],
        ["code quality", "5", "5"],
        ["test coverage", "5", "5"],
        ["type safety", "4", "4"],
        ["security", "5", "5"],
        ["documentation", "3", "5"],
        ["verdict", "failed", "passed"],
    ]
    assert "README.md:19" in seen and "Say in the API section that every note" in seen
    assert re.search(r"Fix after this round\s+committed\s+1 commit\(s\)", seen)
    # The checks our code ran, with their exit codes.
    assert [row[:4] for row in checks] == [
        [
            "test",
            "python3 -m unittest discover -s tests -t . -v",
            "exit 0",
            "14 passed, 0 failed, 0 errors, 6 skipped",
        ]
    ] * 2
    # The browser check: the checklist of each attempt, with its screenshots loaded in the page.
    assert re.search(r"Attempt 2\s+verified", seen) and re.search(r"Attempt 1\s+failed", seen)
    assert re.search(r"fail\s+Each note in the notes list shows its word count", seen)
    assert sorted(src for src, _, _ in images) == sorted(
        f"e2e/attempt-{n}/screenshots/{name}"
        for n in (1, 2)
        for name in ("01-notes-list.png", "02-playground.png")
    )
    assert all(done and width == 1280 for _, done, width in images), images
    assert pr_link.endswith("/pulls/factory--ix-101.md")
    assert re.search(r"Agent transcripts\s+7", seen) and scripts == 0


def test_a_transcript_opens_as_a_conversation_with_its_tool_calls(example_chain: ExampleChain) -> None:
    with opened(example_chain.run_dir / "index.html") as page:
        closed = text(page)
        page.click("details#f-implement-transcript-jsonl > summary")
        opened_once = text(page)
        page.click("details#f-implement-transcript-jsonl details.tool > summary >> nth=0")
        with_tool = text(page)
        link = page.evaluate(
            "document.querySelector('a[href=\"#f-implement-transcript-jsonl\"]').textContent"
        )
    assert "I'll read the note model and the existing tests" not in closed  # closed until opened
    assert "I'll read the note model and the existing tests before changing anything." in opened_once
    assert re.search(r"✓\s+Read\s+notes_app/store\.py", opened_once)
    assert "class ValidationError(ValueError):" not in opened_once  # the tool's output is folded
    assert "class ValidationError(ValueError):" in with_tool and "more lines" in with_tool
    assert link == "transcript ↓"


HOSTILE_TITLE = "<img src=x onerror=window.pwned=2>Add it"
HOSTILE_SAY = "<script>window.pwned=1</script> done"


def hostile_run(store: DirectoryStore) -> Path:
    """A run whose ticket title, reviewer text, checklist and transcript all carry markup and script."""
    build_run(store, "evil", title=HOSTILE_TITLE)
    events = [
        {"type": "system", "subtype": "init", "cwd": "/repo", "model": "<b>m</b>"},
        {"type": "assistant", "message": {"content": [{"type": "text", "text": HOSTILE_SAY}]}},
        {
            "type": "assistant",
            "message": {
                "content": [
                    {
                        "type": "tool_use",
                        "id": "t1",
                        "name": "Bash<svg onload=window.pwned=3>",
                        "input": {"command": "echo '</pre><script>window.pwned=4</script>'"},
                    }
                ]
            },
        },
        {
            "type": "user",
            "message": {
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": '</details><a href="javascript:x">y</a>',
                    }
                ]
            },
        },
    ]
    transcript = "\n".join(json.dumps(e) for e in events) + "\n"
    store.write_bytes(run_key("evil", "implement", "transcript.jsonl"), transcript.encode())
    return store.root / write_report(store, "evil")


def test_text_from_models_and_tickets_renders_as_text_and_runs_nothing(tmp_path: Path) -> None:
    report = hostile_run(DirectoryStore(tmp_path / "a"))
    bare = tmp_path / "a" / "runs" / "evil" / "no-csp.html"
    html = report.read_text()
    # The same page without its Content Security Policy: escaping alone must hold.
    bare.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html))
    assert "Content-Security-Policy" not in bare.read_text()
    for page_file in (report, bare):
        with opened(page_file) as page:
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            seen = text(page)
            pwned = page.evaluate("typeof window.pwned")
            counts = page.evaluate(
                "[document.scripts.length, document.querySelectorAll('svg, [onerror], [onload]').length,"
                " [...document.images].filter(i => i.getAttribute('src') === 'x').length,"
                " document.querySelectorAll('a[href^=\"javascript\"]').length]"
            )
        assert pwned == "undefined", page_file.name
        assert counts == [0, 0, 0, 0], page_file.name
        assert HOSTILE_TITLE in seen and HOSTILE_SAY in seen
        assert "Bash<svg onload=window.pwned=3>" in seen
        assert "echo '</pre><script>window.pwned=4</script>'" in seen
        assert '</details><a href="javascript:x">y</a>' in seen


def test_the_demo_report_can_be_looked_at(example_chain: ExampleChain, tmp_path: Path) -> None:
    """Two pictures of the page (the top, an opened transcript): real pixels, not a blank page."""
    from PIL import Image

    from tests.jobs.report.browser import screenshots

    top, convo = tmp_path / "top.png", tmp_path / "transcript.png"
    screenshots(example_chain.run_dir / "index.html", top, convo)
    for picture in (top, convo):
        with Image.open(picture) as image:
            low, high = image.convert("L").getextrema()
            assert isinstance(low, int | float) and isinstance(high, int | float)  # one band: numbers
            assert image.size == (1360, 900) and high - low > 100
