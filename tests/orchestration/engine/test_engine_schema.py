"""orchestration/factory.yaml against the facts of Google's Workflows JSON schema it relies on.

Google publishes a JSON schema for workflow files: ``jsonschema/workflows.json`` in
GoogleCloudPlatform/workflows-samples, served by SchemaStore for ``*.workflows.yaml``. It is not vendored
here; ``FRAGMENT`` restates, in our own words, the parts of it this file depends on:

- a step's ``args`` is a map (``definitions.args``: ``"type": "object"``);
- ``args.connector_params.timeout`` is an integer (at most 31536000), ``polling_policy`` holds numbers
  and ``skip_polling`` a boolean, so none of them can be an expression;
- ``for.range`` is two numbers, or one string of the form ``${[...]}``;
- ``retry.max_retries`` is an integer; ``assign`` and ``switch`` hold at most 50 entries;
- a ``parallel`` step holds ``branches`` (2 to 10) or a ``for``, never both; its ``exception_policy`` can
  only be ``continueAll``; ``shared`` names are unique strings; ``concurrency_limit`` is a positive
  integer or an expression.

The file is validated against the fragment with ``jsonschema``, and the local engine's loader refuses an
expression in ``connector_params.timeout`` with the line, so the file cannot drift back to one.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
import yaml

from deploy.config import Jobs
from orchestration import FACTORY_YAML
from orchestration.engine.errors import WorkflowSyntaxError
from orchestration.engine.loader import load_workflow
from orchestration.local.connectors import RUN_JOB

_EXPRESSION = r"^\$\{.+\}$"

FRAGMENT: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {"params": {"type": "array"}, "steps": {"$ref": "#/definitions/steps"}},
    },
    "definitions": {
        "steps": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": {"$ref": "#/definitions/step"},
            },
        },
        "step": {
            "type": "object",
            "properties": {
                "args": {"$ref": "#/definitions/args"},
                "assign": {"type": "array", "minItems": 1, "maxItems": 50},
                "switch": {"type": "array", "maxItems": 50, "items": {"$ref": "#/definitions/step"}},
                "for": {"$ref": "#/definitions/for"},
                "steps": {"$ref": "#/definitions/steps"},
                "try": {"anyOf": [{"$ref": "#/definitions/step"}, {"$ref": "#/definitions/steps"}]},
                "parallel": {"$ref": "#/definitions/parallel"},
                "except": {"type": "object", "properties": {"steps": {"$ref": "#/definitions/steps"}}},
                "retry": {
                    "anyOf": [
                        {"type": "string", "pattern": _EXPRESSION},
                        {"type": "object", "properties": {"max_retries": {"type": "integer"}}},
                    ]
                },
            },
        },
        "args": {
            "type": "object",
            "properties": {
                "connector_params": {
                    "type": "object",
                    "properties": {
                        "timeout": {"type": "integer", "maximum": 31_536_000},
                        "polling_policy": {"type": "object", "additionalProperties": {"type": "number"}},
                        "skip_polling": {"type": "boolean"},
                    },
                }
            },
        },
        "parallel": {
            "type": "object",
            "properties": {
                "exception_policy": {"enum": ["continueAll"]},
                "shared": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "concurrency_limit": {
                    "anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": _EXPRESSION}]
                },
                "branches": {"type": "array", "minItems": 2, "maxItems": 10},
                "for": {"$ref": "#/definitions/for"},
            },
            "oneOf": [{"required": ["branches"]}, {"required": ["for"]}],
            "additionalProperties": False,
        },
        "for": {
            "type": "object",
            "properties": {
                "range": {
                    "anyOf": [
                        {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                        {"type": "string", "pattern": r"^\$\{\[.+\]\}$"},
                    ]
                },
                "steps": {"$ref": "#/definitions/steps"},
            },
        },
    },
}

CONNECTORS = {RUN_JOB, "googleapis.storage.v1.objects.get", "googleapis.storage.v1.objects.delete"}
CONNECTORS |= {"googleapis.storage.v1.objects.insert"}
CONNECTORS |= {"googleapis.secretmanager.v1.projects.secrets.versions.accessString"}


def factory() -> Any:
    return yaml.safe_load(FACTORY_YAML.read_text(encoding="utf-8"))


def connector_timeout() -> Any:
    steps = factory()["run_phase"]["steps"]
    run_job = next(step["run_job"] for step in steps if "run_job" in step)
    call = run_job.get("try", run_job)  # the call, or the call inside the try that rewords its error
    return call["args"]["connector_params"]["timeout"]


def test_the_fragment_is_a_valid_schema_that_catches_what_it_states() -> None:
    jsonschema.Draft7Validator.check_schema(FRAGMENT)
    validator = jsonschema.Draft7Validator(FRAGMENT)
    call = {"call": RUN_JOB, "args": {"name": "n", "connector_params": {"timeout": "${t + 600}"}}}
    assert not validator.is_valid({"main": {"steps": [{"run": call}]}})
    assert not validator.is_valid({"main": {"steps": [{"log": {"call": "sys.get_env", "args": ["A"]}}]}})
    loop = {"for": {"value": "v", "range": ["${a}", "${b}"], "steps": [{"s": {"return": 1}}]}}
    assert not validator.is_valid({"main": {"steps": [{"loop": loop}]}})
    loop["for"]["range"] = "${[a, b]}"
    assert validator.is_valid({"main": {"steps": [{"loop": loop}]}})
    fan: dict[str, Any] = {"for": loop["for"], "concurrency_limit": "${n}", "shared": ["done"]}
    assert validator.is_valid({"main": {"steps": [{"fan": {"parallel": fan}}]}})
    wrong: list[dict[str, Any]] = [
        {"exception_policy": "abortAll"},
        {"branches": [{"a": {}}, {"b": {}}]},
        {"shared": ["x", "x"]},
    ]
    for bad in wrong:
        assert not validator.is_valid({"main": {"steps": [{"fan": {"parallel": fan | bad}}]}}), bad


def test_factory_yaml_is_valid_against_the_schema_fragment() -> None:
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in jsonschema.Draft7Validator(FRAGMENT).iter_errors(factory())
    ]
    assert errors == []


def test_the_connector_waits_longer_than_any_task_timeout_the_deploy_accepts() -> None:
    timeout = connector_timeout()
    assert isinstance(timeout, int) and not isinstance(timeout, bool)
    # The workflow's 600 s margin over the job's own timeout (docs/design.md) holds for every value of
    # jobs.task_timeout_seconds that deploy/config.py lets through, the largest included.
    Jobs(task_timeout_seconds=timeout - 600)
    with pytest.raises(ValueError, match="task_timeout_seconds"):
        Jobs(task_timeout_seconds=timeout - 600 + 1)


def test_the_loader_refuses_an_expression_as_the_connector_timeout_with_its_line() -> None:
    text = FACTORY_YAML.read_text(encoding="utf-8")
    literal = re.compile(r"^(\s+connector_params:\n\s+timeout: )(\d+)$", re.MULTILINE)
    (match,) = list(literal.finditer(text))
    line = text.count("\n", 0, match.start(2)) + 1
    expression = '${int(sys.get_env("FACTORY_JOB_TIMEOUT_SECONDS")) + 600}'
    drifted = literal.sub(lambda found: found.group(1) + expression, text)
    load_workflow(text, "factory.yaml", connectors=CONNECTORS)  # the file as shipped loads
    with pytest.raises(WorkflowSyntaxError) as caught:
        load_workflow(drifted, "factory.yaml", connectors=CONNECTORS)
    assert str(caught.value).startswith(
        f"factory.yaml:{line}: connector_params.timeout must be an integer literal"
    )
