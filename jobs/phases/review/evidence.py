"""Machine evidence for the reviewer: the target's own checks, run by our code, not by any agent.

The reviewer is told what the test command (and lint and type checks, where the target configures them)
printed and how they ended, so its scores rest on facts nobody in the loop could have written for it.
Counts are read from the summary lines unittest and pytest print; other runners give the exit code only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from jobs.sandbox import AppSide, Box
from jobs.target_config import TargetConfig
from jobs.workspace.shell import run_repo_command

OUTPUT_TAIL = 4_000
CheckName = Literal["test", "lint", "typecheck"]

_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in ", re.MULTILINE)
_UNITTEST_END = re.compile(r"^(OK|FAILED)(?: \(([^)]*)\))?\s*$", re.MULTILINE)
_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b")
_PYTEST_SUMMARY = re.compile(r"^=*\s*(\d+ (?:passed|failed|errors?|skipped).*) in [\d.]+s", re.MULTILINE)


class RunCounts(BaseModel):
    """What a test runner's summary says; None where it said nothing we could read."""

    model_config = ConfigDict(extra="forbid")
    passed: int | None = None
    failed: int | None = None
    errors: int | None = None
    skipped: int | None = None


class CheckRun(BaseModel):
    """One check as our code ran it."""

    model_config = ConfigDict(extra="forbid")
    name: CheckName
    command: str
    exit_code: int | None
    timed_out: bool = False
    seconds: float
    counts: RunCounts = RunCounts()
    output_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def parse_counts(output: str) -> RunCounts:
    """Counts from the last unittest or pytest summary in ``output``."""
    ran = _UNITTEST_RAN.findall(output)
    ends = _UNITTEST_END.findall(output)
    if ran and ends:
        fields = dict(_pairs(ends[-1][1]))
        failed, errors, skipped = (fields.get(k, 0) for k in ("failures", "errors", "skipped"))
        total = int(ran[-1])
        return RunCounts(
            passed=max(total - failed - errors - skipped, 0), failed=failed, errors=errors, skipped=skipped
        )
    summaries = _PYTEST_SUMMARY.findall(output)
    if summaries:
        found: dict[str, int] = {}
        for number, word in _PYTEST_COUNT.findall(summaries[-1]):
            key = "errors" if word.startswith("error") else word
            found[key] = found.get(key, 0) + int(number)
        return RunCounts(
            passed=found.get("passed", 0) + found.get("xpassed", 0),
            failed=found.get("failed", 0),
            errors=found.get("errors", 0),
            skipped=found.get("skipped", 0) + found.get("xfailed", 0),
        )
    return RunCounts()


def _pairs(text: str) -> list[tuple[str, int]]:
    out = []
    for part in text.split(","):
        name, _, number = part.strip().partition("=")
        if number.isdigit():
            out.append((name.strip(), int(number)))
    return out


def run_checks(
    config: TargetConfig,
    cwd: Path,
    redact: Callable[[str], str],
    time_left: Callable[[float], float] = lambda limit: limit,
    box: Box | None = None,
    app: AppSide | None = None,
) -> list[CheckRun]:
    """Run the configured test, lint and typecheck commands; their output is redacted and clamped.

    ``time_left`` turns a command's own timeout into what the phase can still give it. The review runs
    them on the ``app``'s side of the box (its uid and configuration: jobs/sandbox/app.py).
    """
    commands: list[tuple[CheckName, str | None]] = [
        ("test", config.test),
        ("lint", config.lint),
        ("typecheck", config.typecheck),
    ]
    runs = []
    for name, command in commands:
        if not command:
            continue
        run = run_repo_command(command, cwd, time_left(config.check_timeout_seconds), box, app=app)
        output = redact(run.output)
        runs.append(
            CheckRun(
                name=name,
                command=command,
                exit_code=run.exit_code,
                timed_out=run.timed_out,
                seconds=run.seconds,
                counts=parse_counts(output) if name == "test" else RunCounts(),
                output_tail=output[-OUTPUT_TAIL:],
            )
        )
    return runs


def describe(run: CheckRun) -> str:
    """One line: how the check ended and, for tests, the counts."""
    ending = f"killed after {run.seconds:.0f}s (timeout)" if run.timed_out else f"exit {run.exit_code}"
    counts = run.counts
    if counts.passed is not None:
        ending += f", {counts.passed} passed, {counts.failed} failed, {counts.errors} errors"
        if counts.skipped:
            ending += f", {counts.skipped} skipped"
    return f"{run.name}: `{run.command}` - {ending}"
