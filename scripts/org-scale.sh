#!/usr/bin/env bash
# Full-organization scale run: the release exporter's `scan --once` against the fast AWS fake
# (examples/fake_aws) holding ACCOUNTS x REGIONS x REPOS repositories, with LATENCY_MS added
# to every call and THROTTLE of the calls throttled. For each shard count in SHARDS the
# shards run side by side (`--shard i --total-shards M`, i = 0..M-1). Prints wall time, peak
# RSS per shard (/usr/bin/time -v), calls per operation against the lower bound the fake
# computes for its estate (examples/fake_aws/fake/bound.rs), and checks that the shards'
# repositories are disjoint and add up to the estate. Figures only: nothing is asserted.
#
# Not part of `make test` (a release build and minutes of run time).
#
# Usage: scripts/org-scale.sh                       (from anywhere; defaults below)
#        ACCOUNTS=100 SHARDS="1 2" scripts/org-scale.sh
#        SKIP_BUILD=1 scripts/org-scale.sh          (reuse the release binaries)
#        SKIP_BUILD=1 BUILD_DIR=target/debug ACCOUNTS=5 scripts/org-scale.sh   (a quick try)
set -euo pipefail

cd "$(dirname "$0")/.."
ACCOUNTS=${ACCOUNTS:-1000}
REGIONS=${REGIONS:-4}
REPOS=${REPOS:-25}
LATENCY_MS=${LATENCY_MS:-30}
THROTTLE=${THROTTLE:-0.01}
SHARDS=${SHARDS:-"1 2 4"}
FAKE_THREADS=${FAKE_THREADS:-1}
TARGET=${CARGO_TARGET_DIR:-target}

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

"$FAKE" --accounts "$ACCOUNTS" --regions "$REGIONS" --repos "$REPOS" \
    --latency-ms "$LATENCY_MS" --throttle-rate "$THROTTLE" --threads "$FAKE_THREADS" \
    >"$tmp/fake.out" &
fake_pid=$!
port=
for _ in $(seq 100); do
    port=$(awk '/^PORT /{print $2}' "$tmp/fake.out" 2>/dev/null || true)
    [[ -n "$port" ]] && break
    sleep 0.1
done
[[ -n "$port" ]] || { echo "the fake did not start" >&2; exit 1; }
EP=http://127.0.0.1:$port

# Everything at its default except where AWS is: the default aws.max_concurrency (32),
# per-target concurrency (8), retries (5 attempts, 1 s initial backoff) and timeouts.
cat >"$tmp/config.yaml" <<EOF
aws:
  endpoint_url: $EP
  region: us-east-1
accounts:
  discovery: organizations
EOF

# A clean environment: dummy credentials (the fake's management account), nothing else.
run_env=(env -i "PATH=$PATH" "HOME=$tmp" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
    AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null
    AWS_SHARED_CREDENTIALS_FILE=/dev/null "AWS_ENDPOINT_URL=$EP")
# EXPORTER_ENV="MALLOC_ARENA_MAX=2 ..." adds variables to the exporters' environment.
read -r -a extra_env <<<"${EXPORTER_ENV:-}"
run_env+=("${extra_env[@]}")

echo "estate: $ACCOUNTS accounts x $REGIONS regions x $REPOS repositories," \
    "$LATENCY_MS ms per call, throttle rate $THROTTLE; $("$BIN" --version 2>/dev/null || echo exporter)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

for m in $SHARDS; do
    if ((m > 1)) && ! "$BIN" scan --help 2>/dev/null | grep -q -- '--total-shards'; then
        echo
        echo "== $m shards: skipped: this exporter build has no --shard/--total-shards flags yet"
        continue
    fi
    curl -fsS -X POST "$EP/reset" >/dev/null
    start=$(date +%s.%N)
    pids=()
    for ((i = 0; i < m; i++)); do
        args=(scan --once --format json --config "$tmp/config.yaml")
        ((m > 1)) && args+=(--shard "$i" --total-shards "$m")
        "${run_env[@]}" /usr/bin/time -v -o "$tmp/time.$m.$i" "$BIN" "${args[@]}" \
            >"$tmp/out.$m.$i.json" 2>"$tmp/err.$m.$i" &
        pids+=($!)
    done
    codes=()
    for p in "${pids[@]}"; do
        rc=0
        wait "$p" || rc=$?
        codes+=("$rc")
    done
    end=$(date +%s.%N)
    curl -fsS "$EP/counters" >"$tmp/counters.$m.json"
    curl -fsS "$EP/estate?shards=$m" >"$tmp/estate.$m.json"
    echo
    echo "== $m shard(s), side by side"
    python3 - "$tmp" "$m" "$start" "$end" "${codes[@]}" <<'PY'
import json, re, sys

tmp, m, start, end, *codes = sys.argv[1:]
m = int(m)
wall = float(end) - float(start)
counters = json.load(open(f"{tmp}/counters.{m}.json"))
estate = json.load(open(f"{tmp}/estate.{m}.json"))
seen, dupes, exposed, failed_targets = set(), 0, 0, 0
print(f"wall time {wall:.1f} s for {estate['repositories']} repositories over {estate['targets']} targets")
print("| shard | exit | wall s | peak RSS MiB | repositories | exposed | failed targets |")
print("|---|---|---|---|---|---|---|")
for i in range(m):
    timing = open(f"{tmp}/time.{m}.{i}").read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing).group(1))
    el = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", timing).group(1)
    secs = 0.0
    for part in el.split(":"):
        secs = secs * 60 + float(part)
    repos = mine_exposed = mine_failed = 0
    for line in open(f"{tmp}/out.{m}.{i}.json"):
        if not line.strip():
            continue
        r = json.loads(line)
        if r["kind"] == "repository":
            repos += 1
            key = (r["account_id"], r["region"], r["repository"])
            dupes += key in seen
            seen.add(key)
            mine_exposed += bool(r.get("public") or r.get("cross_account"))
        elif r["kind"] == "target" and r["status"] != "ok":
            mine_failed += 1
    exposed += mine_exposed
    failed_targets += mine_failed
    print(f"| {i} | {codes[i]} | {secs:.1f} | {rss / 1024:.0f} | {repos} | {mine_exposed} | {mine_failed} |")
    err = open(f"{tmp}/err.{m}.{i}").read().strip().splitlines()
    warn = [l for l in err if "WARN" in l or "ERROR" in l]
    if warn:
        print(f"  shard {i}: {len(warn)} warning/error log lines, first: {warn[0][:200]}")
want = estate["cases"]["public"] + estate["cases"]["cross_account"]
print(f"union: {len(seen)} distinct repositories (estate {estate['repositories']}), {dupes} reported twice; "
      f"{exposed} exposed (estate: {want} public or cross-account); {failed_targets} failed targets")
print("| operation | calls | throttled | lower bound | calls / bound |")
print("|---|---|---|---|---|")
calls, throttled, bound = counters["calls"], counters["throttled"], estate["lower_bound"]
for op in sorted(set(calls) | set(bound)):
    b = bound.get(op, 0)
    ratio = f"{calls.get(op, 0) / b:.3f}" if b else "-"
    print(f"| {op} | {calls.get(op, 0)} | {throttled.get(op, 0)} | {b} | {ratio} |")
tc, tb = sum(calls.values()), sum(bound.values())
print(f"| total | {tc} | {sum(throttled.values())} | {tb} | {tc / tb:.3f} |")
PY
done
echo
echo "fake: peak RSS $(awk '/VmHWM/{print $2, $3}' "/proc/$fake_pid/status"), $(awk '/^Threads/{print $2}' "/proc/$fake_pid/status") threads"
