"""``factory serve``'s wiring: executions run factory.yaml on the local engine; how gcloud reaches them."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from jobs.artifacts import open_store
from orchestration.local.demo import EXAMPLES, local_job_env
from orchestration.local.executions_api import Start
from orchestration.local.offline import offline_env, start_offline_model
from orchestration.local.run import LocalRun, run_workflow

DUMMY_TOKEN = "local-executions-api"  # noqa: S105 - gcloud sends it; the local server ignores it


def local_start(repo: str, tickets_dir: Path, artifacts: Path, real_model: bool) -> Start:
    """``start(argument, execution_id)`` running orchestration/factory.yaml as ``factory demo`` does:
    jobs as processes, the artifact prefix a directory, the offline model unless ``real_model``. The
    execution id is the run id (the workflow reads it from ``GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID``)."""
    artifacts = artifacts.resolve()
    tickets_dir = tickets_dir.resolve()

    def start(argument: Any, execution_id: str) -> LocalRun:
        # The workflow sets TICKET_IDENTIFIER, JOB and RUN_ID per job from its argument.
        env = local_job_env(
            "",
            Path(repo),
            artifacts,
            execution_id,
            workdir=artifacts / "work" / execution_id,
            tickets_dir=tickets_dir,
        )
        env["REPO_URL"] = repo
        server = None
        if not real_model:
            record = artifacts / "runs" / execution_id / "offline-model.jsonl"
            server = start_offline_model(EXAMPLES / "scenarios", record)
            env.update(offline_env(server))
        try:
            return run_workflow(
                argument,
                execution_id,
                env,
                open_store(str(artifacts)),
                slack_webhook=os.environ.get("SLACK_WEBHOOK_URL") or None,
                say=lambda line: print(f"[{execution_id[:8]}] {line}", file=sys.stderr, flush=True),
            )
        finally:
            if server is not None:
                server.stop()

    return start


def gcloud_env(base_url: str, config_dir: str, token_file: str) -> dict[str, str]:
    """Environment pointing the real gcloud at ``base_url`` with no Google account and no change to the
    machine's gcloud configuration: a private ``CLOUDSDK_CONFIG`` and a dummy access token file."""
    return {
        "CLOUDSDK_CONFIG": config_dir,
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_WORKFLOWEXECUTIONS": base_url,
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE": token_file,
        "CLOUDSDK_CORE_PROJECT": "local",
        "CLOUDSDK_WORKFLOWS_LOCATION": "local",
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
    }


def prepare_gcloud(directory: Path) -> tuple[str, str]:
    """A private gcloud configuration directory and a dummy token file under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config").mkdir(exist_ok=True)
    token = directory / "token"
    token.write_text(DUMMY_TOKEN + "\n", encoding="utf-8")
    return str((directory / "config").resolve()), str(token.resolve())


def gcloud_howto(base_url: str, config_dir: str, token_file: str) -> list[str]:
    """The shell lines that drive this server with the real gcloud."""
    exports = [f"export {key}={value}" for key, value in gcloud_env(base_url, config_dir, token_file).items()]
    return [
        *exports,
        'gcloud workflows run factory --data=\'{"job":"solve-linear-ticket","ticket":"IX-103"}\'',
        "gcloud workflows executions list factory",
        "gcloud workflows executions describe EXECUTION_ID --workflow factory",
        "gcloud workflows executions cancel EXECUTION_ID --workflow factory",
    ]
