use super::*;

fn code_path(text: &str) -> (ErrorCode, String) {
    let e = parse(text).unwrap_err();
    (e.code, e.path)
}

const OK_STMT: &str = r#"{"Effect":"Allow","Principal":"*","Action":"ecr:*"}"#;

fn with_stmt(s: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{OK_STMT},{s}]}}"#)
}

#[test]
fn every_error_code_with_its_path() {
    use ErrorCode::*;
    let big = format!(
        r#"{{"Statement":{OK_STMT},"Id":"{}"}}"#,
        "x".repeat(MAX_POLICY_BYTES)
    );
    let cases: Vec<(String, ErrorCode, &str)> = vec![
        (big, TooLarge, ""),
        ("{".into(), InvalidJson, ""),
        (
            r#"{"Statement":[{"Effect":"Allow","Effect":"Deny"}]}"#.into(),
            DuplicateKey,
            "Statement[0].Effect",
        ),
        ("[]".into(), InvalidStructure, ""),
        (r#"{"statement":[]}"#.into(), UnknownKey, "statement"),
        (
            r#"{"Version":"2012-10-17"}"#.into(),
            MissingKey,
            "Statement",
        ),
        (
            format!(r#"{{"Version":"2012-10-18","Statement":{OK_STMT}}}"#),
            InvalidVersion,
            "Version",
        ),
        (r#"{"Statement":[]}"#.into(), InvalidStructure, "Statement"),
        (r#"{"Statement":"x"}"#.into(), InvalidStructure, "Statement"),
        (
            r#"{"Statement":[1]}"#.into(),
            InvalidStructure,
            "Statement[0]",
        ),
        (
            with_stmt(r#"{"Effect":"allow","Principal":"*","Action":"*"}"#),
            InvalidEffect,
            "Statement[1].Effect",
        ),
        (
            with_stmt(r#"{"Principal":"*","Action":"*"}"#),
            MissingKey,
            "Statement[1].Effect",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Action":"*"}"#),
            MissingKey,
            "Statement[1].Principal",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Principal":"*"}"#),
            MissingKey,
            "Statement[1].Action",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"*"}"#),
            InvalidStructure,
            "Statement[1].NotPrincipal",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"*"}"#),
            InvalidStructure,
            "Statement[1].NotAction",
        ),
        (
            with_stmt(
                r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","NotResource":"*"}"#,
            ),
            InvalidStructure,
            "Statement[1].NotResource",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","principal":"*","Action":"*"}"#),
            UnknownKey,
            "Statement[1].principal",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Principal":"123456789012","Action":"*"}"#),
            InvalidPrincipal,
            "Statement[1].Principal",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Principal":{},"Action":"*"}"#),
            InvalidPrincipal,
            "Statement[1].Principal",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Principal":{"aws":"*"},"Action":"*"}"#),
            InvalidPrincipal,
            "Statement[1].Principal.aws",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Principal":{"AWS":[]},"Action":"*"}"#),
            InvalidPrincipal,
            "Statement[1].Principal.AWS",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Principal":{"AWS":["*",1]},"Action":"*"}"#),
            InvalidPrincipal,
            "Statement[1].Principal.AWS[1]",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Principal":"*","Action":42}"#),
            InvalidAction,
            "Statement[1].Action",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Principal":"*","NotAction":[]}"#),
            InvalidAction,
            "Statement[1].NotAction",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":[true]}"#),
            InvalidResource,
            "Statement[1].Resource[0]",
        ),
        (
            with_stmt(r#"{"Effect":"Allow","Principal":"*","Action":"*","Condition":[]}"#),
            InvalidCondition,
            "Statement[1].Condition",
        ),
        (
            with_stmt(
                r#"{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringLike":"x"}}"#,
            ),
            InvalidCondition,
            "Statement[1].Condition.StringLike",
        ),
        (
            with_stmt(
                r#"{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringLike":{"aws:userid":{"a":1}}}}"#,
            ),
            InvalidCondition,
            "Statement[1].Condition.StringLike.aws:userid",
        ),
        (
            with_stmt(
                r#"{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringLike":{"aws:userid":[null]}}}"#,
            ),
            InvalidCondition,
            "Statement[1].Condition.StringLike.aws:userid[0]",
        ),
        (
            with_stmt(
                r#"{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEqualz":{"a":"b"}}}"#,
            ),
            UnknownOperator,
            "Statement[1].Condition.StringEqualz",
        ),
        (
            r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"NullIfExists":{"a":"true"}}}}"#.to_string(),
            UnknownOperator,
            "Statement.Condition.NullIfExists",
        ),
    ];
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let (c, p) = code_path(&deep);
    assert_eq!(c, TooDeep);
    assert!(p.starts_with("[0][0]"), "{p}");
    for (text, code, path) in cases {
        let (c, p) = code_path(&text);
        assert_eq!(
            (c, p.as_str()),
            (code, path),
            "{}",
            &text[..text.len().min(120)]
        );
    }
}

#[test]
fn operators() {
    let op = parse_operator("ForAllValues:StringEqualsIgnoreCaseIfExists").unwrap();
    assert_eq!(op.base, BaseOp::StringEqualsIgnoreCase);
    assert_eq!(op.quant, Quantifier::ForAllValues);
    assert!(op.if_exists);
    assert!(parse_operator("ForAnyValue:Null").is_some());
    assert!(parse_operator("stringequals").is_none());
    assert!(parse_operator("ForAllValues:").is_none());
    assert!(parse_operator("IfExists").is_none());
    assert!(parse_operator("ForSomeValues:StringEquals").is_none());
    assert!(parse_operator("NullIfExists").is_none());
}

#[test]
fn normalises_scalars_and_escapes() {
    let p = parse(
        r#"{"Statement":{"Sid":"s","Effect":"Allow","Principal":{"AWS":"\u002a"},"Action":"ecr:*",
            "Condition":{"StringEquals":{"aws:PrincipalAccount":111111111111},"Bool":{"aws:SecureTransport":true},"StringLike":{"a":[]},"Null":{}}}}"#,
    )
    .unwrap();
    assert!(p.single);
    assert_eq!(p.version, Version::V2008);
    let s = &p.statements[0];
    let Principal::Map(m) = &s.principal else {
        panic!()
    };
    assert_eq!(m[0].1, "*");
    assert_eq!(s.conditions[0].values, vec!["111111111111"]);
    assert_eq!(s.conditions[1].values, vec!["true"]);
    assert!(s.conditions[2].values.is_empty());
    assert_eq!(s.conditions.len(), 3);
}

