"""The JSON the Sentry stand-in's read API answers with, shapes from Sentry's OpenAPI
(getsentry/sentry-api-schema): the project, issues (with lifetime, window and ``stats``), events (the
simple list form and the full one with ``entries``) and stack frames.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from orchestration.local.sentry.grouping import exceptions_of, frames_of, message_of
from orchestration.local.sentry.model import Issue, Json, StoredEvent, iso
from orchestration.local.sentry.store import IssueStore


def frame_context(frame: Json) -> list[list[Any]]:
    lineno = frame.get("lineno")
    line = frame.get("context_line")
    if not isinstance(lineno, int) or line is None:
        return []
    pre = [str(x) for x in frame.get("pre_context") or []]
    post = [str(x) for x in frame.get("post_context") or []]
    start = lineno - len(pre)
    lines = [*pre, str(line), *post]
    return [[start + i, text] for i, text in enumerate(lines)]


def api_frame(frame: Json) -> Json:
    """A frame in the read API's shape (camelCase; any field may be null)."""
    return {
        "filename": frame.get("filename"),
        "absPath": frame.get("abs_path"),
        "module": frame.get("module"),
        "package": frame.get("package"),
        "platform": frame.get("platform"),
        "instructionAddr": frame.get("instruction_addr"),
        "symbolAddr": frame.get("symbol_addr"),
        "function": frame.get("function"),
        "rawFunction": frame.get("raw_function"),
        "symbol": frame.get("symbol"),
        "context": frame_context(frame),
        "lineNo": frame.get("lineno"),
        "colNo": frame.get("colno"),
        "inApp": frame.get("in_app") is True,
        "trust": None,
        "errors": None,
        "lock": None,
        "sourceLink": None,
        "vars": frame.get("vars"),
    }


def exception_entry(payload: Json) -> Json | None:
    exceptions = exceptions_of(payload)
    if not exceptions:
        return None
    values = []
    has_system = False
    for exception in exceptions:
        frames = frames_of(exception)
        has_system = has_system or any(f.get("in_app") is not True for f in frames)
        stacktrace = (
            {
                "frames": [api_frame(f) for f in frames],
                "framesOmitted": None,
                "registers": None,
                "hasSystemFrames": any(f.get("in_app") is not True for f in frames),
            }
            if frames
            else None
        )
        values.append(
            {
                "type": exception.get("type"),
                "value": exception.get("value"),
                "module": exception.get("module"),
                "mechanism": exception.get("mechanism"),
                "threadId": exception.get("thread_id"),
                "stacktrace": stacktrace,
                "rawStacktrace": None,
            }
        )
    return {
        "type": "exception",
        "data": {"values": values, "excOmitted": None, "hasSystemFrames": has_system},
    }


def entries_of(payload: Json) -> list[Json]:
    entries: list[Json] = []
    exception = exception_entry(payload)
    if exception is not None:
        entries.append(exception)
    message = message_of(payload)
    if message is not None:
        logentry = payload.get("logentry") if isinstance(payload.get("logentry"), dict) else {}
        entries.append(
            {
                "type": "message",
                "data": {
                    "formatted": message,
                    "message": logentry.get("message") if isinstance(logentry, dict) else None,
                    "params": logentry.get("params") if isinstance(logentry, dict) else None,
                },
            }
        )
    crumbs = payload.get("breadcrumbs")
    crumb_values = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    if crumb_values:
        entries.append({"type": "breadcrumbs", "data": {"values": crumb_values}})
    if isinstance(payload.get("request"), dict):
        entries.append({"type": "request", "data": payload["request"]})
    return entries


