"""``--docker`` and ``make images`` without running an engine: the commands and settings they build.

The container runner's argv and environment (only the job's variables reach the container, and none
of their values is on a command line), its mounts, the image tag scheme, podman's containers.conf
edit, the build command, the connector choosing its runner and failing the workflow when it cannot
start a job, and root's handover of the trees a job writes. tests/test_images.py runs them for real
against the built images.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner

from images import engine as containers
from images.build import (
    LOCAL_BASE,
    Built,
    build_argv,
    ca_bundle,
    parse_names,
    size_table,
    with_podman_settings,
)
from images.engine import ContainerError, image_tag
from jobs.agent.policy import CA_FILE_VARIABLES, agent_environment
from jobs.artifacts import open_store
from orchestration.cli import app
from orchestration.engine.errors import WorkflowError
from orchestration.local.connectors import LocalCloud
from orchestration.local.containers import (
    CONTAINER_CA_BUNDLE,
    IMAGE_UID,
    ContainerRunner,
    job_mounts,
    local_path,
)
from orchestration.local.run import run_workflow
from tests.conftest import git

CANARY = "host-canary-value-0451"
JOB_ENV = {
    "JOB": "solve-linear-ticket",
    "TICKET_IDENTIFIER": "IX-101",
    "REPO_URL": "/srv/remote.git",
    "ARTIFACTS_PREFIX": "/srv/artifacts",
    "WORKDIR": "/srv/artifacts/work/r1",
    "TICKETS_DIR": "/srv/tickets",
    "RUN_ID": "r1",
    "ANTHROPIC_API_KEY": "sk-ant-secret-value-0452",
}
CALLER = {"PATH": "/usr/bin:/bin", "HOME": "/root", "FACTORY_CANARY": CANARY, "GITHUB_TOKEN": CANARY}


def command(
    env: Mapping[str, str] = JOB_ENV, engine: str = "podman", uid: int = 0
) -> tuple[list[str], dict[str, str]]:
    runner = ContainerRunner(engine, "abc1234", grace=7)
    return runner.command("implement", env, "factory-implement-x", uid=uid, gid=uid, caller_env=CALLER)


def values_of(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]


def test_the_container_gets_the_jobs_variables_by_name_only() -> None:
    argv, env = command()
    assert argv[:3] == ["podman", "run", "--rm"] and argv[-2:] == ["factory-implement:abc1234", "implement"]
    assert {"--pull=never", "--network=host", "--stop-timeout=7"} <= set(argv)
    assert values_of(argv, "--label") == ["factory.run-id=r1", "factory.phase=implement"]
    assert sorted(values_of(argv, "--env")) == sorted(JOB_ENV)
    assert not any(value in " ".join(argv) for value in ("sk-ant-secret-value-0452", CANARY))
    # The engine's process holds the job's values (it passes them on) and its own client basics only.
    assert env == {**JOB_ENV, "PATH": "/usr/bin:/bin", "HOME": "/root"}


def test_local_paths_are_mounted_at_the_same_place_once() -> None:
    argv, _ = command()
    # WORKDIR lies inside ARTIFACTS_PREFIX: one mount serves both; tickets are read-only. Inputs that
    # do not exist (these /srv paths) are left for the job to report.
    assert values_of(argv, "--volume") == ["/srv/artifacts:/srv/artifacts"]
    _, mounts = job_mounts(JOB_ENV)
    assert [(str(m.path), m.read_only, m.output) for m in mounts] == [
        ("/srv/artifacts", False, True),
        ("/srv/remote.git", False, False),
        ("/srv/tickets", True, False),
    ]


def test_existing_inputs_are_mounted_and_relative_paths_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "remote.git").mkdir()
    (tmp_path / "tickets").mkdir()
    monkeypatch.chdir(tmp_path)
    env = {**JOB_ENV, "REPO_URL": "remote.git", "TICKETS_DIR": f"file://{tmp_path}/tickets"}
    argv, process_env = command(env)
    assert process_env["REPO_URL"] == str(tmp_path / "remote.git")
    assert process_env["TICKETS_DIR"] == f"file://{tmp_path}/tickets"  # a URI stays as given
    assert set(values_of(argv, "--volume")) == {
        f"{tmp_path}/remote.git:{tmp_path}/remote.git",
        f"{tmp_path}/tickets:{tmp_path}/tickets:ro",
        "/srv/artifacts:/srv/artifacts",
    }


def test_the_apps_env_file_is_mounted_read_only_where_it_is(tmp_path: Path) -> None:
    """--app-env --docker: the review and e2e jobs read it at the same path, its mode and owner kept."""
    app_env = tmp_path / "app.env"
    app_env.write_text("APP_SECRET=x\n")
    argv, process_env = command({**JOB_ENV, "APP_ENV_FILE": str(app_env)})
    assert f"{app_env}:{app_env}:ro" in values_of(argv, "--volume")
    assert process_env["APP_ENV_FILE"] == str(app_env) and "APP_ENV_FILE" in values_of(argv, "--env")


def test_remote_repositories_and_buckets_are_not_mounted() -> None:
    env = {
        **JOB_ENV,
        "REPO_URL": "https://github.com/acme/app.git",
        "ARTIFACTS_PREFIX": "gs://bucket/factory",
        "WORKDIR": "",
    }
    argv, process_env = command(env)
    assert values_of(argv, "--volume") == []
    assert process_env["REPO_URL"] == "https://github.com/acme/app.git"
    assert local_path("REPO_URL", "git@github.com:acme/app.git") is None


def test_root_runs_the_job_as_root_with_what_its_box_needs() -> None:
    """As the job images run on Cloud Run: root in the container (the job boxes the agent itself, with
    a uid and a network of its own: jobs/sandbox), rootful podman (no keep-id), root's HOME."""
    argv, _ = command(uid=0)
    assert "--user=0:0" in argv and {"--cap-add=SYS_ADMIN", "--cap-add=NET_ADMIN"} <= set(argv)
    assert "--userns=keep-id" not in argv and "HOME=/tmp" not in values_of(argv, "--env")


