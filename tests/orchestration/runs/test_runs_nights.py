"""``factory runs`` with nights (issue 19: "run id, job, ticket or finding or client ..."): a night is
listed by its date with the outcome its triage and closing step give it, its fixes' chains by their
finding; ``runs show`` prints a night's findings table, and a chain the night it came from. Nights are
made by the real triage and closing jobs in-process (``nights.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from jobs.artifacts import DirectoryStore
from jobs.report import load_run
from orchestration.runs.catalog import Filters, list_runs
from tests.orchestration.runs.build import T0, build_run
from tests.orchestration.runs.nights import MadeNight, make_night, tonight
from tests.orchestration.runs.test_runs_cli import factory, rows


@dataclass
class Prefix:
    root: Path
    night: MadeNight  # 2026-12-04: two fixes, one failed in implement

    @property
    def passed(self) -> tuple[str, str]:
        chosen = self.night.triage.selected[0]
        return chosen.identifier, chosen.run_id

    @property
    def failed(self) -> tuple[str, str]:
        chosen = self.night.triage.selected[1]
        return chosen.identifier, chosen.run_id


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Prefix:
    """A ticket's run, then a report-only night, a night with two fixes, and that night fired again."""
    tmp = tmp_path_factory.mktemp("nights")
    artifacts = tmp / "artifacts"
    build_run(DirectoryStore(artifacts), "ix-101-a", started=T0)
    make_night(tmp, tonight(), run_id="night-0", night="2026-12-03", report_only=True, artifacts=artifacts)
    night = make_night(tmp, tonight(), chains={1: {"implement": "failed"}}, artifacts=artifacts)
    make_night(tmp, tonight(), run_id="night-again", close=False, artifacts=artifacts)
    return Prefix(artifacts, night)


def listed(prefix: Prefix, *args: str) -> list[list[str]]:
    code, out, err = factory("runs", "--artifacts", str(prefix.root), *args)
    assert code == 0, err
    return rows(out)


def test_nights_are_listed_by_their_date_with_the_outcome_their_triage_and_close_give(prefix: Prefix) -> None:
    (passed_id, passed_run), (failed_id, failed_run) = prefix.passed, prefix.failed
    table = {row[0]: row for row in listed(prefix)}
    night = ["solve-chatbot-issues", "night 2026-12-04"]
    assert [table["night-again"][i] for i in (1, 2, 5, 6, 7, 8, 9)] == [
        *night,
        "-",
        "-",
        "-",
        "$0.0000",
        "already-claimed",
    ]
    assert [table["night-1"][i] for i in (1, 2, 5, 6, 7, 9)] == [*night, "-", "-", "-", "flagged"]
    assert [table["night-0"][i] for i in (1, 2, 9)] == [
        "solve-chatbot-issues",
        "night 2026-12-03 (report only)",
        "done",
    ]
    # Each fix's chain is a run of its own, named by its finding, read as a ticket's run.
    assert table[passed_run][1:3] + table[passed_run][5:] == [
        "solve-chatbot-issues",
        passed_id,
        "done",
        "passed",
        "verified",
        "$0.2800",
        "passed",
    ]
    assert table[failed_run][2] == failed_id and table[failed_run][5:8] == ["failed", "pending", "pending"]
    assert table["ix-101-a"][1:3] == ["solve-linear-ticket", "IX-101"]
    assert list(table)[-1] == "ix-101-a" and len(table) == 6


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--job", "solve-linear-ticket"), ["ix-101-a"]),
        (("--job", "solve-chatbot-issues"), ["night-again", "FAILED", "PASSED", "night-1", "night-0"]),
        (("--status", "already-claimed"), ["night-again"]),
        (("--status", "flagged"), ["night-1"]),
        # done: a night's outcome (night-0), its triage's status (night-1), a chain's implement.
        (("--job", "solve-chatbot-issues", "--status", "done"), ["PASSED", "night-1", "night-0"]),
        (("--ticket", "FAILED-ID"), ["FAILED"]),
    ],
)
def test_filters_keep_working_with_nights(prefix: Prefix, args: tuple[str, ...], expected: list[str]) -> None:
    names = {
        "PASSED": prefix.passed[1],
        "FAILED": prefix.failed[1],
        "FAILED-ID": prefix.failed[0].lower(),  # any case
    }
    found = [row[0] for row in listed(prefix, *[names.get(arg, arg) for arg in args])]
    assert found == [names.get(name, name) for name in expected]


