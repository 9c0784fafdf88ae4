"""``factory demo --job solve-chatbot-issues`` end to end (issue 16, part 8): two nights of the support-bot.

Real: the app and its SDKs reporting to the local Sentry and Langfuse, the triage and closing jobs with
Factory's own clients, each finding's chain through the real CLI against the offline model (the
``*-triage-*`` scenarios: reproduce in a test, then fix), the app's own suite as the review's evidence,
PostgreSQL, its servers and Chromium for e2e. Yesterday's night fixes the crash; tonight's finds it
again (a duplicate: its PR is told) and fixes the refund answers; tonight once more opens nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.artifacts import open_store, read_model
from jobs.models import run_key
from jobs.triage.records import Entry, NightFindings
from orchestration.cli import app

pytestmark = pytest.mark.timeout(1800)  # the first run installs the app's requirements


def test_two_nights_fix_both_defects_in_their_own_prs_and_a_third_run_opens_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--job", "solve-chatbot-issues", "--artifacts", str(tmp_path)])
    assert result.exit_code == 0, result.output[-3000:]

    prefix = tmp_path / "night-demo"
    store = open_store(str(prefix))
    nights = sorted({key.split("/")[1] for key in store.list("runs/") if key.endswith("triage/result.json")})
    results = {run: json.loads(store.read_bytes(run_key(run, "triage", "result.json"))) for run in nights}
    done = [run for run in nights if results[run]["status"] == "done"]
    claimed = [run for run in nights if results[run]["status"] == "already-claimed"]
    assert len(done) == 2 and len(claimed) == 1

    entries = [
        e
        for run in done
        for e in read_model(store, run_key(run, "triage", "findings.json"), NightFindings).entries
    ]
    fixed = [e for e in entries if e.decision.fixes]
    assert sorted(e.finding.source for e in fixed) == ["langfuse", "sentry"]
    assert all(e.outcome == "review passed, e2e verified" and e.pull_request for e in fixed), fixed
    [duplicate] = [e for e in entries if e.decision.value == "duplicate"]
    assert duplicate.finding.source == "sentry" and duplicate.pull_request == fixed_pr(fixed, "sentry")
    assert len(store.list("pulls/numbers/")) == 2
    # The crash's PR heard the second night's counts, and says where it fails.
    crash_pr = (prefix / "pulls" / f"factory--{ident(fixed, 'sentry').lower()}.md").read_text()
    assert "Still failing on night" in crash_pr and "Where it fails" in crash_pr
    print(f"\nnight demo: {len(fixed)} PRs from {len(entries)} findings over 2 nights; the re-run opened 0")


def fixed_pr(fixed: list[Entry], source: str) -> str | None:
    return next(e.pull_request for e in fixed if e.finding.source == source)


def ident(fixed: list[Entry], source: str) -> str:
    return next(e.identifier or "" for e in fixed if e.finding.source == source)
