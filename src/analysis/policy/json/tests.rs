use super::*;

fn err(s: &str) -> PolicyError {
    parse(s).unwrap_err()
}

fn code_path(s: &str) -> (ErrorCode, String) {
    let e = err(s);
    (e.code, e.path)
}

#[test]
fn accepts_rfc8259_values() {
    let v = parse(r#" {"a": [1, -2.5e3, true, false, null, "x\u002a\ud83d\ude00"]} "#).unwrap();
    let Json::Obj(m) = v else { panic!() };
    let Json::Arr(items) = &m[0].1 else { panic!() };
    assert_eq!(items[0], Json::Num("1"));
    assert_eq!(items[1], Json::Num("-2.5e3"));
    assert_eq!(items[2], Json::Bool(true));
    assert_eq!(items[4], Json::Null);
    assert_eq!(items[5], Json::Str(Cow::Owned("x*\u{1F600}".into())));
}

#[test]
fn rejects_non_json() {
    for bad in [
        "",
        "{",
        "{\"a\":1,}",
        "[1,]",
        "{'a':1}",
        "{\"a\":1} x",
        "// c\n{}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"tab\there\"}",
        "\u{feff}{}",
        "NaN",
        r#"["\ud83d\u0041"]"#,
        r#"["\ud83dx"]"#,
        r#"["\ude00"]"#,
    ] {
        assert_eq!(err(bad).code, ErrorCode::InvalidJson, "{bad:?}");
    }
}

#[test]
fn syntax_errors_name_the_element_they_are_in() {
    for (text, path) in [
        // Inside a member's value: the member.
        (r#"{"a":"#, "a"),
        (r#"{"a":tru}"#, "a"),
        (r#"{"a":{"b":[1,x]}}"#, "a.b[1]"),
        // Between members (key, colon, comma): the object.
        (r#"{"a""#, ""),
        (r#"{"a" 1}"#, ""),
        (r#"{"a":1,}"#, ""),
        (r#"{"a":1 "b":2}"#, ""),
        (r#"{"a":{"b" 1}}"#, "a"),
        (r#"{"a":"x"#, "a"),
        (r#"{"a"#, ""),
        // An element that is missing is still named: `[1,]`, `[1,` and a lone `[`.
        ("[1,]", "[1]"),
        ("[1, ]", "[1]"),
        ("[1,", "[1]"),
        ("[1, ", "[1]"),
        ("[", "[0]"),
        ("[ ", "[0]"),
        ("[,]", "[0]"),
        // Between elements: the array.
        ("[1", ""),
        ("[1 2]", ""),
        ("[[1]", ""),
        ("[[1,]]", "[0][1]"),
        ("{\"a\":[[]", "a"),
        // After the document.
        ("{} x", ""),
    ] {
        assert_eq!(
            code_path(text),
            (ErrorCode::InvalidJson, path.to_string()),
            "{text:?}"
        );
    }
}

#[test]
fn duplicate_keys_carry_their_path_and_offset() {
    let e = err(r#"{"Statement":[{"Effect":"Allow"},{"Effect":"Allow","Effect":"Deny"}]}"#);
    assert_eq!(e.code, ErrorCode::DuplicateKey);
    assert_eq!(e.path, "Statement[1].Effect");
    assert_eq!(e.message, r#"duplicate key "Effect" at byte 59"#);
    // Escaped spellings are the same key; the offset is just past the closing quote, before
    // any whitespace, whatever follows it.
    for (text, at) in [
        (r#"{"a":1,"\u0061":2}"#, 15),
        (r#"{"a":1,"\u0061"   :2}"#, 15),
        (r#"{"a":1,"a"}"#, 10),
        (r#"{"a":1,"a""#, 10),
        ("{\"a\":1,\n  \"a\" ,", 13),
    ] {
        let e = err(text);
        assert_eq!(
            (e.code, e.path.as_str(), e.message.as_str()),
            (
                ErrorCode::DuplicateKey,
                "a",
                format!(r#"duplicate key "a" at byte {at}"#).as_str()
            ),
            "{text:?}"
        );
    }
    // Many keys.
    let mut s = String::from("{");
    for i in 0..40 {
        s.push_str(&format!("\"k{i}\":1,"));
    }
    s.push_str("\"k7\":2}");
    assert_eq!(code_path(&s), (ErrorCode::DuplicateKey, "k7".into()));
    // Keys that differ only in case are different keys.
    assert!(parse(r#"{"a":1,"A":2}"#).is_ok());
}

#[test]
fn deep_nesting_fails_without_recursing_further() {
    let s = "[".repeat(5000) + &"]".repeat(5000);
    let e = err(&s);
    assert_eq!(e.code, ErrorCode::TooDeep);
    assert_eq!(e.path, "[0]".repeat(MAX_DEPTH));
    assert_eq!(e.message, "nesting deeper than 64 levels at byte 64");
    let s = "{\"a\":".repeat(5000) + "1" + &"}".repeat(5000);
    let e = err(&s);
    assert_eq!(e.code, ErrorCode::TooDeep);
    assert_eq!(e.message, "nesting deeper than 64 levels at byte 320");
    // The cap wins over a syntax error further in, which is never read.
    let s = "[ ".repeat(65) + "x";
    let e = err(&s);
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::TooDeep,
            "nesting deeper than 64 levels at byte 128"
        )
    );
    let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
    assert!(parse(&ok).is_ok());
    // Other readers choose their cap; past serde_json's own limit it is a syntax error.
    let s = "[".repeat(200) + &"]".repeat(200);
    assert!(read(&s, 200).is_err_and(|e| e.code == ErrorCode::InvalidJson));
    assert!(read(&("[".repeat(100) + &"]".repeat(100)), 100).is_ok());
}

#[test]
fn numbers_keep_their_source_text() {
    let text = r#"{"k\"1":[1.50,-0,1E+2,123456789012345678901234567890,-1e-400,"2\\",0.1],"n":7}"#;
    let Json::Obj(m) = parse(text).unwrap() else {
        panic!()
    };
    let Json::Arr(items) = &m[0].1 else { panic!() };
    let nums: Vec<_> = items
        .iter()
        .map(|j| match j {
            Json::Num(n) => *n,
            Json::Str(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        nums,
        [
            "1.50",
            "-0",
            "1E+2",
            "123456789012345678901234567890",
            "-1e-400",
            "2\\",
            "0.1"
        ]
    );
    assert_eq!(m[1].1, Json::Num("7"));
}

#[test]
fn escapes_controls_and_borrowing() {
    for pad in 0..20 {
        let p = "x".repeat(pad);
        for (esc, want) in [
            (r"\n", "\n"),
            (r"\\", "\\"),
            (r#"\""#, "\""),
            (r"\/", "/"),
            (r"\u0065", "e"),
            (r"\ud83d\ude00", "\u{1F600}"),
            (r"\u00e9", "\u{e9}"),
        ] {
            let text = format!(r#"["{p}{esc}{p}é{p}"]"#);
            let Json::Arr(items) = parse(&text).unwrap() else {
                panic!()
            };
            assert_eq!(items[0], Json::Str(Cow::Owned(format!("{p}{want}{p}é{p}"))));
        }
        for ctl in ['\u{0}', '\u{1}', '\n', '\t', '\u{1f}'] {
            let text = format!(r#"["{p}{ctl}{p}"]"#);
            assert_eq!(code_path(&text), (ErrorCode::InvalidJson, "[0]".into()));
        }
        assert_eq!(err(&format!(r#"["{p}"#)).code, ErrorCode::InvalidJson);
        assert_eq!(err(&format!(r#"["{p}\"#)).code, ErrorCode::InvalidJson);
        // Plain strings and keys borrow from the input.
        let text = format!(r#"{{"{p}k":"{p}é{p}"}}"#);
        let Json::Obj(m) = parse(&text).unwrap() else {
            panic!()
        };
        assert!(matches!(m[0].0, Cow::Borrowed(_)));
        assert!(matches!(m[0].1, Json::Str(Cow::Borrowed(_))));
    }
}

#[test]
fn escaped_duplicate_keys_are_duplicates() {
    let e = err(r#"{"Effect":"Allow","Eff\u0065ct":"Deny"}"#);
    assert_eq!(
        (e.code, e.path.as_str()),
        (ErrorCode::DuplicateKey, "Effect")
    );
}

#[test]
fn syntax_messages_are_serde_json_s_with_line_and_column() {
    let e = err("{\n  \"a\": x\n}");
    assert_eq!(e.message, "expected value at line 2 column 8");
    let e = read("{\"a\":1,\"a\":2}", usize::MAX).unwrap_err();
    // The reader's own refusals read the same way to serde_json's callers.
    assert_eq!(
        e.serde.to_string(),
        r#"duplicate key "a" at line 1 column 10"#
    );
}

#[test]
fn into_value_is_serde_json_s_tree() {
    let text = r#"{"b":[1,-2,2.5,1e3,18446744073709551616,"s\u002a"],"a":{"t":true,"n":null}}"#;
    let want: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(read(text, MAX_DEPTH).unwrap().into_value(), want);
}

#[test]
fn a_digit_after_a_leading_zero_is_outside_the_number() {
    for (text, path) in [
        ("01", ""),
        ("[01]", ""),
        ("[-01]", ""),
        ("{\n\"a\":\n 01}", ""),
        (r#"{"a":[1,00]}"#, "a"),
        // Other bad numbers are inside their value.
        (r#"{"a":-x}"#, "a"),
        (r#"{"a":1.x}"#, "a"),
        (r#"{"a":1e}"#, "a"),
        (r#"{"a":[1e400]}"#, "a[0]"),
    ] {
        assert_eq!(
            code_path(text),
            (ErrorCode::InvalidJson, path.to_string()),
            "{text:?}"
        );
    }
}
