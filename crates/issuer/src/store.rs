//! The issuer's SQLite database (`spec/issuer.md` §3.4, §5).
//!
//! Every state change is one transaction, committed with
//! `synchronous = FULL` in WAL mode: when a call returns, the change is on
//! disk (fsync), so a code marked as redeemed stays redeemed after a crash.
//!
//! Tables:
//!
//! - `meta(key, value)`: format version, Argon2 profile, election binding;
//! - `voters(voter_id, district, code_hash, state, blinded_message,
//!   issuance_entry, board_hint, issuance_index, redeemed_unix_ms)`: the
//!   roll, one Argon2id PHC string per voter and the redemption state;
//! - `attempts(voter_key, failures, locked_until_ms, updated_ms)`: failed
//!   attempts per voter id, keyed by `SHA-256(voter id)`, for voter ids on
//!   the roll and not on it alike (so a lockout says nothing about the roll).

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

/// Schema version stored in `meta.format`.
pub const FORMAT: &str = "tallyboard-issuer/1";

/// Errors of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("issuer database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database is not an issuer database of this version, or is
    /// inconsistent.
    #[error("issuer database: {0}")]
    Corrupt(String),
}

/// Where a voter's code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeState {
    /// Not redeemed.
    Unused,
    /// Redeemed for a blinded message; the Issuance entry may or may not be
    /// on the board yet, and the blind signature was never released.
    Pending,
    /// The Issuance entry is on the board; the blind signature may be
    /// released (again) for the same blinded message only.
    Issued,
}

impl CodeState {
    fn from_i64(v: i64) -> Result<Self, StoreError> {
        match v {
            0 => Ok(CodeState::Unused),
            1 => Ok(CodeState::Pending),
            2 => Ok(CodeState::Issued),
            other => Err(StoreError::Corrupt(format!("unknown code state {other}"))),
        }
    }
    fn to_i64(self) -> i64 {
        match self {
            CodeState::Unused => 0,
            CodeState::Pending => 1,
            CodeState::Issued => 2,
        }
    }
}

/// A voter's row.
#[derive(Clone, PartialEq, Eq)]
pub struct VoterRecord {
    /// Voter id.
    pub voter_id: String,
    /// District.
    pub district: String,
    /// Argon2id PHC string of the code.
    pub code_hash: String,
    /// Redemption state.
    pub state: CodeState,
    /// The blinded message the code was redeemed for (Pending, Issued).
    pub blinded_message: Option<Vec<u8>>,
    /// The signed Issuance entry bytes (Pending, Issued).
    pub issuance_entry: Option<Vec<u8>>,
    /// A log size at or below the entry's index (where to look for it).
    pub board_hint: u64,
    /// The entry's log index (Issued).
    pub issuance_index: Option<u64>,
}

impl std::fmt::Debug for VoterRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoterRecord")
            .field("district", &self.district)
            .field("state", &self.state)
            .field("issuance_index", &self.issuance_index)
            .finish_non_exhaustive()
    }
}

/// Failed attempts of one voter id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attempts {
    /// Consecutive failures since the last lock or success.
    pub failures: u32,
    /// Locked until this time (ms since the epoch); 0 if not locked.
    pub locked_until_ms: u64,
}

/// What [`Store::begin_redemption`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The code was unused and is now Pending with this entry.
    Started,
    /// The code is Pending for the same blinded message: here is the entry
    /// to (re)post.
    Pending {
        /// The stored entry bytes.
        entry: Vec<u8>,
        /// Where to look for it on the board.
        board_hint: u64,
    },
    /// The code is Issued for the same blinded message.
    Issued {
        /// The entry's log index.
        index: u64,
    },
    /// The code was redeemed for another blinded message.
    Used,
}

