//! The board's error types (`spec/board.md` §5.7): one for requests, one for
//! opening (recovering) a board.

use tallyboard_protocol::{RuleError, RuleErrorKind};
use tonic::{Code, Status};

use crate::keys::KeyFileError;
use crate::storage::StorageError;

/// Why a request failed. Converts to a gRPC [`Status`] whose message names
/// the rule (for [`BoardError::Rejected`]) or the board limit that applies.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// The entry breaks a rule of the record (`spec/record.md` §6). The log
    /// is unchanged.
    #[error("{0}")]
    Rejected(RuleError),
    /// An index or tree size beyond the log.
    #[error("{0}")]
    OutOfRange(String),
    /// A malformed request (other than the entry itself).
    #[error("{0}")]
    InvalidArgument(String),
    /// Nothing on the log matches (a tracker lookup).
    #[error("{0}")]
    NotFound(String),
    /// The request is well formed but the board's state does not allow it
    /// (a cosignature before the manifest is on the log).
    #[error("{0}")]
    FailedPrecondition(String),
    /// A board limit was hit (too many streams).
    #[error("{0}")]
    ResourceExhausted(String),
    /// The board is shutting down, or its sequencer stopped after a storage
    /// failure. Retry later (against a restarted board).
    #[error("{0}")]
    Unavailable(String),
    /// Storage failed while reading. Details are logged, not returned.
    #[error("board storage error")]
    Storage(#[source] StorageError),
    /// Another internal failure (a worker task died). Details are logged.
    #[error("internal board error: {0}")]
    Internal(String),
}

impl BoardError {
    pub(crate) fn sequencer_stopped() -> Self {
        BoardError::Unavailable(
            "board.sequencer: the sequencer stopped after a storage failure; the entry was not appended"
                .into(),
        )
    }

    pub(crate) fn closing() -> Self {
        BoardError::Unavailable("board.shutdown: the board is shutting down".into())
    }

    /// The gRPC code of this error.
    pub fn code(&self) -> Code {
        match self {
            BoardError::Rejected(rule) => rule_code(rule.kind),
            BoardError::OutOfRange(_) => Code::OutOfRange,
            BoardError::InvalidArgument(_) => Code::InvalidArgument,
            BoardError::NotFound(_) => Code::NotFound,
            BoardError::FailedPrecondition(_) => Code::FailedPrecondition,
            BoardError::ResourceExhausted(_) => Code::ResourceExhausted,
            BoardError::Unavailable(_) => Code::Unavailable,
            BoardError::Storage(_) | BoardError::Internal(_) => Code::Internal,
        }
    }
}

/// The gRPC code of a rule violation: one to one (`spec/board.md` §5.7).
pub fn rule_code(kind: RuleErrorKind) -> Code {
    match kind {
        RuleErrorKind::InvalidArgument => Code::InvalidArgument,
        RuleErrorKind::FailedPrecondition => Code::FailedPrecondition,
        RuleErrorKind::AlreadyExists => Code::AlreadyExists,
        RuleErrorKind::PermissionDenied => Code::PermissionDenied,
        RuleErrorKind::ResourceExhausted => Code::ResourceExhausted,
        RuleErrorKind::NotFound => Code::NotFound,
    }
}

impl From<BoardError> for Status {
    fn from(e: BoardError) -> Status {
        if let BoardError::Storage(inner) = &e {
            tracing::error!(error = %inner, "storage read failed");
        }
        if let BoardError::Internal(inner) = &e {
            tracing::error!(error = %inner, "internal error");
        }
        Status::new(e.code(), e.to_string())
    }
}

impl From<StorageError> for BoardError {
    fn from(e: StorageError) -> Self {
        BoardError::Storage(e)
    }
}

/// Why a board could not be opened. Corruption is reported with the index
/// or table where it was found; the board refuses to serve a log it cannot
/// vouch for.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory, its key or its lock.
    #[error(transparent)]
    DataDir(#[from] KeyFileError),
    /// The storage backend.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored entry fails re-validation against the rules of the record.
    #[error("corrupt log: stored entry {index} fails re-validation: {error}")]
    InvalidEntry {
        /// Its log index.
        index: u64,
        /// The rule it breaks.
        error: RuleError,
    },
    /// Stored hashes, entries and checkpoints disagree.
    #[error("corrupt log: {0}")]
    Corrupt(String),
}
