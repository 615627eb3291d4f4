//! Records the git revision for `--version` and `ecr_exposure_build_info`.
use std::process::Command;

fn main() {
    let revision = std::env::var("BUILD_GIT_REVISION")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=BUILD_GIT_REVISION={revision}");
    println!("cargo:rerun-if-env-changed=BUILD_GIT_REVISION");
    // HEAD names a branch; a commit moves the branch's ref, not HEAD: watch both (and
    // packed-refs, where git may keep the ref). Worktrees keep HEAD apart from the refs.
    for path in git_paths() {
        println!("cargo:rerun-if-changed={path}");
    }
}

/// HEAD, the ref it names and packed-refs, as paths git reports (none outside a checkout).
fn git_paths() -> Vec<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
    };
    let mut paths = Vec::new();
    let (Some(dir), Some(common)) = (
        git(&["rev-parse", "--absolute-git-dir"]),
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ) else {
        return paths;
    };
    paths.push(format!("{dir}/HEAD"));
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        paths.push(format!("{common}/{branch}"));
    }
    paths.push(format!("{common}/packed-refs"));
    // A path that does not exist counts as changed on every build: leave those out.
    paths.retain(|p| std::path::Path::new(p).exists());
    paths
}