def test_a_night_has_its_own_phases_and_a_chain_a_tickets(prefix: Prefix) -> None:
    store = DirectoryStore(prefix.root)
    night, chain = load_run(store, "night-1"), load_run(store, prefix.passed[1])
    again = load_run(store, "night-again")
    assert (night.phases, night.pending, night.outcome) == (("triage", "triage-close"), [], "flagged")
    assert (again.phases, again.pending, again.outcome) == (("triage",), [], "already-claimed")
    assert (chain.phases, chain.pending, chain.outcome) == (("implement", "review", "e2e"), [], "passed")
    assert chain.from_night is not None and (chain.from_night.run_id, chain.from_night.night) == (
        "night-1",
        "2026-12-04",
    )
    page = list_runs(store, Filters(job="solve-chatbot-issues"), limit=100)
    assert {f.run_id for f in page.runs if f.is_night} == {"night-0", "night-1", "night-again"}


def test_show_prints_a_nights_findings_decisions_fixes_and_closing_line(prefix: Prefix) -> None:
    (passed_id, passed_run), (failed_id, _) = prefix.passed, prefix.failed
    code, out, _ = factory("runs", "show", "night-1", "--artifacts", str(prefix.root))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "night 2026-12-04  Nightly triage of 2026-12-04"
    about = {
        line.split(maxsplit=1)[0]: line.split(maxsplit=1)[1].strip() for line in lines[1:12] if line.strip()
    }
    assert (
        about["outcome"] == "flagged"
        and about["night"] == "2026-12-04"
        and about["mode"] == "fix, 2 at a time"
    )
    assert about["findings"].endswith("/runs/night-1/triage/findings.json")
    start = lines.index(next(line for line in lines if line.startswith("Findings (4)")))
    entries = [
        [cell.strip() for cell in line.split("│")]
        for line in lines[start:]
        if line.count("│") == 8 and line.split("│")[0].strip()  # a row's first line (cells wrap)
    ]
    assert [[row[i] for i in (0, 2, 3, 4, 6, 7)] for row in entries] == [
        ["langfuse", "6", "6", "regression", passed_id, "passed"],
        ["sentry", "9", "3", "new", failed_id, "failed"],
        ["sentry", "4", "1", "over-cap", "-", ""],
        ["sentry", "1", "1", "below-threshold", "-", ""],
    ]
    assert entries[0][8].startswith("https://github.com/acme/app/p") and entries[1][8] == "-"
    assert "TypeError: reply() got None" in out and "failed: implement ended failed" in out
    assert f"run {passed_run}" in out
    assert (
        "closed: night 2026-12-04: 4 found, 1 new, 0 duplicate, 1 regression, 1 PR(s) opened, 1 failed" in out
    )
    phases = [[c.strip() for c in line.split("│")] for line in lines if line.count("│") == 6]
    assert [(row[0], row[1], row[5]) for row in phases] == [
        ("triage", "done", "4 found, 2 to fix"),
        ("close the night", "done", "1 PR(s), 1 fix(es) failed"),
    ]


def test_show_of_a_chain_names_its_night_and_only_its_own_phases(prefix: Prefix) -> None:
    identifier, run_id = prefix.passed
    code, out, _ = factory("runs", "show", run_id, "--artifacts", str(prefix.root))
    assert code == 0, out
    assert out.splitlines()[0].startswith(f"{identifier}  user-feedback")
    assert "night         2026-12-04, run night-1 (a finding of that night)" in out
    lines = out.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("Phases"))) :]
    phases = [line.split("│")[0].strip() for line in table[: table.index("")] if line.count("│") == 6]
    assert phases == ["implement", "review", "e2e-verify"]


def test_show_prints_finding_text_as_text(tmp_path: Path) -> None:
    hostile = tonight()[0].model_copy(
        update={"title": "[bold red]pwned[/] \x1b[2J\x1b]0;title\x07 done\u202e"}
    )
    made = make_night(tmp_path, [hostile], run_id="night-x")
    code, out, _ = factory("runs", "show", "night-x", "--artifacts", str(made.root))
    assert code == 0
    assert "[bold red]pwned[/]" in out  # not rich markup
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out  # no terminal control
