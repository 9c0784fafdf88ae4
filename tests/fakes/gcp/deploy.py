"""Driving `factory deploy` in tests: a valid config, files made from it, and the CLI pointed at a fake."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from click.testing import Result
from typer.testing import CliRunner

from orchestration.deploy.cli import make_app
from orchestration.deploy.target import GcpTarget
from tests.fakes.gcp import FakeGcp

PROJECT = "factory-test"
BUCKET = "factory-test-artifacts"
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
    "triage": {"schedule": "0 3 * * *", "time_zone": "Europe/Paris"},
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


def write_config(folder: Path, **changes: Any) -> Path:
    path = folder / "factory.yaml"
    path.write_text(yaml.safe_dump(settings(**changes)), encoding="utf-8")
    return path


def deploy(fake: FakeGcp, *args: str) -> Result:
    """``factory deploy ARGS`` with every API pointed at ``fake``."""
    app = make_app(lambda _config: GcpTarget.at(fake.url))
    return CliRunner().invoke(app, list(args))
