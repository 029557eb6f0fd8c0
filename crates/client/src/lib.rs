//! # tallyboard-client
//!
//! The voter's client (`spec/client.md`): it learns the election from the
//! bulletin board by replaying the record through the rules, obtains a
//! credential from the issuer (blind RSA, so the issuer cannot link it to the
//! voter), encrypts, proves and signs ballots, and either casts them — with a
//! receipt it verifies and can re-check later — or challenges them (Benaloh),
//! so that a dishonest device is caught.
//!
//! The trust argument: the client checks the *board* (signed checkpoints,
//! inclusion and consistency proofs, entries read back byte for byte, the
//! record replayed through the rules), and the voter checks the *device*
//! (challenges, verifiable on another device with
//! [`check_challenge_on_board`]).
//!
//! ```no_run
//! # async fn vote() -> Result<(), Box<dyn std::error::Error>> {
//! use tallyboard_client::*;
//! let vkey = tallyboard_tlog::Ed25519Verifier::from_vkey("tallyboard/demo+1234abcd+...")?;
//! let mut board = tallyboard_board_client::BoardClient::connect("http://127.0.0.1:50051", vkey, None).await?;
//! let election = fetch_election(&mut board).await?;
//! let credential = enroll("http://127.0.0.1:50052", "voter-17", "ABCD-EFGH", &election).await?;
//! let choices: Vec<ContestChoice> = vec!["c1=a".parse()?];
//! let selections = selections_for(&election.manifest, credential.district(), &choices)?;
//! // Challenge one ballot (spent), then cast a fresh one.
//! let spent = prepare(&election, &credential, &selections, 0)?;
//! let report = challenge(&mut board, spent, &selections).await?;
//! assert!(report.honest());
//! let ballot = prepare(&election, &credential, &selections, 0)?;
//! println!("tracker {}", ballot.tracker_hex());
//! let receipt = cast(&mut board, ballot).await?;
//! std::fs::write("receipt.txt", receipt.to_file_bytes())?;
//! // Later: is it still there?
//! check_still_included(&mut board, &receipt).await?;
//! # Ok(()) }
//! ```
//!
//! Everything is cheap to clone and free of global state: one process can
//! drive thousands of voters concurrently with clones of one
//! [`tallyboard_board_client::BoardClient`] (one HTTP/2 connection) and one
//! [`Election`]; every future is `Send`.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used, missing_docs)]

mod ballot;
mod caucus;
mod challenge;
mod credential;
mod election;
mod error;
mod receipt;
mod selection;

pub use ballot::{cast, prepare, PreparedBallot};
pub use caucus::{cast_first_alignment, prepare_realignment, FirstAlignment, Realignment};
pub use challenge::{
    challenge, check_challenge_on_board, verify_challenged_entry, ChallengeReport, ContestCheck,
};
pub use credential::{
    connect_issuer, enroll, enroll_in_district, enroll_with, Credential, CREDENTIAL_FILE_HEADER,
};
pub use election::{fetch_election, Election};
pub use error::ClientError;
pub use receipt::{
    check_still_included, verify_receipt_file, CastReceipt, InclusionCheck, RECEIPT_FILE_HEADER,
};
pub use selection::{check_selections, selections_for, ContestChoice, SelectionError};
pub use tallyboard_protocol::ElectionPhase;
