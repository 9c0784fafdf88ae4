"""``make images``: Factory's images (``images/Containerfile``) built with docker, or podman.

``python -m images.build [implement review e2e receiver]`` builds each as ``--target`` and
tags it ``factory-<name>:<tag>`` (``IMAGE_TAG``, else ``git describe --always --dirty``, else ``dev``),
one image at a time with the engine's own progress, then prints a table of sizes and build times.
``IMAGE_NO_CACHE=1`` rebuilds every layer (fresh Debian security updates).

With docker the base image (the Containerfile's ``BASE_IMAGE``, Docker's Debian) is pulled as usual.
With podman nothing is pulled: when Docker's Debian is not already here (Docker Hub out of reach: CI,
an offline machine) the base is ``localhost/factory-debian:bookworm``, made once with ``debootstrap
--variant=minbase bookworm``, trimmed like Debian's slim image and ``podman import``-ed; builds pass it
as ``--build-arg BASE_IMAGE`` and run with ``--pull=never``. Podman's containers.conf gets the raised
ulimits this sandbox-like machines need, and ``runtime = "runc"`` only when podman's default runtime
cannot run a container. Extra CA certificates (a corporate or intercepting proxy's,
``/usr/local/share/ca-certificates``, or ``FACTORY_CA_BUNDLE``) reach the build as the ``ca`` secret,
never a layer.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from images.engine import (
    IMAGES,
    REPO_ROOT,
    ContainerError,
    extra_ca_bundle,
    find_engine,
    image_exists,
    image_ref,
    image_size,
    image_tag,
)

CONTAINERFILE = REPO_ROOT / "images" / "Containerfile"
BASE_IMAGE = "docker.io/library/debian:bookworm-slim"  # the Containerfile's BASE_IMAGE default
LOCAL_BASE = "localhost/factory-debian:bookworm"  # podman without a registry: made by debootstrap
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SOURCES = (
    f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE} main\n"
    f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE}-updates main\n"
    f"deb http://deb.debian.org/debian-security {DEBIAN_SUITE}-security main\n"
)
# What Debian's slim image leaves out of every later package install too.
DPKG_SLIM = (
    "path-exclude /usr/share/doc/*\n"
    "path-include /usr/share/doc/*/copyright\n"
    "path-exclude /usr/share/man/*\n"
    "path-exclude /usr/share/info/*\n"
    "path-exclude /usr/share/locale/*\n"
    "path-include /usr/share/locale/locale.alias\n"
)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NO_CACHE_ENV = "IMAGE_NO_CACHE"
# Podman's settings on machines like CI's: ulimits the sandbox allows (podman's defaults are higher
# than a container there may set), and runc as the runtime where the default one cannot run.
ULIMITS = {("containers", "default_ulimits"): '["nofile=20000:20000", "nproc=32768:32768"]'}
RUNC = {("engine", "runtime"): '"runc"'}
PODMAN_SETTINGS = {**ULIMITS, **RUNC}
PROBE_TIMEOUT = 120.0


@dataclass(frozen=True)
class Built:
    ref: str
    size: int  # bytes
    seconds: float


def podman_conf_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where podman reads its settings: ``CONTAINERS_CONF``, else the system's (root) or the user's."""
    env = os.environ if environ is None else environ
    if env.get("CONTAINERS_CONF"):
        return Path(env["CONTAINERS_CONF"])
    if os.geteuid() == 0:
        return Path("/etc/containers/containers.conf")
    config = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "containers" / "containers.conf"


def with_podman_settings(text: str, settings: Mapping[tuple[str, str], str] = PODMAN_SETTINGS) -> str:
    """``text`` (a containers.conf) with each of ``settings`` added to its table where not set at all.

    A value already set is the machine owner's choice and is kept; the file is edited as text so its
    comments and layout survive.
    """
    current = tomllib.loads(text)
    lines = text.splitlines()
    for (table, key), value in settings.items():
        section = current.get(table, {})
        if isinstance(section, dict) and key in section:
            continue
        header = re.compile(rf"^\s*\[{re.escape(table)}\]\s*(#.*)?$")
        at = next((i for i, line in enumerate(lines) if header.match(line)), None)
        if at is None:
            if lines and lines[-1].strip():
                lines.append("")
            lines += [f"[{table}]", f"{key} = {value}"]
        else:
            lines.insert(at + 1, f"{key} = {value}")
    result = "\n".join(lines) + "\n"
    tomllib.loads(result)  # still valid TOML, or this raises before anything is written
    return result


