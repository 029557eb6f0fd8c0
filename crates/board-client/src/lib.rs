//! # tallyboard-board-client
//!
//! What a party that talks to the bulletin board needs, and nothing of the
//! board itself (`spec/board.md`): [`BoardClient`], a gRPC client that
//! verifies every signed checkpoint, consistency and inclusion proof it is
//! handed against the board key it was given; [`verify_receipt`] for the
//! voters' receipts (`spec/board.md` §6); [`Frontier`], the compact state of a
//! log followed entry by entry; and [`fsutil`], durable file writes shared by
//! the services and tools.
//!
//! The voter client, the trustees' and administrator's tools, the witness and
//! the independent verifier depend on this crate, not on the board's server
//! or storage, so that an auditor builds the verifier alone.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

mod client;
mod frontier;
pub mod fsutil;
pub mod receipt;

pub use client::{BoardClient, ClientError, ClientTls, FoundByTracker};
pub use frontier::Frontier;
pub use receipt::{verify_receipt, verify_tlog_receipt, Receipt, ReceiptError, VerifiedReceipt};
