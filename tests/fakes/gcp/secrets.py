"""Secret Manager API v1: secrets, version metadata, their IAM policies.

Like the real API, a new secret must say how it is replicated (``replication.automatic`` or
``replication.userManaged``; 400 INVALID_ARGUMENT otherwise).

Versions hold real payloads (tests put canary values in them) but, as in the real API, listing versions
returns metadata only; the payload comes back solely from ``versions/{v}:access``, which the tests
assert is never called.
"""

from __future__ import annotations

import base64
import re

from tests.fakes.gcp.common import PROJECT, SEG, body_of, check_project, new_etag, snapshot
from tests.fakes.gcp.server import ApiError, GcpServer, Json, Request, already_exists, not_found

API = "secretmanager.googleapis.com"


class SecretManager:
    def __init__(self, server: GcpServer) -> None:
        self.server = server
        self.secrets: dict[str, Json] = {}
        self.versions: dict[str, list[Json]] = {}
        self.payloads: dict[str, bytes] = {}
        name = rf"/v1/(?P<name>{PROJECT}/secrets/{SEG})"
        server.route("POST", rf"/v1/(?P<parent>{PROJECT})/secrets", API, write=True)(self.create)
        server.route("GET", name, API, write=False)(lambda r, m: self.get(m["name"]))
        server.route("GET", rf"{name}/versions", API, write=False)(self.list_versions)
        server.route(
            "GET", rf"/v1/(?P<name>{PROJECT}/secrets/{SEG}/versions/{SEG}):access", API, write=False
        )(self.access)
        server.route("GET", rf"{name}:getIamPolicy", API, write=False)(
            lambda r, m: (self.get(m["name"]), server.policies.get(m["name"]))[1]
        )
        server.route("POST", rf"{name}:setIamPolicy", API, write=True)(
            lambda r, m: (self.get(m["name"]), server.policies.set(m["name"], body_of(r).get("policy", {})))[
                1
            ]
        )

    def get(self, name: str) -> Json:
        if name not in self.secrets:
            raise not_found(name)
        return snapshot(self.secrets[name])

    def create(self, request: Request, match: re.Match[str]) -> Json:
        check_project(self.server, match["project"])
        ident = request.query.get("secretId", "")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", ident):
            raise ApiError(400, f"invalid secret id {ident!r}")
        name = f"{match['parent']}/secrets/{ident}"
        if name in self.secrets:
            raise already_exists(name)
        secret = body_of(request)
        replication = secret.get("replication")
        policies = [k for k in ("automatic", "userManaged") if k in (replication or {})]
        if not isinstance(replication, dict) or len(policies) != 1:
            raise ApiError(400, "Secret.replication must set exactly one of automatic or userManaged.")
        secret.update(name=name, createTime=self.server.now(), etag=f'"{new_etag()}"')
        self.secrets[name] = secret
        self.versions[name] = []
        return self.get(name)

    def add_version(self, secret: str, value: str, *, state: str = "ENABLED") -> None:
        """A value put in directly (as ``gcloud secrets versions add`` would)."""
        name = f"projects/{self.server.project}/secrets/{secret}"
        if name not in self.secrets:
            self.secrets[name] = {
                "name": name,
                "replication": {"automatic": {}},
                "createTime": self.server.now(),
            }
            self.versions[name] = []
        version = f"{name}/versions/{len(self.versions[name]) + 1}"
        self.versions[name].append({"name": version, "createTime": self.server.now(), "state": state})
        self.payloads[version] = value.encode()

    def list_versions(self, request: Request, match: re.Match[str]) -> Json:
        self.get(match["name"])
        versions = self.versions[match["name"]]
        wanted = request.query.get("filter", "")
        if wanted.startswith("state:"):
            versions = [v for v in versions if v["state"] == wanted.split(":", 1)[1]]
        return {"versions": snapshot(versions), "totalSize": len(versions)}

    def access(self, request: Request, match: re.Match[str]) -> Json:
        if match["name"] not in self.payloads:
            raise not_found(match["name"])
        data = base64.b64encode(self.payloads[match["name"]]).decode()
        return {"name": match["name"], "payload": {"data": data}}
