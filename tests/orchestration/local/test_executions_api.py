"""The local Workflows Executions REST API: Google's v1 shapes, and the real gcloud against it.

The REST tests inject a fake ``start`` (gated by events, so ACTIVE is observable); the gcloud tests run
the installed gcloud with a private CLOUDSDK_CONFIG and a dummy token, and skip where gcloud is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestration.engine.errors import WorkflowError
from orchestration.local.executions import ExecutionsServer
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
    error = WorkflowError(["ValueError"], "onboard-client needs a client", code=400)
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
        "message": "onboard-client needs a client",
        "tags": ["ValueError"],
        "code": 400,
    }
    assert "ValueError" in done["error"]["context"]


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
    """A cancelled execution carries an ``error``: "The error which caused the execution to finish
    prematurely. The value is only present if the execution's state is FAILED or CANCELLED." (Execution,
    cloud.google.com/workflows/docs/reference/executions/rest/v1/projects.locations.workflows.executions).
    """
    name = create(client, {"hold": True})["name"]
    cancelled = client.post(f"/v1/{name}:cancel", json={})
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "CANCELLED" and "endTime" in cancelled.json()
    assert cancelled.json()["duration"].endswith("s")
    error = cancelled.json()["error"]
    assert json.loads(error["payload"]) == {
        "message": "the execution was cancelled by a cancel request",
        "tags": ["CancelledError"],
    }
    assert error["context"].startswith("CancelledError: ") and name.rsplit("/", 1)[1] in error["context"]
    fake.release.set()
    time.sleep(0.1)  # the run ends in the background; its outcome is dropped
    after = client.get(f"/v1/{name}").json()
    assert after["state"] == "CANCELLED" and "result" not in after
    assert after["error"] == error and after["endTime"] == cancelled.json()["endTime"]
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


# --- list: filter, orderBy, view (issue 14, item 12) ----------------------------------------------------


def refused(response: httpx.Response, *words: str) -> str:
    """Assert Google's 400 ``INVALID_ARGUMENT`` error JSON, its message naming each of ``words``."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "status"}
    assert body["error"]["code"] == 400 and body["error"]["status"] == "INVALID_ARGUMENT"
    message: str = body["error"]["message"]
    for word in words:
        assert word in message, message
    return message


def listed(client: httpx.Client, **params: str) -> list[str]:
    response = client.get(f"{PARENT}/executions", params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["executions"]]


@pytest.fixture
def three(client: httpx.Client) -> dict[str, dict[str, Any]]:
    """Oldest to newest: one SUCCEEDED, one FAILED, one still ACTIVE (held until the server stops)."""
    ok = wait_done(client, create(client, {"n": 0})["name"])
    failed = wait_done(client, create(client, {"fail": True})["name"])
    held = create(client, {"hold": True})
    assert (ok["state"], failed["state"], held["state"]) == ("SUCCEEDED", "FAILED", "ACTIVE")
    return {"ok": ok, "failed": failed, "held": held}


def test_list_filters_on_state_times_and_ids(client: httpx.Client, three: dict[str, dict[str, Any]]) -> None:
    """``filter`` (AIP-160, google.aip.dev/160) on the documented fields the local engine keeps: "The
    following fields are supported for filtering: executionId, state, createTime, startTime, endTime,
    duration, workflowRevisionId, stepName, label ... For example: state="SUCCEEDED" or
    startTime>"2023-08-01" AND state="FAILED"" (executions.list,
    cloud.google.com/workflows/docs/reference/executions/rest/v1/projects.locations.workflows.executions/list).
    OR binds tighter than AND, and an execution without the field (an active one has no endTime)
    matches no restriction on it."""
    ok, failed, held = (three[key]["name"] for key in ("ok", "failed", "held"))
    created = {key: three[key]["createTime"] for key in three}

    assert listed(client, filter='state="FAILED"') == [failed]
    assert listed(client, filter="state=SUCCEEDED") == [ok]
    assert listed(client, filter='state!="ACTIVE"') == [failed, ok]
    assert listed(client, filter='startTime>"2023-08-01" AND state="FAILED"') == [failed]
    assert listed(client, filter=f'createTime>"{created["ok"]}"') == [held, failed]
    between = f'createTime>="{created["ok"]}" AND createTime<"{created["held"]}"'
    assert listed(client, filter=between) == [failed, ok]
    assert listed(client, filter=f'endTime<="{three["failed"]["endTime"]}"') == [failed, ok]
    assert listed(client, filter='duration>="0s"') == [failed, ok]
    assert listed(client, filter='NOT state="ACTIVE"') == listed(client, filter='-state="ACTIVE"')
    assert listed(client, filter='-state="ACTIVE"') == [failed, ok]
    assert listed(client, filter='state="FAILED" OR state="ACTIVE"') == [held, failed]
    either = f'(state="FAILED" OR state="SUCCEEDED") AND endTime>"{three["ok"]["endTime"]}"'
    assert listed(client, filter=either) == [failed]
    assert listed(client, filter=f'state="ACTIVE" OR state="FAILED" endTime>"{created["ok"]}"') == [failed]
    assert listed(client, filter=f'executionId="{ok.rsplit("/", 1)[1]}"') == [ok]
    revision = three["ok"]["workflowRevisionId"]
    assert listed(client, filter=f'workflowRevisionId="{revision}"') == [held, failed, ok]
    assert listed(client, filter="") == [held, failed, ok]


