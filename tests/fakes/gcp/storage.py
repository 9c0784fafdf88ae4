"""Cloud Storage JSON API v1: buckets and bucket IAM (``/storage/v1/b/...``).

Errors are GCS's own shape (``error.errors[].reason``); a stale etag on ``PUT .../iam`` is 412
``conditionNotMet``. A new bucket's policy holds the legacy project-role bindings GCS always adds.
"""

from __future__ import annotations

import re

from tests.fakes.gcp.common import SEG, body_of, snapshot
from tests.fakes.gcp.server import ApiError, GcpServer, Json, Request

API = "storage.googleapis.com"


class Storage:
    def __init__(self, server: GcpServer) -> None:
        self.server = server
        self.buckets: dict[str, Json] = {}
        bucket = rf"/storage/v1/b/(?P<bucket>{SEG})"
        server.route("GET", bucket, API, write=False)(lambda r, m: self.get(m["bucket"]))
        server.route("POST", r"/storage/v1/b", API, write=True)(self.create)
        server.route("GET", rf"{bucket}/iam", API, write=False)(self.get_policy)
        server.route("PUT", rf"{bucket}/iam", API, write=True)(self.set_policy)

    def get(self, bucket: str) -> Json:
        if bucket not in self.buckets:
            raise ApiError(404, "The specified bucket does not exist.", details=[])
        return snapshot(self.buckets[bucket])

    def add(self, bucket: str, location: str = "US-CENTRAL1") -> None:
        """A bucket made outside the deploy (the usual case)."""
        self.buckets[bucket] = {
            "kind": "storage#bucket",
            "id": bucket,
            "name": bucket,
            "location": location,
            "metageneration": "1",
            "etag": "CAE=",
            "timeCreated": self.server.now(),
        }
        p = self.server.project
        resource = f"b/{bucket}"
        self.server.policies.grant(resource, "roles/storage.legacyBucketOwner", f"projectOwner:{p}")
        self.server.policies.grant(resource, "roles/storage.legacyBucketReader", f"projectViewer:{p}")

    def create(self, request: Request, match: re.Match[str]) -> Json:
        body = body_of(request)
        name = body.get("name", "")
        if name in self.buckets:
            raise ApiError(
                409, "Your previous request to create the named bucket succeeded and you already own it."
            )
        self.add(name, str(body.get("location", "US")).upper())
        self.buckets[name].update({k: v for k, v in body.items() if k in ("labels", "iamConfiguration")})
        return self.get(name)

    def get_policy(self, request: Request, match: re.Match[str]) -> Json:
        self.get(match["bucket"])
        policy = self.server.policies.get(f"b/{match['bucket']}")
        return {"kind": "storage#policy", "resourceId": f"projects/_/buckets/{match['bucket']}", **policy}

    def set_policy(self, request: Request, match: re.Match[str]) -> Json:
        self.get(match["bucket"])
        body = body_of(request)
        resource = f"b/{match['bucket']}"
        if body.get("etag") and body["etag"] != self.server.policies.get(resource)["etag"]:
            raise ApiError(412, "Precondition Failed", "FAILED_PRECONDITION")
        stored = self.server.policies.set(resource, {k: v for k, v in body.items() if k != "etag"})
        return {"kind": "storage#policy", "resourceId": f"projects/_/buckets/{match['bucket']}", **stored}
