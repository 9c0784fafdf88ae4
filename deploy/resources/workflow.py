"""The workflow: orchestration/factory.yaml as shipped, its identity and its environment."""

from __future__ import annotations

from typing import Any

from google.cloud import workflows_v1

from deploy import specs
from deploy.config import DeployConfig
from deploy.diff import Change
from deploy.names import Names
from deploy.resources.base import Specified, from_json, update_mask
from deploy.target import Clients


class Workflow(Specified):
    group = "Workflow"
    kind = "workflow"
    api = "workflows.googleapis.com"
    admin_role = "roles/workflows.admin"
    exact = frozenset({"userEnvVars"})

    def __init__(self, clients: Clients, config: DeployConfig, names: Names, source: str) -> None:
        super().__init__(
            clients, names, names.workflow, names.workflow_path, specs.workflow(config, names, source)
        )

    def read(self) -> dict[str, Any] | None:
        return self._read(lambda: self.clients.workflows.get_workflow(name=self.path))

    def create(self) -> dict[str, Any] | None:
        workflow = from_json(workflows_v1.Workflow, self.spec)
        return self._created(
            lambda: self.clients.workflows.create_workflow(
                parent=self.location, workflow=workflow, workflow_id=self.name
            )
        )

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        workflow = from_json(workflows_v1.Workflow, {**self.spec, "name": self.path})
        mask = update_mask(changes)
        self._updated(lambda: self.clients.workflows.update_workflow(workflow=workflow, update_mask=mask))