def test_list_orders_by_the_documented_fields(client: httpx.Client, three: dict[str, dict[str, Any]]) -> None:
    """``orderBy`` (AIP-132, google.aip.dev/132): "Comma-separated list of fields ... By default the
    ordering is based on descending createTime. The following fields are supported for ordering:
    executionId, state, createTime, startTime, endTime, duration, and workflowRevisionId" (executions.list,
    cloud.google.com/workflows/docs/reference/executions/rest/v1/projects.locations.workflows.executions/list).
    Ascending unless ``desc``; states by enum number (ACTIVE 1, SUCCEEDED 2, FAILED 3); an absent
    endTime sorts first ascending, last descending."""
    ok, failed, held = (three[key]["name"] for key in ("ok", "failed", "held"))
    assert listed(client) == [held, failed, ok]
    assert listed(client, orderBy="createTime") == [ok, failed, held]
    assert listed(client, orderBy="startTime desc") == [held, failed, ok]
    assert listed(client, orderBy="state") == [held, ok, failed]
    assert listed(client, orderBy="state desc, createTime") == [failed, ok, held]
    assert listed(client, orderBy="endTime") == [held, ok, failed]
    assert listed(client, orderBy="endTime desc") == [failed, ok, held]
    assert listed(client, orderBy="workflowRevisionId, createTime asc") == [ok, failed, held]
    ids = sorted([ok, failed, held], key=lambda name: name.rsplit("/", 1)[1])
    assert listed(client, orderBy="executionId") == ids


def test_pages_follow_the_filter_and_order_their_token_came_from(
    client: httpx.Client, three: dict[str, dict[str, Any]]
) -> None:
    """``pageToken``: "When paginating, all other parameters provided to executions.list must match the
    call that provided the page token" (executions.list,
    cloud.google.com/workflows/docs/reference/executions/rest/v1/projects.locations.workflows.executions/list):
    a token reused with another filter is refused."""
    ok, failed = three["ok"]["name"], three["failed"]["name"]
    query = {"filter": 'state!="ACTIVE"', "orderBy": "createTime", "pageSize": "1"}
    first = client.get(f"{PARENT}/executions", params=query).json()
    assert [item["name"] for item in first["executions"]] == [ok]
    second = client.get(f"{PARENT}/executions", params={**query, "pageToken": first["nextPageToken"]}).json()
    assert [item["name"] for item in second["executions"]] == [failed] and "nextPageToken" not in second
    other = {**query, "filter": 'state="FAILED"', "pageToken": first["nextPageToken"]}
    refused(client.get(f"{PARENT}/executions", params=other), "page token", "filter")


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"filter": 'stepName="build"'}, ("stepName", "local Executions API")),
        ({"filter": 'labels.team="ix"'}, ("labels.team", "local Executions API")),
        ({"filter": 'argument="x"'}, ("argument", "supported fields", "createTime")),
        ({"filter": 'state="DONE"'}, ("DONE", "not an execution state", "SUCCEEDED")),
        ({"filter": 'state>"ACTIVE"'}, ("state", "= or !=")),
        ({"filter": 'createTime>"yesterday"'}, ("yesterday", "RFC 3339")),
        ({"filter": 'duration>"1m"'}, ("1m", "duration")),
        ({"filter": 'state:"ACTIVE"'}, ("':'",)),
        ({"filter": '(state="ACTIVE"'}, ("')'", "the end")),
        ({"filter": "state="}, ("value",)),
        ({"filter": 'state="ACTIVE" AND'}, ("field name",)),
        ({"filter": "state ~ ACTIVE"}, ("'~'",)),
        ({"filter": "(" * 5000 + 'state="ACTIVE"' + ")" * 5000}, ("nest deeper than 20",)),
        ({"orderBy": "argument"}, ("ordering", "argument", "supported fields")),
        ({"orderBy": "createTime sideways"}, ("asc or desc",)),
        ({"orderBy": "createTime,"}, ("orderBy",)),
        ({"view": "EVERYTHING"}, ("view", "BASIC or FULL")),
        ({"pageSize": "-1"}, ("pageSize",)),
    ],
)
def test_list_refuses_what_it_cannot_do(
    client: httpx.Client, params: dict[str, str], words: tuple[str, ...]
) -> None:
    """Never ignored: a filter, order or view the local API cannot honour is Google's 400 error JSON
    (``{"error": {"code": 400, "message", "status": "INVALID_ARGUMENT"}}``), not an unfiltered list."""
    create(client, {"n": 0})
    refused(client.get(f"{PARENT}/executions", params=params), *words)


