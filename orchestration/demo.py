"""The local demo: one example ticket through the implement and review jobs, against a local bare remote.

It runs each job exactly as a Cloud Run Job would (``python -m jobs implement``, then ``... review``,
with the same environment variables), with a directory for the artifact prefix, ticket files for
Linear, a bare repository for GitHub (the pull request is a record in the artifacts), and the offline
model unless ``--real`` asks for Claude.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from jobs.e2e.records import E2EResult
from jobs.models import ImplementResult
from jobs.review.body import score_table
from jobs.review.records import ReviewResult
from orchestration.local_remote import branch_log, seed_bare_remote
from orchestration.offline import offline_env, start_offline_model

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"


def local_job_env(
    ticket: str,
    remote: Path,
    artifacts: Path,
    run_id: str,
    *,
    workdir: Path,
    tickets_dir: Path = EXAMPLES / "tickets",
) -> dict[str, str]:
    """The implement job's environment for a local run: the variables a Cloud Run Job would get."""
    return {
        "JOB": "solve-linear-ticket",
        "TICKET_IDENTIFIER": ticket,
        "REPO_URL": str(remote),
        "BASE_BRANCH": "main",
        "RUN_ID": run_id,
        "ARTIFACTS_PREFIX": str(artifacts),
        "TICKETS_DIR": str(tickets_dir),
        "WORKDIR": str(workdir),
    }


def run_job(phase: str, env: dict[str, str]) -> int:
    """Run a phase's job as a child process with ``env`` added; its progress lines pass through."""
    child_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "jobs", phase], env=child_env, check=False).returncode


def demo(ticket: str, artifacts: Path, real_model: bool, fresh: bool) -> int:
    artifacts = artifacts.resolve()
    remote = artifacts / "demo" / "remote.git"
    if fresh and remote.exists():
        shutil.rmtree(remote)
    seed_bare_remote(EXAMPLES / "notes-app", remote)
    run_id = f"{ticket.lower()}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    env = local_job_env(ticket, remote, artifacts, run_id, workdir=artifacts / "demo" / "work" / run_id)
    server = None
    if real_model:
        if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("CLAUDE_CODE_OAUTH_TOKEN")):
            print("factory demo --real: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN", file=sys.stderr)
            return 2
        print("model: Claude (real API)")
    else:
        server = start_offline_model(
            EXAMPLES / "scenarios", artifacts / "runs" / run_id / "offline-model.jsonl"
        )
        env.update(offline_env(server))
        print(f"model: offline scripted model at {server.base_url} (no Claude credentials used)")
    print(f"ticket {ticket} -> {remote}\n")
    try:
        code = run_job("implement", env)
        implemented = print_summary(artifacts, run_id, remote)
        if code == 0 and implemented:
            print("\n-- review --\n")
            code = run_job("review", env)
            print_review_summary(artifacts, run_id)
        if code == 0 and implemented:
            print("\n-- e2e-verify --\n")
            code = run_job("e2e", env)
            print_e2e_summary(artifacts, run_id)
    finally:
        if server is not None:
            server.stop()
    return code


def print_summary(artifacts: Path, run_id: str, remote: Path) -> bool:
    """Print the implement phase's result; returns whether there is a branch with work to review."""
    result_file = artifacts / "runs" / run_id / "implement" / "result.json"
    if not result_file.is_file():
        print(f"\nno result was written (see the log above); run folder: {result_file.parent}")
        return False
    result = ImplementResult.model_validate_json(result_file.read_text())
    print("\n== Factory: implement ==")
    print(f"status      {result.status}{' - ' + result.detail if result.detail else ''}")
    how = "resumed" if result.resumed else "new"
    print(f"branch      {result.branch} ({how}, pushed: {result.pushed})")
    for line in branch_log(remote, result.branch, result.base_branch):
        print(f"  commit    {line}")
    if result.agent is not None:
        agent, usage = result.agent, result.agent.usage
        print(f"agent       {agent.status}, {agent.turns} turns, {agent.duration_seconds}s")
        print(
            f"tokens      {usage.input_tokens} in / {usage.output_tokens} out, "
            f"${usage.cost_usd:.4f} (list price)"
        )
    print(f"timings     {', '.join(f'{k} {v:.2f}s' for k, v in result.timings.items())}")
    print(f"transcript  {result.transcript}")
    print(f"result      {result_file}")
    return result.status == "done"


def print_review_summary(artifacts: Path, run_id: str) -> None:
    result_file = artifacts / "runs" / run_id / "review" / "result.json"
    if not result_file.is_file():
        print(f"\nno review result was written (see the log above); run folder: {result_file.parent}")
        return
    result = ReviewResult.model_validate_json(result_file.read_text())
    print("\n== Factory: review ==")
    print(f"status      {result.status}{' - ' + result.detail if result.detail else ''}")
    for line in score_table(result.rounds):
        print(f"  {line}")
    for review_round in result.rounds:
        fix = review_round.fix
        if fix is not None:
            files = ", ".join(fix.files) or "-"
            print(f"fix {fix.round}       {fix.status}: {len(fix.commits)} commit(s), files {files}")
    print(f"cost        ${result.cost_usd:.4f} (list price), {sum(result.timings.values()):.2f}s")
    pull = result.pull_request
    if pull is not None:
        print(
            f"pull req.   #{pull.number}{' (flagged for human review)' if pull.flagged else ''}: {pull.url}"
        )
    print(f"result      {result_file}")


def print_e2e_summary(artifacts: Path, run_id: str) -> None:
    result_file = artifacts / "runs" / run_id / "e2e" / "result.json"
    if not result_file.is_file():
        print(f"\nno e2e result was written (see the log above); run folder: {result_file.parent}")
        return
    result = E2EResult.model_validate_json(result_file.read_text())
    print("\n== Factory: e2e-verify ==")
    print(f"status      {result.status}{' - ' + result.detail if result.detail else ''}")
    for attempt in result.attempts:
        fix = (
            f", then fix: {attempt.fix.status} ({', '.join(attempt.fix.files) or '-'})" if attempt.fix else ""
        )
        print(f"attempt {attempt.attempt}   {attempt.verdict}, {len(attempt.screenshots)} screenshot(s){fix}")
    if result.report:
        print(f"report      {result.report}")
        print(f"screenshots {Path(result.report.removeprefix('file://')).parent / 'screenshots'}")
    if result.report_in_branch:
        print(f"in branch   {result.report_in_branch} (with its screenshots)")
    if result.pull_request_comment:
        print(f"PR comment  {result.pull_request_comment}")
    print(f"result      {result_file}")
