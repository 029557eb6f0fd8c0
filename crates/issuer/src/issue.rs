//! Redeeming an enrollment code for a blind signature (`spec/issuer.md` §4,
//! §5): the decision logic behind `Issuer.IssueCredential`.
//!
//! Order of the checks (each step's work is bounded before the next):
//!
//! 1. per-address token bucket (I2.1);
//! 2. request fields: sizes, code format (I1.1, I1.2) — independent of the roll;
//! 3. per-voter-id lockout (I2.2) — kept for ids on and off the roll alike;
//! 4. Argon2id verification of the code, against a dummy hash with the same
//!    parameters for ids not on the roll (I3.1, identical answer);
//! 5. district and blinded message (I1.3, I1.4) — the code is not spent;
//! 6. blind signature computed (kept in memory);
//! 7. the code is marked Pending for this blinded message, with the signed
//!    Issuance entry, durably (fsync) — a different blinded message now gets
//!    I3.2;
//! 8. the entry is appended to the board and the receipt verified;
//! 9. the code is marked Issued; only then is the blind signature returned.
//!
//! A crash or board failure between 7 and 9 leaves the code Pending: the same
//! request (same code, same blinded message) completes it, and so does the
//! service on its next start (`spec/issuer.md` §5.2). The entry bytes are
//! stored before they are posted, so the board never sees two different
//! Issuance entries for one voter.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use tallyboard_board::{BoardClient, ClientError};
use tallyboard_proto::v1;
use tallyboard_tlog::Checkpoint;
use tokio::sync::Semaphore;
use tonic::Code;

use crate::codes::{verify_code, EnrollmentCode, MAX_CODE_INPUT};
use crate::credential::{
    blind_sign, check_blinded, IssuerPublicKey, IssuerSecretKey, MAX_RSA_BITS,
};
use crate::roll::{check_voter_id, normalize_voter_id, MAX_DISTRICT_ID, MAX_VOTER_ID};
use crate::store::{voter_key, Redemption, Store, StoreError, VoterRecord};

/// Domain prefix of the voter id hash of Issuance entries.
pub const VOTER_ID_DST: &[u8] = b"tallyboard/v1/voter-id\n";

/// The rule identifiers of the issuer (`spec/issuer.md` §7).
pub mod rules {
    /// A request field is missing or too long.
    pub const REQUEST_FIELDS: &str = "I1.1 request-fields";
    /// The enrollment code is not well formed (alphabet, length, check symbol).
    pub const CODE_FORMAT: &str = "I1.2 code-format";
    /// The blinded message is not modulus-sized or not below the modulus.
    pub const BLINDED_MESSAGE: &str = "I1.3 blinded-message";
    /// The request's district is not the voter's.
    pub const DISTRICT: &str = "I1.4 district";
    /// Too many requests from this address.
    pub const RATE_ADDRESS: &str = "I2.1 rate-address";
    /// Too many failed attempts for this voter id.
    pub const RATE_VOTER: &str = "I2.2 rate-voter";
    /// Unknown voter id or wrong enrollment code (one answer for both).
    pub const CREDENTIALS: &str = "I3.1 credentials";
    /// The code was already redeemed for another blinded message.
    pub const CODE_USED: &str = "I3.2 code-used";
    /// The board could not be reached or did not confirm the Issuance entry.
    pub const BOARD_UNAVAILABLE: &str = "I4.1 board-unavailable";
    /// The board refused the Issuance entry (e.g. the election's phase).
    pub const BOARD_REJECTED: &str = "I4.2 board-rejected";
    /// The record and the issuer's database disagree.
    pub const RECORD_CONFLICT: &str = "I4.3 record-conflict";
    /// An internal failure (database, worker).
    pub const INTERNAL: &str = "I9.1 internal";
}

/// How long a failure count (below the lockout threshold) is remembered.
pub const ATTEMPTS_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// The one message for an unknown voter id and a wrong code.
pub const CREDENTIALS_MESSAGE: &str = "unknown voter id or wrong enrollment code";

