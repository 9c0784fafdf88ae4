"""The artifact bucket: created (uniform access, public access prevented) when missing, else left alone."""

from __future__ import annotations

from typing import Any

from deploy.config import DeployConfig
from deploy.resources.base import Resource
from deploy.target import Clients


class Bucket(Resource):
    group = "Artifact bucket"
    kind = "bucket"
    api = "storage.googleapis.com"
    admin_role = "roles/storage.admin"

    def __init__(self, clients: Clients, config: DeployConfig) -> None:
        super().__init__(clients, f"gs://{config.artifacts.bucket}")
        self.bucket = config.artifacts.bucket
        self.region = config.region

    def read(self) -> dict[str, Any] | None:
        found = self._find(lambda: self.clients.storage.get_bucket(self.bucket))
        return None if found is None else {"name": found.name, "location": found.location}

    def desired(self) -> dict[str, Any]:
        return {}

    def create(self) -> dict[str, Any] | None:
        with self.calling("create"):
            bucket = self.clients.storage.bucket(self.bucket)
            bucket.iam_configuration.uniform_bucket_level_access_enabled = True
            bucket.iam_configuration.public_access_prevention = "enforced"
            bucket.labels = {"managed-by": "factory-deploy"}
            created = self.clients.storage.create_bucket(bucket, location=self.region)
        return {"name": created.name, "location": created.location}
