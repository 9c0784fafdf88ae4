"""``factory demo --target support-bot`` end to end (issue 15, part 3): ticket SB-1 on the support-bot.

The real Claude Code CLI against the offline model (``examples/scenarios/*-SB-1*.yaml``), real git, the
app installed from PyPI as its .factory.yaml says (in each phase), its own suite as the review's
evidence, a seeded PostgreSQL, its three servers and Chromium. The run must end done / passed / verified,
and the browser check's report must cite screenshots the tool took on all three servers. The
screenshots and the report are copied to ``/tmp/sb-shots/`` for a human to look at. Slow (minutes: the
app is installed in each phase), so there is one such run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner, Result

from orchestration.cli import app
from tests.conftest import git

SHOTS = Path("/tmp/sb-shots")  # a copy of the screenshots and the report, for a human to look at
PORTS = {8080: "backend", 3001: "playground", 3002: "backoffice"}


def factory(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def workflow_result(result: Result) -> dict[str, Any]:
    """The workflow's return value, from the ``result`` line of the summary's workflow section."""
    section = result.stdout.split("== Factory: workflow ==", 1)[1]
    line = next(line for line in section.splitlines() if line.startswith("result "))
    outcome: dict[str, Any] = json.loads(line.removeprefix("result").strip())
    return outcome


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def taken_at(index: Path) -> dict[str, str]:
    """Screenshot file -> the URL the browser tool took it at (its own record, as the phase checks it)."""
    entries = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {entry["file"]: entry["url"] for entry in entries}


def test_a_ticket_scripted_for_the_other_app_is_refused_before_anything_runs(tmp_path: Path) -> None:
    result = factory("demo", "--target", "support-bot", "--ticket", "IX-101", "--artifacts", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert (
        "ticket IX-101 is scripted for the notes-app example: run it with --target notes-app" in result.stderr
    )
    assert not (tmp_path / "demo").exists()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_sb_1_ends_verified_with_screenshots_of_all_three_servers(tmp_path: Path) -> None:
    """One run (a re-run resuming the branch is the notes demo's test; once is a minute of CI here)."""
    artifacts = tmp_path / ".factory"
    runs = []
    for branch in ("new, pushed: True",):
        result = factory("demo", "--target", "support-bot", "--artifacts", str(artifacts), "--keep-work")
        assert result.exit_code == 0, result.output[-4000:]
        outcome = workflow_result(result)
        assert (outcome["implement"], outcome["review"], outcome["e2e"]) == ("done", "passed", "verified")
        assert f"branch      factory/sb-1 ({branch})" in result.stdout
        runs.append(outcome["run_id"])
        took = next(line for line in result.stdout.splitlines() if line.startswith("time "))
        print(f"\n{outcome['run_id']}: {took}")

    # implement: the widget shows the skill, with a test in the app's own suite, on the branch.
    remote = artifacts / "demo" / "support-bot.git"
    widget = git("--git-dir", str(remote), "show", "factory/sb-1:support_bot/playground/static/widget.js")
    assert 'item.appendChild(element("p", "skill", "Skill: " + data.skill));' in widget
    tests = git("--git-dir", str(remote), "show", "factory/sb-1:tests/test_playground.py")
    assert "def test_each_answer_shows_the_skill_that_answered" in tests
    log = git("--git-dir", str(remote), "log", "--format=%s", "main..factory/sb-1")
    assert "(failed)" not in log and log.count("SB-1: E2E report and screenshots (verified)") == 1
    assert not (artifacts / "demo" / "remote.git").exists()  # the notes app's remote is another

    for run_id in runs:
        run = artifacts / "runs" / run_id
        # review: one round, passed on Factory's own run of the app's suite.
        review = read_json(run / "review" / "result.json")
        assert review["status"] == "passed" and len(review["rounds"]) == 1
        test_run = next(check for check in review["rounds"][0]["checks"] if check["name"] == "test")
        counts = test_run["counts"]
        assert test_run["exit_code"] == 0 and counts["passed"] > 0 and counts["failed"] == 0
        print(f"{run_id}: the support-bot's suite in the review: {counts}, {test_run['seconds']:.1f}s")

        # e2e: every item passed on a screenshot the tool took; the cited ones cover all three servers.
        e2e = read_json(run / "e2e" / "result.json")
        assert e2e["status"] == "verified" and len(e2e["attempts"]) == 1
        attempt = e2e["attempts"][0]
        assert attempt["verdict"] == "verified" and attempt["evidence_problems"] == []
        urls = taken_at(artifacts / "work" / run_id / f"shots-{attempt['attempt']}" / "index.jsonl")
        checklist = attempt["report"]["checklist"]
        assert all(item["passed"] for item in checklist)
        cited = {item["screenshot"]: urls[item["screenshot"]] for item in checklist}
        ports = {urlsplit(url).port for url in cited.values()}
        assert set(PORTS) <= ports, cited
        assert any(urlsplit(url).path.startswith("/conversations/") for url in cited.values())  # a transcript
        for name, url in sorted(cited.items()):
            print(f"  {name}  {PORTS.get(urlsplit(url).port or 0, '?')}  {url}")
        print("  e2e " + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in attempt["timings"].items()))

    # A copy for a human: the last run's published screenshots, its report, where each was taken.
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    for shot in sorted((run / "e2e" / "screenshots").glob("*.png")):
        shutil.copy2(shot, SHOTS / shot.name)
    shutil.copy2(run / "e2e" / "report.md", SHOTS / "report.md")
    (SHOTS / "taken-at.json").write_text(json.dumps(urls, indent=2) + "\n", encoding="utf-8")
    assert {p.name for p in SHOTS.glob("*.png")} >= set(cited)
