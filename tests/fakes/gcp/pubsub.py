"""Pub/Sub API v1: topics (created with PUT, as the API does) and their IAM policies."""

from __future__ import annotations

import re

from tests.fakes.gcp.common import PROJECT, SEG, apply_mask, body_of, check_project, mask, snapshot
from tests.fakes.gcp.server import ApiError, GcpServer, Json, Request, not_found

API = "pubsub.googleapis.com"


class PubSub:
    def __init__(self, server: GcpServer) -> None:
        self.server = server
        self.topics: dict[str, Json] = {}
        name = rf"/v1/(?P<name>{PROJECT}/topics/{SEG})"
        server.route("PUT", name, API, write=True)(self.create)
        server.route("GET", name, API, write=False)(lambda r, m: self.get(m["name"]))
        server.route("PATCH", name, API, write=True)(self.update)
        server.route("GET", rf"{name}:getIamPolicy", API, write=False)(
            lambda r, m: (self.get(m["name"]), server.policies.get(m["name"]))[1]
        )
        server.route("POST", rf"{name}:setIamPolicy", API, write=True)(
            lambda r, m: (self.get(m["name"]), server.policies.set(m["name"], body_of(r).get("policy", {})))[
                1
            ]
        )

    def get(self, name: str) -> Json:
        if name not in self.topics:
            raise not_found(name)
        return snapshot(self.topics[name])

    def create(self, request: Request, match: re.Match[str]) -> Json:
        check_project(self.server, match["project"])
        name = match["name"]
        if name in self.topics:
            raise ApiError(
                409, f"Resource already exists in the project (resource={name.rsplit('/', 1)[1]})."
            )
        topic = {**body_of(request), "name": name}
        self.topics[name] = topic
        return self.get(name)

    def update(self, request: Request, match: re.Match[str]) -> Json:
        stored = self.get(match["name"])
        body = body_of(request)
        apply_mask(stored, body.get("topic", {}), mask(request, body))
        self.topics[match["name"]] = stored
        return self.get(match["name"])
