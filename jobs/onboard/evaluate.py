"""Running the target's eval command, by our code, and reading its figures.

The command prints a JSON object with a ``results`` list, one object per case with its ``id`` and
``pass``; the target's own ``accuracy`` is kept for the record but not believed. Our code counts the
cases of the dataset it gave the command: a case the output leaves out failed, a case it invents is
ignored, so an eval that drops its failures cannot raise the figure. Accuracy of the tuning part and
of the held-out part come from the same run, by case id. The command is the target's code and its
output untrusted: it is redacted, clamped, and what of it reaches an agent is fenced.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobs.onboard.config import ClientPaths
from jobs.onboard.dataset import Split
from jobs.sandbox import Box
from jobs.workspace.shell import run_repo_command

OUTPUT_TAIL = 2_000
MAX_DETAIL = 600


class CaseResult(BaseModel):
    """One case as the eval command judged it; ``detail`` (what it expected and got) only for a
    failure, in the eval's own words (untrusted)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    passed: bool
    detail: str = ""


class PartScore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cases: int
    passed: int

    @property
    def accuracy(self) -> float:
        return self.passed / self.cases if self.cases else 0.0


class EvalRun(BaseModel):
    """One run of the eval command over the whole dataset."""

    model_config = ConfigDict(extra="forbid")
    command: str
    exit_code: int | None
    seconds: float
    tuning: PartScore
    held_out: PartScore
    reported_accuracy: float | None = None  # what the command printed; the figures above are ours
    missing: list[str] = Field(default_factory=list)  # case ids the output did not report (failed)
    failures: list[CaseResult] = Field(default_factory=list)  # of the tuning part only
    held_out_failed: list[str] = Field(default_factory=list)  # ids only: their text stays hidden
    error: str = ""  # why there are no figures (the command failed, its output is not the JSON asked)
    output_tail: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


class EvalFailed(Exception):
    """The eval command did not give figures; the message says why."""


def run_eval(
    paths: ClientPaths,
    dataset_file: str,
    parts: Split,
    cwd: Path,
    timeout: float,
    redact: Callable[[str], str],
    box: Box,
) -> EvalRun:
    """Run the eval over ``dataset_file`` (relative to ``cwd``) in ``box``; the figures per part."""
    command = paths.eval_command(dataset_file)
    run = run_repo_command(command, cwd, timeout, box)
    output = redact(run.output)
    base: dict[str, Any] = {
        "command": command,
        "exit_code": run.exit_code,
        "seconds": run.seconds,
        "tuning": PartScore(cases=len(parts.tuning), passed=0),
        "held_out": PartScore(cases=len(parts.held_out), passed=0),
        "output_tail": output[-OUTPUT_TAIL:],
    }
    try:
        if run.timed_out:
            raise EvalFailed(f"the eval command ran out of time ({timeout:.0f} s)")
        if run.exit_code != 0:
            raise EvalFailed(f"the eval command exited {run.exit_code}")
        report = _report(output)
    except EvalFailed as exc:
        return EvalRun(**base, error=str(exc))
    judged = _judged(report["results"])
    tuning = [judged.get(case.id) for case in parts.tuning]
    held = [judged.get(case.id) for case in parts.held_out]
    reported = report.get("accuracy")
    return EvalRun(
        **(
            base
            | {
                "tuning": PartScore(cases=len(tuning), passed=sum(1 for r in tuning if r and r.passed)),
                "held_out": PartScore(cases=len(held), passed=sum(1 for r in held if r and r.passed)),
                "output_tail": "",  # it names held-out cases: kept only when it explains a failure
            }
        ),
        reported_accuracy=float(reported) if isinstance(reported, int | float) else None,
        missing=[case.id for case in (*parts.tuning, *parts.held_out) if case.id not in judged],
        failures=[
            r or CaseResult(id=case.id, passed=False, detail="(the eval reported nothing for this case)")
            for case, r in zip(parts.tuning, tuning, strict=True)
            if not (r and r.passed)
        ],
        held_out_failed=[
            case.id for case, r in zip(parts.held_out, held, strict=True) if not (r and r.passed)
        ],
    )


def _report(output: str) -> dict[str, Any]:
    """The last JSON object in the output (at the start of a line) that has a ``results`` list: the
    report an eval prints when it ends, whatever it printed before (a file it echoed, say)."""
    decoder = json.JSONDecoder()
    starts = [0] + [i + 1 for i, char in enumerate(output) if char == "\n"]
    for start in reversed(starts):
        if not output.startswith("{", start):
            continue
        try:
            found, _ = decoder.raw_decode(output, start)
        except json.JSONDecodeError:
            continue
        if isinstance(found, dict) and isinstance(found.get("results"), list):
            return found
    raise EvalFailed('the eval command printed no JSON object with a "results" list')


def _judged(results: list[Any]) -> dict[str, CaseResult]:
    """Each reported case by id; a case reported twice counts as passed only if every report says so."""
    judged: dict[str, CaseResult] = {}
    for entry in results:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        passed = entry.get("pass") is True
        detail = "" if passed else _detail(entry)
        earlier = judged.get(entry["id"])
        if earlier is not None:
            passed = passed and earlier.passed
            detail = detail or earlier.detail
        judged[entry["id"]] = CaseResult(id=entry["id"], passed=passed, detail=detail)
    return judged


def _detail(entry: dict[str, Any]) -> str:
    shown = {key: value for key, value in entry.items() if key not in ("id", "pass")}
    text = json.dumps(shown, ensure_ascii=False)
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"
