"""The triage demo's scenarios (examples/scenarios/*-triage-*.yaml) against the real support-bot.

The nightly triage turns the support-bot's two known defects (its README, "Known defects") into findings,
and the implement, review and e2e phases work on each as on a ticket while the offline model plays these
scenarios. Checked here without the CLI or a model:

- the files load as the offline model and ``factory check --scenarios`` load them, and clash with none;
- each phase's real prompt for each finding (the ticket built by ``FindingTickets`` from a finding made
  by the triage's own Sentry and Langfuse readers) picks that finding's scenario, and a review picks the
  passing one only with the fix in the diff and the app's suite passing in the evidence;
- each implement scenario, replayed on a copy of the app as the CLI's tools would play it (Read, Edit of
  a file read before with an ``old_string`` found exactly once, Bash run for real), first adds tests
  that fail on the unfixed app (it reproduces the defect), then fixes it: the app's suite passes; both
  fixes together pass it too and bring Acme Shop's eval to 1.0;
- each e2e scenario's report cites the screenshots its own tool calls take, on the right pages.

The app runs from the venv of its pinned requirements that ``orchestration.local.traffic`` keeps in a
cache directory (installed once).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from jobs.artifacts import write_model
from jobs.artifacts.local import DirectoryStore
from jobs.mcp.browser import slug
from jobs.phases.e2e.browser_agent import BrowserCheck, browser_prompt
from jobs.phases.e2e.report import evidence_problems, origin, parse_report
from jobs.phases.implement.phase import _prompt as implement_prompt
from jobs.phases.kit.budget import PhaseBudget
from jobs.phases.review.evidence import CheckRun, parse_counts
from jobs.phases.review.reviewer import RoundInputs, review_prompt
from jobs.phases.review.verdict import parse_review
from jobs.services import Services
from jobs.target_config import TargetConfig, parse_target_config
from jobs.tickets import Ticket
from jobs.triage.collect import LangfuseSource, SentrySource
from jobs.triage.config import TriageConfig
from jobs.triage.findings import Finding, sanitized
from jobs.triage.langfuse import LangfuseClient, LangfuseScore, LangfuseTrace
from jobs.triage.ledger import evidence_key
from jobs.triage.sentry import SentryClient, SentryEvent, SentryIssue
from jobs.triage.tickets import FindingTickets
from jobs.workspace.git import Git
from jobs.workspace.repo import Workspace
from orchestration.local.check import check_scenarios
from orchestration.local.offline_model import Scenario, ScenarioBook
from orchestration.local.offline_model.scenarios import substitute
from orchestration.local.traffic import app_python, default_cache_dir
from tests.conftest import EXAMPLES, TEST_SCENARIOS

APP = EXAMPLES / "support-bot"
SCENARIOS = EXAMPLES / "scenarios"
ACME = "acme-shop.example"
DEFECTS = ("empty-message", "refund-routing")
NAMES = sorted(
    name
    for defect in DEFECTS
    for name in (
        f"implement-triage-{defect}",
        f"review-triage-{defect}",
        f"review-triage-{defect}-not-ready",
        f"e2e-triage-{defect}",
    )
)
# The tests each implement scenario adds that must fail on the unfixed app: the reproduction.
REPRODUCING = {
    "empty-message": [
        "tests/test_api_chat.py::test_a_message_with_no_words_gets_the_fallback",
        "tests/test_routing.py::test_a_message_with_no_words_is_no_greeting",
    ],
    "refund-routing": [
        "tests/test_engine.py::test_refund_and_return_window_questions_get_the_refund_policy",
        f"tests/test_eval.py::test_the_shipped_evaluations_pass_every_case[{ACME}]",
    ],
}
# The diff line a passing review needs (the fix itself), per defect.
FIX_LINES = {
    "empty-message": (
        "+    return 0 < len(message_words) <= MAX_GREETING_WORDS and message_words[0] in GREETING_WORDS"
    ),
    "refund-routing": "-  - how long",
}
COMMAND_SECONDS = 180
FAILED_LINE = re.compile(r"^FAILED (.+?)(?: - .*)?$", re.MULTILINE)


def load(name: str) -> Scenario:
    [scenario] = ScenarioBook.load(SCENARIOS / f"{name}.yaml").scenarios
    return scenario


# --- replaying an implement scenario on a copy of the app ------------------------------------------------


@dataclass
class Ran:
    """One Bash call of the scenario, run for real, and the files edited before it."""

    command: str
    exit_code: int
    output: str
    edited_before: list[str]


@dataclass
class Played:
    """A copy of the app after one implement scenario: its Bash runs and its diff against the start."""

    workspace: Path
    runs: list[Ran] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    diff: str = ""
    diff_stat: str = ""


def app_env() -> dict[str, str]:
    """What the app's commands get: no database URL or DSN from this process, UTF-8 output."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@localhost",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@localhost",
    }


