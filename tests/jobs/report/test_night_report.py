"""A night's report (issue 19: "for triage, the night's findings and decisions") in real headless Chromium.

Nights are made in-process by the real triage and closing jobs (``tests/orchestration/runs/nights.py``),
which write the page themselves; each fix's chain is built from the real result models with its own
report. Pages are judged on their rendered text, as a person reads them, and followed link by link:
from a night to a fix's chain and back.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

from jobs.triage.findings import Evidence, Example, Link
from tests.jobs.report.browser import CHROMIUM, opened, text
from tests.jobs.report.test_report_browser import rows
from tests.orchestration.runs.nights import MadeNight, crash, make_night, tonight, wrong_answers

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> MadeNight:
    """Tonight's four findings: the regression's fix passes, the new crash's fix fails in implement."""
    return make_night(tmp_path_factory.mktemp("night"), tonight(), chains={1: {"implement": "failed"}})


def links(page: Page, selector: str) -> list[list[str]]:
    """Each link's text and its href as written in the page."""
    found = page.evaluate(
        "(s) => [...document.querySelectorAll(s)].map(a => [a.textContent, a.getAttribute('href')])", selector
    )
    assert isinstance(found, list)
    return found


def test_the_night_page_shows_the_night_its_counts_its_closing_line_and_every_finding(
    night: MadeNight,
) -> None:
    passed, failed = night.triage.selected  # ranked: the regression (6 events, 6 users) first
    with opened(night.page()) as page:
        seen = text(page)
        counts = rows(page, "table.counts")
        table = rows(page, "table.findings")
        fixes = links(page, "table.findings td:last-child a")
    assert "Nightly triage of 2026-12-04" in seen and "solve-chatbot-issues" in seen
    assert re.search(r"OUTCOME\s+flagged", seen)  # one fix opened no pull request
    assert re.search(r"FOUND\s+4", seen) and re.search(r"PULL REQUESTS\s+1 of 2 fix\(es\)", seen)
    assert counts == [
        [
            "FOUND",
            "NEW",
            "REGRESSION",
            "DUPLICATE",
            "BELOW THRESHOLD",
            "OVER CAP",
            "PRS OPENED",
            "FIXES FAILED",
        ],
        ["4", "1", "1", "0", "1", "1", "1", "1"],
    ]
    assert "night 2026-12-04: 4 found, 1 new, 0 duplicate, 1 regression, 1 PR(s) opened, 1 failed" in seen
    assert "Report only" not in seen and "has not closed yet" not in seen
    assert table[0] == ["SOURCE", "FINDING", "EVENTS", "USERS", "DECISION", "REASON", "FIX"]
    body = table[1:]
    assert [(r[0], r[1].splitlines()[0], r[2], r[3], r[4], r[5]) for r in body] == [
        (
            "langfuse",
            "user-feedback ≤ 0 on skill=refunds (6 traces)",
            "6",
            "6",
            "regression",
            "the source marks it resolved before and back",
        ),
        ("sentry", "TypeError: reply() got None", "9", "3", "new", "not seen before"),
        ("sentry", "KeyError: 'locale'", "4", "1", "over-cap", "new, but the night's cap is reached"),
        (
            "sentry",
            "ValueError: empty greeting",
            "1",
            "1",
            "below-threshold",
            "1 event(s) in the window, under the threshold of 2",
        ),
    ]
    assert body[0][6].split("\n") == [f"{passed.identifier} passed", "review passed, e2e verified", "PR #7"]
    assert body[1][6].split("\n") == [f"{failed.identifier} failed", "failed: implement ended failed"]
    assert body[2][6] == body[3][6] == "-"
    assert fixes == [
        [passed.identifier, f"../{passed.run_id}/index.html"],
        ["PR #7", "https://github.com/acme/app/pull/7"],
        [failed.identifier, f"../{failed.run_id}/index.html"],
    ]


def test_a_fix_links_to_its_chain_which_reads_as_a_ticket_run_and_links_back_to_its_night(
    night: MadeNight,
) -> None:
    passed = night.triage.selected[0]
    with opened(night.page()) as page:
        page.click(f"table.findings a:text-is('{passed.identifier}')")
        page.wait_for_load_state()
        chain_url, chain = page.url, text(page)
        page.click("header .eyebrow a:text-is('night 2026-12-04')")
        page.wait_for_load_state()
        back_url = page.url
    assert chain_url == night.page(passed.run_id).resolve().as_uri()
    assert back_url == night.page().resolve().as_uri()
    eyebrow = chain.split("\n")[:9]
    assert eyebrow == [
        passed.identifier,
        "·",
        "solve-chatbot-issues",
        "·",
        "run",
        passed.run_id,
        "·",
        "a finding of",
        "night 2026-12-04",
    ]
    # Its own three phases, as a ticket's run: not the night's triage and closing step.
    for phase, status in (("implement", "done"), ("review", "passed"), ("e2e-verify", "verified")):
        assert re.search(rf"{phase}\s+{status}\s+[\d.]+ s\s+duration", chain), phase
    assert re.search(r"OUTCOME\s+passed", chain) and "unfinished" not in chain
    assert "triage" not in chain.lower().replace("nightly", "") and "close the night" not in chain