/// `SHA-256("tallyboard/v1/voter-id\n" ‖ fingerprint ‖ voter id)`, the
/// `Issuance.voter_id_hash` (`spec/issuer.md` §6).
pub fn voter_id_hash(fingerprint: &[u8; 32], voter_id: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(VOTER_ID_DST)
        .chain_update(fingerprint)
        .chain_update(voter_id.as_bytes())
        .finalize()
        .into()
}

/// Limits and rate limits of the service (`spec/issuer.md` §4.2).
#[derive(Debug, Clone)]
pub struct IssuerLimits {
    /// Consecutive failed attempts before a voter id is locked.
    pub max_failures: u32,
    /// How long a voter id stays locked.
    pub lockout: Duration,
    /// Token bucket per client address: capacity.
    pub address_burst: u32,
    /// Token bucket per client address: tokens added per minute.
    pub address_per_minute: u32,
    /// Most addresses tracked at once (full buckets are forgotten first).
    pub max_tracked_addresses: usize,
    /// Concurrent Argon2 verifications (each holds its memory cost).
    pub argon2_concurrency: usize,
    /// Deadline of one request, board round trips included.
    pub request_timeout: Duration,
    /// Deadline of one board call.
    pub board_timeout: Duration,
}

impl Default for IssuerLimits {
    fn default() -> Self {
        IssuerLimits {
            max_failures: 5,
            lockout: Duration::from_secs(15 * 60),
            address_burst: 20,
            address_per_minute: 60,
            max_tracked_addresses: 100_000,
            argon2_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            request_timeout: Duration::from_secs(30),
            board_timeout: Duration::from_secs(10),
        }
    }
}

/// The class of an issuance failure; maps one to one to a gRPC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueErrorKind {
    /// Malformed request (I1.x).
    InvalidArgument,
    /// Rate limited (I2.x).
    ResourceExhausted,
    /// Unknown voter or wrong code (I3.1).
    PermissionDenied,
    /// Code already redeemed for another blinded message (I3.2).
    AlreadyExists,
    /// The board refused the entry (I4.2).
    FailedPrecondition,
    /// The board is unreachable: retry the same request (I4.1).
    Unavailable,
    /// Internal (I4.3, I9.1).
    Internal,
}

/// Why a credential was not issued. The message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule}: {message}")]
pub struct IssueError {
    /// The class.
    pub kind: IssueErrorKind,
    /// The rule, e.g. `"I3.1 credentials"`.
    pub rule: &'static str,
    /// Details (never secrets, never whether a voter id is on the roll).
    pub message: String,
}

impl IssueError {
    fn new(kind: IssueErrorKind, rule: &'static str, message: impl Into<String>) -> Self {
        IssueError {
            kind,
            rule,
            message: message.into(),
        }
    }
    fn internal(message: impl Into<String>) -> Self {
        Self::new(IssueErrorKind::Internal, rules::INTERNAL, message)
    }

    /// The gRPC code.
    pub fn code(&self) -> Code {
        match self.kind {
            IssueErrorKind::InvalidArgument => Code::InvalidArgument,
            IssueErrorKind::ResourceExhausted => Code::ResourceExhausted,
            IssueErrorKind::PermissionDenied => Code::PermissionDenied,
            IssueErrorKind::AlreadyExists => Code::AlreadyExists,
            IssueErrorKind::FailedPrecondition => Code::FailedPrecondition,
            IssueErrorKind::Unavailable => Code::Unavailable,
            IssueErrorKind::Internal => Code::Internal,
        }
    }
}

impl From<IssueError> for tonic::Status {
    fn from(e: IssueError) -> Self {
        tonic::Status::new(e.code(), e.to_string())
    }
}

impl From<StoreError> for IssueError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "issuer database failure");
        IssueError::internal("issuer database failure")
    }
}

/// A successful issuance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The voter's district.
    pub district: String,
    /// The blind signature.
    pub blind_signature: Vec<u8>,
    /// Log index of the Issuance entry.
    pub issuance_entry: u64,
}

