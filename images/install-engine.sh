#!/usr/bin/env bash
# `make images` on a fresh machine: installs podman and what it needs here (runc, rootless helpers,
# debootstrap for a base image without a registry) from apt, unless docker or podman already works.
set -euo pipefail
if { command -v docker >/dev/null && docker info >/dev/null 2>&1; } \
    || { command -v podman >/dev/null && command -v debootstrap >/dev/null && podman info >/dev/null 2>&1; }; then
    exit 0
fi
packages=(podman runc uidmap slirp4netns fuse-overlayfs debootstrap)
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "make images: no working container engine; install podman (${packages[*]}) or start docker" >&2
    exit 1
fi
echo "installing: ${packages[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
