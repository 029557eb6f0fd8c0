//! The PostgreSQL backend (`spec/board.md` §2.3).
//!
//! The same tables as SQLite (§2), in one PostgreSQL schema of their own
//! (named by the connection string's `schema` parameter, else by the first
//! entry of a `search_path` given in its `options`, else `tallyboard`),
//! created if missing, plus a one-row table `log_size` holding the log size.
//! Each batch is **one** `SERIALIZABLE` transaction that first locks the
//! `log_size` row (`SELECT ... FOR UPDATE`), checks the size precondition of
//! [`Storage::append`] against it, writes the entries, stored hashes, leaf
//! index rows and checkpoint with multi-row `INSERT`s, moves `log_size`
//! and commits. Every session sets `synchronous_commit = on` explicitly, so
//! a commit returns only once its WAL record is flushed (§2.1's promise). A
//! second writer on the same schema waits for the row lock and then either
//! fails serialization (retried, and then sees the new size) or sees the new
//! size: two writers can never both append at one index. The primary keys of
//! `entries`, `hashes` and `checkpoints` are a second guard: a unique
//! violation by a concurrent writer is reported as
//! [`StorageError::SizeMismatch`] as well.
//!
//! Only SQL that PostgreSQL-compatible distributed databases (CockroachDB,
//! YugabyteDB) also run: `BIGINT`/`BYTEA`/`TEXT` columns, primary keys and
//! `CHECK`, `CREATE SCHEMA`/`TABLE ... IF NOT EXISTS`, `SET search_path`,
//! `SET synchronous_commit`, `SET default_transaction_read_only`,
//! `START TRANSACTION ISOLATION LEVEL SERIALIZABLE`, `SELECT ... FOR UPDATE`,
//! multi-row `INSERT ... VALUES`, `INSERT ... ON CONFLICT DO NOTHING / DO
//! UPDATE`, `= ANY($1)` with a `BIGINT[]` parameter, `ORDER BY ... LIMIT`,
//! `MAX`/`COALESCE`, a scalar subquery, and `information_schema.schemata`.
//! No advisory locks, no `LISTEN`/`NOTIFY`, no stored procedures.
//!
//! ## Driver
//!
//! The [`postgres`] crate: the synchronous client of the rust-postgres
//! project, a thin blocking wrapper of `tokio-postgres` (each connection
//! drives its socket on its own current-thread runtime while a call
//! blocks). The [`Storage`] trait is synchronous and the board calls it only
//! from blocking threads (the sequencer thread, `spawn_blocking` workers and
//! recovery, which `open_board` runs inside `spawn_blocking`), so the
//! blocking client fits the trait directly, with no bridge of our own and
//! nothing added to the async runtime. A blocking client call on an async
//! worker thread would panic; the one place the board can reach the
//! client from async code is dropping its last handle to the storage, so
//! [`PostgresStorage`]'s `Drop` closes the connections on a thread of its
//! own. No TLS to the database is built in (`sslmode=disable` or `prefer`):
//! connect over loopback, a Unix socket or a tunnel.
//!
//! Connection strings and errors are shown with the password removed
//! ([`redact_url`]); the password is never logged.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, IsolationLevel, NoTls, Statement, Transaction};
use tallyboard_tlog::{stored_hash_index, Hash, HashReader, HASH_SIZE};

use super::{Batch, Cosignatures, Storage, StorageError};

/// Schema version stored in `meta`.
const SCHEMA_VERSION: &str = "1";

/// The schema used when the connection string names none.
pub const DEFAULT_SCHEMA: &str = "tallyboard";

/// Reader connections open at most at once (readers beyond wait).
const MAX_READERS: usize = 16;

/// Attempts of one batch that failed serialization (`40001`) or deadlocked.
const APPEND_ATTEMPTS: usize = 5;

/// Rows per multi-row `INSERT` statement.
const ROWS_PER_INSERT: usize = 1000;

/// Entries fetched per query of [`Storage::read_entries`].
const ENTRY_PAGE_ROWS: u64 = 256;

/// Connect timeout when the connection string sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema's tables (`spec/board.md` §2, §2.3), each created if missing.
const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS log_size (
        id   BIGINT PRIMARY KEY CHECK (id = 1),
        size BIGINT NOT NULL CHECK (size >= 0)
    )",
    "CREATE TABLE IF NOT EXISTS entries (
        idx  BIGINT PRIMARY KEY,
        data BYTEA NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS hashes (
        idx  BIGINT PRIMARY KEY,
        hash BYTEA NOT NULL CHECK (octet_length(hash) = 32)
    )",
    "CREATE TABLE IF NOT EXISTS checkpoints (
        size BIGINT PRIMARY KEY,
        note BYTEA NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS leaves (
        hash BYTEA PRIMARY KEY CHECK (octet_length(hash) = 32),
        idx  BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS cosignatures (
        size    BIGINT NOT NULL,
        witness TEXT NOT NULL,
        line    TEXT NOT NULL,
        PRIMARY KEY (size, witness)
    )",
];