def sh(command: str, cwd: Path) -> tuple[int, str]:
    run = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=app_env(),
        capture_output=True,
        text=True,
        errors="replace",
        timeout=COMMAND_SECONDS,
        check=False,
    )
    return run.returncode, run.stdout + run.stderr


def app_copy(where: Path, venv: Path) -> Path:
    """The app as a clone would hold it (one commit), with its venv where .factory.yaml installs it."""
    ignore = shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache", "instance")
    shutil.copytree(APP, where, ignore=ignore)
    code, out = sh("git init -q -b main && git add -A && git commit -q -m base", where)
    assert code == 0, out
    (where / ".venv").symlink_to(venv, target_is_directory=True)
    return where


def replay(scenario: Scenario, played: Played, *, run_bash: bool = True) -> None:
    """Play the scenario's tool calls as the CLI's tools would, failing on any the CLI would refuse."""
    workspace = played.workspace
    read: set[Path] = set()
    for turn in scenario.turns:
        for use in turn.tool_uses:
            args = substitute(use.input, {"workspace": str(workspace)})
            if use.name == "Bash":
                command = args["command"]
                assert command.startswith(f"cd {workspace} && "), command
                if run_bash:
                    code, out = sh(command, workspace)
                    played.runs.append(Ran(command, code, out, list(played.edited)))
                continue
            path = Path(args["file_path"])
            assert path.is_relative_to(workspace), f"{scenario.name}: {path} is outside the workspace"
            assert path.is_file(), f"{scenario.name}: {use.name} of a missing file {path}"
            if use.name == "Read":
                read.add(path)
            elif use.name == "Edit":
                assert path in read, f"{scenario.name}: Edit of {path}, never read (the CLI refuses it)"
                text = path.read_text(encoding="utf-8")
                old, new = args["old_string"], args["new_string"]
                assert text.count(old) == 1, f"{scenario.name}: old_string found {text.count(old)}x in {path}"
                path.write_text(text.replace(old, new, 1), encoding="utf-8")
                played.edited.append(str(path.relative_to(workspace)))
            else:
                pytest.fail(f"{scenario.name}: unexpected tool {use.name}")


@pytest.fixture(scope="module")
def venv() -> Path:
    python = app_python(APP, default_cache_dir(), print)
    return python.parent.parent


@pytest.fixture(scope="module")
def played(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Played]:
    """Each implement scenario played alone on its own copy of the app."""
    out: dict[str, Played] = {}
    for defect in DEFECTS:
        result = Played(app_copy(tmp_path_factory.mktemp(defect) / "support-bot", venv))
        replay(load(f"implement-triage-{defect}"), result)
        untracked = sh("git ls-files --others --exclude-standard", result.workspace)[1].split()
        assert untracked == [".venv"], untracked  # no file the scenario left behind besides the venv link
        result.diff = sh("git diff HEAD", result.workspace)[1]
        result.diff_stat = sh("git diff --stat HEAD", result.workspace)[1]
        out[defect] = result
    return out


