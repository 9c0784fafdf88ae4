"""The Google Cloud connectors factory.yaml calls, answered by local stand-ins.

- ``googleapis.run.v2.projects.locations.jobs.run`` runs the phase's job entrypoint as a subprocess
  (``python -m jobs <phase>``), or in the phase's image given a container runner (``--docker``), with
  the same environment variables the Cloud Run Job would get: the job's base environment plus the
  call's ``containerOverrides`` env. A non-zero exit is the connector's
  failed-execution error (tag ``OperationError``); a run past its task timeout is stopped and fails
  the same way. Nothing retries it (a second run would put a second agent on the branch).
- ``googleapis.storage.v1.objects.get`` with ``alt: media`` reads the artifact store; an object whose
  content type is JSON (GcsStore gives ``*.json`` keys ``application/json``) is returned decoded, as the
  connector does, any other as bytes; without ``alt: media`` it returns the object resource (metadata,
  with ``generation``: the store's version). A missing object is an ``HttpError`` 404.
- ``googleapis.storage.v1.objects.delete`` deletes from the artifact store (the workflow releases the
  ticket's receiver lock with it); a missing object is an ``HttpError`` 404, as from GCS.
- ``googleapis.storage.v1.objects.insert`` with ``uploadType: media`` writes ``body`` (a string) as
  the object ``name`` (URL-encoded, as Google's samples pass it); with ``ifGenerationMatch: 0`` only if
  no object is there (the workflow claims a ticket with it), else ``HttpError`` 412.
- They honour ``ifGenerationMatch`` (the version read; 412 when the object is at another one), which
  needs a store with versions (``VersionedStore``).
- ``googleapis.secretmanager.v1.projects.secrets.versions.accessString`` reads the environment.
"""

from __future__ import annotations

import json
import mimetypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jobs.artifacts import ArtifactStore, VersionedStore
from jobs.errors import ArtifactError, ArtifactExists, ArtifactNotFound, FactoryError
from jobs.phases.registry import phase_of_job
from jobs.sandbox.box import PARENT_ENV
from jobs.workspace.shell import reap_supervised
from orchestration.engine.errors import WorkflowError

RUN_JOB = "googleapis.run.v2.projects.locations.jobs.run"
GET_OBJECT = "googleapis.storage.v1.objects.get"
DELETE_OBJECT = "googleapis.storage.v1.objects.delete"
INSERT_OBJECT = "googleapis.storage.v1.objects.insert"
ACCESS_SECRET = "googleapis.secretmanager.v1.projects.secrets.versions.accessString"  # noqa: S105 - a name
SIGTERM_GRACE = 30.0  # what the job gets to stop its agents and write its result
JobStarted = Callable[[str, Mapping[str, str]], None]
# Runs one job to its end: (phase, env, task timeout) -> exit code, or None past the timeout. The
# default is a subprocess; orchestration.local.containers.ContainerRunner runs the phase's image (--docker).
JobRunner = Callable[[str, Mapping[str, str], float], int | None]


