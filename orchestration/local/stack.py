"""The embedded default as one piece: what a local execution of ``factory.yaml`` runs against.

A ``LocalStack`` holds what every local run shares (the target repository, the artifact directory,
the ticket files, which model, how jobs run) and starts executions: each gets the environment a Cloud
Run Job would get, the offline model unless the real one is asked for, the artifact store, and the job
runner (subprocesses, or the phases' images with ``--docker``). ``factory solve-linear-ticket``,
``factory serve`` and ``factory demo`` all run through ``LocalStack.run``. A run's working copies
(``<artifacts>/work/<run_id>``) are removed when it ends, unless ``keep_work`` asks to keep them.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from images.engine import extra_ca_bundle, find_engine, image_ref, image_tag, require_images
from jobs.appenv import PHASES as APP_ENV_PHASES
from jobs.artifacts import open_store
from jobs.errors import ConfigError
from jobs.phases.registry import PHASES
from orchestration.local.check import check_scenarios
from orchestration.local.connectors import JobRunner
from orchestration.local.containers import ContainerRunner
from orchestration.local.inputs import resolve_path, resolve_repo
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
    require_images(engine, list(dict.fromkeys(image_ref(phase.image, tag) for phase in PHASES)))
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
    keep_work: bool = False  # keep <artifacts>/work/<run_id> after the run (for debugging)
    # Variables only some phases' jobs get (phase -> name -> value), as deploy gives each job its own.
    phase_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        repo: str,
        artifacts: Path,
        tickets_dir: Path,
        *,
        real_model: bool = False,
        docker: bool = False,
        scenarios: Path | None = None,
        keep_work: bool = False,
        app_env: Path | None = None,
    ) -> LocalStack:
        """Checked up front: the real model needs credentials; ``--docker`` an engine and the images
        (ConfigError, or ContainerError from ``images.engine``, saying which). Local paths are made
        absolute here, once: the jobs use them from other directories."""
        if real_model and not any(os.environ.get(name) for name in MODEL_CREDENTIALS):
            raise ConfigError(f"--real needs {' or '.join(MODEL_CREDENTIALS)}")
        scenarios = resolve_path(scenarios) if scenarios is not None else EXAMPLES / "scenarios"
        if not real_model:
            require_scenarios(scenarios)
        phase_env = app_env_phases(app_env) if app_env is not None else {}
        return cls(
            resolve_repo(repo),
            resolve_path(artifacts),
            resolve_path(tickets_dir),
            real_model,
            scenarios=scenarios,
            runner=container_runner() if docker else None,
            slack_webhook=os.environ.get("SLACK_WEBHOOK_URL") or None,
            keep_work=keep_work,
            phase_env=phase_env,
        )

    def describe(self) -> list[str]:
        """How this stack runs, for the console."""
        model = (
            "Claude (real API)" if self.real_model else "offline scripted model (no Claude credentials used)"
        )
        lines = [f"model: {model}"]
        if not self.real_model and self.scenarios != EXAMPLES / "scenarios":
            lines.append(f"scenarios: {self.scenarios}")
        if isinstance(self.runner, ContainerRunner):
            lines.append(f"jobs: in images {image_ref('<phase>', self.runner.tag)} on {self.runner.engine}")
        return lines

    def workdir(self, execution_id: str) -> Path:
        """Where the jobs of execution ``execution_id`` clone and work."""
        return self.artifacts / "work" / execution_id

    def run(
        self,
        argument: Any,
        execution_id: str,
        say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    ) -> LocalRun:
        """Execute factory.yaml with ``argument`` (any of its input shapes); the execution id is the run
        id (the workflow reads it from ``GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID`` and sets each job's)."""
        # The workflow sets JOB, TICKET_IDENTIFIER and RUN_ID per job from its argument.
        workdir = self.workdir(execution_id)
        env = local_job_env(
            "", Path(self.repo), self.artifacts, execution_id, workdir=workdir, tickets_dir=self.tickets_dir
        )
        env["REPO_URL"] = self.repo
        if self.keep_work:
            env["KEEP_WORK"] = "1"  # a contained job moves its working trees out of its box for us
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
                phase_env=self.phase_env,
            )
        finally:
            if server is not None:
                server.stop()
            if not self.keep_work:
                remove_workdir(workdir, say)


def app_env_phases(app_env: Path) -> dict[str, dict[str, str]]:
    """``--app-env``: the file for the review and e2e jobs alone, as deploy mounts the secret in theirs
    (``--docker`` mounts it read-only at the same path). The jobs check its mode and parse it; here only
    that it is there."""
    path = resolve_path(app_env)
    if not path.is_file():
        raise ConfigError(f"--app-env: {path} is not a file")
    return {phase: {"APP_ENV_FILE": str(path)} for phase in APP_ENV_PHASES}


def require_scenarios(scenarios: Path) -> None:
    """ConfigError naming the first problem of the offline model's scenario files, before a run starts
    (a broken file would otherwise stop the model's start, or leave a request no scenario answers)."""
    errors = [finding for finding in check_scenarios(scenarios)[0] if not finding.warning]
    if errors:
        more = (
            f" (and {len(errors) - 1} more: factory check --scenarios lists them)" if len(errors) > 1 else ""
        )
        raise ConfigError(f"--scenarios: {errors[0].where}: {errors[0].what}{more}")


def remove_workdir(workdir: Path, say: Callable[[str], None]) -> None:
    """Remove a finished run's working copies (clones, installs, server logs: hundreds of MB for a real
    app); what the run decided is under ``runs/<run_id>/`` and on the branch, not here."""
    try:
        shutil.rmtree(workdir)
    except FileNotFoundError:
        return  # no job ran far enough to make one
    except OSError as exc:
        say(f"could not remove the work directory {workdir}: {exc.strerror or exc}")


def example_stack(
    remote: Path, prefix: Path, real_model: bool, scenarios: Path | None, keep_work: bool
) -> LocalStack:
    """A demo's stack: an example's remote, the example tickets, artifacts under ``prefix``; what it
    runs with is printed first."""
    stack = LocalStack.create(
        str(remote),
        prefix,
        EXAMPLES / "tickets",
        real_model=real_model,
        scenarios=scenarios,
        keep_work=keep_work,
    )
    for line in stack.describe():
        print(line)
    return stack
