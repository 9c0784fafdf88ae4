"""The support-bot example (examples/support-bot): its own suite passes and its eval gives a real accuracy.

The app is a target, not Factory's code: it is installed as its .factory.yaml installs it (its
script/bootstrap: a venv of its own, its pinned requirements from PyPI, with uv when the PATH has it and
with venv and pip when not), and its own commands run, as Factory's phases would run them. Figures
printed: the install's times, the app's test count and each shipped client's eval accuracy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.target_config import parse_target_config
from jobs.workspace.install import install
from tests.conftest import EXAMPLES

APP = EXAMPLES / "support-bot"
CLIENTS = sorted(path.name for path in (APP / "clients").iterdir() if path.is_dir())


def copy_of_the_app(where: Path) -> Path:
    copy = where / "app"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache"))
    return copy


def timed_install(app: Path) -> float:
    """The app's install, as a phase runs it (``jobs.workspace.install``: its .factory.yaml's commands,
    the agent's environment with this process's PATH); seconds."""
    started = time.monotonic()
    install(parse_target_config((APP / ".factory.yaml").read_text(encoding="utf-8")), app)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the app with its venv, installed as its .factory.yaml says (uv on the PATH)."""
    copy = copy_of_the_app(tmp_path_factory.mktemp("support-bot"))
    assert shutil.which("uv"), "no uv on the PATH: `make setup` installs it"
    print(f"\nsupport-bot install with uv: {timed_install(copy):.1f}s")
    yield copy


def test_the_install_took_uv_from_the_path(app: Path) -> None:
    assert (app / ".venv" / "pyvenv.cfg").read_text(encoding="utf-8").count("uv = ") == 1
    assert not (app / ".venv" / "bin" / "pip").exists()  # venv's ensurepip would have put one there


def test_without_uv_the_install_makes_the_same_venv_with_pip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = copy_of_the_app(tmp_path)
    without_uv = [p for p in os.environ["PATH"].split(os.pathsep) if p and not (Path(p) / "uv").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(without_uv))
    print(f"\nsupport-bot install with venv and pip: {timed_install(copy):.1f}s")
    assert (copy / ".venv" / "bin" / "pip").exists()
    assert "uv = " not in (copy / ".venv" / "pyvenv.cfg").read_text(encoding="utf-8")
    imports = [".venv/bin/python", "-c", "import flask, sqlalchemy, alembic, psycopg, sentry_sdk, yaml"]
    subprocess.run(imports, cwd=copy, check=True, timeout=60)


def test_its_own_suite_passes(app: Path) -> None:
    run = subprocess.run(
        [".venv/bin/python", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-500:]
    print(f"\nsupport-bot's own suite: {summary}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in summary


@pytest.mark.parametrize("client", CLIENTS)
def test_its_eval_prints_an_accuracy_for_each_client(app: Path, client: str) -> None:
    run = subprocess.run(
        [".venv/bin/python", "-m", "support_bot.eval", "--client", client, "--json"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]  # exit 0 even when cases fail
    report = json.loads(run.stdout)
    cases = report["results"]  # one record per case: question, expected, got, pass
    passed = sum(1 for case in cases if case["pass"])
    print(f"\nsupport-bot eval {client}: accuracy {report['accuracy']} ({passed} of {len(cases)})")
    assert len(cases) == report["cases"] >= 20 and report["passed"] == passed
    assert report["accuracy"] == pytest.approx(passed / len(cases), abs=1e-4)
