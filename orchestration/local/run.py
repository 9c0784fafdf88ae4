"""Run ``orchestration/factory.yaml`` on the local engine: the same file Cloud Workflows runs.

The workflow's deploy-time variables point at local stand-ins (``connectors``): jobs run as
subprocesses, the artifact prefix is a directory, Slack is the log unless a webhook URL is given.
Progress is one line per phase step as it starts and ends; the engine's own time per step is kept.
``sys.sleep`` (the workflow's waits before a Slack retry) sleeps for real unless ``sleep`` says otherwise.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobs.artifacts import ArtifactStore
from jobs.phases.registry import phase_names
from orchestration import FACTORY_YAML
from orchestration.engine.errors import WorkflowError
from orchestration.engine.executor import Executor
from orchestration.engine.flow import StepEvent
from orchestration.engine.loader import load_workflow
from orchestration.engine.stdlib import make_functions
from orchestration.local.connectors import JobRunner, LocalCloud

SLACK_SECRET = "factory-slack-webhook"  # noqa: S105 - the secret's name; its value is SLACK_WEBHOOK_URL
PHASE_STEPS = frozenset(phase_names())  # factory.yaml names each phase's step after it


@dataclass
class LocalRun:
    """One execution of the workflow on this machine, and what it left behind."""

    execution_id: str
    result: Any = None
    error: WorkflowError | None = None
    overhead: dict[str, float] = field(default_factory=dict)  # engine seconds per step, summed
    seconds: float = 0.0
    notifications: list[str] = field(default_factory=list)


def workflow_env(execution_id: str, job_timeout: int, slack: bool) -> dict[str, str]:
    """What ``sys.get_env`` answers: Google's built-ins and Factory's deploy-time variables."""
    return {
        "GOOGLE_CLOUD_PROJECT_ID": "local",
        "GOOGLE_CLOUD_LOCATION": "local",
        "GOOGLE_CLOUD_WORKFLOW_ID": "factory",
        "GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID": execution_id,
        "FACTORY_REGION": "local",
        "FACTORY_ARTIFACT_BUCKET": "local",
        "FACTORY_ARTIFACT_PREFIX": "",
        "FACTORY_JOB_TIMEOUT_SECONDS": str(job_timeout),
        "FACTORY_SLACK_SECRET": SLACK_SECRET if slack else "",
    }


def run_workflow(
    argument: Any,
    execution_id: str,
    job_env: Mapping[str, str],
    store: ArtifactStore,
    *,
    slack_webhook: str | None = None,
    job_timeout: int = 7200,
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    runner: JobRunner | None = None,
    sleep: Callable[[float], None] = time.sleep,
    phase_env: Mapping[str, Mapping[str, str]] | None = None,
) -> LocalRun:
    """Execute the workflow with ``argument`` (any of its three input shapes) until it ends.

    Jobs run as subprocesses unless ``runner`` says otherwise (``--docker``: in their images).
    """
    run = LocalRun(execution_id)
    secrets = {SLACK_SECRET: slack_webhook} if slack_webhook else {}
    cloud = LocalCloud(job_env, store, secrets, runner=runner, phase_env=phase_env)
    functions = make_functions(workflow_env(execution_id, job_timeout, bool(slack_webhook)), time.time)
    workflow = load_workflow(
        FACTORY_YAML.read_text(encoding="utf-8"), "orchestration/factory.yaml", connectors=cloud.connectors()
    )

    def on_step(name: str, event: StepEvent) -> None:
        if event.kind == "finish":
            run.overhead[name] = round(run.overhead.get(name, 0.0) + event.overhead, 6)
        if name in PHASE_STEPS and event.workflow == "solve_ticket":
            if event.kind == "start":
                say(f"== workflow: {name} ...")
            else:
                ending = f"failed: {event.error.message}" if event.error else "done"
                say(f"== workflow: {name} {ending} ({event.elapsed:.1f}s)")

    def log_sink(severity: str, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        run.notifications.append(text)
        say(f"[{severity.lower()}] {text}")

    executor = Executor(
        workflow, cloud.connectors(), functions, sleep=sleep, log_sink=log_sink, on_step=on_step
    )
    started = time.monotonic()
    try:
        run.result = executor.run(argument)
    except WorkflowError as exc:
        run.error = exc
    run.seconds = round(time.monotonic() - started, 3)
    return run
