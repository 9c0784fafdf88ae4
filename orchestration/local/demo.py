"""The local demo: an example ticket through ``orchestration/factory.yaml`` on the local engine.

The workflow runs each phase's job exactly as a Cloud Run Job would (``python -m jobs <phase>`` with the
same environment variables), with a directory for the artifact prefix, ticket files for Linear, a bare
repository for GitHub (the pull request is a record in the artifacts), and the offline model unless
``--real`` asks for Claude.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from jobs.artifacts import open_store
from jobs.models import ImplementResult
from jobs.phases.e2e.records import E2EResult
from jobs.phases.review.body import score_table
from jobs.phases.review.records import ReviewResult
from orchestration.local.connectors import PHASES
from orchestration.local.containers import (
    ContainerError,
    ContainerRunner,
    find_engine,
    image_ref,
    image_tag,
    require_images,
)
from orchestration.local.offline import offline_env, start_offline_model
from orchestration.local.remote import branch_log, seed_bare_remote
from orchestration.local.run import run_workflow

REPO_ROOT = Path(__file__).resolve().parents[2]
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


def demo(ticket: str, artifacts: Path, real_model: bool, fresh: bool) -> int:
    """Seed the example remote and take ``ticket`` through the workflow on the local engine."""
    artifacts = artifacts.resolve()
    remote = artifacts / "demo" / "remote.git"
    if fresh and remote.exists():
        shutil.rmtree(remote)
    seed_bare_remote(EXAMPLES / "notes-app", remote)
    return solve(ticket, str(remote), artifacts, EXAMPLES / "tickets", real_model)


def container_runner() -> ContainerRunner:
    """The ``--docker`` job runner: the working engine and this checkout's images, all present."""
    engine, tag = find_engine(), image_tag()
    require_images(engine, [image_ref(phase, tag) for phase in PHASES])
    return ContainerRunner(engine, tag)


def solve(
    ticket: str, repo: str, artifacts: Path, tickets_dir: Path, real_model: bool, docker: bool = False
) -> int:
    """``factory.yaml`` on the local engine for one ticket: implement -> review -> e2e-verify.

    With ``docker`` each job runs in its image (``factory-<phase>:<tag>``) instead of as a subprocess.
    """
    artifacts = artifacts.resolve()
    runner = None
    if docker:
        try:
            runner = container_runner()
        except ContainerError as exc:
            print(f"factory: --docker: {exc}", file=sys.stderr)
            return 2
        print(f"jobs: in images {image_ref('<phase>', runner.tag)} on {runner.engine}")
    run_id = f"{ticket.lower()}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    env = local_job_env(
        ticket, Path(repo), artifacts, run_id, workdir=artifacts / "work" / run_id, tickets_dir=tickets_dir
    )
    env["REPO_URL"] = repo
    server = None
    if real_model:
        if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("CLAUDE_CODE_OAUTH_TOKEN")):
            print("factory: --real needs ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN", file=sys.stderr)
            return 2
        print("model: Claude (real API)")
    else:
        server = start_offline_model(
            EXAMPLES / "scenarios", artifacts / "runs" / run_id / "offline-model.jsonl"
        )
        env.update(offline_env(server))
        print(f"model: offline scripted model at {server.base_url} (no Claude credentials used)")
    print(f"ticket {ticket} -> {repo}; workflow orchestration/factory.yaml on the local engine\n")
    try:
        run = run_workflow(
            {"job": "solve-linear-ticket", "ticket": ticket},
            run_id,
            env,
            open_store(str(artifacts)),
            slack_webhook=os.environ.get("SLACK_WEBHOOK_URL") or None,
            runner=runner,
        )
    finally:
        if server is not None:
            server.stop()
    if print_summary(artifacts, run_id, Path(repo)):
        print_review_summary(artifacts, run_id)
        print_e2e_summary(artifacts, run_id)
    print("\n== Factory: workflow ==")
    if run.error is not None:
        print(f"failed      {', '.join(run.error.tags)}: {run.error.message}")
    else:
        print(f"result      {json.dumps(run.result)}")
    engine = sum(run.overhead.values())
    print(f"time        {run.seconds:.1f}s in all, {engine * 1000:.1f} ms of it the engine's own")
    return 0 if run.error is None else 1


R = TypeVar("R", bound=BaseModel)


def _read_result(result_file: Path, model: type[R]) -> R | None:
    """A phase's result.json, or None (saying so) when the phase wrote none."""
    if not result_file.is_file():
        print(f"\nno {result_file.parent.name} result was written (see the log above): {result_file.parent}")
        return None
    return model.model_validate_json(result_file.read_text())


def print_summary(artifacts: Path, run_id: str, remote: Path) -> bool:
    """Print the implement phase's result; returns whether there is a branch with work to review."""
    result_file = artifacts / "runs" / run_id / "implement" / "result.json"
    result = _read_result(result_file, ImplementResult)
    if result is None:
        return False
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
    result = _read_result(result_file, ReviewResult)
    if result is None:
        return
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
    result = _read_result(result_file, E2EResult)
    if result is None:
        return
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
