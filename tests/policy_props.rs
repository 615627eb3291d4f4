//! Property tests for the policy engine: invariants that hold for every valid policy,
//! checked on policies generated from a small grammar of realistic principals, actions,
//! conditions and resources (spec: `shared/docs/policy-semantics.md` §1, §2.9, §5.3).
//!
//! The generator only builds valid policies, so an engine error on one is itself a failure.

use std::collections::BTreeSet;

use ecr_exposure_exporter::analysis::policy::{Subject, Trust, Verdict, analyze};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

const REPO: &str = "arn:aws:ecr:us-east-1:111111111111:repository/app";

fn trust() -> Trust {
    Trust {
        owner_account: "111111111111".to_string(),
        trusted_accounts: BTreeSet::from(["222222222222".to_string()]),
        trusted_orgs: BTreeSet::from(["o-trusted123".to_string()]),
    }
}

// ---------- a tiny policy AST and its renderer ----------

#[derive(Debug, Clone)]
enum Principal {
    Star,
    /// (type, values); types are distinct.
    Map(Vec<(&'static str, Vec<&'static str>)>),
}

/// operator -> [(key, values)]
type Condition = Vec<(&'static str, Vec<(&'static str, Vec<CondValue>)>)>;

#[derive(Debug, Clone)]
struct Stmt {
    sid: Option<&'static str>,
    allow: bool,
    not_principal: bool,
    principal: Principal,
    not_action: bool,
    actions: Vec<&'static str>,
    /// (NotResource?, patterns)
    resource: Option<(bool, Vec<&'static str>)>,
    /// operator -> [(key, values)], operators distinct and keys distinct per operator.
    condition: Option<Condition>,
}

#[derive(Debug, Clone, Copy)]
enum CondValue {
    Str(&'static str),
    Num(u64),
    Bool(bool),
}

#[derive(Debug, Clone)]
struct Policy {
    version: Option<&'static str>,
    statements: Vec<Stmt>,
}

/// How to spell the same policy.
#[derive(Debug, Clone, Copy)]
struct Style {
    pretty: bool,
    /// Seed for the order of keys inside each object.
    key_seed: u64,
    /// Write one-element lists as bare scalars.
    scalars: bool,
    /// Write a one-statement `Statement` as a bare object.
    bare_statement: bool,
}

const COMPACT: Style = Style {
    pretty: false,
    key_seed: 0,
    scalars: false,
    bare_statement: false,
};

/// A JSON value that keeps its key order, so key order can be varied on purpose.
enum J {
    S(String),
    Raw(String),
    A(Vec<J>),
    O(Vec<(String, J)>),
}

fn s(v: &str) -> J {
    J::S(v.to_string())
}

fn list(values: &[&str], st: Style) -> J {
    if st.scalars && values.len() == 1 {
        s(values[0])
    } else {
        J::A(values.iter().map(|v| s(v)).collect())
    }
}

fn obj(mut fields: Vec<(String, J)>, st: Style, salt: u64) -> J {
    // Deterministic shuffle from the style seed and a per-object salt.
    let mut x = st
        .key_seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(salt.wrapping_mul(1442695040888963407) | 1);
    for i in (1..fields.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % (i as u64 + 1)) as usize;
        fields.swap(i, j);
    }
    J::O(fields)
}

fn to_json(p: &Policy, st: Style) -> J {
    let stmts: Vec<J> = p
        .statements
        .iter()
        .enumerate()
        .map(|(i, stmt)| stmt_json(stmt, st, i as u64 * 97 + 3))
        .collect();
    let statement = if st.bare_statement && stmts.len() == 1 {
        stmts.into_iter().next().expect("one statement")
    } else {
        J::A(stmts)
    };
    let mut top = vec![("Statement".to_string(), statement)];
    if let Some(v) = p.version {
        top.push(("Version".to_string(), s(v)));
    }
    obj(top, st, 1)
}

fn stmt_json(stmt: &Stmt, st: Style, salt: u64) -> J {
    let mut f = Vec::new();
    if let Some(sid) = stmt.sid {
        f.push(("Sid".to_string(), s(sid)));
    }
    f.push((
        "Effect".to_string(),
        s(if stmt.allow { "Allow" } else { "Deny" }),
    ));
    let principal = match &stmt.principal {
        Principal::Star => s("*"),
        Principal::Map(m) => obj(
            m.iter()
                .map(|(k, v)| (k.to_string(), list(v, st)))
                .collect(),
            st,
            salt + 1,
        ),
    };
    let pkey = if stmt.not_principal {
        "NotPrincipal"
    } else {
        "Principal"
    };
    f.push((pkey.to_string(), principal));
    let akey = if stmt.not_action {
        "NotAction"
    } else {
        "Action"
    };
    f.push((akey.to_string(), list(&stmt.actions, st)));
    if let Some((not, res)) = &stmt.resource {
        let rkey = if *not { "NotResource" } else { "Resource" };
        f.push((rkey.to_string(), list(res, st)));
    }
    if let Some(cond) = &stmt.condition {
        let ops = cond
            .iter()
            .enumerate()
            .map(|(i, (op, keys))| {
                let block = keys
                    .iter()
                    .map(|(k, vals)| {
                        let vals: Vec<J> = vals.iter().map(cond_value).collect();
                        let v = if st.scalars && vals.len() == 1 {
                            vals.into_iter().next().expect("one value")
                        } else {
                            J::A(vals)
                        };
                        (k.to_string(), v)
                    })
                    .collect();
                (op.to_string(), obj(block, st, salt + 10 + i as u64))
            })
            .collect();
        f.push(("Condition".to_string(), obj(ops, st, salt + 5)));
    }
    obj(f, st, salt)
}

fn cond_value(v: &CondValue) -> J {
    match v {
        CondValue::Str(x) => s(x),
        CondValue::Num(n) => J::Raw(n.to_string()),
        CondValue::Bool(b) => J::Raw(b.to_string()),
    }
}

fn render(p: &Policy, st: Style) -> String {
    let mut out = String::new();
    write_json(&to_json(p, st), st.pretty, 0, &mut out);
    out
}

fn write_json(j: &J, pretty: bool, depth: usize, out: &mut String) {
    let nl = |out: &mut String, d: usize| {
        if pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(d));
        }
    };
    match j {
        J::S(v) => out.push_str(&serde_json::to_string(v).expect("string encodes")),
        J::Raw(v) => out.push_str(v),
        J::A(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, depth + 1);
                write_json(item, pretty, depth + 1, out);
            }
            nl(out, depth);
            out.push(']');
        }
        J::O(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, depth + 1);
                out.push_str(&serde_json::to_string(k).expect("key encodes"));
                // ECR's own re-serialisation puts a space on both sides.
                out.push_str(if pretty { " : " } else { ":" });
                write_json(v, pretty, depth + 1, out);
            }
            nl(out, depth);
            out.push('}');
        }
    }
}

