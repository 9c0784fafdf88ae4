"""``factory deploy plan|apply`` through the real google-cloud client libraries against the REST fakes.

Every call crosses a real loopback HTTP server speaking the APIs' wire format (tests/fakes/gcp); the
fake's request log is how writes are counted.
"""

from __future__ import annotations

import base64
import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestration import FACTORY_YAML
from tests.deploy.configs import (
    MODEL_SECRETS,
    SECRETS,
    TRIAGE_ONLY_SECRETS,
    TRIAGE_SECRET_NAMES,
    fill_secrets,
    write_config,
)
from tests.fakes.gcp import FakeGcp, Request
from tests.fakes.gcp.deploy import BUCKET, CANARY, LOCATION, PROJECT, deploy

WORKFLOW_SA = f"serviceAccount:factory-workflow@{PROJECT}.iam.gserviceaccount.com"
TRIAGE_JOBS = ("factory-triage", "factory-triage-close")


@pytest.fixture
def fake() -> Iterator[FakeGcp]:
    with FakeGcp(PROJECT) as running:
        running.storage.add(BUCKET)
        yield running


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def _kind(request: Request) -> str:
    """``run POST jobs``, ``run POST jobs:setIamPolicy``, ``storage PUT b:setIamPolicy``: API, method,
    the collection written to, and the custom verb if any."""
    segments = [s for s in request.path.split("/") if s]
    last, _, verb = segments[-1].partition(":")
    if last == "iam":  # Cloud Storage's bucket policy: PUT /storage/v1/b/{bucket}/iam
        return f"storage {request.method} b:setIamPolicy"
    collection = segments[-1] if request.method == "POST" and not verb else segments[-2]
    if verb:
        collection = segments[-2] if len(segments) > 1 else last
    return f"{request.api.split('.')[0]} {request.method} {collection}" + (f":{verb}" if verb else "")


def _writes(fake: FakeGcp, since: int = 0) -> Counter[str]:
    return Counter(_kind(r) for r in fake.requests[since:] if r.write)


