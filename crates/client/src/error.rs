//! The client's errors (`spec/client.md` §8): one enum, so a caller (the CLI,
//! a demo driving thousands of voters) can tell *who* failed — the voter's
//! input, the board's rules, the board's honesty, the device's honesty, or the
//! network.

use std::path::PathBuf;

use tallyboard_protocol::RuleError;

use crate::challenge::ChallengeReport;
use crate::selection::SelectionError;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Talking to the board failed, or something the board signed or proved
    /// does not verify (bad checkpoint signature, bad inclusion proof,
    /// inconsistent checkpoints). Inconsistency is evidence of a fork: keep
    /// both checkpoints.
    #[error(transparent)]
    Board(tallyboard_board_client::ClientError),
    /// The board (or, for a phase that is already over, the client itself
    /// from the record it replayed) refused an entry. `rule` is the rule of
    /// `spec/record.md` §6 the entry breaks, when named (e.g. `R3.3
    /// phase-allows`).
    #[error("refused ({code:?}): {message}")]
    Rejected {
        /// The gRPC status code.
        code: tonic::Code,
        /// The rule identifier and name, e.g. `R3.3 phase-allows`.
        rule: Option<String>,
        /// The full message.
        message: String,
    },
    /// The board served an entry that breaks the rules of the record: the
    /// board is faulty or dishonest. The entry index and the rule are the
    /// evidence.
    #[error("the board's record is invalid at entry {index}: {error}")]
    InvalidRecord {
        /// Log index of the offending entry.
        index: u64,
        /// The rule it breaks.
        error: RuleError,
    },
    /// The board's answers contradict each other or what the client sent
    /// (entries that do not hash to the signed root, an entry read back that
    /// is not the one appended, a receipt for another entry).
    #[error("the board's answer does not check out: {0}")]
    Mismatch(String),
    /// The manifest names another board than the one the client trusts.
    #[error("the manifest names board {manifest:?}, but this client trusts {configured:?}")]
    WrongBoard {
        /// `board_origin` (and key) of the manifest.
        manifest: String,
        /// The configured board key name.
        configured: String,
    },
    /// The election is not ready for this step (no manifest or no election
    /// key on the record yet).
    #[error("the election is not ready: {0}")]
    NotReady(String),
    /// The voter's selections are not valid for the district's contests.
    #[error(transparent)]
    Selection(#[from] SelectionError),
    /// A credential is unusable: malformed, for another election or
    /// district, or its issuer signature does not verify.
    #[error("credential: {0}")]
    Credential(String),
    /// Connecting to the issuer failed.
    #[error("issuer: {0}")]
    Issuer(String),
    /// Enrollment failed: a mistyped code, the issuer refused (its message
    /// names the rule), or its answer does not verify.
    #[error(transparent)]
    Enroll(tallyboard_issuer_client::ObtainError),
    /// A receipt file is malformed or does not verify.
    #[error("receipt: {0}")]
    Receipt(String),
    /// Encrypting or proving a ballot failed.
    #[error("ballot: {0}")]
    Ballot(String),
    /// A challenged ballot's reveal does not re-encrypt to its ciphertexts
    /// (rule R7.1): the device or the board is lying.
    #[error("the challenged ballot does not open to its ciphertexts: {0}")]
    ChallengeInvalid(RuleError),
    /// Benaloh challenge: the device encrypted something other than what the
    /// voter intended. The report says which contests differ. Do not use
    /// this device.
    #[error("the device encrypted something else than intended ({} contest(s) differ): do not cast with this device", .0.mismatches().count())]
    ChallengeMismatch(Box<ChallengeReport>),
    /// Reading or writing a file.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A background task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ClientError {
    /// The rule this error names, if it is a refusal or an invalid record.
    pub fn rule(&self) -> Option<&str> {
        match self {
            ClientError::Rejected { rule, .. } => rule.as_deref(),
            ClientError::InvalidRecord { error, .. } | ClientError::ChallengeInvalid(error) => {
                Some(error.rule)
            }
            _ => None,
        }
    }

    /// The gRPC code of a refusal by the board.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Rejected { code, .. } => Some(*code),
            ClientError::Board(tallyboard_board_client::ClientError::Status(s)) => Some(s.code()),
            _ => None,
        }
    }

    pub(crate) fn io(
        what: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_owned();
        move |source| ClientError::Io { what, path, source }
    }
}

/// A refusal by a service: the status with the rule its message names
/// (`"rule R3.3 phase-allows: ..."`, `spec/board.md` §5.7).
pub(crate) fn rejected(status: &tonic::Status) -> ClientError {
    let message = status.message().to_owned();
    let rule = message
        .strip_prefix("rule ")
        .and_then(|rest| rest.split_once(':'))
        .map(|(rule, _)| rule.to_owned());
    ClientError::Rejected {
        code: status.code(),
        rule,
        message,
    }
}

/// Maps a board client error: an entry refused by the rules becomes
/// [`ClientError::Rejected`]; everything else stays a board error.
pub(crate) fn from_append(e: tallyboard_board_client::ClientError) -> ClientError {
    use tonic::Code;
    match &e {
        tallyboard_board_client::ClientError::Status(s)
            if matches!(
                s.code(),
                Code::InvalidArgument
                    | Code::FailedPrecondition
                    | Code::AlreadyExists
                    | Code::PermissionDenied
                    | Code::ResourceExhausted
                    | Code::NotFound
            ) =>
        {
            rejected(s)
        }
        _ => ClientError::Board(e),
    }
}

impl From<tallyboard_board_client::ClientError> for ClientError {
    fn from(e: tallyboard_board_client::ClientError) -> Self {
        ClientError::Board(e)
    }
}
