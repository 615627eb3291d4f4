#!/usr/bin/env bash
# The policy engine and the Python analyzers on the same bytes, in one run (issue 13's speed
# goal: a typical four-statement verdict at least 5x faster than policyuniverse). Runs the
# criterion `verdict` benchmarks (release, pinned to CPU 0 when taskset exists), then
# scripts/python-baseline/run.sh, and prints both side by side with the ratio per policy.
# A report, not a test; takes about 4 minutes. Not part of make test.
set -euo pipefail
cd "$(dirname "$0")/.."
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)

rust_out="$(mktemp)"
py_out="$(mktemp)"
trap 'rm -f "$rust_out" "$py_out"' EXIT

echo "== cargo bench --bench policy (verdict), $(uptime)" >&2
# Built unpinned first (a build error shows here), so the pinned run only measures.
cargo bench --locked --quiet --bench policy --no-run
"${pin[@]}" cargo bench --locked --bench policy -- --warm-up-time 1 --measurement-time 3 \
  '/verdict$' 2>/dev/null | tee "$rust_out" >&2
echo "== scripts/python-baseline/run.sh" >&2
bash scripts/python-baseline/run.sh | tee "$py_out" >&2

python3 - "$rust_out" "$py_out" <<'PY'
import re, sys
rust = {}
name = None
for line in open(sys.argv[1]):
    m = re.match(r"^policy/(\S+)/verdict", line)
    if m:
        name = m.group(1)
    m = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+)", line)
    if m and name:
        value, unit = float(m.group(1)), m.group(2)
        rust[name] = value * {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3}[unit]
        name = None
py = {}
for line in open(sys.argv[2]):
    cols = line.split("|")
    head = cols[0].split()
    if len(cols) >= 5 and head and head[0] in rust:
        # policy bytes stmts | json.loads us /s | policyuniverse us /s | pu+actions us /s | ...
        py[head[0]] = (float(cols[2].split()[0]), float(cols[3].split()[0]))
print()
print(f"{'policy':18} {'engine us':>10} {'policyuniverse us':>18} {'ratio':>6} {'pu+actions us':>14} {'ratio':>6}")
for k, us in rust.items():
    if k in py:
        pu, pua = py[k]
        print(f"{k:18} {us:10.2f} {pu:18.2f} {pu / us:5.1f}x {pua:14.2f} {pua / us:5.1f}x")
PY
