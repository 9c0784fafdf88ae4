#!/usr/bin/env bash
# `make images` on a fresh machine: installs podman and what it needs here (runc, rootless helpers)
# from apt, unless docker or podman already works; debootstrap too, but only when podman has no base
# image to build on yet (neither Docker's Debian nor the debootstrapped localhost/factory-debian).
set -euo pipefail
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    exit 0
fi
has_base() {
    podman image exists localhost/factory-debian:bookworm \
        || podman image exists docker.io/library/debian:bookworm-slim
}
packages=()
if ! { command -v podman >/dev/null && podman info >/dev/null 2>&1; }; then
    packages+=(podman runc uidmap slirp4netns fuse-overlayfs)
fi
if ! command -v debootstrap >/dev/null && { [ ${#packages[@]} -gt 0 ] || ! has_base; }; then
    packages+=(debootstrap)
fi
if [ ${#packages[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "make images: needs ${packages[*]} (apt-get install as root), or a running docker" >&2
    exit 1
fi
echo "installing: ${packages[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
