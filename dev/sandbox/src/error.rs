//! Errors of building a sandbox.

use std::path::PathBuf;

/// Why a sandbox could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The activities file could not be read.
    #[error("cannot read the activities file {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The activities file is not JSON, or not an array of objects.
    #[error("the activities file {path} must hold a JSON array of SmashRun activity objects")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// The JSON error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// One activity lacks what the sandbox needs (an integer `activityId`, `startDateTimeLocal`, `distance`,
    /// `duration`) or has unreadable dates.
    #[error("activity #{index} (activityId {id}) is not a SmashRun activity: {reason}")]
    InvalidActivity {
        /// Position in the array, from 0.
        index: usize,
        /// Its `activityId` as written, or `?`.
        id: String,
        /// What is wrong, and which key.
        reason: String,
    },
    /// Two activities share an id.
    #[error("activityId {0} appears more than once; activity ids must be unique")]
    DuplicateActivityId(i64),
    /// A setting cannot work.
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
}
