"""``factory runs``: list the runs under an artifact prefix; ``runs show`` one in full; ``runs open`` its
HTML report. A wrong input (no such prefix, no such run, an unknown status) is one line and exit 2; a
store that cannot be read, one line and exit 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from jobs.artifacts import ArtifactStore
from jobs.errors import ArtifactError, ConfigError
from jobs.report import load_run, report_key
from orchestration.local.inputs import resolve_path
from orchestration.runs.catalog import DEFAULT_LIMIT, STATUSES, Filters, find_run, list_runs, open_prefix
from orchestration.runs.console import listing, show
from orchestration.runs.opener import locate, open_in_browser

# The same default as the local commands (`factory demo`, `solve-linear-ticket`): `.factory` here.
DEFAULT_ARTIFACTS = ".factory"
ArtifactsOption = Annotated[
    str | None,
    typer.Option(
        envvar="ARTIFACTS_PREFIX",
        help=f"Artifact prefix: a directory or gs://bucket/prefix [default: {DEFAULT_ARTIFACTS}].",
        show_default=False,
    ),
]
RunId = Annotated[str, typer.Argument(help="The run's id (or the start of it, when only one run has it).")]
PIPE_WIDTH = 200
T = TypeVar("T")

app = typer.Typer(
    add_completion=False,
    invoke_without_command=True,
    help="The runs under an artifact prefix: list them, show one, open its report.",
)


@app.callback()
def runs(
    ctx: typer.Context,
    artifacts: ArtifactsOption = None,
    job: Annotated[str | None, typer.Option(help="Only runs of this job.")] = None,
    ticket: Annotated[str | None, typer.Option(help="Only runs of this ticket, e.g. IX-101.")] = None,
    status: Annotated[
        str | None,
        typer.Option(help=f"Only runs with this outcome or phase status: {', '.join(STATUSES)}."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Runs per page.")] = DEFAULT_LIMIT,
    page: Annotated[int, typer.Option(min=1, help="Which page, 1 the newest.")] = 1,
) -> None:
    """List recent runs, newest first: job, ticket, start, duration, each phase's status, cost."""
    ctx.obj = artifacts
    if ctx.invoked_subcommand is not None:
        return
    store = _store(artifacts)
    filters = _or_exit_2(lambda: Filters(job=job, ticket=ticket, status=status))
    listing(_or_exit_2(lambda: list_runs(store, filters, page, limit)), _console())


@app.command("show")
def show_command(ctx: typer.Context, run_id: RunId, artifacts: ArtifactsOption = None) -> None:
    """One run as tables: phases, review scores per round, checks, the browser checklist, links."""
    store = _store(artifacts or ctx.obj)
    found = _or_exit_2(lambda: find_run(store, run_id))
    facts = _or_exit_2(lambda: load_run(store, found))
    key = report_key(found)
    report = (
        store.url(key) if _or_exit_2(lambda: store.exists(key)) else "none yet: factory runs open renders it"
    )
    show(facts, report, _console())


@app.command("open")
def open_command(
    ctx: typer.Context,
    run_id: RunId,
    artifacts: ArtifactsOption = None,
    render: Annotated[bool, typer.Option("--render", help="Render the report again first.")] = False,
    print_only: Annotated[bool, typer.Option("--print", help="Print where it is; open nothing.")] = False,
) -> None:
    """Open the run's HTML report in a browser (with a display), or print its path or URL."""
    store = _store(artifacts or ctx.obj)
    found = _or_exit_2(lambda: find_run(store, run_id))
    report = _or_exit_2(lambda: locate(store, found, render=render))
    if report.rendered:
        typer.echo(f"rendered the report from the run's artifacts: {report.url}", err=True)
    if not print_only and open_in_browser(report.browser_url):
        typer.echo(f"opened {report.browser_url}")
        return
    typer.echo(report.browser_url)


def _console() -> Console:
    """The console tables go to; not a terminal (a pipe, a file), it is wide enough not to wrap them."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)


def _store(artifacts: str | None) -> ArtifactStore:
    prefix = artifacts or DEFAULT_ARTIFACTS
    if "://" not in prefix:
        prefix = str(resolve_path(Path(prefix)))
    return _or_exit_2(lambda: open_prefix(prefix))


def _or_exit_2(work: Callable[[], T]) -> T:
    """What ``work`` returns; or its error in one line, and exit 2 for a wrong input (a prefix, a run id,
    a filter), 1 when the store could not be read."""
    try:
        return work()
    except ConfigError as exc:
        typer.echo(f"factory runs: {exc}", err=True)
        raise typer.Exit(2) from None
    except ArtifactError as exc:
        typer.echo(f"factory runs: {exc}", err=True)
        raise typer.Exit(1) from None
