//! Running the board as a gRPC server (`spec/board.md` §5, §6).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::board::{Board, Limits};
use crate::error::OpenError;
use crate::service::BoardService;
use crate::web::WebLayer;

/// The CORS policy for gRPC-Web callers from other origins
/// (`spec/board.md` §11.2): none by default; the listed origins (or any,
/// with `*`) may POST gRPC-Web requests and read the gRPC status trailers.
pub fn cors_layer(origins: &[String]) -> Result<tower_http::cors::CorsLayer, ServeError> {
    use http::header::{HeaderName, HeaderValue};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list = origins
            .iter()
            .map(|o| {
                HeaderValue::from_str(o.trim_end_matches('/')).map_err(|_| {
                    ServeError::Internal(format!("--cors-origin {o:?} is not a valid origin"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(list)
    };
    let headers = [
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "grpc-timeout",
        "grpc-accept-encoding",
    ];
    let exposed = ["grpc-status", "grpc-message", "grpc-status-details-bin"];
    Ok(CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([http::Method::POST, http::Method::OPTIONS])
        .allow_headers(headers.map(HeaderName::from_static))
        .expose_headers(exposed.map(HeaderName::from_static))
        .max_age(Duration::from_secs(24 * 3600)))
}

/// PEM files of the server's TLS certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
}

/// Where a board keeps its log (`spec/board.md` §2, §6.2).
#[derive(Clone, Default, PartialEq, Eq)]
pub enum StorageChoice {
    /// SQLite in the data directory (`board.db`, `spec/board.md` §2.1).
    #[default]
    Sqlite,
    /// A PostgreSQL database (`spec/board.md` §2.3), by its `postgres://`
    /// URL (optionally with `schema=NAME`); the data directory keeps the key
    /// and the lock.
    Postgres(String),
}

impl std::str::FromStr for StorageChoice {
    type Err = String;

    /// `sqlite`, or a `postgres://` / `postgresql://` URL.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("sqlite") {
            Ok(StorageChoice::Sqlite)
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(StorageChoice::Postgres(s.to_owned()))
        } else {
            Err(format!(
                "storage {:?} is neither `sqlite` nor a postgres:// URL",
                crate::storage::redact_url(s)
            ))
        }
    }
}

impl std::fmt::Display for StorageChoice {
    /// `sqlite`, or the URL with its password redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageChoice::Sqlite => f.write_str("sqlite"),
            StorageChoice::Postgres(url) => f.write_str(&crate::storage::redact_url(url)),
        }
    }
}

impl std::fmt::Debug for StorageChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageChoice::Sqlite => f.write_str("Sqlite"),
            StorageChoice::Postgres(_) => write!(f, "Postgres({self})"),
        }
    }
}

/// Configuration of a board server.
#[derive(Debug, Clone)]
pub struct BoardConfig {
    /// The data directory (key, lock and, with SQLite, the database).
    pub data_dir: PathBuf,
    /// Where the log is stored (SQLite in the data directory by default).
    pub storage: StorageChoice,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Checkpoint origin, e.g. `tallyboard/ia-2028-cd1`; must equal the
    /// manifest's `board_origin`.
    pub origin: String,
    /// Serve over TLS with this certificate and key.
    pub tls: Option<TlsFiles>,
    /// Limits.
    pub limits: Limits,
    /// Serve the board explorer page at `/` (`spec/board.md` §11).
    pub web: bool,
    /// Origins (e.g. `https://observer.example.org`) whose pages may call
    /// the board through gRPC-Web (CORS); the board's own page needs none.
    /// `*` allows any origin.
    pub cors_origins: Vec<String>,
}

impl BoardConfig {
    /// A configuration with default limits and no TLS.
    pub fn new(
        data_dir: impl Into<PathBuf>,
        listen: SocketAddr,
        origin: impl Into<String>,
    ) -> Self {
        BoardConfig {
            data_dir: data_dir.into(),
            storage: StorageChoice::Sqlite,
            listen,
            origin: origin.into(),
            tls: None,
            limits: Limits::default(),
            web: true,
            cors_origins: Vec::new(),
        }
    }
}

