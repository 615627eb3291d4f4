#!/usr/bin/env bash
# make demo: run the exporter against an emulated AWS organization (moto), no AWS account needed.
#
# Starts the moto wrapper on 127.0.0.1, seeds the demo estate (an organization with a few member
# accounts, two regions, public, cross-account, untagged and unreadable-policy repositories),
# starts the exporter against it with a short scan interval and prints where to look.
# Ctrl-C stops both. Installs .venv with scripts/test-deps.sh (moto, boto3) when it is missing.
#
# Environment: DEMO_PORT (default 9847), DEMO_INTERVAL (default 30s), ECR_TEST_PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${ECR_TEST_PYTHON:-$PWD/.venv/bin/python}
if ! "$PY" -c 'import moto, boto3' 2>/dev/null; then
    echo "demo: installing the emulator (scripts/test-deps.sh)..." >&2
    bash scripts/test-deps.sh
    PY=$PWD/.venv/bin/python
fi
PORT=${DEMO_PORT:-9847}
INTERVAL=${DEMO_INTERVAL:-30s}

echo "demo: building the exporter..."
cargo build --locked --quiet --bin ecr-exposure-exporter

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ecr-exposure-demo.XXXXXX")
MOTO_PID=""
EXPORTER_PID=""
cleanup() {
    trap - EXIT
    trap "" INT TERM  # a second Ctrl-C must not cut the cleanup short
    set +e
    if [ -n "$EXPORTER_PID" ]; then kill "$EXPORTER_PID" 2>/dev/null; wait "$EXPORTER_PID" 2>/dev/null; fi
    if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null; wait "$MOTO_PID" 2>/dev/null; fi
    rm -rf "$WORK"
    echo "demo: stopped"
}
trap cleanup EXIT INT TERM

"$PY" tests/support/moto_wrapper.py --port 0 >"$WORK/moto.out" 2>"$WORK/moto.err" &
MOTO_PID=$!
for _ in $(seq 1 100); do
    grep -q '^PORT ' "$WORK/moto.out" 2>/dev/null && break
    sleep 0.1
done
MOTO_PORT=$(sed -n 's/^PORT //p' "$WORK/moto.out")
[ -n "$MOTO_PORT" ] || { echo "demo: the AWS emulator did not start:" >&2; cat "$WORK/moto.err" >&2; exit 1; }
ENDPOINT="http://127.0.0.1:$MOTO_PORT"

echo "demo: seeding the demo organization into the emulator at $ENDPOINT..."
AWS_EC2_METADATA_DISABLED=true "$PY" tests/support/seed.py --endpoint "$ENDPOINT" --scenario demo >"$WORK/manifest.json"

cat >"$WORK/config.yaml" <<YAML
aws:
  endpoint_url: "$ENDPOINT"
  region: us-east-1
  max_attempts: 2
  initial_backoff: 50ms
regions: [us-east-1, eu-west-1]
accounts:
  discovery: organizations
tags:
  required: [owner]
scan:
  interval: $INTERVAL
  jitter: 0s
state:
  path: "$WORK/state.json"
YAML

AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true \
AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    target/debug/ecr-exposure-exporter \
    --config.file "$WORK/config.yaml" \
    --web.listen-address "127.0.0.1:$PORT" &
EXPORTER_PID=$!

cat <<EOF_MSG

  ECR exposure exporter demo (emulated AWS, scanned every $INTERVAL)

  Landing page   http://127.0.0.1:$PORT/
  Metrics        http://127.0.0.1:$PORT/metrics
  Findings       http://127.0.0.1:$PORT/findings          (JSON lines; try ?scope=public)
  Readiness      http://127.0.0.1:$PORT/-/ready           (200 once the first scan completed)

  Try:  curl -s http://127.0.0.1:$PORT/metrics | grep '^ecr_exposure_repository_exposed'
  Config and state: $WORK (removed on exit)

  Press Ctrl-C to stop the exporter and the emulator.

EOF_MSG
wait "$EXPORTER_PID"
