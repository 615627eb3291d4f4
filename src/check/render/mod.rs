//! The outputs of `check`, each derived from [`super::record::CheckRecord`] alone: text
//! blocks ([`text`]), JSON lines ([`json`]) and one SARIF 2.1.0 log ([`sarif`]).
//!
//! The verdict and grant wording shared by the text and SARIF outputs lives in one place
//! (`words`). Nothing here judges, reads files or writes to a stream.

pub mod json;
pub mod sarif;
pub mod text;
mod words;
