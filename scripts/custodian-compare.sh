#!/usr/bin/env bash
# Side by side in one run: the release exporter's `scan --once` and Cloud Custodian's
# `aws.ecr` resource (a `cross-account` filter and a `tag:owner: absent` value filter) on
# the same fast AWS fake (examples/fake_aws): one account x 2 regions x REPOS repositories,
# LATENCY_MS added to every call, no throttling. Prints wall time and calls per operation
# for both (the fake counts every request), and checks that both flag the same
# repositories (exposed and without an owner tag). Figures only: nothing is asserted.
#
# The estate has no unreadable repositories: Custodian's cross-account filter lets an
# AccessDenied from GetRepositoryPolicy abort the whole policy, which would compare nothing.
# Custodian lives in its own venv (.venv-c7n, gitignored), pinned in
# scripts/requirements-c7n.txt. Not part of `make test`.
#
# Usage: scripts/custodian-compare.sh
#        REPOS=200 SKIP_BUILD=1 BUILD_DIR=target/debug scripts/custodian-compare.sh (a quick try)
set -euo pipefail

cd "$(dirname "$0")/.."
REPOS=${REPOS:-2000}
LATENCY_MS=${LATENCY_MS:-30}
TARGET=${CARGO_TARGET_DIR:-target}
VENV=${C7N_VENV:-.venv-c7n}
REGION_A=us-east-1
REGION_B=eu-west-1

if [[ ! -x "$VENV/bin/custodian" ]]; then
    echo "installing Cloud Custodian into $VENV ..." >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet -r scripts/requirements-c7n.txt
fi
if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build --release --locked --bin ecr-exposure-exporter --example fake_aws
fi
BUILD_DIR=${BUILD_DIR:-$TARGET/release}
BIN=$BUILD_DIR/ecr-exposure-exporter
FAKE=$BUILD_DIR/examples/fake_aws

tmp=$(mktemp -d)
fake_pid=
cleanup() {
    if [[ -n "$fake_pid" ]]; then
        kill "$fake_pid" 2>/dev/null || true
        wait "$fake_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

"$FAKE" --accounts 1 --region-names "$REGION_A,$REGION_B" --repos "$REPOS" \
    --unreadable 0 --latency-ms "$LATENCY_MS" >"$tmp/fake.out" &
fake_pid=$!
port=
for _ in $(seq 100); do
    port=$(awk '/^PORT /{print $2}' "$tmp/fake.out" 2>/dev/null || true)
    [[ -n "$port" ]] && break
    sleep 0.1
done
[[ -n "$port" ]] || { echo "the fake did not start" >&2; exit 1; }
EP=http://127.0.0.1:$port

run_env=(env -i "PATH=$PATH" "HOME=$tmp" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
    AWS_REGION=$REGION_A AWS_DEFAULT_REGION=$REGION_A AWS_EC2_METADATA_DISABLED=true
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null "AWS_ENDPOINT_URL=$EP")

# The exporter at its defaults (aws.max_concurrency 32, 8 per target), the ambient account.
cat >"$tmp/config.yaml" <<EOF
aws:
  endpoint_url: $EP
  region: $REGION_A
accounts:
  discovery: current
EOF

cat >"$tmp/policy.yml" <<'EOF'
policies:
  - name: ecr-exposed-unowned
    resource: aws.ecr
    filters:
      - type: cross-account
      - "tag:owner": absent
EOF

echo "estate: 1 account x 2 regions ($REGION_A, $REGION_B) x $REPOS repositories, $LATENCY_MS ms per call"
echo "$("$BIN" --version), custodian $("$VENV/bin/custodian" version 2>/dev/null | tail -1)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

curl -fsS -X POST "$EP/reset" >/dev/null
start=$(date +%s.%N)
rc=0
"${run_env[@]}" "$BIN" scan --once --format json --config "$tmp/config.yaml" \
    >"$tmp/ours.json" 2>"$tmp/ours.err" || rc=$?
end=$(date +%s.%N)
echo "exporter exit $rc"
curl -fsS "$EP/counters" >"$tmp/ours.counters.json"
echo "$start $end" >"$tmp/ours.time"

curl -fsS -X POST "$EP/reset" >/dev/null
start=$(date +%s.%N)
rc=0
"${run_env[@]}" "$VENV/bin/custodian" run --cache-period 0 -s "$tmp/c7n" \
    -r "$REGION_A" -r "$REGION_B" "$tmp/policy.yml" >"$tmp/c7n.log" 2>&1 || rc=$?
end=$(date +%s.%N)
echo "custodian exit $rc"
[[ $rc -eq 0 ]] || tail -20 "$tmp/c7n.log"
curl -fsS "$EP/counters" >"$tmp/c7n.counters.json"
echo "$start $end" >"$tmp/c7n.time"

python3 - "$tmp" <<'PY'
import glob, json, sys

tmp = sys.argv[1]

def wall(name):
    a, b = open(f"{tmp}/{name}.time").read().split()
    return float(b) - float(a)

ours = set()
for line in open(f"{tmp}/ours.json"):
    if not line.strip():
        continue
    r = json.loads(line)
    if r["kind"] == "repository" and (r.get("public") or r.get("cross_account")) \
            and "owner" in r.get("missing_tags", []):
        ours.add((r["region"], r["repository"]))
theirs = set()
for path in glob.glob(f"{tmp}/c7n/**/resources.json", recursive=True):
    for r in json.load(open(path)):
        theirs.add((r["repositoryArn"].split(":")[3], r["repositoryName"]))

cal = {t: json.load(open(f"{tmp}/{t}.counters.json"))["calls"] for t in ("ours", "c7n")}
w = {t: wall(t) for t in ("ours", "c7n")}
print()
print("| | ecr-exposure-exporter | Cloud Custodian |")
print("|---|---|---|")
print(f"| wall time | {w['ours']:.1f} s | {w['c7n']:.1f} s |")
for op in sorted(set(cal["ours"]) | set(cal["c7n"])):
    print(f"| {op} | {cal['ours'].get(op, 0)} | {cal['c7n'].get(op, 0)} |")
print(f"| calls in all | {sum(cal['ours'].values())} | {sum(cal['c7n'].values())} |")
print(f"| exposed without owner tag | {len(ours)} | {len(theirs)} |")
print()
print(f"speed-up: {w['c7n'] / w['ours']:.1f}x; same repositories flagged: {ours == theirs}"
      + ("" if ours == theirs else f" (only ours: {sorted(ours - theirs)[:5]}, only custodian: {sorted(theirs - ours)[:5]})"))
PY
