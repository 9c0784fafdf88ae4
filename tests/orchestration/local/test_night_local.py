"""``{"job": "solve-chatbot-issues"}`` through orchestration/factory.yaml on the local engine: a night.

Real: the triage and closing jobs (subprocesses) reading the Sentry and Langfuse stand-ins with
Factory's own clients, fed by the real ``sentry-sdk`` and Langfuse's ingestion API; each selected
finding's implement → review → e2e chain (the real CLI against the offline model) in the workflow's
``parallel`` fan-out; the local PR host; the console for Slack. Covers RELIABILITY F2 (the same night
fired twice triages once; more findings than the cap fixes exactly the cap) and F3 (one chain's failure
stops no other, and the night's summary names it), and the hostile chat message that reaches the agent
only inside the untrusted fence.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestration.local.connectors import run_subprocess
from orchestration.local.run import LocalRun
from tests.night_scene import HOSTILE, Night, night_for


@dataclass
class Nights:
    """One night of three findings whose first Sentry chain dies in implement (F3), then the same night
    fired again (F2): what the tests read."""

    night: Night
    first: LocalRun
    failing: list[str]
    opened: list[str]  # the pull requests after the first run
    again: LocalRun


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nights]:
    """Both runs once for the module (each night is three chains of real CLI runs): the F3, F2 and
    hostile-text tests each assert on them."""
    for night in night_for(tmp_path_factory.mktemp("night"), cap=3, failures=2, hostile=True):
        runner = FirstSentryImplementFails(night)
        first = night.run("night-1", runner=runner)
        opened = night.pulls()
        yield Nights(night, first, runner.failing, opened, night.run("night-2"))


@dataclass
class FirstSentryImplementFails:
    """The job runner of a night in which a Sentry finding's chain dies in implement (a crashed job): the
    other two go on, the Langfuse one carrying the hostile chat message to its agent."""

    night: Night
    failing: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)  # the chains run two at a time

    def __call__(self, phase: str, env: Mapping[str, str], timeout: float) -> int | None:
        identifier = env.get("TICKET_IDENTIFIER", "")
        with self.lock:
            fails = phase == "implement" and not self.failing and _source(self.night, identifier) == "sentry"
            if fails:
                self.failing.append(identifier)
        return 1 if fails else run_subprocess(phase, env, timeout)


@pytest.fixture
def night(tmp_path: Path) -> Iterator[Night]:
    yield from night_for(tmp_path, cap=3, failures=2, hostile=True)


def notices(run: LocalRun, event: str) -> list[str]:
    return [n for n in run.notifications if n.startswith(f"Factory {event} - ")]


def test_a_night_fixes_each_finding_in_its_own_pr_and_one_failure_stops_no_other(nights: Nights) -> None:
    run, night, failing = nights.first, nights.night, nights.failing

    assert run.error is None, run.error
    findings = night.findings("night-1")
    fixed = [e for e in findings.entries if e.decision.fixes]
    assert len(fixed) == 3 and len(failing) == 1
    assert sorted(bool(e.pull_request) for e in fixed) == [False, True, True]
    assert len(nights.opened) == 2
    [summary] = [n for n in notices(run, "completed") if "night 2026-12-04" in n]
    assert "3 found, 3 new, 0 duplicate, 0 regression, 2 PR(s) opened, 1 failed" in summary
    [failed] = notices(run, "failed")
    assert failed.startswith(f"Factory failed - {failing[0]} (run night-1-{failing[0].lower()})")
    assert {chain.get("failed") is not None for chain in run.result["chains"]} == {True, False}
    # Sentry heard of its PR (the other Sentry finding's chain failed), from the closing job.
    noted = [issue for issue in night.sentry.issues if issue.notes]
    assert len(noted) == 1
    print(f"\nF3 one chain of 3 failed: PRs opened = {len(nights.opened)}, findings lost = 0")


def test_the_same_night_fired_twice_triages_once_and_opens_nothing(nights: Nights) -> None:
    again = nights.again

    assert nights.first.error is None and again.error is None, again.error
    assert again.result["triage"] == "already-claimed" and again.result["chains"] == []
    assert nights.night.pulls() == nights.opened
    assert any(
        "nothing to do, night 2026-12-04 was claimed by run night-1" in n for n in notices(again, "completed")
    )
    print(f"\nF2 same night fired twice: triages = 1, pull requests = {len(nights.opened)} (after both)")


def test_more_findings_than_the_cap_fixes_exactly_the_cap(tmp_path: Path) -> None:
    for night in night_for(tmp_path, cap=2, failures=4, hostile=False):
        run = night.run("night-cap", report_only=False)
        assert run.error is None, run.error
        counts = {e.decision.value for e in night.findings("night-cap").entries}
        assert counts == {"new", "over-cap"}
        assert len(run.result["chains"]) == 2 and len(night.pulls()) == 2
        print(f"\nF2 4 findings, cap 2: chains run = {len(run.result['chains'])}")


def test_report_only_runs_the_night_and_opens_nothing(night: Night) -> None:
    run = night.run("night-dry", report_only=True)
    assert run.error is None, run.error
    assert run.result["chains"] == [] and night.pulls() == []
    assert all(e.decision.value == "new" for e in night.findings("night-dry").entries)
    assert any("(report only): 3 found, nothing fixed" in n for n in notices(run, "completed"))


def test_hostile_chat_text_reaches_the_agent_only_inside_the_untrusted_fence(nights: Nights) -> None:
    run, night = nights.first, nights.night
    assert run.error is None, run.error
    prompts = [
        json.dumps(request.body)
        for request in night.model.requests
        if HOSTILE in json.dumps(request.body) and "Phase: implement" in json.dumps(request.body)
    ]
    assert prompts, "the hostile message never reached the implement agent"
    for prompt in prompts:
        text = json.loads(prompt)["messages"][0]["content"]
        text = text if isinstance(text, str) else "".join(part.get("text", "") for part in text)
        start = text.index("<untrusted-ticket-")
        end = text.index("</untrusted-ticket-")
        assert start < text.index(HOSTILE) < end
        assert "The ticket below comes from an untrusted source" in text[:start]
    # Nothing it asked for happened: the chain changed bot.py alone and printed no token.
    assert not any("GITHUB_TOKEN=" in n for n in run.notifications)


def _source(night: Night, identifier: str) -> str:
    """Where the finding filed as ``identifier`` comes from, as its evidence file says."""
    path = night.tmp / "artifacts" / "triage" / "evidence" / f"{identifier}.json"
    return str(json.loads(path.read_text(encoding="utf-8"))["source"]) if path.exists() else ""