# --- the files ----------------------------------------------------------------------------------------


def test_the_triage_scenarios_load_and_clash_with_no_other() -> None:
    found, count = check_scenarios(SCENARIOS)
    assert [f.line() for f in found if not f.warning or "-triage-" in f.where] == []
    assert count >= len(NAMES)
    files = sorted(path.stem for path in SCENARIOS.glob("*-triage-*.yaml"))
    assert files == NAMES
    assert sorted(load(name).name for name in files) == NAMES  # each named after its file


@pytest.mark.parametrize("defect", DEFECTS)
def test_the_review_verdicts_pass_and_fail_as_their_names_say(defect: str) -> None:
    ready = load(f"review-triage-{defect}")
    not_ready = load(f"review-triage-{defect}-not-ready")
    assert parse_review(ready.turns[-1].text or "").passed
    assert not parse_review(not_ready.turns[-1].text or "").passed
    assert set(not_ready.match) < set(ready.match)  # fewer strings: it plays only when the other cannot
    assert FIX_LINES[defect] in ready.match


# --- the implement scenarios on the real app -------------------------------------------------------------


@pytest.mark.parametrize("defect", DEFECTS)
def test_the_implement_scenario_reproduces_the_defect_then_fixes_it(
    defect: str, played: dict[str, Played]
) -> None:
    result = played[defect]
    # The reproduction: the last run before the first edit outside tests/, with only tests edited.
    first_fix = next(n for n, path in enumerate(result.edited) if not path.startswith("tests/"))
    before_fix = [run for run in result.runs if len(run.edited_before) <= first_fix]
    reproduce = before_fix[-1]
    assert reproduce.edited_before and all(p.startswith("tests/") for p in reproduce.edited_before)
    failed = FAILED_LINE.findall(reproduce.output)  # test ids, with their parameters
    missing = [t for t in REPRODUCING[defect] if not any(f == t or f.startswith(f"{t}[") for f in failed)]
    assert reproduce.exit_code == 1 and missing == [], reproduce.output[-3000:]
    # The fix: the scenario's last run is the app's whole suite, and it passes.
    final = result.runs[-1]
    assert final.command.endswith(".venv/bin/python -m pytest -q") and len(final.edited_before) == len(
        result.edited
    )
    summary = final.output.strip().splitlines()[-1]
    assert final.exit_code == 0 and " passed" in summary and "failed" not in summary, final.output[-3000:]
    assert FIX_LINES[defect] in result.diff.splitlines()
    print(f"\n{defect}: reproduced ({len(failed)} failing), fixed: {summary}")


def test_both_fixes_together_pass_the_suite_and_acme_s_eval(
    played: dict[str, Played], tmp_path: Path, venv: Path
) -> None:
    """The two findings' branches merge cleanly: on one copy, the suite passes and every eval case does."""
    both = Played(app_copy(tmp_path / "support-bot", venv))
    for defect in DEFECTS:
        replay(load(f"implement-triage-{defect}"), both, run_bash=False)
    code, out = sh(".venv/bin/python -m pytest -q", both.workspace)
    assert code == 0, out[-3000:]
    for client in (ACME, "northwind-travel.example"):
        code, out = sh(f".venv/bin/python -m support_bot.eval --client {client} --json", both.workspace)
        report = json.loads(out) if code == 0 else {}
        assert report.get("accuracy") == 1.0, out[-3000:]
    alone = played["empty-message"].workspace  # its fix alone leaves the refund defect
    _, before = sh(f".venv/bin/python -m support_bot.eval --client {ACME} --json", alone)
    assert json.loads(before)["accuracy"] < 1.0


# --- the prompts pick the scenarios ------------------------------------------------------------------------