const SELECT_SIZE: &str = "SELECT size FROM log_size WHERE id = 1";
const LOCK_SIZE: &str = "SELECT size FROM log_size WHERE id = 1 FOR UPDATE";
const SELECT_HASHES: &str = "SELECT idx, hash FROM hashes WHERE idx = ANY($1)";
const SELECT_HASH_RANGE: &str =
    "SELECT idx, hash FROM hashes WHERE idx >= $1 AND idx < $2 ORDER BY idx";
const SELECT_ENTRIES: &str =
    "SELECT idx, data FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT $3";
const COUNT_HASHES: &str = "SELECT COALESCE(MAX(idx) + 1, 0) FROM hashes";
const LATEST_CHECKPOINT: &str = "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1";
const CHECKPOINT_AT: &str = "SELECT note FROM checkpoints WHERE size = $1";
const FIND_LEAF: &str = "SELECT idx FROM leaves WHERE hash = $1";
const COSIGNATURES_AT: &str = "SELECT size, witness, line FROM cosignatures WHERE size = $1";
const COSIGNATURES_LATEST: &str = "SELECT size, witness, line FROM cosignatures
     WHERE size = (SELECT MAX(size) FROM cosignatures)";
const PUT_COSIGNATURE: &str = "INSERT INTO cosignatures (size, witness, line) VALUES ($1, $2, $3)
     ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line";

/// Where the log lives: the driver's configuration, the schema and a
/// description without the password.
struct Target {
    config: Config,
    schema: String,
    shown: String,
}

/// One connection with its prepared statements.
struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl Conn {
    /// The prepared statement for `sql` (prepared once per connection).
    fn prepare(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }
}

struct Pool {
    idle: Vec<Conn>,
    open: usize,
}

/// The PostgreSQL storage backend (`spec/board.md` §2.3).
pub struct PostgresStorage {
    target: Target,
    writer: Mutex<Option<Conn>>,
    readers: Mutex<Pool>,
    reader_freed: Condvar,
    commits: AtomicU64,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("target", &self.target.shown)
            .finish_non_exhaustive()
    }
}

/// Why one attempt of a transaction failed.
enum Fail {
    /// Refused or corrupt: final, nothing written.
    Refused(StorageError),
    /// The database failed (may be retried).
    Db(postgres::Error),
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        Fail::Db(e)
    }
}

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Self {
        Fail::Refused(e)
    }
}

/// The text of a driver error: the server's message and SQLSTATE, or the
/// client's (connection) error. Neither contains the connection password.
fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => {
            // The client's error and its causes (`error connecting to
            // server: Connection refused`): no configuration values.
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !text.ends_with(&cause_text) {
                    text.push_str(": ");
                    text.push_str(&cause_text);
                }
                source = cause.source();
            }
            text
        }
    }
}

fn db_err(op: &'static str) -> impl Fn(postgres::Error) -> StorageError {
    move |e| StorageError::Backend {
        op,
        message: error_text(&e),
    }
}

fn is_retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

fn to_i64(v: u64) -> Result<i64, StorageError> {
    i64::try_from(v).map_err(|_| StorageError::Corrupt(format!("index {v} out of range")))
}

fn to_u64(v: i64) -> Result<u64, StorageError> {
    u64::try_from(v).map_err(|_| StorageError::Corrupt(format!("negative index {v}")))
}

fn to_hash(blob: &[u8]) -> Result<Hash, StorageError> {
    Hash::from_slice(blob).map_err(|_| {
        StorageError::Corrupt(format!(
            "stored hash has {} bytes, not {HASH_SIZE}",
            blob.len()
        ))
    })
}

fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// One `key = value` pair of a key-value connection string, with its byte
/// span.
struct KvPair {
    key: String,
    value: String,
    start: usize,
    end: usize,
}

/// The pairs of a key-value connection string (`host=... user=...`),
/// values unquoted (`'...'`, backslash escapes) as libpq reads them.
fn kv_pairs(s: &str) -> Vec<KvPair> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return out;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = s[start..i].to_owned();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Vec::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let quoted = i < b.len() && b[i] == b'\'';
            if quoted {
                i += 1;
            }
            while i < b.len() {
                let c = b[i];
                if (quoted && c == b'\'') || (!quoted && c.is_ascii_whitespace()) {
                    break;
                }
                if c == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                value.push(b[i]);
                i += 1;
            }
            if quoted && i < b.len() {
                i += 1;
            }
        }
        out.push(KvPair {
            key,
            value: String::from_utf8_lossy(&value).into_owned(),
            start,
            end: i,
        });
    }
}