def test_views_hold_the_documented_fields(client: httpx.Client) -> None:
    """ExecutionView BASIC: "The following fields are returned: name, startTime, endTime, duration, state,
    and workflowRevisionId" (cloud.google.com/workflows/docs/reference/executions/rest/v1/ExecutionView);
    FULL holds all; list defaults to BASIC, get to FULL; another view is refused."""
    name = wait_done(client, create(client, ARGUMENT)["name"])["name"]
    [basic] = client.get(f"{PARENT}/executions").json()["executions"]
    assert set(basic) == {"name", "startTime", "endTime", "duration", "state", "workflowRevisionId"}
    [full] = client.get(f"{PARENT}/executions", params={"view": "FULL"}).json()["executions"]
    assert {"createTime", "argument", "result"} <= set(full)
    assert client.get(f"/v1/{name}").json() == full
    assert set(client.get(f"/v1/{name}", params={"view": "BASIC"}).json()) == set(basic)
    refused(client.get(f"/v1/{name}", params={"view": "ALL"}), "view")


# --- the argument and the request: Google's limits, always an answer (issue 14, item 19) --------------


def sized(size: int) -> str:
    """A JSON object of exactly ``size`` bytes."""
    return '{"pad": "' + "x" * (size - len('{"pad": ""}')) + '"}'


def test_an_argument_over_32KB_is_refused_naming_the_limit(client: httpx.Client, fake: FakeStart) -> None:
    """Execution.argument: "Input parameters of the execution represented as a JSON string. The size limit
    is 32KB." (Execution,
    cloud.google.com/workflows/docs/reference/executions/rest/v1/projects.locations.workflows.executions).
    Read as 32 KiB of UTF-8: 32768 bytes run, 32769 do not, nor 16400 two-byte characters."""
    at_limit = client.post(f"{PARENT}/executions", json={"argument": sized(32768)})
    assert at_limit.status_code == 200, at_limit.text
    wait_done(client, at_limit.json()["name"])
    refused(client.post(f"{PARENT}/executions", json={"argument": sized(32769)}), "32769 bytes", "32KB")
    accented = json.dumps("é" * 16400, ensure_ascii=False)
    assert len(accented) < 32768 < len(accented.encode())
    refused(client.post(f"{PARENT}/executions", json={"argument": accented}), "32KB")
    assert len(fake.calls) == 1 and len(listed(client)) == 1  # nothing refused was created or run


def test_deeply_nested_arguments_are_refused_not_dropped(client: httpx.Client) -> None:
    """A 16000-deep list fits in 32KB but not in Python's recursive JSON parser: before, the server
    dropped the connection with no answer. Google documents no nesting limit; the local one is 100."""
    deepest = "[" * 100 + "]" * 100
    assert client.post(f"{PARENT}/executions", json={"argument": deepest}).status_code == 200
    one_more = "[" * 101 + "]" * 101
    refused(client.post(f"{PARENT}/executions", json={"argument": one_more}), "nested deeper than 100")
    huge = "[" * 16000 + "]" * 16000
    refused(client.post(f"{PARENT}/executions", json={"argument": huge}), "nested deeper than 100")
    in_a_string = json.dumps({"text": "[" * 1000})
    assert client.post(f"{PARENT}/executions", json={"argument": in_a_string}).status_code == 200


