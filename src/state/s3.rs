//! The S3 state backend: one object per account (`s3://<bucket>/<prefix><account_id>.json`,
//! an [`AccountState`]), so that the replica which owns an account after a reshard or a pod
//! move continues its findings' first-seen times.
//!
//! - **Reads**: an account's object is read the first time this process sees the account in a
//!   cycle's results (at start-up, and when a reshard hands it an account it did not own)
//!   and merged into the tracker before the cycle is applied. No listing: the exporter needs
//!   `s3:GetObject` and `s3:PutObject` on the prefix only. An account that leaves the results
//!   of a cycle with at least one successful scan is forgotten here, so that it is read again
//!   if it comes back (another replica may have written it meanwhile).
//! - **Writes** are conditional: `If-Match: <ETag>` when the object was read, `If-None-Match: *`
//!   when it did not exist (or could not be read). A 412 `PreconditionFailed`, a 409
//!   `ConditionalRequestConflict` or a 404 on `If-Match` means another writer got there
//!   first: the object is read again, merged ([`per_account::merge`]: never loses a
//!   first-seen time, never resurrects what the newest scan resolved), the merge is taken into
//!   the tracker and the write retried, [`MAX_WRITE_ATTEMPTS`] times at most. Never a blind
//!   overwrite.
//! - **Only changes are written**: an object is put when its findings, first-seen times or
//!   targets change, or a target's last success moved by [`LAST_SUCCESS_REFRESH`]; an
//!   unchanged organization costs no S3 call per cycle.
//! - **A corrupt object** (unparseable, unknown version, another account's data) is copied
//!   aside to `<key>.corrupt-<UTC time>` (never losing it), counted like a corrupt state file,
//!   and the account starts fresh: the next write replaces it (still conditionally). When the
//!   copy fails, the object is left alone and the account unread, as in an outage.
//! - **An outage** (unreachable bucket, access denied, missing bucket) fails the read or the
//!   write of that account; it is reported to the caller (who counts it), nothing in memory is
//!   lost, and the next cycle tries again. A call that gets no answer at all (timeout,
//!   connection failure) stops the other accounts' calls for the rest of the cycle, so a
//!   bucket that does not answer costs one round of timeouts per cycle, not one per account.
//!
//! Every call goes through [`Aws::send`] (counted as `service="s3"`). No decisions about
//! findings here besides the merge: the tracker owns the lifecycle.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::StreamExt;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::aws::{ApiErrorCode, Aws, CallError};
use crate::model::FindingKey;
use crate::state::lifecycle::Tracker;
use crate::state::per_account::{self, AccountState, Fingerprint};
use crate::state::store::utc_stamp;

/// Attempts of one account's write when other writers keep changing the object.
pub const MAX_WRITE_ATTEMPTS: u32 = 4;

/// A target's last-success time alone is rewritten once it is this much older than the
/// current one (see [`AccountState::differs`]).
pub const LAST_SUCCESS_REFRESH: Duration = Duration::from_secs(3600);

/// Accounts read or written at once.
const PARALLEL: usize = 16;

/// Where the state objects live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Empty, or ends with `/`.
    pub prefix: String,
}

