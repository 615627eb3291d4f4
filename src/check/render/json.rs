//! `check --format json`: one JSON object per record, one per line (the shape is
//! [`CheckRecord`]'s `Serialize`).

use crate::check::record::CheckRecord;

/// The JSON line of one record, without the newline.
pub fn line(rec: &CheckRecord) -> serde_json::Result<String> {
    serde_json::to_string(rec)
}