def test_a_fresh_project_is_deployed_in_two_applies_around_adding_secret_values(
    fake: FakeGcp, config: Path
) -> None:
    planned = deploy(fake, "plan", "--config", str(config), "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    for secret in SECRETS:
        assert f"gcloud secrets versions add {secret} --data-file=-" in planned.stdout
    assert "waits for a value in secret factory-anthropic-api-key, factory-github-token" in planned.stdout
    receiver_url = "https://factory-receiver-123456789012.us-central1.run.app"
    assert f"Webhook URL: {receiver_url}/linear/webhook" in planned.stdout, "known before the service exists"
    assert not fake.writes(), "a plan never writes"
    assert fake.count("GET", r":getIamPolicy$") == 0, "no policy is asked of a resource that does not exist"

    first = deploy(fake, "apply", "--config", str(config))
    assert first.exit_code == 3, first.output
    assert "Apply incomplete" in first.stdout
    assert "! skipped Cloud Run job factory-implement" in first.stdout
    writes = _writes(fake)
    assert writes["iam POST serviceAccounts"] == 6
    assert writes["secretmanager POST secrets"] == 8
    assert writes["cloudscheduler POST jobs"] == 1
    assert writes["run POST jobs"] == 0 and writes["run POST services"] == 0
    assert not fake.run.resources["jobs"] and not fake.run.resources["services"]
    assert all(not fake.secrets.versions[f"projects/{PROJECT}/secrets/{s}"] for s in SECRETS)

    fill_secrets(fake)
    mark = len(fake.requests)
    second = deploy(fake, "apply", "--config", str(config))
    assert second.exit_code == 0, second.output
    # The six jobs (implement, review, e2e, triage, triage-close, onboard) and the receiver, and their
    # policies.
    assert "Apply complete: 7 created, 7 updated" in second.stdout
    assert len(fake.run.resources["jobs"]) == 6 and len(fake.run.resources["services"]) == 1
    assert sum(_writes(fake, mark).values()) == 14
    assert fake.run.get("services", f"{LOCATION}/services/factory-receiver")["uri"] == receiver_url

    mark = len(fake.requests)
    third = deploy(fake, "apply", "--config", str(config))
    assert third.exit_code == 0
    assert "No changes" in third.stdout
    assert not [r for r in fake.requests[mark:] if r.write]


def test_first_apply_creates_everything_and_the_second_writes_nothing(fake: FakeGcp, config: Path) -> None:
    fill_secrets(fake)
    first = deploy(fake, "apply", "--config", str(config))
    assert first.exit_code == 0, first.output
    assert "Apply complete: 17 created, 18 updated, 9 unchanged." in first.stdout
    assert _writes(fake) == Counter(
        {
            "iam POST serviceAccounts": 6,
            "cloudresourcemanager POST projects:setIamPolicy": 1,
            "storage PUT b:setIamPolicy": 1,
            "secretmanager POST secrets:setIamPolicy": 8,
            "pubsub PUT topics": 1,
            "pubsub POST topics:setIamPolicy": 1,
            "run POST jobs": 6,
            "run POST services": 1,
            "workflows POST workflows": 1,
            "run POST jobs:setIamPolicy": 6,
            "run POST services:setIamPolicy": 1,
            "eventarc POST triggers": 1,
            "cloudscheduler POST jobs": 1,
        }
    )
    polls = fake.count("GET", r"/operations/")
    assert polls == 9, "each long-running create (6 jobs, service, workflow, trigger) was waited on"

    mark = len(fake.requests)
    second = deploy(fake, "apply", "--config", str(config))
    assert second.exit_code == 0
    assert "No changes: 0 to create, 0 to update, 44 unchanged." in second.stdout
    assert len(fake.requests) > mark, "the second apply read everything again"
    assert not [r for r in fake.requests[mark:] if r.write]

    plan = deploy(fake, "plan", "--config", str(config), "--detailed-exitcode")
    assert plan.exit_code == 0
    assert plan.stdout.rstrip().endswith("Plan: 0 to create, 0 to update, 44 unchanged.")


def test_what_was_deployed_is_what_the_workflow_and_jobs_expect(fake: FakeGcp, config: Path) -> None:
    fill_secrets(fake)
    assert deploy(fake, "apply", "--config", str(config)).exit_code == 0

    job = fake.run.get("jobs", f"{LOCATION}/jobs/factory-implement")
    task = job["template"]["template"]
    assert task["maxRetries"] == 0 and task["timeout"] == "7200s"
    env = {e["name"]: e for e in task["containers"][0]["env"]}
    assert env["ANTHROPIC_API_KEY"]["valueSource"]["secretKeyRef"] == {
        "secret": "factory-anthropic-api-key",
        "version": "latest",
    }
    assert fake.policies.members(f"{LOCATION}/jobs/factory-e2e", "roles/run.jobsExecutorWithOverrides") == {
        WORKFLOW_SA
    }
    assert fake.policies.members(f"{LOCATION}/jobs/factory-e2e", "roles/run.developer") == set()
    assert fake.policies.members(f"projects/{PROJECT}", "roles/run.viewer") == {WORKFLOW_SA}

    workflow = fake.workflows.get(f"{LOCATION}/workflows/factory")
    assert workflow["sourceContents"] == FACTORY_YAML.read_text(encoding="utf-8")
    assert (
        workflow["serviceAccount"]
        == f"projects/{PROJECT}/serviceAccounts/factory-workflow@{PROJECT}.iam.gserviceaccount.com"
    )

    trigger = fake.eventarc.get(f"{LOCATION}/triggers/factory-linear")
    assert trigger["eventFilters"] == [
        {"attribute": "type", "value": "google.cloud.pubsub.topic.v1.messagePublished"}
    ]
    assert trigger["transport"]["pubsub"]["topic"] == f"projects/{PROJECT}/topics/factory-linear-events"
    assert trigger["destination"] == {"workflow": f"{LOCATION}/workflows/factory"}

    nightly = fake.scheduler.get(f"{LOCATION}/jobs/factory-nightly-triage")
    argument = json.loads(base64.b64decode(nightly["httpTarget"]["body"]))["argument"]
    assert json.loads(argument) == {"job": "solve-chatbot-issues", "schedule": "nightly"}

    service = fake.run.get("services", f"{LOCATION}/services/factory-receiver")
    assert service["terminalCondition"]["state"] == "CONDITION_SUCCEEDED"
    assert fake.policies.members(f"{LOCATION}/services/factory-receiver", "roles/run.invoker") == {"allUsers"}
    assert fake.policies.members(
        f"projects/{PROJECT}/topics/factory-linear-events", "roles/pubsub.publisher"
    ) == {f"serviceAccount:factory-receiver@{PROJECT}.iam.gserviceaccount.com"}


def test_changing_the_image_tag_plans_exactly_that_update(fake: FakeGcp, tmp_path: Path) -> None:
    fill_secrets(fake)
    assert deploy(fake, "apply", "--config", str(write_config(tmp_path))).exit_code == 0
    changed = write_config(tmp_path, **{"images.tag": "v2"})

    plan = deploy(fake, "plan", "--config", str(changed), "--detailed-exitcode")
    assert plan.exit_code == 2
    assert "Plan: 0 to create, 7 to update, 37 unchanged." in plan.stdout
    changes = [line.strip() for line in plan.stdout.splitlines() if "→" in line]
    registry = "us-central1-docker.pkg.dev/factory-test/factory"
    # Both triage jobs run the one triage image.
    images = ("implement", "review", "e2e", "triage", "triage", "onboard")
    expected = [
        f'{path}: "{registry}/factory-{name}:v1" → "{registry}/factory-{name}:v2"'
        for path, name in [("template.template.containers[0].image", image) for image in images]
        + [("template.containers[0].image", "receiver")]
    ]
    assert changes == expected

    mark = len(fake.requests)
    applied = deploy(fake, "apply", "--config", str(changed))
    assert applied.exit_code == 0
    assert _writes(fake, mark) == Counter({"run PATCH jobs": 6, "run PATCH services": 1})
    assert deploy(fake, "plan", "--config", str(changed), "--detailed-exitcode").exit_code == 0


def test_drift_made_by_hand_is_found_and_put_back(fake: FakeGcp, config: Path) -> None:
    fill_secrets(fake)
    assert deploy(fake, "apply", "--config", str(config)).exit_code == 0
    job = fake.run.resources["jobs"][f"{LOCATION}/jobs/factory-review"]
    job["template"]["template"]["maxRetries"] = 3  # gcloud's default, the B2 hazard
    workflow = fake.workflows.workflows[f"{LOCATION}/workflows/factory"]
    workflow["userEnvVars"]["DEBUG"] = "1"
    account = fake.service_accounts[f"factory-jobs@{PROJECT}.iam.gserviceaccount.com"]
    account["displayName"] = "renamed"

    plan = deploy(fake, "plan", "--config", str(config))
    assert "template.template.maxRetries: 3 → 0" in plan.stdout
    assert 'userEnvVars.DEBUG: "1" → (unset)' in plan.stdout
    assert 'displayName: "renamed" →' in plan.stdout
    assert "0 to create, 3 to update" in plan.stdout

    assert deploy(fake, "apply", "--config", str(config)).exit_code == 0
    assert (
        fake.run.resources["jobs"][f"{LOCATION}/jobs/factory-review"]["template"]["template"]["maxRetries"]
        == 0
    )
    assert "DEBUG" not in fake.workflows.workflows[f"{LOCATION}/workflows/factory"]["userEnvVars"]
    assert "No changes" in deploy(fake, "apply", "--config", str(config)).stdout


def test_secret_values_are_never_read_or_printed(
    fake: FakeGcp, config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fill_secrets(fake)
    caplog.set_level(logging.DEBUG)
    outputs = [deploy(fake, verb, "--config", str(config)) for verb in ("plan", "apply", "plan", "apply")]
    assert [r.exit_code for r in outputs] == [0, 0, 0, 0]
    assert fake.requests and fake.count("GET", r"/versions$") > 0, "versions were listed (metadata only)"
    assert fake.count("GET", r":access$") == 0
    assert fake.count("POST", r":addVersion$") == 0
    seen = "\n".join(r.output for r in outputs) + caplog.text
    assert CANARY not in seen
    assert base64.b64encode(CANARY.encode()).decode()[:20] not in seen


def test_a_missing_secret_is_created_empty(fake: FakeGcp, config: Path) -> None:
    for secret in SECRETS:
        if secret != "factory-linear-api-key":
            fake.secrets.add_version(secret, CANARY)
    plan = deploy(fake, "plan", "--config", str(config))
    assert "+ create    secret factory-linear-api-key" in plan.stdout
    assert plan.stdout.count("gcloud secrets versions add") == 1
    assert (
        "gcloud secrets versions add factory-linear-api-key --data-file=- --project=factory-test"
        in plan.stdout
    )

    applied = deploy(fake, "apply", "--config", str(config))
    assert applied.exit_code == 3, "the jobs wait for the new secret's value"
    created = fake.secrets.get(f"projects/{PROJECT}/secrets/factory-linear-api-key")
    assert created["replication"] == {"automatic": {}}
    assert fake.secrets.versions[created["name"]] == []
    assert fake.count("POST", r"/secrets$") == 1
    assert fake.run.resources["services"], "the receiver does not need that secret and was created"


def test_a_concurrent_policy_change_is_kept_and_ours_retried(fake: FakeGcp, config: Path) -> None:
    fill_secrets(fake)
    project = f"projects/{PROJECT}"
    fake.before_next(
        "POST",
        rf"^/v3/{project}:setIamPolicy$",
        lambda: fake.policies.grant(project, "roles/viewer", "user:alice@example.com"),
    )
    applied = deploy(fake, "apply", "--config", str(config))
    assert applied.exit_code == 0, applied.output
    assert fake.count("POST", rf"^/v3/{project}:setIamPolicy$") == 2, (
        "the stale write was refused, then redone"
    )
    assert fake.policies.members(project, "roles/viewer") == {"user:alice@example.com"}
    assert fake.policies.members(project, "roles/owner") == {"user:owner@example.com"}
    assert fake.policies.members(project, "roles/workflows.invoker") == {
        f"serviceAccount:factory-{who}@{PROJECT}.iam.gserviceaccount.com" for who in ("eventarc", "scheduler")
    }


def test_a_disabled_api_becomes_one_line_that_says_what_to_enable(fake: FakeGcp, config: Path) -> None:
    fill_secrets(fake)
    fake.disable("run.googleapis.com")
    result = deploy(fake, "plan", "--config", str(config))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("factory deploy: Cloud Run job factory-implement: read failed (403 ")
    assert (
        "fix: enable run.googleapis.com: gcloud services enable run.googleapis.com --project=factory-test"
        in lines[0]
    )


SA = "service account factory-jobs@factory-test.iam.gserviceaccount.com"


@pytest.mark.parametrize(
    ("method", "path", "code", "expected"),
    [
        ("POST", r"/workflows$", 403, "workflow factory: create failed (403 denied) — fix: the deploying "
         "account needs roles/workflows.admin on project factory-test"),
        ("PUT", r"/topics/", 409, "Pub/Sub topic factory-linear-events: create failed (409 denied) — fix: it "
         "changed since it was read"),
        ("POST", r"/serviceAccounts$", 404, f"{SA}: create failed (404 denied) — fix: check the project id "
         "'factory-test' and that iam.googleapis.com is enabled"),
        ("POST", r"/triggers$", 400, "Eventarc trigger factory-linear: create failed (400 denied) — fix: the "
         "config gives this resource a value the API refuses"),
    ],
)  # fmt: skip
def test_an_api_error_names_the_resource_and_the_fix(
    fake: FakeGcp, config: Path, method: str, path: str, code: int, expected: str
) -> None:
    fill_secrets(fake)
    fake.fail_next(method, path, code, "denied")
    result = deploy(fake, "apply", "--config", str(config))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"factory deploy: {expected}")


def test_a_receiver_whose_revision_failed_is_redeployed(fake: FakeGcp, config: Path) -> None:
    fill_secrets(fake)
    assert deploy(fake, "apply", "--config", str(config)).exit_code == 0
    name = f"{LOCATION}/services/factory-receiver"
    fake.run.resources["services"][name]["terminalCondition"] = {
        "type": "Ready",
        "state": "CONDITION_FAILED",
        "message": "Revision 'factory-receiver-00001-abc' is not ready and cannot serve traffic.",
    }
    plan = deploy(fake, "plan", "--config", str(config))
    assert "its latest revision failed: Revision 'factory-receiver-00001-abc' is not ready" in plan.stdout
    assert 'terminalCondition.state: "CONDITION_FAILED" → "CONDITION_SUCCEEDED"' in plan.stdout
    assert deploy(fake, "apply", "--config", str(config)).exit_code == 0
    assert fake.run.get("services", name)["terminalCondition"]["state"] == "CONDITION_SUCCEEDED"
    assert "No changes" in deploy(fake, "apply", "--config", str(config)).stdout


def test_an_apply_stopped_midway_is_finished_by_the_next(fake: FakeGcp, config: Path) -> None:
    fill_secrets(fake)
    fake.fail_next("POST", r"factory-linear-webhook-secret:setIamPolicy$", 429, "quota", times=1)
    result = deploy(fake, "apply", "--config", str(config))
    assert result.exit_code == 1
    assert (
        "IAM policy of secret factory-linear-webhook-secret: set IAM policy failed (429 quota)"
        in result.stderr
    )
    assert not fake.run.resources["services"], "it stopped at the grant, before what needs it"
    retried = deploy(fake, "apply", "--config", str(config))
    assert retried.exit_code == 0, retried.output
    assert fake.run.get("services", f"{LOCATION}/services/factory-receiver")["terminalCondition"][
        "state"
    ] == ("CONDITION_SUCCEEDED")


def test_a_bad_config_is_refused_before_any_request(fake: FakeGcp, tmp_path: Path) -> None:
    result = deploy(fake, "plan", "--config", str(write_config(tmp_path, **{"images.tag": "not a tag"})))
    assert result.exit_code == 1
    assert "images.tag: invalid value 'not a tag'" in result.stderr
    assert fake.requests == []


def test_a_missing_artifact_bucket_is_created_private_in_the_region(config: Path) -> None:
    with FakeGcp(PROJECT) as fake:
        fill_secrets(fake)
        assert (
            "+ create    bucket gs://factory-test-artifacts"
            in deploy(fake, "plan", "--config", str(config)).stdout
        )
        assert deploy(fake, "apply", "--config", str(config)).exit_code == 0
        bucket = fake.storage.get(BUCKET)
        assert bucket["location"] == "US-CENTRAL1"
        assert bucket["iamConfiguration"]["uniformBucketLevelAccess"]["enabled"] is True
        assert bucket["iamConfiguration"]["publicAccessPrevention"] == "enforced"
        assert fake.policies.members(f"b/{BUCKET}", "roles/storage.objectUser") == {
            f"serviceAccount:factory-{who}@{PROJECT}.iam.gserviceaccount.com"
            for who in ("jobs", "triage", "workflow", "receiver")
        }


def test_a_grant_to_an_account_iam_does_not_know_yet_is_retried(fake: FakeGcp, config: Path) -> None:
    # Right after creation a service account can be unknown to IAM for a while: 400 "does not exist".
    fill_secrets(fake)
    unknown = f"Service account factory-workflow@{PROJECT}.iam.gserviceaccount.com does not exist."
    fake.fail_next("POST", rf"^/v3/projects/{PROJECT}:setIamPolicy$", 400, unknown, times=2)
    applied = deploy(fake, "apply", "--config", str(config))
    assert applied.exit_code == 0, applied.output
    assert fake.count("POST", rf"^/v3/projects/{PROJECT}:setIamPolicy$") == 3
    assert WORKFLOW_SA in fake.policies.members(f"projects/{PROJECT}", "roles/logging.logWriter")


def test_without_triage_enabled_no_schedule_is_made_and_the_plan_says_why(
    fake: FakeGcp, tmp_path: Path
) -> None:
    fill_secrets(fake)
    config = write_config(tmp_path, **{"triage.enabled": None})  # its secrets stay named: still unused
    plan = deploy(fake, "plan", "--config", str(config))
    assert "factory-nightly-triage" in plan.stdout
    (line,) = [line for line in plan.stdout.splitlines() if "factory-nightly-triage" in line]
    assert "not created, because triage.enabled is false" in line and "set triage.enabled: true" in line
    assert "Cloud Run jobs factory-triage, factory-triage-close: not created" in line
    assert "factory-scheduler@" not in plan.stdout
    assert "Cloud Run job factory-triage" not in plan.stdout, "the note names them; no step does"
    assert "factory-triage@" not in plan.stdout, "nor their service account"
    assert not [secret for secret in TRIAGE_SECRET_NAMES if secret in plan.stdout], "nor their secrets"
    assert (
        "gcloud services enable workflowexecutions.googleapis.com eventarcpublishing.googleapis.com "
        "--project=factory-test" in plan.stdout
    )
    assert "Image tags must be immutable" in plan.stdout

    assert deploy(fake, "apply", "--config", str(config)).exit_code == 0
    assert sorted(fake.run.resources["jobs"]) == [
        f"{LOCATION}/jobs/factory-{phase}" for phase in ("e2e", "implement", "onboard", "review")
    ]
    touched = [r.path for r in fake.requests if any(s in r.path for s in TRIAGE_SECRET_NAMES)]
    assert touched == [], "the triage's secrets are neither read nor granted"
    assert not fake.scheduler.jobs
    assert fake.count("POST", r"/v1/projects/[^/]+/locations/[^/]+/jobs$") == 0
    assert not [
        email
        for email in fake.service_accounts
        if email.startswith(("factory-scheduler@", "factory-triage@"))
    ]
    assert fake.policies.members(f"projects/{PROJECT}", "roles/workflows.invoker") == {
        f"serviceAccount:factory-eventarc@{PROJECT}.iam.gserviceaccount.com"
    }

    enabled = write_config(tmp_path, **{"triage.enabled": True})
    assert deploy(fake, "apply", "--config", str(enabled)).exit_code == 0
    assert list(fake.scheduler.jobs) == [f"{LOCATION}/jobs/factory-nightly-triage"]
    assert {f"{LOCATION}/jobs/{job}" for job in TRIAGE_JOBS} < set(fake.run.resources["jobs"])


def _task(fake: FakeGcp, job: str) -> dict[str, Any]:
    task: dict[str, Any] = fake.run.get("jobs", f"{LOCATION}/jobs/{job}")["template"]["template"]
    return task


def _env(fake: FakeGcp, job: str) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in _task(fake, job)["containers"][0]["env"]}


