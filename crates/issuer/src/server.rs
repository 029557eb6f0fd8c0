//! Running the issuer as a gRPC server (`spec/issuer.md` §4.4, §5.2).
//!
//! Start-up, in order, refusing to serve if any step fails:
//!
//! 1. lock the data directory, open the database, load the keys;
//! 2. read entry 0 from the board, check that it is a valid manifest, that
//!    its districts' `issuer_rsa_key` are exactly this issuer's keys and its
//!    `issuer_signing_key` is this issuer's key; verify the board's signed
//!    checkpoint (under the manifest's board key, or a pinned one) and the
//!    inclusion of entry 0 in it;
//! 3. bind the database to the election (a data directory serves one
//!    election, ever);
//! 4. complete Pending redemptions;
//! 5. serve `tallyboard.v1.Issuer`, health and reflection.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tallyboard_board::{BoardClient, ClientTls, TlsFiles};
use tallyboard_proto::v1 as pb;
use tallyboard_protocol::{ElectionManifest, RecordState};
use tallyboard_tlog::{Checkpoint, Ed25519Verifier};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{
    Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Server, ServerTlsConfig,
};

use crate::codes::dummy_hash;
use crate::datadir::{load_keys, lock_data_dir, DataDirError, DB_FILE};
use crate::issue::{BoardLink, DistrictKey, Election, IssuerCore, IssuerLimits, RecoveryReport};
use crate::service::IssuerService;
use crate::store::{Store, StoreError};

/// Largest response accepted from the board.
const MAX_BOARD_RESPONSE: usize = 16 << 20;

/// Configuration of an issuer server.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// The data directory made by `init`.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The board's URL (`http://host:port` or `https://host:port`).
    pub board_url: String,
    /// TLS settings for the board connection (with an `https` URL).
    pub board_tls: Option<ClientTls>,
    /// The board's verifier key (C2SP vkey), if pinned; otherwise the
    /// manifest's `board_origin` and `board_key` are used.
    pub board_key: Option<String>,
    /// Serve over TLS with this certificate and key.
    pub tls: Option<TlsFiles>,
    /// Limits and rate limits.
    pub limits: IssuerLimits,
}

impl IssuerConfig {
    /// A configuration with default limits and no TLS.
    pub fn new(
        data_dir: impl Into<PathBuf>,
        listen: SocketAddr,
        board_url: impl Into<String>,
    ) -> Self {
        IssuerConfig {
            data_dir: data_dir.into(),
            listen,
            board_url: board_url.into(),
            board_tls: None,
            board_key: None,
            tls: None,
            limits: IssuerLimits::default(),
        }
    }
}

/// Why the issuer could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data directory (keys, lock).
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The board could not be reached or answered wrongly.
    #[error("board: {0}")]
    Board(String),
    /// The manifest on the board does not fit this issuer.
    #[error("the manifest on the board does not fit this issuer: {0}")]
    Manifest(String),
    /// Binding or TLS files.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The gRPC transport.
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Anything else.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The manifest (entry 0) as read and verified from the board.
#[derive(Debug, Clone)]
pub struct BoardManifest {
    /// The validated manifest.
    pub manifest: Arc<ElectionManifest>,
    /// A verified checkpoint that includes entry 0.
    pub checkpoint: Checkpoint,
}

async fn connect_channel(url: &str, tls: Option<&ClientTls>) -> Result<Channel, ServeError> {
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| ServeError::Board(format!("invalid board URL {url:?}: {e}")))?
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30));
    if let Some(tls) = tls {
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
        if let Some(domain) = &tls.domain {
            config = config.domain_name(domain.clone());
        }
        endpoint = endpoint.tls_config(config)?;
    }
    endpoint
        .connect()
        .await
        .map_err(|e| ServeError::Board(format!("cannot connect to {url}: {e}")))
}

