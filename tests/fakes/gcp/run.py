"""Cloud Run Admin API v2: jobs and services, their IAM policies and operations (``/v2/...``).

Like the real API: a job without ``maxRetries`` gets 3, a task without ``timeout`` gets 600s, a container
without resources gets 1 CPU / 512Mi, a service gets a URL, port 8080 and default scaling; an update
replaces the whole spec (jobs have no update mask; a service update without ``updateMask`` replaces it
too, and this fake refuses one with a mask, which it does not implement) and bumps ``generation``.
Writes answer with an LRO. A service's new revision must resolve its secret references (the secret has
an enabled version and the revision's service account may access it, as IAM sees it at that moment:
``policies.effective``) or the operation ends in error and the service is left with a failed
``terminalCondition``, as the real "Revision is not ready" does; ``containers_start = False`` makes every
new revision fail as a container that never listens on its port does.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.fakes.gcp.common import LOCATION, SEG, body_of, check_project, new_etag, snapshot
from tests.fakes.gcp.projects import PROJECT_NUMBER
from tests.fakes.gcp.secrets import SecretManager
from tests.fakes.gcp.server import ApiError, GcpServer, Json, Request, already_exists, not_found

API = "run.googleapis.com"
OWNED = (
    "labels",
    "annotations",
    "client",
    "clientVersion",
    "launchStage",
    "binaryAuthorization",
    "template",
    "ingress",
    "traffic",
    "scaling",
    "invokerIamDisabled",
    "description",
)
DEFAULT_LIMITS = {"cpu": "1000m", "memory": "512Mi"}
DEFAULT_ACCOUNT = "123456789-compute@developer.gserviceaccount.com"
ACCESSOR_ROLES = ("roles/secretmanager.secretAccessor", "roles/owner", "roles/editor")


def _job_defaults(job: Json) -> None:
    execution = job.setdefault("template", {})
    execution.setdefault("taskCount", 1)
    task = execution.setdefault("template", {})
    task.setdefault("maxRetries", 3)
    task.setdefault("timeout", "600s")
    task.setdefault("serviceAccount", DEFAULT_ACCOUNT)
    for container in task.get("containers", []):
        container.setdefault("resources", {"limits": dict(DEFAULT_LIMITS)})


def _service_defaults(service: Json) -> None:
    service.setdefault("ingress", "INGRESS_TRAFFIC_ALL")
    template = service.setdefault("template", {})
    template.setdefault("scaling", {"maxInstanceCount": 100})
    template.setdefault("timeout", "300s")
    template.setdefault("maxInstanceRequestConcurrency", 80)
    for container in template.get("containers", []):
        container.setdefault("resources", {"limits": dict(DEFAULT_LIMITS), "cpuIdle": True})
        container.setdefault("ports", [{"name": "http1", "containerPort": 8080}])
    service.setdefault("traffic", [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}])


def _validate(kind: str, spec: Json) -> None:
    task = spec.get("template", {})
    task = task.get("template", task) if kind == "jobs" else task
    containers = task.get("containers") or []
    if not containers or not all(c.get("image") for c in containers):
        raise ApiError(400, f"{kind[:-1]}: template.containers[0].image is required")


class CloudRun:
    """``fake.run.resources["jobs"|"services"][name]``, as the API would return them."""

    def __init__(self, server: GcpServer, secrets: SecretManager) -> None:
        self.server = server
        self.secrets = secrets
        self.resources: dict[str, dict[str, Json]] = {"jobs": {}, "services": {}}
        self.containers_start = True  # False: every new revision's container fails to listen on its port
        for kind in ("jobs", "services"):
            self._routes(kind)
        server.route("GET", rf"/v2/(?P<name>{LOCATION}/operations/{SEG})", API, write=False)(
            lambda request, m: server.poll(m["name"])
        )

    def _routes(self, kind: str) -> None:
        server = self.server
        parent = rf"/v2/(?P<parent>{LOCATION})/{kind}"
        name = rf"/v2/(?P<name>{LOCATION}/{kind}/{SEG})"
        server.route("POST", parent, API, write=True)(lambda r, m: self.create(kind, r, m))
        server.route("GET", name, API, write=False)(lambda r, m: self.get(kind, m["name"]))
        server.route("PATCH", name, API, write=True)(lambda r, m: self.update(kind, r, m))
        server.route("GET", rf"{name}:getIamPolicy", API, write=False)(
            lambda r, m: self._policy(kind, m["name"])
        )
        server.route("POST", rf"{name}:setIamPolicy", API, write=True)(
            lambda r, m: self._set_policy(kind, m["name"], r)
        )

    def get(self, kind: str, name: str) -> Json:
        found = self.resources[kind].get(name)
        if found is None:
            raise not_found(name)
        return snapshot(found)

    def create(self, kind: str, request: Request, match: re.Match[str]) -> Json:
        check_project(self.server, match["project"])
        ident = request.query.get("jobId" if kind == "jobs" else "serviceId", "")
        if not re.fullmatch(r"[a-z]([-a-z0-9]{0,47}[a-z0-9])?", ident):
            raise ApiError(400, f"invalid {kind[:-1]} id {ident!r}")
        name = f"{match['parent']}/{kind}/{ident}"
        if name in self.resources[kind]:
            raise already_exists(name)
        spec = body_of(request)
        _validate(kind, spec)
        now = self.server.now()
        stored: Json = {
            **spec,
            "name": name,
            "uid": str(uuid.uuid4()),
            "generation": "1",
            "createTime": now,
            "updateTime": now,
            "creator": "deployer@example.com",
            "lastModifier": "deployer@example.com",
            "launchStage": spec.get("launchStage", "GA"),
            "etag": new_etag(),
        }
        if kind == "jobs":
            _job_defaults(stored)
        else:
            _service_defaults(stored)
            # The deterministic URL form: https://SERVICE-PROJECT_NUMBER.REGION.run.app
            stored["uri"] = f"https://{ident}-{PROJECT_NUMBER}.{match['location']}.run.app"
            stored["urls"] = [stored["uri"]]
        self.resources[kind][name] = stored
        return self._operation(kind, match["parent"], name)

    def update(self, kind: str, request: Request, match: re.Match[str]) -> Json:
        name = match["name"]
        stored = self.resources[kind].get(name)
        if stored is None:
            raise not_found(name)
        if request.query.get("updateMask"):
            raise ApiError(400, "this fake implements only whole-spec updates (no updateMask)")
        spec = body_of(request)
        _validate(kind, spec)
        for key in OWNED:
            stored.pop(key, None)
            if key in spec:
                stored[key] = spec[key]
        (_job_defaults if kind == "jobs" else _service_defaults)(stored)
        stored["generation"] = str(int(stored["generation"]) + 1)
        stored["updateTime"] = self.server.now()
        stored["etag"] = new_etag()
        return self._operation(kind, name.rsplit(f"/{kind}/", 1)[0], name)

    def _operation(self, kind: str, location: str, name: str) -> Json:
        type_url = f"type.googleapis.com/google.cloud.run.v2.{'Job' if kind == 'jobs' else 'Service'}"
        error = self._deploy_revision(self.resources[kind][name]) if kind == "services" else None
        return self.server.operation(location, type_url, lambda: self.get(kind, name), error)

    def _deploy_revision(self, service: Json) -> Json | None:
        """Start a revision: a failed secret reference fails it, the Ready condition says so."""
        template = service["template"]
        account = template.get("serviceAccount", DEFAULT_ACCOUNT)
        problems = []
        for index, container in enumerate(template.get("containers", [])):
            for number, env in enumerate(container.get("env", [])):
                ref = env.get("valueSource", {}).get("secretKeyRef")
                problem = self._secret_problem(ref, account) if ref else None
                if problem:
                    problems.append(f"spec.template.spec.containers[{index}].env[{number}]: {problem}")
        if not self.containers_start:
            problems.append(
                "The user-provided container failed to start and listen on the port defined provided by the "
                "PORT=8080 environment variable within the allocated timeout."
            )
        number = int(service["generation"])
        revision = f"{service['name'].rsplit('/', 1)[1]}-{number:05d}-abc"
        if problems:
            message = f"Revision '{revision}' is not ready and cannot serve traffic. " + " ".join(problems)
            service["terminalCondition"] = {"type": "Ready", "state": "CONDITION_FAILED", "message": message}
            return {"code": 9, "message": message}
        service["terminalCondition"] = {"type": "Ready", "state": "CONDITION_SUCCEEDED"}
        service["latestReadyRevision"] = f"{service['name']}/revisions/{revision}"
        return None

    def _secret_problem(self, ref: Json, account: str) -> str | None:
        secret = ref["secret"]
        name = (
            secret if secret.startswith("projects/") else f"projects/{self.server.project}/secrets/{secret}"
        )
        version = f"{name}/versions/{ref.get('version', 'latest')}"
        member = f"serviceAccount:{account}"
        policies = self.server.policies
        allowed = any(
            member in policies.effective(resource, role)
            for resource in (name, f"projects/{self.server.project}")
            for role in ACCESSOR_ROLES
        )
        if not allowed:
            return (
                f"Permission denied on secret: {version} for Revision service account {account}. The service "
                "account used must be granted the 'Secret Manager Secret Accessor' role"
            )
        if not any(v["state"] == "ENABLED" for v in self.secrets.versions.get(name, [])):
            return f"Secret {version} was not found"
        return None

    def _policy(self, kind: str, name: str) -> Any:
        self.get(kind, name)
        return self.server.policies.get(name)

    def _set_policy(self, kind: str, name: str, request: Request) -> Any:
        self.get(kind, name)
        return self.server.policies.set(name, body_of(request).get("policy", {}))
