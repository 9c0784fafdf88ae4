"""The implement phase inside its image (``factory-implement:<tag>``), through the job connector.

Real podman or docker, the real image, the real CLI in it against the offline model on the host
(host network), a bare remote and the artifact prefix mounted, and the runner exactly as ``--docker``
builds it (as root: the job runs as root in the container and boxes the agent). Skips when the
image has not been built (``make images IMAGES=implement``), unless ``FACTORY_REQUIRE_IMAGES`` names
it (.ci/run sets ``implement,receiver``): then a missing image or engine fails. Every container is
labelled with its run id, and only this test's are counted.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import NoReturn

import pytest

from images.engine import (
    ContainerError,
    extra_ca_bundle,
    find_engine,
    image_exists,
    image_ref,
    image_tag,
    require_images,
)
from jobs.artifacts import open_store
from jobs.phases.implement.records import ImplementResult
from jobs.sandbox.box import UID_HIGH, UID_LOW
from jobs.serving import free_port
from orchestration.engine.errors import WorkflowError
from orchestration.local.connectors import LocalCloud
from orchestration.local.containers import RUN_LABEL, ContainerRunner, job_user
from orchestration.local.remote import seed_bare_remote
from orchestration.local.stack import local_job_env
from tests.attacker.scene import CANARIES, TICKET, Listener, prepare
from tests.conftest import TESTS, git

TICKETS = TESTS / "tickets"
CANARY = "host-only-canary-0461"
IMPLEMENT_JOB = "projects/local/locations/local/jobs/factory-implement"
ENGINE_TIMEOUT = 60  # seconds for one engine command that starts no job


@pytest.fixture(scope="module")
def runner() -> ContainerRunner:
    """The --docker runner for this checkout's images; skip (or fail, in CI) without them."""
    try:
        engine, tag = find_engine(), image_tag()
        require_images(engine, [image_ref("implement", tag)])
    except ContainerError as exc:
        missing_image(exc, "implement")
    return ContainerRunner(engine, tag, grace=5)  # as orchestration.local.stack makes it, a shorter grace


def missing_image(reason: object, name: str) -> NoReturn:
    """Skip for a missing image, or fail when ``FACTORY_REQUIRE_IMAGES`` (CI: a comma list) names it."""
    required = {n.strip() for n in os.environ.get("FACTORY_REQUIRE_IMAGES", "").split(",")}
    if name in required:
        pytest.fail(f"FACTORY_REQUIRE_IMAGES names {name}: {reason}")
    pytest.skip(str(reason))


def built_image(name: str) -> tuple[str, str]:
    """The engine and the reference of this checkout's ``name`` image; skip (or fail, in CI) without."""
    try:
        engine, tag = find_engine(), image_tag()
    except ContainerError as exc:
        missing_image(exc, name)
    ref = image_ref(name, tag)
    if not image_exists(engine, ref):
        missing_image(f"{ref} not built (make images IMAGES={name})", name)
    return engine, ref


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def job_env(ticket: str, remote: Path, tmp: Path, model_auth: dict[str, str], run_id: str) -> dict[str, str]:
    env = local_job_env(
        ticket, remote, tmp / "artifacts", run_id, workdir=tmp / "work" / run_id, tickets_dir=TICKETS
    )
    return {**env, "KILL_GRACE_SECONDS": "2", **model_auth}


def run_job(cloud: LocalCloud, timeout: str) -> dict[str, object]:
    return cloud.run_job({"name": IMPLEMENT_JOB, "body": {"overrides": {"timeout": timeout}}})


