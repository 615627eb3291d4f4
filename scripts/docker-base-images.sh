#!/usr/bin/env bash
# Make the two base images of the Dockerfile locally, for machines that reach a Debian mirror
# but no container registry:
#   local/ecr-exposure-builder:bookworm   Debian bookworm + gcc + ca-certificates + this host's
#                                         Rust toolchain (rustup's, >= 1.85, copied in)
#   local/debian:bookworm-slim            Debian bookworm, minbase variant (the runtime)
# Uses debootstrap (apt-get install debootstrap) and `docker import`. Needs root and a running
# Docker daemon (with no bridge: dockerd --bridge=none --iptables=false).
#
# Usage: scripts/docker-base-images.sh [MIRROR]   (default http://deb.debian.org/debian)
set -euo pipefail

mirror=${1:-http://deb.debian.org/debian}
builder_tag=local/ecr-exposure-builder:bookworm
runtime_tag=local/debian:bookworm-slim

command -v debootstrap >/dev/null || { echo "need debootstrap: apt-get install debootstrap" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "no Docker daemon: start dockerd first" >&2; exit 1; }
sysroot=$(rustc --print sysroot 2>/dev/null) || { echo "need a Rust toolchain (rustup) on the host" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bootstrap() { # dir, extra debootstrap args...
  local dir=$1; shift
  debootstrap --variant=minbase "$@" bookworm "$dir" "$mirror" >"$dir.log" 2>&1 \
    || { echo "debootstrap failed, see the end of the log:" >&2; tail -20 "$dir.log" >&2; exit 1; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
}

echo "docker-base-images: debootstrap runtime and builder (a few minutes)" >&2
bootstrap "$work/runtime" &
runtime_pid=$!
bootstrap "$work/builder" --include=ca-certificates,gcc,libc6-dev,make,pkg-config
wait "$runtime_pid"

echo "docker-base-images: copying the Rust toolchain from $sysroot" >&2
mkdir -p "$work/builder/usr/local/rust"
cp -a "$sysroot"/. "$work/builder/usr/local/rust/"
rm -rf "$work/builder/usr/local/rust/share/doc"

tar -C "$work/runtime" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$runtime_tag" >/dev/null
tar -C "$work/builder" -c . | docker import \
  --change 'ENV PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV CARGO_HOME=/usr/local/cargo' \
  - "$builder_tag" >/dev/null
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^($runtime_tag|$builder_tag) " >&2
echo "docker-base-images: ok" >&2