def test_a_non_root_caller_runs_as_itself() -> None:
    podman, _ = command(uid=1000)
    assert "--user=1000:1000" in podman and "--userns=keep-id" in podman  # rootless podman
    assert "HOME=/tmp" in values_of(podman, "--env")  # the image has no home for uid 1000
    assert "--cap-add=SYS_ADMIN" not in podman
    docker, _ = command(engine="docker", uid=1000)
    assert docker[0] == "docker" and "--userns=keep-id" not in docker
    as_image_user, _ = command(uid=IMAGE_UID)
    assert "HOME=/tmp" not in values_of(as_image_user, "--env")


def committed_repo(path: Path) -> Path:
    git("init", "-q", str(path))
    (path / "app.py").write_text("print(1)\n")
    git("-C", str(path), "add", "app.py")
    git("-C", str(path), "commit", "-q", "-m", "first")
    return path


def test_the_tag_is_image_tag_else_git_describe_dirty_else_dev(tmp_path: Path) -> None:
    repo = committed_repo(tmp_path / "repo")
    commit = git("-C", str(repo), "rev-parse", "HEAD").strip()
    assert image_tag(repo, environ={}) == commit[:7]
    (repo / "app.py").write_text("print(2)\n")  # an uncommitted change: never the commit's tag
    assert image_tag(repo, environ={}) == f"{commit[:7]}-dirty"
    git("-C", str(repo), "tag", "-a", "v1.0", "-m", "release")
    assert image_tag(repo, environ={}) == "v1.0-dirty"  # describe's own semantics
    assert image_tag(repo, environ={"IMAGE_TAG": "v1.2"}) == "v1.2"
    assert re.fullmatch(r"[0-9a-zA-Z_.-]+", image_tag(environ={}))  # this checkout, whatever its state
    assert image_tag(tmp_path, environ={}) == "dev"  # not a checkout
    with pytest.raises(ContainerError, match="invalid IMAGE_TAG"):
        image_tag(environ={"IMAGE_TAG": "has space"})


def test_an_unknown_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(containers.EngineUnavailable, match="unknown container engine 'lxc'"):
        containers.find_engine("lxc")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(containers.EngineUnavailable, match="make images"):
        containers.find_engine()


def test_docker_without_its_images_says_run_make_images(monkeypatch: pytest.MonkeyPatch) -> None:
    # A tag no build ever made: whether or not an engine works here, the run stops before any job.
    monkeypatch.setenv("IMAGE_TAG", "never-built-0453")
    result = CliRunner().invoke(
        app, ["solve-linear-ticket", "--ticket", "IX-101", "--repo", "/nonexistent.git", "--docker"]
    )
    assert result.exit_code == 2
    assert "--docker:" in result.output and "make images" in result.output
    assert "never-built-0453" in result.output or "no working container engine" in result.output