@pytest.mark.parametrize(
    "number", [str(2**63 - 1), str(-(2**63)), "1.7976931348623157e308", "-0.0", "1e-400"]
)
def test_numbers_workflows_holds_are_taken(client: httpx.Client, fake: FakeStart, number: str) -> None:
    """Workflows data types: "Integer (64 bit, signed)", "Double (64 bit, signed floating point number)"
    (cloud.google.com/workflows/docs/reference/syntax/datatypes): their extremes run."""
    wait_done(client, create(client, {"n": json.loads(number)})["name"])
    assert fake.calls[0][0] == {"n": json.loads(number)}


@pytest.mark.parametrize(
    ("argument", "words"),
    [
        (str(2**63), ("9223372036854775808", "64-bit signed Integer")),
        (str(-(2**63) - 1), ("-9223372036854775809", "64-bit signed Integer")),
        ("1" * 5000, ("5000 characters", "64-bit signed Integer")),
        ('{"n": 1e400}', ("1e400", "64-bit Double")),
        ("-1e400", ("-1e400", "64-bit Double")),
        ("NaN", ("NaN", "not JSON")),
        ("[1, -Infinity]", ("-Infinity", "not JSON")),
        ("{bad", ("not valid JSON",)),
    ],
)
def test_numbers_workflows_cannot_hold_are_refused(
    client: httpx.Client, fake: FakeStart, argument: str, words: tuple[str, ...]
) -> None:
    """Past Workflows' 64-bit Integer and Double (syntax/datatypes, above) an argument is a 400; before,
    a 5000-digit integer (over Python's int-conversion limit) got no answer at all, and 2**63 or 1e400
    (read as inf) were accepted."""
    refused(client.post(f"{PARENT}/executions", json={"argument": argument}), *words)
    assert fake.calls == []


@pytest.mark.parametrize(
    ("labels", "words"),
    [
        (["team"], ("map of strings",)),
        ({"team": {"nested": "x"}}, ("map of strings",)),
        ({"team": [[[[[[["deep"]]]]]]]}, ("map of strings",)),
        ({f"k{n}": "v" for n in range(65)}, ("65 entries", "at most 64")),
        ({"Team": "ix"}, ("'Team'", "lowercase")),
        ({"1team": "ix"}, ("'1team'", "start with a letter")),
        ({"team": "x" * 64}, ("at most 63",)),
    ],
)
def test_labels_outside_the_documented_rules_are_refused(
    client: httpx.Client, fake: FakeStart, labels: Any, words: tuple[str, ...]
) -> None:
    """Execution.labels: "Labels can contain at most 64 entries. Keys and values can be no longer than 63
    characters and can only contain lowercase letters, numeric characters, underscores, and dashes. Label
    keys must start with a letter. International characters are allowed." (Execution,
    cloud.google.com/workflows/docs/reference/executions/rest/v1/projects.locations.workflows.executions).
    Before, any JSON was stored and echoed back."""
    refused(client.post(f"{PARENT}/executions", json={"argument": "{}", "labels": labels}), *words)
    assert fake.calls == []
    kept = create_with(client, {"argument": "{}", "labels": {"team": "ix-1", "équipe": "été_2"}})
    assert kept["labels"] == {"team": "ix-1", "équipe": "été_2"}