/// What the start-up recovery did with Pending codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Entries now on the board (posted now, or found there).
    pub completed: u64,
    /// Entries the board refused: the codes are Unused again.
    pub abandoned: u64,
    /// Still Pending (board unavailable): completed on the voter's retry.
    pub still_pending: u64,
}

/// Current time, ms since the Unix epoch.
fn now_ms() -> u64 {
    tallyboard_protocol::testkit::now_unix_ms()
}

// ---------------------------------------------------------------------------
// Per-address token buckets.

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per client address (IPv4 address, or IPv6 /64).
#[derive(Debug)]
pub(crate) struct AddressLimiter {
    buckets: HashMap<u128, Bucket>,
    burst: f64,
    per_sec: f64,
    max: usize,
}

fn address_key(ip: Option<IpAddr>) -> u128 {
    match ip {
        None => u128::MAX,
        Some(IpAddr::V4(v4)) => u128::from(u32::from(v4)),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            None => (u128::from(v6) >> 64) << 64 | 1 << 32,
        },
    }
}

impl AddressLimiter {
    pub(crate) fn new(limits: &IssuerLimits) -> Self {
        AddressLimiter {
            buckets: HashMap::new(),
            burst: f64::from(limits.address_burst.max(1)),
            per_sec: f64::from(limits.address_per_minute) / 60.0,
            max: limits.max_tracked_addresses.max(16),
        }
    }

    /// Takes a token; on refusal returns how long until the next one.
    pub(crate) fn take(&mut self, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        if self.buckets.len() >= self.max {
            let (burst, per_sec) = (self.burst, self.per_sec);
            self.buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * per_sec < burst
            });
            if self.buckets.len() >= self.max {
                // Still full of active clients: refuse newcomers rather than grow.
                return Err(Duration::from_secs(1));
            }
        }
        let b = self.buckets.entry(address_key(ip)).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else if self.per_sec > 0.0 {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_sec))
        } else {
            Err(Duration::from_secs(3600))
        }
    }
}

// ---------------------------------------------------------------------------
// The board link.

/// Why posting to the board failed.
#[derive(Debug)]
enum PostError {
    /// The board says the entry (or an Issuance for this voter) is already
    /// on the record.
    AlreadyExists(String),
    /// The board refused the entry for good: it is not on the log.
    Rejected(String),
    /// Anything else: the entry may or may not be on the log.
    Unavailable(String),
}

fn classify(e: ClientError) -> PostError {
    match e {
        ClientError::Status(s) => match s.code() {
            Code::AlreadyExists => PostError::AlreadyExists(s.message().to_string()),
            Code::InvalidArgument | Code::FailedPrecondition | Code::PermissionDenied => {
                PostError::Rejected(s.message().to_string())
            }
            _ => PostError::Unavailable(format!("{}: {}", s.code(), s.message())),
        },
        ClientError::Transport(t) => PostError::Unavailable(t.to_string()),
        other => {
            tracing::error!(error = %other, "the board's answer does not verify");
            PostError::Unavailable(format!("the board's answer does not verify: {other}"))
        }
    }
}

/// A verifying connection to the board, with the latest checkpoint this
/// issuer has verified (every later one must be consistent with it).
#[derive(Debug)]
pub(crate) struct BoardLink {
    client: BoardClient,
    trusted: tokio::sync::Mutex<Checkpoint>,
    timeout: Duration,
}

impl BoardLink {
    pub(crate) fn new(client: BoardClient, trusted: Checkpoint, timeout: Duration) -> Self {
        BoardLink {
            client,
            trusted: tokio::sync::Mutex::new(trusted),
            timeout,
        }
    }