/// Reads entry 0 from the board, validates it as a manifest and proves its
/// inclusion under a checkpoint signed by the board key (the pinned
/// `board_key` if given, else the manifest's). Returns the verifying client.
pub async fn fetch_manifest(
    channel: Channel,
    board_key: Option<&str>,
) -> Result<(BoardClient, BoardManifest), ServeError> {
    let mut raw = pb::board_client::BoardClient::new(channel.clone())
        .max_decoding_message_size(MAX_BOARD_RESPONSE);
    let page = raw
        .list_entries(pb::ListEntriesRequest { start: 0, limit: 1 })
        .await
        .map_err(|s| {
            ServeError::Board(format!(
                "cannot read entry 0: {}: {}",
                s.code(),
                s.message()
            ))
        })?
        .into_inner();
    let first = page
        .entries
        .into_iter()
        .next()
        .filter(|e| e.index == 0)
        .ok_or_else(|| ServeError::Manifest("the board has no manifest (entry 0) yet".into()))?;
    let mut state = RecordState::unbound();
    state
        .check_and_apply(&first.entry)
        .map_err(|e| ServeError::Manifest(format!("entry 0 is not a valid manifest: {e}")))?;
    let manifest = state
        .manifest()
        .cloned()
        .ok_or_else(|| ServeError::Manifest("entry 0 is not a manifest".into()))?;
    let key_bytes: [u8; 32] = manifest
        .raw
        .board_key
        .as_slice()
        .try_into()
        .map_err(|_| ServeError::Manifest("board_key is not 32 bytes".into()))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes)
        .map_err(|_| ServeError::Manifest("board_key is not an Ed25519 key".into()))?;
    let verifier = Ed25519Verifier::new(&manifest.raw.board_origin, key)
        .map_err(|e| ServeError::Manifest(format!("board_origin/board_key: {e}")))?;
    if let Some(pinned) = board_key {
        let pinned = Ed25519Verifier::from_vkey(pinned.trim())
            .map_err(|e| ServeError::Board(format!("invalid board key: {e}")))?;
        if pinned != verifier {
            return Err(ServeError::Manifest(format!(
                "the manifest names board {} but the pinned board key is {}",
                verifier.to_vkey(),
                pinned.to_vkey()
            )));
        }
    }
    let mut client = BoardClient::from_channel(channel, verifier);
    let checkpoint = client
        .checkpoint()
        .await
        .map_err(|e| ServeError::Board(format!("checkpoint: {e}")))?
        .into_checkpoint();
    client
        .prove_inclusion(&first.entry, 0, &checkpoint)
        .await
        .map_err(|e| ServeError::Board(format!("entry 0 is not in the signed tree: {e}")))?;
    Ok((
        client,
        BoardManifest {
            manifest,
            checkpoint,
        },
    ))
}

/// Checks that the manifest names exactly this issuer's keys.
fn check_manifest(
    manifest: &ElectionManifest,
    signing: &ed25519_dalek::VerifyingKey,
    districts: &BTreeMap<String, DistrictKey>,
) -> Result<(), ServeError> {
    if &manifest.issuer_signing_key != signing {
        return Err(ServeError::Manifest(format!(
            "issuer_signing_key is {}, this issuer's key is {}",
            hex::encode(manifest.issuer_signing_key.as_bytes()),
            hex::encode(signing.as_bytes())
        )));
    }
    let named: BTreeSet<&str> = manifest
        .raw
        .districts
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    let ours: BTreeSet<&str> = districts.keys().map(String::as_str).collect();
    if named != ours {
        return Err(ServeError::Manifest(format!(
            "the manifest's districts {named:?} are not the roll's districts {ours:?}"
        )));
    }
    for d in &manifest.raw.districts {
        let key = districts
            .get(&d.id)
            .ok_or_else(|| ServeError::Manifest(format!("district {} is not on the roll", d.id)))?;
        if d.issuer_rsa_key != key.public.to_der() {
            return Err(ServeError::Manifest(format!(
                "district {}: issuer_rsa_key is not this issuer's key",
                d.id
            )));
        }
    }
    Ok(())
}

/// A started issuer: checked against the board, pending redemptions
/// completed, ready to serve.
#[derive(Debug)]
pub struct StartedIssuer {
    /// The issuer.
    pub core: Arc<IssuerCore>,
    /// What recovery did.
    pub recovery: RecoveryReport,
    _lock: crate::datadir::DataDirLock,
}