// ---------- generators from pools of realistic values ----------

const AWS_PRINCIPALS: &[&str] = &[
    "*",
    "111111111111",
    "222222222222",
    "333333333333",
    "arn:aws:iam::111111111111:root",
    "arn:aws:iam::333333333333:root",
    "arn:aws:iam::444444444444:role/ci",
    "arn:aws:iam::222222222222:user/alice",
    "arn:aws:sts::333333333333:assumed-role/ci/s1",
    "AROAEXAMPLEID12345678",
    "arn:aws:iam::*:root",
];
const SERVICES: &[&str] = &["codebuild.amazonaws.com", "lambda.amazonaws.com"];
const FEDERATED: &[&str] = &[
    "arn:aws:iam::333333333333:saml-provider/corp",
    "cognito-identity.amazonaws.com",
];
const ACTIONS: &[&str] = &[
    "ecr:*",
    "*",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:Batch*",
    "ecr:Put*",
    "ecr:PutImage",
    "ecr:*Policy",
    "ecr:Get*",
    "ecr:DeleteRepository",
    "ecr:GetAuthorizationToken",
    "ECR:ListImages",
    "ecr:Describe*",
    "s3:GetObject",
];
const RESOURCES: &[&str] = &[
    "*",
    REPO,
    "arn:aws:ecr:us-east-1:111111111111:repository/*",
    "arn:aws:ecr:us-east-1:111111111111:repository/other",
    "arn:aws:ecr:*:*:repository/ap?",
];

