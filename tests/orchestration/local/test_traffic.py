"""``python -m orchestration.local.traffic`` (issue 15, part 4): a scripted day of support-bot traffic lands
in the local Sentry and Langfuse as the app's real SDKs report it.

Real: the app (examples/support-bot, its pinned requirements from PyPI in a cached venv), its migrations
and seeds in a throwaway PostgreSQL, its chat API, ``sentry-sdk`` and its Langfuse sender, and the
stand-ins' ingestion and read APIs. Every assertion reads what arrived through the read APIs with
Factory's own clients, the triage job's ``SentryClient`` and ``LangfuseClient`` (``SupportBotDay.
clients``): no hand-written request or fixture in between.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs import serving
from jobs.artifacts import open_store, read_model
from jobs.entrypoint import prepare
from jobs.models import run_key
from jobs.serving import free_port
from jobs.triage.phase import run_triage
from jobs.triage.records import NightFindings
from orchestration.local.remote import seed_bare_remote
from orchestration.local.traffic import (
    ACME,
    APP,
    DAY,
    NORTHWIND,
    SENTRY_ORG,
    SENTRY_PROJECT,
    TRACE_NAME,
    DaySummary,
    SupportBotDay,
    has_no_words,
    main,
    played_day,
)

pytestmark = pytest.mark.timeout(1200)  # the first run installs the app's requirements

REFUND_WORDS = re.compile(r"refund|return|money back", re.IGNORECASE)
WORDLESS = [turn.message for turn in DAY if has_no_words(turn.message)]
FEEDBACK = "user-feedback"


@dataclass
class Started:
    """What the day said while it started, and the port another process held when the chat API tried it."""

    said: list[str] = field(default_factory=list)
    taken: int = 0


@pytest.fixture(scope="module")
def started() -> Started:
    return Started()


@pytest.fixture(scope="module")
def day(started: Started) -> Iterator[tuple[SupportBotDay, DaySummary]]:
    """The day, whose chat API first gets a port another process took after it was found free (the race
    in ``free_port``): the app exits naming the port, and the day starts it on another."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    started.taken = holder.getsockname()[1]
    ports = iter([started.taken])

    def first_taken() -> int:
        return next(ports, None) or free_port()

    def say(line: str) -> None:
        started.said.append(line)
        print(line)

    with holder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(serving, "free_port", first_taken)
        with played_day(say=say) as played:
            yield played


def test_a_chat_api_that_lost_its_port_is_started_on_another(
    day: tuple[SupportBotDay, DaySummary], started: Started
) -> None:
    bot, _ = day
    assert (
        f"another process took port {started.taken} before the chat API could; trying another" in started.said
    )
    assert bot.api_url != f"http://127.0.0.1:{started.taken}"


def window() -> tuple[datetime, datetime]:
    """The Langfuse reads' bounds: the last day, to a minute ahead (the end is exclusive)."""
    until = datetime.now(UTC) + timedelta(minutes=1)
    return until - timedelta(days=1), until


def test_the_day_is_about_forty_turns_of_two_clients_with_both_defects() -> None:
    assert 35 <= len(DAY) <= 45
    assert {turn.client for turn in DAY} == {ACME, NORTHWIND}
    assert len(WORDLESS) >= 3 and {turn.client for turn in DAY if turn.message in WORDLESS} == {
        ACME,
        NORTHWIND,
    }
    downs = [turn for turn in DAY if turn.rating == "down"]
    assert sum(1 for turn in downs if REFUND_WORDS.search(turn.message)) > len(downs) / 2


def test_every_wordless_message_crashed_and_nothing_else(day: tuple[SupportBotDay, DaySummary]) -> None:
    _, summary = day
    assert [p.turn.message for p in summary.played if p.status == 500] == WORDLESS
    assert all(p.status == 200 for p in summary.played if p.turn.message not in WORDLESS)
    assert all(p.rated for p in summary.played if p.status == 200 and p.turn.rating is not None)


def test_the_crash_is_one_sentry_issue_with_the_app_s_frames(day: tuple[SupportBotDay, DaySummary]) -> None:
    bot, _ = day
    with bot.clients() as (sentry, _langfuse):
        issues = list(sentry.issues(SENTRY_ORG, SENTRY_PROJECT, query="", stats_period="24h"))
        assert len(issues) == 1, [issue.title for issue in issues]
        issue = issues[0]
        # Both clients' customers hit it, the backend reported it, in production: tag searches.
        for tag in (f"client:{ACME}", f"client:{NORTHWIND}", "service:backend", "environment:production"):
            assert [i.id for i in sentry.issues(SENTRY_ORG, SENTRY_PROJECT, query=tag)] == [issue.id], tag
        latest = sentry.latest_event(issue.id, org=SENTRY_ORG)
    assert issue.title.startswith("IndexError: list index out of range")
    assert issue.count == len(WORDLESS) and issue.level == "error" and issue.status == "unresolved"
    assert issue.culprit == "/api/chat"  # the SDK's transaction: the route that failed
    assert latest.issue_id == issue.id and latest.tags["client"] in (ACME, NORTHWIND)
    assert latest.tags["service"] == "backend" and latest.tags["environment"] == "production"
    assert [e.type for e in latest.exceptions] == ["IndexError"]
    in_app = [(f.filename, f.function) for f in latest.frames if f.in_app]
    files = [file for file, _ in in_app]
    assert files[0] == "support_bot/backend/api.py" and in_app[0][1] == "chat", in_app
    assert in_app[-1] == ("support_bot/routing.py", "is_greeting"), in_app
    assert files.index("support_bot/engine.py") < files.index("support_bot/routing.py"), in_app
    assert any(file == "support_bot/routing.py" and function == "route" for file, function in in_app)
    # The last wordless message crashed last: the app's chat frame holds it (locals come as repr).
    chat = next(f for f in latest.frames if f.function == "chat")
    assert chat.vars is not None and chat.vars["message"] == repr(WORDLESS[-1])