    async fn timed<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, ClientError>>,
    ) -> Result<T, PostError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r.map_err(classify),
            Err(_) => Err(PostError::Unavailable(
                "the board did not answer in time".into(),
            )),
        }
    }

    /// A lower bound of the log size (the trusted checkpoint's size).
    async fn size_hint(&self) -> u64 {
        self.trusted.lock().await.size()
    }

    /// Checks that `newer` extends the trusted checkpoint and trusts it.
    async fn advance(&self, newer: &Checkpoint) -> Result<(), PostError> {
        let mut trusted = self.trusted.lock().await;
        if newer.size() <= trusted.size() {
            return Ok(());
        }
        let mut client = self.client.clone();
        let old = trusted.clone();
        self.timed(client.prove_consistency(&old, newer)).await?;
        *trusted = newer.clone();
        Ok(())
    }

    /// Appends `entry`; returns its index once the receipt verified.
    async fn append(&self, entry: Vec<u8>) -> Result<u64, PostError> {
        let mut client = self.client.clone();
        let receipt = self.timed(client.append(entry)).await?;
        self.advance(&receipt.checkpoint).await?;
        Ok(receipt.index)
    }

    /// Looks for `entry` on the log from index `from`; proves its inclusion
    /// under a fresh checkpoint before answering.
    async fn find(&self, entry: &[u8], from: u64) -> Result<Option<u64>, PostError> {
        let mut client = self.client.clone();
        let latest = self.timed(client.checkpoint()).await?;
        let latest = latest.checkpoint().clone();
        self.advance(&latest).await?;
        let mut start = from.min(latest.size());
        while start < latest.size() {
            let (page, _) = self.timed(client.list_entries(start, 0)).await?;
            if page.is_empty() {
                break;
            }
            for e in &page {
                if e.index >= latest.size() {
                    break;
                }
                if e.entry == entry {
                    self.timed(client.prove_inclusion(entry, e.index, &latest))
                        .await?;
                    return Ok(Some(e.index));
                }
            }
            start = page.last().map_or(latest.size(), |e| e.index + 1);
        }
        Ok(None)
    }
}

// ---------------------------------------------------------------------------
// The issuer.

/// A district's keys.
pub(crate) struct DistrictKey {
    pub(crate) secret: Arc<IssuerSecretKey>,
    pub(crate) public: IssuerPublicKey,
}

/// The election an issuer serves.
#[derive(Debug, Clone)]
pub struct Election {
    /// Manifest `election_id`.
    pub election_id: String,
    /// Election fingerprint.
    pub fingerprint: [u8; 32],
}

const STRIPES: usize = 64;

/// The issuer's state and decision logic, shared by the gRPC service.
pub struct IssuerCore {
    store: Arc<Store>,
    signing: SigningKey,
    districts: BTreeMap<String, DistrictKey>,
    election: Election,
    board: BoardLink,
    dummy_hash: String,
    argon2: Semaphore,
    addresses: Mutex<AddressLimiter>,
    stripes: Vec<tokio::sync::Mutex<()>>,
    limits: IssuerLimits,
}

impl std::fmt::Debug for IssuerCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerCore")
            .field("election_id", &self.election.election_id)
            .field("districts", &self.districts.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn invalid(rule: &'static str, message: impl Into<String>) -> IssueError {
    IssueError::new(IssueErrorKind::InvalidArgument, rule, message)
}

fn denied() -> IssueError {
    IssueError::new(
        IssueErrorKind::PermissionDenied,
        rules::CREDENTIALS,
        CREDENTIALS_MESSAGE,
    )
}

fn used() -> IssueError {
    IssueError::new(
        IssueErrorKind::AlreadyExists,
        rules::CODE_USED,
        "this enrollment code was already redeemed (for another blinded message); \
         a code issues one credential only",
    )
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IssueError> + Send + 'static,
) -> Result<T, IssueError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IssueError::internal(format!("worker task failed: {e}")))?
}

impl IssuerCore {
    /// Assembles an issuer. `dummy_hash` must have the Argon2 parameters of
    /// the stored hashes ([`crate::codes::dummy_hash`]).
    pub(crate) fn new(
        store: Arc<Store>,
        signing: SigningKey,
        districts: BTreeMap<String, DistrictKey>,
        election: Election,
        board: BoardLink,
        dummy_hash: String,
        limits: IssuerLimits,
    ) -> Self {
        IssuerCore {
            store,
            signing,
            districts,
            election,
            board,
            dummy_hash,
            argon2: Semaphore::new(limits.argon2_concurrency.max(1)),
            addresses: Mutex::new(AddressLimiter::new(&limits)),
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            limits,
        }
    }