/// `url` with any password replaced by `***`: the `user:password@` of a
/// URL, a `password=` query parameter, or a `password=` pair of a
/// key-value connection string. Use it wherever a connection string is
/// shown (errors, logs, `Debug`).
pub fn redact_url(url: &str) -> String {
    // Any `scheme://` URL (also one of another database, named in an
    // error), else key-value pairs.
    let scheme_end = url.find("://").filter(|&i| {
        i > 0
            && url[..i]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    });
    if let Some(scheme_end) = scheme_end {
        let (head, rest) = url.split_at(scheme_end + 3);
        let query_at = rest.find('?').unwrap_or(rest.len());
        let (authority, query) = rest.split_at(query_at);
        let mut out = head.to_owned();
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        if let Some(params) = query.strip_prefix('?') {
            out.push('?');
            let redacted: Vec<String> = params
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k == "password" => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            out.push_str(&redacted.join("&"));
        }
        out
    } else {
        let mut out = String::with_capacity(url.len());
        let mut last = 0;
        for pair in kv_pairs(url) {
            if pair.key == "password" {
                out.push_str(&url[last..pair.start]);
                out.push_str("password=***");
                last = pair.end;
            }
        }
        out.push_str(&url[last..]);
        out
    }
}

/// Splits tallyboard's own `schema` parameter off a connection string (the
/// driver would refuse it): the rest, and the schema if given.
fn split_schema(url: &str) -> (String, Option<String>) {
    if is_url(url) {
        let Some((base, params)) = url.split_once('?') else {
            return (url.to_owned(), None);
        };
        let mut schema = None;
        let kept: Vec<&str> = params
            .split('&')
            .filter(|p| match p.strip_prefix("schema=") {
                Some(s) => {
                    schema = Some(s.to_owned());
                    false
                }
                None => true,
            })
            .collect();
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        (rest, schema)
    } else {
        let mut schema = None;
        let mut rest = String::with_capacity(url.len());
        let mut last = 0;
        for pair in kv_pairs(url) {
            if pair.key == "schema" {
                rest.push_str(&url[last..pair.start]);
                last = pair.end;
                schema = Some(pair.value);
            }
        }
        rest.push_str(&url[last..]);
        (rest, schema)
    }
}

/// The first schema of a `search_path` set in the connection's `options`
/// (`-c search_path=name,...`), if any.
fn search_path_schema(options: &str) -> Option<String> {
    let at = options.find("search_path=")?;
    let value = &options[at + "search_path=".len()..];
    let value = value.split_whitespace().next().unwrap_or("");
    let first = value
        .split(',')
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"');
    (!first.is_empty() && first != "$user").then(|| first.to_owned())
}

/// Schema names are restricted so they need no quoting in any of the
/// databases: lower-case ASCII letters, digits and `_`, not starting with a
/// digit or `pg_`, at most 63 bytes.
fn check_schema(name: &str) -> Result<(), StorageError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with("pg_")
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(StorageError::Backend {
            op: "parse the PostgreSQL connection string",
            message: format!(
                "schema name {name:?} must be 1 to 63 lower-case letters, digits or '_', \
                 not starting with a digit or 'pg_'"
            ),
        })
    }
}

/// `postgres://user@host:port/dbname (schema S)`, without the password.
fn describe(config: &Config, schema: &str) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    let mut out = String::from("postgres://");
    if let Some(user) = config.get_user() {
        out.push_str(user);
        out.push('@');
    }
    out.push_str(&hosts.join(","));
    if !ports.is_empty() {
        out.push(':');
        out.push_str(&ports.join(","));
    }
    out.push('/');
    out.push_str(config.get_dbname().unwrap_or(""));
    let _ = write!(out, " (schema {schema})");
    out
}

fn parse_target(url: &str) -> Result<Target, StorageError> {
    let (rest, schema) = split_schema(url.trim());
    let mut config = Config::from_str(&rest).map_err(|e| StorageError::Backend {
        op: "parse the PostgreSQL connection string",
        message: format!("{}: {}", redact_url(url), error_text(&e)),
    })?;
    let schema = match schema {
        Some(s) => s,
        None => config
            .get_options()
            .and_then(search_path_schema)
            .unwrap_or_else(|| DEFAULT_SCHEMA.to_owned()),
    };
    check_schema(&schema)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("tallyboard-board");
    }
    config.notice_callback(|notice| {
        tracing::debug!(message = notice.message(), "PostgreSQL notice");
    });
    let shown = describe(&config, &schema);
    Ok(Target {
        config,
        schema,
        shown,
    })
}

