"""Factory's images by name and tag, and the container engine that builds and runs them.

Each phase has its own image (``factory-<phase>:<tag>``, a target of ``images/Containerfile``), and so
does the receiver. ``make images`` and whatever runs the images (``--docker``, the tests, deploy's
references) agree on names and tags through this module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from jobs.errors import FactoryError
from jobs.phases.registry import PHASES

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVICE_IMAGES = ("receiver",)  # images that run no phase
IMAGES = (*dict.fromkeys(phase.image for phase in PHASES), *SERVICE_IMAGES)
ENGINES = ("docker", "podman")
ENGINE_ENV = "FACTORY_CONTAINER_ENGINE"  # docker or podman; default: the first that works
TAG_ENV = "IMAGE_TAG"
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # a valid image tag
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_ENV = "FACTORY_CA_BUNDLE"
ENGINE_TIMEOUT = 60.0  # one engine command that starts no container (inspect, info)


class ContainerError(FactoryError):
    """A container engine or image problem (the job itself never started)."""


class EngineUnavailable(ContainerError):
    """Neither docker nor podman works here."""


class ImageMissing(ContainerError):
    """A phase's image has not been built."""


def image_tag(root: Path = REPO_ROOT, environ: Mapping[str, str] | None = None) -> str:
    """``IMAGE_TAG`` if set, else ``git describe --always --dirty --abbrev=7``, else ``dev``.

    ``make images`` and whatever runs the images (``--docker``, the tests) agree through this one
    function; a checkout with uncommitted changes is ``<commit>-dirty``, never mistaken for the commit.
    """
    env = os.environ if environ is None else environ
    tag = env.get(TAG_ENV, "").strip()
    if not tag:
        # --no-optional-locks: describe --dirty refreshes the index, which must not take its lock.
        argv = [
            "git",
            "--no-optional-locks",
            "-C",
            str(root),
            "describe",
            "--always",
            "--dirty",
            "--abbrev=7",
        ]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            out = subprocess.CompletedProcess(argv, 1, "", "")
        tag = out.stdout.strip() if out.returncode == 0 else "dev"
    if not TAG_PATTERN.match(tag):
        raise ContainerError(f"invalid {TAG_ENV} {tag!r}: an image tag is 1-128 of A-Z a-z 0-9 _ . -")
    return tag


def image_ref(name: str, tag: str) -> str:
    return f"factory-{name}:{tag}"


def engine_works(engine: str) -> bool:
    """Whether ``engine`` is installed and its ``info`` answers (docker's needs a running daemon)."""
    if shutil.which(engine) is None:
        return False
    try:
        info = subprocess.run([engine, "info"], capture_output=True, timeout=ENGINE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False
    return info.returncode == 0


def find_engine(preferred: str | None = None) -> str:
    """The engine to use: ``preferred`` (or ``FACTORY_CONTAINER_ENGINE``), else docker, else podman."""
    wanted = preferred or os.environ.get(ENGINE_ENV) or None
    if wanted is not None and wanted not in ENGINES:
        raise EngineUnavailable(f"unknown container engine {wanted!r} (docker or podman)")
    for engine in [wanted] if wanted else ENGINES:
        if engine_works(engine):
            return engine
    tried = wanted or " and ".join(ENGINES)
    raise EngineUnavailable(
        f"no working container engine ({tried}: not installed, or `{tried.split()[0]} info` fails); "
        "install podman (`make images` does it as root on Debian) or start the docker daemon"
    )


def image_exists(engine: str, ref: str, timeout: float = ENGINE_TIMEOUT) -> bool:
    try:
        found = subprocess.run([engine, "image", "inspect", ref], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:  # a hung engine is the engine's problem, said in one line
        raise ContainerError(f"{engine} image inspect {ref}: no answer in {timeout:g}s") from None
    return found.returncode == 0


def require_images(engine: str, refs: Sequence[str]) -> None:
    """ImageMissing naming every absent image and how to build them."""
    missing = [ref for ref in refs if not image_exists(engine, ref)]
    if missing:
        raise ImageMissing(f"image not found ({engine}): {', '.join(missing)}; run `make images`")


def image_size(engine: str, ref: str) -> int:
    """The image's size in bytes, as the engine reports it."""
    try:
        out = subprocess.run(
            [engine, "image", "inspect", "--format", "{{.Size}}", ref],
            capture_output=True,
            text=True,
            timeout=ENGINE_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise ContainerError(f"{engine} image inspect {ref}: no answer in {ENGINE_TIMEOUT:g}s") from None
    if out.returncode != 0:
        raise ImageMissing(f"image not found ({engine}): {ref}")
    try:
        return int(out.stdout.strip().splitlines()[0])
    except (IndexError, ValueError):
        raise ContainerError(f"{engine} gave no size for {ref}: {out.stdout.strip()[:200]!r}") from None


def extra_ca_bundle(environ: Mapping[str, str] | None = None) -> Path | None:
    """The CA certificates to trust besides Debian's, for a build or a local container; None if none.

    ``FACTORY_CA_BUNDLE`` if set; else this machine's bundle when it trusts extra CAs of its own
    (``/usr/local/share/ca-certificates``: a corporate proxy's, say). Never baked into an image.
    """
    env = os.environ if environ is None else environ
    if env.get(CA_ENV):
        bundle = Path(env[CA_ENV])
        if not bundle.is_file():
            raise ContainerError(f"{CA_ENV}={bundle}: no such file")
        return bundle
    if any(EXTRA_CA_DIR.rglob("*.crt")) and HOST_CA_BUNDLE.is_file():
        return HOST_CA_BUNDLE
    return None