class FakeSentry:
    """What the Sentry read API answers for the support-bot's IndexError issue, as SentrySource reads it."""

    def __init__(self, app: Path) -> None:
        self.app = app

    def issues(self, org: str, project: int | str, **_: Any) -> Iterator[SentryIssue]:
        yield SentryIssue.model_validate(
            {
                "id": "4",
                "shortId": "SUPPORT-BOT-4",
                "title": "IndexError: list index out of range",
                "culprit": "/api/chat",
                "permalink": "http://127.0.0.1:9000/organizations/factory/issues/4/",
                "status": "unresolved",
                "count": "5",
                "userCount": 5,
                "firstSeen": "2026-12-03T08:15:00Z",
                "lastSeen": "2026-12-03T13:09:00Z",
            }
        )

    def latest_event(self, issue_id: str, *, org: str | None = None) -> SentryEvent:
        frames = [
            self.frame("support_bot/backend/api.py", "chat", "answer = bot.answer(message)"),
            self.frame("support_bot/engine.py", "answer", "chosen = route(message, self.files.skills)"),
            self.frame("support_bot/routing.py", "route", "if is_greeting(words(message)):"),
            self.frame("support_bot/routing.py", "is_greeting", "and message_words[0] in GREETING_WORDS"),
        ]
        exception = {
            "type": "IndexError",
            "value": "list index out of range",
            "stacktrace": {"frames": frames},
        }
        return SentryEvent.model_validate(
            {
                "eventID": "e" * 32,
                "groupID": issue_id,
                "entries": [{"type": "exception", "data": {"values": [exception]}}],
                "fingerprints": ["f" * 32],
            }
        )

    def frame(self, file: str, function: str, code: str) -> dict[str, Any]:
        lines = (self.app / file).read_text(encoding="utf-8").splitlines()
        number = next(n for n, line in enumerate(lines, 1) if code in line)
        return {
            "filename": file,
            "function": function,
            "lineNo": number,
            "inApp": True,
            "context": [[number, lines[number - 1]]],
        }


class FakeLangfuse:
    """What the Langfuse read API answers for the day's thumbs down on Acme's refund questions."""

    QUESTIONS = (
        "How long do refunds take?",
        "When will my refund arrive?",
        "How long until I get my money back?",
    )
    ANSWER = (
        "Happy to help! Here is how delivery works at Acme Shop: Standard delivery takes 3-5 business days."
    )

    def __init__(self, now: datetime) -> None:
        self.now = now

    def scores(self, name: str | None = None, **_: Any) -> Iterator[LangfuseScore]:
        for n in range(len(self.QUESTIONS)):
            yield LangfuseScore(id=f"s{n}", name="user-feedback", value=0.0, trace_id=f"t{n}")

    def trace(self, trace_id: str, *, from_ts: datetime, to_ts: datetime) -> LangfuseTrace:
        n = int(trace_id[1:])
        return LangfuseTrace(
            id=trace_id,
            name="chat-turn",
            timestamp=self.now - timedelta(hours=n + 1),
            input=self.QUESTIONS[n],
            output=self.ANSWER,
            tags=[f"client:{ACME}", "skill:shipping"],
            session_id=f"{ACME}:acme-{n}",
        )

    def observations(self, *_: Any, **__: Any) -> Iterator[Any]:
        return iter(())


def findings(config: TriageConfig) -> dict[str, Finding]:
    """The two findings as the triage's own sources make them of what the services answer, sanitized."""
    assert config.sentry is not None and config.langfuse is not None
    now = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    sentry = SentrySource(cast(SentryClient, FakeSentry(APP)), config.sentry, config.window_hours)
    langfuse = LangfuseSource(
        cast(LangfuseClient, FakeLangfuse(now)), config.langfuse, config.window_hours, "http://127.0.0.1:3000"
    )
    [crash] = sentry.collect()
    [refunds] = langfuse.collect(now)
    return {
        "empty-message": sanitized(crash, lambda text: text, config.max_evidence_bytes),
        "refund-routing": sanitized(refunds, lambda text: text, config.max_evidence_bytes),
    }


