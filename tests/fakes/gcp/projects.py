"""Resource Manager API v3: the project itself and its IAM policy (``getIamPolicy`` is a POST that only
reads)."""

from __future__ import annotations

import re

from tests.fakes.gcp.common import PROJECT, body_of, check_project
from tests.fakes.gcp.server import GcpServer, Json, Request

API = "cloudresourcemanager.googleapis.com"
PROJECT_NUMBER = "123456789012"


class Projects:
    def __init__(self, server: GcpServer, owner: str = "user:owner@example.com") -> None:
        self.server = server
        self.resource = f"projects/{server.project}"
        server.policies.grant(self.resource, "roles/owner", owner)
        server.route("GET", rf"/v3/{PROJECT}", API, write=False)(self.get)
        server.route("POST", rf"/v3/{PROJECT}:getIamPolicy", API, write=False)(self.get_policy)
        server.route("POST", rf"/v3/{PROJECT}:setIamPolicy", API, write=True)(self.set_policy)

    def get(self, request: Request, match: re.Match[str]) -> Json:
        check_project(self.server, match["project"])
        return {
            "name": f"projects/{PROJECT_NUMBER}",
            "projectId": self.server.project,
            "state": "ACTIVE",
            "displayName": self.server.project,
            "parent": "organizations/1",
            "etag": 'W/"p1"',
        }

    def get_policy(self, request: Request, match: re.Match[str]) -> Json:
        check_project(self.server, match["project"])
        return self.server.policies.get(self.resource)

    def set_policy(self, request: Request, match: re.Match[str]) -> Json:
        check_project(self.server, match["project"])
        return self.server.policies.set(self.resource, body_of(request).get("policy", {}))