/// Why a server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The board could not be opened (data directory, key, corruption).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Binding the listen address or reading TLS files failed.
    #[error("{what}: {error}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The gRPC transport failed (including TLS configuration).
    #[error("gRPC transport error")]
    Transport(#[from] tonic::transport::Error),
    /// The sequencer stopped after a storage failure.
    #[error("the sequencer stopped: {0}")]
    SequencerFailed(String),
    /// A startup task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Opens the board of `config` (recovering it) on a blocking thread: every
/// storage call, PostgreSQL's blocking client included, runs off the async
/// runtime.
pub async fn open_board(config: &BoardConfig) -> Result<Board, ServeError> {
    let (dir, origin, limits, storage) = (
        config.data_dir.clone(),
        config.origin.clone(),
        config.limits.clone(),
        config.storage.clone(),
    );
    tokio::task::spawn_blocking(move || match storage {
        StorageChoice::Sqlite => Board::open_dir(&dir, &origin, limits),
        StorageChoice::Postgres(url) => Board::open_dir_with(&dir, &origin, limits, |vkey| {
            let storage = crate::storage::PostgresStorage::open(&url, &origin, vkey)?;
            Ok(std::sync::Arc::new(storage))
        }),
    })
    .await
    .map_err(|e| ServeError::Internal(e.to_string()))?
    .map_err(ServeError::Open)
}

/// Opens the board and serves it on `config.listen` until `shutdown`
/// completes (`spec/board.md` §6). Shutdown is graceful: new calls are
/// refused, live streams end with `Unavailable`, appends already queued are
/// committed and answered, then the sequencer stops.
pub async fn serve(
    config: BoardConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|error| ServeError::Io {
            what: format!("cannot listen on {}", config.listen),
            error,
        })?;
    serve_with_listener(config, listener, shutdown).await
}

/// [`serve`] on an already bound listener (`config.listen` is ignored), for
/// callers that bind port 0 and need the address.
pub async fn serve_with_listener(
    config: BoardConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let board = open_board(&config).await?;
    let result = serve_board(board.clone(), &config, listener, shutdown).await;
    board.close().await;
    result
}

async fn read_file(path: &PathBuf) -> Result<Vec<u8>, ServeError> {
    tokio::fs::read(path).await.map_err(|error| ServeError::Io {
        what: format!("cannot read {}", path.display()),
        error,
    })
}

/// Serves an opened board on `listener` until `shutdown` completes or the
/// sequencer fails. Does not close the board.
pub async fn serve_board(
    board: Board,
    config: &BoardConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let limits = board.limits().clone();
    let local = listener.local_addr().ok();
    let mut builder = Server::builder()
        .timeout(limits.request_timeout)
        .concurrency_limit_per_connection(limits.concurrency_per_connection)
        .max_concurrent_streams(Some(256))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .tcp_keepalive(Some(Duration::from_secs(60)))
        .tcp_nodelay(true);
    if let Some(tls) = &config.tls {
        let cert = read_file(&tls.cert).await?;
        let key = read_file(&tls.key).await?;
        builder =
            builder.tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))?;
    }

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<tallyboard_proto::v1::board_server::BoardServer<BoardService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tallyboard_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServeError::Internal(format!("reflection: {e}")))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tallyboard_proto::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ServeError::Internal(format!("reflection: {e}")))?;
    let cors = cors_layer(&config.cors_origins)?;

    let mut failed = board.failed();
    let failure = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let failure_slot = std::sync::Arc::clone(&failure);
    let closing_board = board.clone();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            reason = failed.wait_for(Option::is_some) => {
                if let Ok(reason) = reason {
                    if let Ok(mut slot) = failure_slot.lock() {
                        *slot = reason.clone();
                    }
                }
            }
        }
        health
            .set_not_serving::<tallyboard_proto::v1::board_server::BoardServer<BoardService>>()
            .await;
        closing_board.begin_close();
    };

    tracing::info!(
        addr = ?local,
        origin = %config.origin,
        storage = %config.storage,
        tls = config.tls.is_some(),
        web = config.web,
        vkey = %board.verifier(),
        "board serving"
    );
    builder
        .accept_http1(true)
        .layer(WebLayer::new(config.web))
        .layer(cors)
        .layer(tonic_web::GrpcWebLayer::new())
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(BoardService::new(board).into_server())
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), stop)
        .await?;
    let failure = failure
        .lock()
        .map(|mut f| f.take())
        .unwrap_or_else(|mut p| p.get_mut().take());
    match failure {
        Some(reason) => Err(ServeError::SequencerFailed(reason)),
        None => Ok(()),
    }
}
