"""A support-bot remote to onboard a client of, as the onboard job meets it, and the job run on it.

The new client's files on a prepared branch are exactly what the example scenarios' scripted agent
writes for Lumen Fitness (examples/scenarios/onboard-{dataset,skills}-lumen.yaml), under another
client's name: a run of the full mode then finds them (it resumes the branch) and goes straight to the
eval and the tuning rounds, which the tests' own scenarios play (tests/scenarios/onboard-attack-*).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from jobs.entrypoint import run_from_env
from jobs.onboard.records import OnboardResult
from jobs.onboard.tickets import branch_for_onboarding
from jobs.yaml_load import safe_load
from orchestration.local.remote import seed_bare_remote
from orchestration.local.stack import local_job_env
from tests.conftest import EXAMPLES, git

APP = EXAMPLES / "support-bot"
LUMEN = "lumen-fitness.example"
SCENARIOS = EXAMPLES / "scenarios"


def scripted_writes(scenario: Path, client: str) -> dict[str, str]:
    """The files a scenario's Write calls create (relative paths), with Lumen's name replaced."""
    data = safe_load(scenario.read_text())
    files = {}
    for turn in data["turns"]:
        for use in turn.get("tool_uses", []):
            if use["name"] == "Write":
                path = use["input"]["file_path"].removeprefix("{{workspace}}/").replace(LUMEN, client)
                files[path] = use["input"]["content"]
    return files


def support_bot_remote(tmp: Path, client: str, prepared: bool, max_rounds: int | None = None) -> Path:
    """A bare remote of the support-bot with Lumen's material for ``client``; ``prepared``: its full
    onboarding's branch already holds the scripted dataset, config, skills and knowledge base;
    ``max_rounds``: what its .factory.yaml allows instead of 3."""
    app = tmp / "app"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns(".venv", "__pycache__", "*.pyc"))
    if max_rounds is not None:
        config = app / ".factory.yaml"
        text = config.read_text()
        assert "  max_rounds: 3\n" in text
        config.write_text(text.replace("  max_rounds: 3\n", f"  max_rounds: {max_rounds}\n"))
    material = app / "onboarding" / client
    if client != LUMEN:
        shutil.copytree(app / "onboarding" / LUMEN, material)
    remote = seed_bare_remote(app, tmp / "remote.git")
    if prepared:
        work = tmp / "prepare"
        git("clone", "--quiet", str(remote), str(work))
        git("checkout", "--quiet", "-b", branch_for_onboarding(client, "full"), cwd=work)
        files = {
            **scripted_writes(SCENARIOS / "onboard-dataset-lumen.yaml", client),
            **scripted_writes(SCENARIOS / "onboard-skills-lumen.yaml", client),
        }
        for doc in (material / "kb").iterdir():
            files[f"clients/{client}/kb/{doc.name}"] = doc.read_text()
        for path, text in files.items():
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_text(text)
        git("add", "--all", cwd=work)
        git("commit", "--quiet", "-m", f"{client}: written by an earlier run", cwd=work)
        git("push", "--quiet", "origin", "HEAD", cwd=work)
    return remote


def onboard(
    remote: Path,
    tmp: Path,
    client: str,
    mode: str,
    model_auth: Mapping[str, str],
    run_id: str = "ob-1",
    extra: Mapping[str, str] | None = None,
) -> OnboardResult:
    """The onboard job, run as its Cloud Run Job would run it."""
    env = {
        **local_job_env("", remote, tmp / "artifacts", run_id, workdir=tmp / "work" / run_id),
        "JOB": "onboard-client",
        "CLIENT_DOMAIN": client,
        "MODE": mode,
        "KILL_GRACE_SECONDS": "1",
        **model_auth,
        **(extra or {}),
    }
    del env["TICKET_IDENTIFIER"]
    result = run_from_env("onboard", env)
    assert isinstance(result, OnboardResult)
    return result


def branch_file(remote: Path, branch: str, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(remote), "show", f"{branch}:{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
