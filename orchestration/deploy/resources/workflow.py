"""The workflow: orchestration/factory.yaml as shipped, its identity and its environment."""

from __future__ import annotations

from typing import Any

from google.api_core import exceptions as core_exceptions
from google.cloud import workflows_v1

from orchestration.deploy import specs
from orchestration.deploy.config import DeployConfig
from orchestration.deploy.diff import Change
from orchestration.deploy.names import Names
from orchestration.deploy.resources.base import Resource, as_json, from_json, update_mask
from orchestration.deploy.target import Clients


class Workflow(Resource):
    group = "Workflow"
    kind = "workflow"
    api = "workflows.googleapis.com"
    admin_role = "roles/workflows.admin"
    exact = frozenset({"userEnvVars"})

    def __init__(self, clients: Clients, config: DeployConfig, names: Names, source: str) -> None:
        super().__init__(clients, names.workflow)
        self.path = names.workflow_path
        self.location = names.location
        self.spec = specs.workflow(config, names, source)

    def read(self) -> dict[str, Any] | None:
        with self.calling("read"):
            try:
                return as_json(self.clients.workflows.get_workflow(name=self.path))
            except core_exceptions.NotFound:
                return None

    def desired(self) -> dict[str, Any]:
        return self.spec

    def create(self) -> dict[str, Any] | None:
        with self.calling("create"):
            workflow = from_json(workflows_v1.Workflow, self.spec)
            operation = self.clients.workflows.create_workflow(
                parent=self.location, workflow=workflow, workflow_id=self.name
            )
            return as_json(self.clients.wait(operation))

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        mask = update_mask(changes)
        with self.calling("update"):
            workflow = from_json(workflows_v1.Workflow, {**self.spec, "name": self.path})
            self.clients.wait(self.clients.workflows.update_workflow(workflow=workflow, update_mask=mask))
