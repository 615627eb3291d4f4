//! The Dockerfile is hadolint clean and keeps its promises: multi-stage, base images as build
//! arguments, non-root, exec-form ENTRYPOINT, EXPOSE 9847, OCI labels, config and state volumes.
//! Building and running the image needs a Docker daemon: scripts/docker-build-and-smoke.sh.

#[path = "assets/common.rs"]
mod common;

use std::process::Command;

use common::{repo_path, run, run_ok, venv_tool};

#[test]
fn dockerfile_is_hadolint_clean() {
    run_ok(
        Command::new(venv_tool("hadolint"))
            .arg("--failure-threshold=info")
            .arg(repo_path("Dockerfile")),
    );
}

/// hadolint does flag a bad Dockerfile (so the check above can fail).
#[test]
fn hadolint_flags_a_bad_dockerfile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    std::fs::write(
        &path,
        "FROM debian:latest\nRUN apt-get install curl\nENTRYPOINT /bin/true\n",
    )
    .unwrap();
    let out = run(Command::new(venv_tool("hadolint")).arg(&path));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "hadolint passed a bad file");
    for rule in ["DL3007", "DL3008", "DL3025"] {
        assert!(stdout.contains(rule), "{rule} not reported:\n{stdout}");
    }
}

#[test]
fn dockerfile_keeps_its_promises() {
    let text = std::fs::read_to_string(repo_path("Dockerfile")).unwrap();
    // Instructions, continuation lines joined, comments dropped.
    let joined = text.replace("\\\n", " ");
    let lines: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let with = |kw: &str| -> Vec<&str> {
        lines
            .iter()
            .copied()
            .filter(|l| l.split_whitespace().next() == Some(kw))
            .collect()
    };

    let froms = with("FROM");
    assert!(froms.len() >= 2, "not multi-stage: {froms:?}");
    assert!(
        froms.iter().all(|f| f.contains("${")),
        "base images must come from build arguments: {froms:?}"
    );
    let first_from = lines.iter().position(|l| l.starts_with("FROM")).unwrap();
    let early_args: Vec<_> = lines[..first_from]
        .iter()
        .filter(|l| l.starts_with("ARG"))
        .collect();
    assert!(
        early_args.len() >= 2,
        "base image ARGs before the first FROM: {early_args:?}"
    );

    let users = with("USER");
    let user = users.last().expect("USER");
    let uid = user
        .split_whitespace()
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u != 0),
        "the final USER must be a numeric non-root uid: {user}"
    );

    let entry = with("ENTRYPOINT");
    assert_eq!(entry.len(), 1);
    let json = entry[0].trim_start_matches("ENTRYPOINT").trim();
    let argv: Vec<String> = serde_json::from_str(json).expect("ENTRYPOINT in exec (JSON) form");
    assert!(argv[0].ends_with("/ecr-exposure-exporter"), "{argv:?}");

    assert!(
        with("EXPOSE").iter().any(|l| l.contains("9847")),
        "EXPOSE 9847"
    );
    let volumes = with("VOLUME").join(" ");
    for path in [
        "/etc/ecr-exposure-exporter",
        "/var/lib/ecr-exposure-exporter",
    ] {
        assert!(volumes.contains(path), "no VOLUME for {path}");
    }
    check_labels(&text).unwrap_or_else(|e| panic!("Dockerfile labels: {e}"));
}

/// The OCI labels of the final stage, read from its parsed `LABEL` instructions.
fn check_labels(dockerfile: &str) -> Result<(), String> {
    let stage = final_stage(dockerfile);
    let labels = labels(&stage)?;
    let args: Vec<&str> = stage
        .iter()
        .filter_map(|l| l.strip_prefix("ARG "))
        .map(|a| a.split('=').next().unwrap_or(a).trim())
        .collect();
    let exact = [
        ("title", env!("CARGO_PKG_NAME")),
        ("description", env!("CARGO_PKG_DESCRIPTION")),
        ("licenses", env!("CARGO_PKG_LICENSE")),
        ("version", "${VERSION}"),
        ("revision", "${REVISION}"),
    ];
    for (key, want) in exact {
        let key = format!("org.opencontainers.image.{key}");
        match labels.get(&key) {
            None => return Err(format!("OCI label {key} missing (labels: {labels:?})")),
            Some(v) if v != want => return Err(format!("{key}={v:?}, want {want:?}")),
            Some(_) => {}
        }
    }
    let source = labels
        .get("org.opencontainers.image.source")
        .ok_or("OCI label org.opencontainers.image.source missing")?;
    if !source.starts_with("https://") {
        return Err(format!(
            "org.opencontainers.image.source={source:?} is not a URL"
        ));
    }
    // A build argument used by a label must be declared in the stage, or it expands to "".
    for arg in ["VERSION", "REVISION"] {
        if !args.contains(&arg) {
            return Err(format!("ARG {arg} is not declared in the final stage"));
        }
    }
    Ok(())
}