fn cond_entries() -> Vec<(&'static str, &'static str, Vec<CondValue>)> {
    use CondValue::*;
    vec![
        (
            "StringEquals",
            "aws:PrincipalOrgID",
            vec![Str("o-trusted123")],
        ),
        (
            "StringEquals",
            "aws:PrincipalOrgID",
            vec![Str("o-other12345")],
        ),
        ("StringLike", "aws:PrincipalOrgID", vec![Str("o-*")]),
        (
            "ForAllValues:StringEquals",
            "aws:PrincipalOrgID",
            vec![Str("o-trusted123")],
        ),
        (
            "ForAnyValue:StringLike",
            "aws:PrincipalOrgPaths",
            vec![Str("o-trusted123/*")],
        ),
        (
            "StringNotEquals",
            "aws:PrincipalOrgID",
            vec![Str("o-trusted123")],
        ),
        (
            "StringEqualsIfExists",
            "aws:PrincipalOrgID",
            vec![Str("o-trusted123")],
        ),
        (
            "StringEquals",
            "aws:PrincipalAccount",
            vec![Str("111111111111"), Str("333333333333")],
        ),
        (
            "StringEquals",
            "aws:PrincipalAccount",
            vec![Num(222222222222)],
        ),
        (
            "StringLike",
            "aws:PrincipalAccount",
            vec![Str("1111111111??")],
        ),
        (
            "ArnLike",
            "aws:PrincipalArn",
            vec![Str("arn:aws:iam::111111111111:role/*")],
        ),
        (
            "ArnLike",
            "aws:PrincipalArn",
            vec![Str("arn:aws:iam::*:role/ci")],
        ),
        (
            "ArnNotLike",
            "aws:PrincipalArn",
            vec![Str("arn:aws:iam::222222222222:*")],
        ),
        (
            "StringLike",
            "aws:userid",
            vec![Str("AROAEXAMPLEID12345678:*")],
        ),
        ("StringEquals", "aws:username", vec![Str("admin")]),
        ("IpAddress", "aws:SourceIp", vec![Str("203.0.113.0/24")]),
        ("IpAddress", "aws:SourceIp", vec![Str("0.0.0.0/0")]),
        ("NotIpAddress", "aws:SourceIp", vec![Str("198.51.100.0/24")]),
        ("IpAddressIfExists", "aws:SourceIp", vec![Str("10.0.0.0/8")]),
        (
            "StringEquals",
            "aws:SourceVpce",
            vec![Str("vpce-1a2b3c4d5e6f70809")],
        ),
        (
            "StringEquals",
            "aws:SourceAccount",
            vec![Str("111111111111")],
        ),
        (
            "StringEquals",
            "aws:SourceAccount",
            vec![Str("333333333333")],
        ),
        (
            "ArnLike",
            "aws:SourceArn",
            vec![Str("arn:aws:codebuild:*:*:project/*")],
        ),
        ("Bool", "aws:SecureTransport", vec![Bool(false)]),
        ("Bool", "aws:SecureTransport", vec![Str("true")]),
        ("Null", "aws:PrincipalOrgID", vec![Str("true")]),
        (
            "StringEquals",
            "aws:RequestedRegion",
            vec![Str("us-east-1")],
        ),
        ("StringEquals", "aws:ResourceTag/env", vec![Str("prod")]),
        (
            "StringEqualsIgnoreCase",
            "aws:PrincipalOrgID",
            vec![Str("O-TRUSTED123")],
        ),
        (
            "DateLessThan",
            "aws:CurrentTime",
            vec![Str("2099-01-01T00:00:00Z")],
        ),
    ]
}

fn sub<T: Clone + std::fmt::Debug + 'static>(
    pool: &'static [T],
    max: usize,
) -> impl Strategy<Value = Vec<T>> {
    proptest::sample::subsequence(pool.to_vec(), 1..=max)
}

