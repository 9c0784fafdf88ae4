"""The resources ``factory deploy`` manages, in the order they must exist."""

from __future__ import annotations

from deploy.config import DeployConfig
from deploy.names import Names
from deploy.phases import deployed_phases
from deploy.resources.accounts import ServiceAccount
from deploy.resources.base import Resource
from deploy.resources.events import NightlyJob, Topic, Trigger
from deploy.resources.iam import IamPolicy, policies
from deploy.resources.run import CloudRunJob, ReceiverService
from deploy.resources.secrets import Secret
from deploy.resources.storage import Bucket
from deploy.resources.workflow import Workflow
from deploy.roles import identities
from deploy.target import Clients

__all__ = ["IamPolicy", "Resource", "stack"]


def _secrets(clients: Clients, config: DeployConfig, names: Names) -> dict[str, Secret]:
    s = config.secrets
    wanted = [
        (s.anthropic_api_key, "the agents' Anthropic API key"),
        (s.claude_code_oauth_token, "the agents' Claude Code OAuth token"),
        (s.github_token, "pushes branches and opens pull requests"),
        (s.linear_api_key, "reads tickets and comments on them"),
        (s.linear_webhook_secret, "the Linear webhook's signing secret"),
        (s.slack_webhook_url, "the Slack incoming-webhook URL"),
        (s.app_env, "the target app's .env, for its dev servers and checks"),
    ]
    if config.triage.enabled:  # only the triage jobs read them
        wanted += [
            (s.sentry_auth_token, "the triage reads Sentry issues and notes PRs on them"),
            (s.langfuse_public_key, "the triage reads Langfuse traces (public key)"),
            (s.langfuse_secret_key, "the triage reads Langfuse traces (secret key)"),
        ]
    return {name: Secret(clients, names, name, why) for name, why in wanted if name}


def stack(clients: Clients, config: DeployConfig, workflow_source: str) -> list[Resource]:
    """The order things must exist in: identities, secrets, topic and bucket; the grants on them (Cloud
    Run checks a revision's secret access when it deploys); the jobs, receiver and workflow, each
    waiting for its secrets to hold values; the grants on those; then what starts runs. The triage's
    jobs, account, secrets and nightly schedule only while ``triage.enabled``."""
    names = Names.of(config)
    secrets = _secrets(clients, config, names)
    jobs = [CloudRunJob(clients, config, names, phase) for phase in deployed_phases(config)]
    receiver = ReceiverService(clients, config, names)
    runnables: list[CloudRunJob | ReceiverService] = [*jobs, receiver]
    for runnable in runnables:
        runnable.needs_values = [secrets[name] for name in runnable.secret_names()]
    bucket, topic = Bucket(clients, config), Topic(clients, names)
    owners: dict[tuple[str, str], Resource] = {
        ("bucket", config.artifacts.bucket): bucket,
        ("topic", topic.name): topic,
    }
    owners |= {("secret", name): secret for name, secret in secrets.items()}
    owners |= {("job", job.name): job for job in jobs} | {("service", receiver.name): receiver}
    grants_first, grants_after = policies(clients, config, names, owners)

    out: list[Resource] = [bucket]
    out += [ServiceAccount(clients, names, identity) for identity in identities(config)]
    out += secrets.values()
    out.append(topic)
    out += grants_first
    out += [*runnables, Workflow(clients, config, names, workflow_source)]
    out += grants_after
    out.append(Trigger(clients, names))
    if config.triage.enabled:
        out.append(NightlyJob(clients, config, names))
    return out
