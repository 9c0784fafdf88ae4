"""``factory runs``, ``runs show`` and ``runs open`` as a person types them (issue 19, part 1)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.artifacts import DirectoryStore
from orchestration.cli import app
from orchestration.runs.opener import browser_url, has_display, open_in_browser
from tests.orchestration.runs.build import T0, build_onboarding, build_run


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    store = DirectoryStore(tmp_path / "artifacts")
    build_run(store, "ix-101-a", started=T0)
    build_run(store, "ix-102-b", ticket="IX-102", started=T0 + timedelta(hours=1), review="failed_after_max")
    build_run(store, "ix-103-c", ticket="IX-103", started=T0 + timedelta(hours=2), implement="failed")
    return store.root


def factory(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def rows(output: str) -> list[list[str]]:
    """The listing's data rows, split on the table's column bars."""
    return [
        [cell.strip() for cell in line.split("│")] for line in output.splitlines() if line.count("│") >= 9
    ]


def test_the_listing_shows_each_run_newest_first_with_its_phases_cost_and_outcome(prefix: Path) -> None:
    code, out, _ = factory("runs", "--artifacts", str(prefix))
    assert code == 0, out
    assert rows(out) == [
        [
            "ix-103-c",
            "solve-linear-ticket",
            "IX-103",
            "2026-11-01 11:00:00",
            "40.0 s",
            "failed",
            "pending",
            "pending",
            "$0.1000",
            "failed",
        ],
        [
            "ix-102-b",
            "solve-linear-ticket",
            "IX-102",
            "2026-11-01 10:00:00",
            "2 min 30 s",
            "done",
            "failed after max",
            "verified",
            "$0.2800",
            "flagged",
        ],
        [
            "ix-101-a",
            "solve-linear-ticket",
            "IX-101",
            "2026-11-01 09:00:00",
            "2 min 30 s",
            "done",
            "passed",
            "verified",
            "$0.2800",
            "passed",
        ],
    ]
    assert "runs 1-3 of 3 (times in UTC), newest first" in out


def test_filters_and_pages_on_the_command_line(prefix: Path) -> None:
    _, out, _ = factory("runs", "--artifacts", str(prefix), "--status", "flagged")
    assert [row[0] for row in rows(out)] == ["ix-102-b"]
    _, out, _ = factory("runs", "--artifacts", str(prefix), "--ticket", "ix-101")
    assert [row[0] for row in rows(out)] == ["ix-101-a"]
    _, out, _ = factory("runs", "--artifacts", str(prefix), "--limit", "2")
    assert [row[0] for row in rows(out)] == ["ix-103-c", "ix-102-b"] and "next: --page 2" in out
    _, out, _ = factory("runs", "--artifacts", str(prefix), "--limit", "2", "--page", "2")
    assert [row[0] for row in rows(out)] == ["ix-101-a"] and "runs 3-3 of 3" in out
    _, out, _ = factory("runs", "--artifacts", str(prefix), "--job", "onboard-client")
    assert out.strip() == "no runs match"  # this prefix holds no onboarding


@pytest.fixture
def onboardings(tmp_path: Path) -> Path:
    """A ticket's run, a full onboarding through review and e2e, and an eval-only one."""
    store = DirectoryStore(tmp_path / "artifacts")
    build_run(store, "ix-101-a", started=T0)
    build_onboarding(store, "onb-full", started=T0 + timedelta(hours=1), needs_human=("look at [bold]me[/]",))
    build_onboarding(store, "onb-eval", started=T0 + timedelta(hours=2), mode="eval-only")
    return store.root


def test_onboardings_are_listed_by_client_and_mode_and_kept_by_job(onboardings: Path) -> None:
    code, out, err = factory("runs", "--artifacts", str(onboardings))
    assert code == 0, err
    table = {row[0]: row for row in rows(out)}
    assert table["onb-eval"][1:3] + table["onb-eval"][5:] == [
        "onboard-client",
        "acme-shop.example (eval-only)",
        "onboard: done",
        "-",
        "-",
        "$0.0000",
        "done",
    ]
    assert table["onb-full"][1:3] + table["onb-full"][5:] == [
        "onboard-client",
        "acme-shop.example (full)",
        "onboard: done",
        "passed",
        "verified",
        "$0.5300",
        "flagged",  # the onboarding flagged something for a human
    ]
    assert table["ix-101-a"][1:3] == ["solve-linear-ticket", "IX-101"]
    _, out, _ = factory("runs", "--artifacts", str(onboardings), "--job", "onboard-client")
    assert [row[0] for row in rows(out)] == ["onb-eval", "onb-full"]
    _, out, _ = factory("runs", "--artifacts", str(onboardings), "--job", "solve-linear-ticket")
    assert [row[0] for row in rows(out)] == ["ix-101-a"]
    _, out, _ = factory("runs", "--artifacts", str(onboardings), "--status", "done")
    assert [row[0] for row in rows(out)] == ["onb-eval", "onb-full", "ix-101-a"]  # any phase's status


