"""Which phases a config deploys as Cloud Run jobs, and what each job is given.

The phase registry's ``JOBS`` say which phases each workflow job runs. The phases of
``solve-linear-ticket`` and ``onboard-client`` (onboard, then the same review and e2e) are always
deployed; ``solve-chatbot-issues`` adds its own (triage, triage-close) only with ``triage.enabled``.
Those are the triage phases: the only jobs that read Sentry and Langfuse, and they run no agent, so
they never hold model credentials. They run as their own service account, because IAM grants a secret
to an account, not to a job: sharing one with the agent phases would let those read the Sentry and
Langfuse tokens too. The onboard phase is an agent phase like implement: it runs as the jobs' account.

A job's secrets follow its phase: model auth where it runs an agent, Linear where it takes a Linear
ticket (not the onboard phase: it writes its own ticket in the artifacts), GitHub everywhere (the
triage comments on an open PR of a duplicate finding), Sentry and Langfuse for the triage. The grants
on the secrets (roles.py) are made from this same list, so an account can read exactly what its jobs
are given.
"""

from __future__ import annotations

from deploy.config import DeployConfig, Phase
from deploy.names import Identity
from images.engine import SERVICE_IMAGES
from jobs.appenv import PHASES as APP_ENV_PHASES
from jobs.phases.registry import JOBS, PHASES, get_phase

LINEAR_JOB = "solve-linear-ticket"
NIGHTLY_JOB = "solve-chatbot-issues"
ONBOARD_JOB = "onboard-client"
# The phases only the nightly job runs: the triage's own (its findings then go through the others).
TRIAGE_PHASES: tuple[str, ...] = tuple(
    p for p in JOBS[NIGHTLY_JOB] if p not in (*JOBS[LINEAR_JOB], *JOBS[ONBOARD_JOB])
)


def workflow_jobs(config: DeployConfig) -> tuple[str, ...]:
    """The workflow jobs ``config`` deploys the phases of."""
    return (LINEAR_JOB, ONBOARD_JOB, NIGHTLY_JOB) if config.triage.enabled else (LINEAR_JOB, ONBOARD_JOB)


def deployed_phases(config: DeployConfig) -> tuple[Phase, ...]:
    """The phases that get a Cloud Run job, in the registry's order."""
    wanted = {phase for job in workflow_jobs(config) for phase in JOBS[job]}
    return tuple(phase.name for phase in PHASES if phase.name in wanted)


def deployed_images(config: DeployConfig) -> tuple[str, ...]:
    """The images the deployed jobs and the receiver run (two phases can share one)."""
    phases = (get_phase(name).image for name in deployed_phases(config))
    return (*dict.fromkeys(phases), *SERVICE_IMAGES)


def job_identity(phase: Phase) -> Identity:
    """The service account a phase's job runs as."""
    return "triage" if phase in TRIAGE_PHASES else "jobs"


def job_secrets(config: DeployConfig, phase: Phase) -> list[tuple[str, str]]:
    """``(environment variable, secret name)`` for each secret the phase's job reads."""
    spec, s = get_phase(phase), config.secrets
    wanted: list[tuple[str, str | None]] = []
    if spec.needs_agent:
        wanted += [
            ("ANTHROPIC_API_KEY", s.anthropic_api_key),
            ("CLAUDE_CODE_OAUTH_TOKEN", s.claude_code_oauth_token),
        ]
    wanted.append(("GITHUB_TOKEN", s.github_token))
    if spec.needs_ticket:
        wanted.append(("LINEAR_API_KEY", s.linear_api_key))
    if phase in TRIAGE_PHASES:
        wanted += [
            ("SENTRY_AUTH_TOKEN", s.sentry_auth_token),
            ("LANGFUSE_PUBLIC_KEY", s.langfuse_public_key),
            ("LANGFUSE_SECRET_KEY", s.langfuse_secret_key),
        ]
    return [(env, secret) for env, secret in wanted if secret]


def job_mounted_secret(config: DeployConfig, phase: Phase) -> str | None:
    """The secret mounted as a file in the phase's job: the app's .env, for the phases that run the app."""
    return config.secrets.app_env if phase in APP_ENV_PHASES else None
