#!/usr/bin/env bash
# Build the container image offline and smoke-test it: the container must serve /metrics with
# ecr_exposure_build_info, as a non-root user.
#
# Offline on purpose: no registry is needed. Base images must exist locally (by default those
# that scripts/docker-base-images.sh makes with debootstrap + docker import; override with
# BUILDER_IMAGE / RUNTIME_IMAGE), and the crates are vendored on the host (`cargo vendor`) into a
# scratch build context, because cargo inside the build cannot reach crates.io.
# The container runs with host networking on 127.0.0.1 and dummy AWS settings that point at a
# closed local port, so nothing reaches AWS.
#
# Usage: scripts/docker-build-and-smoke.sh [IMAGE_TAG]   (default ecr-exposure-exporter:dev)
# Env:   BUILDER_IMAGE, RUNTIME_IMAGE, PORT (default 19847), KEEP_CONTEXT=1 to keep the context.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-ecr-exposure-exporter:dev}
builder=${BUILDER_IMAGE:-local/ecr-exposure-builder:bookworm}
runtime=${RUNTIME_IMAGE:-local/debian:bookworm-slim}
port=${PORT:-19847}
say() { echo "docker-build-and-smoke: $*" >&2; }

docker info >/dev/null 2>&1 || { say "no Docker daemon (try: dockerd --bridge=none --iptables=false &)"; exit 1; }
for image in "$builder" "$runtime"; do
  docker image inspect "$image" >/dev/null 2>&1 \
    || { say "base image $image is missing: run scripts/docker-base-images.sh (or set BUILDER_IMAGE/RUNTIME_IMAGE)"; exit 1; }
done

# Scratch context: the tracked and untracked-but-not-ignored files, minus .dockerignore's.
context=$(mktemp -d)
container=""
cleanup() {
  [ -n "$container" ] && docker rm -f "$container" >/dev/null 2>&1 || true
  [ "${KEEP_CONTEXT:-0}" = 1 ] && say "context kept in $context" || rm -rf "$context"
}
trap cleanup EXIT
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' \
  | tar --null -T - -c | tar -C "$context" -x
say "vendoring crates into the build context"
mkdir -p "$context/.cargo"
cargo vendor --locked --versioned-dirs --manifest-path "$context/Cargo.toml" "$context/vendor" \
  | sed "s#$context/vendor#vendor#" > "$context/.cargo/config.toml"

revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
say "building $tag (FROM $builder, $runtime); a release build takes minutes"
start=$(date +%s)
docker build --network none \
  --build-arg BUILDER_IMAGE="$builder" \
  --build-arg RUNTIME_IMAGE="$runtime" \
  --build-arg CARGO_BUILD_FLAGS="--locked --offline" \
  --build-arg REVISION="$revision" \
  --build-arg VERSION="$version" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$tag" "$context"
say "built in $(( $(date +%s) - start )) s: $(docker image inspect -f '{{.Size}}' "$tag") bytes"

say "smoke test on 127.0.0.1:$port"
container=$(docker run -d --network host \
  -e AWS_EC2_METADATA_DISABLED=true \
  -e AWS_ACCESS_KEY_ID=test -e AWS_SECRET_ACCESS_KEY=test -e AWS_REGION=us-east-1 \
  -e AWS_ENDPOINT_URL=http://127.0.0.1:9 \
  "$tag" --web.listen-address="127.0.0.1:$port")
metrics=""
for _ in $(seq 1 60); do
  if metrics=$(curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null) && grep -q '^ecr_exposure_build_info' <<<"$metrics"; then
    break
  fi
  metrics=""
  sleep 1
done
if [ -z "$metrics" ]; then
  say "no /metrics with ecr_exposure_build_info after 60 s; container log:"
  docker logs "$container" >&2 || true
  exit 1
fi
grep '^ecr_exposure_build_info' <<<"$metrics" >&2
user=$(docker inspect -f '{{.Config.User}}' "$tag")
[ "${user%%:*}" != "0" ] && [ -n "$user" ] || { say "image runs as root ($user)"; exit 1; }
say "ok: /metrics served by $tag as user $user"
