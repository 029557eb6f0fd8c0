//! A witness (`spec/board.md` §10): an independent party that follows a
//! board, checks that every checkpoint it sees extends the last one it
//! cosigned, and cosigns it (C2SP tlog-cosignature `cosignature/v1`).
//!
//! A board that shows two histories to two readers cannot have both
//! cosigned by one honest witness: the witness cosigns a checkpoint only
//! after a consistency proof from the one it cosigned before, and it
//! remembers that one durably (written and synced *before* the new
//! cosignature leaves the process). A checkpoint that does not extend it —
//! smaller, the same size with another root, or a failing proof — is
//! refused, written down as evidence, and never cosigned.
//!
//! The data directory holds `witness.key` (the Ed25519 seed, mode 0600),
//! `witness.pub` (the cosignature verifier key for the manifest), and one
//! `log-<id>.checkpoint` per board followed: the last checkpoint cosigned
//! for it, as the board signed it. Evidence goes to
//! `evidence-<id>-<unix time>.txt`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tallyboard_tlog::{
    Checkpoint, CosignatureSigner, CosignatureVerifier, Ed25519Verifier, Note, NoteVerifier,
    SignedCheckpoint,
};

use crate::fsutil::{self, sync_dir};
use crate::keys::{self, KeyFileError};
use crate::{BoardClient, ClientError};

/// File name of the witness's secret key.
pub const WITNESS_KEY_FILE: &str = "witness.key";
/// File name of the witness's verifier key.
pub const WITNESS_PUB_FILE: &str = "witness.pub";

