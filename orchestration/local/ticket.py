"""One ticket through ``factory.yaml`` on the local stack, told on the console: what runs, then each
phase's result, the branch's commits and the workflow's end. Exit code 0 when the workflow succeeded."""

from __future__ import annotations

from pathlib import Path

from jobs.workspace import branch_for
from orchestration.local.stack import LocalStack, new_run_id
from orchestration.local.summary import print_branch, print_run_summary, print_workflow

JOB = "solve-linear-ticket"


def solve_ticket(stack: LocalStack, ticket: str) -> int:
    for line in stack.describe():
        print(line)
    print(f"ticket {ticket} -> {stack.repo}; workflow orchestration/factory.yaml on the local engine\n")
    run_id = new_run_id(ticket)
    run = stack.run({"job": JOB, "ticket": ticket}, run_id)
    print_run_summary(stack.artifacts, run_id, JOB)
    print_branch(Path(stack.repo), branch_for(ticket))
    print_workflow(run)
    return 0 if run.error is None else 1
