#!/usr/bin/env python3
"""Parse-plus-verdict throughput of popular Python IAM policy analyzers, on the very policy
texts that benches/policy.rs times, to put issue 2's target (>= 350,000 typical verdicts/s on
one core) in context.

Per policy it times, best of --repeats runs of at least --min-time seconds each:
  json.loads(text)                                   Python's parse floor
  policyuniverse  Policy(json.loads(text)).is_internet_accessible()
  pu+actions      the same, then .internet_accessible_actions()
  parliament      analyze_policy_string(text), then its .findings read
and, in a second table, parliament on the same statements with a "Resource" added (see below).

The texts come from benches/policy.rs at run time: SMALL, TYPICAL and TYPICAL_COMPACT are read
out of their raw string literals; large() and the minified TYPICAL (serde_json::to_string of
the parsed Value, so keys sorted, as serde_json without preserve_order writes them) are rebuilt
here. All five are checked against SHA-256 digests of the bytes the Rust code builds; a
mismatch is reported (benches/policy.rs changed: re-verify and update EXPECTED_SHA256).

Run through run.sh (venv, one pinned core). --dump DIR writes the five texts for comparison.
"""

import argparse
import gc
import hashlib
import json
import os
import re
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_RS = ROOT / "benches" / "policy.rs"

# SHA-256 of the bytes benches/policy.rs builds (dumped by a throwaway Rust program made of
# that file's constants and large() verbatim, with serde_json 1.0.154 as in Cargo.lock).
EXPECTED_SHA256 = {
    "small": "bc9c6e44f14bc67cdd2fdeadc34a796e516f21c2b007995a354328ab4d0cb0ae",
    "typical": "61f63b81c0fac96866b33c888ec495e75366bfbd934b550e069ad81656e30aef",
    "typical_minified": "0cceddab5bccae6181a54112bbe2a08ea2b3adf46210175443954f738afc171f",
    "typical_compact": "d0d5e3ecfcf23c1b98d5e9b96f61dd27337001322d65b3f1b6ec275e4a0a289b",
    "large": "167964327a62e42e58d8eacc8dff6bed243bae6df4e1657492562ff5a74960af",
}

REPO_ARN = "arn:aws:ecr:us-east-1:111111111111:repository/app"


def rust_raw_const(source: str, name: str) -> str:
    """The contents of `const NAME: &str = r#"..."#;` (a raw string: bytes taken as they are)."""
    m = re.search(r'\bconst ' + name + r': &str = r#"(.*?)"#;', source, re.S)
    if not m:
        sys.exit(f"bench.py: const {name} not found in {BENCH_RS}")
    return m.group(1)


def large() -> str:
    """benches/policy.rs large(), reproduced: 100 statements."""
    stmts = []
    for i in range(100):
        account = 300_000_000_000 + i * 7919
        k = i % 4
        if k == 0:
            s = (f'{{"Sid":"s{i}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},'
                 f'"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}}')
        elif k == 1:
            s = (f'{{"Sid":"s{i}","Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage",'
                 f'"Condition":{{"StringEquals":{{"aws:PrincipalAccount":"{account}"}}}}}}')
        elif k == 2:
            s = (f'{{"Sid":"s{i}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:role/ci-{i}"}},'
                 f'"Action":"ecr:Put*","Condition":{{"IpAddress":{{"aws:SourceIp":"10.{i % 250}.0.0/16"}}}}}}')
        else:
            s = (f'{{"Sid":"s{i}","Effect":"Deny","Principal":{{"AWS":"{account}"}},'
                 f'"Action":["ecr:Delete*","ecr:Set*"]}}')
        stmts.append(s)
    return '{"Version":"2012-10-17","Statement":[' + ",".join(stmts) + "]}"


def load_policies():
    raw = BENCH_RS.read_bytes()
    if b"\r" in raw:
        sys.exit("bench.py: benches/policy.rs has CR bytes; raw-string extraction assumes LF")
    source = raw.decode("utf-8")
    typical = rust_raw_const(source, "TYPICAL")
    # serde_json::to_string(&Value): compact, keys in BTreeMap (byte) order, no ASCII escaping.
    typical_min = json.dumps(json.loads(typical), separators=(",", ":"), sort_keys=True,
                             ensure_ascii=False)
    return [
        ("small", rust_raw_const(source, "SMALL")),
        ("typical", typical),
        ("typical_minified", typical_min),
        ("typical_compact", rust_raw_const(source, "TYPICAL_COMPACT")),
        ("large", large()),
    ]


def with_resource(text: str) -> str:
    """The same statements with "Resource": the repository ARN, for parliament's full path."""
    doc = json.loads(text)
    for stmt in doc["Statement"]:
        stmt["Resource"] = REPO_ARN
    return json.dumps(doc, separators=(",", ":"))


def time_stmt(stmt: str, text: str, min_time: float, repeats: int) -> float:
    """Best-of-`repeats` seconds per call; each repeat runs >= min_time. GC stays enabled, as
    in a long-running service (timeit would switch it off)."""
    g = dict(GLOBALS, text=text)
    t = timeit.Timer(stmt, setup="gc.enable()", globals=g)
    n, elapsed = t.autorange()  # n calls taking >= 0.2 s
    n = max(n, int(n * min_time / elapsed) + 1)
    return min(t.repeat(repeat=repeats, number=n)) / n