def containers_of_run(engine: str, run_id: str) -> list[str]:
    """This run's containers, running or stopped (every job container carries its run id)."""
    names = subprocess.run(
        [engine, "ps", "--all", "--filter", f"label={RUN_LABEL}={run_id}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=ENGINE_TIMEOUT,
    ).stdout.split()
    return names


def test_the_implement_phase_runs_in_its_image_and_pushes_the_branch(
    runner: ContainerRunner,
    remote: Path,
    tmp_path: Path,
    model_auth: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FACTORY_HOST_CANARY", CANARY)  # in this process's env, never the container's
    run_id = unique("c1")
    caller = os.getuid()
    cloud = LocalCloud(
        job_env("IX-921", remote, tmp_path, model_auth, run_id),
        open_store(str(tmp_path / "artifacts")),
        {},
        runner=runner,
    )
    execution = run_job(cloud, "120s")
    assert execution["succeededCount"] == 1
    # What the containerized process wrote to the mounted artifact prefix.
    run_dir = tmp_path / "artifacts" / "runs" / run_id
    result = ImplementResult.model_validate_json((run_dir / "implement" / "result.json").read_text())
    assert result.status == "done" and result.pushed and len(result.commits) == 1, result.detail
    assert (run_dir / "implement" / "transcript.jsonl").stat().st_size > 0
    # What it pushed to the mounted bare remote: the agent's note of where it ran (only the factory
    # images have /etc/factory-image) and as whom: its box's own uid when root started the job (the
    # job is root in its image and boxes the agent), else the caller's.
    assert git("--git-dir", str(remote), "rev-parse", "factory/ix-921").strip() == result.head_sha
    image, uid = git("--git-dir", str(remote), "show", "factory/ix-921:RUNTIME.txt").split()
    assert image == image_ref("implement", runner.tag)
    if caller == 0:
        assert UID_LOW <= int(uid) < UID_HIGH, uid
        security = json.loads((run_dir / "implement" / "security.json").read_text())["containment"]
        assert security["contained"] and security["uid"] == int(uid)
    else:
        assert int(uid) == job_user(caller, os.getgid())[0]
    # What it wrote (artifacts, pushed objects) is the caller's, as a subprocess's is.
    assert (run_dir / "implement" / "result.json").stat().st_uid == caller
    assert {p.stat().st_uid for p in [remote, *(remote / "refs").rglob("*")]} == {caller}
    assert containers_of_run(runner.engine, run_id) == []  # --rm


@pytest.mark.skipif(os.geteuid() != 0, reason="the job boxes its agent only when root starts it")
def test_in_the_image_the_box_refuses_the_hostile_repository_and_its_agent(
    runner: ContainerRunner, remote: Path, tmp_path: Path, model_auth: dict[str, str], listener: Listener
) -> None:
    """RELIABILITY E2-E4 inside factory-implement under the engine, as on Cloud Run: the job is root in
    its container and boxes the agent and the target's install; the attacker aims at the harness, the
    mounted remote and artifacts, and a listener on every address of this machine (host network)."""
    run_id = unique("box")
    scene = prepare(remote, tmp_path, listener, run_id)
    env = {**job_env(TICKET, remote, tmp_path, model_auth, run_id), **CANARIES, "CONTAINMENT": "require"}
    cloud = LocalCloud(env, open_store(str(tmp_path / "artifacts")), {}, runner=runner)
    assert run_job(cloud, "180s")["succeededCount"] == 1
    figures = scene.assert_contained(listener)
    assert figures["attempts"] >= 30
    assert containers_of_run(runner.engine, run_id) == []


def test_a_python_target_installs_from_pypi_in_the_image_and_only_the_change_is_pushed(
    runner: ContainerRunner, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    """The realistic target (tests/targets/taskboard): its install makes a venv and pip-installs pinned
    PyPI dependencies inside the implement image (Debian's python3 with venv and pip are there for
    targets, and this machine's extra CAs are mounted, never baked in); the agent's Bash runs the app's
    suite in that venv; the pushed commit holds the agent's three files, not the venv."""
    remote = seed_bare_remote(TESTS / "targets" / "taskboard", tmp_path / "taskboard.git")
    run_id = unique("tb")
    with_ca = ContainerRunner(runner.engine, runner.tag, grace=5, ca_bundle=extra_ca_bundle())
    cloud = LocalCloud(
        job_env("TB-1", remote, tmp_path, model_auth, run_id), open_store(str(tmp_path / "artifacts")), {},
        runner=with_ca,
    )  # fmt: skip
    started = time.monotonic()
    assert run_job(cloud, "600s")["succeededCount"] == 1
    print(f"\nTB-1 implement in its image: {time.monotonic() - started:.1f} s (venv + pip install included)")
    run_dir = tmp_path / "artifacts" / "runs" / run_id / "implement"
    result = ImplementResult.model_validate_json((run_dir / "result.json").read_text())
    assert result.status == "done" and result.pushed, result.detail
    install_log = (run_dir / "install.log").read_text()
    assert "$ .venv/bin/pip install --quiet -r requirements.txt" in install_log
    files = git("--git-dir", str(remote), "show", "--name-only", "--format=", "factory/tb-1").split()
    assert sorted(files) == ["taskboard/board.py", "taskboard/templates/board.html", "tests/test_tasks.py"]
    transcript = (run_dir / "transcript.jsonl").read_text()
    assert "29 passed" in transcript  # the agent's run of the app's suite, in the venv install made


def test_the_container_sees_only_the_jobs_environment(
    runner: ContainerRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTORY_HOST_CANARY", CANARY)
    env = {"JOB": "solve-linear-ticket", "ARTIFACTS_PREFIX": str(tmp_path), "RUN_ID": unique("env")}
    argv, process_env = runner.command("implement", env, unique("factory-implement-env"))
    assert "FACTORY_HOST_CANARY" not in process_env  # the engine's client never gets it
    # The same run, but printing the container's environment instead of starting the phase, with
    # the canary in the engine's own environment too (a leak would have to come from the engine)
    # and a control variable the same way, but named: that one must arrive, so the check can fail.
    argv = [*argv[:-2], "--env", "FACTORY_CONTROL", "--entrypoint", "env", argv[-2]]
    engine_env = {**process_env, "FACTORY_HOST_CANARY": CANARY, "FACTORY_CONTROL": "control-0463"}
    seen = subprocess.run(
        argv, env=engine_env, capture_output=True, text=True, check=True, timeout=ENGINE_TIMEOUT
    ).stdout
    variables = dict(line.split("=", 1) for line in seen.splitlines())
    assert variables.get("FACTORY_CONTROL") == "control-0463"
    assert "FACTORY_HOST_CANARY" not in variables and CANARY not in seen
    assert {k: variables.get(k) for k in env} == env
    image_defaults = {"PATH", "HOME", "HOSTNAME", "LANG", "TERM", "container", "PYTHONUNBUFFERED"}
    assert set(variables) - set(env) <= image_defaults | {"PYTHONDONTWRITEBYTECODE", "FACTORY_CONTROL"}


def test_the_implement_image_runs_without_playwright(runner: ContainerRunner) -> None:
    """Only the e2e image carries Playwright: the implement entrypoint (version here, the phase in the
    test above) loads without it."""
    script = 'python -m jobs version && ! python -c "import playwright" 2>/dev/null && echo no-playwright'
    out = subprocess.run(
        [runner.engine, "run", "--rm", "--entrypoint", "sh", runner.image("implement"), "-c", script],
        capture_output=True,
        text=True,
        timeout=ENGINE_TIMEOUT,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("factory 0.1.0, claude code ") and out.stdout.endswith("no-playwright\n")


def test_a_job_past_its_timeout_is_stopped_with_sigterm_and_removed(
    runner: ContainerRunner, remote: Path, tmp_path: Path, model_auth: dict[str, str]
) -> None:
    """B2 in a container: the model stalls (IX-920), the task timeout stops the container (SIGTERM,
    then SIGKILL after the grace); the job still writes its result, and the container is gone."""
    run_id = unique("t1")
    cloud = LocalCloud(
        job_env("IX-920", remote, tmp_path, model_auth, run_id),
        open_store(str(tmp_path / "artifacts")),
        {},
        runner=runner,
    )
    with pytest.raises(WorkflowError, match="timed out") as failed:
        run_job(cloud, "4s")
    assert failed.value.tags == ["OperationError"]
    result_file = tmp_path / "artifacts" / "runs" / run_id / "implement" / "result.json"
    result = ImplementResult.model_validate_json(result_file.read_text())
    assert result.status in ("failed", "timed_out") and "SIGTERM" in result.detail
    seconds, limit = cloud.executions[0]["seconds"], 4 + runner.grace + 10
    print(f"\njob past its 4 s task timeout: stopped and removed after {seconds:.1f} s (limit {limit:g} s)")
    assert seconds < limit
    assert containers_of_run(runner.engine, run_id) == []


def test_the_receiver_image_serves_the_webhook_and_carries_no_agent_tooling(tmp_path: Path) -> None:
    """factory-receiver runs ``python -m orchestration.receiver`` on $PORT; an unsigned delivery is
    refused (401). Skips without the image, unless FACTORY_REQUIRE_IMAGES names it (CI does)."""
    engine, ref = built_image("receiver")
    # Each line says what the image has; the first is the control (the service's own import works).
    script = "; ".join(
        f"if {check}; then echo {name}; else echo no-{name}; fi"
        for name, check in [
            ("receiver", "python -c 'import orchestration.receiver.service'"),
            ("agent-sdk", "python -c 'import claude_agent_sdk' 2>/dev/null"),
            ("playwright", "python -c 'import playwright' 2>/dev/null"),
            ("node", "test -e /opt/node || command -v node >/dev/null"),
            ("git", "command -v git >/dev/null"),
        ]
    )
    tools = subprocess.run(
        [engine, "run", "--rm", "--entrypoint", "sh", ref, "-c", script],
        capture_output=True,
        text=True,
        timeout=ENGINE_TIMEOUT,
    )
    assert tools.stdout.split() == ["receiver", "no-agent-sdk", "no-playwright", "no-node", "no-git"], (
        tools.stderr
    )
    port = free_port()
    env = {
        "PORT": str(port),
        "LINEAR_WEBHOOK_SECRET": "whsec-0462",
        "FACTORY_TRIGGER_LABEL": "factory",
        "FACTORY_LINEAR_TEAM": "IX",
        "ARTIFACTS_PREFIX": "/tmp/receiver",
    }
    name = unique("factory-receiver")
    argv = [engine, "run", "--rm", "--detach", "--name", name, "--network=host"]
    argv += [arg for variable in env for arg in ("--env", variable)] + [ref]
    subprocess.run(
        argv, env={"PATH": os.environ["PATH"], **env}, check=True, capture_output=True, timeout=ENGINE_TIMEOUT
    )
    try:
        url = f"http://127.0.0.1:{port}/linear/webhook"
        reply = post_until_up(url, b'{"type": "Issue"}')
        assert reply == 401
    finally:
        subprocess.run([engine, "rm", "--force", name], capture_output=True, timeout=ENGINE_TIMEOUT)


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
