//! The authorities' error type.

use std::path::PathBuf;
use std::time::Duration;

use tallyboard_board_client::ClientError;
use tallyboard_protocol::RuleError;
use tallyboard_threshold::ThresholdError;

/// Why an administrator or trustee operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    /// A file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A key or state file is malformed or unsafe.
    #[error("{}: {message}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A key given on the command line or in a manifest is malformed.
    #[error("{0}")]
    BadKey(String),
    /// The manifest file is malformed or invalid.
    #[error("{0}")]
    Manifest(String),
    /// Talking to the board failed, or the board's answer did not verify.
    #[error(transparent)]
    Board(#[from] ClientError),
    /// The board refused an entry; the message names the rule
    /// (`spec/record.md` §6).
    #[error("the board refused the {what}: {status}")]
    Rejected {
        /// What was posted.
        what: String,
        /// The board's status code.
        code: tonic::Code,
        /// The board's message (`rule R… …: …`).
        status: String,
    },
    /// An entry on the board breaks the record's rules, or the board's log
    /// does not match its signed checkpoint: the board cannot be trusted.
    #[error("the board's record is invalid: {0}")]
    BadRecord(String),
    /// This party's own entry would break a rule (checked before posting).
    #[error("{0}")]
    Rule(#[from] RuleError),
    /// A threshold-cryptography step failed.
    #[error("{0}")]
    Threshold(#[from] ThresholdError),
    /// The record is not (yet) in a state that allows the operation.
    #[error("{0}")]
    NotReady(String),
    /// Waiting for something on the record took too long.
    #[error("timed out after {:?} waiting for {what}", .after)]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        after: Duration,
    },
    /// What this party holds (keys, state, share) does not belong to this
    /// election or this party.
    #[error("{0}")]
    Mismatch(String),
}

impl AuthorityError {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| AuthorityError::Io { what, path, source }
    }

    /// The gRPC code, if the board refused an entry.
    pub fn rejected_code(&self) -> Option<tonic::Code> {
        match self {
            AuthorityError::Rejected { code, .. } => Some(*code),
            _ => None,
        }
    }
}
