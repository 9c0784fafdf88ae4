"""From the services' own data to findings: one per Sentry issue, one per cluster of failed Langfuse traces.

A source is built from the target's ``triage:`` section and the job's secrets. The clients never see
the agent: only this job holds their tokens. What they read is quoted as it is; the triage redacts and
caps every finding before it keeps or shows any of it (``findings.sanitized``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from jobs.errors import ConfigError
from jobs.settings import JobSettings
from jobs.triage.config import FailedScore, LangfuseTriage, SentryTriage, TriageConfig
from jobs.triage.findings import Evidence, Example, Finding, Frame, Link, langfuse_key, sentry_keys
from jobs.triage.langfuse import LangfuseClient, LangfuseScore, LangfuseTrace
from jobs.triage.sentry import SentryClient, SentryIssue

HTTP_TIMEOUT = 30.0


class Source(Protocol):
    """Where failures come from: the night's findings, and a way to leave a note on one."""

    name: str

    def collect(self) -> list[Finding]: ...

    def note(self, issue_id: str, text: str) -> None: ...


class SentrySource:
    """Each unresolved issue of the project seen in the window, with its recommended event's frames."""

    name = "sentry"

    def __init__(self, client: SentryClient, config: SentryTriage, hours: int) -> None:
        self.client, self.config, self.hours = client, config, hours

    def collect(self) -> list[Finding]:
        issues = self.client.issues(
            self.config.organization,
            self.config.project,
            query=self.config.query,
            stats_period=f"{self.hours}h",
        )
        return [self._finding(issue) for issue in issues]

    def _finding(self, issue: SentryIssue) -> Finding:
        event = self.client.latest_event(issue.id, org=self.config.organization)
        raised = event.exceptions[-1] if event.exceptions else None
        error = (
            f"{raised.type or 'Error'}: {raised.value or ''}" if raised else (event.message or issue.title)
        )
        frames = [
            Frame(
                file=f.filename or f.abs_path,
                function=f.function,
                module=f.module,
                line=f.line_no,
                in_app=bool(f.in_app),
                code=next((text for number, text in f.context if number == f.line_no), None),
            )
            for f in event.frames
        ]
        links = [Link(label=f"Sentry issue {issue.short_id}", url=issue.permalink)] if issue.permalink else []
        return Finding(
            source="sentry",
            fingerprint=sentry_keys(issue.id, [])[0],
            keys=sentry_keys(issue.id, event.fingerprints),
            title=issue.title,
            count=issue.count,
            users=issue.user_count,
            first_seen=issue.first_seen,
            last_seen=issue.last_seen,
            regressed=issue.status == "regressed",
            links=links,
            evidence=Evidence(error=error, frames=frames),
            sentry_issue_id=issue.id,
        )

    def note(self, issue_id: str, text: str) -> None:
        self.client.add_note(issue_id, text, org=self.config.organization)