/// Steps 1–4 of the start-up (see the module documentation).
pub async fn start(config: &IssuerConfig) -> Result<StartedIssuer, ServeError> {
    let dir = config.data_dir.clone();
    let (lock, store, keys, dummy) = tokio::task::spawn_blocking(move || {
        let lock = lock_data_dir(&dir)?;
        let store = Store::open(&dir.join(DB_FILE))?;
        let districts = store.districts()?;
        let keys = load_keys(&dir, &districts)?;
        let like = store
            .any_code_hash()?
            .ok_or_else(|| ServeError::Internal("the roll is empty".into()))?;
        let dummy = dummy_hash(&like).map_err(|e| ServeError::Internal(e.to_string()))?;
        Ok::<_, ServeError>((lock, store, keys, dummy))
    })
    .await
    .map_err(|e| ServeError::Internal(e.to_string()))??;
    let store = Arc::new(store);

    let districts: BTreeMap<String, DistrictKey> = keys
        .districts
        .into_iter()
        .map(|(d, secret)| {
            let public = secret.public_key().clone();
            (
                d,
                DistrictKey {
                    secret: Arc::new(secret),
                    public,
                },
            )
        })
        .collect();

    let channel = connect_channel(&config.board_url, config.board_tls.as_ref()).await?;
    let (client, board) = fetch_manifest(channel, config.board_key.as_deref()).await?;
    check_manifest(&board.manifest, &keys.signing.verifying_key(), &districts)?;

    let fingerprint = board.manifest.fingerprint;
    let fp_hex = hex::encode(fingerprint);
    match store.meta("election_fingerprint")? {
        None => store.set_meta("election_fingerprint", &fp_hex)?,
        Some(bound) if bound == fp_hex => {}
        Some(bound) => {
            return Err(ServeError::Manifest(format!(
                "this data directory serves election {bound}, the board holds election {fp_hex}"
            )))
        }
    }

    let election = Election {
        election_id: board.manifest.raw.election_id.clone(),
        fingerprint,
    };
    let link = BoardLink::new(client, board.checkpoint, config.limits.board_timeout);
    let core = Arc::new(IssuerCore::new(
        store,
        keys.signing,
        districts,
        election,
        link,
        dummy,
        config.limits.clone(),
    ));
    let recovery = core
        .recover_pending()
        .await
        .map_err(|e| ServeError::Internal(format!("recovery: {e}")))?;
    if recovery != RecoveryReport::default() {
        tracing::info!(
            completed = recovery.completed,
            abandoned = recovery.abandoned,
            still_pending = recovery.still_pending,
            "pending issuances recovered"
        );
    }
    Ok(StartedIssuer {
        core,
        recovery,
        _lock: lock,
    })
}

/// Starts the issuer and serves it on `config.listen` until `shutdown`.
pub async fn serve(
    config: IssuerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Io {
            what: format!("cannot listen on {}", config.listen),
            source,
        })?;
    serve_with_listener(config, listener, shutdown).await
}

/// [`serve`] on a bound listener (`config.listen` is ignored).
pub async fn serve_with_listener(
    config: IssuerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let started = start(&config).await?;
    serve_started(&started, &config, listener, shutdown).await
}

/// Serves a started issuer on `listener` until `shutdown` completes.
pub async fn serve_started(
    started: &StartedIssuer,
    config: &IssuerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let limits = started.core.limits().clone();
    let mut builder = Server::builder()
        .timeout(limits.request_timeout)
        .concurrency_limit_per_connection(32)
        .max_concurrent_streams(Some(64))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .tcp_keepalive(Some(Duration::from_secs(60)))
        .tcp_nodelay(true);
    if let Some(tls) = &config.tls {
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|source| ServeError::Io {
                what: format!("cannot read {}", p.display()),
                source,
            })
        };
        let (cert, key) = (read(&tls.cert)?, read(&tls.key)?);
        builder =
            builder.tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))?;
    }
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<pb::issuer_server::IssuerServer<IssuerService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tallyboard_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServeError::Internal(format!("reflection: {e}")))?;
    // Forget stale failure counts now and then.
    let pruner = {
        let core = Arc::clone(&started.core);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                let core = Arc::clone(&core);
                match tokio::task::spawn_blocking(move || core.prune_attempts()).await {
                    Ok(Ok(n)) if n > 0 => {
                        tracing::info!(rows = n, "stale failed attempts forgotten")
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "pruning failed attempts"),
                    _ => {}
                }
            }
        })
    };
    let stop = async move {
        shutdown.await;
        health
            .set_not_serving::<pb::issuer_server::IssuerServer<IssuerService>>()
            .await;
    };
    tracing::info!(
        addr = ?listener.local_addr().ok(),
        election = %started.core.election().election_id,
        tls = config.tls.is_some(),
        "issuer serving"
    );
    let served = builder
        .add_service(health_service)
        .add_service(reflection)
        .add_service(IssuerService::new(Arc::clone(&started.core)).into_server())
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), stop)
        .await;
    pruner.abort();
    served?;
    Ok(())
}
