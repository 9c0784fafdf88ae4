"""The Workflows Executions REST API (v1) served by the local engine, so the real ``gcloud`` works locally.

``ExecutionsServer`` answers Google's ``workflowexecutions.googleapis.com/v1`` shapes on 127.0.0.1
(cloud.google.com/workflows/docs/reference/executions/rest/v1):

- ``POST /v1/projects/{p}/locations/{l}/workflows/{w}/executions`` (body: an ``Execution`` whose
  ``argument`` is a JSON *string*) returns the new execution, ``state: ACTIVE``, and runs it in a thread;
- ``GET .../executions/{id}``: ``state`` ACTIVE | SUCCEEDED | FAILED | CANCELLED, ``result`` (the
  workflow's return value as a JSON string) when SUCCEEDED, ``error: {payload, context}`` when FAILED or
  CANCELLED (Google: "only present if the execution's state is FAILED or CANCELLED");
- ``GET .../executions``: ``filter`` (AIP-160) and ``orderBy`` (AIP-132) on the documented fields the
  local engine has, newest ``createTime`` first by default, ``pageSize`` / ``pageToken``, ``view`` BASIC
  (default) or FULL;
- ``POST .../executions/{id}:cancel``: an active execution becomes CANCELLED.

What the API cannot do it refuses, never ignores, with a 400 ``INVALID_ARGUMENT`` in Google's error JSON;
every request gets an answer. What runs an execution is injected: ``start(argument, execution_id) ->
LocalRun``; ``factory serve`` passes ``run_workflow`` on orchestration/factory.yaml, tests pass a fast fake.

The modules, each depending only on those before it:

- ``model``: the constants and limits, ``ApiError`` / ``invalid``, and ``Execution`` with its errors;
- ``arguments``: an ``argument`` (labels, a request body) checked against Google's limits before it runs;
- ``listing``: the list call's filter, orderBy, page tokens and views;
- ``server``: ``Executions`` (the executions and their runs), the HTTP handler and ``ExecutionsServer``.
"""

from orchestration.local.executions.model import ApiError, Execution
from orchestration.local.executions.server import Executions, ExecutionsServer, Start

__all__ = ["ApiError", "Execution", "Executions", "ExecutionsServer", "Start"]
