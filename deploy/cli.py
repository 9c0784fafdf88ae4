"""``factory deploy plan|apply --config FILE``: Factory's GCP resources from one config file.

``make_app`` takes how to reach GCP (a ``GcpTarget`` per config), so tests hand it their fakes; the
module-level ``app`` uses application default credentials on Google's APIs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from google.auth.exceptions import DefaultCredentialsError

from deploy.config import DeployConfig, load_config
from deploy.errors import DeployError
from deploy.target import Clients, GcpTarget
from jobs.errors import ConfigError

if TYPE_CHECKING:
    from deploy.planner import Plan

ConfigOption = Annotated[
    Path, typer.Option("--config", help="The deploy config (see deploy/factory.example.yaml).")
]
CHANGES_PENDING = 2
WAITING_FOR_SECRETS = 3


def _google(_: DeployConfig) -> GcpTarget:
    try:
        return GcpTarget.google()
    except DefaultCredentialsError as exc:
        raise DeployError(
            f"no Google credentials — fix: gcloud auth application-default login ({exc})"
        ) from exc


def _plan(
    config_path: Path, connect: Callable[[DeployConfig], GcpTarget], say: Callable[[str], None] | None = None
) -> Plan:
    # Imported here: the client libraries take a second to load, and `factory --help` should not wait.
    from deploy.notes import plan_notes
    from deploy.planner import make_plan
    from deploy.resources import stack
    from orchestration import FACTORY_YAML

    config = load_config(config_path)
    clients = Clients(connect(config), config.project, say)
    resources = stack(clients, config, FACTORY_YAML.read_text(encoding="utf-8"))
    return make_plan(resources, plan_notes(config))


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"factory deploy: {exc}", err=True)
    return typer.Exit(1)


def make_app(connect: Callable[[DeployConfig], GcpTarget] = _google) -> typer.Typer:
    app = typer.Typer(add_completion=False, no_args_is_help=True, help="Plan and apply Factory on GCP.")

    @app.command("plan")
    def plan_command(
        config: ConfigOption,
        detailed_exitcode: Annotated[
            bool, typer.Option("--detailed-exitcode", help="Exit 2 when there are changes to apply.")
        ] = False,
    ) -> None:
        """Show what apply would create or change. Reads only."""
        from deploy.render import render_plan

        try:
            plan = _plan(config, connect)
        except (ConfigError, DeployError) as exc:
            raise _fail(exc) from None
        for line in render_plan(plan):
            typer.echo(line)
        raise typer.Exit(CHANGES_PENDING if detailed_exitcode and plan.changed else 0)

    @app.command("apply")
    def apply_command(config: ConfigOption) -> None:
        """Create or update what the plan shows, waiting for each operation. Safe to run again.

        Exits 3 when some resources wait for secret values: add them, then apply again."""
        from deploy.applier import apply_plan

        try:
            plan = _plan(config, connect, typer.echo)
            complete = apply_plan(plan, typer.echo)
        except (ConfigError, DeployError) as exc:
            raise _fail(exc) from None
        raise typer.Exit(0 if complete else WAITING_FOR_SECRETS)

    return app


app = make_app()
