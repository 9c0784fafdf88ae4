"""What a local run is given: local paths made absolute where they enter, and what cannot work refused in
one line (exit 2) before the workflow starts (issue 12, items 1 and 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.local.inputs import local_repo_path, resolve_repo
from orchestration.local.stack import EXAMPLES, LocalStack
from tests.conftest import git

TICKETS = str(EXAMPLES / "tickets")


def solve(*args: str, artifacts: Path = Path("/nonexistent/factory-inputs")) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["solve-linear-ticket", "--artifacts", str(artifacts), *args])
    return result.exit_code, result.output


def test_relative_paths_become_absolute_and_urls_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_repo(".factory/demo/remote.git") == str(tmp_path / ".factory/demo/remote.git")
    assert resolve_repo("file://r.git") == f"file://{tmp_path}/r.git"
    assert resolve_repo("file:///srv/r.git") == "file:///srv/r.git"
    assert resolve_repo("https://github.com/acme/app.git") == "https://github.com/acme/app.git"
    assert local_repo_path("https://github.com/acme/app.git") is None
    assert local_repo_path(f"file://{tmp_path}/r.git") == tmp_path / "r.git"
    (tmp_path / "scen").mkdir()
    (tmp_path / "scen" / "s.yaml").write_text("name: s\nmatch: ['Phase: implement']\nturns: [{text: hi}]\n")
    stack = LocalStack.create("r.git", Path("out"), Path("tickets"), scenarios=Path("scen"))
    assert (stack.repo, stack.artifacts, stack.tickets_dir, stack.scenarios) == (
        str(tmp_path / "r.git"),
        tmp_path / "out",
        tmp_path / "tickets",
        tmp_path / "scen",
    )


def test_a_missing_ticket_is_one_line_and_exit_2(remote: Path, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    code, output = solve(
        "--ticket", "IX-404", "--repo", str(remote), "--tickets-dir", TICKETS, artifacts=artifacts
    )
    assert code == 2
    assert output.strip() == f"factory: --ticket IX-404: no ticket file {EXAMPLES / 'tickets' / 'IX-404'}.md"
    assert not artifacts.exists()  # no run was started
    code, output = solve("--ticket", "../IX-101", "--repo", str(remote), "--tickets-dir", TICKETS)
    assert code == 2 and "malformed ticket identifier" in output and len(output.strip().splitlines()) == 1


def test_a_missing_or_unusable_repository_is_one_line_and_exit_2(tmp_path: Path) -> None:
    absent = tmp_path / "absent.git"
    code, output = solve("--ticket", "IX-101", "--repo", str(absent), "--tickets-dir", TICKETS)
    assert (code, output.strip()) == (2, f"factory: --repo {absent}: no such file or directory")
    plain = tmp_path / "plain"
    plain.mkdir()
    code, output = solve("--ticket", "IX-101", "--repo", str(plain), "--tickets-dir", TICKETS)
    assert (code, output.strip()) == (2, f"factory: --repo {plain}: not a git repository")
    empty = tmp_path / "empty.git"
    git("init", "--quiet", "--bare", str(empty))
    code, output = solve("--ticket", "IX-101", "--repo", f"file://{empty}", "--tickets-dir", TICKETS)
    assert (code, output.strip()) == (
        2,
        f"factory: --repo file://{empty}: has no branch 'main' to start from",
    )


def test_a_directory_inside_another_repository_is_not_taken_for_it(tmp_path: Path) -> None:
    """``examples/notes-app`` lies inside Factory's own checkout: git must not answer for the outer one."""
    code, output = solve(
        "--ticket", "IX-101", "--repo", str(EXAMPLES / "notes-app"), "--tickets-dir", TICKETS
    )
    assert code == 2 and output.strip().endswith("notes-app: not a git repository")


def test_broken_scenarios_are_refused_before_a_run(remote: Path, tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "implement-IX-101.yaml").write_text("name: x\nmatch: []\nturns: []\n")
    code, output = solve(
        "--ticket", "IX-101", "--repo", str(remote), "--tickets-dir", TICKETS, "--scenarios", str(scenarios)
    )
    assert code == 2
    assert output.strip().startswith(f"factory: --scenarios: {scenarios / 'implement-IX-101.yaml'}: match:")
    assert "(and 1 more: factory check --scenarios lists them)" in output


def test_the_demo_refuses_a_ticket_it_has_no_file_for(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--ticket", "IX-999", "--artifacts", str(tmp_path / "a")])
    assert result.exit_code == 2
    assert result.output.strip().startswith("factory: --ticket IX-999: no ticket file ")
    assert not (tmp_path / "a").exists()  # nothing seeded, nothing started
