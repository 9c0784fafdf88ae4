"""The GCP fakes refuse what the real APIs refuse, so a deploy that passes against them is not passing on
a laxity of the fake. Raw REST requests, as any client would send them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.gcp import FakeGcp
from tests.fakes.gcp.deploy import LOCATION, PROJECT


@pytest.fixture
def api() -> Iterator[tuple[FakeGcp, httpx.Client]]:
    with FakeGcp(PROJECT) as fake, httpx.Client(base_url=fake.url) as client:
        yield fake, client


def _refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 400
    assert words in error["message"]


@pytest.mark.parametrize(
    ("replication", "accepted"),
    [
        ({"automatic": {}}, True),
        ({"userManaged": {"replicas": [{"location": "us-central1"}]}}, True),
        ({}, False),
        (None, False),
        ({"automatic": {}, "userManaged": {"replicas": []}}, False),
    ],
)
def test_secret_manager_wants_exactly_one_replication_policy(
    api: tuple[FakeGcp, httpx.Client], replication: Any, accepted: bool
) -> None:
    _, client = api
    body = {} if replication is None else {"replication": replication}
    response = client.post(f"/v1/projects/{PROJECT}/secrets", params={"secretId": "s"}, json=body)
    if accepted:
        assert response.status_code == 200, response.text
    else:
        _refused(response, "exactly one of automatic or userManaged")
        assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def _workflow(env: dict[str, str]) -> dict[str, Any]:
    return {"sourceContents": "main:\n  steps: []\n", "userEnvVars": env}


def test_workflows_refuses_reserved_env_names_and_more_than_twenty(api: tuple[FakeGcp, httpx.Client]) -> None:
    _, client = api
    url = f"/v1/{LOCATION}/workflows"
    for key in ("GOOGLE_CLOUD_PROJECT_ID", "WORKFLOWS_X", ""):
        _refused(client.post(url, params={"workflowId": "w"}, json=_workflow({key: "1"})), "reserved")
    twenty_one = {f"FACTORY_{i}": "1" for i in range(21)}
    _refused(client.post(url, params={"workflowId": "w"}, json=_workflow(twenty_one)), "at most 20")
    twenty = {f"FACTORY_{i}": "1" for i in range(20)}
    assert client.post(url, params={"workflowId": "w"}, json=_workflow(twenty)).status_code == 200
    # An update is held to the same rules.
    patched = client.patch(
        f"{url}/w", params={"updateMask": "userEnvVars"}, json=_workflow({"GOOGLE_X": "1"})
    )
    _refused(patched, "reserved")


def _job(method: str, body: str | None, time_zone: str = "Etc/UTC") -> dict[str, Any]:
    target: dict[str, Any] = {"uri": "https://example.com/", "httpMethod": method}
    if body is not None:
        target["body"] = body
    return {
        "name": f"{LOCATION}/jobs/j",
        "schedule": "0 3 * * *",
        "timeZone": time_zone,
        "httpTarget": target,
    }


@pytest.mark.parametrize("method", ["GET", "DELETE", 2, 5])
def test_scheduler_refuses_a_body_on_get_and_delete(api: tuple[FakeGcp, httpx.Client], method: Any) -> None:
    _, client = api
    _refused(client.post(f"/v1/{LOCATION}/jobs", json=_job(method, "e30=")), "allowed only with POST")


def test_scheduler_takes_a_body_on_post_and_refuses_an_unknown_time_zone(
    api: tuple[FakeGcp, httpx.Client],
) -> None:
    _, client = api
    _refused(client.post(f"/v1/{LOCATION}/jobs", json=_job("POST", "e30=", "Mars/Olympus")), "time zone")
    assert client.post(f"/v1/{LOCATION}/jobs", json=_job("POST", "e30=", "Europe/Paris")).status_code == 200
    assert client.get(f"/v1/{LOCATION}/jobs/j").json()["timeZone"] == "Europe/Paris"


@pytest.mark.parametrize(
    ("member", "accepted"),
    [
        ("user:alice@example.com", True),
        ("group:admins@example.com", True),
        ("domain:example.com", True),
        ("allUsers", True),
        ("allAuthenticatedUsers", True),
        ("alice@example.com", False),
        ("user:alice", False),
        ("robot:alice@example.com", False),
        ("serviceAccount:", False),
    ],
)
def test_iam_refuses_malformed_members(
    api: tuple[FakeGcp, httpx.Client], member: str, accepted: bool
) -> None:
    fake, client = api
    policy = fake.policies.get(f"projects/{PROJECT}")
    policy["bindings"].append({"role": "roles/viewer", "members": [member]})
    response = client.post(f"/v3/projects/{PROJECT}:setIamPolicy", json={"policy": policy})
    if accepted:
        assert response.status_code == 200, response.text
        assert member in fake.policies.members(f"projects/{PROJECT}", "roles/viewer")
    else:
        assert response.status_code == 400, response.text
        assert member not in fake.policies.members(f"projects/{PROJECT}", "roles/viewer")


def test_a_bucket_policy_also_takes_the_legacy_project_convenience_members(
    api: tuple[FakeGcp, httpx.Client],
) -> None:
    fake, client = api
    fake.storage.add("b1")
    policy = client.get("/storage/v1/b/b1/iam").json()
    assert {"projectOwner:factory-test"} <= {m for b in policy["bindings"] for m in b["members"]}
    assert client.put("/storage/v1/b/b1/iam", json=policy).status_code == 200
    project = fake.policies.get(f"projects/{PROJECT}")
    project["bindings"].append({"role": "roles/viewer", "members": ["projectOwner:factory-test"]})
    assert client.post(f"/v3/projects/{PROJECT}:setIamPolicy", json={"policy": project}).status_code == 400


def test_a_delayed_grant_is_left_out_of_exactly_n_checks(api: tuple[FakeGcp, httpx.Client]) -> None:
    fake, client = api
    fake.policies.delay_grants(reads=2)
    policy = fake.policies.get(f"projects/{PROJECT}")
    policy["bindings"].append({"role": "roles/viewer", "members": ["user:bob@example.com"]})
    assert client.post(f"/v3/projects/{PROJECT}:setIamPolicy", json={"policy": policy}).status_code == 200
    seen = [fake.policies.effective(f"projects/{PROJECT}", "roles/viewer") for _ in range(3)]
    assert seen == [set(), set(), {"user:bob@example.com"}]
    assert fake.policies.members(f"projects/{PROJECT}", "roles/viewer") == {"user:bob@example.com"}


def test_cloud_run_says_it_does_not_implement_a_masked_service_update(
    api: tuple[FakeGcp, httpx.Client],
) -> None:
    _, client = api
    service = {"template": {"containers": [{"image": "example.com/i:1"}]}}
    assert client.post(f"/v2/{LOCATION}/services", params={"serviceId": "s"}, json=service).status_code == 200
    masked = client.patch(f"/v2/{LOCATION}/services/s", params={"updateMask": "template"}, json=service)
    _refused(masked, "no updateMask")
