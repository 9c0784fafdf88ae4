"""The target repository's ``.factory.yaml``: how to install, test and lint, and its budgets and models.

Absent file or keys mean defaults. The file comes from the target repo, so it is parsed with
``yaml.safe_load``, size-capped, and validated strictly: an unknown key is an error naming it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from jobs.errors import ConfigError
from jobs.onboard.config import OnboardingConfig
from jobs.phases.e2e.database import check_seed_entry
from jobs.phases.e2e.servers import ServerSpec
from jobs.sandbox.egress import DEFAULT_HOSTS, check_host
from jobs.triage.config import TriageConfig
from jobs.yaml_load import untrusted_load

if TYPE_CHECKING:
    from jobs.workspace import Workspace

CONFIG_FILE = ".factory.yaml"
MAX_CONFIG_BYTES = 64 * 1024


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_turns: int | None = Field(default=None, gt=0)
    max_duration_seconds: int | None = Field(default=None, gt=0)
    max_cost_usd: float | None = Field(default=None, gt=0)


# A model alias or full name; never something the CLI could read as a flag.
ModelName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9.\-]{1,63}(\[1m\])?$")]


class Models(BaseModel):
    model_config = ConfigDict(extra="forbid")
    implement: ModelName = "sonnet"
    review: ModelName = "opus"
    fix: ModelName = "sonnet"
    e2e: ModelName = "sonnet"


class Page(BaseModel):
    """A page the E2E agent may open: one of the target's own dev servers."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$")]
    url: Annotated[str, StringConstraints(pattern=r"^http://(127\.0\.0\.1|localhost):\d{2,5}(/[^\s#]*)?$")]
    description: str = Field(default="", max_length=300)


def _seed_entry(entry: str) -> str:
    try:
        return check_seed_entry(entry)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


# One of Factory's scenarios (``base``) or a .sql file of the repository (``e2e/seeds/users.sql``).
SeedEntry = Annotated[str, AfterValidator(_seed_entry)]


class E2EConfig(BaseModel):
    """How to run the app for a browser check: its database (setup, then seeds), its servers, its pages.

    ``setup`` runs in the checkout after install, against the fresh database (``DATABASE_URL``);
    ``seeds`` load after it, in the order listed. A database is started when either is set.
    """

    model_config = ConfigDict(extra="forbid")
    setup: list[Annotated[str, StringConstraints(min_length=1)]] = Field(default_factory=list)
    setup_timeout_seconds: int = Field(default=600, gt=0)
    seeds: list[SeedEntry] = Field(default_factory=list)
    servers: list[ServerSpec] = Field(default_factory=list)
    pages: list[Page] = Field(default_factory=list)

    @model_validator(mode="after")
    def _database_url_is_the_database(self) -> Self:
        # A server's URL placeholder is {<name>_url}: one named "database" would shadow {database_url}.
        if any(spec.name == "database" for spec in self.servers):
            raise ValueError("no server may be named 'database': {database_url} names the database")
        return self

    @property
    def needs_database(self) -> bool:
        return bool(self.setup or self.seeds)


ToolName = Literal["linear", "sentry", "langfuse", "database"]


class Tools(BaseModel):
    """Which of our MCP tools each agent gets (``jobs/mcp``); unset means the default for the run.

    Defaults: a ticket's implementer and fixer get ``linear`` (its ticket, its comments, a comment
    added); a finding's get ``sentry`` and ``langfuse`` as the triage configures them; the e2e agent
    gets ``database`` (read-only SQL on the seeded database) when there is one; the reviewer none.
    """

    model_config = ConfigDict(extra="forbid")
    implement: list[ToolName] | None = None
    fix: list[ToolName] | None = None
    review: list[ToolName] = Field(default_factory=list)
    e2e: list[ToolName] | None = None


class TargetConfig(BaseModel):
    """What a target repository tells Factory about itself."""

    model_config = ConfigDict(extra="forbid")
    install: list[str] = Field(default_factory=list)
    install_timeout_seconds: int = Field(default=900, gt=0)
    # Hosts install may reach over HTTPS besides the usual registries (jobs/sandbox/egress.py): a
    # private index, say. Nothing else the target runs has any network.
    install_hosts: list[str] = Field(default_factory=list)
    test: str | None = None
    lint: str | None = None
    typecheck: str | None = None
    check_timeout_seconds: int = Field(default=900, gt=0)
    budgets: Budgets = Field(default_factory=Budgets)
    models: Models = Field(default_factory=Models)
    e2e: E2EConfig = Field(default_factory=E2EConfig)
    # The nightly triage of the target's chatbot failures (job solve-chatbot-issues); absent: none.
    triage: TriageConfig | None = None
    # How a client of the target is onboarded and tuned (job onboard-client); absent: it cannot be.
    onboarding: OnboardingConfig | None = None
    tools: Tools = Field(default_factory=Tools)

    @field_validator("install_hosts")
    @classmethod
    def _host_names(cls, hosts: list[str]) -> list[str]:
        return [check_host(host) for host in hosts]

    def reachable_on_install(self) -> list[str]:
        return [*DEFAULT_HOSTS, *self.install_hosts]


def base_target_config(workspace: Workspace) -> TargetConfig:
    """The config as the base branch holds it, read before any target code runs.

    A branch's change to ``.factory.yaml`` is the agent's work: it takes effect once merged, never in
    the run that wrote it, so the test command behind the review's evidence, the budgets and the
    models stay out of the author's hands.
    """
    return parse_target_config(workspace.base_file(CONFIG_FILE))


def parse_target_config(text: str | None) -> TargetConfig:
    """Validate the file's text; None (no file) means defaults."""
    if text is None:
        return TargetConfig()
    if len(text.encode()) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{CONFIG_FILE} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = untrusted_load(text) or {}
        return TargetConfig.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{CONFIG_FILE} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        message = first["msg"].removeprefix("Value error, ")  # our validators' messages stand alone
        raise ConfigError(f"{CONFIG_FILE}: {where}: {message}") from None