    /// The district public keys, by district id.
    pub fn public_keys(&self) -> BTreeMap<String, IssuerPublicKey> {
        self.districts
            .iter()
            .map(|(d, k)| (d.clone(), k.public.clone()))
            .collect()
    }

    /// The election served.
    pub fn election(&self) -> &Election {
        &self.election
    }

    /// The limits in force.
    pub fn limits(&self) -> &IssuerLimits {
        &self.limits
    }

    fn issuance_entry(&self, voter_id: &str, district: &str) -> Vec<u8> {
        let now = now_ms();
        tallyboard_protocol::sign_entry(
            &self.signing,
            v1::EntryBody {
                election_id: self.election.election_id.clone(),
                election_fingerprint: self.election.fingerprint.to_vec(),
                created_unix_ms: now,
                author_key: Vec::new(),
                payload: Some(v1::entry_body::Payload::Issuance(v1::Issuance {
                    voter_id_hash: voter_id_hash(&self.election.fingerprint, voter_id).to_vec(),
                    district: district.to_string(),
                    issued_unix_ms: now,
                })),
            },
        )
    }

    /// Redeems an enrollment code (`spec/issuer.md` §4). `peer` is the
    /// client's address, for the per-address rate limit.
    pub async fn issue(
        &self,
        request: &v1::IssueCredentialRequest,
        peer: Option<IpAddr>,
    ) -> Result<Issued, IssueError> {
        // 1. Per-address rate limit, before any work.
        {
            let mut limiter = self
                .addresses
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Err(wait) = limiter.take(peer, Instant::now()) {
                return Err(IssueError::new(
                    IssueErrorKind::ResourceExhausted,
                    rules::RATE_ADDRESS,
                    format!(
                        "too many requests from this address; retry in {} s",
                        wait.as_secs().max(1)
                    ),
                ));
            }
        }

        // 2. Request fields: nothing here depends on the roll.
        let voter_id = normalize_voter_id(&request.voter_id);
        if request.voter_id.len() > MAX_VOTER_ID + 64 {
            return Err(invalid(rules::REQUEST_FIELDS, "voter_id is too long"));
        }
        check_voter_id(voter_id).map_err(|e| invalid(rules::REQUEST_FIELDS, e))?;
        if request.district.is_empty() || request.district.len() > MAX_DISTRICT_ID {
            return Err(invalid(
                rules::REQUEST_FIELDS,
                "district must be the voter's district id (1 to 64 characters)",
            ));
        }
        let max_blinded = MAX_RSA_BITS / 8;
        if request.blinded_message.is_empty() || request.blinded_message.len() > max_blinded {
            return Err(invalid(
                rules::BLINDED_MESSAGE,
                format!(
                    "blinded message must be modulus-sized (at most {max_blinded} bytes), got {} bytes",
                    request.blinded_message.len()
                ),
            ));
        }
        if request.enrollment_code.len() > MAX_CODE_INPUT {
            return Err(invalid(rules::CODE_FORMAT, "enrollment code is too long"));
        }
        let code = EnrollmentCode::parse(&request.enrollment_code)
            .map_err(|e| invalid(rules::CODE_FORMAT, e.to_string()))?;

        // One request per voter id at a time (striped locks).
        let key = voter_key(voter_id);
        let _guard = self.stripes[usize::from(key[0]) % STRIPES].lock().await;

        // 3. Lockout, for every voter id.
        let now = now_ms();
        let attempts = self.store.attempts(&key)?;
        if attempts.locked_until_ms > now {
            return Err(self.locked(attempts.locked_until_ms - now));
        }

        // 4. The code: one Argon2id verification whether or not the voter
        //    is on the roll.
        let record = self.store.voter(voter_id)?;
        let hash = record
            .as_ref()
            .map_or_else(|| self.dummy_hash.clone(), |r| r.code_hash.clone());
        let permit = self
            .argon2
            .acquire()
            .await
            .map_err(|_| IssueError::internal("shutting down"))?;
        let matches = blocking(move || Ok(verify_code(&code, &hash))).await?;
        drop(permit);
        let record = match (record, matches) {
            (Some(r), true) => r,
            _ => {
                let a = self.store.record_failure(
                    &key,
                    now,
                    self.limits.max_failures,
                    u64::try_from(self.limits.lockout.as_millis()).unwrap_or(u64::MAX),
                )?;
                if a.locked_until_ms > now {
                    tracing::warn!("a voter id was locked after repeated failed attempts");
                }
                return Err(denied());
            }
        };
        self.store.clear_failures(&key)?;

        // 5. District and blinded message: refused without spending the code.
        if request.district != record.district {
            return Err(invalid(
                rules::DISTRICT,
                format!(
                    "this voter belongs to district {:?}: blind the credential with that district's key",
                    record.district
                ),
            ));
        }
        let district = self
            .districts
            .get(&record.district)
            .ok_or_else(|| IssueError::internal("no key for the voter's district"))?;
        check_blinded(&district.public, &request.blinded_message)
            .map_err(|e| invalid(rules::BLINDED_MESSAGE, e.to_string()))?;

        // 6. The blind signature (deterministic for a given blinded message).
        let blinded = request.blinded_message.clone();
        let secret = Arc::clone(&district.secret);
        let blind_signature = blocking(move || {
            blind_sign(&secret, &blinded)
                .map_err(|e| invalid(rules::BLINDED_MESSAGE, e.to_string()))
        })
        .await?;

        // 7.–9.
        let index = self.redeem(&record, &request.blinded_message).await?;
        Ok(Issued {
            district: record.district,
            blind_signature,
            issuance_entry: index,
        })
    }

