"""Settings: the original variables and defaults, and one clear line for a bad value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.errors import ConfigError
from jobs.settings import load_settings
from jobs.target_config import parse_target_config


def test_original_names_and_defaults() -> None:
    s = load_settings({"TICKET_IDENTIFIER": "IX-1", "GITHUB_TOKEN": "ghp_x" * 8})
    assert (s.job, s.mode, s.max_turns, s.max_duration_seconds) == ("solve-linear-ticket", "full", 100, 7200)
    assert s.artifacts_prefix == ".factory" and s.base_branch == "main"
    assert s.github_api_url == "https://api.github.com"
    assert load_settings({"GITHUB_API_URL": "http://127.0.0.1:9"}).github_api_url == "http://127.0.0.1:9"
    assert "ghp_x" not in repr(s) and "ghp_x" not in str(s.model_dump())


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"MAX_TURNS": "lots"}, "MAX_TURNS"),
        ({"MAX_TURNS": "0"}, "MAX_TURNS"),
        ({"MAX_DURATION_SECONDS": "-5"}, "MAX_DURATION_SECONDS"),
        ({"JOB": "rm -rf"}, "JOB"),
        ({"MODE": "turbo"}, "MODE"),
        ({"RUN_ID": "../../etc"}, "RUN_ID"),
        ({"TICKET_SOURCE": "jira"}, "TICKET_SOURCE"),
    ],
)
def test_bad_value_names_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=f"^invalid setting {name}: "):
        load_settings(env)


def test_entrypoint_fails_with_one_line_and_exit_2() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")}
    proc = subprocess.run(
        [sys.executable, "-m", "jobs", "implement"],
        env={**env, "MAX_TURNS": "lots", "TICKET_IDENTIFIER": "IX-1", "REPO_URL": "/nowhere"},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "MAX_TURNS" in proc.stderr


def test_entrypoint_requires_model_credentials(tmp_path: object) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")}
    proc = subprocess.run(
        [sys.executable, "-m", "jobs", "implement"],
        env={**env, "TICKET_IDENTIFIER": "IX-1", "REPO_URL": "/nowhere", "ARTIFACTS_PREFIX": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "ANTHROPIC_API_KEY" in proc.stderr


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"JOB": "onboard-client"}, "has no implement phase"),
        ({"JOB": "onboard-client", "MODE": "everything"}, "invalid setting MODE"),
    ],
)
def test_a_job_without_the_phase_or_with_a_bad_mode_is_a_settings_error(
    env: dict[str, str], says: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "jobs", "implement"],
        env={**os.environ, **env, "TICKET_IDENTIFIER": "IX-1", "REPO_URL": "/nowhere"},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and says in proc.stderr


def test_triage_runs_no_agent_so_needs_no_model_key_but_its_sources_credentials(tmp_path: Path) -> None:
    from orchestration.local.remote import seed_bare_remote

    target = tmp_path / "target"
    target.mkdir()
    (target / ".factory.yaml").write_text("triage:\n  sentry: {organization: a, project: b}\n")
    remote = seed_bare_remote(target, tmp_path / "remote.git")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC", "CLAUDE", "SENTRY"))}
    proc = subprocess.run(
        [sys.executable, "-m", "jobs", "triage"],
        env={
            **env,
            "JOB": "solve-chatbot-issues",
            "REPO_URL": str(remote),
            "ARTIFACTS_PREFIX": str(tmp_path / "a"),
        },
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1, proc.stderr
    assert "SENTRY_AUTH_TOKEN: required when triage.sentry is configured" in proc.stderr


@pytest.mark.parametrize("model", ["--dangerously-skip-permissions", "sonnet; rm -rf /", "", "x" * 80])
def test_target_config_rejects_odd_model_names(model: str) -> None:
    with pytest.raises(ConfigError, match=r"models\.implement"):
        parse_target_config(f"models:\n  implement: {json.dumps(model)}\n")


def test_target_config_defaults_and_known_models() -> None:
    assert parse_target_config(None).models.review == "opus"
    assert (
        parse_target_config("models:\n  implement: claude-sonnet-4-5\n").models.implement
        == "claude-sonnet-4-5"
    )


def test_target_config_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_target_config("test: [unclosed\n")
    with pytest.raises(ConfigError, match="lint_command"):
        parse_target_config("lint_command: ruff\n")
    with pytest.raises(ConfigError, match="larger than"):
        parse_target_config("# " + "x" * 70_000)


def test_an_onboarding_setting_left_empty_by_the_workflow_is_its_default() -> None:
    # The workflow passes every job CLIENT_DOMAIN and MODE, "" in runs that are not onboardings.
    settings = load_settings({"CLIENT_DOMAIN": "", "MODE": ""})
    assert (settings.client_domain, settings.mode) == (None, "full")
    assert load_settings({"MODE": "eval-only"}).mode == "eval-only"