class LocalCloud:
    """Connectors for the local engine; ``job_env`` is what every job gets (its deploy-time config)."""

    def __init__(
        self,
        job_env: Mapping[str, str],
        store: ArtifactStore,
        secrets: Mapping[str, str],
        on_job: JobStarted | None = None,
        runner: JobRunner | None = None,
        phase_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.job_env = dict(job_env)
        # What only some jobs get, as deploy gives each job its own secrets: the triage's Sentry and
        # Langfuse credentials reach the triage jobs and no agent phase.
        self.phase_env = {phase: dict(env) for phase, env in (phase_env or {}).items()}
        self.runner: JobRunner = runner or run_subprocess
        self.store = store
        self.secrets = secrets
        self.on_job = on_job
        self.executions: list[dict[str, Any]] = []  # every job run, for summaries and tests

    def connectors(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            RUN_JOB: self.run_job,
            GET_OBJECT: self.get_object,
            DELETE_OBJECT: self.delete_object,
            INSERT_OBJECT: self.insert_object,
            ACCESS_SECRET: self.access_secret,
        }

    def run_job(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name", ""))
        job = name.rsplit("/", 1)[-1]
        spec = phase_of_job(job)
        if not name.startswith("projects/") or spec is None:
            raise WorkflowError(["HttpError"], f"Resource '{name}' was not found", code=404)
        phase = spec.name
        overrides = (args.get("body") or {}).get("overrides") or {}
        env = {**self.job_env, **self.phase_env.get(phase, {})}
        for container in overrides.get("containerOverrides") or []:
            env.update({str(item["name"]): str(item.get("value", "")) for item in container.get("env") or []})
        task_timeout = _seconds(overrides.get("timeout"), default=7200.0)
        execution = f"{name}/executions/{job}-{uuid.uuid4().hex[:5]}"
        if self.on_job is not None:
            self.on_job(phase, env)
        started = time.monotonic()
        try:
            code = self.runner(phase, env, task_timeout)
        except (FactoryError, OSError) as exc:
            # The task never ran (its image missing, no container engine): a failed execution all the
            # same, so the workflow's except notifies "failed" and no later phase starts (B1).
            self.executions.append({"name": execution, "phase": phase, "exit_code": None, "error": str(exc)})
            raise WorkflowError(
                ["OperationError"],
                f"The job execution {execution} failed: the task could not start: {exc}",
                operation={"name": execution, "done": True, "error": {"code": 2, "message": str(exc)}},
            ) from exc
        record = {
            "name": execution,
            "phase": phase,
            "exit_code": code,
            "seconds": round(time.monotonic() - started, 3),
        }
        self.executions.append(record)
        if code != 0:
            why = "timed out" if code is None else f"exited with code {code}"
            raise WorkflowError(
                ["OperationError"],
                f"The job execution {execution} failed: the task {why}",
                operation={"name": execution, "done": True, "error": {"code": 9, "message": f"task {why}"}},
            )
        return {"name": execution, "completionTime": _now(), "succeededCount": 1, "failedCount": 0}

    def get_object(self, args: dict[str, Any]) -> Any:
        key = unquote(str(args.get("object", "")))
        wanted = args.get("ifGenerationMatch")
        try:
            if wanted is None and args.get("alt") == "media":
                data, version = self.store.read_bytes(key), None
            else:
                current = self._versioned().read_versioned(key)
                data, version = current.data, current.version
        except ArtifactNotFound:
            raise WorkflowError(
                ["HttpError"], f"No such object: {args.get('bucket')}/{key}", code=404
            ) from None
        if wanted is not None and str(wanted) != version:
            raise _precondition_failed()
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        if args.get("alt") != "media":
            return {
                "kind": "storage#object",
                "bucket": args.get("bucket"),
                "name": key,
                "size": str(len(data)),
                "generation": version,
                "contentType": content_type,
            }
        if content_type != "application/json":
            return data
        try:
            return json.loads(data)
        except ValueError:
            return data

    def delete_object(self, args: dict[str, Any]) -> None:
        key = unquote(str(args.get("object", "")))
        wanted = args.get("ifGenerationMatch")
        try:
            if wanted is None:
                deleted = self.store.delete(key)
            else:
                store = self._versioned()
                deleted = store.delete_if_version(key, str(wanted))
                if not deleted and store.exists(key):
                    raise _precondition_failed()
        except ArtifactError as exc:  # a key the store refuses (GCS: 400), or the store failing (503)
            raise WorkflowError(["HttpError"], str(exc), code=503 if exc.retryable else 400) from None
        if not deleted:
            raise WorkflowError(["HttpError"], f"No such object: {args.get('bucket')}/{key}", code=404)

    def insert_object(self, args: dict[str, Any]) -> dict[str, Any]:
        """A media upload; ``ifGenerationMatch: 0`` creates only if absent (GCS: "succeed only if there
        are no live versions of the object"), any other precondition is not modelled (400)."""
        key = unquote(str(args.get("name", "")))
        body = args.get("body")
        if args.get("uploadType") != "media" or not isinstance(body, str):
            raise WorkflowError(
                ["HttpError"], "only uploadType media with a string body is modelled", code=400
            )
        wanted = args.get("ifGenerationMatch")
        if wanted is not None and str(wanted) != "0":
            raise WorkflowError(["HttpError"], "only ifGenerationMatch 0 is modelled on insert", code=400)
        try:
            self.store.write_bytes(key, body.encode(), if_absent=wanted is not None)
        except ArtifactExists:
            raise _precondition_failed() from None
        except ArtifactError as exc:
            raise WorkflowError(["HttpError"], str(exc), code=503 if exc.retryable else 400) from None
        return {"kind": "storage#object", "bucket": args.get("bucket"), "name": key, "size": str(len(body))}

    def _versioned(self) -> VersionedStore:
        if not isinstance(self.store, VersionedStore):
            raise WorkflowError(["HttpError"], f"{self.store!r} keeps no object generations", code=501)
        return self.store

    def access_secret(self, args: dict[str, Any]) -> str:
        secret = str(args.get("secret_id", ""))
        value = self.secrets.get(secret)
        if value is None:
            raise WorkflowError(["HttpError"], f"Secret [{secret}] not found or has no versions.", code=404)
        return value


def _precondition_failed() -> WorkflowError:
    return WorkflowError(
        ["HttpError"], "At least one of the pre-conditions you specified did not hold.", code=412
    )


def run_subprocess(phase: str, env: Mapping[str, str], timeout: float) -> int | None:
    """The job's entrypoint, as its container would run it; None when it ran past the task timeout."""
    with task_dir() as boxes:
        job = subprocess.Popen(
            [sys.executable, "-m", "jobs", phase],
            env={**os.environ, **env, PARENT_ENV: str(boxes)},
            start_new_session=True,
        )
        try:
            return job.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # What Cloud Run does at the task timeout: SIGTERM (the job stops its agents and writes its
            # result), then SIGKILL after a grace.
            os.killpg(job.pid, signal.SIGTERM)
            reap_supervised(job, SIGTERM_GRACE)
            return None


@contextmanager
def task_dir() -> Iterator[Path]:
    """A job's own directory for its box trees (``$FACTORY_BOX_PARENT``), removed when the job has ended,
    however it ended.

    Cloud Run gives each task a new filesystem; here a job killed with SIGKILL (past its grace) could not
    remove its box's tree (clone, agent home, git directory) from the shared temp directory itself. The
    box's uids may pass through it to their box (0711), never list it. What is one per machine (the e2e
    ports lock, the copies of programs a box runs) stays in the temp directory.
    """
    path = Path(tempfile.mkdtemp(prefix="factory-task-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _seconds(value: Any, default: float) -> float:
    text = str(value or "").strip()
    if text.endswith("s"):
        text = text[:-1]
    try:
        return float(text)
    except ValueError:
        return default


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