/// Key of the `attempts` table: SHA-256 of the (normalized) voter id.
pub fn voter_key(voter_id: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"tallyboard/v1/issuer-attempts\n")
        .chain_update(voter_id.as_bytes())
        .finalize()
        .into()
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The issuer database. One connection behind a mutex: the calls are short
/// (the Argon2 work happens outside).
pub struct Store {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

const SCHEMA: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE voters (
    voter_id         TEXT PRIMARY KEY,
    district         TEXT NOT NULL,
    code_hash        TEXT NOT NULL,
    state            INTEGER NOT NULL DEFAULT 0,
    blinded_message  BLOB,
    issuance_entry   BLOB,
    board_hint       INTEGER NOT NULL DEFAULT 0,
    issuance_index   INTEGER,
    redeemed_unix_ms INTEGER
) STRICT;
CREATE INDEX voters_state ON voters(state) WHERE state = 1;
CREATE TABLE attempts (
    voter_key       BLOB PRIMARY KEY,
    failures        INTEGER NOT NULL,
    locked_until_ms INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
) STRICT;
";

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

impl Store {
    /// Creates a new database at `path` (which must not exist) with the
    /// roll and code hashes, in one transaction.
    pub fn create(
        path: &Path,
        voters: &[(String, String, String)],
        meta: &[(&str, &str)],
    ) -> Result<Store, StoreError> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        let tx = conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('format', ?1)",
            params![FORMAT],
        )?;
        for (k, v) in meta {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                params![k, v],
            )?;
        }
        {
            let mut insert = tx
                .prepare("INSERT INTO voters(voter_id, district, code_hash) VALUES (?1, ?2, ?3)")?;
            for (voter, district, hash) in voters {
                insert.execute(params![voter, district, hash])?;
            }
        }
        tx.commit()?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    /// Opens an existing database.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Corrupt(format!(
                "{} does not exist (run `tallyboard issuer init` first)",
                path.display()
            )));
        }
        let conn = Connection::open(path)?;
        configure(&conn)?;
        let store = Store {
            conn: Mutex::new(conn),
        };
        match store.meta("format")? {
            Some(f) if f == FORMAT => Ok(store),
            other => Err(StoreError::Corrupt(format!(
                "unexpected format {other:?}, expected {FORMAT:?}"
            ))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A `meta` value.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Sets a `meta` value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Any one stored code hash (to derive the dummy hash's parameters).
    pub fn any_code_hash(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .query_row("SELECT code_hash FROM voters LIMIT 1", [], |r| r.get(0))
            .optional()?)
    }

    /// Voters per district and per state: `(district, state, count)`.
    pub fn counts(&self) -> Result<Vec<(String, CodeState, u64)>, StoreError> {
        let conn = self.lock();
        let mut q = conn.prepare(
            "SELECT district, state, COUNT(*) FROM voters GROUP BY district, state ORDER BY district, state",
        )?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (d, s, n) = row?;
            out.push((d, CodeState::from_i64(s)?, to_u64(n)));
        }
        Ok(out)
    }

    /// Distinct districts of the roll.
    pub fn districts(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.lock();
        let mut q = conn.prepare("SELECT DISTINCT district FROM voters ORDER BY district")?;
        let rows = q.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn read_voter(conn: &Connection, voter_id: &str) -> Result<Option<VoterRecord>, StoreError> {
        let row = conn
            .query_row(
                "SELECT voter_id, district, code_hash, state, blinded_message, issuance_entry,
                        board_hint, issuance_index
                 FROM voters WHERE voter_id = ?1",
                params![voter_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<Vec<u8>>>(4)?,
                        r.get::<_, Option<Vec<u8>>>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, Option<i64>>(7)?,
                    ))
                },
            )
            .optional()?;
        row.map(
            |(voter_id, district, code_hash, state, blinded, entry, hint, index)| {
                Ok(VoterRecord {
                    voter_id,
                    district,
                    code_hash,
                    state: CodeState::from_i64(state)?,
                    blinded_message: blinded,
                    issuance_entry: entry,
                    board_hint: to_u64(hint),
                    issuance_index: index.map(to_u64),
                })
            },
        )
        .transpose()
    }

    /// A voter's row, if the voter is on the roll.
    pub fn voter(&self, voter_id: &str) -> Result<Option<VoterRecord>, StoreError> {
        Self::read_voter(&self.lock(), voter_id)
    }

    /// Voters whose redemption is Pending.
    pub fn pending(&self) -> Result<Vec<VoterRecord>, StoreError> {
        let ids: Vec<String> = {
            let conn = self.lock();
            let mut q = conn.prepare("SELECT voter_id FROM voters WHERE state = 1")?;
            let rows = q.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = self.voter(&id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// The failed attempts of a voter id.
    pub fn attempts(&self, key: &[u8; 32]) -> Result<Attempts, StoreError> {
        let row = self
            .lock()
            .query_row(
                "SELECT failures, locked_until_ms FROM attempts WHERE voter_key = ?1",
                params![key.as_slice()],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?;
        Ok(row
            .map(|(f, l)| Attempts {
                failures: u32::try_from(f).unwrap_or(u32::MAX),
                locked_until_ms: to_u64(l),
            })
            .unwrap_or_default())
    }

    /// Records a failed attempt; after `max_failures` consecutive failures
    /// the voter id is locked until `now + lockout_ms` and the count starts
    /// again. Returns the new state.
    pub fn record_failure(
        &self,
        key: &[u8; 32],
        now_ms: u64,
        max_failures: u32,
        lockout_ms: u64,
    ) -> Result<Attempts, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = tx
            .query_row(
                "SELECT failures FROM attempts WHERE voter_key = ?1",
                params![key.as_slice()],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .unwrap_or(0);
        let failures = u32::try_from(current).unwrap_or(u32::MAX).saturating_add(1);
        let (failures, locked_until) = if failures >= max_failures.max(1) {
            (0, now_ms.saturating_add(lockout_ms))
        } else {
            (failures, 0)
        };
        tx.execute(
            "INSERT INTO attempts(voter_key, failures, locked_until_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(voter_key) DO UPDATE SET failures = excluded.failures,
                 locked_until_ms = excluded.locked_until_ms, updated_ms = excluded.updated_ms",
            params![
                key.as_slice(),
                i64::from(failures),
                to_i64(locked_until),
                to_i64(now_ms)
            ],
        )?;
        tx.commit()?;
        Ok(Attempts {
            failures,
            locked_until_ms: locked_until,
        })
    }

    /// Forgets the failed attempts of a voter id (after a correct code).
    pub fn clear_failures(&self, key: &[u8; 32]) -> Result<(), StoreError> {
        self.lock().execute(
            "DELETE FROM attempts WHERE voter_key = ?1",
            params![key.as_slice()],
        )?;
        Ok(())
    }

    /// Deletes attempt rows that are not locked and older than `before_ms`.
    pub fn prune_attempts(&self, now_ms: u64, before_ms: u64) -> Result<usize, StoreError> {
        Ok(self.lock().execute(
            "DELETE FROM attempts WHERE locked_until_ms <= ?1 AND updated_ms < ?2",
            params![to_i64(now_ms), to_i64(before_ms)],
        )?)
    }

    /// Atomically redeems a voter's code for `blinded` (Unused → Pending,
    /// storing `entry` and `board_hint`), or reports where it stands.
    pub fn begin_redemption(
        &self,
        voter_id: &str,
        blinded: &[u8],
        entry: &[u8],
        board_hint: u64,
        now_ms: u64,
    ) -> Result<Redemption, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let record = Self::read_voter(&tx, voter_id)?
            .ok_or_else(|| StoreError::Corrupt(format!("voter {voter_id:?} vanished")))?;
        let same = record.blinded_message.as_deref() == Some(blinded);
        let result = match record.state {
            CodeState::Unused => {
                tx.execute(
                    "UPDATE voters SET state = ?2, blinded_message = ?3, issuance_entry = ?4,
                         board_hint = ?5, redeemed_unix_ms = ?6
                     WHERE voter_id = ?1 AND state = 0",
                    params![
                        voter_id,
                        CodeState::Pending.to_i64(),
                        blinded,
                        entry,
                        to_i64(board_hint),
                        to_i64(now_ms)
                    ],
                )?;
                Redemption::Started
            }
            CodeState::Pending if same => Redemption::Pending {
                entry: record
                    .issuance_entry
                    .ok_or_else(|| StoreError::Corrupt("pending voter without entry".into()))?,
                board_hint: record.board_hint,
            },
            CodeState::Issued if same => Redemption::Issued {
                index: record
                    .issuance_index
                    .ok_or_else(|| StoreError::Corrupt("issued voter without index".into()))?,
            },
            CodeState::Pending | CodeState::Issued => Redemption::Used,
        };
        tx.commit()?;
        Ok(result)
    }

    /// Pending → Issued, with the entry's log index.
    pub fn finish_redemption(&self, voter_id: &str, index: u64) -> Result<(), StoreError> {
        let n = self.lock().execute(
            "UPDATE voters SET state = ?2, issuance_index = ?3 WHERE voter_id = ?1 AND state = 1",
            params![voter_id, CodeState::Issued.to_i64(), to_i64(index)],
        )?;
        if n != 1 {
            // Already issued by a concurrent call: fine if the index agrees.
            match self.voter(voter_id)? {
                Some(r) if r.state == CodeState::Issued && r.issuance_index == Some(index) => {}
                _ => {
                    return Err(StoreError::Corrupt(format!(
                        "voter {voter_id:?} was not pending"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Pending → Unused, after the board refused the entry for good (so it
    /// is not on the log and no signature was released).
    pub fn abandon_redemption(&self, voter_id: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE voters SET state = 0, blinded_message = NULL, issuance_entry = NULL,
                 board_hint = 0, redeemed_unix_ms = NULL
             WHERE voter_id = ?1 AND state = 1",
            params![voter_id],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> Store {
        Store::create(
            &dir.join("t.db"),
            &[
                ("alice".into(), "d1".into(), "$h1".into()),
                ("bob".into(), "d2".into(), "$h2".into()),
            ],
            &[("argon2_profile", "fast")],
        )
        .expect("create")
    }

    #[test]
    fn redemption_states() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        assert_eq!(
            s.meta("argon2_profile").expect("meta").as_deref(),
            Some("fast")
        );
        assert_eq!(s.voter("carol").expect("voter"), None);
        let a = s.voter("alice").expect("voter").expect("alice");
        assert_eq!(a.state, CodeState::Unused);
        assert_eq!(
            s.begin_redemption("alice", b"B1", b"E1", 5, 1)
                .expect("begin"),
            Redemption::Started
        );
        assert_eq!(
            s.begin_redemption("alice", b"B1", b"E2", 9, 2)
                .expect("again"),
            Redemption::Pending {
                entry: b"E1".to_vec(),
                board_hint: 5
            }
        );
        assert_eq!(
            s.begin_redemption("alice", b"B2", b"E2", 9, 2)
                .expect("other"),
            Redemption::Used
        );
        assert_eq!(s.pending().expect("pending").len(), 1);
        s.finish_redemption("alice", 7).expect("finish");
        s.finish_redemption("alice", 7).expect("idempotent");
        assert!(s.finish_redemption("alice", 8).is_err());
        assert_eq!(
            s.begin_redemption("alice", b"B1", b"E3", 9, 3)
                .expect("issued"),
            Redemption::Issued { index: 7 }
        );
        assert_eq!(
            s.begin_redemption("alice", b"B3", b"E3", 9, 3)
                .expect("used"),
            Redemption::Used
        );
        assert!(s.pending().expect("pending").is_empty());

        // Abandon: back to unused.
        s.begin_redemption("bob", b"B1", b"E1", 0, 1).expect("bob");
        s.abandon_redemption("bob").expect("abandon");
        assert_eq!(
            s.voter("bob").expect("bob").expect("bob").state,
            CodeState::Unused
        );

        // Survives reopening.
        drop(s);
        let s = Store::open(&dir.path().join("t.db")).expect("open");
        let a = s.voter("alice").expect("voter").expect("alice");
        assert_eq!(a.state, CodeState::Issued);
        assert_eq!(a.issuance_index, Some(7));
        assert!(!format!("{a:?}").contains("alice"));
    }

    #[test]
    fn attempts_and_lockout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        let k = voter_key("anyone");
        for i in 1..5 {
            let a = s.record_failure(&k, 1000, 5, 60_000).expect("fail");
            assert_eq!(
                a,
                Attempts {
                    failures: i,
                    locked_until_ms: 0
                }
            );
        }
        let a = s.record_failure(&k, 1000, 5, 60_000).expect("fail");
        assert_eq!(
            a,
            Attempts {
                failures: 0,
                locked_until_ms: 61_000
            }
        );
        assert_eq!(s.attempts(&k).expect("attempts"), a);
        assert_eq!(s.prune_attempts(2000, 5000).expect("prune"), 0);
        assert_eq!(s.prune_attempts(70_000, 5000).expect("prune"), 1);
        s.record_failure(&k, 1000, 5, 60_000).expect("fail");
        s.clear_failures(&k).expect("clear");
        assert_eq!(s.attempts(&k).expect("attempts"), Attempts::default());
    }

    #[test]
    fn open_refuses_other_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(Store::open(&dir.path().join("missing.db")).is_err());
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .and_then(|c| c.execute_batch("CREATE TABLE meta(key TEXT, value TEXT);"))
            .expect("other");
        assert!(Store::open(&other).is_err());
    }
}
