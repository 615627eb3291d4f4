//! The state file: first-seen times of open findings, written atomically after every cycle.
//!
//! Write = temp file in the same directory, fsync, rename over the old file, fsync the
//! directory; a crash leaves either the old or the new file, never a torn one. A file that
//! cannot be read or parsed is moved aside and the daemon starts fresh (it never refuses to
//! start because of its own state).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::facts::UnknownReason;
use crate::model::{Access, FindingKey, TargetId};

/// Current layout version; bump on incompatible changes (an unknown version is treated as corrupt).
pub const STATE_VERSION: u32 = 1;

/// What is persisted: enough to keep first-seen times and to keep exporting a target's open
/// findings after a restart even if its first scan fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    pub version: u32,
    /// Unix seconds when this file was written.
    pub written_at: i64,
    pub findings: Vec<PersistedFinding>,
    pub targets: Vec<PersistedTarget>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistedFinding {
    #[serde(flatten)]
    pub key: FindingKey,
    /// Unix seconds.
    pub first_seen: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<UnknownReason>,
    /// The repository's tags as `ecr_exposure_repository_info` showed them when this was
    /// written (`None` for registry findings, and for files from before it was kept). Until
    /// its first successful scan in the new process, a restored repository is exported with
    /// them, so the alerts that join the info series for `owner_tag` keep their labels (and
    /// their identity in Alertmanager) across a restart or a move to another shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_info: Option<PersistedRepoInfo>,
}

/// The tags of a repository with open findings: [`crate::snapshot::RepoInfo`] without the name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedRepoInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistedTarget {
    #[serde(flatten)]
    pub target: TargetId,
    /// Unix seconds of the last successful scan, for the staleness gauge after a restart.
    #[serde(default)]
    pub last_success: Option<i64>,
}

/// Result of reading the state file at start.
#[derive(Debug)]
pub enum Loaded {
    /// No file yet: first start.
    Fresh,
    Restored(StateFile),
    /// Unreadable or unparseable: moved aside (when possible); start fresh.
    Corrupt {
        error: String,
        moved_to: Option<PathBuf>,
    },
}

/// Read the state file; never fails: problems come back as [`Loaded::Corrupt`].
pub fn load(path: &Path, now: OffsetDateTime) -> Loaded {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Loaded::Fresh,
        Err(e) => return corrupt(path, now, format!("cannot read: {e}")),
    };
    match serde_json::from_slice::<StateFile>(&bytes) {
        Ok(state) if state.version == STATE_VERSION => Loaded::Restored(state),
        Ok(state) => corrupt(
            path,
            now,
            format!(
                "unsupported state version {} (expected {STATE_VERSION})",
                state.version
            ),
        ),
        Err(e) => corrupt(path, now, format!("cannot parse: {e}")),
    }
}

fn corrupt(path: &Path, now: OffsetDateTime, error: String) -> Loaded {
    let aside = aside_path(path, now);
    let moved_to = fs::rename(path, &aside).ok().map(|()| aside);
    Loaded::Corrupt { error, moved_to }
}

/// `<path>.corrupt-<UTC timestamp>`: next to the original so an operator finds it.
pub fn aside_path(path: &Path, now: OffsetDateTime) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".corrupt-{}", utc_stamp(now)));
    PathBuf::from(name)
}

/// `20231114T221500Z`: the suffix of a corrupt state set aside (file or S3 object).
pub(crate) fn utc_stamp(now: OffsetDateTime) -> String {
    let now = now.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Write the state atomically (temp file, fsync, rename, fsync directory).
pub fn save(path: &Path, state: &StateFile) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "state path has no file name")
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let body = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&body)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::FindingKind;

    fn sample() -> StateFile {
        StateFile {
            version: STATE_VERSION,
            written_at: 1_700_000_000,
            findings: vec![PersistedFinding {
                key: FindingKey {
                    account_id: "111111111111".into(),
                    region: "eu-west-1".into(),
                    repository: "app".into(),
                    kind: FindingKind::PublicExposure,
                    detail: String::new(),
                },
                first_seen: 1_699_000_000,
                access: Some(Access::Read),
                reason: None,
                repository_info: Some(PersistedRepoInfo {
                    owner_tag: Some("team-payments".into()),
                    managed_by: None,
                }),
            }],
            targets: vec![PersistedTarget {
                target: TargetId {
                    account_id: "111111111111".into(),
                    region: "eu-west-1".into(),
                },
                last_success: Some(1_700_000_000),
            }],
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_100).unwrap()
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        save(&path, &sample()).unwrap();
        match load(&path, now()) {
            Loaded::Restored(s) => assert_eq!(s, sample()),
            other => panic!("expected restored, got {other:?}"),
        }
        // No temp file left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn missing_file_is_fresh() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load(&dir.path().join("none.json"), now()),
            Loaded::Fresh
        ));
    }

    #[test]
    fn corrupt_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, b"{not json").unwrap();
        match load(&path, now()) {
            Loaded::Corrupt { moved_to, error } => {
                let moved = moved_to.expect("moved aside");
                assert!(
                    moved
                        .to_string_lossy()
                        .ends_with(".corrupt-20231114T221500Z")
                );
                assert_eq!(fs::read(&moved).unwrap(), b"{not json");
                assert!(!path.exists());
                assert!(error.contains("parse"), "{error}");
            }
            other => panic!("expected corrupt, got {other:?}"),
        }
    }

    #[test]
    fn unknown_version_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut s = sample();
        s.version = 99;
        fs::write(&path, serde_json::to_vec(&s).unwrap()).unwrap();
        assert!(matches!(load(&path, now()), Loaded::Corrupt { .. }));
    }
}