def chosen(book: ScenarioBook, prompt: str) -> str:
    return book.choose({"messages": [{"role": "user", "content": prompt}]}).name


def suite_check(output: str, config: TargetConfig, exit_code: int = 0) -> CheckRun:
    assert config.test is not None
    return CheckRun(
        name="test",
        command=config.test,
        exit_code=exit_code,
        seconds=3.0,
        counts=parse_counts(output),
        output_tail=output[-4000:],
    )


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_phase_s_prompt_for_the_finding_picks_its_scenario(
    defect: str, played: dict[str, Played], tmp_path: Path
) -> None:
    config = parse_target_config((APP / ".factory.yaml").read_text(encoding="utf-8"))
    assert config.triage is not None
    finding = findings(config.triage)[defect]
    store = DirectoryStore(tmp_path / "artifacts")
    identifier = "BUG-4821906"
    write_model(store, evidence_key(identifier), finding)
    ticket: Ticket = FindingTickets(store).get(identifier)
    book = ScenarioBook.load(SCENARIOS, TEST_SCENARIOS)  # all the offline model of the tests plays
    result = played[defect]
    workspace = Workspace(Git(), str(result.workspace), result.workspace, "factory/bug-4821906", "main")

    assert chosen(book, implement_prompt(ticket, workspace, config.test)) == f"implement-triage-{defect}"

    suite = result.runs[-1]
    check = suite_check(suite.output, config)

    def review(diff: str, checks: list[CheckRun]) -> str:
        inputs = RoundInputs(
            ticket=ticket,
            workspace=workspace,
            checks=checks,
            diff=diff,
            diff_stat=result.diff_stat,
            round=1,
            max_rounds=3,
            model="claude-sonnet",
        )
        return chosen(book, review_prompt(inputs, None))

    assert review(result.diff, [check]) == f"review-triage-{defect}"
    failing = suite_check(suite.output.replace(" passed", " passed, 1 failed"), config, exit_code=1)
    assert review(result.diff, [failing]) == f"review-triage-{defect}-not-ready"
    unfixed = "\n".join(line for line in result.diff.splitlines() if not line.startswith(FIX_LINES[defect]))
    assert review(unfixed, [check]) == f"review-triage-{defect}-not-ready"

    browser = BrowserCheck(
        services=cast(Services, None),
        budget=cast(PhaseBudget, None),
        ticket=ticket,
        run_id="run-1",
        attempt=1,
        max_attempts=2,
        workspace=workspace,
        config=config,
        shots=tmp_path / "shots",
        diff=result.diff,
        diff_stat=result.diff_stat,
        required=[],
    )
    assert chosen(book, browser_prompt(browser, None)) == f"e2e-triage-{defect}"


# --- the e2e reports --------------------------------------------------------------------------------------


@pytest.mark.parametrize("defect", DEFECTS)
def test_the_e2e_report_cites_the_screenshots_its_own_calls_take(defect: str) -> None:
    """Numbered as the browser tool numbers them on a first attempt, each on the page it names."""
    config = parse_target_config((APP / ".factory.yaml").read_text(encoding="utf-8"))
    assert config.e2e is not None
    pages = {page.name: page.url for page in config.e2e.pages}
    scenario = load(f"e2e-triage-{defect}")
    taken: dict[str, dict[str, str]] = {}
    url = ""
    for turn in scenario.turns:
        for use in turn.tool_uses:
            if use.name == "mcp__browser__navigate":
                url = use.input["url"]
                assert origin(url) in {origin(page) for page in pages.values()}, url
            elif use.name == "mcp__browser__screenshot":
                file = f"{len(taken) + 1:02d}-{slug(use.input['name'])}.png"
                taken[file] = {"file": file, "url": url}
    report = parse_report(scenario.turns[-1].text or "")
    assert evidence_problems(report, taken, pages) == []
    assert all(item.passed for item in report.checklist)
    assert {item.screenshot for item in report.checklist} == set(taken)  # every screenshot is cited