def _secret_of(env: dict[str, Any]) -> str:
    return str(env["valueSource"]["secretKeyRef"]["secret"])


def _readers(fake: FakeGcp, secret: str) -> set[str]:
    return fake.policies.members(f"projects/{PROJECT}/secrets/{secret}", "roles/secretmanager.secretAccessor")


def _account(who: str) -> str:
    return f"serviceAccount:factory-{who}@{PROJECT}.iam.gserviceaccount.com"


def test_with_triage_enabled_its_two_jobs_run_the_triage_image_with_its_secrets_and_no_model_key(
    fake: FakeGcp, config: Path
) -> None:
    fill_secrets(fake)
    assert deploy(fake, "apply", "--config", str(config)).exit_code == 0

    for job in TRIAGE_JOBS:
        task = _task(fake, job)
        (container,) = task["containers"]
        assert container["image"] == "us-central1-docker.pkg.dev/factory-test/factory/factory-triage:v1"
        assert container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}  # the registry's size
        assert task["maxRetries"] == 0
        assert task["serviceAccount"] == f"factory-triage@{PROJECT}.iam.gserviceaccount.com"
        env = _env(fake, job)
        secrets = {name: _secret_of(e) for name, e in env.items() if "valueSource" in e}
        assert secrets == {
            "GITHUB_TOKEN": "factory-github-token",
            "SENTRY_AUTH_TOKEN": "factory-sentry-auth-token",
            "LANGFUSE_PUBLIC_KEY": "factory-langfuse-public-key",
            "LANGFUSE_SECRET_KEY": "factory-langfuse-secret-key",
        }, "no model key, no Linear key: the triage runs no agent and takes no ticket"
        assert env["SENTRY_URL"]["value"] == "https://sentry.io"
        assert env["LANGFUSE_HOST"]["value"] == "https://cloud.langfuse.com"
        assert fake.policies.members(f"{LOCATION}/jobs/{job}", "roles/run.jobsExecutorWithOverrides") == {
            WORKFLOW_SA
        }

    # What their account may read is what they are given.
    for secret in TRIAGE_SECRET_NAMES:
        assert _readers(fake, secret) == {_account("triage")}
    assert _readers(fake, "factory-github-token") == {_account("jobs"), _account("triage")}
    assert _readers(fake, "factory-anthropic-api-key") == {_account("jobs")}
    assert _readers(fake, "factory-linear-api-key") == {_account("jobs")}


