"""The ``factory`` command: the local demo, one ticket through the workflow, the offline model, and the
checks and clean-up around local runs.

Exit codes of the commands that run a ticket: 0 done, 1 failed, 2 bad options or inputs (said in one
line before anything starts), 3 completed with the browser check skipped (``orchestration.local.ticket``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from google.auth.exceptions import DefaultCredentialsError

from deploy.cli import app as deploy_app
from images.engine import ContainerError
from jobs.errors import ConfigError
from orchestration.cloud import CloudError, start_and_follow
from orchestration.local.check import check
from orchestration.local.demo import DemoJob, DemoTarget, demo
from orchestration.local.executions import ExecutionsServer
from orchestration.local.gcloud import gcloud_howto, prepare_gcloud
from orchestration.local.inputs import check_repo, check_ticket, resolve_path, resolve_repo
from orchestration.local.night import demo_night
from orchestration.local.offline import start_offline_model
from orchestration.local.onboard import demo_onboard
from orchestration.local.prune import human_age, human_size, parse_age, prune
from orchestration.local.run import LocalRun
from orchestration.local.stack import EXAMPLES, LocalStack
from orchestration.local.ticket import solve_ticket
from orchestration.receiver.cli import app as receiver_app
from orchestration.runs.cli import app as runs_app

# Options several commands share.
RepoOption = Annotated[
    str, typer.Option(envvar="REPO_URL", help="The target repository (a path, file:// or https URL).")
]
TicketsDirOption = Annotated[
    Path, typer.Option(envvar="TICKETS_DIR", help="Ticket files (local mode's Linear).")
]
ArtifactsOption = Annotated[Path, typer.Option(help="Artifact prefix (a directory locally).")]
RealOption = Annotated[
    bool, typer.Option("--real", help="Use Claude (ANTHROPIC_API_KEY) instead of the offline model.")
]
ScenariosOption = Annotated[
    Path | None,
    typer.Option(help="The offline model's scenario file or directory (default: examples/scenarios)."),
]
KeepWorkOption = Annotated[
    bool, typer.Option("--keep-work", help="Keep the run's working copies (<artifacts>/work/<run_id>).")
]
AppEnvOption = Annotated[
    Path | None,
    typer.Option(
        "--app-env",
        help="The target app's .env for its dev servers (e2e) and checks (review), never the agent's; "
        "deployed, the secret secrets.app_env.",
    ),
]
T = TypeVar("T")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Factory: tickets into pull requests.")
offline_app = typer.Typer(add_completion=False, no_args_is_help=True, help="The scripted offline model.")
app.add_typer(offline_app, name="offline-model")
app.add_typer(deploy_app, name="deploy")
app.add_typer(receiver_app, name="receiver")
app.add_typer(runs_app, name="runs")


@app.command("demo")
def demo_command(
    ticket: Annotated[
        str | None,
        typer.Option(
            help="Ticket file under examples/tickets (default: IX-101 for notes-app, SB-1 for support-bot)."
        ),
    ] = None,
    target: Annotated[
        DemoTarget,
        typer.Option(help="The example app to seed the local remote from and run the ticket against."),
    ] = DemoTarget.NOTES_APP,
    artifacts: ArtifactsOption = Path(".factory"),
    real: RealOption = False,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Re-seed the local remote (drops earlier demo branches).")
    ] = False,
    scenarios: ScenariosOption = None,
    keep_work: KeepWorkOption = False,
    job: Annotated[
        DemoJob,
        typer.Option(
            help="solve-linear-ticket: one ticket; solve-chatbot-issues: two nights of the support-bot's "
            "failures from local Sentry and Langfuse, each fixed in its own PR; onboard-client: a client "
            "of the support-bot onboarded (--client, --mode)."
        ),
    ] = DemoJob.TICKET,
    client: Annotated[
        str | None,
        typer.Option(
            help="With --job onboard-client: the client (lumen-fitness.example for full, "
            "northwind-travel.example for update-skills, any shipped client for eval-only)."
        ),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="With --job onboard-client: full, update-skills or eval-only.")
    ] = "full",
) -> None:
    """Run an example ticket through factory.yaml on the local engine, against a local bare remote
    seeded from an example app (--target); or, with --job solve-chatbot-issues, the nightly triage."""
    try:
        if job is not DemoJob.ONBOARD and client is not None:
            raise ConfigError("--client is for --job onboard-client")
        if job is DemoJob.ONBOARD:
            if ticket is not None or target is not DemoTarget.NOTES_APP:
                raise ConfigError(
                    "--job onboard-client takes no --ticket or --target: it runs on support-bot"
                )
            if client is None:
                raise ConfigError("--job onboard-client needs --client (e.g. lumen-fitness.example)")
            code = demo_onboard(client, mode, artifacts, real, scenarios=scenarios, keep_work=keep_work)
        elif job is DemoJob.NIGHT:
            if ticket is not None or target is not DemoTarget.NOTES_APP:
                raise ConfigError(
                    "--job solve-chatbot-issues takes no --ticket or --target: it runs on support-bot"
                )
            code = demo_night(artifacts, real, scenarios=scenarios, keep_work=keep_work)
        else:
            code = demo(
                ticket, artifacts, real, fresh, target=target, scenarios=scenarios, keep_work=keep_work
            )
    except ConfigError as exc:
        typer.echo(f"factory: {exc}", err=True)
        code = 2
    raise typer.Exit(code)


@app.command("solve-linear-ticket")
def solve_linear_ticket(
    ticket: Annotated[str, typer.Option(help="The ticket's identifier, e.g. IX-123.")],
    repo: Annotated[
        str,
        typer.Option(
            envvar="REPO_URL",
            help="The target repository (a path, file:// or https URL); not with --cloud, whose jobs "
            "have theirs from the deploy.",
        ),
    ] = "",
    tickets_dir: TicketsDirOption = Path("tickets"),
    artifacts: ArtifactsOption = Path(".factory"),
    real: RealOption = False,
    docker: Annotated[bool, typer.Option("--docker", help="Run each job in its image.")] = False,
    cloud: Annotated[
        bool, typer.Option("--cloud", help="Start the deployed workflow and follow it.")
    ] = False,
    project: Annotated[
        str | None, typer.Option(envvar="GOOGLE_CLOUD_PROJECT", help="--cloud: the GCP project.")
    ] = None,
    region: Annotated[
        str, typer.Option(envvar="FACTORY_REGION", help="--cloud: the workflow's region.")
    ] = "us-central1",
    workflow: Annotated[str, typer.Option(help="--cloud: the deployed workflow's name.")] = "factory",
    endpoint: Annotated[
        str | None,
        typer.Option(help="--cloud: Executions API endpoint override, e.g. factory serve's URL."),
    ] = None,
    scenarios: ScenariosOption = None,
    keep_work: KeepWorkOption = False,
    app_env: AppEnvOption = None,
) -> None:
    """Run orchestration/factory.yaml for one ticket on the local engine (--docker: jobs in images)."""
    if cloud and docker:
        typer.echo(
            "factory: --cloud and --docker exclude each other: --cloud starts the deployed workflow, "
            "whose jobs run on Cloud Run; --docker runs the jobs here in their images. Pick one.",
            err=True,
        )
        raise typer.Exit(2)
    if cloud:
        if not project:
            typer.echo("factory: --cloud needs --project (or GOOGLE_CLOUD_PROJECT)", err=True)
            raise typer.Exit(2)
        try:
            code = start_and_follow(ticket, project, region, workflow, endpoint=endpoint, say=typer.echo)
        except (CloudError, DefaultCredentialsError, httpx.HTTPError) as exc:
            typer.echo(f"factory: --cloud: {exc}", err=True)
            code = 1
        raise typer.Exit(code)
    if not repo:
        typer.echo("factory: --repo (or REPO_URL) is needed to run the chain here", err=True)
        raise typer.Exit(2)
    stack = _local_stack(
        repo, artifacts, tickets_dir, real, docker, scenarios=scenarios, keep_work=keep_work, app_env=app_env
    )
    _or_exit_2(lambda: check_repo(stack.repo))
    _or_exit_2(lambda: check_ticket(stack.tickets_dir, ticket))
    raise typer.Exit(solve_ticket(stack, ticket))


@app.command("serve")
def serve_executions(
    repo: RepoOption,
    port: Annotated[int, typer.Option(help="Loopback port.")] = 8787,
    tickets_dir: TicketsDirOption = Path("tickets"),
    artifacts: ArtifactsOption = Path(".factory"),
    real: RealOption = False,
    scenarios: ScenariosOption = None,
    keep_work: KeepWorkOption = False,
    app_env: AppEnvOption = None,
) -> None:
    """Serve the Workflows Executions API on 127.0.0.1: gcloud workflows run factory runs it locally."""
    stack = _local_stack(
        repo, artifacts, tickets_dir, real, scenarios=scenarios, keep_work=keep_work, app_env=app_env
    )
    _or_exit_2(lambda: check_repo(stack.repo))

    def start(argument: Any, execution_id: str) -> LocalRun:
        return stack.run(
            argument,
            execution_id,
            say=lambda line: print(f"[{execution_id[:8]}] {line}", file=sys.stderr, flush=True),
        )

    server = ExecutionsServer(start, port).start()
    config_dir, token_file = prepare_gcloud(stack.artifacts / "gcloud")
    typer.echo(f"Workflows Executions API for workflow 'factory' on {server.base_url}")
    typer.echo(f"model: {'Claude (real API)' if real else 'offline scripted model'}; in another shell:\n")
    for line in gcloud_howto(server.base_url, config_dir, token_file):
        typer.echo(f"  {line}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


@app.command("check")
def check_command(
    repo: RepoOption,
    tickets_dir: Annotated[
        Path | None, typer.Option(envvar="TICKETS_DIR", help="Ticket files to check (default: none).")
    ] = None,
    scenarios: Annotated[
        Path | None, typer.Option(help="Offline-model scenario file or directory to check.")
    ] = None,
) -> None:
    """Check a target before a run: its .factory.yaml on main, ticket files, scenario files."""
    report = check(
        resolve_repo(repo),
        resolve_path(tickets_dir) if tickets_dir else None,
        resolve_path(scenarios) if scenarios else None,
    )
    for finding in report.findings:
        typer.echo(finding.line())
    typer.echo(report.summary())
    raise typer.Exit(1 if report.errors else 0)


@app.command("prune")
def prune_command(
    older_than: Annotated[str, typer.Option(help="Age past which to remove: 7d, 12h, 30m, 2w.")] = "7d",
    artifacts: ArtifactsOption = Path(".factory"),
    runs: Annotated[
        bool, typer.Option("--runs", help="Also remove old runs/<run_id>/ folders (results, reports).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; remove nothing.")] = False,
) -> None:
    """Remove old runs' work directories (and, with --runs, their run folders) under the artifacts."""
    seconds = _or_exit_2(lambda: parse_age(older_than))
    pruned = prune(resolve_path(artifacts), seconds, runs=runs, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for item in pruned:
        typer.echo(f"{verb} {item.path} ({human_size(item.size)}, {human_age(item.age)} old)")
    freed = human_size(sum(item.size for item in pruned))
    what = "directory" if len(pruned) == 1 else "directories"
    typer.echo(f"{verb} {len(pruned)} {what} older than {older_than}, {freed}{'' if dry_run else ' freed'}")


def _or_exit_2(check_it: Callable[[], T]) -> T:
    """What ``check_it`` returns, or exit 2 with its ConfigError in one line."""
    try:
        return check_it()
    except ConfigError as exc:
        typer.echo(f"factory: {exc}", err=True)
        raise typer.Exit(2) from None


def _local_stack(
    repo: str,
    artifacts: Path,
    tickets_dir: Path,
    real: bool,
    docker: bool = False,
    *,
    scenarios: Path | None = None,
    keep_work: bool = False,
    app_env: Path | None = None,
) -> LocalStack:
    """The local stack, or exit 2 with the reason it cannot be had (no credentials, no images, broken
    scenario files, an app env file that is missing)."""
    try:
        return LocalStack.create(
            repo,
            artifacts,
            tickets_dir,
            real_model=real,
            docker=docker,
            scenarios=scenarios,
            keep_work=keep_work,
            app_env=app_env,
        )
    except ContainerError as exc:
        typer.echo(f"factory: --docker: {exc}", err=True)
    except ConfigError as exc:
        typer.echo(f"factory: {exc}", err=True)
    raise typer.Exit(2)


@offline_app.command("serve")
def serve(
    scenarios: Annotated[Path, typer.Option(help="Scenario file or directory.")] = EXAMPLES / "scenarios",
    port: Annotated[int, typer.Option(help="Loopback port.")] = 8765,
    record: Annotated[Path | None, typer.Option(help="Append every request to this JSONL file.")] = None,
) -> None:
    """Serve the Anthropic Messages API on 127.0.0.1 from scenario files, until interrupted."""
    server = start_offline_model(scenarios, record, port)
    typer.echo(f"offline model on {server.base_url}: export ANTHROPIC_BASE_URL={server.base_url}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    app()
