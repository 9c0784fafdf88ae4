"""``--docker`` and ``make images`` without running an engine: the commands and settings they build.

The container runner's argv and environment (only the job's variables reach the container, and none
of their values is on a command line), its mounts, the image tag scheme, podman's containers.conf
edit, the build command, and the connector choosing its runner. tests/test_images.py runs them for
real against the built images.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.artifacts import open_store
from orchestration import containers
from orchestration.cli import app
from orchestration.containers import ContainerError, ContainerRunner, image_tag, job_mounts
from orchestration.engine.errors import WorkflowError
from orchestration.images import (
    Built,
    build_argv,
    ca_bundle,
    parse_names,
    size_table,
    with_podman_settings,
)
from orchestration.local_cloud import LocalCloud

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
    assert {"--pull=never", "--network=host", "--user=0:0", "--stop-timeout=7"} <= set(argv)
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
    assert containers.local_path("REPO_URL", "git@github.com:acme/app.git") is None


def test_a_non_root_caller_runs_as_itself() -> None:
    podman, _ = command(uid=1000)
    assert "--user=1000:1000" in podman and "--userns=keep-id" in podman  # rootless podman
    assert "HOME=/tmp" in values_of(podman, "--env")  # the image has no home for uid 1000
    docker, _ = command(engine="docker", uid=1000)
    assert docker[0] == "docker" and "--userns=keep-id" not in docker
    as_image_user, _ = command(uid=containers.IMAGE_UID)
    assert "HOME=/tmp" not in values_of(as_image_user, "--env")


def test_root_can_run_the_job_as_the_images_own_user() -> None:
    runner = ContainerRunner("podman", "abc1234", user=(containers.IMAGE_UID, containers.IMAGE_UID))
    argv, _ = runner.command("review", JOB_ENV, "factory-review-x", caller_env=CALLER)
    assert "--user=10001:10001" in argv and "--userns=keep-id" not in argv  # rootful podman
    assert argv[-2:] == ["factory-review:abc1234", "review"]


def test_the_tag_is_image_tag_else_the_commit_else_dev(tmp_path: Path) -> None:
    assert image_tag(environ={"IMAGE_TAG": "v1.2"}) == "v1.2"
    commit = image_tag(environ={})
    assert len(commit) >= 7 and all(c in "0123456789abcdef" for c in commit)
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
    podman = build_argv("podman", "e2e", "abc1234", ca, environ={"UV_VERSION": "0.13.9"})
    assert podman[:2] == ["podman", "build"] and podman[-1] == str(containers.REPO_ROOT)
    assert values_of(podman, "--target") == ["e2e"] and values_of(podman, "--tag") == ["factory-e2e:abc1234"]
    assert values_of(podman, "--secret") == [f"id=ca,src={ca}"]
    assert values_of(podman, "--build-arg") == ["IMAGE_TAG=abc1234", "UV_VERSION=0.13.9"]
    assert "--pull=never" in podman
    docker = build_argv("docker", "e2e", "abc1234", ca, environ={})
    assert "--pull=never" not in docker and values_of(docker, "--build-arg") == ["IMAGE_TAG=abc1234"]


def test_the_ca_secret_is_the_given_bundle_or_nothing(tmp_path: Path) -> None:
    corp = tmp_path / "corp.pem"
    corp.write_text("-----BEGIN CERTIFICATE-----\n")
    assert ca_bundle(tmp_path, {"FACTORY_CA_BUNDLE": str(corp)}) == corp
    with pytest.raises(ContainerError, match="no such file"):
        ca_bundle(tmp_path, {"FACTORY_CA_BUNDLE": str(tmp_path / "missing.pem")})


def test_image_names_and_the_size_table() -> None:
    assert parse_names([]) == ["implement", "review", "e2e", "receiver"]
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