def test_the_agent_phases_jobs_carry_no_sentry_or_langfuse_secret(fake: FakeGcp, config: Path) -> None:
    fill_secrets(fake)
    assert deploy(fake, "apply", "--config", str(config)).exit_code == 0
    for phase in ("implement", "review", "e2e", "onboard"):
        env = _env(fake, f"factory-{phase}")
        held = {_secret_of(e) for e in env.values() if "valueSource" in e}
        assert not held & set(TRIAGE_SECRET_NAMES), phase
        assert not set(env) & {*TRIAGE_ONLY_SECRETS, "SENTRY_URL", "LANGFUSE_HOST"}, phase
        assert set(env) & set(MODEL_SECRETS) == {"ANTHROPIC_API_KEY"}, phase
        assert (
            _task(fake, f"factory-{phase}")["serviceAccount"]
            == f"factory-jobs@{PROJECT}.iam.gserviceaccount.com"
        )


def test_the_apps_env_secret_is_created_and_mounted_through_the_run_api(
    fake: FakeGcp, tmp_path: Path
) -> None:
    config = write_config(tmp_path, **{"secrets.app_env": "factory-app-env"})
    fill_secrets(fake)
    fake.secrets.add_version("factory-app-env", f"{CANARY}-app-env")
    result = deploy(fake, "apply", "--config", str(config))
    assert result.exit_code == 0, result.stdout
    assert CANARY not in result.stdout
    for job in ("factory-review", "factory-e2e"):
        task = fake.run.get("jobs", f"{LOCATION}/jobs/{job}")["template"]["template"]
        assert task["volumes"][0]["secret"]["secret"] == "factory-app-env"
        assert task["containers"][0]["volumeMounts"][0]["mountPath"] == "/secrets/factory-app-env"
    implement = fake.run.get("jobs", f"{LOCATION}/jobs/factory-implement")["template"]["template"]
    assert "volumes" not in implement
