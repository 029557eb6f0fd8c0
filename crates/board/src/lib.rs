//! # tallyboard-board
//!
//! The public bulletin board of a tallyboard election: an append-only,
//! durable, signed Merkle log of the election record, served over gRPC
//! (`tallyboard.v1.Board`). `spec/board.md` is the authoritative description;
//! items cite its sections.
//!
//! - [`storage`]: the [`Storage`] trait and the embedded SQLite backend
//!   (`spec/board.md` §2);
//! - the sequencer: prechecks run concurrently, one writer thread applies
//!   them in order to the record's [`RecordState`](tallyboard_protocol::RecordState),
//!   extends the tree and commits each group of appends in one transaction
//!   with one signed checkpoint (§3);
//! - recovery on open: every entry re-validated, every stored hash
//!   recomputed, the latest checkpoint checked (§4);
//! - [`Board`]: the library API the gRPC [`BoardService`] is a thin layer
//!   over (§5);
//! - [`serve`]: the server entry point, with health and reflection (§6);
//! - [`receipt`]: receipts and their verification (§8);
//! - [`client`]: a client that verifies every receipt, checkpoint and proof.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tallyboard_board::{serve, BoardConfig};
//! let config = BoardConfig::new("/var/lib/tallyboard", "127.0.0.1:50051".parse()?, "tallyboard/ia-2028-cd1");
//! serve(config, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

mod board;
pub mod error;
pub mod keys;
mod sequencer;
mod server;
mod service;
pub mod storage;
mod stream;
pub mod web;
pub mod witness;

pub use board::{
    Board, ConsistencyProof, CosignedCheckpoint, FoundEntry, InclusionProof, Limits,
    RecoveryReport, Stats, MAX_COSIGNED_CHECKPOINT_BYTES,
};
pub use error::{rule_code, BoardError, OpenError};
// The client side lives in its own crate (so that clients and the verifier
// do not link the server); it is re-exported here under its old paths.
pub use sequencer::{CommittedBatch, Head};
pub use server::{
    open_board, serve, serve_board, serve_with_listener, BoardConfig, ServeError, StorageChoice,
    TlsFiles,
};
pub use service::BoardService;
pub use storage::{PostgresStorage, SqliteStorage, Storage, StorageError};
pub use tallyboard_board_client::{
    fsutil, receipt, verify_receipt, verify_tlog_receipt, BoardClient, ClientError, ClientTls,
    FoundByTracker, Frontier, Receipt, ReceiptError, VerifiedReceipt,
};