def test_a_crashed_turn_leaves_no_langfuse_trace(day: tuple[SupportBotDay, DaySummary]) -> None:
    bot, summary = day
    with bot.clients() as (_sentry, langfuse):
        since, until = window()
        traces = list(langfuse.traces(TRACE_NAME, from_ts=since, to_ts=until))
    assert len(traces) == sum(1 for p in summary.played if p.status == 200) == summary.traces
    assert not {trace.input for trace in traces} & set(WORDLESS)


def test_the_thumbs_down_cluster_on_the_refund_shipping_defect(day: tuple[SupportBotDay, DaySummary]) -> None:
    bot, summary = day
    with bot.clients() as (_sentry, langfuse):
        since, until = window()
        scores = list(langfuse.scores(FEEDBACK, from_ts=since, to_ts=until))
        traces = {trace.id: trace for trace in langfuse.traces(TRACE_NAME, from_ts=since, to_ts=until)}
    assert len(scores) == sum(1 for p in summary.played if p.rated)
    assert {score.data_type for score in scores} == {"BOOLEAN"}  # v3 types the value: true or false
    downs = [s for s in scores if s.value is False]
    skill_of = {
        s.id: next(t[6:] for t in traces[s.trace_id or ""].tags if t.startswith("skill:")) for s in scores
    }
    by_skill: dict[str, int] = {}
    for score in downs:
        by_skill[skill_of[score.id]] = by_skill.get(skill_of[score.id], 0) + 1
    worst = max(by_skill, key=lambda skill: by_skill[skill])
    assert worst == "shipping" and by_skill["shipping"] >= 2 * (len(downs) - by_skill["shipping"]), by_skill
    shipping_downs = [s for s in downs if skill_of[s.id] == "shipping"]
    for score in shipping_downs:  # every one: an Acme refund or return question answered with delivery
        trace = traces[score.trace_id or ""]
        assert f"client:{ACME}" in trace.tags and REFUND_WORDS.search(str(trace.input)), trace.input
    shipping_ups = [s for s in scores if s.value is True and skill_of[s.id] == "shipping"]
    assert shipping_ups
    assert not any(REFUND_WORDS.search(str(traces[s.trace_id or ""].input)) for s in shipping_ups)
    assert summary.feedback[0].skill == "shipping" and summary.feedback[0].down == len(shipping_downs)


def test_the_command_prints_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    print(out)
    assert f"A day of support-bot traffic: {len(DAY)} turns" in out
    assert "1 issue(s)" in out and "IndexError: list index out of range" in out
    assert f"{len(WORDLESS)} event(s), clients {ACME}, {NORTHWIND}" in out
    assert "support_bot/routing.py is_greeting" in out
    assert f"latest event's message {WORDLESS[-1]!r}" in out
    assert re.search(r"^  shipping\s+\d+\s+[4-9]$", out, re.MULTILINE), out
    assert "rated down on shipping: 'How long do refunds take?'" in out


def test_the_triage_finds_both_defects_through_its_own_clients(
    day: tuple[SupportBotDay, DaySummary], tmp_path: Path
) -> None:
    """The triage job's code, with its own Sentry and Langfuse clients over real HTTP, on the day's data:
    the crash as one Sentry finding with the app's frames, the refund questions as one Langfuse cluster
    on Acme's shipping skill; the single thumbs-down elsewhere stay under the threshold."""
    bot, _ = day
    remote = seed_bare_remote(APP, tmp_path / "support-bot.git")
    env = {
        "JOB": "solve-chatbot-issues",
        "REPO_URL": str(remote),
        "ARTIFACTS_PREFIX": str(tmp_path / "artifacts"),
        "WORKDIR": str(tmp_path / "work"),
        "RUN_ID": "night-1",
        "NIGHT": "2026-12-04",
        "SENTRY_URL": bot.sentry.url,
        "SENTRY_AUTH_TOKEN": bot.sentry_token,
        "LANGFUSE_HOST": bot.langfuse.url,
        "LANGFUSE_PUBLIC_KEY": bot.langfuse.public_key,
        "LANGFUSE_SECRET_KEY": bot.langfuse.secret_key,
    }
    settings, services, run_id = prepare(env, "triage")
    result = run_triage(settings, services, run_id)
    assert result.status == "done", result.detail

    entries = {e.finding.fingerprint: e for e in read_findings(tmp_path / "artifacts", run_id).entries}
    [crash] = [e for e in entries.values() if e.finding.source == "sentry"]
    assert "IndexError" in crash.finding.evidence.error and crash.decision.value == "new"
    assert crash.finding.count == len(WORDLESS)
    assert ("is_greeting", "support_bot/routing.py") in {
        (f.function, f.file) for f in crash.finding.evidence.frames if f.in_app
    }
    shipping = entries["langfuse:user-feedback:client=acme-shop.example,skill=shipping"]
    refunds = [turn for turn in DAY if turn.rating == "down" and REFUND_WORDS.search(turn.message)]
    assert shipping.finding.count == len(refunds) and shipping.decision.value == "new"
    assert all(REFUND_WORDS.search(example.input) for example in shipping.finding.evidence.examples)
    others = [e for e in entries.values() if e not in (crash, shipping)]
    assert others and all(e.decision.value == "below-threshold" for e in others)
    assert len(result.selected) == 2
    print(f"\ntriage of the day: {len(entries)} findings, {len(result.selected)} selected")


def read_findings(artifacts: Path, run_id: str) -> NightFindings:
    return read_model(open_store(str(artifacts)), run_key(run_id, "triage", "findings.json"), NightFindings)
