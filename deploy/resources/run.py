"""Cloud Run: the phase jobs and the receiver service.

Updates send the whole spec: ``UpdateJob`` has no update mask, and ``UpdateService``'s mask is optional,
so without one the service's spec is replaced as a whole. Either way every field we own is put back,
which is right for resources this deploy owns outright.

A new receiver revision can fail only because the grant on its secret, made moments earlier, is not in
effect yet ("Permission denied on secret"); it is then redeployed, with bounded backoff, until it starts
(propagation.py). Any other failed start is reported once, with the command that shows the revision's
logs: redeploying the same spec would only fail the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.cloud import run_v2

from deploy import specs
from deploy.config import DeployConfig, Phase
from deploy.diff import Change
from deploy.errors import REVISION, revision_logs
from deploy.names import Names
from deploy.resources.base import Specified, from_json
from deploy.target import Clients
from orchestration.receiver.app import WEBHOOK_PATH

REDEPLOY_ANNOTATION = "factory.deploy/redeploy-after-generation"


def _secret_names(containers: list[dict[str, Any]], volumes: Sequence[dict[str, Any]] = ()) -> list[str]:
    refs = [env.get("valueSource", {}).get("secretKeyRef") for c in containers for env in c.get("env", [])]
    return [ref["secret"] for ref in refs if ref] + [v["secret"]["secret"] for v in volumes if "secret" in v]


class CloudRunJob(Specified):
    group = "Cloud Run jobs"
    kind = "Cloud Run job"
    api = "run.googleapis.com"
    admin_role = "roles/run.admin"

    def __init__(self, clients: Clients, config: DeployConfig, names: Names, phase: Phase) -> None:
        super().__init__(
            clients, names, names.job(phase), names.job_path(phase), specs.job(config, names, phase)
        )

    def secret_names(self) -> list[str]:
        template = self.spec["template"]["template"]
        return _secret_names(template["containers"], template.get("volumes", []))

    def read(self) -> dict[str, Any] | None:
        return self._read(lambda: self.clients.jobs.get_job(name=self.path))

    def create(self) -> dict[str, Any] | None:
        job = from_json(run_v2.Job, self.spec)
        return self._created(
            lambda: self.clients.jobs.create_job(parent=self.location, job=job, job_id=self.name)
        )

    def update(self, current: dict[str, Any], changes: list[Change]) -> None:
        job = from_json(run_v2.Job, {**self.spec, "name": self.path})
        self._updated(lambda: self.clients.jobs.update_job(job=job))


class ReceiverService(Specified):
    group = "Cloud Run service"
    kind = "Cloud Run service"
    api = "run.googleapis.com"
    admin_role = "roles/run.admin"

    def __init__(self, clients: Clients, config: DeployConfig, names: Names) -> None:
        super().__init__(clients, names, names.receiver, names.receiver_path, specs.receiver(config, names))
        self.region = config.region
        self.public_access = config.receiver.public_access

    def secret_names(self) -> list[str]:
        return _secret_names(self.spec["template"]["containers"])

    def read(self) -> dict[str, Any] | None:
        return self._read(lambda: self.clients.services.get_service(name=self.path))

    def create(self) -> dict[str, Any] | None:
        created = False

        def attempt() -> Any:
            nonlocal created
            if created:  # the service exists, its first revision failed: a new revision, same spec
                return self._redeploy()
            service = from_json(run_v2.Service, self.spec)
            operation = self.clients.services.create_service(
                parent=self.location, service=service, service_id=self.name
            )
            created = True
            return self.clients.wait(operation)

        return self._created(lambda: self.clients.until_propagated(self.label, attempt))

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
        first = True

        def attempt() -> Any:
            nonlocal first
            if not first:
                return self._redeploy()
            first = False
            if any(c.path == "terminalCondition.state" for c in changes):
                return self._deploy(str(current.get("generation", "0")))
            return self._deploy(None)

        self._updated(lambda: self.clients.until_propagated(self.label, attempt))

    def _deploy(self, stamp: str | None) -> Any:
        """Replace the spec; a ``stamp`` (the generation being replaced) forces a new revision even when
        the spec is unchanged."""
        spec: dict[str, Any] = {**self.spec, "name": self.path}
        if stamp is not None:
            spec["template"] = {**spec["template"], "annotations": {REDEPLOY_ANNOTATION: stamp}}
        service = from_json(run_v2.Service, spec)
        return self.clients.wait(self.clients.services.update_service(service=service))

    def _redeploy(self) -> Any:
        current = self.clients.services.get_service(name=self.path)
        return self._deploy(str(current.generation))

    def notes(self, current: dict[str, Any] | None) -> list[str]:
        failed = (current or {}).get("terminalCondition", {})
        if failed.get("state") == "CONDITION_FAILED":
            message = str(failed.get("message", ""))
            revision = REVISION.search(message)
            logs = f"; its logs: {revision_logs(revision[1], self.clients.project)}" if revision else ""
            return [f"its latest revision failed: {message}{logs}"]
        url = (current or {}).get("uri") or self.predicted_url()
        if self.public_access == "invoker_iam_disabled":
            how = "its invoker IAM check is disabled (invokerIamDisabled), so no allUsers binding is needed"
        else:
            how = "allUsers may invoke it"
        return [
            f"public: {how} (Linear cannot authenticate to Cloud Run; the Linear-Signature HMAC is the "
            f"authentication). Webhook URL: {url}{WEBHOOK_PATH}"
        ]