class IssueShapes(IssueStore):
    """The read API's JSON for the stand-in's project, issues and events."""

    project_id: int
    org_slug: str

    if TYPE_CHECKING:

        @property
        def url(self) -> str: ...

    def project_json(self) -> Json:
        return {
            "id": str(self.project_id),
            "name": self.project_slug,
            "slug": self.project_slug,
            "platform": "python",
        }

    def permalink(self, issue: Issue) -> str:
        return f"{self.url}/organizations/{self.org_slug}/issues/{issue.id}/"

    def issue_json(
        self,
        issue: Issue,
        window: tuple[float, float] | None = None,
        group_stats: str | None = "24h",
    ) -> Json:
        def aggregate(events: list[StoredEvent]) -> Json:
            return {
                "count": str(len(events)),
                "userCount": len({e.user_key for e in events if e.user_key}),
                "firstSeen": iso(min(e.timestamp for e in events)) if events else None,
                "lastSeen": iso(max(e.timestamp for e in events)) if events else None,
            }

        lifetime = aggregate(issue.events)
        in_window = (
            [e for e in issue.events if window[0] <= e.timestamp <= window[1]]
            if window
            else list(issue.events)
        )
        current = aggregate(in_window)
        body: Json = {
            "id": issue.id,
            "shareId": None,
            "shortId": issue.short_id,
            "title": issue.title,
            "culprit": issue.culprit,
            "permalink": self.permalink(issue),
            "logger": issue.logger,
            "level": issue.level,
            "status": issue.status,
            "statusDetails": {},
            "substatus": issue.substatus,
            "isPublic": False,
            "platform": issue.platform,
            "priority": {"fatal": "high", "error": "high", "warning": "medium"}.get(issue.level, "low"),
            "priorityLockedAt": None,
            "seerFixabilityScore": None,
            "seerAutofixLastTriggered": None,
            "seerExplorerAutofixLastTriggered": None,
            "project": self.project_json(),
            "type": issue.type,
            "issueType": "error",
            "issueCategory": "error",
            "metadata": issue.metadata,
            "numComments": len(issue.notes),
            "assignedTo": None,
            "isBookmarked": False,
            "isSubscribed": False,
            "subscriptionDetails": None,
            "hasSeen": False,
            "annotations": [],
            "isUnhandled": any(("handled", "no") in e.tags for e in issue.events),
            **current,
            "lifetime": {**lifetime, "stats": None},
            "filtered": None,
            "inbox": None,
            "owners": None,
            "integrationIssues": [],
            "sentryAppIssues": [],
            "latestEventHasAttachments": False,
            "sessionCount": 0,
            "matchingEventId": None,
            "matchingEventEnvironment": None,
            "derivedData": None,
        }
        if group_stats:
            body["stats"] = {group_stats: self.stats(issue, group_stats)}
        return body

    def stats(self, issue: Issue, period: str) -> list[list[int]]:
        bucket, buckets = (86400, 14) if period == "14d" else (3600, 24)
        end = (int(self.clock()) // bucket + 1) * bucket
        start = end - bucket * buckets
        counts = [0] * buckets
        for event in issue.events:
            if start <= event.timestamp < end:
                counts[int(event.timestamp - start) // bucket] += 1
        return [[start + i * bucket, counts[i]] for i in range(buckets)]

    def simple_event_json(self, event: StoredEvent) -> Json:
        payload = event.payload
        user = payload.get("user") if isinstance(payload.get("user"), dict) else None
        return {
            "id": event.event_id,
            "eventID": event.event_id,
            "groupID": event.issue_id,
            "projectID": str(self.project_id),
            "event.type": event.type,
            "message": message_of(payload) or "",
            "title": event.title,
            "location": event.location,
            "culprit": event.culprit,
            "user": user,
            "tags": [{"key": k, "value": v} for k, v in event.tags],
            "platform": payload.get("platform"),
            "dateCreated": iso(event.timestamp),
            "crashFile": None,
            "metadata": event.metadata,
        }

    def event_json(self, event: StoredEvent, issue: Issue) -> Json:
        payload = event.payload
        ordered = sorted(issue.events, key=lambda e: (e.timestamp, e.received))
        index = ordered.index(event)
        release = payload.get("release")
        extra = payload.get("extra") if isinstance(payload.get("extra"), dict) else {}
        return {
            **self.simple_event_json(event),
            "type": event.type,
            "entries": entries_of(payload),
            "dateReceived": iso(event.received),
            "dist": payload.get("dist"),
            "errors": [],
            "fingerprints": event.hashes,
            "groupingConfig": {"id": "newstyle:2026-01-20", "enhancements": ""},
            "contexts": payload.get("contexts") or {},
            "context": extra,
            "packages": payload.get("modules") or {},
            "sdk": payload.get("sdk"),
            "release": {"version": release} if isinstance(release, str) else None,
            "size": len(json.dumps(payload)),
            "nextEventID": ordered[index + 1].event_id if index + 1 < len(ordered) else None,
            "previousEventID": ordered[index - 1].event_id if index > 0 else None,
            "occurrence": None,
            "resolvedWith": [],
            "sdkUpdates": [],
            "userReport": None,
            "_meta": {},
        }
