"""Secret Manager secrets: checked, and created empty when missing. Values are never read or written.

Only version *metadata* is listed (state), to say which secrets still need a value and how to add one.
"""

from __future__ import annotations

from typing import Any

from google.cloud import secretmanager_v1

from deploy import specs
from deploy.diff import Change
from deploy.names import Names
from deploy.resources.base import Secret as SecretBase
from deploy.resources.base import from_json
from deploy.target import Clients


def add_version_command(secret: str, project: str) -> str:
    return f"gcloud secrets versions add {secret} --data-file=- --project={project}"


class Secret(SecretBase):
    group = "Secret Manager secrets"
    kind = "secret"
    api = "secretmanager.googleapis.com"
    admin_role = "roles/secretmanager.admin"

    def __init__(self, clients: Clients, names: Names, secret: str, purpose: str) -> None:
        super().__init__(clients, secret)
        self.path = names.secret_path(secret)
        self.purpose = purpose

    def read(self) -> dict[str, Any] | None:
        current = self._read(lambda: self.clients.secrets.get_secret(name=self.path))
        if current is not None:
            with self.calling("read"):
                current["enabledVersions"] = self._enabled_versions()
        self.has_value = current is not None and current["enabledVersions"] > 0
        return current

    def _enabled_versions(self) -> int:
        pages = self.clients.secrets.list_secret_versions(
            request={"parent": self.path, "filter": "state:ENABLED"}
        )
        return sum(1 for v in pages if v.state == secretmanager_v1.SecretVersion.State.ENABLED)

    def desired(self) -> dict[str, Any]:
        # An existing secret is the operator's: we only need it to exist (its replication is immutable).
        return {}

    def create(self) -> dict[str, Any] | None:
        body = {"replication": {"automatic": {}}, "labels": specs.LABELS}
        with self.calling("create"):
            self.clients.secrets.create_secret(
                parent=f"projects/{self.clients.project}",
                secret_id=self.name,
                secret=from_json(secretmanager_v1.Secret, body),
            )
        return None  # created empty: the plan's note says how to add the value

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        raise AssertionError("secrets have no desired fields to update")

    def notes(self, current: dict[str, Any] | None) -> list[str]:
        if current is not None and current.get("enabledVersions", 0) > 0:
            return []
        return [
            f"no enabled version yet ({self.purpose}); add the value with: "
            f"{add_version_command(self.name, self.clients.project)}"
        ]