impl Target {
    /// A new session: `synchronous_commit = on`, the schema as the only
    /// `search_path`, and read-only transactions for readers.
    fn connect(&self, reader: bool) -> Result<Conn, StorageError> {
        let mut client = self
            .config
            .connect(NoTls)
            .map_err(|e| StorageError::Backend {
                op: "connect to PostgreSQL",
                message: format!("{}: {}", self.shown, error_text(&e)),
            })?;
        let mut setup = vec![
            "SET synchronous_commit = on".to_owned(),
            format!("SET search_path = {}", self.schema),
        ];
        if reader {
            setup.push("SET default_transaction_read_only = on".to_owned());
        }
        for sql in &setup {
            client
                .batch_execute(sql)
                .map_err(db_err("set up the PostgreSQL session"))?;
        }
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }
}

/// Runs `attempt` in one `SERIALIZABLE` transaction, retrying it on a
/// serialization failure or deadlock.
fn serializable<T>(
    conn: &mut Conn,
    op: &'static str,
    mut attempt: impl FnMut(
        &mut Transaction<'_>,
        &mut HashMap<&'static str, Statement>,
    ) -> Result<T, Fail>,
) -> Result<T, Fail> {
    let mut tries = 0;
    loop {
        tries += 1;
        let result = (|| {
            let mut tx = conn
                .client
                .build_transaction()
                .isolation_level(IsolationLevel::Serializable)
                .start()?;
            let value = attempt(&mut tx, &mut conn.statements)?;
            tx.commit()?;
            Ok(value)
        })();
        match result {
            Err(Fail::Db(e)) if is_retryable(&e) && tries < APPEND_ATTEMPTS => {
                tracing::debug!(op, error = %error_text(&e), "retrying a PostgreSQL transaction");
                std::thread::sleep(Duration::from_millis(5 * tries as u64));
            }
            other => return other,
        }
    }
}

/// `INSERT INTO {head} VALUES ($1, $2), ... {tail}` for `rows`, in
/// statements of at most [`ROWS_PER_INSERT`] rows.
fn insert_pairs<A: ToSql + Sync, B: ToSql + Sync>(
    tx: &mut Transaction<'_>,
    head: &str,
    tail: &str,
    rows: &[(A, B)],
) -> Result<(), postgres::Error> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut sql = String::with_capacity(head.len() + tail.len() + chunk.len() * 16);
        sql.push_str("INSERT INTO ");
        sql.push_str(head);
        sql.push_str(" VALUES ");
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(chunk.len() * 2);
        for (k, (a, b)) in chunk.iter().enumerate() {
            if k > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "(${}, ${})", 2 * k + 1, 2 * k + 2);
            params.push(a);
            params.push(b);
        }
        sql.push_str(tail);
        tx.execute(sql.as_str(), &params)?;
    }
    Ok(())
}

impl PostgresStorage {
    /// Opens the log in the database of connection string `url` (a
    /// `postgres://` URL or `key=value` pairs, plus an optional `schema`
    /// parameter) for the board with checkpoint origin `origin` and verifier
    /// key `vkey`, creating the schema and its tables if missing. A schema
    /// created for another origin or key is refused with
    /// [`StorageError::WrongBoard`]. Blocking: call it from a blocking thread.
    pub fn open(url: &str, origin: &str, vkey: &str) -> Result<Self, StorageError> {
        let target = parse_target(url)?;
        let mut writer = target.connect(false)?;
        create_schema(&mut writer, &target.schema)?;
        bind_identity(&mut writer, origin, vkey)?;
        tracing::info!(target = %target.shown, "board storage: PostgreSQL");
        Ok(PostgresStorage {
            target,
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Pool {
                idle: Vec::new(),
                open: 0,
            }),
            reader_freed: Condvar::new(),
            commits: AtomicU64::new(0),
        })
    }

    /// The schema holding the log.
    pub fn schema(&self) -> &str {
        &self.target.schema
    }

    /// Where the log is, without the password: `postgres://user@host:port/db
    /// (schema S)`.
    pub fn target(&self) -> &str {
        &self.target.shown
    }

    /// The writer connection, reconnected if the server closed it.
    fn writer(&self) -> Result<MutexGuard<'_, Option<Conn>>, StorageError> {
        let mut guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.as_ref().is_none_or(|c| c.client.is_closed()) {
            *guard = None;
            *guard = Some(self.target.connect(false)?);
        }
        Ok(guard)
    }

    fn take_reader(&self) -> Result<Conn, StorageError> {
        let mut pool = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(conn) = pool.idle.pop() {
                if !conn.client.is_closed() {
                    return Ok(conn);
                }
                pool.open -= 1;
                continue;
            }
            if pool.open < MAX_READERS {
                pool.open += 1;
                drop(pool);
                let conn = self.target.connect(true);
                if conn.is_err() {
                    let mut pool = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
                    pool.open -= 1;
                    self.reader_freed.notify_one();
                }
                return conn;
            }
            pool = self
                .reader_freed
                .wait(pool)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn give_back(&self, conn: Conn) {
        let mut pool = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if conn.client.is_closed() {
            pool.open -= 1;
            drop(pool);
            drop(conn);
        } else {
            pool.idle.push(conn);
            drop(pool);
        }
        self.reader_freed.notify_one();
    }

    /// Runs `f` on a pooled reader connection (once more on a fresh one if
    /// the server had closed the pooled one).
    fn with_reader<T>(
        &self,
        op: &'static str,
        f: impl Fn(&mut Conn) -> Result<T, Fail>,
    ) -> Result<T, StorageError> {
        for _ in 0..2 {
            let mut conn = self.take_reader()?;
            let result = f(&mut conn);
            let closed = conn.client.is_closed();
            self.give_back(conn);
            match result {
                Ok(v) => return Ok(v),
                Err(Fail::Refused(e)) => return Err(e),
                Err(Fail::Db(e)) if e.is_closed() || closed => {
                    tracing::warn!(op, error = %error_text(&e), "PostgreSQL reader connection lost; retrying");
                    continue;
                }
                Err(Fail::Db(e)) => return Err(db_err(op)(e)),
            }
        }
        Err(StorageError::backend(
            op,
            "the PostgreSQL connection was closed twice",
        ))
    }
}

