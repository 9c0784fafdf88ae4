"""The implement phase inside its image (``factory-implement:<tag>``), through the job connector.

Real podman or docker, the real image, the real CLI in it against the offline model on the host
(host network), a bare remote and the artifact prefix mounted. Skips when the image has not been built
(``make images IMAGES=implement``), unless ``FACTORY_REQUIRE_IMAGES=1`` (set by .ci/run): then a
missing image or engine fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from jobs.artifacts import open_store
from jobs.models import ImplementResult
from orchestration.containers import (
    IMAGE_UID,
    ContainerError,
    ContainerRunner,
    find_engine,
    image_exists,
    image_ref,
    image_tag,
    require_images,
)
from orchestration.demo import local_job_env
from orchestration.engine.errors import WorkflowError
from orchestration.local_cloud import LocalCloud
from tests.conftest import git

TICKETS = Path(__file__).parent / "tickets"
CANARY = "host-only-canary-0461"
IMPLEMENT_JOB = "projects/local/locations/local/jobs/factory-implement"


@pytest.fixture(scope="module")
def runner() -> ContainerRunner:
    """The --docker runner for this checkout's images; skip (or fail, in CI) without them."""
    try:
        engine, tag = find_engine(), image_tag()
        require_images(engine, [image_ref("implement", tag)])
    except ContainerError as exc:
        if os.environ.get("FACTORY_REQUIRE_IMAGES") == "1":
            pytest.fail(f"FACTORY_REQUIRE_IMAGES=1: {exc}")
        pytest.skip(str(exc))
    return ContainerRunner(engine, tag, grace=5)


def job_env(ticket: str, remote: Path, tmp: Path, model_auth: dict[str, str], run_id: str) -> dict[str, str]:
    env = local_job_env(
        ticket, remote, tmp / "artifacts", run_id, workdir=tmp / "work" / run_id, tickets_dir=TICKETS
    )
    return {**env, "KILL_GRACE_SECONDS": "2", **model_auth}


def run_job(cloud: LocalCloud, timeout: str) -> dict[str, object]:
    return cloud.run_job({"name": IMPLEMENT_JOB, "body": {"overrides": {"timeout": timeout}}})


