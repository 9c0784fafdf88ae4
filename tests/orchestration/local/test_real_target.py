"""A realistic target through the whole chain, on the local engine (issue 12).

tests/targets/taskboard is a Flask app with pinned PyPI dependencies installed into a venv its
.gitignore forgets, Alembic migrations, a login, its own pytest suite and its own e2e seed file. Ticket
TB-1 runs through factory.yaml with the real CLI against scripted turns (tests/scenarios/*-TB-1.yaml):
the install is real (PyPI), the review's evidence is the app's own suite, the e2e phase migrates a fresh
PostgreSQL with the app's Alembic, loads the app's seeds, starts the app, and a browser signs in.
"""

from __future__ import annotations

import json
import os
import time
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from jobs.phases.e2e.records import E2EResult
from jobs.phases.review.records import ReviewResult
from orchestration.local.remote import seed_bare_remote
from orchestration.local.stack import LocalStack
from tests.conftest import TESTS, git

TASKBOARD = TESTS / "targets" / "taskboard"


@pytest.mark.slow
def test_taskboard_ticket_is_implemented_reviewed_and_verified_in_a_browser(tmp_path: Path) -> None:
    remote = seed_bare_remote(TASKBOARD, tmp_path / "taskboard.git")
    artifacts = tmp_path / "artifacts"
    stack = LocalStack(str(remote), artifacts, TESTS / "tickets", scenarios=TESTS / "scenarios")
    started = time.monotonic()
    run = stack.run({"job": "solve-linear-ticket", "ticket": "TB-1"}, "tb-1")
    print(f"\nTB-1 on taskboard: {time.monotonic() - started:.1f} s through the workflow")
    assert run.error is None, run.error
    assert run.result["implement"] == "done" and run.result["review"] == "passed"
    assert run.result["e2e"] == "verified"

    # Only the agent's change was committed: not the venv install created, nor anything else of install's.
    first = git("--git-dir", str(remote), "rev-list", "--reverse", "main..factory/tb-1").split()[0]
    files = git("--git-dir", str(remote), "show", "--name-only", "--format=", first).split()
    assert sorted(files) == ["taskboard/board.py", "taskboard/templates/board.html", "tests/test_tasks.py"]

    # The review's evidence is the app's own suite, run by our code in the app's venv.
    review = ReviewResult.model_validate_json((artifacts / "runs/tb-1/review/result.json").read_text())
    [check] = review.rounds[0].checks
    assert check.command == ".venv/bin/python -m pytest -q" and check.exit_code == 0
    assert "29 passed" in check.output_tail  # the app's 28 tests and the agent's new one

    # The browser signed in on the app's own data (its migrations and seeds, not Factory's).
    e2e = E2EResult.model_validate_json((artifacts / "runs/tb-1/e2e/result.json").read_text())
    [attempt] = e2e.attempts
    assert attempt.verdict == "verified" and attempt.report is not None
    shots = sorted((artifacts / "runs/tb-1/e2e/screenshots").glob("*.png"))
    assert [p.name for p in shots] == ["01-login.png", "02-board.png"]
    for shot in shots:
        image = Image.open(BytesIO(shot.read_bytes())).convert("L")
        low, high = image.getextrema()
        assert image.size == (1280, 800) and isinstance(high, int) and isinstance(low, int)
        assert high - low > 100, f"{shot.name} is blank"
    # What the real page said to the browser tool (its read_text result, in the transcript), not the
    # scripted verdict: alice is signed in from the app's seed, and the new count is on the board.
    transcript_url = attempt.asks[0].transcript
    assert transcript_url is not None
    transcript = Path(transcript_url.removeprefix("file://")).read_text()
    assert "Signed in as Alice Anders" in transcript and "2 open" in transcript

    # As root every phase ran contained: pip reached PyPI only through the install step's proxy.
    if os.geteuid() == 0:
        for phase in ("implement", "review", "e2e"):
            record = json.loads((artifacts / f"runs/tb-1/{phase}/security.json").read_text())["containment"]
            assert record["contained"] and record["uid"] not in (None, 0) and record["hosts_refused"] == {}
            assert set(record["hosts_reached"]) <= {"pypi.org", "files.pythonhosted.org"}, record
            assert record["hosts_reached"], f"{phase}: pip reached no index through the proxy"
