//! `tallyboard issuer ...`: set up and run the credential issuer
//! (`spec/issuer.md` §3, §4).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use tallyboard_board::{ClientTls, TlsFiles};
use tallyboard_issuer::credential::DEFAULT_RSA_BITS;
use tallyboard_issuer::{
    init_data_dir, serve, Argon2Profile, InitOptions, IssuerConfig, IssuerLimits, Roll,
};

/// Argon2id parameters of the enrollment code hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Argon2Choice {
    /// OWASP parameters (m = 19456 KiB, t = 2, p = 1): for real elections.
    Default,
    /// m = 1024 KiB, t = 1, p = 1: demos and tests only.
    Fast,
}

/// Credential issuer commands.
#[derive(Debug, Subcommand)]
pub enum IssuerCommand {
    /// Create an issuer from a voter roll: district RSA keys, the Issuance
    /// signing key, one enrollment code per voter (written to
    /// DIR/enrollment-codes.csv for delivery; only Argon2id hashes are
    /// kept), and DIR/issuer-keys.json for the manifest.
    Init {
        /// The roll: CSV with the header `voter_id,district`.
        #[arg(long)]
        roll: PathBuf,
        /// Data directory to create (must not hold an issuer yet).
        #[arg(long)]
        data_dir: PathBuf,
        /// RSA modulus size of the district keys (2048 to 4096, multiple of 8).
        #[arg(long, default_value_t = DEFAULT_RSA_BITS)]
        rsa_bits: usize,
        /// Argon2id parameters of the code hashes.
        #[arg(long, value_enum, default_value_t = Argon2Choice::Default)]
        argon2: Argon2Choice,
    },
    /// Run the issuer gRPC server until Ctrl-C or SIGTERM. Reads the
    /// manifest from the board and refuses to start unless it names this
    /// issuer's keys.
    Serve {
        /// Data directory made by `issuer init`.
        #[arg(long)]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50061")]
        listen: SocketAddr,
        /// The board's URL, e.g. http://127.0.0.1:50051.
        #[arg(long)]
        board: String,
        /// The board's verifier key (as printed by `tallyboard board key`),
        /// to pin instead of trusting the manifest's board key.
        #[arg(long)]
        board_key: Option<String>,
        /// CA certificate (PEM) to trust for an https board URL.
        #[arg(long)]
        board_ca: Option<PathBuf>,
        /// TLS certificate chain (PEM); serves plaintext without it.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Requests per client address in a burst (token bucket capacity,
        /// `spec/issuer.md` §4.4); raise it where many voters share one
        /// address.
        #[arg(long, default_value_t = IssuerLimits::default().address_burst)]
        address_burst: u32,
        /// Requests per client address per minute once the burst is spent
        /// (`spec/issuer.md` §4.4).
        #[arg(long, default_value_t = IssuerLimits::default().address_per_minute)]
        address_per_minute: u32,
    },
}

/// Runs an issuer command.
pub fn run(cmd: IssuerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        IssuerCommand::Init {
            roll,
            data_dir,
            rsa_bits,
            argon2,
        } => {
            let text = std::fs::read_to_string(&roll)
                .with_context(|| format!("cannot read the roll {}", roll.display()))?;
            let roll = Roll::parse_csv(&text).with_context(|| format!("{}", roll.display()))?;
            let options = InitOptions {
                rsa_bits,
                argon2: match argon2 {
                    Argon2Choice::Default => Argon2Profile::Default,
                    Argon2Choice::Fast => Argon2Profile::Fast,
                },
                write_codes_file: true,
            };
            eprintln!(
                "creating keys for {} district(s) and codes for {} voter(s)...",
                roll.districts().len(),
                roll.len()
            );
            let out = init_data_dir(&data_dir, &roll, &options)?;
            println!(
                "issuer_signing_key: {}",
                hex_key(out.signing_key.as_bytes())
            );
            println!(
                "public keys (for the manifest): {}",
                out.public_keys_file.display()
            );
            if let Some(codes) = &out.codes_file {
                println!(
                    "enrollment codes (deliver, then delete; mode 0600): {}",
                    codes.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        IssuerCommand::Serve {
            data_dir,
            listen,
            board,
            board_key,
            board_ca,
            tls_cert,
            tls_key,
            address_burst,
            address_per_minute,
        } => {
            let mut config = IssuerConfig::new(data_dir, listen, board);
            config.board_key = board_key;
            config.limits.address_burst = address_burst;
            config.limits.address_per_minute = address_per_minute;
            config.board_tls = match board_ca {
                Some(path) => Some(ClientTls {
                    ca_pem: std::fs::read(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                    domain: None,
                }),
                None => None,
            };
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
                serve(config, crate::board_cmd::shutdown_signal())
                    .await
                    .context("the issuer stopped with an error")
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn hex_key(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
