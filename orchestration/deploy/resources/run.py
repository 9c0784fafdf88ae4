"""Cloud Run: the phase jobs and the receiver service. Their update replaces the whole spec (the v2 API
has no update mask), which is right for resources this deploy owns outright."""

from __future__ import annotations

from typing import Any

from google.api_core import exceptions as core_exceptions
from google.cloud import run_v2

from orchestration.deploy import specs
from orchestration.deploy.config import DeployConfig, Phase
from orchestration.deploy.diff import Change
from orchestration.deploy.names import Names
from orchestration.deploy.resources.base import Resource, as_json, from_json
from orchestration.deploy.target import Clients
from orchestration.receiver.app import WEBHOOK_PATH

REDEPLOY_ANNOTATION = "factory.deploy/redeploy-after-generation"


def _secret_names(containers: list[dict[str, Any]]) -> list[str]:
    refs = [env.get("valueSource", {}).get("secretKeyRef") for c in containers for env in c.get("env", [])]
    return [ref["secret"] for ref in refs if ref]


class CloudRunJob(Resource):
    group = "Cloud Run jobs"
    kind = "Cloud Run job"
    api = "run.googleapis.com"
    admin_role = "roles/run.admin"

    def __init__(self, clients: Clients, config: DeployConfig, names: Names, phase: Phase) -> None:
        super().__init__(clients, names.job(phase))
        self.path = names.job_path(phase)
        self.spec = specs.job(config, names, phase)
        self.location = names.location

    def secret_names(self) -> list[str]:
        return _secret_names(self.spec["template"]["template"]["containers"])

    def read(self) -> dict[str, Any] | None:
        with self.calling("read"):
            try:
                return as_json(self.clients.jobs.get_job(name=self.path))
            except core_exceptions.NotFound:
                return None

    def desired(self) -> dict[str, Any]:
        return self.spec

    def create(self) -> dict[str, Any] | None:
        with self.calling("create"):
            job = from_json(run_v2.Job, self.spec)
            operation = self.clients.jobs.create_job(parent=self.location, job=job, job_id=self.name)
            return as_json(self.clients.wait(operation))

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        with self.calling("update"):
            job = from_json(run_v2.Job, {**self.spec, "name": self.path})
            self.clients.wait(self.clients.jobs.update_job(job=job))


class ReceiverService(Resource):
    group = "Cloud Run service"
    kind = "Cloud Run service"
    api = "run.googleapis.com"
    admin_role = "roles/run.admin"

    def __init__(self, clients: Clients, config: DeployConfig, names: Names) -> None:
        super().__init__(clients, names.receiver)
        self.region = config.region
        self.path = names.receiver_path
        self.spec = specs.receiver(config, names)
        self.location = names.location

    def secret_names(self) -> list[str]:
        return _secret_names(self.spec["template"]["containers"])

    def read(self) -> dict[str, Any] | None:
        with self.calling("read"):
            try:
                return as_json(self.clients.services.get_service(name=self.path))
            except core_exceptions.NotFound:
                return None

    def desired(self) -> dict[str, Any]:
        return self.spec

    def create(self) -> dict[str, Any] | None:
        with self.calling("create"):
            service = from_json(run_v2.Service, self.spec)
            operation = self.clients.services.create_service(
                parent=self.location, service=service, service_id=self.name
            )
            return as_json(self.clients.wait(operation))

    def predicted_url(self) -> str:
        """The deterministic URL Cloud Run will give the service, so the Linear webhook (and its signing
        secret, which the service needs before it can start) can be set up before the first apply."""
        number = self.clients.project_number
        if number is None:
            return "(known after apply)"
        return f"https://{self.name}-{number}.{self.region}.run.app"

    def changes(self, current: dict[str, Any]) -> list[Change]:
        # A service whose last revision failed (a secret without a value, say) is redeployed even when
        # its spec matches, which needs a template change: the annotation below.
        out = super().changes(current)
        if current.get("terminalCondition", {}).get("state") == "CONDITION_FAILED":
            out.append(Change("terminalCondition.state", "CONDITION_FAILED", "CONDITION_SUCCEEDED"))
        return out

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        spec: dict[str, Any] = {**self.spec, "name": self.path}
        if any(c.path == "terminalCondition.state" for c in changes):
            stamp = {REDEPLOY_ANNOTATION: str(current.get("generation", "0"))}
            spec["template"] = {**spec["template"], "annotations": stamp}
        with self.calling("update"):
            service = from_json(run_v2.Service, spec)
            self.clients.wait(self.clients.services.update_service(service=service))

    def notes(self, current: dict[str, Any] | None) -> list[str]:
        failed = (current or {}).get("terminalCondition", {})
        if failed.get("state") == "CONDITION_FAILED":
            return [f"its latest revision failed: {failed.get('message', '')}"]
        url = (current or {}).get("uri") or self.predicted_url()
        return [
            f"public: allUsers may invoke it (Linear cannot authenticate to Cloud Run; the "
            f"Linear-Signature HMAC is the authentication). Webhook URL: {url}{WEBHOOK_PATH}"
        ]
