"""The embedded default as one piece: what a local execution of ``factory.yaml`` runs against.

A ``LocalStack`` holds what every local run shares (the target repository, the artifact directory,
the ticket files, which model, how jobs run) and starts executions: each gets the environment a Cloud
Run Job would get, the offline model unless the real one is asked for, the artifact store, and the job
runner (subprocesses, or the phases' images with ``--docker``). ``factory solve-linear-ticket``,
``factory serve`` and ``factory demo`` all run through ``LocalStack.run``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from images.engine import extra_ca_bundle, find_engine, image_ref, image_tag, require_images
from jobs.artifacts import open_store
from jobs.errors import ConfigError
from jobs.phases.registry import PHASES
from orchestration.local.connectors import JobRunner
from orchestration.local.containers import ContainerRunner
from orchestration.local.offline import offline_env, start_offline_model
from orchestration.local.run import LocalRun, run_workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODEL_CREDENTIALS = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")
MODEL_VARIABLES = (*MODEL_CREDENTIALS, "ANTHROPIC_BASE_URL")  # what the jobs read for the real model


def local_job_env(
    ticket: str,
    remote: Path,
    artifacts: Path,
    run_id: str,
    *,
    workdir: Path,
    tickets_dir: Path = EXAMPLES / "tickets",
) -> dict[str, str]:
    """A job's environment for a local run: the variables a Cloud Run Job would get."""
    return {
        "JOB": "solve-linear-ticket",
        "TICKET_IDENTIFIER": ticket,
        "REPO_URL": str(remote),
        "BASE_BRANCH": "main",
        "RUN_ID": run_id,
        "ARTIFACTS_PREFIX": str(artifacts),
        "TICKETS_DIR": str(tickets_dir),
        "WORKDIR": str(workdir),
    }


def new_run_id(ticket: str) -> str:
    return f"{ticket.lower()}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def container_runner() -> ContainerRunner:
    """The ``--docker`` job runner: the working engine and this checkout's images, all present."""
    engine, tag = find_engine(), image_tag()
    require_images(engine, [image_ref(phase.image, tag) for phase in PHASES])
    return ContainerRunner(engine, tag, ca_bundle=extra_ca_bundle())


@dataclass(frozen=True)
class LocalStack:
    """What local executions share; ``run`` starts one and waits for its end."""

    repo: str  # the target repository: a path, file:// or https URL
    artifacts: Path
    tickets_dir: Path
    real_model: bool = False
    scenarios: Path = EXAMPLES / "scenarios"  # the offline model's scripted turns
    runner: JobRunner | None = None  # None: jobs as subprocesses
    slack_webhook: str | None = None

    @classmethod
    def create(
        cls, repo: str, artifacts: Path, tickets_dir: Path, *, real_model: bool = False, docker: bool = False
    ) -> LocalStack:
        """Checked up front: the real model needs credentials; ``--docker`` an engine and the images
        (ConfigError, or ContainerError from ``images.engine``, saying which)."""
        if real_model and not any(os.environ.get(name) for name in MODEL_CREDENTIALS):
            raise ConfigError(f"--real needs {' or '.join(MODEL_CREDENTIALS)}")
        return cls(
            repo,
            artifacts.resolve(),
            tickets_dir.resolve(),
            real_model,
            runner=container_runner() if docker else None,
            slack_webhook=os.environ.get("SLACK_WEBHOOK_URL") or None,
        )

    def describe(self) -> list[str]:
        """How this stack runs, for the console."""
        model = (
            "Claude (real API)" if self.real_model else "offline scripted model (no Claude credentials used)"
        )
        lines = [f"model: {model}"]
        if isinstance(self.runner, ContainerRunner):
            lines.append(f"jobs: in images {image_ref('<phase>', self.runner.tag)} on {self.runner.engine}")
        return lines

    def run(
        self,
        argument: Any,
        execution_id: str,
        say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    ) -> LocalRun:
        """Execute factory.yaml with ``argument`` (any of its input shapes); the execution id is the run
        id (the workflow reads it from ``GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID`` and sets each job's)."""
        # The workflow sets JOB, TICKET_IDENTIFIER and RUN_ID per job from its argument.
        workdir = self.artifacts / "work" / execution_id
        env = local_job_env(
            "", Path(self.repo), self.artifacts, execution_id, workdir=workdir, tickets_dir=self.tickets_dir
        )
        env["REPO_URL"] = self.repo
        server = None
        if self.real_model:
            # Named here, not inherited: a container (--docker) gets the job's variables and nothing else.
            env.update({name: os.environ[name] for name in MODEL_VARIABLES if os.environ.get(name)})
        else:
            record = self.artifacts / "runs" / execution_id / "offline-model.jsonl"
            server = start_offline_model(self.scenarios, record)
            env.update(offline_env(server))
        try:
            return run_workflow(
                argument,
                execution_id,
                env,
                open_store(str(self.artifacts)),
                slack_webhook=self.slack_webhook,
                say=say,
                runner=self.runner,
            )
        finally:
            if server is not None:
                server.stop()