def create_with(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{PARENT}/executions", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def raw_request(server: ExecutionsServer, request: bytes) -> tuple[int, dict[str, Any]]:
    """Send ``request`` as is (what httpx would not send) and read the whole answer; a server that never
    answers fails the test by timeout rather than hanging it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_every_malformed_request_gets_an_answer(client: httpx.Client, server: ExecutionsServer) -> None:
    """The request body itself: nested past Python's recursion limit, a 5000-digit number, bad UTF-8, a
    bad Content-Length, or over the 1 MiB the local API reads. Each dropped the connection (or would read
    it all into memory) before; each is now Google's 400."""
    deep = b'{"labels": ' + b"[" * 100000 + b"]" * 100000 + b"}"
    refused(client.post(f"{PARENT}/executions", content=deep), "Invalid JSON payload", "RecursionError")
    digits = b'{"argument": "{}", "n": ' + b"1" * 5000 + b"}"
    refused(client.post(f"{PARENT}/executions", content=digits), "Invalid JSON payload")
    refused(client.post(f"{PARENT}/executions", content=b'{"argument": "\xff"}'), "UnicodeDecodeError")
    too_big = client.post(f"{PARENT}/executions", json={"argument": json.dumps("x" * 2 * 1024 * 1024)})
    refused(too_big, "request body is", "32KB")
    request = f"POST {PARENT}/executions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{{}}".encode()
    status, body = raw_request(server, request)
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT"
    assert "Content-Length" in body["error"]["message"]
    assert listed(client) == []


def test_an_unexpected_failure_is_a_500_in_googles_shape(
    client: httpx.Client, server: ExecutionsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever breaks inside, the client gets an answer in Google's error shape, not a closed socket."""

    def broken(name: str) -> None:
        raise RuntimeError("the store broke")

    monkeypatch.setattr(server.executions, "get", broken)
    response = client.get(f"{PARENT}/executions/any")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": 500, "message": "RuntimeError: the store broke", "status": "INTERNAL"}
    }


def test_the_local_stack_runs_factory_yaml(tmp_path: Path) -> None:
    """What the serve command starts: the real workflow file on the local engine (an input it rejects)."""
    stack = LocalStack.create(str(tmp_path / "remote.git"), tmp_path / "artifacts", tmp_path / "tickets")
    run = stack.run({"job": "onboard-client"}, "exec-1")
    assert run.error is not None and run.error.tags == ["ValueError"]
    assert run.error.message == "onboard-client needs a client (its domain, e.g. acme-shop.example)"


def test_the_printed_gcloud_lines(tmp_path: Path) -> None:
    config, token = prepare_gcloud(tmp_path / "gcloud")
    assert Path(config).is_dir() and Path(token).read_text().strip()
    lines = gcloud_howto("http://127.0.0.1:8787/", config, token)
    assert "export CLOUDSDK_API_ENDPOINT_OVERRIDES_WORKFLOWEXECUTIONS=http://127.0.0.1:8787/" in lines
    assert any(line.startswith("gcloud workflows run factory --data=") for line in lines)


GCLOUD = shutil.which("gcloud")


def gcloud_for(server: ExecutionsServer, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """The installed gcloud pointed at ``server``, with a private config and a dummy token."""
    config, token = prepare_gcloud(tmp_path / "gcloud")
    env = {**os.environ, **gcloud_env(server.base_url, config, token)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(GCLOUD), *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    return run


@pytest.mark.skipif(GCLOUD is None, reason="gcloud is not installed")
def test_the_real_gcloud_runs_describes_and_lists(server: ExecutionsServer, tmp_path: Path) -> None:
    run = gcloud_for(server, tmp_path)

    def gcloud(*args: str) -> str:
        done = run(*args)
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


@pytest.mark.skipif(GCLOUD is None, reason="gcloud is not installed")
def test_the_real_gcloud_shows_refused_arguments_and_a_cancelled_error(
    server: ExecutionsServer, fake: FakeStart, tmp_path: Path
) -> None:
    """``gcloud workflows run`` prints the 400 as ``INVALID_ARGUMENT: <message>`` (before, a deep
    argument left it without an answer); ``gcloud workflows executions cancel`` shows the CANCELLED
    execution with its ``error``."""
    gcloud = gcloud_for(server, tmp_path)
    too_big = gcloud("workflows", "run", "factory", f"--data={sized(40000)}")
    assert too_big.returncode == 1 and "INVALID_ARGUMENT: 'argument' is 40000 bytes" in too_big.stderr
    assert "the size limit is 32KB" in too_big.stderr
    deep = gcloud("workflows", "run", "factory", "--data=" + "[" * 16000 + "]" * 16000)
    assert deep.returncode == 1 and "nested deeper than 100" in deep.stderr
    assert fake.calls == []

    started = gcloud("workflows", "execute", "factory", '--data={"hold": true}', "--format=value(name)")
    assert started.returncode == 0, started.stderr
    execution_id = started.stdout.strip().rsplit("/", 1)[1]
    cancel = ("workflows", "executions", "cancel", execution_id, "--workflow=factory", "--quiet")
    cancelled = gcloud(*cancel, "--format=json")
    assert cancelled.returncode == 0, cancelled.stderr
    execution = json.loads(cancelled.stdout)
    assert execution["state"] == "CANCELLED" and "endTime" in execution
    assert json.loads(execution["error"]["payload"])["tags"] == ["CancelledError"]
