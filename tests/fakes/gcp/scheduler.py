"""Cloud Scheduler API v1: jobs (no LROs). Like the real API it adds its own ``User-Agent`` header,
retry defaults, an attempt deadline and a state, and treats a missing time zone as Etc/UTC; it refuses
a time zone that is not a tz database name, and an HTTP target with a body unless its method is POST,
PUT or PATCH."""

from __future__ import annotations

import re
import zoneinfo

from tests.fakes.gcp.common import Located, body_of, check_project
from tests.fakes.gcp.server import ApiError, GcpServer, Json, Request, already_exists

API = "cloudscheduler.googleapis.com"
BODY_METHODS = ("POST", "PUT", "PATCH")
# The client libraries send enums as numbers (google.cloud.scheduler.v1.HttpMethod); gcloud by name.
HTTP_METHODS = {0: "POST", 1: "POST", 2: "GET", 3: "HEAD", 4: "PUT", 5: "DELETE", 6: "PATCH", 7: "OPTIONS"}


class Scheduler(Located):
    api = API
    plural = "jobs"

    def __init__(self, server: GcpServer) -> None:
        super().__init__(server)
        self.jobs = self.stored

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
        stored, _ = self.patched(request, name)
        self._defaults(stored)
        stored["userUpdateTime"] = self.server.now()
        self.jobs[name] = stored
        return self.get(name)