def test_show_prints_an_onboardings_summary_lines_and_its_phases(onboardings: Path) -> None:
    code, out, err = factory("runs", "show", "onb-full", "--artifacts", str(onboardings))
    assert code == 0, err
    assert "acme-shop.example (full)  Onboarding of acme-shop.example" in out
    assert "onboard acme-shop.example (full): done" in out
    assert "baseline: tuning 64% (16/25), held-out 64% (7/11)" in out
    assert "round 1 (tune): tuning 80% (20/25), held-out 73% (8/11), kept" in out
    assert "round 2 (tune): tuning 72% (18/25), held-out 82% (9/11), undone: the tuning accuracy fell" in out
    assert "final: tuning 80% (20/25), held-out 73% (8/11)" in out
    assert "needs a human: look at [bold]me[/]" in out, "printed as text, not rich markup"
    assert "pushed factory/onboard/acme-shop.example-full (1 commit(s))" in out
    assert "factory/onboard/acme-shop.example-full -> main" in out
    phase = next(line for line in out.splitlines() if line.strip().startswith("onboard  "))
    assert "2 round(s), held-out 8/11" in phase
    assert "#9 https://github.com/acme/app/pull/9" in out
    code, out, _ = factory("runs", "show", "onb-eval", "--artifacts", str(onboardings))
    assert code == 0 and "onboard acme-shop.example (eval-only): done" in out
    assert "review" not in out.split("Phases", 1)[1], "an eval-only run ends at its eval"


def test_the_default_prefix_is_the_local_commands_one_and_the_env_var_names_another(
    prefix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = factory("runs")
    assert code == 2 and f"no artifacts at {tmp_path / '.factory'}: no such directory" in err
    prefix.rename(tmp_path / ".factory")
    code, out, _ = factory("runs")
    assert code == 0 and len(rows(out)) == 3
    code, out, _ = factory("runs", env={"ARTIFACTS_PREFIX": str(tmp_path / ".factory")})
    assert code == 0 and len(rows(out)) == 3


def test_wrong_inputs_are_one_line_and_exit_2(prefix: Path, tmp_path: Path) -> None:
    code, out, err = factory("runs", "--artifacts", str(tmp_path / "nope"))
    assert (code, out) == (2, "") and err.strip().count("\n") == 0 and "no such directory" in err
    code, _, err = factory("runs", "--artifacts", str(prefix), "--status", "green")
    assert code == 2 and "--status 'green': use one of" in err
    code, _, err = factory("runs", "show", "ix-104-x", "--artifacts", str(prefix))
    assert code == 2 and "no run 'ix-104-x' under" in err
    code, _, err = factory("runs", "--artifacts", str(prefix), "open", "nope")
    assert code == 2 and "no run 'nope'" in err
    code, _, err = factory("runs", "--artifacts", "ftp://host/x")
    assert code == 2 and "unsupported scheme 'ftp'" in err


def test_show_prints_phases_scores_checks_the_checklist_and_the_links(prefix: Path) -> None:
    code, out, _ = factory("runs", "show", "ix-102", "--artifacts", str(prefix))
    assert code == 0, out
    assert "IX-102  Add a word count to each note" in out
    lines = out.splitlines()

    def row(start: str) -> list[str]:
        found = next(line for line in lines if line.strip().startswith(start))
        return [cell.strip() for cell in found.split("│")]

    assert row("review ")[:5] == ["review", "failed after max", "2026-11-01 10:01:00", "50.0 s", "$0.1000"]
    assert row("documentation") == ["documentation", "2", "2"]  # both rounds failed on it
    assert row("correctness") == ["correctness", "5", "5"]
    assert row("verdict") == ["verdict", "failed", "failed"]
    assert "issue README.md:3 (documentation)" in out and "fix: committed, 1 commit(s): README.md" in out
    assert row("1     │ test")[3:5] == ["1", "3 passed, 1 failed, 0 errors"]  # exit code and counts
    assert row("2     │ test")[3:5] == ["1", "3 passed, 1 failed, 0 errors"]
    assert "The list shows word counts" in out and "01-notes.png" in out
    assert "#7 https://github.com/acme/app/pull/7 (flagged)" in out
    assert "none yet: factory runs open renders it" in out


def test_show_prints_model_and_ticket_text_as_text(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "a")
    build_run(store, "r1", title="[bold red]pwned[/] \x1b[2J\x1b]0;title\x07 done\u202e")
    code, out, _ = factory("runs", "show", "r1", "--artifacts", str(store.root))
    assert code == 0
    assert "[bold red]pwned[/]" in out  # not rich markup
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out  # no terminal control


def test_open_renders_a_missing_report_and_prints_it_without_a_display(prefix: Path) -> None:
    report = prefix / "runs" / "ix-101-a" / "index.html"
    code, out, err = factory("runs", "open", "ix-101-a", "--artifacts", str(prefix), env={"DISPLAY": ""})
    assert code == 0 and out.strip() == report.as_uri()
    assert "rendered the report from the run's artifacts" in err and report.is_file()
    before = report.stat().st_mtime_ns
    code, out, err = factory("runs", "open", "ix-101", "--artifacts", str(prefix), "--print")
    assert (code, out.strip(), err) == (0, report.as_uri(), "") and report.stat().st_mtime_ns == before
    code, _, err = factory("runs", "open", "ix-101", "--artifacts", str(prefix), "--print", "--render")
    assert code == 0 and "rendered" in err and report.stat().st_mtime_ns > before


def test_a_browser_opens_only_where_there_is_a_display() -> None:
    opened: list[str] = []

    def opener(url: str) -> bool:
        opened.append(url)
        return True

    assert not has_display({}, "linux") and has_display({"WAYLAND_DISPLAY": "w"}, "linux")
    assert has_display({"DISPLAY": ":0"}, "linux") and has_display({}, "darwin")
    assert not open_in_browser("file:///r/index.html", display=False, opener=opener) and opened == []
    assert open_in_browser("file:///r/index.html", display=True, opener=opener)
    assert opened == ["file:///r/index.html"]
    assert (
        browser_url("gs://b/p/runs/r/index.html") == "https://storage.cloud.google.com/b/p/runs/r/index.html"
    )