def ensure_podman_conf(
    path: Path, settings: Mapping[tuple[str, str], str], say: Callable[[str], None]
) -> None:
    """Add ``settings`` to podman's ``path`` where not set (idempotent; the owner's values kept)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    wanted = with_podman_settings(text, settings)
    if wanted != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted, encoding="utf-8")
        say(f"podman settings ({', '.join(key for _, key in settings)}) added to {path}")


def podman_runs(image: str) -> subprocess.CompletedProcess[str]:
    """Whether podman can run a container here: ``true`` in ``image``, offline."""
    try:
        return subprocess.run(
            ["podman", "run", "--rm", "--pull=never", "--network=none", image, "true"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess([], 124, "", f"no answer in {PROBE_TIMEOUT:.0f}s")


def ensure_podman_runs(path: Path, image: str, say: Callable[[str], None]) -> None:
    """Podman's default runtime if it runs a container here, else runc (written to ``path``)."""
    probe = podman_runs(image)
    if probe.returncode != 0 and shutil.which("runc") is not None:
        say(f"podman cannot run a container with its default runtime: {_last_line(probe.stderr)}")
        ensure_podman_conf(path, RUNC, say)
        probe = podman_runs(image)
    if probe.returncode != 0:
        raise ContainerError(f"podman cannot run a container here: {_last_line(probe.stderr)}")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def ca_bundle(workdir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The file handed to the build as the ``ca`` secret: extra CAs to trust besides Debian's.

    ``FACTORY_CA_BUNDLE`` if set; else this machine's bundle when it trusts extra CAs of its own
    (``/usr/local/share/ca-certificates``); else an empty file (the build then trusts Debian's roots).
    """
    bundle = extra_ca_bundle(environ)
    if bundle is not None:
        return bundle
    empty = workdir / "no-extra-ca.pem"
    empty.write_bytes(b"")
    return empty


def build_argv(
    engine: str,
    name: str,
    tag: str,
    ca: Path,
    base: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """The engine's build command for one image (no side effects); ``base`` overrides the
    Containerfile's ``BASE_IMAGE``."""
    env = os.environ if environ is None else environ
    argv = [
        engine,
        "build",
        "--file",
        str(CONTAINERFILE),
        "--target",
        name,
        "--tag",
        image_ref(name, tag),
        "--build-arg",
        f"IMAGE_TAG={tag}",
        "--secret",
        f"id=ca,src={ca}",
    ]
    if env.get("UV_VERSION"):
        argv += ["--build-arg", f"UV_VERSION={env['UV_VERSION']}"]
    if base is not None:
        argv += ["--build-arg", f"BASE_IMAGE={base}"]
    if env.get(NO_CACHE_ENV) == "1":
        argv.append("--no-cache")
    if engine == "podman":
        argv += ["--pull=never", "--layers"]  # the base is local (see podman_base); cache every step
    return [*argv, str(REPO_ROOT)]


def podman_base(say: Callable[[str], None]) -> str | None:
    """The base podman builds on: None for the Containerfile's own (Docker's Debian, if pulled here
    already), else ``LOCAL_BASE``, made now if missing."""
    if image_exists("podman", BASE_IMAGE):
        return None
    if not image_exists("podman", LOCAL_BASE):
        make_base(say)
    return LOCAL_BASE


def make_base(say: Callable[[str], None]) -> None:
    """Podman without a registry: debootstrap a minimal bookworm and import it as ``LOCAL_BASE``."""
    missing = [tool for tool in ("debootstrap", "tar") if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        raise ContainerError(
            f"the base image {LOCAL_BASE} is not here and cannot be made: debootstrap needs root "
            f"and {' and '.join(missing) or 'debootstrap'} (apt-get install debootstrap); or pull "
            f"{BASE_IMAGE}"
        )
    say(f"== images: base {LOCAL_BASE} from debootstrap --variant=minbase {DEBIAN_SUITE} ...")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="factory-rootfs-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(root), DEBIAN_MIRROR],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        slim_rootfs(root)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            [
                "podman",
                "import",
                "--quiet",
                "--change",
                f"ENV PATH={DEFAULT_PATH}",
                "--change",
                'CMD ["bash"]',
                "-",
                LOCAL_BASE,
            ],
            stdin=tar.stdout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if tar.wait() != 0:
            raise ContainerError("tar of the debootstrapped root failed")
    say(f"== images: base ready ({time.monotonic() - started:.1f}s)")


def slim_rootfs(root: Path) -> None:
    """Trim a debootstrapped root like Debian's slim image: no package caches, docs, man pages or
    locales (now or in later installs), and the updates and security suites in its sources."""
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (root / cache).glob("*"):
            if item.is_file():
                item.unlink()
    for doc in (root / "usr/share/doc").glob("*/*"):
        if doc.name != "copyright":
            _remove(doc)
    for tree in ("usr/share/man", "usr/share/info"):
        shutil.rmtree(root / tree, ignore_errors=True)
        (root / tree).mkdir(parents=True)
    for locale in (root / "usr/share/locale").glob("*"):
        if locale.name != "locale.alias":
            _remove(locale)
    (root / "etc/apt/sources.list").write_text(DEBIAN_SOURCES, encoding="utf-8")
    (root / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/dpkg/dpkg.cfg.d/slim").write_text(DPKG_SLIM, encoding="utf-8")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def build(names: Sequence[str], engine: str, tag: str, say: Callable[[str], None]) -> list[Built]:
    """Build ``names`` in order with ``engine``; the engine's output is the progress."""
    base = None
    say(f"== images: {engine}, storage driver {storage_driver(engine)}")
    if engine == "podman":
        conf = podman_conf_path()
        ensure_podman_conf(conf, ULIMITS, say)
        base = podman_base(say)
        ensure_podman_runs(conf, base or BASE_IMAGE, say)
        say(f"== images: base {base or BASE_IMAGE}")
    built = []
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}  # build secrets need BuildKit (docker's default now)
    with tempfile.TemporaryDirectory(prefix="factory-images-") as tmp:
        ca = ca_bundle(Path(tmp))
        for n, name in enumerate(names, 1):
            ref = image_ref(name, tag)
            say(f"== images: [{n}/{len(names)}] {ref} ({engine}) ...")
            started = time.monotonic()
            done = subprocess.run(build_argv(engine, name, tag, ca, base), env=env)
            if done.returncode != 0:
                raise ContainerError(f"building {ref} failed ({engine} exited {done.returncode})")
            seconds = time.monotonic() - started
            built.append(Built(ref, image_size(engine, ref), round(seconds, 1)))
            say(f"== images: {ref} built in {seconds:.1f}s")
    return built


def storage_driver(engine: str) -> str:
    """The engine's storage driver (overlay, vfs, ...): vfs copies every layer, slow and large."""
    template = "{{.Store.GraphDriverName}}" if engine == "podman" else "{{.Driver}}"
    out = subprocess.run(
        [engine, "info", "--format", template], capture_output=True, text=True, timeout=PROBE_TIMEOUT
    )
    return out.stdout.strip() or f"unknown ({_last_line(out.stderr)})"


def size_table(built: Sequence[Built]) -> list[str]:
    """The closing table: each image, its size (MB, as the engines print them) and build time."""
    width = max([len("image"), *(len(b.ref) for b in built)])
    lines = [f"{'image':<{width}}  {'size':>9}  {'build':>7}"]
    for b in built:
        lines.append(f"{b.ref:<{width}}  {b.size / 1e6:>6.0f} MB  {b.seconds:>6.1f}s")
    return lines


def parse_names(values: Sequence[str]) -> list[str]:
    """Image names from arguments (space- or comma-separated; none means all), checked."""
    names = [n for value in values for n in re.split(r"[,\s]+", value) if n] or list(IMAGES)
    unknown = [n for n in names if n not in IMAGES]
    if unknown:
        raise ContainerError(f"unknown image {', '.join(unknown)} (one of: {', '.join(IMAGES)})")
    return list(dict.fromkeys(names))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make images", description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", help=f"some of {', '.join(IMAGES)} (default: all)")
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        names = parse_names(args.images)
        engine, tag = find_engine(), image_tag()
        started = time.monotonic()
        built = build(names, engine, tag, say)
    except ContainerError as exc:
        print(f"make images: {exc}", file=sys.stderr)
        return 1
    say(f"\n== images: {len(built)} built with {engine} in {time.monotonic() - started:.1f}s")
    for line in size_table(built):
        say(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
