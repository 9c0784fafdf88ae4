"""IAM API v1: service accounts (get, create, patch). Like the real API, account ids are 6-30 characters
of ``[a-z]([-a-z0-9]*[a-z0-9])`` and only ``displayName``/``description`` are writable."""

from __future__ import annotations

import re

from tests.fakes.gcp.common import PROJECT, SEG, body_of, check_project, new_etag, snapshot
from tests.fakes.gcp.server import ApiError, GcpServer, Json, Request, not_found

API = "iam.googleapis.com"
ACCOUNT_ID = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])$")


class Iam:
    def __init__(self, server: GcpServer) -> None:
        self.server = server
        self.accounts = server.service_accounts
        name = rf"/v1/{PROJECT}/serviceAccounts/(?P<email>{SEG})"
        server.route("GET", name, API, write=False)(lambda r, m: self.get(m["email"]))
        server.route("POST", rf"/v1/{PROJECT}/serviceAccounts", API, write=True)(self.create)
        server.route("PATCH", name, API, write=True)(self.patch)

    def get(self, email: str) -> Json:
        if email not in self.accounts:
            raise not_found(email)
        return snapshot(self.accounts[email])

    def create(self, request: Request, match: re.Match[str]) -> Json:
        check_project(self.server, match["project"])
        body = body_of(request)
        account_id = body.get("accountId", "")
        if not (6 <= len(account_id) <= 30 and ACCOUNT_ID.match(account_id)):
            raise ApiError(400, f"Invalid account id {account_id!r}: 6-30 characters of [a-z0-9-].")
        email = f"{account_id}@{self.server.project}.iam.gserviceaccount.com"
        if email in self.accounts:
            raise ApiError(
                409,
                f"Service account {account_id} already exists within project projects/{self.server.project}.",
            )
        given = body.get("serviceAccount", {})
        self.accounts[email] = {
            "name": f"projects/{self.server.project}/serviceAccounts/{email}",
            "projectId": self.server.project,
            "uniqueId": str(100000000000000000000 + len(self.accounts)),
            "email": email,
            "displayName": given.get("displayName", ""),
            "description": given.get("description", ""),
            "etag": new_etag(),
            "oauth2ClientId": str(200000000000000000000 + len(self.accounts)),
        }
        return self.get(email)

    def patch(self, request: Request, match: re.Match[str]) -> Json:
        stored = self.get(match["email"])
        body = body_of(request)
        fields = [f for f in body.get("updateMask", "").split(",") if f]
        if not fields or set(fields) - {"displayName", "description"}:
            raise ApiError(400, "updateMask must name displayName and/or description")
        for field in fields:
            stored[field] = body.get("serviceAccount", {}).get(field, "")
        stored["etag"] = new_etag()
        self.accounts[match["email"]] = stored
        return self.get(match["email"])