fn principal() -> impl Strategy<Value = Principal> {
    prop_oneof![
        1 => Just(Principal::Star),
        4 => (
            proptest::option::of(sub(AWS_PRINCIPALS, 3)),
            proptest::option::of(sub(SERVICES, 2)),
            proptest::option::of(sub(FEDERATED, 1)),
        )
            .prop_map(|(a, sv, fd)| {
                let mut m = Vec::new();
                if let Some(a) = a {
                    m.push(("AWS", a));
                }
                if let Some(sv) = sv {
                    m.push(("Service", sv));
                }
                if let Some(fd) = fd {
                    m.push(("Federated", fd));
                }
                if m.is_empty() {
                    m.push(("AWS", vec!["333333333333"]));
                }
                Principal::Map(m)
            }),
    ]
}

fn condition() -> impl Strategy<Value = Option<Condition>> {
    let n = cond_entries().len();
    proptest::option::weighted(
        0.6,
        proptest::sample::subsequence((0..n).collect::<Vec<_>>(), 1..=3).prop_map(|picks| {
            let all = cond_entries();
            let mut grouped: Condition = Vec::new();
            for i in picks {
                let (op, key, vals) = all[i].clone();
                match grouped.iter_mut().find(|(o, _)| *o == op) {
                    Some((_, keys)) => {
                        // One key per operator block: keys must not repeat.
                        if !keys.iter().any(|(k, _)| *k == key) {
                            keys.push((key, vals));
                        }
                    }
                    None => grouped.push((op, vec![(key, vals)])),
                }
            }
            grouped
        }),
    )
}

fn statement(allow: impl Strategy<Value = bool>) -> impl Strategy<Value = Stmt> {
    (
        allow,
        proptest::bool::weighted(0.1),
        principal(),
        proptest::bool::weighted(0.1),
        sub(ACTIONS, 3),
        proptest::option::weighted(0.3, (proptest::bool::weighted(0.2), sub(RESOURCES, 2))),
        condition(),
        proptest::option::of(prop_oneof![Just("s1"), Just("pull"), Just("deny-all")]),
    )
        .prop_map(
            |(allow, not_principal, principal, not_action, actions, resource, condition, sid)| {
                Stmt {
                    sid,
                    allow,
                    not_principal,
                    principal,
                    not_action,
                    actions,
                    resource,
                    condition,
                }
            },
        )
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        prop_oneof![
            4 => Just(Some("2012-10-17")),
            1 => Just(Some("2008-10-17")),
            1 => Just(None)
        ],
        proptest::collection::vec(statement(proptest::bool::weighted(0.7)), 1..=5),
    )
        .prop_map(|(version, statements)| Policy {
            version,
            statements,
        })
}

fn style() -> impl Strategy<Value = Style> {
    (any::<bool>(), any::<u64>(), any::<bool>(), any::<bool>()).prop_map(
        |(pretty, key_seed, scalars, bare_statement)| Style {
            pretty,
            key_seed,
            scalars,
            bare_statement,
        },
    )
}

// ---------- the properties ----------

type Flags = (
    bool,
    bool,
    ecr_exposure_exporter::analysis::policy::Access,
    bool,
);

fn verdict(text: &str) -> Result<Verdict, TestCaseError> {
    let subject = Subject::Repository {
        arn: REPO,
        tags: None,
    };
    analyze(text, &subject, &trust())
        .map_err(|e| TestCaseError::fail(format!("valid policy rejected: {e}\n{text}")))
}

fn flags(v: &Verdict) -> Flags {
    (v.public, v.cross_account, v.access, v.network_restricted)
}

