"""The deploy config: one YAML file naming everything Factory needs on a GCP project.

Validated with pydantic (``extra="forbid"``, so a typo is an error rather than a silently ignored key). A bad
file fails with one line per problem, each naming the field by its dotted path (``images.tag``). Secret
*names* live here, never values: values go into Secret Manager with ``gcloud secrets versions add``.
"""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from images.engine import IMAGES
from jobs.errors import ConfigError
from jobs.phases.registry import phase_names
from jobs.yaml_load import safe_load


def _one_of(names: tuple[str, ...], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in names:
            raise ValueError(f"{value!r} is not {what} (one of: {', '.join(names)})")
        return value

    return AfterValidator(check)


# The phases and images come from the phase registry (and the image list built on it).
Phase = Annotated[str, _one_of(phase_names(), "a phase")]
ImageName = Annotated[str, _one_of(IMAGES, "an image")]

# The shipped workflow names its jobs "factory-" + phase (orchestration/factory.yaml, run_phase).
WORKFLOW_JOB_PREFIX = "factory"

ProjectId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z]+-[a-z]+[0-9]+$")]
BucketName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")]
ObjectPrefix = Annotated[str, StringConstraints(pattern=r"^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$")]
SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,255}$")]
Registry = Annotated[str, StringConstraints(pattern=r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+$")]
ImageTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
ImageRef = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+(:[\w.-]+|@sha256:[0-9a-f]{64})$")
]
# A scheme and a host, as jobs/settings.py takes SENTRY_URL and LANGFUSE_HOST.
HostUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+/?$")]
Cpu = Annotated[str, StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?m?$")]
Memory = Annotated[str, StringConstraints(pattern=r"^[0-9]+(Mi|Gi)$")]
CRON_FIELD = re.compile(r"^[0-9A-Za-z*,/-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Artifacts(_Strict):
    """Where phases write their facts: ``gs://{bucket}/{prefix}``."""

    bucket: BucketName
    prefix: ObjectPrefix = ""

    @property
    def url(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}" if self.prefix else f"gs://{self.bucket}"


class Repo(_Strict):
    """The target repository the jobs clone and push to."""

    url: Annotated[str, StringConstraints(pattern=r"^https://[^\s]+$")] = Field(
        description="an https:// URL: the jobs clone it from Cloud Run"
    )
    base_branch: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,200}$")] = "main"


class Images(_Strict):
    """Image references: ``{registry}/{repository}:{tag}``, or a full reference per image."""

    registry: Registry
    tag: ImageTag
    overrides: dict[ImageName, ImageRef] = Field(default_factory=dict)

    def ref(self, image: ImageName) -> str:
        """Where ``make images`` output is pushed: ``{registry}/factory-{image}:{tag}``, the local name
        orchestration/local/containers.py gives it (a test holds the two together)."""
        return self.overrides.get(image) or f"{self.registry}/factory-{image}:{self.tag}"


class Secrets(_Strict):
    """Secret Manager secret names (created empty when missing; values are added with gcloud)."""

    anthropic_api_key: SecretName | None = None
    claude_code_oauth_token: SecretName | None = None
    github_token: SecretName
    linear_api_key: SecretName
    linear_webhook_secret: SecretName
    slack_webhook_url: SecretName | None = None
    # The nightly triage's read access (Sentry, Langfuse, or both): only its jobs are given them.
    sentry_auth_token: SecretName | None = None
    langfuse_public_key: SecretName | None = None
    langfuse_secret_key: SecretName | None = None
    # The target app's own .env, for its dev servers and checks (mounted in the review and e2e jobs).
    app_env: SecretName | None = None

    @model_validator(mode="after")
    def _model_auth_named(self) -> Secrets:
        if not (self.anthropic_api_key or self.claude_code_oauth_token):
            raise ValueError("name anthropic_api_key or claude_code_oauth_token: the agents need model auth")
        if bool(self.langfuse_public_key) != bool(self.langfuse_secret_key):
            raise ValueError("name langfuse_public_key and langfuse_secret_key together: Langfuse needs both")
        return self

    @property
    def triage_sources(self) -> bool:
        """Whether the triage can read any source: Sentry, or Langfuse (both keys)."""
        return bool(self.sentry_auth_token or self.langfuse_public_key)


class Linear(_Strict):
    """Which Linear events start a run."""

    team: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,10}$")]
    trigger_label: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    agent_user_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")] | None = None
    own_actor_ids: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")]] = Field(
        default_factory=list, description="Linear users whose events never start a run (Factory's own)"
    )


