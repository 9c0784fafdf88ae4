"""A finished local run for people: each phase's result as its package describes it, then the workflow.

Phases are read in the order the job runs them (the phase registry), each from its ``result.json``; the
first phase that wrote none ends the list, saying so.
"""

from __future__ import annotations

import json
from pathlib import Path

from jobs.phases.registry import JOBS, get_phase
from orchestration.local.remote import branch_log
from orchestration.local.run import LocalRun


def print_run_summary(artifacts: Path, run_id: str, job: str = "solve-linear-ticket") -> None:
    """Print each phase's result of run ``run_id`` under the artifact directory ``artifacts``."""
    for name in JOBS[job]:
        phase = get_phase(name)
        result_file = artifacts / "runs" / run_id / phase.name / "result.json"
        if not result_file.is_file():
            print(f"\nno {phase.title} result was written (see the log above): {result_file.parent}")
            return
        result = phase.load_result().model_validate_json(result_file.read_text())
        print(f"\n== Factory: {phase.title} ==")
        for line in phase.load_summary()(result):
            print(line)
        print(f"result      {result_file}")


def print_branch(remote: Path, branch: str, base_branch: str = "main") -> None:
    """The commits the run left on its branch of a local bare remote, oldest first."""
    lines = branch_log(remote, branch, base_branch)
    if lines:
        print(f"\n== Factory: branch {branch} ==")
        for line in lines:
            print(f"  commit    {line}")


def print_workflow(run: LocalRun, e2e_skipped: bool = False) -> None:
    print("\n== Factory: workflow ==")
    if run.error is not None:
        print(f"failed      {', '.join(run.error.tags)}: {run.error.message}")
    else:
        print(f"result      {json.dumps(run.result)}")
    if e2e_skipped:
        # Completed, but not verified: say so where a reader looks last, not only in the e2e section.
        print("warning     e2e-verify was skipped: the change was NOT verified in a browser (see above)")
    engine = sum(run.overhead.values())
    print(f"time        {run.seconds:.1f}s in all, {engine * 1000:.1f} ms of it the engine's own")
