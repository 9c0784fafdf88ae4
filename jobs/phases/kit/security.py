"""The per-run security record: what one phase held, what its agents were refused, what it flagged.

A ``SecurityLog`` rides on the services of a phase; the agent step, the phase and its publishers append
to it, and ``write_result`` writes it as ``runs/<run_id>/<phase>/security.json`` beside the result.
Secrets appear by name only. Everything else that came from the model or the repository (a denied
command, a flagged path) is redacted and cut to one short line before it is kept.

``containment`` says what fenced the agent and the target's commands (``jobs.sandbox``): their own uid
and network, and how many packets the kernel refused them, or, with the box open, why it was open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from jobs.agent.model_proxy import ProxyTally
from jobs.agent.models import AgentOutcome, PermissionDenial
from jobs.artifacts import ArtifactStore, read_model
from jobs.errors import ArtifactNotFound, StepFailed, UnsafePath
from jobs.models import Record, run_key, utc_now
from jobs.phases.kit.text import one_line
from jobs.redact import Redactor
from jobs.sandbox import Box
from jobs.settings import JobSettings

MODEL_KEY_WHERE: Final = "harness model proxy"
NOT_FENCED = "not fenced: the box was open, so the agent and the target's commands had our uid and network"
FENCED = (
    "fenced by the kernel: the agent and the target's commands ran as the box's own uid, which cannot "
    "enter our directories or touch our processes, in a network of their own with no route out"
)
BOX_NETWORK = "own namespace: loopback only (the model proxy, our tools, the app's servers)"
# How ``Workspace.commit_all`` ends the message of each refusal (a secret, an implausible size).
COMMIT_REFUSED = "nothing was committed or pushed"
MAX_INPUT_CHARS = 200
MAX_REASON_CHARS = 400


class ModelKey(BaseModel):
    """Which model credential the phase held, where it stayed, and the requests made through it."""

    model_config = ConfigDict(extra="forbid")
    name: str | None
    where: Literal["harness model proxy"] = MODEL_KEY_WHERE
    agent_runs: int = 0
    requests: int = 0


class RefusedTool(BaseModel):
    """One tool use the agent's permission rules refused; ``input`` is redacted and cut short."""

    model_config = ConfigDict(extra="forbid")
    tool: str
    input: str
    transcript: str | None = None


class Refused(BaseModel):
    """What the phase's agents were refused."""

    model_config = ConfigDict(extra="forbid")
    tools: list[RefusedTool] = Field(default_factory=list)
    model_requests_over_budget: int = 0
    model_requests_unauthorized: int = 0
    hosts_and_paths: str = NOT_FENCED


class ContainmentRecord(BaseModel):
    """What fenced the phase's untrusted side; ``unroutable_packets`` is the kernel's own count."""

    model_config = ConfigDict(extra="forbid")
    contained: bool
    uid: int | None = None
    app_uid: int | None = None  # the app's servers and checks, with its configuration (jobs/sandbox/app.py)
    network: str = "the machine's"
    unroutable_packets: int = 0
    # Through the install step's proxy (jobs/sandbox/egress.py): connections by host.
    hosts_reached: dict[str, int] = Field(default_factory=dict)
    hosts_refused: dict[str, int] = Field(default_factory=dict)
    why_open: str = ""


class Flagged(BaseModel):
    """What the phase flagged for a human or refused to publish."""

    model_config = ConfigDict(extra="forbid")
    needs_human: list[str] = Field(default_factory=list)
    unsafe_paths: list[str] = Field(default_factory=list)
    commits: list[str] = Field(default_factory=list)


class SecurityRecord(Record):
    """``<phase>/security.json``: one phase of one run, as far as security goes."""

    run_id: str
    phase: str
    secrets_held: list[str]
    model_key: ModelKey
    refused: Refused
    flagged: Flagged
    containment: ContainmentRecord | None = None  # None in records written before the box
    written_at: datetime = Field(default_factory=utc_now)


