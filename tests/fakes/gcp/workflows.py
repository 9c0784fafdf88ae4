"""Workflows API v1: workflows and their operations (``/v1/.../workflows``, ``/v1/.../operations``).

Like the real API: the source must parse as YAML (400 otherwise), the service account comes back in its
long form ``projects/P/serviceAccounts/EMAIL``, and a change to source, account or env makes a new
revision. ``userEnvVars`` holds at most 20 variables, none with an empty key or one starting with
GOOGLE or WORKFLOWS (reserved). Updates honour ``updateMask``.
"""

from __future__ import annotations

import re

import yaml

from jobs.yaml_load import safe_load
from tests.fakes.gcp.common import Located, body_of
from tests.fakes.gcp.server import ApiError, GcpServer, Json, Request

API = "workflows.googleapis.com"
TYPE_URL = "type.googleapis.com/google.cloud.workflows.v1.Workflow"
REVISION_FIELDS = ("sourceContents", "serviceAccount", "userEnvVars", "callLogLevel")
MAX_ENV_VARS = 20
RESERVED_PREFIXES = ("GOOGLE", "WORKFLOWS")


class Workflows(Located):
    api = API
    plural = "workflows"

    def __init__(self, server: GcpServer) -> None:
        super().__init__(server)
        self.workflows = self.stored

    @staticmethod
    def _check_env(env: Json) -> None:
        if len(env) > MAX_ENV_VARS:
            raise ApiError(400, f"userEnvVars: at most {MAX_ENV_VARS} variables, got {len(env)}")
        for key in env:
            if not key or key.startswith(RESERVED_PREFIXES):
                raise ApiError(
                    400, f"userEnvVars: key {key!r} is reserved (empty, or starts with GOOGLE or WORKFLOWS)"
                )

    def _normalise(self, workflow: Json) -> None:
        self._check_env(workflow.get("userEnvVars") or {})
        try:
            safe_load(workflow.get("sourceContents", ""))
        except yaml.YAMLError as exc:
            raise ApiError(400, f"Workflow source is not valid YAML: {exc}") from None
        account = workflow.get("serviceAccount") or "123456789-compute@developer.gserviceaccount.com"
        if not account.startswith("projects/"):
            account = f"projects/{self.server.project}/serviceAccounts/{account}"
        workflow["serviceAccount"] = account

    def create(self, request: Request, match: re.Match[str]) -> Json:
        name = self.new_name(request, match, "workflowId")
        workflow = body_of(request)
        self._normalise(workflow)
        now = self.server.now()
        workflow.update(
            name=name,
            state="ACTIVE",
            revisionId="000001-a1b",
            createTime=now,
            updateTime=now,
            revisionCreateTime=now,
        )
        self.workflows[name] = workflow
        return self.operation(name, TYPE_URL)

    def update(self, request: Request, match: re.Match[str]) -> Json:
        name = match["name"]
        stored, fields = self.patched(request, name)
        self._normalise(stored)
        now = self.server.now()
        if any(f in REVISION_FIELDS for f in fields):
            number = int(stored["revisionId"].split("-")[0]) + 1
            stored.update(revisionId=f"{number:06d}-c2d", revisionCreateTime=now)
        stored["updateTime"] = now
        self.workflows[name] = stored
        return self.operation(name, TYPE_URL)