impl S3Location {
    /// The object key of one account.
    pub fn key(&self, account_id: &str) -> String {
        format!("{}{account_id}.json", self.prefix)
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// What the bucket holds for one account, as far as this process knows.
#[derive(Debug, Clone)]
enum Object {
    /// No object: the next write uses `If-None-Match: *`.
    Absent,
    /// The object at `etag`; `None` when it was corrupt (copied aside, to be replaced).
    Present {
        etag: String,
        stored: Option<Fingerprint>,
    },
}

/// An object as read: whole, for the merge.
#[derive(Debug)]
enum Fetched {
    Absent,
    Present {
        etag: String,
        doc: Option<AccountState>,
    },
}

impl Fetched {
    /// What to remember of it.
    fn remembered(&self) -> Object {
        match self {
            Fetched::Absent => Object::Absent,
            Fetched::Present { etag, doc } => Object::Present {
                etag: etag.clone(),
                stored: doc.as_ref().map(AccountState::fingerprint),
            },
        }
    }
}

/// What the process knows of the bucket.
#[derive(Debug, Default)]
struct Known {
    objects: BTreeMap<String, Object>,
    /// Accounts of the last cycle's results: the ones this replica writes.
    owned: BTreeSet<String>,
}

/// Outcome of reading the accounts a cycle brought in.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Objects read (found or not).
    pub read: usize,
    /// Objects that held state and were merged into the tracker.
    pub restored: usize,
    /// Corrupt objects: (account, what is wrong, where the copy went or why it could not).
    pub corrupt: Vec<(String, String, String)>,
    /// Reads that failed (outage): retried next cycle.
    pub failed: Vec<(String, CallError)>,
}

/// Outcome of writing the owned accounts.
#[derive(Debug, Default)]
pub struct SaveReport {
    pub written: usize,
    pub unchanged: usize,
    /// Conditional writes that found the object changed by someone else (each merged).
    pub conflicts: u64,
    /// Accounts whose write failed this time: (account, why); retried next cycle.
    pub failed: Vec<(String, String)>,
    /// Corrupt objects met on a re-read (copied aside as in [`LoadReport::corrupt`]).
    pub corrupt: Vec<(String, String, String)>,
    /// Findings whose first-seen time a merge moved earlier: another writer had seen them
    /// first, so this replica's opening of them is not a new finding.
    pub adopted: Vec<FindingKey>,
}

/// The S3 backend: client, location and the ETags of the objects this process read or wrote.
#[derive(Debug)]
pub struct S3Store {
    aws: Aws,
    client: aws_sdk_s3::Client,
    location: S3Location,
    known: Mutex<Known>,
    /// Set when a call got no answer at all (timeout, connection failure) in this cycle: the
    /// remaining accounts are not tried until the next cycle, so a bucket that does not
    /// answer costs one round of timeouts per cycle, not one per account.
    silent: AtomicBool,
}

/// One account's write, computed without the lock.
struct WriteJob {
    account: String,
    mine: AccountState,
    prior: Option<Object>,
}

/// One account's write result.
#[derive(Default)]
struct WriteResult {
    object: Option<Object>,
    conflicts: u64,
    merged: Option<AccountState>,
    error: Option<String>,
    corrupt: Option<(String, String, String)>,
}

enum PutError {
    /// Someone else changed (or deleted) the object since it was read.
    Conflict,
    Other(CallError),
}

impl S3Store {
    pub fn new(aws: Aws, client: aws_sdk_s3::Client, location: S3Location) -> S3Store {
        S3Store {
            aws,
            client,
            location,
            known: Mutex::new(Known::default()),
            silent: AtomicBool::new(false),
        }
    }

    /// [`Aws::send`], unless the bucket went silent earlier in this cycle.
    async fn send<T, E, R>(
        &self,
        service: &'static str,
        operation: &'static str,
        call: impl Future<Output = Result<T, SdkError<E, R>>>,
    ) -> Result<T, CallError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        if self.silent.load(Ordering::Relaxed) {
            return Err(CallError {
                class: ApiErrorCode::Other,
                aws_code: None,
                message: format!(
                    "not tried: {} did not answer an earlier call of this cycle",
                    self.location
                ),
            });
        }
        let result = self.aws.send(service, operation, call).await;
        if let Err(e) = &result
            && e.aws_code.is_none()
        {
            self.silent.store(true, Ordering::Relaxed);
        }
        result
    }

    pub fn location(&self) -> &S3Location {
        &self.location
    }

    /// Before a cycle is applied: read the objects of the cycle's accounts not read yet and
    /// merge them into the tracker. `any_success` is whether the cycle scanned something (a
    /// failed discovery lists no account and must not make the process forget them).
    pub async fn take_over(
        &self,
        tracker: &mut Tracker,
        accounts: BTreeSet<String>,
        any_success: bool,
        now: OffsetDateTime,
    ) -> LoadReport {
        let mut known = self.known.lock().await;
        self.silent.store(false, Ordering::Relaxed);
        if any_success {
            known.objects.retain(|a, _| accounts.contains(a));
            known.owned = accounts;
        } else {
            known.owned.extend(accounts);
        }
        let missing: Vec<String> = known
            .owned
            .iter()
            .filter(|a| !known.objects.contains_key(*a))
            .cloned()
            .collect();
        let mut report = LoadReport::default();
        if missing.is_empty() {
            return report;
        }
        let reads: Vec<(String, Result<Fetched, CallError>, Option<_>)> =
            futures::stream::iter(missing)
                .map(|a| async move {
                    let (object, corrupt) = match self.read(&a, now).await {
                        Ok((o, c)) => (Ok(o), c),
                        Err(e) => (Err(e), None),
                    };
                    (a, object, corrupt)
                })
                .buffer_unordered(PARALLEL)
                .collect()
                .await;
        let mut local = per_account::split(tracker.to_state(now));
        for (account, object, corrupt) in reads {
            report.corrupt.extend(corrupt);
            match object {
                Ok(fetched) => {
                    report.read += 1;
                    if let Fetched::Present {
                        doc: Some(theirs), ..
                    } = &fetched
                    {
                        let merged = match local.remove(&account) {
                            Some(mine) => per_account::merge(&mine, theirs),
                            None => theirs.clone(),
                        };
                        tracker.restore(merged.to_state_file());
                        report.restored += 1;
                    }
                    known.objects.insert(account, fetched.remembered());
                }
                Err(e) => report.failed.push((account, e)),
            }
        }
        report
    }

