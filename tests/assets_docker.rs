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
    for label in [
        "org.opencontainers.image.title",
        "org.opencontainers.image.version",
        "org.opencontainers.image.revision",
        "org.opencontainers.image.source",
        "org.opencontainers.image.licenses",
    ] {
        assert!(text.contains(label), "OCI label {label} missing");
    }
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
