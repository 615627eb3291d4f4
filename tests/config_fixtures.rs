//! `config check` over the fixture files (the exporter-toolkit habit): every file in
//! `tests/fixtures/config/good` is accepted, every file in `bad` is refused with each message
//! its `# expect:` lines name. Adding a case is adding a file.

use std::path::{Path, PathBuf};
use std::process::Command;

fn files(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(kind);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no fixtures in {}", dir.display());
    out
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn config_check(file: &Path) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecr-exposure-exporter"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ECR_EXPOSURE_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .args(["config", "check"])
        .arg(file)
        .output()
        .expect("run the exporter");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The `# expect: TEXT` lines at the top of a bad fixture.
fn expectations(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .expect("read fixture")
        .lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn good_configurations_are_accepted() {
    let mut failures = Vec::new();
    for f in files("good") {
        let r = config_check(&f);
        if r.code != 0 || !r.stdout.ends_with("configuration OK\n") {
            failures.push(format!(
                "{}: exit {}\n{}{}",
                f.display(),
                r.code,
                r.stdout,
                r.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_configurations_are_refused_with_their_messages() {
    let mut failures = Vec::new();
    for f in files("bad") {
        let want = expectations(&f);
        assert!(!want.is_empty(), "{} has no `# expect:` line", f.display());
        let r = config_check(&f);
        if r.code != 2 || !r.stdout.is_empty() {
            failures.push(format!(
                "{}: exit {}, stdout {:?}",
                f.display(),
                r.code,
                r.stdout
            ));
        }
        if !r
            .stderr
            .starts_with("ecr-exposure-exporter: invalid configuration: ")
        {
            failures.push(format!("{}: error form: {}", f.display(), r.stderr));
        }
        for w in want.iter().filter(|w| !r.stderr.contains(w.as_str())) {
            failures.push(format!("{}: missing {w:?} in {}", f.display(), r.stderr));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
