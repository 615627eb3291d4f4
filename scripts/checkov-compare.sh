#!/usr/bin/env bash
# Side by side: checkov's ECR policy check (CKV_AWS_32) and our `check` on the same IaC
# fixtures (tests/fixtures/iac). Prints one Markdown table row per ECR policy resource; the
# findings are written up in docs/iac-comparison.md.
#
# Not part of `make test`: checkov is a large install (about 150 packages) and a slow run.
# checkov lives in its own venv (.venv-checkov, gitignored), pinned in
# scripts/requirements-checkov.txt.
#
# Usage: scripts/checkov-compare.sh            (from the repository root)
set -euo pipefail

cd "$(dirname "$0")/.."
FIXTURES=tests/fixtures/iac
VENV=.venv-checkov

if [[ ! -x "$VENV/bin/checkov" ]]; then
    echo "installing checkov into $VENV ..." >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet -r scripts/requirements-checkov.txt
fi
cargo build --quiet --bin ecr-exposure-exporter
OURS=target/debug/ecr-exposure-exporter

# The trust zone the fixtures are written for.
OUR_FLAGS=(--account 111111111111 --region eu-west-1 --trusted-org o-abcdef1234)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "checkov $("$VENV/bin/checkov" --version), $("$OURS" --version)" >&2
echo
echo "| fixture | resource | checkov CKV_AWS_32 | ecr-exposure-exporter | same gate outcome? |"
echo "|---|---|---|---|---|"
for f in "$FIXTURES"/tf-*.plan.json "$FIXTURES"/cfn-*.json "$FIXTURES"/cfn-*.yaml; do
    name=$(basename "$f")
    case "$name" in
        tf-*) framework=terraform_plan ;;
        *) framework=cloudformation ;;
    esac
    # checkov exits 1 when a check fails; that is a result, not an error. --skip-download and
    # BC_SKIP_MAPPING keep it offline (otherwise it tries to fetch guidelines from its vendor).
    (cd "$FIXTURES" && BC_SKIP_MAPPING=TRUE "../../../$VENV/bin/checkov" -f "$name" \
        --framework "$framework" --check CKV_AWS_32 --skip-download -o json 2>/dev/null) \
        >"$tmp/checkov.json" || true
    "$OURS" check "${OUR_FLAGS[@]}" --format json "$f" >"$tmp/ours.json" 2>"$tmp/ours.err" || true
    python3 - "$name" "$tmp/checkov.json" "$tmp/ours.json" <<'PY'
import json, sys

name, checkov_path, ours_path = sys.argv[1:4]

def load_checkov(path):
    try:
        data = json.load(open(path))
    except (ValueError, OSError):
        return {}
    reports = data if isinstance(data, list) else [data]
    out = {}
    for rep in reports:
        results = rep.get("results", {}) if isinstance(rep, dict) else {}
        for key, verdict in (("passed_checks", "PASSED"), ("failed_checks", "FAILED")):
            for c in results.get(key, []):
                # Terraform: the address; CloudFormation: "AWS::ECR::Repository.LogicalId".
                res = c.get("resource", "")
                out[res.split(".", 1)[1] if res.startswith("AWS::") else res] = verdict
    return out

def ours_verdict(rec):
    if rec.get("error"):
        state = rec.get("policy_state") or ""
        code = rec["error"].get("code", "")
        return ("unknown" if state == "unknown" else "invalid") + f" ({code})"
    if rec.get("public"):
        return f"public, {rec.get('access')}"
    if rec.get("cross_account"):
        return f"cross-account, {rec.get('access')}"
    return "not exposed"

checkov = load_checkov(checkov_path)
ours = []
for line in open(ours_path):
    line = line.strip()
    if line:
        ours.append(json.loads(line))
for rec in ours:
    kind = rec.get("kind", "")
    res = rec.get("resource") or rec.get("source")
    if kind == "repository" and rec.get("policy_state") == "none":
        continue  # a tags-only record: checkov's CKV_AWS_32 has nothing to say about it
    mine = ours_verdict(rec)
    theirs = checkov.get(res, "not checked")
    # Compare gate outcomes at --fail-on public: ours fails on public, unknown and invalid.
    ours_fails = not mine.startswith(("not exposed", "cross-account"))
    if theirs == "not checked":
        same = "**no**" if ours_fails else "not checked"
    elif (theirs == "FAILED") != ours_fails:
        same = "**no**"
    elif mine.startswith("invalid"):
        same = "same exit, other reason"
    elif mine.startswith("cross-account"):
        same = "yes at --fail-on public"
    else:
        same = "yes"
    print(f"| {name} | `{res}` | {theirs} | {mine} | {same} |")
PY
done