/// The instructions after the last FROM: continuation lines joined (comment lines inside a
/// continuation are dropped, as Docker does), comments and blank lines removed.
fn final_stage(dockerfile: &str) -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                instructions.push(std::mem::take(&mut current).trim().to_string());
            }
        }
    }
    if !current.trim().is_empty() {
        instructions.push(current.trim().to_string());
    }
    let last_from = instructions
        .iter()
        .rposition(|i| keyword(i) == "FROM")
        .map_or(0, |i| i + 1);
    instructions.split_off(last_from)
}

fn keyword(instruction: &str) -> String {
    instruction
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// `key=value` pairs of every LABEL instruction; values may be double-quoted with `\`
/// escapes. The legacy `LABEL key value` form is refused (hadolint prefers `=` too).
fn labels(stage: &[String]) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    for instruction in stage.iter().filter(|i| keyword(i) == "LABEL") {
        let mut rest = instruction["LABEL".len()..].chars().peekable();
        loop {
            while rest.next_if(|c| c.is_whitespace()).is_some() {}
            if rest.peek().is_none() {
                break;
            }
            let key = token(&mut rest, true)?;
            if rest.next() != Some('=') {
                return Err(format!(
                    "LABEL {key}: expected key=value in {instruction:?}"
                ));
            }
            let value = token(&mut rest, false)?;
            out.insert(key, value);
        }
    }
    Ok(out)
}

/// One key or value: quoted, or up to whitespace (keys also stop at `=`).
fn token(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    key: bool,
) -> Result<String, String> {
    let mut out = String::new();
    if chars.next_if_eq(&'"').is_some() {
        loop {
            match chars.next() {
                None => return Err(format!("unterminated quote after {out:?}")),
                Some('"') => return Ok(out),
                Some('\\') => out.extend(chars.next()),
                Some(c) => out.push(c),
            }
        }
    }
    while let Some(c) = chars.next_if(|&c| !(c.is_whitespace() || key && c == '=')) {
        out.push(c);
    }
    Ok(out)
}

/// The label check fails when a label is only in a comment, or has the wrong value.
#[test]
fn label_check_reads_instructions_not_comments() {
    let good = std::fs::read_to_string(repo_path("Dockerfile")).unwrap();
    assert_eq!(check_labels(&good), Ok(()));

    // The licenses label moved into a comment: still in the text, gone from the instruction.
    let commented = good.replace(
        "      org.opencontainers.image.licenses=\"Apache-2.0\" \\\n",
        "# org.opencontainers.image.licenses=\"Apache-2.0\"\n",
    );
    assert_ne!(commented, good, "fixture edit did not apply");
    assert!(commented.contains("org.opencontainers.image.licenses=\"Apache-2.0\""));
    let err = check_labels(&commented).unwrap_err();
    assert!(err.contains("image.licenses missing"), "{err}");

    // A label in the build stage only does not label the image.
    let early =
        "FROM a AS build\nLABEL org.opencontainers.image.title=\"ecr-exposure-exporter\"\nFROM b\n";
    let err = check_labels(early).unwrap_err();
    assert!(err.contains("image.title missing"), "{err}");

    let wrong = good.replace("licenses=\"Apache-2.0\"", "licenses=\"MIT\"");
    let err = check_labels(&wrong).unwrap_err();
    assert!(err.contains("licenses=\"MIT\""), "{err}");

    let legacy = "FROM b\nLABEL org.opencontainers.image.title ecr-exposure-exporter\n";
    assert!(
        check_labels(legacy)
            .unwrap_err()
            .contains("expected key=value")
    );
}

#[test]
fn docker_scripts_parse() {
    for script in [
        "scripts/docker-build-and-smoke.sh",
        "scripts/docker-base-images.sh",
    ] {
        run_ok(Command::new("bash").arg("-n").arg(repo_path(script)));
    }
}
