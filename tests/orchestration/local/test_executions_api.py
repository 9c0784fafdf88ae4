"""The local Workflows Executions REST API: Google's v1 shapes, and the real gcloud against it.

The REST tests inject a fake ``start`` (gated by events, so ACTIVE is observable); the gcloud tests run
the installed gcloud with a private CLOUDSDK_CONFIG and a dummy token, and skip where gcloud is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestration.engine.errors import WorkflowError
from orchestration.local.executions_api import ExecutionsServer
from orchestration.local.gcloud import gcloud_env, gcloud_howto, prepare_gcloud
from orchestration.local.stack import LocalStack
from tests.fakes.executions import FakeStart, serving

PARENT = "/v1/projects/local/locations/local/workflows/factory"
ARGUMENT = {"job": "solve-linear-ticket", "ticket": "IX-103"}
RESULT = {"run_id": "x", "implement": "no_changes"}


def kind(argument: Any) -> str:
    """``{"hold": true}`` waits for release, ``{"fail": true}`` ends in a workflow error, ``{"crash": true}``
    raises a Python exception; anything else returns ``RESULT``."""
    flags = argument if isinstance(argument, dict) else {}
    return next((flag for flag in ("hold", "crash", "fail") if flags.get(flag)), "ok")


@pytest.fixture
def fake() -> FakeStart:
    error = WorkflowError(["NotImplemented"], "job onboard-client is not available yet", code=501)
    return FakeStart(kind, lambda execution_id: RESULT, error)


@pytest.fixture
def server(fake: FakeStart) -> Iterator[ExecutionsServer]:
    with serving(fake) as running:
        yield running


@pytest.fixture
def client(server: ExecutionsServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url.rstrip("/"), timeout=5) as http:
        yield http


def create(client: httpx.Client, argument: Any) -> dict[str, Any]:
    response = client.post(f"{PARENT}/executions", json={"argument": json.dumps(argument)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_done(client: httpx.Client, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v1/{name}").json()
        if body["state"] != "ACTIVE":
            return body
        time.sleep(0.02)
    raise AssertionError(f"{name} still ACTIVE")


def test_create_is_active_then_succeeds_with_a_json_string_result(
    client: httpx.Client, fake: FakeStart
) -> None:
    created = create(client, {**ARGUMENT, "hold": True})
    assert created["state"] == "ACTIVE"
    assert created["name"].startswith("projects/local/locations/local/workflows/factory/executions/")
    assert json.loads(created["argument"]) == {**ARGUMENT, "hold": True}
    assert created["startTime"].endswith("Z") and created["workflowRevisionId"].startswith("000001-")
    assert "result" not in created and "endTime" not in created
    assert client.get(f"/v1/{created['name']}").json()["state"] == "ACTIVE"

    fake.release.set()
    done = wait_done(client, created["name"])
    assert done["state"] == "SUCCEEDED"
    assert isinstance(done["result"], str) and json.loads(done["result"]) == RESULT
    assert done["endTime"] >= done["startTime"] and done["duration"].endswith("s")
    assert "error" not in done
    # The workflow gets the parsed argument and the execution id (its run id).
    assert fake.calls == [({**ARGUMENT, "hold": True}, created["name"].rsplit("/", 1)[1])]


def test_a_failed_run_reports_the_error_map_as_a_json_payload(client: httpx.Client) -> None:
    done = wait_done(client, create(client, {"job": "onboard-client", "fail": True})["name"])
    assert done["state"] == "FAILED" and "result" not in done
    assert json.loads(done["error"]["payload"]) == {
        "message": "job onboard-client is not available yet",
        "tags": ["NotImplemented"],
        "code": 501,
    }
    assert "NotImplemented" in done["error"]["context"]


def test_a_crashing_runner_is_a_failed_execution(client: httpx.Client) -> None:
    done = wait_done(client, create(client, {"crash": True})["name"])
    assert done["state"] == "FAILED"
    assert json.loads(done["error"]["payload"])["tags"] == ["SystemError"]


def test_no_argument_runs_with_null(client: httpx.Client, fake: FakeStart) -> None:
    response = client.post(f"{PARENT}/executions", json={})
    assert response.status_code == 200 and "argument" not in response.json()
    wait_done(client, response.json()["name"])
    assert fake.calls[0][0] is None


def test_list_is_newest_first_paged_and_basic_by_default(client: httpx.Client) -> None:
    names = [wait_done(client, create(client, {"n": n})["name"])["name"] for n in range(3)]
    first = client.get(f"{PARENT}/executions", params={"pageSize": 2}).json()
    assert [item["name"] for item in first["executions"]] == names[:0:-1]
    assert all("argument" not in item and "result" not in item for item in first["executions"])
    assert {"name", "state", "startTime", "endTime", "workflowRevisionId"} <= set(first["executions"][0])
    second = client.get(
        f"{PARENT}/executions", params={"pageSize": 2, "pageToken": first["nextPageToken"]}
    ).json()
    assert [item["name"] for item in second["executions"]] == names[:1]
    assert "nextPageToken" not in second
    full = client.get(f"{PARENT}/executions", params={"view": "FULL"}).json()
    assert [json.loads(item["result"]) for item in full["executions"]] == [RESULT] * 3
    other = client.get("/v1/projects/other/locations/local/workflows/factory/executions").json()
    assert other == {"executions": []}


def test_cancel_marks_an_active_execution_and_keeps_it_cancelled(
    client: httpx.Client, fake: FakeStart
) -> None:
    name = create(client, {"hold": True})["name"]
    cancelled = client.post(f"/v1/{name}:cancel", json={})
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "CANCELLED" and "endTime" in cancelled.json()
    fake.release.set()
    time.sleep(0.1)  # the run ends in the background; its outcome is dropped
    after = client.get(f"/v1/{name}").json()
    assert after["state"] == "CANCELLED" and "result" not in after
    again = client.post(f"/v1/{name}:cancel", json={})
    assert again.status_code == 400 and again.json()["error"]["status"] == "FAILED_PRECONDITION"


def test_errors_have_googles_shape(client: httpx.Client) -> None:
    other = "projects/local/locations/local/workflows/other"
    unknown = client.post(f"/v1/{other}/executions", json={"argument": "{}"})
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": {"code": 404, "message": f"Resource '{other}' was not found", "status": "NOT_FOUND"}
    }
    assert client.get(f"/v1/{other}/executions").status_code == 404
    missing = client.get(f"{PARENT}/executions/nope")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"
    for body in ({"argument": "{bad"}, {"argument": {"job": "x"}}):
        bad = client.post(f"{PARENT}/executions", json=body)
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    not_json = client.post(f"{PARENT}/executions", content=b"{nope")
    assert not_json.status_code == 400 and not_json.json()["error"]["status"] == "INVALID_ARGUMENT"
    token = client.get(f"{PARENT}/executions", params={"pageToken": "garbage"})
    assert token.status_code == 400 and token.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_the_local_stack_runs_factory_yaml(tmp_path: Path) -> None:
    """What the serve command starts: the real workflow file on the local engine (a job it rejects)."""
    stack = LocalStack.create(str(tmp_path / "remote.git"), tmp_path / "artifacts", tmp_path / "tickets")
    run = stack.run({"job": "onboard-client"}, "exec-1")
    assert run.error is not None and run.error.tags == ["NotImplemented"]


def test_the_printed_gcloud_lines(tmp_path: Path) -> None:
    config, token = prepare_gcloud(tmp_path / "gcloud")
    assert Path(config).is_dir() and Path(token).read_text().strip()
    lines = gcloud_howto("http://127.0.0.1:8787/", config, token)
    assert "export CLOUDSDK_API_ENDPOINT_OVERRIDES_WORKFLOWEXECUTIONS=http://127.0.0.1:8787/" in lines
    assert any(line.startswith("gcloud workflows run factory --data=") for line in lines)


GCLOUD = shutil.which("gcloud")


@pytest.mark.skipif(GCLOUD is None, reason="gcloud is not installed")
def test_the_real_gcloud_runs_describes_and_lists(server: ExecutionsServer, tmp_path: Path) -> None:
    config, token = prepare_gcloud(tmp_path / "gcloud")
    env = {**os.environ, **gcloud_env(server.base_url, config, token)}

    def gcloud(*args: str) -> str:
        done = subprocess.run(
            [str(GCLOUD), *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    ran = gcloud("workflows", "run", "factory", f"--data={json.dumps(ARGUMENT)}", "--format=json")
    execution = json.loads(ran)
    assert execution["state"] == "SUCCEEDED"
    assert json.loads(execution["result"]) == RESULT
    execution_id = execution["name"].rsplit("/", 1)[1]

    described = gcloud("workflows", "executions", "describe", execution_id, "--workflow", "factory")
    assert "state: SUCCEEDED" in described and '"implement": "no_changes"' in described

    listed = gcloud("workflows", "executions", "list", "factory")
    assert execution["name"] in listed and "SUCCEEDED" in listed
