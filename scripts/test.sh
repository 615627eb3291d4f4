#!/usr/bin/env bash
# The one test command (`make test`): installs what the tests need, then runs every suite.
# Integration tests start their own servers (moto, Prometheus, Alertmanager) on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-deps.sh
export ECR_TEST_PYTHON="$PWD/.venv/bin/python"
export PATH="$PWD/.venv/bin:$PATH"
cargo test --locked --all-targets --no-fail-fast
