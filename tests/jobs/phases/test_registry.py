"""The phase registry is the one list of phases: what reads it agrees with it, and each entry loads."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from images.engine import IMAGES
from jobs.entrypoint import app as jobs_app
from jobs.entrypoint import prepare
from jobs.errors import ConfigError
from jobs.phases.registry import JOBS, PHASES, get_phase, phase_names, phase_of_job
from orchestration import FACTORY_YAML
from tests.conftest import ROOT


@pytest.mark.parametrize("name", phase_names())
def test_each_entry_loads_its_runner_result_and_summary(name: str) -> None:
    spec = get_phase(name)
    model = spec.load_result()
    assert model.model_fields["phase"].default == spec.name  # result.json says which phase wrote it
    assert callable(spec.load_runner()) and callable(spec.load_summary())
    assert phase_of_job(spec.job) == spec and spec.failed <= set(_statuses(model))


def _statuses(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(getattr(model.model_fields["status"].annotation, "__args__", ()))


def test_every_image_is_a_containerfile_target() -> None:
    targets = re.findall(r"^FROM \S+ AS (\S+)$", (ROOT / "images" / "Containerfile").read_text(), re.M)
    assert set(IMAGES) <= set(targets)
    assert {phase.image for phase in PHASES} < set(IMAGES)


def _phases_called(workflow: dict[str, Any], name: str) -> list[str]:
    """The phases a subworkflow runs, in order, through the subworkflows it calls (run_phase's args)."""
    found: list[str] = []
    for step in workflow[name]["steps"]:
        for body in step.values():
            if isinstance(body, dict) and isinstance(body.get("try"), dict):
                body = body["try"]  # a call made in a try block (its except only tells and re-raises)
            call = body.get("call") if isinstance(body, dict) else None
            if call == "run_phase":
                found.append(body["args"]["phase"])
            elif call in workflow and call not in ("notify", "normalize_input", "claim_ticket"):
                found += _phases_called(workflow, call)
    return found


@pytest.mark.parametrize(
    ("job", "subworkflow"), [("solve-linear-ticket", "solve_ticket"), ("onboard-client", "onboard_client")]
)
def test_the_workflow_runs_each_phase_of_the_job_in_order(job: str, subworkflow: str) -> None:
    workflow = yaml.safe_load(FACTORY_YAML.read_text())
    assert _phases_called(workflow, subworkflow) == list(JOBS[job])


def test_the_job_cli_has_one_command_per_phase() -> None:
    out = CliRunner().invoke(jobs_app, ["--help"]).output
    for phase in PHASES:
        assert re.search(rf"│ {phase.name} +{re.escape(phase.doc[:30])}", out), phase.name


def test_a_phase_outside_its_job_is_a_settings_error() -> None:
    env = {"TICKET_IDENTIFIER": "IX-1", "REPO_URL": "/tmp/r.git"}
    with pytest.raises(ConfigError, match="onboard-client has no implement phase"):
        prepare({**env, "JOB": "onboard-client"}, "implement")
    with pytest.raises(ConfigError, match="solve-linear-ticket has no triage phase"):
        prepare({**env, "JOB": "solve-linear-ticket"}, "triage")
    with pytest.raises(KeyError, match="no phase 'deploy'"):
        get_phase("deploy")