def leftover_containers(engine: str) -> list[str]:
    names = subprocess.run(
        [engine, "ps", "--all", "--format", "{{.Names}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    return [name for name in names if name.startswith("factory-implement-")]


def as_image_user(runner: ContainerRunner, *trees: Path) -> ContainerRunner:
    """As root, the run uses the image's own non-root user (as Cloud Run does), owning ``trees``;
    otherwise the caller's uid, which owns them already."""
    if os.getuid() != 0:
        return runner
    for tree in trees:
        for path in [tree, *tree.rglob("*")]:
            os.chown(path, IMAGE_UID, IMAGE_UID, follow_symlinks=False)
    return replace(runner, user=(IMAGE_UID, IMAGE_UID))


def test_the_implement_phase_runs_in_its_image_and_pushes_the_branch(
    runner: ContainerRunner,
    remote: Path,
    tmp_path: Path,
    model_auth: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FACTORY_HOST_CANARY", CANARY)  # in this process's env, never the container's
    (tmp_path / "artifacts").mkdir()
    runner = as_image_user(runner, remote, tmp_path / "artifacts")
    uid = runner.user[0] if runner.user else os.getuid()
    cloud = LocalCloud(
        job_env("IX-921", remote, tmp_path, model_auth, "c1"),
        open_store(str(tmp_path / "artifacts")),
        {},
        runner=runner,
    )
    execution = run_job(cloud, "300s")
    assert execution["succeededCount"] == 1
    # What the containerized process wrote to the mounted artifact prefix.
    run_dir = tmp_path / "artifacts" / "runs" / "c1"
    result = ImplementResult.model_validate_json((run_dir / "implement" / "result.json").read_text())
    assert result.status == "done" and result.pushed and len(result.commits) == 1, result.detail
    assert (run_dir / "implement" / "transcript.jsonl").stat().st_size > 0
    # What it pushed to the mounted bare remote: the agent's note of where it ran (only the factory
    # images have /etc/factory-image) and as whom; what it wrote belongs to that user.
    assert git("--git-dir", str(remote), "rev-parse", "factory/ix-921").strip() == result.head_sha
    runtime = git("--git-dir", str(remote), "show", "factory/ix-921:RUNTIME.txt").split()
    assert runtime == [image_ref("implement", runner.tag), str(uid)]
    assert (run_dir / "implement" / "result.json").stat().st_uid == uid
    assert leftover_containers(runner.engine) == []  # --rm


def test_the_container_sees_only_the_jobs_environment(runner: ContainerRunner, tmp_path: Path) -> None:
    env = {"JOB": "solve-linear-ticket", "ARTIFACTS_PREFIX": str(tmp_path), "RUN_ID": "env-check"}
    argv, process_env = runner.command("implement", env, "factory-implement-envcheck")
    # The same run, but printing the container's environment instead of starting the phase.
    argv = [*argv[:-2], "--entrypoint", "env", argv[-2]]
    seen = subprocess.run(
        argv, env={**process_env, "FACTORY_HOST_CANARY": CANARY}, capture_output=True, text=True, check=True
    ).stdout
    variables = dict(line.split("=", 1) for line in seen.splitlines())
    assert {k: variables.get(k) for k in env} == env
    image_defaults = {"PATH", "HOME", "HOSTNAME", "LANG", "TERM", "container", "PYTHONUNBUFFERED"}
    assert set(variables) - set(env) <= image_defaults | {"PYTHONDONTWRITEBYTECODE"}
    assert CANARY not in seen


def test_a_job_past_its_timeout_is_stopped_with_sigterm_and_removed(
    runner: ContainerRunner, remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    """B2 in a container: the model stalls (IX-920), the task timeout stops the container (SIGTERM,
    then SIGKILL after the grace); the job still writes its result, and the container is gone."""
    cloud = LocalCloud(
        job_env("IX-920", remote, tmp_path, model_auth, "t1"),
        open_store(str(tmp_path / "artifacts")),
        {},
        runner=runner,
    )
    with pytest.raises(WorkflowError, match="timed out") as failed:
        run_job(cloud, "4s")
    assert failed.value.tags == ["OperationError"]
    result_file = tmp_path / "artifacts" / "runs" / "t1" / "implement" / "result.json"
    result = ImplementResult.model_validate_json(result_file.read_text())
    assert result.status in ("failed", "timed_out") and "SIGTERM" in result.detail
    assert cloud.executions[0]["seconds"] < 4 + runner.grace + 10
    assert leftover_containers(runner.engine) == []


def test_the_receiver_image_serves_the_webhook_and_carries_no_agent_tooling(tmp_path: Path) -> None:
    """factory-receiver runs ``python -m orchestration.receiver`` on $PORT; an unsigned delivery is
    refused (401). Skips without the image (CI builds only the implement image)."""
    engine, tag = find_engine_or_skip(), image_tag()
    ref = image_ref("receiver", tag)
    if not image_exists(engine, ref):
        pytest.skip(f"{ref} not built (make images IMAGES=receiver)")
    tools = subprocess.run(
        [engine, "run", "--rm", "--entrypoint", "sh", ref, "-c", "command -v git node claude playwright"],
        capture_output=True,
        text=True,
    )
    assert tools.stdout == "" and tools.returncode != 0
    port = free_port()
    env = {
        "PORT": str(port),
        "LINEAR_WEBHOOK_SECRET": "whsec-0462",
        "FACTORY_TRIGGER_LABEL": "factory",
        "FACTORY_LINEAR_TEAM": "IX",
        "ARTIFACTS_PREFIX": "/tmp/receiver",
    }
    name = f"factory-receiver-{port}"
    argv = [engine, "run", "--rm", "--detach", "--name", name, "--network=host"]
    argv += [arg for variable in env for arg in ("--env", variable)] + [ref]
    subprocess.run(argv, env={"PATH": os.environ["PATH"], **env}, check=True, capture_output=True)
    try:
        url = f"http://127.0.0.1:{port}/linear/webhook"
        reply = post_until_up(url, b'{"type": "Issue"}')
        assert reply == 401
    finally:
        subprocess.run([engine, "rm", "--force", name], capture_output=True)


def find_engine_or_skip() -> str:
    try:
        return find_engine()
    except ContainerError as exc:
        pytest.skip(str(exc))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post_until_up(url: str, body: bytes, deadline: float = 20.0) -> int:
    """The HTTP status of POSTing ``body`` once the service answers (it needs a moment to start)."""
    give_up = time.monotonic() + deadline
    while True:
        try:
            request = urllib.request.Request(
                url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=5):
                return 200
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.1)
