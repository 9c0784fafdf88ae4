"""The ``factory`` command end to end, as the README and docs/local.md show it (issue 12, items 1, 9, 10,
11): the demo twice in a row, its other tickets (the hostile one with a relative ``--repo`` from another
directory), and a repository of one's own with its own scenarios whose browser check is skipped (exit 3).

Each runs the whole workflow: the real Claude Code CLI against the offline model, real git, and for the
notes app a seeded PostgreSQL and Chromium. Slow (10-60 s each), so they are few.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from orchestration.cli import app
from orchestration.local.remote import seed_bare_remote
from orchestration.local.stack import EXAMPLES
from tests.conftest import git

pytestmark = pytest.mark.slow


def factory(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def workflow_result(result: Result) -> dict[str, Any]:
    """The workflow's return value, from the ``result`` line of the summary's workflow section."""
    section = result.stdout.split("== Factory: workflow ==", 1)[1]
    line = next(line for line in section.splitlines() if line.startswith("result "))
    outcome: dict[str, Any] = json.loads(line.removeprefix("result").strip())
    return outcome


def phases(outcome: dict[str, Any]) -> tuple[str, str, str]:
    return outcome["implement"], outcome["review"], outcome["e2e"]


def test_the_demo_twice_in_a_row_ends_verified_both_times(tmp_path: Path) -> None:
    """The second run resumes the branch, which already holds the documentation and the browser fix:
    its review and browser check must see that and pass, not replay the first run's failures."""
    artifacts = tmp_path / ".factory"
    for branch in ("new, pushed: True", "resumed, pushed: False"):
        result = factory("demo", "--artifacts", str(artifacts))
        assert result.exit_code == 0, result.output[-3000:]
        assert phases(workflow_result(result)) == ("done", "passed", "verified")
        assert f"branch      factory/ix-101 ({branch})" in result.stdout
        assert list((artifacts / "work").iterdir()) == []  # each run's working copies went with it
    assert "attempt 1   verified" in result.stdout  # the resumed run: the list already shows the counts
    log = git(
        "--git-dir", str(artifacts / "demo" / "remote.git"), "log", "--format=%s", "main..factory/ix-101"
    )
    assert "(failed)" not in log and log.count("E2E report and screenshots (verified)") == 2


def test_the_demos_ticket_that_needs_no_change_ends_with_exit_0(tmp_path: Path) -> None:
    result = factory("demo", "--ticket", "IX-103", "--artifacts", str(tmp_path / ".factory"))
    assert result.exit_code == 0, result.output[-3000:]
    outcome = workflow_result(result)
    assert (outcome["implement"], outcome.get("review"), outcome.get("e2e")) == ("no_changes", None, None)


def test_the_hostile_ticket_with_a_relative_repo_from_another_directory_ends_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's IX-102 (a hostile title, a prompt injection in the body) through solve-linear-ticket
    from another directory: the push runs inside the job's checkout, so a relative --repo must be made
    absolute where it enters; so must --tickets-dir, --artifacts and --scenarios. --keep-work keeps the
    checkouts. (One run for both: each is a whole workflow with a browser check.)"""
    seed_bare_remote(EXAMPLES / "notes-app", tmp_path / "target" / "remote.git")
    shutil.copytree(EXAMPLES / "tickets", tmp_path / "tickets")
    shutil.copytree(EXAMPLES / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    result = factory(
        "solve-linear-ticket",
        "--ticket", "IX-102",
        "--repo", "target/remote.git",
        "--tickets-dir", "tickets",
        "--artifacts", "out",
        "--scenarios", "scenarios",
        "--keep-work",
    )  # fmt: skip
    assert result.exit_code == 0, result.output[-3000:]
    outcome = workflow_result(result)
    assert phases(outcome) == ("done", "passed", "verified")
    log = git(
        "--git-dir", str(tmp_path / "target" / "remote.git"), "log", "--format=%s", "main..factory/ix-102"
    )
    assert "IX-102: Trim whitespace from note titles" in log
    kept = tmp_path / "out" / "work" / outcome["run_id"]
    assert (kept / "repo" / "notes_app").is_dir()
    assert f"work        {kept} (kept: --keep-work)" in result.stdout


def own_target(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A repository of one's own (no browser check configured), its ticket, and scenarios for it."""
    source = tmp_path / "greeter"
    source.mkdir()
    (source / "greet.py").write_text('def greet(name: str) -> str:\n    return f"Hello, {name}"\n')
    (source / ".factory.yaml").write_text("test: python3 -m py_compile greet.py\n")
    remote = seed_bare_remote(source, tmp_path / "greeter.git")
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    (tickets / "GR-1.md").write_text(
        "---\nidentifier: GR-1\ntitle: Greet with an exclamation mark\nlabels: [factory]\nstate: Todo\n---\n"
        "`greet` returns `Hello, NAME!`.\n"
    )
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "implement-GR-1.yaml").write_text(
        "name: implement-GR-1\n"
        'match: ["Phase: implement", "Ticket: GR-1"]\n'
        "turns:\n"
        "  - tool_uses:\n"
        "      - name: Edit\n"
        "        input:\n"
        '          file_path: "{{workspace}}/greet.py"\n'
        "          old_string: 'return f\"Hello, {name}\"'\n"
        "          new_string: 'return f\"Hello, {name}!\"'\n"
        '  - text: "greet() now ends with an exclamation mark."\n'
    )
    (scenarios / "review-GR-1.yaml").write_text(
        "name: review-GR-1\n"
        'match: ["Phase: review", "Ticket: GR-1"]\n'
        "turns:\n"
        "  - text: >-\n"
        '      {"scores": {"correctness": 5, "code_quality": 5, "test_coverage": 4, "type_safety": 5,\n'
        '      "security": 5, "documentation": 4}, "summary": "The greeting ends with !.", "issues": []}\n'
    )
    return remote, tickets, scenarios


def test_a_skipped_browser_check_is_not_reported_as_success(tmp_path: Path) -> None:
    """Own repository, own scenarios (--scenarios), no e2e servers or pages in its .factory.yaml: the run
    completes, but exits 3, and neither the summary nor the workflow's last notice hides the skip."""
    remote, tickets, scenarios = own_target(tmp_path)
    checked = factory(
        "check", "--repo", str(remote), "--tickets-dir", str(tickets), "--scenarios", str(scenarios)
    )
    assert checked.exit_code == 0, checked.output
    assert "e2e-verify will be skipped (factory exits 3)" in checked.stdout
    result = factory(
        "solve-linear-ticket",
        "--ticket", "GR-1",
        "--repo", str(remote),
        "--tickets-dir", str(tickets),
        "--artifacts", str(tmp_path / "out"),
        "--scenarios", str(scenarios),
    )  # fmt: skip
    assert result.exit_code == 3, result.output[-3000:]
    assert phases(workflow_result(result)) == ("done", "passed", "skipped")
    assert "warning     e2e-verify was skipped: the change was NOT verified in a browser" in result.stdout
    completed = [line for line in result.stderr.splitlines() if "Factory completed - GR-1" in line]
    assert len(completed) == 1
    assert completed[0].endswith(
        "not verified in a browser (e2e-verify skipped: "
        "the repository's .factory.yaml configures no e2e servers and pages)"
    )
    assert 'return f"Hello, {name}!"' in git("--git-dir", str(remote), "show", "factory/gr-1:greet.py")