def held_secrets(settings: JobSettings) -> list[str]:
    """The names (environment variables) of the secrets set, never their values; ``APP_ENV_FILE`` when
    the phase holds the app's configuration."""
    held = [
        name.upper()
        for name in type(settings).model_fields
        if isinstance(value := getattr(settings, name), SecretStr) and value.get_secret_value()
    ]
    return held + (["APP_ENV_FILE"] if settings.app_env_file else [])


def model_key_name(held: Iterable[str]) -> str | None:
    """The model credential the proxy uses: an API key wins over an OAuth token, as in ``upstream_of``."""
    return next((name for name in ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN") if name in held), None)


class SecurityLog:
    """What one phase held, was refused and flagged, appended as the phase goes."""

    def __init__(self, held: Iterable[str] = (), redact: Callable[[str], str] | None = None) -> None:
        self.held = list(held)
        self.redact = redact or Redactor()
        self.model_key = ModelKey(name=model_key_name(self.held))
        self.refused = Refused()
        self.flagged = Flagged()

    def agent_ran(
        self, outcome: AgentOutcome, denials: list[PermissionDenial], model: ProxyTally | None, url: str
    ) -> None:
        """One agent run (its transcript at ``url``): denied tool uses, what the model proxy counted and
        refused (``model``: None when the runner kept no tally of this run)."""
        # The outcome's count is the runner's; a denial the stream's lines no longer show still counts.
        unread = max(outcome.permission_denials - len(denials), 0)
        listed = [*denials, *[PermissionDenial(tool_name="(not in the transcript)")] * unread]
        self.refused.tools += [
            RefusedTool(tool=self._line(d.tool_name, 80), input=self._line(d.tool_input), transcript=url)
            for d in listed
        ]
        self.model_key.agent_runs += 1
        if model is not None:
            self.model_key.requests += model.requests
            self.refused.model_requests_over_budget += model.refused
            self.refused.model_requests_unauthorized += model.unauthorized

    def flag(self, *reasons: str) -> None:
        """Reasons the phase asks a human to look (the review's ``needs_human``)."""
        self.flagged.needs_human += [self._line(r, MAX_REASON_CHARS) for r in reasons]

    def unsafe_path(self, reason: str) -> None:
        """A path Factory refused to read or write through (a planted link)."""
        self.flagged.unsafe_paths.append(self._line(reason, MAX_REASON_CHARS))

    def note_failure(self, exc: BaseException) -> None:
        """Keep the phase's ending error when it was a refusal: a commit (a secret, its size), a path."""
        if isinstance(exc, UnsafePath):
            self.unsafe_path(str(exc))
        elif isinstance(exc, StepFailed) and COMMIT_REFUSED in str(exc):
            # The message names a file, never the secret; redacted all the same.
            self.flagged.commits.append(self._line(str(exc), MAX_REASON_CHARS))

    def record(self, run_id: str, phase: str, box: Box) -> SecurityRecord:
        """The record as it stands; ``box`` is the phase's own (what fenced it is part of the record)."""
        containment = ContainmentRecord(
            contained=box.contained,
            uid=box.uid,
            app_uid=box.app_uid,
            network=BOX_NETWORK if box.contained else "the machine's",
            unroutable_packets=box.unroutable(),
            hosts_reached=dict(box.egress.allowed),
            hosts_refused={self._line(host, 120): n for host, n in box.egress.refused.items()},
            why_open=box.why_open if not box.contained else "",
        )
        refused = self.refused.model_copy(deep=True)
        refused.hosts_and_paths = FENCED if box.contained else NOT_FENCED
        return SecurityRecord(
            run_id=run_id,
            phase=phase,
            secrets_held=self.held,
            model_key=self.model_key.model_copy(),
            refused=refused,
            flagged=self.flagged.model_copy(deep=True),
            containment=containment,
        )

    def _line(self, text: str, limit: int = MAX_INPUT_CHARS) -> str:
        return one_line(text, self.redact, limit)


def security_key(run_id: str, phase: str) -> str:
    return run_key(run_id, phase, "security.json")


def read_security(store: ArtifactStore, run_id: str, phase: str) -> SecurityRecord | None:
    """A phase's record of this run, or None when that phase has not written one (yet)."""
    try:
        return read_model(store, security_key(run_id, phase), SecurityRecord)
    except ArtifactNotFound:
        return None