/// Why the witness stopped or refused.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The data directory or a file in it.
    #[error(transparent)]
    Files(#[from] KeyFileError),
    /// A file operation on the state.
    #[error("{what} {}: {error}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The stored state is unreadable.
    #[error("the witness state {} is damaged: {reason}", path.display())]
    BadState {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The name is not a valid key name, or differs from the key's.
    #[error("witness name {0:?}: a key name is non-empty, without whitespace or '+'")]
    BadName(String),
    /// Talking to the board failed (not evidence of misbehaviour).
    #[error("board: {0}")]
    Board(#[from] ClientError),
    /// The board showed a checkpoint that does not extend the one this
    /// witness cosigned: evidence, written to `evidence`.
    #[error("FORK: the board's checkpoint of size {new_size} does not extend the one of size {old_size} this witness cosigned ({reason}); evidence in {}", evidence.display())]
    Fork {
        /// Size of the cosigned checkpoint.
        old_size: u64,
        /// Size of the refused one.
        new_size: u64,
        /// What failed.
        reason: String,
        /// The evidence file.
        evidence: PathBuf,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> WitnessError {
    let path = path.to_owned();
    move |error| WitnessError::Io { what, path, error }
}

/// Creates the witness key in `dir` (once) under `name`, or loads it;
/// (re)writes `witness.pub`. The name is fixed by the first call.
pub fn init(dir: &Path, name: &str) -> Result<CosignatureSigner, WitnessError> {
    if !tallyboard_tlog::is_valid_key_name(name) || name.len() > 128 {
        return Err(WitnessError::BadName(name.into()));
    }
    keys::create_data_dir(dir)?;
    let name_path = dir.join("witness.name");
    match fs::read_to_string(&name_path) {
        Ok(existing) if existing.trim_end() != name => {
            return Err(WitnessError::BadName(format!(
                "{name} (this data directory belongs to witness {})",
                existing.trim_end()
            )))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fsutil::write_new(&name_path, format!("{name}\n").as_bytes(), 0o644)
                .map_err(|(what, e)| io(what, &name_path)(e))?;
            sync_dir(dir).map_err(io("sync", dir))?;
        }
        Err(e) => return Err(io("read", &name_path)(e)),
    }
    load(dir)
}

/// Loads the witness key of `dir` (made by [`init`]).
pub fn load(dir: &Path) -> Result<CosignatureSigner, WitnessError> {
    let name_path = dir.join("witness.name");
    let name = fs::read_to_string(&name_path).map_err(io("read", &name_path))?;
    let name = name.trim_end();
    let key_path = dir.join(WITNESS_KEY_FILE);
    let key = if key_path.exists() {
        keys::read_seed(&key_path)?
    } else {
        keys::create_seed(dir, &key_path)?
    };
    let signer =
        CosignatureSigner::new(name, key).map_err(|_| WitnessError::BadName(name.into()))?;
    let pub_path = dir.join(WITNESS_PUB_FILE);
    let text = format!("{}\n", signer.verifier().to_vkey());
    if fs::read_to_string(&pub_path).ok().as_deref() != Some(text.as_str()) {
        write_replace(dir, &pub_path, text.as_bytes())?;
    }
    Ok(signer)
}

/// [`fsutil::replace_file`], with this module's error.
fn write_replace(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), WitnessError> {
    fsutil::replace_file(dir, path, bytes, 0o644).map_err(|(what, path, error)| WitnessError::Io {
        what,
        path,
        error,
    })
}

/// What one round did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Round {
    /// Cosigned the checkpoint of this size (and handed it to the board).
    Cosigned(u64),
    /// Nothing new since the last cosignature.
    Unchanged(u64),
}

/// A witness following one board.
pub struct Witness {
    dir: PathBuf,
    signer: CosignatureSigner,
    board: Ed25519Verifier,
    state_path: PathBuf,
    last: Option<SignedCheckpoint>,
    log_id: String,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("witness", &self.signer.verifier().to_vkey())
            .field("board", &self.board.to_vkey())
            .field(
                "last_size",
                &self.last.as_ref().map(|c| c.checkpoint().size()),
            )
            .finish()
    }
}

impl Witness {
    /// The witness of data directory `dir` for the board with key `board`,
    /// with the last checkpoint it cosigned for that board (if any).
    pub fn open(dir: &Path, board: Ed25519Verifier) -> Result<Witness, WitnessError> {
        let signer = load(dir)?;
        let digest = Sha256::digest(board.to_vkey().as_bytes());
        let log_id = hex_prefix(&digest[..8]);
        let state_path = dir.join(format!("log-{log_id}.checkpoint"));
        let last = match fs::read(&state_path) {
            Ok(bytes) => Some(SignedCheckpoint::open(&bytes, &board).map_err(|e| {
                WitnessError::BadState {
                    path: state_path.clone(),
                    reason: e.to_string(),
                }
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io("read", &state_path)(e)),
        };
        Ok(Witness {
            dir: dir.to_owned(),
            signer,
            board,
            state_path,
            last,
            log_id,
        })
    }

    /// This witness's verifier key.
    pub fn verifier(&self) -> CosignatureVerifier {
        self.signer.verifier()
    }

    /// The last checkpoint cosigned for this board.
    pub fn last(&self) -> Option<&Checkpoint> {
        self.last.as_ref().map(SignedCheckpoint::checkpoint)
    }

    /// One round: fetch the board's latest checkpoint; if it is new, check
    /// it extends the last cosigned one, remember it durably, cosign it and
    /// hand the cosignature to the board. Also re-sends the cosignature of
    /// an unchanged checkpoint the board does not serve with it (a board
    /// restarted from a backup, say).
    pub async fn round(&mut self, client: &mut BoardClient) -> Result<Round, WitnessError> {
        let latest = client.checkpoint().await?;
        let new = latest.checkpoint().clone();
        if let Some(last) = &self.last {
            let old = last.checkpoint().clone();
            if new.size() == old.size() && new.root() == old.root() {
                let ours = self.signer.verifier();
                if ours.lines_of(latest.note()).next().is_none() {
                    self.submit(client, &latest).await?;
                }
                return Ok(Round::Unchanged(new.size()));
            }
            let refusal = if new.size() < old.size() {
                Some("the log shrank".to_string())
            } else if new.size() == old.size() {
                Some("same size, different root".to_string())
            } else {
                match client.prove_consistency(&old, &new).await {
                    Ok(()) => None,
                    Err(ClientError::Consistency(e)) => Some(e.to_string()),
                    Err(e) => return Err(e.into()),
                }
            };
            if let Some(reason) = refusal {
                let evidence = self.write_evidence(last, &latest, &reason)?;
                tracing::error!(
                    old_size = old.size(),
                    new_size = new.size(),
                    %reason,
                    evidence = %evidence.display(),
                    "FORK: refusing to cosign a checkpoint that does not extend the last one cosigned"
                );
                return Err(WitnessError::Fork {
                    old_size: old.size(),
                    new_size: new.size(),
                    reason,
                    evidence,
                });
            }
        }
        // Remember before the cosignature leaves the process.
        write_replace(
            &self.dir,
            &self.state_path,
            &board_note(&latest, &self.board),
        )?;
        self.last = Some(latest.clone());
        self.submit(client, &latest).await?;
        Ok(Round::Cosigned(new.size()))
    }

    async fn submit(
        &self,
        client: &mut BoardClient,
        latest: &SignedCheckpoint,
    ) -> Result<(), WitnessError> {
        let mut note =
            Note::parse(&board_note(latest, &self.board)).map_err(|e| WitnessError::BadState {
                path: self.state_path.clone(),
                reason: e.to_string(),
            })?;
        note.sign(&self.signer)
            .map_err(|e| WitnessError::BadState {
                path: self.state_path.clone(),
                reason: e.to_string(),
            })?;
        let held = client.add_cosignature(note.to_bytes()).await?;
        tracing::info!(
            size = latest.checkpoint().size(),
            witnesses = ?held,
            "cosigned"
        );
        Ok(())
    }

    fn write_evidence(
        &self,
        cosigned: &SignedCheckpoint,
        refused: &SignedCheckpoint,
        reason: &str,
    ) -> Result<PathBuf, WitnessError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let path = self.dir.join(format!("evidence-{}-{now}.txt", self.log_id));
        let text = format!(
            "tallyboard witness evidence\nboard {}\nreason {reason}\n\n-- checkpoint this witness cosigned, as the board signed it --\n{}\n-- checkpoint the board showed later --\n{}",
            self.board.to_vkey(),
            String::from_utf8_lossy(cosigned.as_bytes()),
            String::from_utf8_lossy(refused.as_bytes()),
        );
        let _ = fs::remove_file(&path);
        fsutil::write_new(&path, text.as_bytes(), 0o644).map_err(|(what, e)| io(what, &path)(e))?;
        Ok(path)
    }
}

/// The board's own note: its text and the board's signature line only
/// (other cosignatures the board served are not the witness's statement).
fn board_note(cp: &SignedCheckpoint, board: &Ed25519Verifier) -> Vec<u8> {
    let note = cp.note();
    let mut out = note.text().as_bytes().to_vec();
    out.push(b'\n');
    for s in note.signatures() {
        if s.name() == board.name() && s.key_id() == board.key_id() {
            out.extend_from_slice(s.to_line().as_bytes());
            out.push(b'\n');
        }
    }
    out
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Follows the board at `client` until `stop` completes: a round every
/// `interval`. Returns the fork error if the board forks (the witness
/// then stops cosigning for good: a person must look at the evidence);
/// transient board errors are logged and retried.
pub async fn follow(
    witness: &mut Witness,
    client: &mut BoardClient,
    interval: Duration,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), WitnessError> {
    tokio::pin!(stop);
    loop {
        match witness.round(client).await {
            Ok(_) => {}
            Err(e @ WitnessError::Fork { .. }) => return Err(e),
            Err(e @ (WitnessError::Board(_) | WitnessError::Io { .. })) => {
                tracing::warn!(error = %e, "witness round failed; retrying");
            }
            Err(e) => return Err(e),
        }
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Waits up to `timeout` until the board's latest checkpoint carries a valid
/// cosignature of every witness in `expected` (polling every 100 ms);
/// returns the names of those whose cosignature it carries at the end, and
/// the checkpoint's size.
pub async fn wait_for_cosignatures(
    client: &mut BoardClient,
    expected: &[CosignatureVerifier],
    timeout: Duration,
) -> Result<(u64, Vec<String>), ClientError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let cp = client.checkpoint().await?;
        let have: Vec<String> = expected
            .iter()
            .filter(|v| v.cosigned(cp.note()))
            .map(|v| v.name().to_owned())
            .collect();
        if have.len() == expected.len() || tokio::time::Instant::now() >= deadline {
            return Ok((cp.checkpoint().size(), have));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