def test_before_it_closes_the_page_says_so_and_reads_each_fix_from_its_own_records(
    night: MadeNight, tmp_path: Path
) -> None:
    early = tmp_path / "index.html"
    early.write_text(night.after_triage)  # as the triage job left it, before any chain ran
    with opened(early) as page:
        seen = text(page)
        fixes = [row[6] for row in rows(page, "table.findings tbody")][:2]
    assert re.search(r"OUTCOME\s+unfinished", seen)
    assert "The night has not closed yet: its fixes may still be running." in seen
    assert re.search(r"close the night\s+pending", seen)
    assert [fix.split("\n")[0] for fix in fixes] == [
        f"{s.identifier} (no report yet) not started" for s in night.triage.selected
    ]


def test_a_report_only_night_says_what_it_would_have_done_and_links_nothing(tmp_path: Path) -> None:
    dry = make_night(tmp_path, tonight(), run_id="night-dry", report_only=True)
    with opened(dry.page()) as page:
        seen = text(page)
        fixes = [row[6] for row in rows(page, "table.findings tbody")]
        relative = links(page, "a[href^='../']")
    assert "Nightly triage of 2026-12-04 (report only)" in seen and re.search(r"OUTCOME\s+done", seen)
    assert "Report only: this night claimed, recorded and fixed nothing" in seen
    assert fixes == ["not fixed (report only)", "not fixed (report only)", "-", "-"]
    assert "night 2026-12-04 (report only): 4 found, nothing fixed" in seen
    assert relative == [] and dry.chains == {}


def test_an_already_claimed_night_says_who_has_it_and_expects_no_closing_step(
    night: MadeNight, tmp_path: Path
) -> None:
    again = make_night(tmp_path, tonight(), run_id="night-again", close=False, artifacts=night.root)
    with opened(again.page()) as page:
        seen = text(page)
    assert again.triage.status == "already-claimed"
    assert re.search(r"OUTCOME\s+already-claimed", seen)
    assert "Nothing to do: night 2026-12-04 was claimed by run night-1" in seen
    assert "No findings were written: the triage ended already-claimed." in seen
    assert "close the night" not in seen and "unfinished" not in seen


HOSTILE_TITLE = "<script>window.pwned=1</script>Crash in reply()"
HOSTILE_ERROR = "</pre><img src=x onerror=window.pwned=2>"
HOSTILE_ASK = '<svg onload=window.pwned=3></svg></details><a href="javascript:window.pwned=4">refund?</a>'


def test_finding_titles_and_evidence_render_as_text_and_run_nothing(tmp_path: Path) -> None:
    hostile = crash("666", 7, 2, HOSTILE_TITLE, error=HOSTILE_ERROR).model_copy(
        update={"links": [Link(label="<b>issue</b>", url="javascript:window.pwned=5")]}
    )
    chat = wrong_answers("refunds", 3, HOSTILE_ASK)
    chat = chat.model_copy(
        update={
            "evidence": Evidence(
                examples=[
                    Example(
                        trace_id="<i>t</i>", input=HOSTILE_ASK, output=HOSTILE_TITLE, comment=HOSTILE_ERROR
                    )
                ]
            )
        }
    )
    made = make_night(tmp_path, [hostile, chat])
    report = made.page()
    html = report.read_text()
    bare = report.with_name("no-csp.html")
    # The same page without its Content Security Policy: escaping alone must hold.
    bare.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html))
    assert "Content-Security-Policy" not in bare.read_text()
    for page_file in (report, bare):
        with opened(page_file) as page:
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            seen = text(page)
            pwned = page.evaluate("typeof window.pwned")
            counts = page.evaluate(
                "[document.scripts.length,"
                " document.querySelectorAll('svg, [onerror], [onload]').length"
                " + [...document.querySelectorAll('b, i')].filter(e => ['issue', 't']"
                ".includes(e.textContent)).length,"
                " [...document.images].filter(i => i.getAttribute('src') === 'x').length,"
                " document.querySelectorAll('a[href^=\"javascript\"]').length]"
            )
        assert pwned == "undefined", page_file.name
        assert counts == [0, 0, 0, 0], page_file.name
        assert HOSTILE_TITLE in seen and HOSTILE_ERROR in seen and HOSTILE_ASK in seen
        assert "<b>issue</b>" in seen and "trace <i>t</i>" in seen
