#!/usr/bin/env bash
# Times the Python policy analyzers (policyuniverse, parliament) on benches/policy.rs's
# policies; see README.md beside this file. Not part of make test.
# Usage: scripts/python-baseline/run.sh [bench.py options]   (from anywhere)
set -euo pipefail

cd "$(dirname "$0")/../.."
HERE=scripts/python-baseline
VENV=target/python-baseline-venv
STAMP="$VENV/.requirements.sha256"

python3 --version >&2
want=$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/python" || "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    echo "installing $HERE/requirements.txt into $VENV ..." >&2
    mkdir -p target
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
    echo "$want" > "$STAMP"
fi

echo "uptime before: $(uptime)"
if command -v taskset >/dev/null; then
    taskset -c 0 "$VENV/bin/python" "$HERE/bench.py" "$@"
else
    echo "taskset not found: running unpinned" >&2
    "$VENV/bin/python" "$HERE/bench.py" "$@"
fi
echo "uptime after: $(uptime)"
