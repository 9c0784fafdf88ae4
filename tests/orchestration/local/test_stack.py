"""The local stack: what each job of a local run is given."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.local.containers import ContainerRunner
from orchestration.local.stack import LocalStack

CANARY = "sk-ant-api03-canary-" + "x" * 20


class Recording:
    """A job runner that records what each job would get, and fails it (so the run ends there)."""

    def __init__(self) -> None:
        self.envs: list[dict[str, str]] = []

    def __call__(self, phase: str, env: Mapping[str, str], timeout: float) -> int | None:
        self.envs.append(dict(env))
        return 1


def test_real_model_credentials_reach_a_container_job_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--real --docker: the container gets only the job's variables, so the credential must be one of
    them; the engine names it (``--env NAME``) and its value stays off the command line."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
    runner = Recording()
    stack = LocalStack(
        str(tmp_path / "remote.git"), tmp_path / "a", tmp_path / "t", real_model=True, runner=runner
    )
    run = stack.run({"job": "solve-linear-ticket", "ticket": "IX-1"}, "run-1")
    assert run.error is not None  # the recording runner fails the implement job
    [env] = runner.envs
    assert env["ANTHROPIC_API_KEY"] == CANARY
    argv, process_env = ContainerRunner("podman", "t").command("implement", env, "n", uid=10001, gid=10001)
    assert argv[argv.index("ANTHROPIC_API_KEY") - 1] == "--env"
    assert not any(CANARY in arg for arg in argv)
    assert process_env["ANTHROPIC_API_KEY"] == CANARY


def test_the_offline_model_stands_in_when_real_is_not_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
    runner = Recording()
    LocalStack(str(tmp_path / "remote.git"), tmp_path / "a", tmp_path / "t", runner=runner).run(
        {"job": "solve-linear-ticket", "ticket": "IX-1"}, "run-2"
    )
    [env] = runner.envs
    assert env["ANTHROPIC_BASE_URL"].startswith("http://127.0.0.1:")
    assert env["ANTHROPIC_API_KEY"] != CANARY  # the offline model's placeholder, never the real key


def test_demo_real_without_credentials_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["demo", "--real", "--artifacts", "/nonexistent/factory-demo"])
    assert result.exit_code == 2
    assert result.output.strip() == "factory: --real needs ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN"


def test_an_app_env_file_goes_to_the_review_and_e2e_jobs_alone(tmp_path: Path) -> None:
    app_env = tmp_path / "app.env"
    app_env.write_text("APP_SECRET=x\n")
    runner = Recording()
    stack = LocalStack.create(str(tmp_path / "remote.git"), tmp_path / "a", tmp_path / "t", app_env=app_env)
    assert stack.phase_env == {
        "review": {"APP_ENV_FILE": str(app_env)},
        "e2e": {"APP_ENV_FILE": str(app_env)},
    }
    replace_runner = LocalStack(
        stack.repo, stack.artifacts, stack.tickets_dir, runner=runner, phase_env=stack.phase_env
    )
    replace_runner.run({"job": "solve-linear-ticket", "ticket": "IX-1"}, "run-3")
    [implement] = runner.envs
    assert "APP_ENV_FILE" not in implement


def test_a_missing_app_env_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "missing.env"
    result = CliRunner().invoke(
        app, ["solve-linear-ticket", "--ticket", "IX-1", "--repo", str(tmp_path), "--app-env", str(path)]
    )
    assert result.exit_code == 2
    assert result.output.strip() == f"factory: --app-env: {path} is not a file"
