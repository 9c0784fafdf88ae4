"""Cloud Scheduler API v1: jobs (no LROs). Like the real API it adds its own ``User-Agent`` header,
retry defaults, an attempt deadline and a state, and treats a missing time zone as Etc/UTC; it refuses
a time zone that is not a tz database name, and an HTTP target with a body unless its method is POST,
PUT or PATCH."""

from __future__ import annotations

import re
import zoneinfo

from tests.fakes.gcp.common import LOCATION, SEG, apply_mask, body_of, check_project, mask, snapshot
from tests.fakes.gcp.server import ApiError, GcpServer, Json, Request, already_exists, not_found

API = "cloudscheduler.googleapis.com"
BODY_METHODS = ("POST", "PUT", "PATCH")
# The client libraries send enums as numbers (google.cloud.scheduler.v1.HttpMethod); gcloud by name.
HTTP_METHODS = {0: "POST", 1: "POST", 2: "GET", 3: "HEAD", 4: "PUT", 5: "DELETE", 6: "PATCH", 7: "OPTIONS"}


class Scheduler:
    def __init__(self, server: GcpServer) -> None:
        self.server = server
        self.jobs: dict[str, Json] = {}
        name = rf"/v1/(?P<name>{LOCATION}/jobs/{SEG})"
        server.route("POST", rf"/v1/(?P<parent>{LOCATION})/jobs", API, write=True)(self.create)
        server.route("GET", name, API, write=False)(lambda r, m: self.get(m["name"]))
        server.route("PATCH", name, API, write=True)(self.update)

    def get(self, name: str) -> Json:
        if name not in self.jobs:
            raise not_found(name)
        return snapshot(self.jobs[name])

    def _defaults(self, job: Json) -> None:
        if not job.get("schedule"):
            raise ApiError(400, "Schedule is required")
        job.setdefault("timeZone", "Etc/UTC")
        try:
            zoneinfo.ZoneInfo(job["timeZone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ApiError(400, f"Invalid time zone: {job['timeZone']!r}") from None
        job.setdefault("attemptDeadline", "180s")
        job.setdefault(
            "retryConfig",
            {
                "maxRetryDuration": "0s",
                "minBackoffDuration": "5s",
                "maxBackoffDuration": "3600s",
                "maxDoublings": 5,
            },
        )
        target = job.get("httpTarget")
        method = HTTP_METHODS.get((target or {}).get("httpMethod", 0), (target or {}).get("httpMethod"))
        if target is not None and target.get("body") and method not in BODY_METHODS:
            raise ApiError(400, f"HttpTarget.body is allowed only with POST, PUT or PATCH, not {method}")
        if target is not None:
            target.setdefault("headers", {})["User-Agent"] = "Google-Cloud-Scheduler"

    def create(self, request: Request, match: re.Match[str]) -> Json:
        check_project(self.server, match["project"])
        job = body_of(request)
        name = job.get("name", "")
        if not name.startswith(f"{match['parent']}/jobs/"):
            raise ApiError(400, f"job.name {name!r} must be under {match['parent']}")
        if name in self.jobs:
            raise already_exists(name)
        self._defaults(job)
        job.update(state="ENABLED", userUpdateTime=self.server.now(), scheduleTime="2025-01-02T03:00:00Z")
        self.jobs[name] = job
        return self.get(name)

    def update(self, request: Request, match: re.Match[str]) -> Json:
        name = match["name"]
        stored = self.get(name)
        incoming = body_of(request)
        apply_mask(stored, incoming, mask(request) or [k for k in incoming if k != "name"])
        self._defaults(stored)
        stored["userUpdateTime"] = self.server.now()
        self.jobs[name] = stored
        return self.get(name)