class LangfuseSource:
    """Failed scores (and error observations) in the window, clustered by the route of their traces."""

    name = "langfuse"

    def __init__(self, client: LangfuseClient, config: LangfuseTriage, hours: int, host: str) -> None:
        self.client, self.config, self.hours = client, config, hours
        self.host = host.rstrip("/")
        self._traces: dict[str, LangfuseTrace] = {}

    def collect(self, now: datetime | None = None) -> list[Finding]:
        to_ts = now or datetime.now(UTC)
        from_ts = to_ts - timedelta(hours=self.hours)
        clusters: dict[str, list[tuple[LangfuseTrace, LangfuseScore | None, str]]] = {}
        titles: dict[str, str] = {}
        for wanted in self.config.scores:
            for score in self.client.scores(wanted.name, from_ts=from_ts, to_ts=to_ts):
                trace = self._trace(score.trace_id, from_ts, to_ts)
                if not _failed(score, wanted) or trace is None or not self._wanted(trace):
                    continue
                group = self._group(trace)
                key = langfuse_key(wanted.name, group)
                clusters.setdefault(key, []).append((trace, score, ""))
                titles[key] = f"{wanted.name} ≤ {wanted.at_most:g} on {_route(group)}"
        if self.config.error_observations:
            for observation in self.client.observations(level="ERROR", from_ts=from_ts, to_ts=to_ts):
                trace = self._trace(observation.trace_id, from_ts, to_ts)
                if trace is None or not self._wanted(trace):
                    continue
                group = self._group(trace)
                key = langfuse_key(f"error:{observation.name or 'observation'}", group)
                clusters.setdefault(key, []).append((trace, None, observation.status_message or ""))
                titles[key] = f"error in {observation.name or 'an observation'} on {_route(group)}"
        return [self._finding(key, titles[key], rows) for key, rows in sorted(clusters.items())]

    def _finding(
        self, key: str, title: str, rows: list[tuple[LangfuseTrace, LangfuseScore | None, str]]
    ) -> Finding:
        by_trace: dict[str, tuple[LangfuseTrace, LangfuseScore | None, str]] = {}
        for trace, score, message in rows:
            by_trace.setdefault(trace.id, (trace, score, message))
        traces = sorted(by_trace.values(), key=lambda row: _when(row[0]), reverse=True)
        users = {t.user_id or t.session_id for t, _, _ in traces if t.user_id or t.session_id}
        times = [t.timestamp for t, _, _ in traces if t.timestamp is not None]
        examples = [
            Example(
                trace_id=trace.id,
                input=_text(trace.input),
                output=_text(trace.output),
                score=_number(score.value) if score is not None else None,
                comment=(score.comment if score is not None else None) or message or None,
                url=self._url(trace),
            )
            for trace, score, message in traces
        ]
        links = [Link(label=f"Langfuse trace {e.trace_id}", url=e.url) for e in examples[:5] if e.url]
        return Finding(
            source="langfuse",
            fingerprint=key,
            keys=[key],
            title=f"{title} ({len(traces)} traces)",
            count=len(traces),
            users=len(users),
            first_seen=min(times) if times else None,
            last_seen=max(times) if times else None,
            links=links,
            evidence=Evidence(examples=examples),
        )

    def _trace(self, trace_id: str | None, from_ts: datetime, to_ts: datetime) -> LangfuseTrace | None:
        if not trace_id:
            return None
        if trace_id not in self._traces:
            # A trace scored in the window may have started before it: a day's margin.
            self._traces[trace_id] = self.client.trace(
                trace_id, from_ts=from_ts - timedelta(days=1), to_ts=to_ts
            )
        return self._traces[trace_id]

    def _wanted(self, trace: LangfuseTrace) -> bool:
        if self.config.trace_name is not None and trace.name != self.config.trace_name:
            return False
        return set(self.config.tags) <= set(trace.tags)

    def _group(self, trace: LangfuseTrace) -> dict[str, str]:
        tags = dict(tag.split(":", 1) for tag in trace.tags if ":" in tag)
        return {name: tags.get(name, "?") for name in self.config.group_by}

    def _url(self, trace: LangfuseTrace) -> str | None:
        return (
            f"{self.host}{trace.html_path}" if trace.html_path and trace.html_path.startswith("/") else None
        )

    def note(self, issue_id: str, text: str) -> None:
        """Langfuse has no issues to note on: the PR links its traces instead."""


def open_sources(settings: JobSettings, config: TriageConfig) -> list[Source]:
    """The configured sources, with the job's credentials; ConfigError naming a missing one."""
    http = httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)
    sources: list[Source] = []
    if config.sentry is not None:
        if settings.sentry_auth_token is None:
            raise ConfigError("invalid setting SENTRY_AUTH_TOKEN: required when triage.sentry is configured")
        client = SentryClient(http, settings.sentry_auth_token, base_url=settings.sentry_url)
        sources.append(SentrySource(client, config.sentry, config.window_hours))
    if config.langfuse is not None:
        if settings.langfuse_public_key is None or settings.langfuse_secret_key is None:
            raise ConfigError(
                "invalid settings LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY: "
                "required when triage.langfuse is configured"
            )
        langfuse = LangfuseClient(
            http,
            settings.langfuse_public_key.get_secret_value(),
            settings.langfuse_secret_key,
            host=settings.langfuse_host,
        )
        sources.append(LangfuseSource(langfuse, config.langfuse, config.window_hours, settings.langfuse_host))
    return sources


def _failed(score: LangfuseScore, wanted: FailedScore) -> bool:
    value = _number(score.value)
    return value is not None and value <= wanted.at_most


def _number(value: bool | float | str | None) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return 1.0 if lowered == "true" else 0.0
        try:
            return float(lowered)
        except ValueError:
            return None
    return None


def _text(value: Any) -> str:
    """A trace's input or output as text: a string as it is, a message field of a mapping, else JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("message", "question", "answer", "content", "text", "output", "input"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return json.dumps(value, ensure_ascii=False, default=str)


def _route(group: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in group.items()) or "all traces"


def _when(trace: LangfuseTrace) -> float:
    return trace.timestamp.timestamp() if trace.timestamp else 0.0
