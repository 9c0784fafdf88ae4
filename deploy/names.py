"""Every resource name ``factory deploy`` manages, derived from the config in one place.

Names are deterministic (no server-assigned ids), so the plan can name each resource before it exists and
the IAM bindings can name service accounts that a later step of the same apply creates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from deploy.config import DeployConfig, Phase

Identity = Literal["jobs", "triage", "workflow", "receiver", "eventarc", "scheduler"]
IDENTITIES: tuple[Identity, ...] = ("jobs", "triage", "workflow", "receiver", "eventarc", "scheduler")


@dataclass(frozen=True)
class Names:
    """Resource ids and full resource names for one project, region and prefix."""

    project: str
    region: str
    prefix: str

    @classmethod
    def of(cls, config: DeployConfig) -> Names:
        return cls(config.project, config.region, config.names_prefix)

    @property
    def location(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    # --- Service accounts (account ids are 6-30 characters: the prefix is capped at 20) ---
    def account_id(self, identity: Identity) -> str:
        return f"{self.prefix}-{identity}"

    def email(self, identity: Identity) -> str:
        return f"{self.account_id(identity)}@{self.project}.iam.gserviceaccount.com"

    def member(self, identity: Identity) -> str:
        return f"serviceAccount:{self.email(identity)}"

    def account_path(self, identity: Identity) -> str:
        return f"projects/{self.project}/serviceAccounts/{self.email(identity)}"

    # --- Cloud Run ---
    def job(self, phase: Phase) -> str:
        return f"{self.prefix}-{phase}"

    def job_path(self, phase: Phase) -> str:
        return f"{self.location}/jobs/{self.job(phase)}"

    @property
    def receiver(self) -> str:
        return f"{self.prefix}-receiver"

    @property
    def receiver_path(self) -> str:
        return f"{self.location}/services/{self.receiver}"

    # --- The workflow and its triggers ---
    @property
    def workflow(self) -> str:
        return self.prefix

    @property
    def workflow_path(self) -> str:
        return f"{self.location}/workflows/{self.workflow}"

    @property
    def executions_url(self) -> str:
        return f"https://workflowexecutions.googleapis.com/v1/{self.workflow_path}/executions"

    @property
    def topic(self) -> str:
        return f"{self.prefix}-linear-events"

    @property
    def topic_path(self) -> str:
        return f"projects/{self.project}/topics/{self.topic}"

    @property
    def trigger(self) -> str:
        return f"{self.prefix}-linear"

    @property
    def trigger_path(self) -> str:
        return f"{self.location}/triggers/{self.trigger}"

    @property
    def nightly(self) -> str:
        return f"{self.prefix}-nightly-triage"

    @property
    def nightly_path(self) -> str:
        return f"{self.location}/jobs/{self.nightly}"

    def secret_path(self, secret: str) -> str:
        return f"projects/{self.project}/secrets/{secret}"
