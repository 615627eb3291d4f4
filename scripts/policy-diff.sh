#!/usr/bin/env bash
# Differential check of the policy engine: the same inputs through an old version of the crate
# (default: dfd74e4, the engine before the issue-13 rewrite) and through a working tree (default:
# this checkout), compared result by result (verdict, grants, explanations, notes, error code,
# path and message). Prints the number of analyses compared and every difference.
#
#   scripts/policy-diff.sh [NEW_TREE]
#   env: OLD_REV (dfd74e4), GENERATE (40000 generated policies), SEED (1),
#        POLICY_DIFF_CACHE (/tmp/policy-diff: old tree, its target dir, outputs),
#        OLD_TARGET_DIR (cargo target dir for the old tree; default inside the cache)
#
# Inputs: fuzz/seeds, fuzz/*.json, tests/policy_cases/*.json, fuzz/corpus/policy (when present),
# the table cases of tests/policy_cases.rs (dumped from the old tree via POLICY_SEEDS_DIR) and the
# generated policies of examples/policy_dump.rs; each against 4 subjects x 2 trust zones.
# Exit 0 when there is no difference, 1 otherwise.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
new="$(cd "${1:-$repo}" && pwd)"
old_rev="${OLD_REV:-dfd74e4}"
cache="${POLICY_DIFF_CACHE:-/tmp/policy-diff}"
generate="${GENERATE:-40000}"
seed="${SEED:-1}"
old="$cache/$old_rev"
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
if [ ! -d "$old/src" ]; then
  mkdir -p "$old"
  git -C "$repo" archive "$old_rev" | tar -x -C "$old"
fi
mkdir -p "$old/examples"
cp "$new/examples/policy_dump.rs" "$old/examples/policy_dump.rs"
old_target="${OLD_TARGET_DIR:-$cache/target}"
# The old side's binary is kept per version of the dump source, so its target dir can go.
dump_sum="$(sha256sum "$new/examples/policy_dump.rs" | cut -c1-16)"
old_bin="$cache/policy_dump-$old_rev-$dump_sum"
if [ ! -x "$old_bin" ]; then
  echo "policy-diff: building the dump at $old_rev" >&2
  (cd "$old" && CARGO_TARGET_DIR="$old_target" cargo build --quiet --example policy_dump)
  cp "$old_target/debug/examples/policy_dump" "$old_bin"
fi
table="$cache/table-$old_rev"
if [ ! -d "$table" ]; then
  (cd "$old" && POLICY_SEEDS_DIR="$table.tmp" CARGO_TARGET_DIR="$old_target" \
    cargo test --quiet --test policy_cases dump_policies_as_fuzz_seeds_when_asked -- --include-ignored >/dev/null)
  mv "$table.tmp" "$table"
fi
flock -u 9
# Inputs are named relative to the new tree, so runs from different trees compare alike.
cd "$new"
inputs=(fuzz/seeds tests/policy_cases "$table")
for f in fuzz/*.json; do [ -e "$f" ] && inputs+=("$f"); done
[ -d fuzz/corpus/policy ] && inputs+=(fuzz/corpus/policy)
out_old="$(mktemp "$cache/old.XXXXXX")"
"$old_bin" --generate "$generate" --seed "$seed" "${inputs[@]}" >"$out_old"
echo "policy-diff: building the dump in $new" >&2
new_target="${CARGO_TARGET_DIR:-$new/target}"
(cd "$new" && CARGO_TARGET_DIR="$new_target" cargo build --quiet --example policy_dump)
out_new="$(mktemp "$cache/new.XXXXXX")"
"$new_target/debug/examples/policy_dump" --generate "$generate" --seed "$seed" "${inputs[@]}" >"$out_new"
report="$cache/diff-$(date +%Y%m%dT%H%M%S)-$$.txt"
status=0
python3 - "$out_old" "$out_new" "$report" <<'PY' || status=$?
import json, sys
old_path, new_path, report = sys.argv[1:4]
def load(path):
    rows = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, result = line.rstrip("\n").rpartition("\t")
            rows[key] = result
    return rows
old, new = load(old_path), load(new_path)
missing = sorted(set(old) - set(new))
extra = sorted(set(new) - set(old))
diffs = [k for k in old if k in new and old[k] != new[k]]
def fields(a, b, prefix=""):
    """Yield (path, old, new) for the leaves that differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            yield from fields(a.get(k), b.get(k), f"{prefix}.{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from fields(x, y, f"{prefix}[{i}]")
    elif a != b:
        yield prefix or ".", a, b
with open(report, "w", encoding="utf-8") as out:
    for k in diffs:
        out.write(f"== {k}\n")
        for path, a, b in fields(json.loads(old[k]), json.loads(new[k])):
            out.write(f"  {path}\n    old: {json.dumps(a)}\n    new: {json.dumps(b)}\n")
    for k in missing:
        out.write(f"== {k}: missing in new\n")
    for k in extra:
        out.write(f"== {k}: only in new\n")
print(f"policy-diff: {len(old)} analyses compared, {len(diffs)} differ, "
      f"{len(missing)} missing, {len(extra)} extra; report: {report}")
with open(report, encoding="utf-8") as f:
    head = f.read(6000)
if head:
    print(head)
sys.exit(1 if diffs or missing or extra else 0)
PY
rm -f "$out_old" "$out_new"
exit $status
