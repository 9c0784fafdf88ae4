"""What the local Executions API shows and refuses: its constants, its errors, and ``Execution``.

The constants are Google's where Google documents them (``Execution.State`` in enum-number order, the
BASIC view's fields, the 32KB ``argument`` limit, Workflows' 64-bit signed Integer, the fields
``executions.list`` filters and orders on) and the local engine's own where it does not (``MAX_NESTING``,
``MAX_BODY``, ``MAX_FILTER_NESTING``). Errors are answered in Google's JSON shape
(``ApiError``); what the API cannot do it refuses with a 400 ``INVALID_ARGUMENT`` (``invalid``), never
ignores. ``Execution.resource`` is the REST resource: ``result`` (the workflow's return value as a JSON
string) when SUCCEEDED, ``error: {payload, context}`` when FAILED or CANCELLED (Google: "only present if
the execution's state is FAILED or CANCELLED").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestration import FACTORY_YAML
from orchestration.engine.errors import WorkflowError
from orchestration.local.run import LocalRun

WORKFLOW = "factory"
# ExecutionView BASIC: "name, startTime, endTime, duration, state, and workflowRevisionId".
BASIC_FIELDS = ("name", "startTime", "endTime", "duration", "state", "workflowRevisionId")
# Execution.State, in enum-number order (orderBy=state sorts by it).
STATES = ("STATE_UNSPECIFIED", "ACTIVE", "SUCCEEDED", "FAILED", "CANCELLED", "UNAVAILABLE", "QUEUED")
# Execution.argument: "The size limit is 32KB" (read as 32 KiB of UTF-8).
ARGUMENT_LIMIT = 32 * 1024
# Google documents no nesting limit; this one keeps the local engine (which copies values recursively)
# far from Python's recursion limit, and is deeper than any argument a workflow reads.
MAX_NESTING = 100
# Workflows' Integer is "64 bit, signed".
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# A JSON-escaped 32KB argument (and labels) fits many times over; more is not read into memory.
MAX_BODY = 1024 * 1024
# ListExecutionsRequest: filterable and orderable fields, as documented.
FILTERABLE = ("executionId", "state", "createTime", "startTime", "endTime", "duration", "workflowRevisionId")
NOT_KEPT_LOCALLY = ("stepName", "label", "labels", "disableConcurrencyQuotaOverflowBuffering")
ORDERABLE = FILTERABLE
MAX_FILTER_NESTING = 20


class ApiError(Exception):
    """An error answered in Google's JSON shape: ``{"error": {"code", "message", "status"}}``."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


def invalid(message: str) -> ApiError:
    """A 400 ``INVALID_ARGUMENT``: what Google answers a request it will not run."""
    return ApiError(400, "INVALID_ARGUMENT", message)


def revision_id() -> str:
    """A stable ``workflowRevisionId`` (Google's ``000001-abc`` shape) for the current factory.yaml."""
    return "000001-" + hashlib.sha256(FACTORY_YAML.read_bytes()).hexdigest()[:3]


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Execution:
    """One execution as the API shows it."""

    name: str
    argument: str | None
    created: datetime
    revision: str
    sequence: int
    call_log_level: str | None = None
    labels: dict[str, str] | None = None
    state: str = "ACTIVE"
    ended: datetime | None = None
    result: str | None = None
    error: dict[str, str] | None = None

    @property
    def execution_id(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def duration(self) -> timedelta | None:
        return None if self.ended is None else self.ended - self.created

    def resource(self, view: str = "FULL") -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "createTime": _timestamp(self.created),
            "startTime": _timestamp(self.created),
            "state": self.state,
            "workflowRevisionId": self.revision,
        }
        if self.argument is not None:
            body["argument"] = self.argument
        if self.call_log_level:
            body["callLogLevel"] = self.call_log_level
        if self.labels:
            body["labels"] = self.labels
        if self.ended is not None and self.duration is not None:
            body["endTime"] = _timestamp(self.ended)
            body["duration"] = f"{self.duration.total_seconds():.6f}s"
        if self.result is not None:
            body["result"] = self.result
        if self.error is not None:
            body["error"] = self.error
        if view == "BASIC":
            body = {key: value for key, value in body.items() if key in BASIC_FIELDS}
        return body


def error_of(run: LocalRun) -> dict[str, str]:
    """``Execution.error`` for a failed run: the workflow's error map as a JSON string, and a context."""
    assert run.error is not None
    error: WorkflowError = run.error
    return {
        "payload": json.dumps(error.as_value()),
        "context": f"RuntimeError: {error} (execution {run.execution_id}, local engine)",
    }


def cancelled_error(execution_id: str) -> dict[str, str]:
    """``Execution.error`` for a cancelled execution: Google fills ``error`` for CANCELLED as for FAILED,
    so a client reading why an execution ended finds a reason. The wording and tag are the local
    engine's (Google does not document its text)."""
    message = "the execution was cancelled by a cancel request"
    return {
        "payload": json.dumps({"message": message, "tags": ["CancelledError"]}),
        "context": f"CancelledError: {message} (execution {execution_id}, local engine: a step already "
        "running finishes in the background and its outcome is dropped)",
    }
