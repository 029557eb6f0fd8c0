//! Rule violations (`spec/record.md` §6). Every rejection names the rule it
//! breaks, so a gRPC status, a verifier report and a test can all say *which*
//! rule failed.

use std::fmt;

/// The class of a rule violation, mapped one-to-one to a gRPC status code by
/// the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleErrorKind {
    /// The entry is malformed or its content is invalid (bad encoding, bad
    /// proof, bad signature).
    InvalidArgument,
    /// The entry is well formed but not allowed at this point of the record
    /// (wrong phase, missing prerequisite).
    FailedPrecondition,
    /// The entry, or something it claims, is already on the record.
    AlreadyExists,
    /// The entry is signed by a key that may not post it.
    PermissionDenied,
    /// The entry exceeds a size or count limit.
    ResourceExhausted,
    /// The entry refers to something that is not on the record.
    NotFound,
}

/// A rule of `spec/record.md` that an entry breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// Which class of failure this is.
    pub kind: RuleErrorKind,
    /// The rule's number and name, e.g. `"R1.3 entry-signature"`.
    pub rule: &'static str,
    /// What exactly was wrong.
    pub message: String,
}

impl RuleError {
    /// A new rule error.
    pub fn new(kind: RuleErrorKind, rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            rule,
            message: message.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {}: {}", self.rule, self.message)
    }
}

impl std::error::Error for RuleError {}

/// Shorthands used throughout the rule modules.
pub(crate) fn invalid(rule: &'static str, msg: impl Into<String>) -> RuleError {
    RuleError::new(RuleErrorKind::InvalidArgument, rule, msg)
}
pub(crate) fn precondition(rule: &'static str, msg: impl Into<String>) -> RuleError {
    RuleError::new(RuleErrorKind::FailedPrecondition, rule, msg)
}
pub(crate) fn exists(rule: &'static str, msg: impl Into<String>) -> RuleError {
    RuleError::new(RuleErrorKind::AlreadyExists, rule, msg)
}
pub(crate) fn denied(rule: &'static str, msg: impl Into<String>) -> RuleError {
    RuleError::new(RuleErrorKind::PermissionDenied, rule, msg)
}
pub(crate) fn too_big(rule: &'static str, msg: impl Into<String>) -> RuleError {
    RuleError::new(RuleErrorKind::ResourceExhausted, rule, msg)
}
