"""A phase job run in its image (podman or docker) instead of as a subprocess: ``--docker``.

The local engine's run-job connector takes a runner; this one starts ``factory-<phase>:<tag>`` the way
Cloud Run starts the job's container, with what the subprocess runner cannot show:

- the container's environment is exactly the job's (the variables the Cloud Run Job would get), never
  the caller's: values reach the engine through its own process environment and are named with
  ``-e NAME``, so none of them is on a command line;
- the host's network, so the offline model and the job's local stand-ins on loopback are reachable;
- the local paths the job names (bare remote, tickets, artifact prefix, work directory) are mounted at
  the same paths, so no variable is rewritten;
- started by root, the job runs as root in the container, as the job images do on Cloud Run, with
  ``CAP_SYS_ADMIN`` and ``CAP_NET_ADMIN``: what its box needs (jobs/sandbox: the agent and the
  target's commands get a uid and a network namespace of their own, and drop every capability). What
  the job writes is root's, the caller's. A non-root caller runs it as itself (rootless podman:
  ``--userns=keep-id``), which owns the trees it writes already; its box is open there, and the job
  says so;
- at the task timeout the container is stopped as Cloud Run stops a task (SIGTERM, then SIGKILL after
  a grace) and it is removed either way (``--rm``).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from images.engine import (
    image_ref,
    require_images,
)
from jobs.agent.policy import CA_FILE_VARIABLES
from jobs.workspace.shell import reap_supervised

# What the engine's own client may need from the caller (its config, socket, storage): the engine
# process gets these, the container never does.
ENGINE_CLIENT_ENV = (
    "PATH",
    "HOME",
    "TMPDIR",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "CONTAINERS_CONF",
    "CONTAINERS_STORAGE_CONF",
    "CONTAINERS_REGISTRIES_CONF",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "DOCKER_CONTEXT",
)
# Job variables that hold local paths: mounted at the same path (read-write unless said). The job's
# outputs are created if missing (the engine would create them as root, or refuse); its inputs are
# mounted only if they exist, so a wrong path is the job's own clear error, not the engine's.
# APP_ENV_FILE (the app's .env, review and e2e only) keeps its mode and owner: the job refuses one any
# uid could read.
PATH_VARIABLES = ("REPO_URL", "ARTIFACTS_PREFIX", "WORKDIR", "TICKETS_DIR", "APP_ENV_FILE")
READ_ONLY = frozenset({"TICKETS_DIR", "APP_ENV_FILE"})
OUTPUTS = frozenset({"ARTIFACTS_PREFIX", "WORKDIR"})
IMAGE_UID = 10001  # the image's own user (images/Containerfile), whose HOME exists
RUN_LABEL = "factory.run-id"  # on every job container: the RUN_ID it belongs to
PHASE_LABEL = "factory.phase"
CONTAINER_CA_BUNDLE = "/etc/ssl/certs/factory-extra-ca.pem"
STOP_CLIENT_GRACE = 30.0  # how long the engine's client may take to return after the container stops


def local_path(variable: str, value: str) -> Path | None:
    """The local filesystem path a job variable names, or None (a URL, a bucket, an empty value)."""
    if not value:
        return None
    if value.startswith("file://"):
        return Path(unquote(urlsplit(value).path))
    if variable == "REPO_URL" and ("://" in value or re.match(r"^[\w.-]+@[\w.-]+:", value)):
        return None  # https://, ssh://, git@host:path
    if variable == "ARTIFACTS_PREFIX" and "://" in value:
        return None  # gs://
    return Path(value)


@dataclass(frozen=True)
class Mount:
    path: Path
    read_only: bool = False
    output: bool = False  # created before the run when missing

    def arg(self) -> str:
        return f"{self.path}:{self.path}{':ro' if self.read_only else ''}"


def job_mounts(env: Mapping[str, str]) -> tuple[dict[str, str], list[Mount]]:
    """The env with its local paths made absolute, and the mounts that expose them at the same paths.

    A relative path means what it would to a subprocess started here (the caller's working directory);
    a path inside another mounted read-write one needs no mount of its own.
    """
    env = dict(env)
    wanted: list[Mount] = []
    for variable in PATH_VARIABLES:
        path = local_path(variable, env.get(variable, ""))
        if path is None:
            continue
        path = path.absolute()
        if not env[variable].startswith("file://"):
            env[variable] = str(path)
        wanted.append(Mount(path, read_only=variable in READ_ONLY, output=variable in OUTPUTS))
    mounts: list[Mount] = []
    for mount in sorted(wanted, key=lambda m: (len(m.path.parts), m.read_only, m.path)):
        covered = any(not m.read_only and mount.path.is_relative_to(m.path) for m in mounts)
        if not covered and mount.path not in {m.path for m in mounts}:
            mounts.append(mount)
    return env, mounts


@dataclass(frozen=True)
class ContainerRunner:
    """Runs ``python -m jobs <phase>`` in ``factory-<phase>:<tag>``; a LocalCloud job runner."""

    engine: str
    tag: str
    grace: float = 30.0  # SIGTERM to SIGKILL, as the subprocess runner gives the job
    network: str = "host"
    # Extra CAs this machine trusts (a corporate proxy's): mounted read-only and named by the usual
    # variables, so a target's install reaches its registries from the container. Never in an image.
    ca_bundle: Path | None = None

    def image(self, phase: str) -> str:
        return image_ref(phase, self.tag)

    def command(
        self,
        phase: str,
        env: Mapping[str, str],
        name: str,
        *,
        uid: int | None = None,
        gid: int | None = None,
        caller_env: Mapping[str, str] | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """The engine's argv and its process environment for one job run (no side effects).

        ``uid``/``gid`` (the caller's: default this process's) and ``caller_env`` (default this
        process's environment) decide who the job runs as and what the engine's client gets; the
        job's values travel in the engine's environment and are only named on the command line.
        """
        caller_uid = os.getuid() if uid is None else uid
        caller_gid = os.getgid() if gid is None else gid
        uid, gid = job_user(caller_uid, caller_gid)
        caller = os.environ if caller_env is None else caller_env
        job_env, mounts = job_mounts(env)
        if self.ca_bundle is not None:
            job_env.update(dict.fromkeys(CA_FILE_VARIABLES, CONTAINER_CA_BUNDLE))
        argv = [
            self.engine,
            "run",
            "--rm",
            "--name",
            name,
            "--pull=never",
            f"--network={self.network}",
            f"--user={uid}:{gid}",
            f"--stop-timeout={int(self.grace)}",
            "--label",
            f"{RUN_LABEL}={env.get('RUN_ID', '')}",
            "--label",
            f"{PHASE_LABEL}={phase}",
        ]
        if self.engine == "podman" and caller_uid != 0:
            argv.append("--userns=keep-id")  # rootless podman: the container's uid is the caller's
        if uid == 0:
            # For the box: a network namespace (SYS_ADMIN) with its loopback up (NET_ADMIN). The box
            # itself drops every capability.
            argv += ["--cap-add=SYS_ADMIN", "--cap-add=NET_ADMIN"]
        elif uid != IMAGE_UID:
            argv += ["--env", "HOME=/tmp"]  # a uid the image has no home for
        for mount in mounts:
            if mount.output or mount.path.exists():
                argv += ["--volume", mount.arg()]
        if self.ca_bundle is not None:
            argv += ["--volume", f"{self.ca_bundle}:{CONTAINER_CA_BUNDLE}:ro"]
        for variable in sorted(job_env):
            argv += ["--env", variable]
        argv += [self.image(phase), phase]
        process_env = {k: caller[k] for k in ENGINE_CLIENT_ENV if k in caller}
        process_env.update(job_env)
        return argv, process_env

    def __call__(self, phase: str, env: Mapping[str, str], timeout: float) -> int | None:
        """Run the phase's container; its exit code, or None when it ran past ``timeout``."""
        require_images(self.engine, [self.image(phase)])
        name = f"factory-{phase}-{uuid.uuid4().hex[:12]}"
        argv, process_env = self.command(phase, env, name)
        mounts = job_mounts(env)[1]
        for mount in mounts:
            if mount.output:
                mount.path.mkdir(parents=True, exist_ok=True)
        client = subprocess.Popen(argv, env=process_env, start_new_session=True)
        try:
            return client.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(name)
            reap_supervised(client, STOP_CLIENT_GRACE)
            return None
        except BaseException:
            # Ctrl-C or an error here: the container is in its own session and would outlive us.
            self.stop(name)
            reap_supervised(client, STOP_CLIENT_GRACE)
            raise

    def stop(self, name: str) -> None:
        """Cloud Run at the task timeout: SIGTERM to the container, SIGKILL after the grace."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(
                [self.engine, "stop", "--time", str(int(self.grace)), name],
                capture_output=True,
                timeout=self.grace + STOP_CLIENT_GRACE,
            )


def job_user(caller_uid: int, caller_gid: int) -> tuple[int, int]:
    """Who the job runs as: root when the caller is root (the job images' user, as on Cloud Run: the
    job boxes the agent itself), else the caller, who owns the trees it writes."""
    return (0, 0) if caller_uid == 0 else (caller_uid, caller_gid)
