"""``factory deploy`` against IAM as it really behaves: grants that take minutes to take effect, deployers
missing a role, organisations that refuse allUsers, and a receiver whose revision will not start.

Propagation is waited out on a virtual clock (tests/fakes/gcp/deploy.py ``VirtualTime``) with the
production backoff, so these tests check the real schedule without sleeping through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.configs import fill_secrets, write_config
from tests.fakes.gcp import FakeGcp
from tests.fakes.gcp.deploy import BUCKET, LOCATION, PROJECT, VirtualTime, deploy

RECEIVER = f"{LOCATION}/services/factory-receiver"
PROPAGATING = "IAM grants may still be propagating (it can take minutes); run apply again in a minute"


@pytest.fixture
def fake() -> Iterator[FakeGcp]:
    with FakeGcp(PROJECT) as running:
        running.storage.add(BUCKET)
        fill_secrets(running)
        yield running


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def test_a_receiver_whose_secret_grant_is_not_yet_in_effect_is_redeployed_until_it_starts(
    fake: FakeGcp, config: Path
) -> None:
    fake.policies.delay_grants(reads=2)  # the webhook secret's new grant misses the first two checks
    time = VirtualTime()
    applied = deploy(fake, "apply", "--config", str(config), time=time)
    assert applied.exit_code == 0, applied.output
    assert time.slept == [5.0, 10.0], "bounded exponential backoff, production schedule"
    assert applied.stdout.count("IAM grants may still be propagating; trying again in") == 2
    assert fake.count("POST", r"/services$") == 1
    assert fake.count("PATCH", r"/services/factory-receiver$") == 2, "a new revision per attempt"
    service = fake.run.get("services", RECEIVER)
    assert service["terminalCondition"]["state"] == "CONDITION_SUCCEEDED"
    assert "No changes" in deploy(fake, "apply", "--config", str(config)).stdout


def test_a_grant_that_stays_out_of_effect_ends_in_one_line_asking_for_another_apply(
    fake: FakeGcp, config: Path
) -> None:
    fake.policies.delay_grants(reads=1000)
    time = VirtualTime()
    applied = deploy(fake, "apply", "--config", str(config), time=time)
    assert applied.exit_code == 1
    lines = applied.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("factory deploy: Cloud Run service factory-receiver: create failed (")
    assert "Permission denied on secret" in lines[0]
    assert lines[0].endswith(PROPAGATING)
    assert "correct" not in lines[0]
    assert time.now <= 300, "gave up within the five-minute budget"
    assert time.now > 200, "but not long before it"
    assert max(time.slept) == 40.0

    fake.policies.delay_grants(reads=0)
    fake.policies.pending.clear()  # a minute later, everything is in effect
    again = deploy(fake, "apply", "--config", str(config), time=VirtualTime())
    assert again.exit_code == 0, again.output
    assert fake.run.get("services", RECEIVER)["terminalCondition"]["state"] == "CONDITION_SUCCEEDED"


def test_eventarc_is_waited_for_while_its_service_agent_gets_its_role(fake: FakeGcp, config: Path) -> None:
    fake.eventarc.agent_pending(reads=3)
    time = VirtualTime()
    applied = deploy(fake, "apply", "--config", str(config), time=time)
    assert applied.exit_code == 0, applied.output
    assert fake.count("POST", r"/triggers$") == 4
    assert time.slept == [5.0, 10.0, 20.0]
    assert fake.eventarc.get(f"{LOCATION}/triggers/factory-linear")

    fresh = FakeGcp(PROJECT)
    with fresh:
        fresh.storage.add(BUCKET)
        fill_secrets(fresh)
        fresh.eventarc.agent_pending(reads=1000)
        failed = deploy(fresh, "apply", "--config", str(config), time=VirtualTime())
    assert failed.exit_code == 1
    (line,) = failed.stderr.strip().splitlines()
    assert line.startswith("factory deploy: Eventarc trigger factory-linear: create failed (400 ")
    assert "Permission denied while using the Eventarc Service Agent" in line
    assert line.endswith(PROPAGATING)


def test_a_revision_that_fails_for_another_reason_is_not_retried_and_names_its_logs(
    fake: FakeGcp, config: Path
) -> None:
    fake.run.containers_start = False
    time = VirtualTime()
    applied = deploy(fake, "apply", "--config", str(config), time=time)
    assert applied.exit_code == 1
    (line,) = applied.stderr.strip().splitlines()
    logs = (
        'gcloud logging read \'resource.type="cloud_run_revision" AND '
        'resource.labels.revision_name="factory-receiver-00001-abc"\' --project=factory-test --limit=50'
    )
    assert "container failed to start" in line
    assert line.endswith(f"the new revision did not start; its logs say why: {logs}")
    assert time.slept == [], "a start that fails for its own reasons is not retried"
    assert fake.count("PATCH", r"/services/") == 0

    plan = deploy(fake, "plan", "--config", str(config))
    assert f"its logs: {logs}" in plan.stdout
    mark = len(fake.requests)
    again = deploy(fake, "apply", "--config", str(config), time=time)
    assert again.exit_code == 1, "redeployed once, failed the same way, and said so"
    assert sum(1 for r in fake.requests[mark:] if r.method == "PATCH" and "/services/" in r.path) == 1
    assert "factory-receiver-00002-abc" in again.stderr and time.slept == []


def test_a_receiver_can_be_public_with_its_invoker_check_disabled(fake: FakeGcp, tmp_path: Path) -> None:
    config = write_config(tmp_path, **{"receiver.public_access": "invoker_iam_disabled"})
    plan = deploy(fake, "plan", "--config", str(config))
    assert "its invoker IAM check is disabled (invokerIamDisabled)" in plan.stdout
    assert "IAM policy of Cloud Run service" not in plan.stdout

    assert deploy(fake, "apply", "--config", str(config)).exit_code == 0
    assert fake.run.get("services", RECEIVER)["invokerIamDisabled"] is True
    assert fake.policies.members(RECEIVER, "roles/run.invoker") == set()
    assert fake.count("POST", r"/services/factory-receiver:setIamPolicy$") == 0

    back = write_config(tmp_path, **{"receiver.public_access": "allUsers"})
    switched = deploy(fake, "plan", "--config", str(back))
    assert "invokerIamDisabled: true → false" in switched.stdout
    assert deploy(fake, "apply", "--config", str(back)).exit_code == 0
    assert not fake.run.get("services", RECEIVER).get("invokerIamDisabled")
    assert fake.policies.members(RECEIVER, "roles/run.invoker") == {"allUsers"}


@pytest.mark.parametrize(
    ("message", "fix"),
    [
        (
            "Permission 'iam.serviceaccounts.actAs' denied on service account "
            "factory-receiver@factory-test.iam.gserviceaccount.com (or it may not exist).",
            "fix: the deploying account needs roles/iam.serviceAccountUser on "
            "factory-receiver@factory-test.iam.gserviceaccount.com (or on project factory-test) to attach it",
        ),
        (
            "Permission 'run.services.create' denied",
            "fix: the deploying account needs roles/run.admin on project factory-test, and "
            "roles/iam.serviceAccountUser on the service accounts the deploy attaches (factory-jobs, "
            "-workflow, -receiver, -eventarc, and with the triage -triage, -scheduler), or on the project",
        ),
    ],
)
def test_a_403_says_which_role_the_deployer_lacks(
    fake: FakeGcp, config: Path, message: str, fix: str
) -> None:
    fake.fail_next("POST", r"/services$", 403, message)
    applied = deploy(fake, "apply", "--config", str(config))
    assert applied.exit_code == 1
    (line,) = applied.stderr.strip().splitlines()
    assert line.startswith("factory deploy: Cloud Run service factory-receiver: create failed (403 ")
    assert line.endswith(fix)