/// Valid policies covering every element form.
fn corpus() -> Vec<String> {
    let mut v: Vec<String> = vec![
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"OrgPull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-trusted123"}}},{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#.into(),
        "{\n  \"Version\" : \"2012-10-17\",\n  \"Statement\" : [ {\n    \"Sid\" : \"PartnerPush\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : [ \"arn:aws:iam::333333333333:role/ci\", \"arn:aws:iam::222222222222:root\" ]\n    },\n    \"Action\" : [ \"ecr:PutImage\", \"ecr:UploadLayerPart\" ],\n    \"Condition\" : {\n      \"IpAddress\" : {\n        \"aws:SourceIp\" : [ \"203.0.113.0/24\", \"198.51.100.0/24\" ]\n      }\n    }\n  } ]\n}\n".into(),
        r#"{"Id":"x","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111111111111","Service":["a.amazonaws.com"],"Federated":"f","CanonicalUser":["c","d"]},"NotAction":"ecr:Get*","NotResource":["arn:aws:ecr:*:*:repository/x"]}}"#.into(),
        r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"*","Resource":"*","Condition":{"NumericLessThan":{"a:n":[-1.5e3,0,12]},"Bool":{"aws:SecureTransport":true,"b":[false,"x"]},"ForAllValues:StringLikeIfExists":{"k":[]},"Null":{},"ForAnyValue:ArnNotLike":{"k1":"v","k2":["v"],"K1":"w"}}},{"Effect":"Deny","Principal":"*","Action":[ "a" ],"Condition":{}}]}"#.into(),
        "\t\r\n {\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"\\u002a\",\"Action\":\"ecr:\\u0042atch*\",\"Sid\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\"}} \n".into(),
        r#"{"Statement":[{"Eff\u0065ct":"Allow","Principal":{"AWS":"\u0031"},"Action":"ecr:Put*","Condition":{"String\u0045quals":{"aws:PrincipalAccount":["1","2"]}}}]}"#.into(),
    ];
    // Long strings.
    let long = "arn:aws:iam::123456789012:role/".to_string() + &"r".repeat(300);
    v.push(format!(
        r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":"{long}"}},"Action":"*","Condition":{{"StringLike":{{"aws:userid":"{long}\u002a"}}}}}}}}"#
    ));
    v
}

