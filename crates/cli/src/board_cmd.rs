//! `tallyboard board ...`: run the bulletin board (`spec/board.md` §6).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use tallyboard_board::{keys, serve, BoardConfig, StorageChoice, TlsFiles};

/// Bulletin board commands.
#[derive(Debug, Subcommand)]
pub enum BoardCommand {
    /// Run the bulletin board gRPC server until Ctrl-C or SIGTERM.
    Serve {
        /// Data directory: board key, lock and database (created if missing).
        #[arg(long)]
        data_dir: PathBuf,
        /// Where the log is stored: `sqlite` (`board.db` in the data
        /// directory) or a PostgreSQL URL,
        /// `postgres://user[:password]@host[:port]/dbname[?schema=NAME]`
        /// (schema `tallyboard` by default; the data directory keeps the key
        /// and the lock).
        #[arg(
            long,
            default_value = "sqlite",
            value_name = "sqlite|URL",
            hide_default_value = true
        )]
        storage: StorageChoice,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
        /// Checkpoint origin, e.g. `tallyboard/ia-2028-cd1` (the manifest's
        /// `board_origin`).
        #[arg(long)]
        origin: String,
        /// TLS certificate chain (PEM); serves plaintext without it.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Do not serve the board explorer page at `/` (gRPC and gRPC-Web
        /// only).
        #[arg(long)]
        no_web: bool,
        /// An origin (`https://host[:port]`) whose pages may call the board
        /// through gRPC-Web; repeatable; `*` allows any. The board's own page
        /// needs none.
        #[arg(long = "cors-origin", value_name = "ORIGIN")]
        cors_origins: Vec<String>,
    },
    /// Print the board's public key (C2SP verifier key) for the manifest,
    /// voters and observers. With `--origin`, creates the key if the data
    /// directory has none yet.
    Key {
        /// Data directory of the board.
        #[arg(long)]
        data_dir: PathBuf,
        /// Checkpoint origin: create the key now (before the first start).
        #[arg(long)]
        origin: Option<String>,
    },
}

/// Runs a board command.
pub fn run(cmd: BoardCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BoardCommand::Serve {
            data_dir,
            storage,
            listen,
            origin,
            tls_cert,
            tls_key,
            no_web,
            cors_origins,
        } => {
            let mut config = BoardConfig::new(data_dir, listen, origin);
            config.storage = storage;
            config.web = !no_web;
            config.cors_origins = cors_origins;
            config.tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                _ => None,
            };
            let _ = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::INFO)
                .with_writer(std::io::stderr)
                .try_init();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(async {
                serve(config, shutdown_signal())
                    .await
                    .context("board server")
            })?;
            Ok(ExitCode::SUCCESS)
        }
        BoardCommand::Key { data_dir, origin } => {
            let vkey = match origin {
                Some(origin) => keys::load_or_create_key(&data_dir, &origin)?
                    .verifier()
                    .to_vkey(),
                None => keys::read_vkey(&data_dir)?,
            };
            println!("{vkey}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Completes on Ctrl-C or (on Unix) SIGTERM (shared by the servers this
/// command runs).
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}