def test_docker_and_cloud_together_are_refused() -> None:
    result = CliRunner().invoke(
        app, ["solve-linear-ticket", "--ticket", "IX-101", "--repo", "r.git", "--docker", "--cloud"]
    )
    assert result.exit_code == 2
    assert "--cloud and --docker exclude each other" in result.output


@pytest.mark.parametrize("engine", ["podman", "/nonexistent/engine-0455"])
def test_a_job_that_cannot_start_fails_the_workflow_which_notifies_failed(
    tmp_path: Path, engine: str
) -> None:
    """B1 when the runner itself fails: the image was never built (ImageMissing, or podman absent:
    FileNotFoundError), or the engine binary is missing. The real container runner, the real
    workflow; the implement step's error is the connector's OperationError, review never starts."""
    runner = ContainerRunner(engine, "never-built-0454")
    env = {"JOB": "solve-linear-ticket", "RUN_ID": "nostart", "ARTIFACTS_PREFIX": str(tmp_path)}
    run = run_workflow(
        {"job": "solve-linear-ticket", "ticket": "IX-101"},
        "nostart",
        env,
        open_store(str(tmp_path)),
        say=lambda line: None,
        runner=runner,
    )
    assert run.error is not None and run.error.tags == ["OperationError"]
    assert "could not start" in run.error.message
    assert [text.split(" ")[1] for text in run.notifications if text.startswith("Factory ")] == [
        "started",
        "failed",
    ]
    assert not (tmp_path / "runs" / "nostart").exists()  # no phase ran, and none after it


def test_the_connector_runs_jobs_with_its_runner(tmp_path: Path) -> None:
    calls: list[tuple[str, dict[str, str], float]] = []
    codes = iter([0, 3, None])

    def runner(phase: str, env: Mapping[str, str], timeout: float) -> int | None:
        calls.append((phase, dict(env), timeout))
        return next(codes)

    cloud = LocalCloud({"RUN_ID": "r1"}, open_store(str(tmp_path)), {}, runner=runner)
    args = {
        "name": "projects/p/locations/l/jobs/factory-review",
        "body": {
            "overrides": {"containerOverrides": [{"env": [{"name": "X", "value": "1"}]}], "timeout": "90s"}
        },
    }
    assert cloud.run_job(args)["succeededCount"] == 1
    assert calls == [("review", {"RUN_ID": "r1", "X": "1"}, 90.0)]
    with pytest.raises(WorkflowError, match="exited with code 3") as failed:
        cloud.run_job(args)
    assert failed.value.tags == ["OperationError"]
    with pytest.raises(WorkflowError, match="timed out"):
        cloud.run_job(args)


def test_podman_settings_are_added_once_and_the_owners_kept() -> None:
    fresh = with_podman_settings("")
    conf = tomllib.loads(fresh)
    assert conf["engine"]["runtime"] == "runc"
    assert conf["containers"]["default_ulimits"] == ["nofile=20000:20000", "nproc=32768:32768"]
    assert with_podman_settings(fresh) == fresh  # idempotent
    owned = '# mine\n[engine]\nruntime = "crun"  # chosen\n\n[network]\nnetwork_backend = "netavark"\n'
    edited = with_podman_settings(owned)
    assert edited.startswith(owned.rstrip("\n"))  # comments and values kept
    conf = tomllib.loads(edited)
    assert conf["engine"]["runtime"] == "crun" and conf["network"]["network_backend"] == "netavark"
    assert conf["containers"]["default_ulimits"][0] == "nofile=20000:20000"


def test_a_table_present_gets_the_key_under_its_header() -> None:
    edited = with_podman_settings('[containers]\nlog_driver = "k8s-file"\n[engine]\n')
    conf = tomllib.loads(edited)
    assert conf["containers"] == {
        "log_driver": "k8s-file",
        "default_ulimits": ["nofile=20000:20000", "nproc=32768:32768"],
    }
    assert conf["engine"] == {"runtime": "runc"}
    assert edited.count("[containers]") == 1 and edited.count("[engine]") == 1