impl Drop for PostgresStorage {
    /// Closes the connections on a thread of its own: closing a blocking
    /// client runs its runtime, which panics on an async worker thread (the
    /// last handle to the storage may be dropped there).
    fn drop(&mut self) {
        let mut conns: Vec<Conn> = Vec::new();
        if let Some(w) = self
            .writer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            conns.push(w);
        }
        conns.append(
            &mut self
                .readers
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .idle,
        );
        if conns.is_empty() {
            return;
        }
        let slot = std::sync::Arc::new(Mutex::new(conns));
        let theirs = std::sync::Arc::clone(&slot);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("board-pg-close".into())
            .spawn(move || {
                let conns =
                    std::mem::take(&mut *theirs.lock().unwrap_or_else(PoisonError::into_inner));
                drop(conns);
                let _ = done_tx.send(());
            });
        match spawned {
            Ok(_) => {
                // Wait a little so a process that exits next still says
                // goodbye to the server; never hang on an unreachable one.
                let _ = done_rx.recv_timeout(Duration::from_secs(5));
            }
            Err(_) => {
                let conns =
                    std::mem::take(&mut *slot.lock().unwrap_or_else(PoisonError::into_inner));
                if tokio::runtime::Handle::try_current().is_ok() {
                    // Cannot close them here; the OS closes the sockets.
                    std::mem::forget(conns);
                } else {
                    drop(conns);
                }
            }
        }
    }
}

/// Creates the schema (if missing) and its tables (if missing).
fn create_schema(conn: &mut Conn, schema: &str) -> Result<(), StorageError> {
    // Two boards opening a new schema at once may race on the catalog: the
    // loser sees a duplicate and tries once more, then finds it all there.
    for attempt in 0..2 {
        match try_create_schema(conn, schema) {
            Ok(()) => return Ok(()),
            Err(e) if attempt == 0 && is_duplicate(&e) => continue,
            Err(e) => return Err(db_err("create the PostgreSQL schema")(e)),
        }
    }
    Ok(())
}

fn is_duplicate(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::DUPLICATE_SCHEMA
            || *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_OBJECT
    )
}

fn try_create_schema(conn: &mut Conn, schema: &str) -> Result<(), postgres::Error> {
    let exists = conn
        .client
        .query_opt(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1",
            &[&schema],
        )?
        .is_some();
    if !exists {
        conn.client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))?;
    }
    for sql in TABLES {
        conn.client.batch_execute(sql)?;
    }
    conn.client
        .execute(
            "INSERT INTO log_size (id, size) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
            &[],
        )
        .map(|_| ())
}