# Imported lazily in main() so --dump needs no venv.
GLOBALS = {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--min-time", type=float, default=2.0, help="seconds per repeat (2.0)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats, best taken (3)")
    ap.add_argument("--dump", metavar="DIR", help="write the five texts to DIR/NAME.json, exit")
    args = ap.parse_args()

    policies = load_policies()
    mismatched = []
    for name, text in policies:
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != EXPECTED_SHA256[name]:
            mismatched.append(name)
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
        for name, text in policies:
            Path(args.dump, f"{name}.json").write_bytes(text.encode("utf-8"))
        print(f"wrote {len(policies)} policies to {args.dump}")
        return
    if mismatched:
        print(f"WARNING: {', '.join(mismatched)} differ from the bytes benches/policy.rs built "
              "when this script was written; re-verify (see EXPECTED_SHA256).")
    else:
        print("policy texts: byte-identical to benches/policy.rs (SHA-256 checked)")

    import parliament
    import policyuniverse  # noqa: F401
    from importlib.metadata import version
    from parliament import analyze_policy_string
    from policyuniverse.policy import Policy

    GLOBALS.update(json=json, Policy=Policy, analyze_policy_string=analyze_policy_string, gc=gc)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"python {sys.version.split()[0]}; policyuniverse {version('policyuniverse')}; "
          f"parliament {parliament.__version__}; CPUs allowed: {cpus}; "
          f"best of {args.repeats} x >= {args.min_time:g} s per case")

    cases = [
        ("json.loads", "json.loads(text)"),
        ("policyuniverse", "Policy(json.loads(text)).is_internet_accessible()"),
        ("pu+actions", "p = Policy(json.loads(text)); p.is_internet_accessible(); "
                       "p.internet_accessible_actions()"),
        ("parliament", "analyze_policy_string(text).findings"),
    ]

    # Verdicts first (and a crash check before any timing).
    verdicts = {}
    for name, text in policies:
        row = {}
        try:
            p = Policy(json.loads(text))
            public = p.is_internet_accessible()
            acts = sorted(p.internet_accessible_actions())
            row["policyuniverse"] = (f"public={public}" + (f" actions={','.join(acts)}" if acts else ""))
        except Exception as e:  # report, do not hide
            row["policyuniverse"] = f"CRASH {type(e).__name__}: {e}"
        for label, t in (("parliament", text), ("parliament+Resource", with_resource(text))):
            try:
                findings = analyze_policy_string(t).findings
                kinds = {}
                for f in findings:
                    key = f"{f.issue}" + (f" ({f.detail})" if isinstance(f.detail, str) and f.detail else "")
                    kinds[key] = kinds.get(key, 0) + 1
                row[label] = (f"{len(findings)} findings" +
                              (": " + "; ".join(f"{v}x {k}" for k, v in kinds.items()) if kinds else ""))
            except Exception as e:
                row[label] = f"CRASH {type(e).__name__}: {e}"
        verdicts[name] = row

    # Timings.
    head = f"{'policy':<17} {'bytes':>6} {'stmts':>5}"
    for label, _ in cases:
        head += f" | {label + ' us':>16} {'/s':>9}"
    print()
    print(head)
    print("-" * len(head))
    for name, text in policies:
        nstmt = len(json.loads(text)["Statement"])
        line = f"{name:<17} {len(text.encode('utf-8')):>6} {nstmt:>5}"
        for label, stmt in cases:
            if verdicts[name].get(label.replace("pu+actions", "policyuniverse"), "").startswith("CRASH"):
                line += f" | {'crash':>16} {'-':>9}"
                continue
            s = time_stmt(stmt, text, args.min_time, args.repeats)
            line += f" | {s * 1e6:>16.2f} {1 / s:>9,.0f}"
        print(line, flush=True)

    # parliament stops at MALFORMED (no Resource, as ECR repository policies are written),
    # so its row above is parse plus an early exit; this times its full path too.
    print()
    print("supplementary: parliament on the same statements plus \"Resource\": the repository ARN "
          "(compact JSON, not the benchmark bytes)")
    print(f"{'policy':<17} {'bytes':>6} | {'parliament us':>16} {'/s':>9}")
    for name, text in policies:
        t = with_resource(text)
        if verdicts[name]["parliament+Resource"].startswith("CRASH"):
            print(f"{name:<17} {len(t):>6} | {'crash':>16}")
            continue
        s = time_stmt("analyze_policy_string(text).findings", t, args.min_time, args.repeats)
        print(f"{name:<17} {len(t.encode('utf-8')):>6} | {s * 1e6:>16.2f} {1 / s:>9,.0f}", flush=True)

    print()
    print("verdicts:")
    for name, _ in policies:
        print(f"  {name}:")
        for label, v in verdicts[name].items():
            print(f"    {label:<20} {v}")


if __name__ == "__main__":
    main()