    fn locked(&self, remaining_ms: u64) -> IssueError {
        IssueError::new(
            IssueErrorKind::ResourceExhausted,
            rules::RATE_VOTER,
            format!(
                "too many failed attempts for this voter id; locked for another {} s",
                remaining_ms.div_ceil(1000)
            ),
        )
    }

    /// Marks the code Pending for `blinded` (or finds it so), posts the
    /// entry and marks it Issued. Returns the entry's index.
    async fn redeem(&self, record: &VoterRecord, blinded: &[u8]) -> Result<u64, IssueError> {
        let entry = self.issuance_entry(&record.voter_id, &record.district);
        let hint = self.board.size_hint().await;
        let (entry, hint) =
            match self
                .store
                .begin_redemption(&record.voter_id, blinded, &entry, hint, now_ms())?
            {
                Redemption::Started => (entry, hint),
                Redemption::Pending { entry, board_hint } => (entry, board_hint),
                Redemption::Issued { index } => return Ok(index),
                Redemption::Used => return Err(used()),
            };
        self.complete(&record.voter_id, entry, hint).await
    }

    /// Posts a Pending voter's entry and settles its state.
    async fn complete(&self, voter_id: &str, entry: Vec<u8>, hint: u64) -> Result<u64, IssueError> {
        match self.board.append(entry.clone()).await {
            Ok(index) => {
                self.store.finish_redemption(voter_id, index)?;
                tracing::info!(index, "credential issued");
                Ok(index)
            }
            Err(PostError::AlreadyExists(message)) => match self.board.find(&entry, hint).await {
                Ok(Some(index)) => {
                    self.store.finish_redemption(voter_id, index)?;
                    tracing::info!(index, "credential issued (entry found on the board)");
                    Ok(index)
                }
                Ok(None) => {
                    tracing::error!(
                        board = %message,
                        "the board has another Issuance entry for this voter; the code stays pending"
                    );
                    Err(IssueError::new(
                        IssueErrorKind::Internal,
                        rules::RECORD_CONFLICT,
                        "the record already holds a different issuance for this voter; \
                         contact the election administrator",
                    ))
                }
                Err(e) => Err(unavailable(e)),
            },
            Err(PostError::Rejected(message)) => {
                self.store.abandon_redemption(voter_id)?;
                Err(IssueError::new(
                    IssueErrorKind::FailedPrecondition,
                    rules::BOARD_REJECTED,
                    format!("the board refused the issuance ({message}); the code was not spent"),
                ))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Forgets failure counts not updated for [`ATTEMPTS_RETENTION`]
    /// (locked voter ids are kept until their lock expires).
    pub fn prune_attempts(&self) -> Result<usize, IssueError> {
        let now = now_ms();
        let before =
            now.saturating_sub(u64::try_from(ATTEMPTS_RETENTION.as_millis()).unwrap_or(u64::MAX));
        Ok(self.store.prune_attempts(now, before)?)
    }

    /// Completes every Pending redemption (at start-up, `spec/issuer.md` §5.2).
    pub async fn recover_pending(&self) -> Result<RecoveryReport, IssueError> {
        let mut report = RecoveryReport::default();
        for record in self.store.pending()? {
            let (Some(entry), hint) = (record.issuance_entry.clone(), record.board_hint) else {
                return Err(IssueError::internal("pending voter without entry"));
            };
            match self.complete(&record.voter_id, entry, hint).await {
                Ok(_) => report.completed += 1,
                Err(e) if e.kind == IssueErrorKind::FailedPrecondition => report.abandoned += 1,
                Err(e) if e.kind == IssueErrorKind::Unavailable => report.still_pending += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}

fn unavailable(e: PostError) -> IssueError {
    let detail = match e {
        PostError::AlreadyExists(m) | PostError::Rejected(m) | PostError::Unavailable(m) => m,
    };
    IssueError::new(
        IssueErrorKind::Unavailable,
        rules::BOARD_UNAVAILABLE,
        format!(
            "the issuance could not be recorded on the board yet ({detail}); \
             the code is reserved for this blinded message: retry the same request"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voter_id_hash_is_domain_separated() {
        let a = voter_id_hash(&[1; 32], "alice");
        assert_ne!(a, voter_id_hash(&[2; 32], "alice"));
        assert_ne!(a, voter_id_hash(&[1; 32], "alicf"));
        let mut h = Sha256::new();
        h.update(b"tallyboard/v1/voter-id\n");
        h.update([1u8; 32]);
        h.update(b"alice");
        assert_eq!(a, <[u8; 32]>::from(h.finalize()));
        assert_eq!(
            hex::encode(a),
            "9af6311f6ae81ff762fb790cb1e575d6f78a1177d938b2fe38dee6e14d395ea6"
        );
    }

    #[test]
    fn token_bucket() {
        let limits = IssuerLimits {
            address_burst: 3,
            address_per_minute: 60,
            max_tracked_addresses: 16,
            ..IssuerLimits::default()
        };
        let mut l = AddressLimiter::new(&limits);
        let t0 = Instant::now();
        let ip: Option<IpAddr> = Some([10, 0, 0, 1].into());
        for _ in 0..3 {
            assert!(l.take(ip, t0).is_ok());
        }
        let wait = l.take(ip, t0).expect_err("empty");
        assert!(wait <= Duration::from_secs(1));
        // Another address has its own bucket.
        assert!(l.take(Some([10, 0, 0, 2].into()), t0).is_ok());
        // One token per second comes back.
        assert!(l.take(ip, t0 + Duration::from_millis(1100)).is_ok());
        assert!(l.take(ip, t0 + Duration::from_millis(1200)).is_err());
        // IPv6 addresses share a bucket per /64.
        let a: IpAddr = "2001:db8::1".parse().expect("ip");
        let b: IpAddr = "2001:db8::2".parse().expect("ip");
        assert_eq!(address_key(Some(a)), address_key(Some(b)));
        assert_ne!(
            address_key(Some(a)),
            address_key(Some("2001:db9::1".parse().expect("ip")))
        );
    }
}