def test_the_build_command_per_engine(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    podman = build_argv("podman", "e2e", "abc1234", ca, LOCAL_BASE, environ={"UV_VERSION": "0.13.9"})
    assert podman[:2] == ["podman", "build"] and podman[-1] == str(containers.REPO_ROOT)
    assert values_of(podman, "--target") == ["e2e"] and values_of(podman, "--tag") == ["factory-e2e:abc1234"]
    assert values_of(podman, "--secret") == [f"id=ca,src={ca}"]
    assert values_of(podman, "--build-arg") == [
        "IMAGE_TAG=abc1234",
        "UV_VERSION=0.13.9",
        "BASE_IMAGE=localhost/factory-debian:bookworm",
    ]
    assert "--pull=never" in podman and "--no-cache" not in podman
    docker = build_argv("docker", "e2e", "abc1234", ca, environ={"IMAGE_NO_CACHE": "1"})
    assert "--pull=never" not in docker and values_of(docker, "--build-arg") == ["IMAGE_TAG=abc1234"]
    assert "--no-cache" in docker  # the Containerfile's own base (Docker's Debian), every layer rebuilt


def test_the_ca_secret_is_the_given_bundle_or_nothing(tmp_path: Path) -> None:
    corp = tmp_path / "corp.pem"
    corp.write_text("-----BEGIN CERTIFICATE-----\n")
    assert ca_bundle(tmp_path, {"FACTORY_CA_BUNDLE": str(corp)}) == corp
    with pytest.raises(ContainerError, match="no such file"):
        ca_bundle(tmp_path, {"FACTORY_CA_BUNDLE": str(tmp_path / "missing.pem")})


def test_image_names_and_the_size_table() -> None:
    assert parse_names([]) == ["implement", "review", "e2e", "triage", "onboard", "receiver"]
    assert parse_names(["implement,e2e", "implement"]) == ["implement", "e2e"]
    with pytest.raises(ContainerError, match="unknown image chrome"):
        parse_names(["chrome"])
    table = size_table(
        [Built("factory-implement:abc", 1_048_576_000, 61.25), Built("factory-e2e:abc", 5, 1.0)]
    )
    assert table == [
        "image                       size    build",
        "factory-implement:abc    1049 MB    61.2s",
        "factory-e2e:abc             0 MB     1.0s",
    ]


def test_extra_cas_are_mounted_and_named_never_copied_into_the_image(tmp_path: Path) -> None:
    """A corporate proxy's CA (this machine's extra CAs) reaches a target's install in the container:
    the bundle is mounted read-only and the usual variables name it; the agent and the target's
    commands keep those variables (they are paths, never secrets)."""
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {"JOB": "solve-linear-ticket", "RUN_ID": "r"}
    argv, process_env = ContainerRunner("podman", "t", ca_bundle=bundle).command(
        "implement", env, "n", uid=10001
    )
    assert values_of(argv, "--volume") == [f"{bundle}:{CONTAINER_CA_BUNDLE}:ro"]
    for name in CA_FILE_VARIABLES:
        assert name in values_of(argv, "--env") and process_env[name] == CONTAINER_CA_BUNDLE
    agent_env = agent_environment(process_env, tmp_path, {})
    assert agent_env["PIP_CERT"] == agent_env["SSL_CERT_FILE"] == CONTAINER_CA_BUNDLE
    plain, _ = ContainerRunner("podman", "t").command("implement", env, "n", uid=10001)
    assert values_of(plain, "--volume") == [] and "PIP_CERT" not in values_of(plain, "--env")


def test_a_hung_or_odd_engine_is_a_container_error_not_a_traceback(tmp_path: Path) -> None:
    """--docker catches ContainerError and says it in one line: a hung `image inspect` must be one."""
    hung = tmp_path / "hung-engine"
    hung.write_text("#!/bin/sh\nsleep 30\n")
    odd = tmp_path / "odd-engine"
    odd.write_text("#!/bin/sh\necho not-a-number\n")
    for script in (hung, odd):
        script.chmod(0o755)
    with pytest.raises(ContainerError, match=r"no answer in 0\.5s"):
        containers.image_exists(str(hung), "factory-implement:t", timeout=0.5)
    with pytest.raises(ContainerError, match="gave no size"):
        containers.image_size(str(odd), "factory-implement:t")
