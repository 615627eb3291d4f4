#!/usr/bin/env bash
# Dependency advisories (`make lint`, .ci/run): `cargo deny check advisories` on Cargo.lock.
#
# Offline-safe by design, and loud about it:
#   - cargo-deny is installed from crates.io (`cargo install --locked`, pinned, cached in
#     ~/.cargo/bin), which CI reaches;
#   - the RustSec database lives on GitHub, which CI may not reach. When it can be fetched it is
#     used; otherwise the check runs against the committed snapshot deny/advisory-db/ (the data of
#     every advisory for a crate in Cargo.lock when it was taken; deny/README.md) with a WARNING
#     naming the snapshot's date. The snapshot still fails the build on a known advisory
#     (proof in deny/README.md); it cannot know advisories published after it was taken.
# Any advisory that applies fails the script (exit 1); deny.toml lists accepted exceptions.
set -euo pipefail
cd "$(dirname "$0")/.."

want=0.20.2
if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $want"; then
  echo "lint-deps: installing cargo-deny $want from crates.io" >&2
  cargo install --locked --quiet cargo-deny --version "$want"
fi

if timeout 300 cargo deny fetch db >/dev/null 2>&1; then
  echo "lint-deps: RustSec advisory database fetched" >&2
  exec cargo deny --locked --offline check advisories
fi

echo "lint-deps: WARNING: the RustSec advisory database cannot be fetched; checking against the" \
  "committed snapshot deny/advisory-db ($(head -1 deny/advisory-db/SOURCE)); newer advisories" \
  "are NOT checked. Refresh it with scripts/advisory-snapshot.sh." >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# cargo-deny 0.20 keeps the default database in <db-path>/advisory-db-<hash of its URL> and opens
# it as a git repository; an absent or unreadable database is an error, never a pass.
db="$tmp/db/advisory-db-3157b0e258782691"
mkdir -p "$db"
cp -r deny/advisory-db/crates "$db/"
git -C "$db" init -q
git -C "$db" add -A
git -C "$db" -c user.name=lint-deps -c user.email=lint-deps@localhost commit -q -m snapshot
sed "s|^\[advisories\]$|[advisories]\ndb-path = \"$tmp/db\"|" deny.toml > "$tmp/deny.toml"
cargo deny --locked --offline --config "$tmp/deny.toml" check advisories
