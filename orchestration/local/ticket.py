"""One ticket through ``factory.yaml`` on the local stack, told on the console: what runs, then each
phase's result, the branch's commits and the workflow's end.

Exit codes: 0 the workflow succeeded (``no_changes`` included); 1 it failed; 3 it completed but the
e2e-verify phase was skipped, so nothing was verified in a browser (2, bad options, is the CLI's).
"""

from __future__ import annotations

from jobs.workspace import branch_for
from orchestration.local.inputs import local_repo_path
from orchestration.local.run import LocalRun
from orchestration.local.stack import LocalStack, new_run_id
from orchestration.local.summary import print_branch, print_run_summary, print_workflow

JOB = "solve-linear-ticket"
EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_E2E_SKIPPED = 3


def solve_ticket(stack: LocalStack, ticket: str) -> int:
    for line in stack.describe():
        print(line)
    print(f"ticket {ticket} -> {stack.repo}; workflow orchestration/factory.yaml on the local engine\n")
    run_id = new_run_id(ticket)
    run = stack.run({"job": JOB, "ticket": ticket}, run_id)
    print_run_summary(stack.artifacts, run_id, JOB)
    remote = local_repo_path(stack.repo)
    if remote is not None:
        print_branch(remote, branch_for(ticket))
    code = exit_code(run)
    print_workflow(run, code == EXIT_E2E_SKIPPED)
    if stack.keep_work:
        print(f"work        {stack.workdir(run_id)} (kept: --keep-work)")
    return code


def exit_code(run: LocalRun) -> int:
    """0 done, 1 failed, 3 completed with the browser check skipped (a misconfigured or unstartable app
    must not read as verified)."""
    if run.error is not None:
        return EXIT_FAILED
    if isinstance(run.result, dict) and run.result.get("e2e") == "skipped":
        return EXIT_E2E_SKIPPED
    return EXIT_DONE
