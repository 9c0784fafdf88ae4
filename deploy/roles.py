"""Who may do what: one service account per role, and each grant with the reason it exists.

Least privilege: a grant sits on the one resource it is about (a secret, the topic, the bucket, a job, the
receiver) wherever that resource type has its own IAM policy. The rest must be project-wide because their
resources have none: ``workflows.invoker`` (the Workflows v1 API has no per-workflow IAM),
``eventarc.eventReceiver``, ``logging.logWriter``, and ``run.viewer``, which the workflow holds for one
permission: ``run.operations.get``. The Workflows connector for ``jobs.run`` polls the long-running
operation the call returns (``projects/*/locations/*/operations/*``), operations have no IAM policy of their
own, and ``roles/run.jobsExecutorWithOverrides`` (granted per job) does not include it. Of the predefined
roles that do, ``run.viewer`` is the narrowest; a custom role holding only ``run.operations.get`` would be
tighter still, at the cost of one more thing to create and keep.

The triage jobs run as their own account (phases.py), because a grant on a secret names an account, not
a job: only theirs may read the Sentry and Langfuse secrets, and it may not read the model credentials.

Not granted, on purpose: the jobs and the receiver log JSON to stderr, which Cloud Run ships to Cloud
Logging without the identity holding ``logging.logWriter``; nobody gets an admin or editor role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from deploy.config import DeployConfig
from deploy.names import IDENTITIES, Identity, Names
from deploy.phases import deployed_phases, job_identity, job_mounted_secret, job_secrets

ON_WHAT = Literal["project", "bucket", "secret", "topic", "job", "service"]
ALL_USERS = "allUsers"
JOB_RUNNER = "roles/run.jobsExecutorWithOverrides"
OPERATIONS_READER = "roles/run.viewer"

ACCOUNTS: dict[Identity, str] = {
    "jobs": "Factory phase jobs (implement, review, e2e-verify, onboard)",
    "triage": "Factory nightly triage jobs (triage, close the night)",
    "workflow": "Factory workflow (runs the phase jobs, reads results, posts to Slack)",
    "receiver": "Factory Linear webhook receiver",
    "eventarc": "Factory Eventarc trigger (Pub/Sub to the workflow)",
    "scheduler": "Factory nightly triage schedule",
}


TRIAGE_ONLY: tuple[Identity, ...] = ("triage", "scheduler")


def identities(config: DeployConfig) -> tuple[Identity, ...]:
    """The service accounts ``config`` needs: the triage jobs' and the scheduler's only while the nightly
    triage is enabled."""
    return tuple(i for i in IDENTITIES if i not in TRIAGE_ONLY or config.triage.enabled)


@dataclass(frozen=True)
class Grant:
    """``member`` holds ``role`` on the resource ``on``/``target`` because ``why``."""

    on: ON_WHAT
    target: str
    role: str
    member: str
    why: str


def grants(config: DeployConfig, names: Names) -> list[Grant]:
    """Every binding the deployment needs, in a stable order."""
    out: list[Grant] = []
    project, bucket = config.project, config.artifacts.bucket

    def add(on: ON_WHAT, target: str, role: str, who: Identity, why: str) -> None:
        out.append(Grant(on, target, role, names.member(who), why))

    add("project", project, "roles/logging.logWriter", "workflow", "sys.log and call logging write entries")
    add(
        "project",
        project,
        OPERATIONS_READER,
        "workflow",
        "run.operations.get: the jobs.run connector polls its operation (operations have no IAM of their "
        "own; the narrowest predefined role holding it; a custom role would be tighter)",
    )
    add("project", project, "roles/workflows.invoker", "eventarc", "start an execution per Linear event")
    add("project", project, "roles/eventarc.eventReceiver", "eventarc", "receive the topic's events")
    if config.triage.enabled:
        add("project", project, "roles/workflows.invoker", "scheduler", "start the nightly triage execution")

    add("bucket", bucket, "roles/storage.objectUser", "jobs", "read and write the run's artifacts")
    if config.triage.enabled:
        add("bucket", bucket, "roles/storage.objectUser", "triage", "claim the night, write its findings")
    add("bucket", bucket, "roles/storage.objectUser", "receiver", "delivery records and ticket locks")
    add(
        "bucket",
        bucket,
        "roles/storage.objectUser",
        "workflow",
        "read result.json files, release ticket locks",
    )

    # Each job's account may read exactly the secrets its jobs are given (phases.py), one policy per secret.
    readers: dict[str, list[Identity]] = {}
    for phase in deployed_phases(config):
        account = job_identity(phase)
        mounted = job_mounted_secret(config, phase)
        for secret in [s for _, s in job_secrets(config, phase)] + ([mounted] if mounted else []):
            held = readers.setdefault(secret, [])
            if account not in held:
                held.append(account)
    for secret, accounts in readers.items():
        for account in accounts:
            why = "the triage jobs read it" if account == "triage" else "the jobs read it"
            add("secret", secret, "roles/secretmanager.secretAccessor", account, why)
    s = config.secrets
    add("secret", s.linear_webhook_secret, "roles/secretmanager.secretAccessor", "receiver", "verify HMACs")
    if s.slack_webhook_url:
        add("secret", s.slack_webhook_url, "roles/secretmanager.secretAccessor", "workflow", "post to Slack")

    add("topic", names.topic, "roles/pubsub.publisher", "receiver", "publish ids-only start messages")
    for phase in deployed_phases(config):
        add("job", names.job(phase), JOB_RUNNER, "workflow", "run the job with per-run env overrides")
    if config.receiver.public_access == "allUsers":
        out.append(
            Grant(
                "service",
                names.receiver,
                "roles/run.invoker",
                ALL_USERS,
                "Linear cannot authenticate; the HMAC does",
            )
        )
    return out
