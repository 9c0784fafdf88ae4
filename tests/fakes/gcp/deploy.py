"""Driving `factory deploy` in tests: a valid config, files made from it, and the CLI pointed at a fake."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner, Result

from deploy.cli import make_app
from deploy.propagation import Propagation
from deploy.target import GcpTarget
from tests.fakes.gcp import FakeGcp

PROJECT = "factory-test"
BUCKET = "factory-test-artifacts"
LOCATION = f"projects/{PROJECT}/locations/us-central1"
SECRETS = (
    "factory-anthropic-api-key",
    "factory-github-token",
    "factory-linear-api-key",
    "factory-linear-webhook-secret",
    "factory-slack-webhook-url",
)
CANARY = "sk-ant-CANARY-0123456789abcdef"
BASE: dict[str, Any] = {
    "project": PROJECT,
    "region": "us-central1",
    "artifacts": {"bucket": BUCKET, "prefix": "factory"},
    "repo": {"url": "https://github.com/acme/notes.git", "base_branch": "main"},
    "images": {"registry": "us-central1-docker.pkg.dev/factory-test/factory", "tag": "v1"},
    "secrets": {
        "anthropic_api_key": "factory-anthropic-api-key",
        "github_token": "factory-github-token",
        "linear_api_key": "factory-linear-api-key",
        "linear_webhook_secret": "factory-linear-webhook-secret",
        "slack_webhook_url": "factory-slack-webhook-url",
    },
    "linear": {"team": "IX", "trigger_label": "factory"},
    "triage": {"enabled": True, "schedule": "0 3 * * *", "time_zone": "Europe/Paris"},
}


def settings(**changes: Any) -> dict[str, Any]:
    """BASE with dotted-path changes: ``settings(**{"images.tag": "v2"})``; None deletes the key."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return data


def fill_secrets(fake: FakeGcp) -> None:
    """A value in every secret the config names (a canary, which must never be printed)."""
    for secret in SECRETS:
        fake.secrets.add_version(secret, f"{CANARY}-{secret}")


def write_config(folder: Path, **changes: Any) -> Path:
    path = folder / "factory.yaml"
    path.write_text(yaml.safe_dump(settings(**changes)), encoding="utf-8")
    return path


@dataclass
class VirtualTime:
    """A clock that moves only when slept on, so the real propagation backoff (seconds to minutes) runs
    at once and its waits can be read back."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def propagation(self) -> Propagation:
        """The production backoff (first wait, cap, budget) on this clock."""
        return Propagation(sleep=self.sleep, clock=self.clock)


def deploy(fake: FakeGcp, *args: str, time: VirtualTime | None = None) -> Result:
    """``factory deploy ARGS`` with every API pointed at ``fake``; with ``time``, IAM propagation is waited
    for on that virtual clock with the production backoff."""
    propagation = time.propagation() if time else None
    app = make_app(lambda _config: GcpTarget.at(fake.url, propagation=propagation))
    return CliRunner().invoke(app, list(args))
