"""``factory demo --job onboard-client`` end to end (issue 17): each mode through factory.yaml on the
local engine, as the README shows them.

Real: the support-bot's install and eval, the onboard job's agent runs through the real CLI against the
offline model (``onboard-*`` scenarios), the review with the app's suite as evidence, and e2e with
PostgreSQL, the app's three servers and Chromium, chatting in the playground as the client. Slack's
stand-in (the console) gets one accuracy notice per eval, whose figures match the onboard result's.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.artifacts import open_store
from jobs.onboard.records import OnboardResult
from orchestration.cli import app
from orchestration.receiver.locks import lock_record

pytestmark = pytest.mark.timeout(1800)  # the first run installs the app's requirements


def demo(tmp_path: Path, client: str, mode: str) -> tuple[str, OnboardResult, dict[str, str]]:
    result = CliRunner().invoke(
        app,
        ["demo", "--job", "onboard-client", "--client", client, "--mode", mode, "--artifacts", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output[-3000:]
    store = open_store(str(tmp_path / "onboard-demo"))
    [run] = {key.split("/")[1] for key in store.list("runs/") if key.endswith("onboard/result.json")}
    onboarded = OnboardResult.model_validate_json(store.read_bytes(f"runs/{run}/onboard/result.json"))
    statuses = {
        phase: json.loads(store.read_bytes(f"runs/{run}/{phase}/result.json"))["status"]
        for phase in ("review", "e2e")
        if store.exists(f"runs/{run}/{phase}/result.json")
    }
    return result.output, onboarded, statuses


def lock_of(tmp_path: Path, client: str, record: bytes) -> bytes:
    """Put ``record`` where the workflow locks ``client``'s onboardings; what it put."""
    store = open_store(str(tmp_path / "onboard-demo"))
    store.write_bytes(f"receiver/locks/onboard-{client}", record, if_absent=True)
    return record


def accuracy_notices(output: str) -> list[str]:
    return re.findall(r"Factory accuracy - [^:]+: (.+)", output)


@pytest.mark.parametrize(
    ("client", "mode", "rounds"),
    [("lumen-fitness.example", "full", 2), ("northwind-travel.example", "update-skills", 1)],
)
def test_an_onboarding_that_changes_files_ends_in_a_reviewed_verified_pr(
    tmp_path: Path, client: str, mode: str, rounds: int
) -> None:
    # The lock of a run that died long ago: taken over, held for the run, and released after it.
    lock_of(
        tmp_path, client, json.dumps({"delivery": "run:died", "created_at": "2000-01-01T00:00:00Z"}).encode()
    )
    output, onboarded, statuses = demo(tmp_path, client, mode)
    assert open_store(str(tmp_path / "onboard-demo")).list("receiver/locks/") == []
    assert onboarded.status == "done" and len(onboarded.rounds) == rounds and onboarded.needs_human == []
    assert statuses == {"review": "passed", "e2e": "verified"}
    assert accuracy_notices(output) == onboarded.notices and len(onboarded.notices) == rounds + 1
    assert onboarded.final is not None and onboarded.final.tuning.accuracy >= 0.9
    pr = (tmp_path / "onboard-demo" / "pulls").glob("*.md")
    body = next(pr).read_text()
    assert f"### Onboarding of `{client}` ({mode}): accuracy measured by Factory" in body
    assert "| baseline |" in body and "Needs human review" not in body
    print(f"\n{client} {mode}: {' / '.join(onboarded.notices)}; review passed, e2e verified")


def test_a_second_onboarding_of_a_client_being_onboarded_starts_nothing(tmp_path: Path) -> None:
    """Both full and update-skills change the client's folder: one at a time, as a ticket's runs."""
    held = lock_of(tmp_path, "lumen-fitness.example", lock_record("run:first", "", int(time.time() * 1000)))
    result = CliRunner().invoke(
        app,
        [
            "demo",
            "--job",
            "onboard-client",
            "--client",
            "lumen-fitness.example",
            "--artifacts",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert "onboard-lumen-fitness.example is being worked on by another run" in result.output
    store = open_store(str(tmp_path / "onboard-demo"))
    assert store.read_bytes("receiver/locks/onboard-lumen-fitness.example") == held
    assert not [key for key in store.list("runs/") if key.endswith("onboard/result.json")]  # no job ran


def test_eval_only_reports_and_opens_nothing(tmp_path: Path) -> None:
    # eval-only changes nothing: it takes no lock, and another onboarding of the client does not stop it.
    held = lock_of(tmp_path, "acme-shop.example", lock_record("run:first", "", int(time.time() * 1000)))
    output, onboarded, statuses = demo(tmp_path, "acme-shop.example", "eval-only")
    assert (
        open_store(str(tmp_path / "onboard-demo")).read_bytes("receiver/locks/onboard-acme-shop.example")
        == held
    )
    assert onboarded.status == "done" and statuses == {}
    assert accuracy_notices(output) == ["eval-only: tuning 90% (18/20), held-out 78% (7/9)"]
    assert "Factory completed - onboard-client acme-shop.example (eval-only)" in output
    assert "25/29 cases pass (86.2%)" in output
    assert not (tmp_path / "onboard-demo" / "pulls").exists()
