#!/usr/bin/env bash
# Refresh deny/advisory-db/ (the offline fallback of scripts/lint-deps.sh) from a clone of the
# RustSec advisory database: keeps, for every crate named in the given lock files, the data part
# (TOML front matter: id, package, date, affected and patched versions) of each advisory; the
# prose is replaced by a link to the advisory. The database is CC0-1.0.
#   scripts/advisory-snapshot.sh /path/to/advisory-db Cargo.lock [old/Cargo.lock ...]
set -euo pipefail
db=$1; shift
cd "$(dirname "$0")/.."
out=deny/advisory-db
rm -rf "$out/crates"
mkdir -p "$out/crates"
names=$(grep -h '^name = ' "$@" | sed 's/name = "\(.*\)"/\1/' | sort -u)
count=0
for name in $names; do
  [ -d "$db/crates/$name" ] || continue
  mkdir -p "$out/crates/$name"
  for f in "$db/crates/$name"/*.md; do
    id=$(basename "$f" .md)
    { awk '/^```toml/{on=1} on{print} on&&/^```$/{exit}' "$f"
      printf '\n# %s\n\nSnapshot entry (data only): https://rustsec.org/advisories/%s.html\n' "$id" "$id"
    } > "$out/crates/$name/$id.md"
    count=$((count + 1))
  done
done
rev=$(git -C "$db" log -1 --format='%H %cI' 2>/dev/null || echo unknown)
printf 'advisory-db %s\nadvisories %s\n' "$rev" "$count" > "$out/SOURCE"
echo "advisory-snapshot: $count advisories from $rev" >&2
