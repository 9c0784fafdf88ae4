"""The support-bot example (examples/support-bot): its own suite passes and its eval gives a real accuracy.

The app is a target, not Factory's code: it is installed as its .factory.yaml installs it (a venv of
its own, its pinned requirements from PyPI), and its own commands run, as Factory's phases would run
them. Figures printed: the app's test count and each shipped client's eval accuracy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

APP = EXAMPLES / "support-bot"
CLIENTS = sorted(path.name for path in (APP / "clients").iterdir() if path.is_dir())


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the app with its venv, installed as its .factory.yaml says."""
    copy = tmp_path_factory.mktemp("support-bot") / "app"
    shutil.copytree(APP, copy, ignore=shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache"))
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    subprocess.run([python, "-m", "venv", ".venv"], cwd=copy, check=True, timeout=120)
    pip = [".venv/bin/pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"]
    subprocess.run(pip, cwd=copy, check=True, timeout=600)
    yield copy


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