/// Records (first open) or checks (later opens) which board owns the
/// schema (`spec/board.md` §2).
fn bind_identity(conn: &mut Conn, origin: &str, vkey: &str) -> Result<(), StorageError> {
    let stored = serializable(conn, "bind identity", |tx, _| {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', $1), ('origin', $2), ('vkey', $3)
             ON CONFLICT (key) DO NOTHING",
            &[&SCHEMA_VERSION, &origin, &vkey],
        )?;
        let rows = tx.query(
            "SELECT key, value FROM meta WHERE key IN ('schema_version', 'origin', 'vkey')",
            &[],
        )?;
        let mut stored = HashMap::new();
        for row in rows {
            let key: String = row.try_get(0)?;
            let value: String = row.try_get(1)?;
            stored.insert(key, value);
        }
        Ok(stored)
    });
    let mut stored = match stored {
        Ok(s) => s,
        Err(Fail::Refused(e)) => return Err(e),
        Err(Fail::Db(e)) => return Err(db_err("bind identity")(e)),
    };
    let mut get = |k: &str| stored.remove(k).unwrap_or_default();
    let version = get("schema_version");
    if version != SCHEMA_VERSION {
        return Err(StorageError::Corrupt(format!(
            "unknown schema version {version:?}"
        )));
    }
    let stored_origin = get("origin");
    if stored_origin != origin {
        return Err(StorageError::WrongBoard(format!(
            "origin is {stored_origin:?}, not {origin:?}"
        )));
    }
    let stored_vkey = get("vkey");
    if stored_vkey != vkey {
        return Err(StorageError::WrongBoard(format!(
            "it was created with key {stored_vkey:?}, not {vkey:?}"
        )));
    }
    Ok(())
}

fn read_size(conn: &mut Conn) -> Result<u64, Fail> {
    let stmt = conn.prepare(SELECT_SIZE)?;
    let row = conn.client.query_opt(&stmt, &[])?;
    size_of_row(row)
}

fn size_of_row(row: Option<postgres::Row>) -> Result<u64, Fail> {
    match row {
        Some(row) => Ok(to_u64(row.try_get(0)?)?),
        None => Err(Fail::Refused(StorageError::Corrupt(
            "the log_size row is missing".into(),
        ))),
    }
}

/// One attempt of a batch (`spec/board.md` §2.2, §2.3).
fn append_once(
    tx: &mut Transaction<'_>,
    statements: &mut HashMap<&'static str, Statement>,
    batch: &Batch<'_>,
    batch_start: u64,
) -> Result<(), Fail> {
    let lock = match statements.get(LOCK_SIZE) {
        Some(s) => s.clone(),
        None => {
            let s = tx.prepare(LOCK_SIZE)?;
            statements.insert(LOCK_SIZE, s.clone());
            s
        }
    };
    let stored_size = size_of_row(tx.query_opt(&lock, &[])?)?;
    if batch_start != stored_size {
        return Err(Fail::Refused(StorageError::SizeMismatch {
            batch_start,
            stored_size,
        }));
    }
    let mut expected = stored_size;
    let mut entries = Vec::with_capacity(batch.entries.len());
    let mut hashes = Vec::new();
    let mut leaves = Vec::with_capacity(batch.entries.len());
    let mut seen = HashSet::with_capacity(batch.entries.len());
    for e in batch.entries {
        if e.index != expected {
            return Err(Fail::Refused(StorageError::SizeMismatch {
                batch_start: e.index,
                stored_size: expected,
            }));
        }
        expected += 1;
        let idx = to_i64(e.index)?;
        entries.push((idx, e.bytes));
        if let Some(leaf) = e.stored_hashes.first() {
            // The first index of a leaf hash stays (§5.8), within the batch
            // too.
            if seen.insert(leaf.0) {
                leaves.push((&leaf.0[..], idx));
            }
        }
        let first = stored_hash_index(0, e.index);
        for (k, h) in (first..).zip(e.stored_hashes) {
            hashes.push((to_i64(k)?, &h.0[..]));
        }
    }
    if expected != batch.checkpoint_size {
        return Err(Fail::Refused(StorageError::SizeMismatch {
            batch_start: batch.checkpoint_size,
            stored_size: expected,
        }));
    }
    let size = to_i64(batch.checkpoint_size)?;
    insert_pairs(tx, "entries (idx, data)", "", &entries)?;
    insert_pairs(tx, "hashes (idx, hash)", "", &hashes)?;
    insert_pairs(
        tx,
        "leaves (hash, idx)",
        " ON CONFLICT (hash) DO NOTHING",
        &leaves,
    )?;
    tx.execute(
        "INSERT INTO checkpoints (size, note) VALUES ($1, $2)",
        &[&size, &batch.checkpoint],
    )?;
    tx.execute("UPDATE log_size SET size = $1 WHERE id = 1", &[&size])?;
    Ok(())
}

impl HashReader for PostgresStorage {
    type Error = StorageError;

    /// One query for all of `indexes` (`= ANY($1)`), answered in their order.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        let ids = indexes
            .iter()
            .map(|&i| to_i64(i))
            .collect::<Result<Vec<i64>, _>>()?;
        let found = self.with_reader("read hashes", |conn| {
            let stmt = conn.prepare(SELECT_HASHES)?;
            let mut found = HashMap::with_capacity(ids.len());
            for row in conn.client.query(&stmt, &[&ids])? {
                let idx: i64 = row.try_get(0)?;
                let blob: &[u8] = row.try_get(1)?;
                found.insert(idx, to_hash(blob)?);
            }
            Ok(found)
        })?;
        ids.iter()
            .map(|i| {
                found
                    .get(i)
                    .copied()
                    .ok_or_else(|| StorageError::Corrupt(format!("stored hash {i} is missing")))
            })
            .collect()
    }
}

