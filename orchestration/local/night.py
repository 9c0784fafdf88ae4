"""``factory demo --job solve-chatbot-issues``: two nights of the support-bot's failures, fixed by Factory.

Everything the nightly triage meets in production, on loopback:

1. the support-bot (``examples/support-bot``) against a seeded PostgreSQL, reporting through its real
   ``sentry-sdk`` and Langfuse sender to the local stand-ins (``orchestration.local.traffic``);
2. **yesterday**: the day's conversations without the thumbs down, so only the crash of wordless
   messages is in Sentry; the night runs ``factory.yaml`` with ``{"job": "solve-chatbot-issues"}``:
   the triage finds the crash and its chain (implement → review → e2e, the offline model's scripted
   turns) opens a PR for it;
3. **today**: the whole day again, the refund questions rated down; tonight's triage finds the crash
   again (a duplicate of yesterday's open PR: skipped, the PR told the new counts) and the refund
   answers clustered on Acme's shipping skill in Langfuse (new: fixed in a second PR);
4. **tonight again**, as a Scheduler retry would: the night is claimed, nothing is opened.

The demo keeps its own artifact prefix (``<artifacts>/night-demo``) and bare remote, both made afresh
each time, since the stand-ins start empty and their issue ids would otherwise meet an old ledger.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobs.artifacts import open_store, read_model
from jobs.models import run_key
from jobs.triage.records import NightFindings
from orchestration.local.inputs import resolve_path
from orchestration.local.remote import seed_bare_remote
from orchestration.local.run import LocalRun
from orchestration.local.stack import EXAMPLES, LocalStack, example_stack
from orchestration.local.traffic import DAY, SupportBotDay, TrafficError

JOB = "solve-chatbot-issues"
TRIAGE_PHASES = ("triage", "triage-close")
EXIT_DONE, EXIT_FAILED = 0, 1


def demo_night(
    artifacts: Path, real_model: bool, *, scenarios: Path | None = None, keep_work: bool = False
) -> int:
    """Play yesterday and today into the stand-ins, run both nights and tonight once more; 0 when every
    night ran and every finding chosen got its PR."""
    prefix = resolve_path(artifacts) / "night-demo"
    if prefix.exists():
        shutil.rmtree(prefix)
    remote = seed_bare_remote(EXAMPLES / "support-bot", prefix / "support-bot.git")
    stack = example_stack(remote, prefix, real_model, scenarios, keep_work)
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    runs: list[tuple[str, str, LocalRun]] = []
    try:
        with SupportBotDay() as day:
            triage_env = {
                "SENTRY_URL": day.sentry.url,
                "SENTRY_AUTH_TOKEN": day.sentry_token,
                "LANGFUSE_HOST": day.langfuse.url,
                "LANGFUSE_PUBLIC_KEY": day.langfuse.public_key,
                "LANGFUSE_SECRET_KEY": day.langfuse.secret_key,
            }
            stack = replace(stack, phase_env=dict.fromkeys(TRIAGE_PHASES, triage_env))
            for night, turns, label in (
                (yesterday, tuple(t for t in DAY if t.rating != "down"), "yesterday"),
                (today, DAY, "today"),
            ):
                print(f"\n== {label} ({night}): {len(turns)} chat turns into local Sentry and Langfuse ==")
                day.wait_for_delivery(day.play(turns))
                runs.append((label, str(night), run_night(stack, str(night), label)))
            runs.append(("today, again", str(today), run_night(stack, str(today), "again")))
    except TrafficError as exc:
        print(f"factory: the support-bot's day could not be played: {exc}")
        return EXIT_FAILED
    return print_nights(prefix, runs)


def run_night(stack: LocalStack, night: str, label: str) -> LocalRun:
    run_id = f"night-{night}-{label.replace(' ', '-')}-{datetime.now(UTC):%H%M%S}"
    print(f"night {night}: workflow orchestration/factory.yaml, run {run_id}")
    return stack.run({"job": JOB, "night": night}, run_id)


def print_nights(prefix: Path, runs: list[tuple[str, str, LocalRun]]) -> int:
    """Each night's findings and decisions, its PRs, and the exit code."""
    store = open_store(str(prefix))
    code = EXIT_DONE
    for label, night, run in runs:
        print(f"\n== Factory: night {night} ({label}) ==")
        if run.error is not None:
            print(f"failed      {', '.join(run.error.tags)}: {run.error.message}")
            code = EXIT_FAILED
            continue
        result = run.result if isinstance(run.result, dict) else {}
        if result.get("triage") != "done":
            print(f"triage      {result.get('triage')}: nothing claimed, nothing opened")
            continue
        findings = read_model(store, run_key(run.execution_id, "triage", "findings.json"), NightFindings)
        print(f"{'decision':<16} {'events':>6}  {'finding':<60} fix")
        for entry in findings.entries:
            if entry.decision.value == "duplicate":
                fix = f"already in review: {entry.pull_request}"
            elif entry.identifier and entry.pull_request:
                fix = f"{entry.identifier} → {entry.outcome}, PR {entry.pull_request}"
            elif entry.identifier:
                fix = f"{entry.identifier} → {entry.outcome or 'no result'}"
                code = EXIT_FAILED
            else:
                fix = entry.reason
            print(
                f"{entry.decision.value:<16} {entry.finding.count:>6}  {entry.finding.title[:60]:<60} {fix}"
            )
        print(f"summary     {result.get('night_summary', '')}")
        print(f"findings    {store.url(run_key(run.execution_id, 'triage', 'findings.json'))}")
    print(f"\nartifacts   {prefix} (factory runs --artifacts {prefix})")
    return code