#[test]
fn every_element_form_parses() {
    let corpus = corpus();
    for text in &corpus {
        let p = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(!p.statements.is_empty());
    }
    // Condition numbers keep the text they were written with (spec §2.9).
    let p = parse(&corpus[3]).unwrap();
    assert_eq!(p.statements[0].conditions[0].values, ["-1.5e3", "0", "12"]);
    let p = parse(&corpus[4]).unwrap();
    assert_eq!(
        p.statements[0].sid.as_deref(),
        Some("caf\u{e9} \u{1F600} \"q\" \\ / \u{8}\u{c}\n\r\t")
    );
}

#[test]
fn duplicates_at_every_level_and_in_big_blocks() {
    let block = |n: usize, dup: bool| {
        let mut keys: Vec<String> = (0..n).map(|i| format!(r#""k{i}":"v""#)).collect();
        if dup {
            keys.push(r#""k3":"w""#.into());
        }
        format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"*","Condition":{{"StringEquals":{{{}}}}}}}}}"#,
            keys.join(",")
        )
    };
    assert_eq!(
        parse(&block(40, false)).unwrap().statements[0]
            .conditions
            .len(),
        40
    );
    assert_eq!(code_path(&block(40, true)).0, ErrorCode::DuplicateKey);
    assert_eq!(code_path(&block(5, true)).0, ErrorCode::DuplicateKey);
    // Repeated elements after unescaping, at each level.
    for (text, path) in [
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"},"St\u0061tement":[]}"#,
            "Statement",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*"},"\u0056ersion":"2012-10-17"}"#,
            "Version",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Eff\u0065ct":"Allow","Principal":"*","Action":"*"}}"#,
            "Statement.Effect",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"1","\u0041WS":"2"},"Action":"*"}}"#,
            "Statement.Principal.AWS",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"a":"true"},"B\u006fol":{}}}}"#,
            "Statement.Condition.Bool",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"a":"true","\u0061":"false"}}}}"#,
            "Statement.Condition.Bool.a",
        ),
    ] {
        assert_eq!(
            code_path(text),
            (ErrorCode::DuplicateKey, path.to_string()),
            "{text}"
        );
    }
    // Different keys that only differ in case are not duplicates.
    let text = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"a":"true","A":"false"}}}}"#;
    assert_eq!(parse(text).unwrap().statements[0].conditions.len(), 2);
}

#[test]
fn deep_and_large_inputs_fail_cleanly() {
    for deep in [
        "[".repeat(5000) + &"]".repeat(5000),
        "{\"a\":".repeat(5000) + "1" + &"}".repeat(5000),
        r#"{"Statement":"#.to_string() + &"[".repeat(5000) + &"]".repeat(5000) + "}",
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"a":"#
            .to_string()
            + &"[".repeat(5000)
            + &"]".repeat(5000)
            + "}}}}",
    ] {
        assert_eq!(code_path(&deep).0, ErrorCode::TooDeep);
    }
    let big = format!(
        r#"{{"Statement":{OK_STMT},"Id":"{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    assert_eq!(code_path(&big), (ErrorCode::TooLarge, String::new()));
    // Just under the cap is still parsed.
    let fits = format!(
        r#"{{"Statement":{OK_STMT},"Id":"{}"}}"#,
        "x".repeat(MAX_POLICY_BYTES - 100)
    );
    assert!(fits.len() <= MAX_POLICY_BYTES);
    assert!(parse(&fits).is_ok());
}