/// 256 cases per property keeps the debug suite fast; `PROPTEST_CASES` raises it for a hunt.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// §1: `public` implies `cross_account_untrusted`; `access` is none iff both are false.
    #[test]
    fn flags_are_consistent(p in policy()) {
        let text = render(&p, COMPACT);
        let v = verdict(&text)?;
        prop_assert!(!v.public || v.cross_account, "public without cross: {text}");
        prop_assert_eq!(
            v.access == ecr_exposure_exporter::analysis::policy::Access::None,
            !v.public && !v.cross_account,
            "access {:?} with public={} cross={}: {}", v.access, v.public, v.cross_account, text
        );
    }

    /// §5.3: a Deny can only take access away.
    #[test]
    fn adding_a_deny_never_raises(p in policy(), d in statement(Just(false)), at in any::<prop::sample::Index>()) {
        let before = verdict(&render(&p, COMPACT))?;
        let mut q = p.clone();
        let pos = at.index(q.statements.len() + 1);
        q.statements.insert(pos, d);
        let text = render(&q, COMPACT);
        let after = verdict(&text)?;
        prop_assert!(after.access <= before.access, "access rose {:?} -> {:?}: {}", before.access, after.access, text);
        prop_assert!(!after.public || before.public, "Deny made it public: {text}");
        prop_assert!(!after.cross_account || before.cross_account, "Deny made it cross-account: {text}");
    }

    /// An extra Allow can only add access.
    #[test]
    fn adding_an_allow_never_lowers(p in policy(), a in statement(Just(true)), at in any::<prop::sample::Index>()) {
        let before = verdict(&render(&p, COMPACT))?;
        let mut q = p.clone();
        let pos = at.index(q.statements.len() + 1);
        q.statements.insert(pos, a);
        let text = render(&q, COMPACT);
        let after = verdict(&text)?;
        prop_assert!(after.access >= before.access, "access fell {:?} -> {:?}: {}", before.access, after.access, text);
        prop_assert!(after.public || !before.public, "Allow removed public: {text}");
        prop_assert!(after.cross_account || !before.cross_account, "Allow removed cross-account: {text}");
    }

    /// Statement order carries no meaning in IAM.
    #[test]
    fn statement_order_does_not_matter(
        (p, shuffled) in policy().prop_flat_map(|p| {
            let stmts = p.statements.clone();
            (Just(p), Just(stmts).prop_shuffle())
        })
    ) {
        let before = verdict(&render(&p, COMPACT))?;
        let q = Policy { version: p.version, statements: shuffled };
        let text = render(&q, COMPACT);
        let after = verdict(&text)?;
        prop_assert_eq!(flags(&before), flags(&after), "reordered: {}", text);
    }

    /// §2.9: pretty vs compact, key order, scalar vs one-element list, bare Statement object.
    #[test]
    fn formatting_does_not_matter(p in policy(), st in style()) {
        let before = verdict(&render(&p, COMPACT))?;
        let text = render(&p, st);
        let after = verdict(&text)?;
        prop_assert_eq!(flags(&before), flags(&after), "reformatted ({:?}): {}", st, text);
    }
}

/// The renderer itself must produce JSON equal in meaning across styles; otherwise the
/// formatting property would test the test.
#[test]
fn renderer_styles_agree_as_json() {
    let mut runner = proptest::test_runner::TestRunner::new(config());
    runner
        .run(&(policy(), style()), |(p, st)| {
            let a: serde_json::Value =
                serde_json::from_str(&render(&p, COMPACT)).expect("compact is JSON");
            let b: serde_json::Value =
                serde_json::from_str(&render(&p, st)).expect("styled is JSON");
            // Normalise scalars to lists and a bare statement to a list before comparing.
            prop_assert_eq!(normalise(a), normalise(b));
            Ok(())
        })
        .expect("renderer is consistent");
}

fn normalise(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = normalise(v);
                    let v = match v {
                        Value::Array(_) | Value::Object(_) => v,
                        // Effect, Version and Sid stay scalars in both styles.
                        other if matches!(k.as_str(), "Effect" | "Version" | "Sid") => other,
                        other => Value::Array(vec![other]),
                    };
                    let v = match (k.as_str(), v) {
                        ("Statement", Value::Object(o)) => Value::Array(vec![Value::Object(o)]),
                        (_, v) => v,
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(normalise).collect()),
        other => other,
    }
}

/// Guards the generator: if it only ever produced unexposed (or only public) policies the
/// properties above would pass without saying much.
#[test]
fn generator_reaches_every_outcome() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut public, mut cross_only, mut nothing, mut net) = (0, 0, 0, 0);
    for _ in 0..256 {
        let p = policy().new_tree(&mut runner).expect("generate").current();
        let v = verdict(&render(&p, COMPACT)).expect("valid policy analyses");
        match (v.public, v.cross_account) {
            (true, _) => public += 1,
            (false, true) => cross_only += 1,
            (false, false) => nothing += 1,
        }
        if v.network_restricted {
            net += 1;
        }
    }
    eprintln!("public {public}, cross only {cross_only}, nothing {nothing}, network {net}");
    assert!(
        public >= 10 && cross_only >= 10 && nothing >= 10,
        "generator too narrow"
    );
}