class Triage(_Strict):
    """The nightly chatbot-issue triage: its Cloud Run jobs (triage, triage-close), where they read
    Sentry and Langfuse, and the Cloud Scheduler cron, in a time zone, that starts it.

    Off by default: the shipped workflow still answers ``solve-chatbot-issues`` with 501 "not available
    yet", so a schedule would only fail every night. ``enabled: true`` creates the jobs, their service
    account and the schedule; it needs the secrets of at least one source (``secrets.sentry_auth_token``,
    or ``secrets.langfuse_public_key`` with ``langfuse_secret_key``)."""

    enabled: bool = False
    schedule: str = "0 3 * * *"
    time_zone: str = "Etc/UTC"
    # The triage jobs' SENTRY_URL and LANGFUSE_HOST (jobs/settings.py): the SaaS by default.
    sentry_url: HostUrl = "https://sentry.io"
    langfuse_host: HostUrl = "https://cloud.langfuse.com"

    @model_validator(mode="after")
    def _valid(self) -> Triage:
        fields = self.schedule.split()
        if len(fields) != 5 or not all(CRON_FIELD.match(f) for f in fields):
            raise ValueError(f"schedule {self.schedule!r} is not a five-field cron expression")
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone {self.time_zone!r} is not a tz database name") from None
        return self


PublicAccess = Literal["allUsers", "invoker_iam_disabled"]


class Receiver(_Strict):
    """How Linear's unauthenticated webhook POSTs get past Cloud Run's invoker check.

    ``allUsers`` binds roles/run.invoker to allUsers on the service. ``invoker_iam_disabled`` sets the
    service's ``invokerIamDisabled`` instead, for organisations whose domain-restricted-sharing policy
    refuses an allUsers binding. Either way the Linear-Signature HMAC is the authentication."""

    public_access: PublicAccess = "allUsers"


class Size(_Strict):
    cpu: Cpu
    memory: Memory


class Jobs(_Strict):
    """The phase jobs' limits. The agent budget is the task timeout less a margin to push and report."""

    task_timeout_seconds: int = Field(default=7200, ge=900, le=86_400)
    report_margin_seconds: int = Field(default=600, ge=60, le=3600)
    resources: dict[Phase, Size] = Field(default_factory=dict)
    # The box for the agent and the target's commands (jobs/sandbox): a job that cannot make one fails
    # at start, naming why, unless this says "auto" (then it runs open and its security record says so).
    containment: Literal["require", "auto"] = "require"


class DeployConfig(_Strict):
    """Everything ``factory deploy`` needs; see deploy/factory.example.yaml."""

    project: ProjectId
    region: Region
    names_prefix: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,19}$")] = "factory"
    artifacts: Artifacts
    repo: Repo
    images: Images
    secrets: Secrets
    linear: Linear
    triage: Triage = Field(default_factory=Triage)
    receiver: Receiver = Field(default_factory=Receiver)
    jobs: Jobs = Field(default_factory=Jobs)

    @model_validator(mode="after")
    def _prefix_matches_workflow(self) -> DeployConfig:
        if self.names_prefix != WORKFLOW_JOB_PREFIX:
            raise ValueError(
                f"names_prefix {self.names_prefix!r}: only {WORKFLOW_JOB_PREFIX!r} is supported, because "
                "orchestration/factory.yaml runs jobs named factory-<phase>"
            )
        return self

    @model_validator(mode="after")
    def _triage_can_read(self) -> DeployConfig:
        if self.triage.enabled and not self.secrets.triage_sources:
            raise ValueError(
                "triage.enabled needs secrets.sentry_auth_token, or secrets.langfuse_public_key and "
                "langfuse_secret_key: the triage reads Sentry, Langfuse or both"
            )
        return self

    @property
    def agent_seconds(self) -> int:
        return self.jobs.task_timeout_seconds - self.jobs.report_margin_seconds


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(error: Any) -> str:
    where = _where(tuple(error["loc"]))
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "string_pattern_mismatch":
        message = f"invalid value {error['input']!r}"
    return f"{where}: {message}"


def parse_config(data: Any, source: str = "deploy config") -> DeployConfig:
    """Validate already-loaded YAML; ConfigError naming every bad field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level")
    try:
        return DeployConfig.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(f"  {_describe(e)}" for e in exc.errors())
        raise ConfigError(f"{source}: invalid deploy config:\n{problems}") from None


def load_config(path: Path) -> DeployConfig:
    """Read and validate a deploy config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read deploy config {path}: {exc.strerror or exc}") from None
    try:
        data = safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(data, str(path))
