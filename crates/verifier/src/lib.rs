//! # tallyboard-verifier
//!
//! The independent verifier of a tallyboard election record, for auditors
//! and observers who trust none of the services. It needs the record (a
//! board's log, exported to a file or downloaded live) and nothing else, and
//! runs the numbered checks of `spec/checks.md`:
//!
//! * the record's rules are those of the board — the verifier replays every
//!   entry through [`tallyboard_protocol::RecordState`], so the board and
//!   the verifier cannot disagree about a rule; each rule violation is
//!   reported under the check it belongs to ([`checks::check_of_rule`]);
//! * on top of the rules it recomputes what it can on its own: the Merkle
//!   tree and every checkpoint's consistency, the aggregates of the counted
//!   ballots, which ballot counted per credential, credentials used per
//!   district, the combination of the partial decryptions;
//! * it streams (memory bounded by counts, not sizes) and uses every core,
//!   with ballot proofs verified in batches ([`verify`]).
//!
//! [`report_html`] renders a report as a self-contained HTML page for
//! auditors to read, print and archive.
//!
//! [`incremental`] verifies a live board run after run, applying only the
//! entries that are new since the last run.
//!
//! [`split`] splits a verification of a record file into parts that run
//! independently (any batch system, any machines) and merges them into the
//! report of one whole run.
//!
//! [`generate`] makes complete valid records for tests and benchmarks;
//! [`export`] writes a board's record to a file (`spec/export.md`).
#![deny(unsafe_code)]
#![warn(clippy::unwrap_used, missing_docs)]

pub mod checks;
pub mod cli;
pub mod export;
pub mod generate;
pub mod incremental;
pub mod record;
pub mod report;
pub mod report_html;
pub mod split;
pub mod tree;
pub mod verify;

pub use export::{export_record, ExportError, ExportSummary};
pub use report::{Report, Status};
pub use report_html::HtmlContext;
pub use verify::{verify_bytes, verify_file, VerifyError, VerifyOptions};