impl Storage for PostgresStorage {
    fn size(&self) -> Result<u64, StorageError> {
        self.with_reader("read size", read_size)
    }

    fn append(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        let batch_start = batch
            .entries
            .first()
            .map_or(batch.checkpoint_size, |e| e.index);
        let mut guard = self.writer()?;
        let Some(conn) = guard.as_mut() else {
            return Err(StorageError::backend("append", "no writer connection"));
        };
        match serializable(conn, "append", |tx, statements| {
            append_once(tx, statements, batch, batch_start)
        }) {
            Ok(()) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(Fail::Refused(e)) => Err(e),
            Err(Fail::Db(e)) => {
                // A writer elsewhere took the index first (unique key or
                // serialization): that is a size mismatch, nothing written.
                let conflict = is_retryable(&e) || e.code() == Some(&SqlState::UNIQUE_VIOLATION);
                if conflict && !conn.client.is_closed() {
                    if let Ok(stored_size) = read_size(conn) {
                        if stored_size != batch_start {
                            return Err(StorageError::SizeMismatch {
                                batch_start,
                                stored_size,
                            });
                        }
                    }
                }
                Err(db_err("append")(e))
            }
        }
    }

    fn read_entries(
        &self,
        start: u64,
        end: u64,
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>, StorageError> {
        if start >= end {
            return Ok(Vec::new());
        }
        self.with_reader("read entries", |conn| {
            let stmt = conn.prepare(SELECT_ENTRIES)?;
            let mut out = Vec::new();
            let mut bytes = 0usize;
            let mut next = start;
            'pages: while next < end {
                let limit = (end - next).min(ENTRY_PAGE_ROWS);
                let rows = conn
                    .client
                    .query(&stmt, &[&to_i64(next)?, &to_i64(end)?, &to_i64(limit)?])?;
                let fetched = rows.len() as u64;
                for row in rows {
                    let idx: i64 = row.try_get(0)?;
                    if to_u64(idx)? != next {
                        return Err(Fail::Refused(StorageError::Corrupt(format!(
                            "entry {next} is missing"
                        ))));
                    }
                    let data: Vec<u8> = row.try_get(1)?;
                    bytes = bytes.saturating_add(data.len());
                    out.push(data);
                    next += 1;
                    if bytes >= max_bytes {
                        break 'pages;
                    }
                }
                if fetched < limit {
                    break;
                }
            }
            if out.is_empty() {
                return Err(Fail::Refused(StorageError::Corrupt(format!(
                    "entry {start} is missing"
                ))));
            }
            Ok(out)
        })
    }

    fn read_hash_range(&self, start: u64, end: u64) -> Result<Vec<Hash>, StorageError> {
        if start >= end {
            return Ok(Vec::new());
        }
        self.with_reader("read hashes", |conn| {
            let stmt = conn.prepare(SELECT_HASH_RANGE)?;
            let rows = conn
                .client
                .query(&stmt, &[&to_i64(start)?, &to_i64(end)?])?;
            let mut out = Vec::with_capacity(rows.len());
            let mut expected = start;
            for row in rows {
                let idx: i64 = row.try_get(0)?;
                if to_u64(idx)? != expected {
                    return Err(Fail::Refused(StorageError::Corrupt(format!(
                        "stored hash {expected} is missing"
                    ))));
                }
                let blob: &[u8] = row.try_get(1)?;
                out.push(to_hash(blob)?);
                expected += 1;
            }
            if expected != end {
                return Err(Fail::Refused(StorageError::Corrupt(format!(
                    "stored hash {expected} is missing"
                ))));
            }
            Ok(out)
        })
    }

    fn hash_count(&self) -> Result<u64, StorageError> {
        self.with_reader("count hashes", |conn| {
            let stmt = conn.prepare(COUNT_HASHES)?;
            let row = conn.client.query_one(&stmt, &[])?;
            Ok(to_u64(row.try_get(0)?)?)
        })
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        self.with_reader("read checkpoint", |conn| {
            let stmt = conn.prepare(LATEST_CHECKPOINT)?;
            match conn.client.query_opt(&stmt, &[])? {
                Some(row) => Ok(Some((to_u64(row.try_get(0)?)?, row.try_get(1)?))),
                None => Ok(None),
            }
        })
    }

    fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    fn find_leaf(&self, leaf_hash: &Hash) -> Result<Option<u64>, StorageError> {
        self.with_reader("find leaf", |conn| {
            let stmt = conn.prepare(FIND_LEAF)?;
            match conn.client.query_opt(&stmt, &[&&leaf_hash.0[..]])? {
                Some(row) => Ok(Some(to_u64(row.try_get(0)?)?)),
                None => Ok(None),
            }
        })
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<Vec<u8>>, StorageError> {
        let size = to_i64(size)?;
        self.with_reader("read checkpoint", |conn| {
            let stmt = conn.prepare(CHECKPOINT_AT)?;
            match conn.client.query_opt(&stmt, &[&size])? {
                Some(row) => Ok(Some(row.try_get(0)?)),
                None => Ok(None),
            }
        })
    }

    fn put_cosignatures(&self, size: u64, lines: &[(String, String)]) -> Result<(), StorageError> {
        let size = to_i64(size)?;
        let mut guard = self.writer()?;
        let Some(conn) = guard.as_mut() else {
            return Err(StorageError::backend(
                "write cosignatures",
                "no writer connection",
            ));
        };
        serializable(conn, "write cosignatures", |tx, _| {
            for (witness, line) in lines {
                tx.execute(PUT_COSIGNATURE, &[&size, witness, line])?;
            }
            Ok(())
        })
        .map_err(|f| match f {
            Fail::Refused(e) => e,
            Fail::Db(e) => db_err("write cosignatures")(e),
        })
    }

    fn cosignatures(&self, size: Option<u64>) -> Result<Option<Cosignatures>, StorageError> {
        let size = size.map(to_i64).transpose()?;
        self.with_reader("read cosignatures", |conn| {
            let rows = match size {
                Some(size) => {
                    let stmt = conn.prepare(COSIGNATURES_AT)?;
                    conn.client.query(&stmt, &[&size])?
                }
                None => {
                    let stmt = conn.prepare(COSIGNATURES_LATEST)?;
                    conn.client.query(&stmt, &[])?
                }
            };
            let Some(first) = rows.first() else {
                return Ok(None);
            };
            let size = to_u64(first.try_get(0)?)?;
            let mut lines = rows
                .iter()
                .map(|r| Ok((r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<Vec<(String, String)>, postgres::Error>>()?;
            // By witness name, byte order (as SQLite's BINARY collation),
            // whatever the database's collation.
            lines.sort();
            Ok(Some(Cosignatures { size, lines }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://board:s3cret@db.example:5432/tally?sslmode=disable"),
            "postgres://board:***@db.example:5432/tally?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgresql://board@db/tally?password=s3cret&schema=x"),
            "postgresql://board@db/tally?password=***&schema=x"
        );
        assert_eq!(
            redact_url("host=db user=board password='s3 cret' dbname=tally"),
            "host=db user=board password=*** dbname=tally"
        );
        assert_eq!(
            redact_url("host=db password = s3cret"),
            "host=db password=***"
        );
        assert!(!redact_url("postgres://u:p%40ss@h/d").contains("p%40ss"));
        assert_eq!(redact_url("mysql://u:pw@h/d"), "mysql://u:***@h/d");
    }

    #[test]
    fn the_schema_parameter_is_split_off() {
        let (rest, schema) = split_schema("postgres://u@h/d?schema=board_1&sslmode=disable");
        assert_eq!(rest, "postgres://u@h/d?sslmode=disable");
        assert_eq!(schema.as_deref(), Some("board_1"));
        let (rest, schema) = split_schema("postgres://u@h/d?schema=b");
        assert_eq!(rest, "postgres://u@h/d");
        assert_eq!(schema.as_deref(), Some("b"));
        let (rest, schema) = split_schema("host=h schema=b dbname=d");
        assert_eq!(rest, "host=h  dbname=d");
        assert_eq!(schema.as_deref(), Some("b"));
        assert_eq!(split_schema("host=h").1, None);
        assert_eq!(
            search_path_schema("-c search_path=board_2,public").as_deref(),
            Some("board_2")
        );
        assert_eq!(search_path_schema("-c statement_timeout=5"), None);
    }

    #[test]
    fn schema_names_and_bad_urls_are_checked() {
        assert!(check_schema("tallyboard").is_ok());
        for bad in ["", "Board", "1x", "pg_x", "a-b", "a;drop"] {
            assert!(check_schema(bad).is_err(), "{bad:?}");
        }
        let err = parse_target("postgres://u:hunter2@h:notaport/d")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("connection string"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let t = parse_target("host=127.0.0.1 port=5432 user=u password=hunter2 dbname=d schema=s")
            .map(|t| t.shown)
            .unwrap_or_default();
        assert_eq!(t, "postgres://u@127.0.0.1:5432/d (schema s)");
    }
}
