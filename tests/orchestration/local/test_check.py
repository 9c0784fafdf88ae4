"""``factory check``: the target's ``.factory.yaml`` on its base branch, the ticket files and the scenario
files, one line per problem and a summary; exit 0 when all is well, 1 otherwise (issue 12, item 10)."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.local.check import cloned_base_file
from orchestration.local.stack import EXAMPLES
from tests.conftest import git


def run_check(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, ["check", *args])
    return result.exit_code, result.output.strip().splitlines()


def commit_on_main(remote: Path, tmp: Path, files: dict[str, str]) -> None:
    """A human changes files on the remote's main (what every phase reads its config from)."""
    checkout = tmp / "checkout"
    if not checkout.exists():
        git("clone", "--quiet", str(remote), str(checkout))
    for name, text in files.items():
        (checkout / name).write_text(text)
    git("add", "--all", cwd=checkout)
    git("commit", "--quiet", "-m", "config", cwd=checkout)
    git("push", "--quiet", "origin", "HEAD:main", cwd=checkout)


def test_the_example_target_tickets_and_scenarios_are_all_good(remote: Path) -> None:
    tickets, scenarios = str(EXAMPLES / "tickets"), str(EXAMPLES / "scenarios")
    code, lines = run_check("--repo", str(remote), "--tickets-dir", tickets, "--scenarios", scenarios)
    assert code == 0, lines
    count = len(list((EXAMPLES / "scenarios").glob("*.yaml")))
    ticket_files = len(list((EXAMPLES / "tickets").glob("*.md")))
    assert lines == [
        f"factory check: all good, 0 warning(s); checked 1 .factory.yaml, {ticket_files} ticket file(s), "
        f"{count} scenario file(s)"
    ]


def test_a_broken_config_on_main_is_named_with_its_key(remote: Path, tmp_path: Path) -> None:
    """A typo on main is found; the same typo only on a branch is not what runs read, so it is not."""
    commit_on_main(remote, tmp_path, {".factory.yaml": "test: make test\ne2e:\n  servers: []\n  pagez: []\n"})
    code, lines = run_check("--repo", f"file://{remote}")
    assert code == 1
    assert lines[0] == (
        f"error: file://{remote} (main:.factory.yaml): e2e.pagez: Extra inputs are not permitted"
    )
    assert lines[-1].startswith("factory check: 1 error(s), 0 warning(s)")


def test_a_config_with_no_browser_check_warns_but_passes(remote: Path, tmp_path: Path) -> None:
    commit_on_main(remote, tmp_path, {".factory.yaml": "install: []\n"})
    code, lines = run_check("--repo", str(remote))
    assert code == 0
    assert (
        f"warning: {remote} (main:.factory.yaml): no 'test' command: the review has no test run as evidence"
        in lines
    )
    assert any("e2e-verify will be skipped (factory exits 3)" in line for line in lines)


def test_broken_tickets_and_scenarios_each_get_a_line(remote: Path, tmp_path: Path) -> None:
    tickets = tmp_path / "tickets"
    shutil.copytree(EXAMPLES / "tickets", tickets)
    (tickets / "IX-7.md").write_text("---\nidentifier: IX-8\ntitle: t\n---\nbody\n")
    (tickets / "IX-9.md").write_text("no front matter\n")
    scenarios = tmp_path / "scenarios"
    shutil.copytree(EXAMPLES / "scenarios", scenarios)
    (scenarios / "bad-yaml.yaml").write_text("name: [unclosed\n")
    (scenarios / "bad-shape.yaml").write_text("name: s\nmatch: ['Phase: fix']\nturns: [{txt: hi}]\n")
    twin = (scenarios / "implement-IX-103.yaml").read_text().replace("name: implement-IX-103", "name: twin")
    (scenarios / "twin.yaml").write_text(twin)
    (scenarios / "ignored.yml").write_text("name: y\n")

    code, lines = run_check(
        "--repo", str(remote), "--tickets-dir", str(tickets), "--scenarios", str(scenarios)
    )
    assert code == 1
    assert (
        f"error: {tickets / 'IX-7.md'}: front matter identifier is missing or differs from the file name"
        in lines
    )
    assert f"error: {tickets / 'IX-9.md'}: must start with a '---' front matter line" in lines
    assert f"error: {scenarios / 'bad-shape.yaml'}: turns.0.txt: Extra inputs are not permitted" in lines
    # libyaml: "did not find expected ',' or ']'"; PyYAML's own parser: "expected ',' or ']', but got..."
    prefix = f"error: {scenarios / 'bad-yaml.yaml'}: cannot be read as YAML: line 2: "
    assert any(line.startswith(prefix) and "expected ',' or ']'" in line for line in lines), lines
    assert (
        f"error: {scenarios / 'twin.yaml'}: 'twin' has the same match strings as 'implement-IX-103' "
        f"({scenarios / 'implement-IX-103.yaml'}): only one of them can ever play"
    ) in lines
    assert f"warning: {scenarios / 'ignored.yml'}: ignored: only *.yaml files are loaded" in lines
    assert lines[-1].startswith(
        "factory check: 5 error(s), 1 warning(s); checked 1 .factory.yaml, "
        f"{len(list((EXAMPLES / 'tickets').glob('*.md'))) + 2} ticket file(s)"
    )


def test_an_unreachable_repository_is_an_error(tmp_path: Path) -> None:
    code, lines = run_check("--repo", str(tmp_path / "nowhere.git"))
    assert code == 1
    assert lines[0] == f"error: {tmp_path / 'nowhere.git'}: no such file or directory"


def test_a_remote_config_is_read_from_a_shallow_clone(remote: Path, tmp_path: Path) -> None:
    """What an https URL goes through (a shallow clone, then the file at the base branch), driven with
    git's file:// transport; an https remote that cannot be reached is an error line, not a crash."""
    commit_on_main(remote, tmp_path, {".factory.yaml": "test: make test\n"})
    assert cloned_base_file(f"file://{remote}", ".factory.yaml", "main") == "test: make test\n"
    assert cloned_base_file(f"file://{remote}", "absent.yaml", "main") is None
    code, lines = run_check("--repo", "https://127.0.0.1:9/acme/app.git")
    assert code == 1 and lines[0].startswith("error: https://127.0.0.1:9/acme/app.git: git clone failed")
