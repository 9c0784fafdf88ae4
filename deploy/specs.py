"""The desired state of each resource, as the REST API's JSON (camelCase, as Google's reference gives it).

Pure functions of the config: no I/O, so what would be deployed can be read and tested without a fake.
Only fields we mean to own appear here; the diff compares exactly these.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from deploy.config import DeployConfig, Phase
from deploy.names import Identity, Names
from deploy.phases import NIGHTLY_JOB, TRIAGE_PHASES, job_identity, job_mounted_secret, job_secrets
from deploy.roles import ACCOUNTS
from jobs.appenv import MOUNT_DIR, MOUNTED_FILE
from jobs.phases.registry import get_phase

LABELS = {"managed-by": "factory-deploy"}
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
NIGHTLY_ARGUMENT = {"job": NIGHTLY_JOB, "schedule": "nightly"}

RECEIVER_SIZE = {"cpu": "1", "memory": "512Mi"}


def _env(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def _secret_env(name: str, secret: str) -> dict[str, Any]:
    return {"name": name, "valueSource": {"secretKeyRef": {"secret": secret, "version": "latest"}}}


def service_account(identity: Identity) -> dict[str, Any]:
    return {"displayName": ACCOUNTS[identity], "description": "Managed by factory deploy."}


def job_env(config: DeployConfig, phase: Phase) -> list[dict[str, Any]]:
    """What the phase's job reads (jobs/settings.py); the workflow adds JOB, TICKET_IDENTIFIER, RUN_ID.
    The agent's budget and box only where it runs an agent; the ticket source only where it takes a
    ticket; where Sentry and Langfuse are only for the triage; its secrets as phases.py gives them."""
    spec = get_phase(phase)
    env = [
        _env("ARTIFACTS_PREFIX", config.artifacts.url),
        _env("REPO_URL", config.repo.url),
        _env("BASE_BRANCH", config.repo.base_branch),
    ]
    if spec.needs_ticket:
        env.append(_env("TICKET_SOURCE", "linear"))
    if spec.needs_agent:
        env.append(_env("MAX_DURATION_SECONDS", str(config.agent_seconds)))
        env.append(_env("CONTAINMENT", config.jobs.containment))
    if phase in TRIAGE_PHASES:
        env.append(_env("SENTRY_URL", config.triage.sentry_url))
        env.append(_env("LANGFUSE_HOST", config.triage.langfuse_host))
    return env + [_secret_env(name, secret) for name, secret in job_secrets(config, phase)]


def job(config: DeployConfig, names: Names, phase: Phase) -> dict[str, Any]:
    """A Cloud Run job: one task, never retried (a retry would put a second agent on the branch)."""
    size = config.jobs.resources.get(phase)
    spec = get_phase(phase)
    limits = size.model_dump() if size else {"cpu": spec.cpu, "memory": spec.memory}
    image = config.images.ref(spec.image)
    container: dict[str, Any] = {
        "image": image,
        "env": job_env(config, phase),
        "resources": {"limits": limits},
    }
    template: dict[str, Any] = {
        "containers": [container],
        "maxRetries": 0,
        "timeout": f"{config.jobs.task_timeout_seconds}s",
        "serviceAccount": names.email(job_identity(phase)),
    }
    app_env = job_mounted_secret(config, phase)
    if app_env:
        # A file of root's, 0400 (the job refuses one any uid can read: jobs/appenv.py); read when the
        # job starts, so a new version reaches the next run. Not an env variable: the job's environment
        # is ours, and this is the app's.
        template["volumes"] = [
            {
                "name": "app-env",
                "secret": {
                    "secret": app_env,
                    "items": [{"path": MOUNTED_FILE, "version": "latest", "mode": 0o400}],
                },
            }
        ]
        container["volumeMounts"] = [{"name": "app-env", "mountPath": MOUNT_DIR}]
        container["env"].append(_env("APP_ENV_FILE", f"{MOUNT_DIR}/{MOUNTED_FILE}"))
    return {"labels": LABELS, "template": {"taskCount": 1, "template": template}}


def lock_max_age(config: DeployConfig) -> int:
    """How old a ticket lock must be before the receiver takes it over: longer than a whole run can take
    (three phases, each waited on for its task timeout plus the workflow's 600 s margin), plus slack."""
    return 3 * (config.jobs.task_timeout_seconds + 600) + 600


def receiver(config: DeployConfig, names: Names) -> dict[str, Any]:
    """The webhook receiver service. ``cpuIdle: false`` keeps CPU allocated after the response, because
    the receiver acks Linear first and publishes to Pub/Sub from a background thread.
    ``invokerIamDisabled`` lets unauthenticated requests in without an allUsers binding (config.Receiver)."""
    env = [
        _env("FACTORY_PUBSUB_TOPIC", names.topic_path),
        _env("ARTIFACTS_PREFIX", config.artifacts.url),
        _env("FACTORY_TRIGGER_LABEL", config.linear.trigger_label),
        _env("FACTORY_LINEAR_TEAM", config.linear.team),
    ]
    if config.linear.agent_user_id:
        env.append(_env("FACTORY_AGENT_USER_ID", config.linear.agent_user_id))
    if config.linear.own_actor_ids:
        env.append(_env("FACTORY_OWN_ACTOR_IDS", ",".join(config.linear.own_actor_ids)))
    env.append(_env("FACTORY_LOCK_MAX_AGE_SECONDS", str(lock_max_age(config))))
    env.append(_secret_env("LINEAR_WEBHOOK_SECRET", config.secrets.linear_webhook_secret))
    container = {
        "image": config.images.ref("receiver"),
        "env": env,
        "resources": {"limits": RECEIVER_SIZE, "cpuIdle": False},
    }
    return {
        "labels": LABELS,
        "ingress": "INGRESS_TRAFFIC_ALL",
        # Stated either way, so that going back from invoker_iam_disabled to allUsers turns it off again.
        "invokerIamDisabled": config.receiver.public_access == "invoker_iam_disabled",
        "template": {"serviceAccount": names.email("receiver"), "containers": [container]},
    }


def workflow_env(config: DeployConfig) -> dict[str, str]:
    """The workflow's ``sys.get_env`` values (see the header of orchestration/factory.yaml)."""
    env = {
        "FACTORY_REGION": config.region,
        "FACTORY_ARTIFACT_BUCKET": config.artifacts.bucket,
        "FACTORY_JOB_TIMEOUT_SECONDS": str(config.jobs.task_timeout_seconds),
    }
    if config.artifacts.prefix:
        env["FACTORY_ARTIFACT_PREFIX"] = config.artifacts.prefix
    if config.secrets.slack_webhook_url:
        env["FACTORY_SLACK_SECRET"] = config.secrets.slack_webhook_url
    return env


def workflow(config: DeployConfig, names: Names, source: str) -> dict[str, Any]:
    # The API answers with the account in its long form; sending that form keeps the diff quiet.
    return {
        "description": "Factory: a ticket becomes a reviewed, verified pull request.",
        "labels": LABELS,
        "sourceContents": source,
        "serviceAccount": names.account_path("workflow"),
        "callLogLevel": "LOG_ERRORS_ONLY",
        "userEnvVars": workflow_env(config),
    }


def topic() -> dict[str, Any]:
    return {"labels": LABELS}


def trigger(names: Names) -> dict[str, Any]:
    return {
        "name": names.trigger_path,
        "labels": LABELS,
        "eventFilters": [{"attribute": "type", "value": PUBSUB_PUBLISHED}],
        "transport": {"pubsub": {"topic": names.topic_path}},
        "destination": {"workflow": names.workflow_path},
        "serviceAccount": names.email("eventarc"),
    }


def nightly(config: DeployConfig, names: Names) -> dict[str, Any]:
    """Cloud Scheduler → the Executions API; the body's ``argument`` is the workflow input as JSON text."""
    body = json.dumps({"argument": json.dumps(NIGHTLY_ARGUMENT, separators=(",", ":"))})
    return {
        "name": names.nightly_path,
        "description": "Factory nightly triage of chatbot issues.",
        "schedule": config.triage.schedule,
        "timeZone": config.triage.time_zone,
        "httpTarget": {
            "uri": names.executions_url,
            "httpMethod": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": base64.b64encode(body.encode()).decode(),
            "oauthToken": {"serviceAccountEmail": names.email("scheduler"), "scope": CLOUD_PLATFORM_SCOPE},
        },
    }