    /// Write every owned account whose state changed; merge on conflicts (the merge is taken
    /// into the tracker too).
    pub async fn save(&self, tracker: &mut Tracker, now: OffsetDateTime) -> SaveReport {
        let mut known = self.known.lock().await;
        let mut docs = per_account::split(tracker.to_state(now));
        let mut report = SaveReport::default();
        let mut jobs = Vec::new();
        for account in &known.owned {
            let Some(mine) = docs.remove(account) else {
                continue;
            };
            let prior = known.objects.get(account).cloned();
            if let Some(Object::Present {
                stored: Some(stored),
                ..
            }) = &prior
                && !stored.differs(&mine, LAST_SUCCESS_REFRESH)
            {
                report.unchanged += 1;
                continue;
            }
            jobs.push(WriteJob {
                account: account.clone(),
                mine,
                prior,
            });
        }
        let results: Vec<(String, AccountState, WriteResult)> = futures::stream::iter(jobs)
            .map(|job| async move {
                let result = self.write(&job, now).await;
                (job.account, job.mine, result)
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        for (account, mine, r) in results {
            report.conflicts += r.conflicts;
            report.corrupt.extend(r.corrupt);
            if let Some(merged) = r.merged {
                report.adopted.extend(earlier_first_seen(&mine, &merged));
                tracker.restore(merged.to_state_file());
            }
            match r.error {
                Some(e) => report.failed.push((account.clone(), e)),
                None => report.written += 1,
            }
            if let Some(object) = r.object {
                known.objects.insert(account, object);
            }
        }
        report
    }

    /// Put one account, re-reading and merging on conflicts.
    async fn write(&self, job: &WriteJob, now: OffsetDateTime) -> WriteResult {
        let mut result = WriteResult::default();
        let mut body = job.mine.clone();
        // `None`: If-None-Match (absent, or never read because the read failed).
        let mut if_match = match &job.prior {
            Some(Object::Present { etag, .. }) => Some(etag.clone()),
            Some(Object::Absent) | None => None,
        };
        for _ in 0..MAX_WRITE_ATTEMPTS {
            match self.put(&job.account, &body, if_match.as_deref()).await {
                Ok(etag) => {
                    result.object = Some(Object::Present {
                        etag,
                        stored: Some(body.fingerprint()),
                    });
                    return result;
                }
                Err(PutError::Other(e)) => {
                    result.error = Some(e.message);
                    return result;
                }
                Err(PutError::Conflict) => result.conflicts += 1,
            }
            let (object, corrupt) = match self.read(&job.account, now).await {
                Ok(x) => x,
                Err(e) => {
                    result.error = Some(format!("re-reading after a conflict: {}", e.message));
                    return result;
                }
            };
            result.corrupt = corrupt.or(result.corrupt.take());
            match object {
                Fetched::Absent => if_match = None,
                Fetched::Present { etag, doc } => {
                    if_match = Some(etag.clone());
                    body = match &doc {
                        Some(theirs) => per_account::merge(&job.mine, theirs),
                        None => job.mine.clone(),
                    };
                    if doc.as_ref().is_some_and(|d| d.same_content(&body)) {
                        // The other writer's version already says everything: nothing to put.
                        result.merged = Some(body);
                        result.object = Some(Fetched::Present { etag, doc }.remembered());
                        return result;
                    }
                    if !body.same_content(&job.mine) {
                        result.merged = Some(body.clone());
                    }
                }
            }
        }
        result.error = Some(format!(
            "gave up after {MAX_WRITE_ATTEMPTS} conditional writes that all conflicted"
        ));
        result
    }

    /// One conditional PutObject; the new ETag.
    async fn put(
        &self,
        account: &str,
        doc: &AccountState,
        if_match: Option<&str>,
    ) -> Result<String, PutError> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.location.bucket)
            .key(self.location.key(account))
            .content_type("application/json")
            .body(ByteStream::from(doc.to_bytes()));
        req = match if_match {
            Some(etag) => req.if_match(etag),
            None => req.if_none_match("*"),
        };
        match self.send("s3", "PutObject", req.send()).await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
            Err(e) => match e.aws_code.as_deref() {
                Some("PreconditionFailed" | "ConditionalRequestConflict") => {
                    Err(PutError::Conflict)
                }
                // If-Match on an object that was deleted meanwhile.
                Some("NoSuchKey") if if_match.is_some() => Err(PutError::Conflict),
                _ => Err(PutError::Other(e)),
            },
        }
    }

    /// Read one account's object; a corrupt one is copied aside and reported.
    async fn read(
        &self,
        account: &str,
        now: OffsetDateTime,
    ) -> Result<(Fetched, Option<(String, String, String)>), CallError> {
        let key = self.location.key(account);
        let req = self
            .client
            .get_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .send();
        let out = match self.send("s3", "GetObject", req).await {
            Ok(out) => out,
            Err(e) if e.aws_code.as_deref() == Some("NoSuchKey") => {
                return Ok((Fetched::Absent, None));
            }
            Err(e) => return Err(e),
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| CallError {
                class: ApiErrorCode::Other,
                aws_code: None,
                message: format!("reading s3://{}/{key}: {e}", self.location.bucket),
            })?
            .into_bytes();
        if etag.is_empty() {
            return Err(CallError {
                class: ApiErrorCode::Other,
                aws_code: None,
                message: format!("s3://{}/{key} came without an ETag", self.location.bucket),
            });
        }
        match AccountState::parse(&bytes, account) {
            Ok(doc) => Ok((
                Fetched::Present {
                    etag,
                    doc: Some(doc),
                },
                None,
            )),
            Err(problem) => match self.copy_aside(&key, &bytes, now).await {
                Ok(aside) => {
                    let corrupt = (account.to_string(), problem, aside);
                    Ok((Fetched::Present { etag, doc: None }, Some(corrupt)))
                }
                // Never replace what could not be kept: the account stays unread (and so
                // unwritten over) until the copy succeeds.
                Err(e) => Err(CallError {
                    message: format!(
                        "s3://{}/{key} is corrupt ({problem}) and could not be copied aside, \
                         so it is left as it is: {}",
                        self.location.bucket, e.message
                    ),
                    ..e
                }),
            },
        }
    }

    /// Keep a corrupt object's bytes next to it; where they went.
    async fn copy_aside(
        &self,
        key: &str,
        bytes: &[u8],
        now: OffsetDateTime,
    ) -> Result<String, CallError> {
        let aside = format!("{key}.corrupt-{}", utc_stamp(now));
        let req = self
            .client
            .put_object()
            .bucket(&self.location.bucket)
            .key(&aside)
            .if_none_match("*")
            .body(ByteStream::from(bytes.to_vec()))
            .send();
        match self.send("s3", "PutObject", req).await {
            Ok(_) => Ok(format!("s3://{}/{aside}", self.location.bucket)),
            // A copy of this second is there already.
            Err(e) if e.aws_code.as_deref() == Some("PreconditionFailed") => {
                Ok(format!("s3://{}/{aside}", self.location.bucket))
            }
            Err(e) => Err(e),
        }
    }
}

/// Keys whose first-seen time is earlier in `merged` than in `mine`.
fn earlier_first_seen(mine: &AccountState, merged: &AccountState) -> Vec<FindingKey> {
    let before: BTreeMap<&FindingKey, i64> = mine
        .findings
        .iter()
        .map(|f| (&f.key, f.first_seen))
        .collect();
    merged
        .findings
        .iter()
        .filter(|f| before.get(&f.key).is_some_and(|t| f.first_seen < *t))
        .map(|f| f.key.clone())
        .collect()
}
