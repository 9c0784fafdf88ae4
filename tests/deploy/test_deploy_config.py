"""The deploy config file, what it turns into (specs, grants), and the diff that compares it with GCP.

No server here: these are the pure parts. Against the fakes: test_deploy_apply.py.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from deploy import specs
from deploy.config import load_config, parse_config
from deploy.diff import diff
from deploy.names import Names
from deploy.notes import plan_notes
from deploy.phases import deployed_phases
from deploy.roles import ALL_USERS, grants, identities
from images.engine import IMAGES, image_ref
from jobs.errors import ConfigError
from jobs.settings import JobSettings
from tests.conftest import ROOT
from tests.deploy.configs import MODEL_SECRETS, TRIAGE_ONLY_SECRETS, settings, write_config

EXAMPLE = ROOT / "deploy" / "factory.example.yaml"


def _error(**changes: object) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(settings(**changes))
    return str(caught.value)


def test_the_shipped_example_is_a_valid_config() -> None:
    config = load_config(EXAMPLE)
    assert (
        config.images.ref("e2e") == "us-central1-docker.pkg.dev/my-gcp-project/factory/factory-e2e:2025-06-01"
    )
    assert config.triage.time_zone == "Europe/Paris"
    assert config.triage.enabled is False, "no nightly schedule until the triage's secrets are named"
    assert config.receiver.public_access == "allUsers"
    # Turning the triage on is one line: its secrets are named, where Sentry and Langfuse are is said.
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["triage"]["enabled"] = True
    enabled = parse_config(data)
    assert {"triage", "triage-close", "onboard"} <= set(deployed_phases(enabled))
    assert (enabled.triage.sentry_url, enabled.triage.langfuse_host) == (
        "https://sentry.io",
        "https://cloud.langfuse.com",
    )


def test_image_references_are_the_names_make_images_builds(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    for image in IMAGES:
        assert config.images.ref(image) == f"{config.images.registry}/{image_ref(image, 'v1')}"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"images.tag": None}, "images.tag: Field required"),
        ({"images.tga": "v1"}, "images.tga: unknown field"),
        ({"region": "US Central"}, "region: invalid value 'US Central'"),
        ({"repo.url": "/srv/repo.git"}, "repo.url: invalid value '/srv/repo.git'"),
        ({"artifacts.bucket": "Bad_Bucket"}, "artifacts.bucket: invalid value"),
        ({"secrets.anthropic_api_key": None}, "secrets: name anthropic_api_key or claude_code_oauth_token"),
        ({"secrets.github_token": "has space"}, "secrets.github_token: invalid value"),
        ({"triage.schedule": "nightly"}, "triage: schedule 'nightly' is not a five-field cron"),
        ({"triage.time_zone": "Mars/Olympus"}, "triage: time_zone 'Mars/Olympus' is not a tz database name"),
        (
            {"jobs.task_timeout_seconds": 60},
            "jobs.task_timeout_seconds: Input should be greater than or equal",
        ),
        ({"images.overrides": {"e2e": "no-tag"}}, "images.overrides.e2e: invalid value 'no-tag'"),
        ({"names_prefix": "acme"}, "names_prefix 'acme': only 'factory' is supported"),
        (
            {"secrets.langfuse_secret_key": None},
            "secrets: name langfuse_public_key and langfuse_secret_key together",
        ),
        (
            {
                f"secrets.{name}": None
                for name in ("sentry_auth_token", "langfuse_public_key", "langfuse_secret_key")
            },
            "triage.enabled needs secrets.sentry_auth_token, or secrets.langfuse_public_key and",
        ),
        ({"triage.sentry_url": "sentry.acme.dev"}, "triage.sentry_url: invalid value 'sentry.acme.dev'"),
        ({"triage.langfuse_host": "https://x/api"}, "triage.langfuse_host: invalid value 'https://x/api'"),
    ],
)
def test_a_bad_value_is_named_by_its_field(changes: dict[str, object], expected: str) -> None:
    assert expected in _error(**changes)


def test_every_problem_is_listed_at_once() -> None:
    message = _error(**{"project": "X", "linear.team": None})
    assert "project: invalid value 'X'" in message
    assert "linear.team: Field required" in message


def test_unreadable_or_non_mapping_files_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read deploy config"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("project: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "broken.yaml")


def test_jobs_never_retry_and_take_secrets_as_references_only(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    names = Names.of(config)
    job = specs.job(config, names, "implement")
    task = job["template"]["template"]
    assert task["maxRetries"] == 0
    assert task["timeout"] == "7200s"
    assert task["serviceAccount"] == "factory-jobs@factory-test.iam.gserviceaccount.com"
    env = {e["name"]: e for e in task["containers"][0]["env"]}
    assert env["GITHUB_TOKEN"] == {
        "name": "GITHUB_TOKEN",
        "valueSource": {"secretKeyRef": {"secret": "factory-github-token", "version": "latest"}},
    }
    assert "CLAUDE_CODE_OAUTH_TOKEN" not in env
    assert env["ARTIFACTS_PREFIX"]["value"] == "gs://factory-test-artifacts/factory"
    assert env["TICKET_SOURCE"]["value"] == "linear"
    assert env["MAX_DURATION_SECONDS"]["value"] == "6600"
    assert env["CONTAINMENT"]["value"] == "require"  # a job that cannot box its agent fails, never runs open
    # Every plain variable is one the job's settings class reads.
    plain = {name for name, e in env.items() if "value" in e}
    assert {name.lower() for name in plain} <= set(JobSettings.model_fields)


def test_an_oauth_token_can_stand_in_for_the_api_key(tmp_path: Path) -> None:
    changes = {"secrets.anthropic_api_key": None, "secrets.claude_code_oauth_token": "factory-claude-oauth"}
    config = load_config(write_config(tmp_path, **changes))
    env = {e["name"]: e for e in specs.job_env(config, "implement")}
    assert "ANTHROPIC_API_KEY" not in env
    assert env["CLAUDE_CODE_OAUTH_TOKEN"]["valueSource"]["secretKeyRef"]["secret"] == "factory-claude-oauth"
    held = grants(config, Names.of(config))
    assert any(
        g.target == "factory-claude-oauth" and g.member.startswith("serviceAccount:factory-jobs")
        for g in held
    )


def test_e2e_gets_more_memory_and_its_own_image(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    names = Names.of(config)

    def container(phase: str) -> dict[str, object]:
        return specs.job(config, names, phase)["template"]["template"]["containers"][0]  # type: ignore[no-any-return]

    def gib(phase: str) -> int:
        return int(container(phase)["resources"]["limits"]["memory"].removesuffix("Gi"))  # type: ignore[index]

    assert gib("e2e") > gib("implement")
    assert str(container("e2e")["image"]).endswith("/factory-e2e:v1")
    assert str(container("implement")["image"]).endswith("/factory-implement:v1")


def test_the_workflow_env_matches_what_factory_yaml_reads(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    source = (ROOT / "orchestration" / "factory.yaml").read_text()
    env = specs.workflow_env(config)
    assert env == {
        "FACTORY_REGION": "us-central1",
        "FACTORY_ARTIFACT_BUCKET": "factory-test-artifacts",
        "FACTORY_ARTIFACT_PREFIX": "factory",
        "FACTORY_JOB_TIMEOUT_SECONDS": "7200",
        "FACTORY_SLACK_SECRET": "factory-slack-webhook-url",
    }
    assert all(f'sys.get_env("{name}"' in source for name in env)
    bare = load_config(
        write_config(tmp_path, **{"artifacts.prefix": None, "secrets.slack_webhook_url": None})
    )
    assert set(specs.workflow_env(bare)) == {
        "FACTORY_REGION",
        "FACTORY_ARTIFACT_BUCKET",
        "FACTORY_JOB_TIMEOUT_SECONDS",
    }


def test_the_nightly_schedule_posts_the_scheduler_input_to_the_executions_api(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    job = specs.nightly(config, Names.of(config))
    target = job["httpTarget"]
    assert target["uri"] == (
        "https://workflowexecutions.googleapis.com/v1/projects/factory-test/locations/us-central1/"
        "workflows/factory/executions"
    )
    body = json.loads(base64.b64decode(target["body"]))
    assert json.loads(body["argument"]) == {"job": "solve-chatbot-issues", "schedule": "nightly"}
    assert (
        target["oauthToken"]["serviceAccountEmail"]
        == "factory-scheduler@factory-test.iam.gserviceaccount.com"
    )
    assert (job["schedule"], job["timeZone"]) == ("0 3 * * *", "Europe/Paris")


def test_grants_sit_on_resources_except_where_gcp_has_no_resource_policy(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    held = grants(config, Names.of(config))
    project_roles = {g.role for g in held if g.on == "project"}
    assert project_roles == {
        "roles/logging.logWriter",
        "roles/workflows.invoker",
        "roles/eventarc.eventReceiver",
        "roles/run.viewer",  # run.operations.get, for the jobs.run connector's polling
    }
    assert not any("admin" in g.role or "editor" in g.role or g.role == "roles/owner" for g in held)
    on_jobs = {(g.target, g.role, g.member) for g in held if g.on == "job"}
    workflow = "serviceAccount:factory-workflow@factory-test.iam.gserviceaccount.com"
    assert on_jobs == {
        (f"factory-{phase}", "roles/run.jobsExecutorWithOverrides", workflow)
        for phase in ("implement", "review", "e2e", "triage", "triage-close", "onboard")
    }
    viewer = next(g for g in held if g.role == "roles/run.viewer")
    assert viewer.member == workflow
    assert "run.operations.get" in viewer.why and "custom role" in viewer.why
    jobs_secrets = {
        g.target for g in held if g.on == "secret" and g.member.startswith("serviceAccount:factory-jobs")
    }
    assert jobs_secrets == {"factory-anthropic-api-key", "factory-github-token", "factory-linear-api-key"}
    triage_secrets = {
        g.target for g in held if g.on == "secret" and g.member.startswith("serviceAccount:factory-triage")
    }
    assert triage_secrets == {
        "factory-github-token",
        "factory-sentry-auth-token",
        "factory-langfuse-public-key",
        "factory-langfuse-secret-key",
    }
    public = [g for g in held if g.member == ALL_USERS]
    assert [(g.on, g.role) for g in public] == [("service", "roles/run.invoker")]
    assert all(g.why for g in held)


def test_diff_ignores_server_fields_and_treats_absent_as_zero() -> None:
    desired = {
        "template": {"maxRetries": 0, "containers": [{"image": "a", "env": [{"name": "A", "value": "1"}]}]}
    }
    current = {
        "etag": "x",
        "uid": "u",
        "generation": "3",
        "template": {"containers": [{"image": "a", "ports": [8080], "env": [{"name": "A", "value": "1"}]}]},
    }
    assert diff(desired, current) == []


def test_diff_names_each_changed_field() -> None:
    desired = {
        "template": {"maxRetries": 0, "containers": [{"image": "b", "env": [{"name": "A", "value": "1"}]}]}
    }
    current = {
        "template": {
            "maxRetries": 3,
            "containers": [
                {"image": "a", "env": [{"name": "A", "value": "2"}, {"name": "EXTRA", "value": "x"}]}
            ],
        }
    }
    described = [c.describe() for c in diff(desired, current)]
    assert described == [
        "template.maxRetries: 3 → 0",
        'template.containers[0].image: "a" → "b"',
        'template.containers[0].env[A].value: "2" → "1"',
        'template.containers[0].env[EXTRA]: {"name":"EXTRA","value":"x"} → (unset)',
    ]


def test_an_exact_map_reports_a_key_someone_added() -> None:
    desired = {"userEnvVars": {"A": "1"}, "labels": {"x": "y"}}
    current = {"userEnvVars": {"A": "1", "B": "2"}, "labels": {"x": "y", "theirs": "z"}}
    changes = diff(desired, current, exact=frozenset({"userEnvVars"}))
    assert [c.describe() for c in changes] == ['userEnvVars.B: "2" → (unset)']


def test_a_map_change_is_shown_key_by_key_not_as_a_dump() -> None:
    many = {f"FACTORY_SETTING_{i}": "a-long-enough-value-" * 2 for i in range(8)}
    desired = {"userEnvVars": {**many, "FACTORY_SLACK_SECRET": "x", "FACTORY_REGION": "europe-west1"}}
    current = {"userEnvVars": {**many, "FACTORY_SLACK_SECRET": "", "FACTORY_REGION": "us-central1"}}
    described = [c.describe() for c in diff(desired, current, exact=frozenset({"userEnvVars"}))]
    assert described == [
        'userEnvVars.FACTORY_SLACK_SECRET: "" → "x"',
        'userEnvVars.FACTORY_REGION: "us-central1" → "europe-west1"',
    ]
    assert [
        c.describe() for c in diff({"userEnvVars": {"A": "1"}}, {}, exact=frozenset({"userEnvVars"}))
    ] == ['userEnvVars.A: (unset) → "1"']


def test_long_text_is_summarised_not_printed() -> None:
    change = diff({"sourceContents": "x" * 5000}, {"sourceContents": "y" * 5000})[0]
    assert "<5000 chars, sha256" in change.describe()
    assert "xxxxxxxxxx" not in change.describe()


def test_the_nightly_triage_is_off_unless_enabled(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, **{"triage.enabled": None}))
    assert config.triage.enabled is False
    assert "scheduler" not in identities(config) and "triage" not in identities(config)
    held = grants(config, Names.of(config))
    assert not any(
        g.member.startswith(("serviceAccount:factory-scheduler", "serviceAccount:factory-triage"))
        for g in held
    )
    assert not any(g.target.startswith("factory-triage") for g in held), "no runner grant on a job not made"
    assert deployed_phases(config) == ("implement", "review", "e2e", "onboard")
    (skipped,) = [n for n in plan_notes(config) if "factory-nightly-triage" in n]
    assert (
        "triage.enabled is false" in skipped
        and "no triage job" in skipped
        and "triage.enabled: true" in skipped
    )
    assert "factory-triage, factory-triage-close" in skipped

    enabled = load_config(write_config(tmp_path, **{"triage.enabled": True}))
    assert "scheduler" in identities(enabled) and "triage" in identities(enabled)
    assert deployed_phases(enabled) == ("implement", "review", "e2e", "triage", "triage-close", "onboard")
    assert not [n for n in plan_notes(enabled) if "factory-nightly-triage" in n]


def test_a_disabled_triage_needs_no_source_secret(tmp_path: Path) -> None:
    bare = {
        f"secrets.{name}": None
        for name in ("sentry_auth_token", "langfuse_public_key", "langfuse_secret_key")
    }
    config = load_config(write_config(tmp_path, **bare, **{"triage.enabled": None}))
    assert config.triage.enabled is False
    assert not any(
        g.member.startswith("serviceAccount:factory-triage") for g in grants(config, Names.of(config))
    )


@pytest.mark.parametrize(
    "missing",
    [("sentry_auth_token",), ("langfuse_public_key", "langfuse_secret_key")],
    ids=["langfuse-only", "sentry-only"],
)
def test_the_triage_can_read_either_source_alone(tmp_path: Path, missing: tuple[str, ...]) -> None:
    config = load_config(write_config(tmp_path, **{f"secrets.{name}": None for name in missing}))
    env = {e["name"] for e in specs.job_env(config, "triage")}
    gone = {name.upper() for name in missing}
    assert env & set(TRIAGE_ONLY_SECRETS) == set(TRIAGE_ONLY_SECRETS) - gone


def test_each_job_is_given_only_the_secrets_its_phase_reads(tmp_path: Path) -> None:
    config = load_config(
        write_config(tmp_path, **{"secrets.claude_code_oauth_token": "factory-claude-oauth"})
    )
    names = Names.of(config)

    def env(phase: str) -> dict[str, dict[str, object]]:
        return {e["name"]: e for e in specs.job_env(config, phase)}

    for phase in ("triage", "triage-close"):
        given = env(phase)
        assert not set(given) & {*MODEL_SECRETS, "LINEAR_API_KEY", "MAX_DURATION_SECONDS", "CONTAINMENT"}
        assert set(TRIAGE_ONLY_SECRETS) | {"GITHUB_TOKEN", "SENTRY_URL", "LANGFUSE_HOST"} <= set(given)
        task = specs.job(config, names, phase)["template"]["template"]
        assert task["serviceAccount"] == "factory-triage@factory-test.iam.gserviceaccount.com"
        assert task["maxRetries"] == 0
        assert task["containers"][0]["image"].endswith("/factory-triage:v1")
    for phase in ("implement", "review", "e2e"):
        given = env(phase)
        assert set(MODEL_SECRETS) | {"GITHUB_TOKEN", "LINEAR_API_KEY"} <= set(given)
        assert not set(given) & {*TRIAGE_ONLY_SECRETS, "SENTRY_URL", "LANGFUSE_HOST"}
    for phase in deployed_phases(config):  # every plain variable is one the job's settings read
        plain = {name.lower() for name, e in env(phase).items() if "value" in e}
        assert plain <= set(JobSettings.model_fields), phase


def test_the_onboard_job_runs_as_the_jobs_account_with_an_agent_and_no_triage_secret(
    tmp_path: Path,
) -> None:
    config = load_config(write_config(tmp_path))
    names = Names.of(config)
    assert "onboard" in deployed_phases(config), "onboard-client is deployed like solve-linear-ticket"
    task = specs.job(config, names, "onboard")["template"]["template"]
    assert task["serviceAccount"] == "factory-jobs@factory-test.iam.gserviceaccount.com"
    assert (task["maxRetries"], task["timeout"]) == (0, "7200s")
    container = task["containers"][0]
    assert container["image"].endswith("/factory-onboard:v1")
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    env = {e["name"]: e for e in container["env"]}
    # What its settings need, as implement's job has it: the agent's budget and box, model auth, GitHub.
    implement = {e["name"]: e for e in specs.job_env(config, "implement")}
    for name in ("ARTIFACTS_PREFIX", "REPO_URL", "BASE_BRANCH", "MAX_DURATION_SECONDS", "CONTAINMENT"):
        assert env[name] == implement[name], name
    assert env["GITHUB_TOKEN"] == implement["GITHUB_TOKEN"]
    assert env["ANTHROPIC_API_KEY"] == implement["ANTHROPIC_API_KEY"]
    # No Sentry or Langfuse, and no Linear: an onboarding writes its own ticket in the artifacts.
    assert not set(env) & {*TRIAGE_ONLY_SECRETS, "SENTRY_URL", "LANGFUSE_HOST", "LINEAR_API_KEY"}
    assert "TICKET_SOURCE" not in env
    plain = {name.lower() for name, e in env.items() if "value" in e}
    assert plain <= set(JobSettings.model_fields)
    held = grants(config, names)
    workflow = "serviceAccount:factory-workflow@factory-test.iam.gserviceaccount.com"
    assert ("factory-onboard", "roles/run.jobsExecutorWithOverrides", workflow) in {
        (g.target, g.role, g.member) for g in held if g.on == "job"
    }


def test_where_sentry_and_langfuse_are_comes_from_the_config(tmp_path: Path) -> None:
    changes = {
        "triage.sentry_url": "https://sentry.acme.dev",
        "triage.langfuse_host": "https://us.cloud.langfuse.com",
    }
    config = load_config(write_config(tmp_path, **changes))
    env = {e["name"]: e.get("value") for e in specs.job_env(config, "triage-close")}
    assert (env["SENTRY_URL"], env["LANGFUSE_HOST"]) == (
        "https://sentry.acme.dev",
        "https://us.cloud.langfuse.com",
    )
    default = load_config(write_config(tmp_path))
    env = {e["name"]: e.get("value") for e in specs.job_env(default, "triage")}
    assert (env["SENTRY_URL"], env["LANGFUSE_HOST"]) == ("https://sentry.io", "https://cloud.langfuse.com")


def test_a_triage_job_can_be_sized_like_any_phase(tmp_path: Path) -> None:
    config = load_config(
        write_config(tmp_path, **{"jobs.resources": {"triage": {"cpu": "2", "memory": "2Gi"}}})
    )
    names = Names.of(config)

    def limits(phase: str) -> object:
        return specs.job(config, names, phase)["template"]["template"]["containers"][0]["resources"]["limits"]

    assert limits("triage") == {"cpu": "2", "memory": "2Gi"}
    assert limits("triage-close") == {"cpu": "1", "memory": "1Gi"}, "the registry's size"


def test_the_receiver_can_be_public_without_an_allusers_binding(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, **{"receiver.public_access": "invoker_iam_disabled"}))
    assert specs.receiver(config, Names.of(config))["invokerIamDisabled"] is True
    assert not any(g.member == ALL_USERS for g in grants(config, Names.of(config)))

    default = load_config(write_config(tmp_path))
    assert default.receiver.public_access == "allUsers"
    assert specs.receiver(default, Names.of(default))["invokerIamDisabled"] is False
    assert "receiver.public_access: Input should be 'allUsers' or 'invoker_iam_disabled'" in _error(
        **{"receiver.public_access": "everyone"}
    )


def test_the_plan_notes_name_the_apis_never_called_and_warn_about_latest(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    notes = plan_notes(config)
    assert any(
        "gcloud services enable workflowexecutions.googleapis.com eventarcpublishing.googleapis.com "
        "--project=factory-test" in n
        for n in notes
    )
    assert any("Cloud Run stores the tag, not the digest" in n for n in notes)
    assert not any(n.startswith("warning") for n in notes)

    latest = plan_notes(load_config(write_config(tmp_path, **{"images.tag": "latest"})))
    assert [n for n in latest if n.startswith("warning")] == [
        "warning: implement, review, e2e, triage, onboard, receiver use the tag 'latest', which apply "
        "cannot roll out when it moves; use a tag per build (or a @sha256: digest in images.overrides)"
    ]
    off = {"images.tag": "latest", "triage.enabled": None}
    undeployed = plan_notes(load_config(write_config(tmp_path, **off)))
    assert [n for n in undeployed if n.startswith("warning")] == [
        "warning: implement, review, e2e, onboard, receiver use the tag 'latest', which apply cannot roll "
        "out when it moves; use a tag per build (or a @sha256: digest in images.overrides)"
    ], "only the images deployed"


def test_the_apps_env_is_mounted_as_a_file_in_the_review_and_e2e_jobs_alone(tmp_path: Path) -> None:
    """Not an env variable (the job's environment is ours, not the app's): a file of root's, 0400, which
    the job reads (jobs/appenv.py); the jobs' account may read that secret and nothing new."""
    config = load_config(write_config(tmp_path, **{"secrets.app_env": "factory-app-env"}))
    names = Names.of(config)
    for phase in deployed_phases(config):
        task = specs.job(config, names, phase)["template"]["template"]
        container = task["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        if phase in ("review", "e2e"):
            assert task["volumes"] == [
                {
                    "name": "app-env",
                    "secret": {
                        "secret": "factory-app-env",
                        "items": [{"path": "app.env", "version": "latest", "mode": 0o400}],
                    },
                }
            ]
            assert container["volumeMounts"] == [{"name": "app-env", "mountPath": "/secrets/factory-app-env"}]
            assert env["APP_ENV_FILE"] == {
                "name": "APP_ENV_FILE",
                "value": "/secrets/factory-app-env/app.env",
            }
        else:
            assert "volumes" not in task and "volumeMounts" not in container and "APP_ENV_FILE" not in env
        refs = [e["valueSource"]["secretKeyRef"]["secret"] for e in container["env"] if "valueSource" in e]
        assert "factory-app-env" not in refs
    readers = {(g.member, g.role) for g in grants(config, names) if g.target == "factory-app-env"}
    assert readers == {
        (
            "serviceAccount:factory-jobs@factory-test.iam.gserviceaccount.com",
            "roles/secretmanager.secretAccessor",
        )
    }
    without = load_config(write_config(tmp_path))
    assert not any(
        "volumes" in specs.job(without, names, p)["template"]["template"] for p in ("review", "e2e")
    )
