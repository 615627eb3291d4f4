#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, idempotently:
#   - Prometheus (with promtool) and Alertmanager (with amtool) from Debian's packages;
#   - a Python venv at .venv with tests/requirements.txt (moto in server mode, kubectl and the
#     Kubernetes schemas, cfn-lint, python-hcl2, ...).
# Prints the environment the tests read (ECR_TEST_PYTHON) when done.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test-deps: installing ${need_apt[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

venv=.venv
stamp="$venv/.requirements.sha256"
want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "test-deps: building $venv from tests/requirements.txt" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -c 'import moto, boto3, cfnlint, hcl2, kubernetes_validate, cloudcoil.models.prometheus_operator' >/dev/null
"$venv/bin/kubectl" version --client >/dev/null
echo "test-deps: ok (promtool $(promtool --version 2>&1 | head -1 | awk '{print $3}'), moto $("$venv/bin/python" -c 'import moto; print(moto.__version__)'))" >&2
