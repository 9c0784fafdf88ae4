"""Service accounts, one per role, through the IAM v1 REST API (its client library has no REST transport)."""

from __future__ import annotations

from typing import Any

from deploy import specs
from deploy.diff import Change
from deploy.names import Identity, Names
from deploy.resources.base import Resource, top_level
from deploy.target import Clients


class ServiceAccount(Resource):
    group = "Service accounts"
    kind = "service account"
    api = "iam.googleapis.com"
    admin_role = "roles/iam.serviceAccountAdmin"

    def __init__(self, clients: Clients, names: Names, identity: Identity) -> None:
        super().__init__(clients, names.email(identity))
        self.account_id = names.account_id(identity)
        self.identity = identity

    def read(self) -> dict[str, Any] | None:
        with self.calling("read"):
            return self.clients.iam.get(self.clients.project, self.name)

    def desired(self) -> dict[str, Any]:
        return specs.service_account(self.identity)

    def create(self) -> dict[str, Any] | None:
        with self.calling("create"):
            return self.clients.iam.create(self.clients.project, self.account_id, self.desired())

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        with self.calling("update"):
            self.clients.iam.patch(self.clients.project, self.name, self.desired(), top_level(changes))
