"""Nights on disk as the workflow leaves them, made in-process by the real triage and closing jobs.

``make_night`` runs ``python -m jobs triage``'s code against a real bare repository holding the target's
``.factory.yaml`` and a real directory store, with the night's findings given as a list (what the
Sentry and Langfuse clients read is tested on its own); then each selected finding's chain is built
from the real result models (``build_run``: no agent) with its report written, as its phases would;
then the closing job's code runs. Both jobs write the night's report themselves (``update_report``).
The report and ``factory runs`` tests share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobs.artifacts import DirectoryStore
from jobs.entrypoint import prepare
from jobs.models import utc_now
from jobs.report import write_report
from jobs.triage.close import run_close
from jobs.triage.collect import Source
from jobs.triage.findings import Evidence, Example, Finding, Frame, Link, langfuse_key, sentry_keys
from jobs.triage.phase import run_triage
from jobs.triage.records import TriageResult
from orchestration.local.remote import seed_bare_remote
from tests.orchestration.runs.build import build_run

NIGHT = "2026-12-04"
CONFIG = """\
triage:
  sentry: {organization: acme, project: support-bot}
  langfuse: {}
  min_events: 2
  max_prs_per_night: 2
  concurrency: 2
"""
SEEN = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)


class ListSource:
    """A source that finds what it is given and keeps the notes it is asked to leave."""

    name = "list"

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        self.notes: list[tuple[str, str]] = []

    def collect(self) -> list[Finding]:
        return list(self.findings)

    def note(self, issue_id: str, text: str) -> None:
        self.notes.append((issue_id, text))


def crash(issue: str, count: int, users: int, title: str, error: str = "TypeError: boom") -> Finding:
    keys = sentry_keys(issue, [f"hash-{issue}"])
    return Finding(
        source="sentry",
        fingerprint=keys[0],
        keys=keys,
        title=title,
        count=count,
        users=users,
        last_seen=SEEN,
        links=[Link(label="Sentry issue", url=f"https://sentry.example/issues/{issue}/")],
        evidence=Evidence(
            error=error, frames=[Frame(file="bot/reply.py", function="reply", line=12, in_app=True)]
        ),
        sentry_issue_id=issue,
    )


def wrong_answers(skill: str, count: int, asked: str, regressed: bool = False) -> Finding:
    key = langfuse_key("user-feedback", {"skill": skill})
    return Finding(
        source="langfuse",
        fingerprint=key,
        keys=[key],
        title=f"user-feedback ≤ 0 on skill={skill} ({count} traces)",
        count=count,
        users=count,
        last_seen=SEEN,
        regressed=regressed,
        evidence=Evidence(
            examples=[
                Example(
                    trace_id="t-1",
                    input=asked,
                    output="Delivery takes 3-5 days.",
                    score=0,
                    comment="Wrong answer",
                    url="https://langfuse.example/trace/t-1",
                )
            ]
        ),
    )


def tonight() -> list[Finding]:
    """Four findings: two fixed (the regression ranks first), one over the cap of 2, one under the
    threshold of 2 events."""
    return [
        crash("101", 9, 3, "TypeError: reply() got None"),
        wrong_answers("refunds", 6, "How long do refunds take?", regressed=True),
        crash("103", 4, 1, "KeyError: 'locale'"),
        crash("104", 1, 1, "ValueError: empty greeting"),
    ]


@dataclass
class MadeNight:
    """A night's store and what its jobs returned; ``after_triage`` is its page before it closed."""

    store: DirectoryStore
    run_id: str
    triage: TriageResult
    after_triage: str
    chains: dict[str, str] = field(default_factory=dict)  # identifier -> chain run id
    source: ListSource = field(default_factory=lambda: ListSource([]))

    @property
    def root(self) -> Path:
        return self.store.root

    def page(self, run_id: str | None = None) -> Path:
        return self.root / "runs" / (run_id or self.run_id) / "index.html"


def make_night(
    tmp: Path,
    findings: list[Finding],
    *,
    run_id: str = "night-1",
    night: str = NIGHT,
    chains: Mapping[int, Mapping[str, Any]] = {},
    report_only: bool = False,
    close: bool = True,
    artifacts: Path | None = None,
) -> MadeNight:
    """A night under ``tmp/artifacts``: triage, each selected finding's chain (the n-th shaped by
    ``chains[n]``, as ``build_run`` takes it; a passed chain by default), then the closing step."""
    artifacts = artifacts or tmp / "artifacts"
    remote = tmp / "remote.git"
    if not remote.exists():
        target = tmp / "target"
        target.mkdir()
        (target / ".factory.yaml").write_text(CONFIG)
        (target / "bot.py").write_text("VERSION = 1\n")
        seed_bare_remote(target, remote)
    source = ListSource(findings)

    def sources(*_: object) -> list[Source]:
        return [source]

    def env(phase: str) -> dict[str, str]:
        work = tmp / f"work-{run_id}-{phase}"
        work.mkdir()
        return {
            "JOB": "solve-chatbot-issues",
            "REPO_URL": str(remote),
            "ARTIFACTS_PREFIX": str(artifacts),
            "WORKDIR": str(work),
            "RUN_ID": run_id,
            "NIGHT": night,
            "LOG_FORMAT": "text",
            "REPORT_ONLY": "true" if report_only else "false",
        }

    settings, services, _ = prepare(env("triage"), "triage")
    triage = run_triage(settings, services, run_id, sources=sources)
    store = DirectoryStore(artifacts)
    page = store.root / "runs" / run_id / "index.html"
    made = MadeNight(store, run_id, triage, page.read_text(), source=source)
    for n, selected in enumerate(triage.selected):
        shape = dict(chains.get(n, {}))
        build_run(
            store,
            selected.run_id,
            ticket=selected.identifier,
            title=selected.title,
            job="solve-chatbot-issues",
            started=utc_now(),
            **shape,
        )
        write_report(store, selected.run_id)  # as each of its phases does at its end
        made.chains[selected.identifier] = selected.run_id
    if close:
        settings, services, _ = prepare(env("triage-close"), "triage-close")
        run_close(settings, services, run_id, sources=sources)
    return made
