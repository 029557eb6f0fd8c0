//! `tallyboard witness ...`: run a witness that cosigns the board's
//! checkpoints (`spec/board.md` §10).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use tallyboard_board::witness::{self, Witness, WitnessError};
use tallyboard_board::BoardClient;

/// Witness commands.
#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Create the witness's key in a new data directory (or load it) and
    /// print its cosignature verifier key, for the manifest's
    /// `[[witnesses]]`.
    Init {
        /// Data directory (created if missing).
        #[arg(long)]
        data_dir: PathBuf,
        /// The witness's key name, e.g. `witness.example-campaign.org/w1`
        /// (no whitespace, no `+`).
        #[arg(long)]
        name: String,
    },
    /// Print the witness's cosignature verifier key.
    Key {
        /// Data directory of the witness.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Follow a board and cosign every checkpoint that extends the last one
    /// this witness cosigned, until Ctrl-C or SIGTERM. Exits 3 if the board
    /// shows a checkpoint that does not (a fork), with the evidence in the
    /// data directory.
    Serve {
        /// Data directory of the witness (from `witness init`).
        #[arg(long)]
        data_dir: PathBuf,
        /// Board URL, e.g. `http://127.0.0.1:50051`.
        #[arg(long)]
        board: String,
        /// The board's key: its C2SP verifier key or the path of its
        /// `board.pub`.
        #[arg(long)]
        board_key: String,
        /// Milliseconds between two looks at the board.
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        /// Look once, cosign if there is something new, and exit.
        #[arg(long)]
        once: bool,
    },
}

/// Runs a witness command.
pub fn run(cmd: WitnessCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        WitnessCommand::Init { data_dir, name } => {
            let signer = witness::init(&data_dir, &name)?;
            println!("{}", signer.verifier().to_vkey());
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Key { data_dir } => {
            println!("{}", witness::load(&data_dir)?.verifier().to_vkey());
            Ok(ExitCode::SUCCESS)
        }
        WitnessCommand::Serve {
            data_dir,
            board,
            board_key,
            interval_ms,
            once,
        } => {
            let _ = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::INFO)
                .with_writer(std::io::stderr)
                .try_init();
            let board_key =
                tallyboard_authority::keys::board_verifier(&board_key).context("--board-key")?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(async move {
                let mut w = Witness::open(&data_dir, board_key.clone())?;
                tracing::info!(witness = %w.verifier(), board = %board, "witness following the board");
                let mut client = BoardClient::connect(&board, board_key, None)
                    .await
                    .with_context(|| format!("cannot connect to the board at {board}"))?;
                let result = if once {
                    w.round(&mut client).await.map(|r| {
                        println!("{r:?}");
                    })
                } else {
                    witness::follow(
                        &mut w,
                        &mut client,
                        Duration::from_millis(interval_ms.max(10)),
                        crate::board_cmd::shutdown_signal(),
                    )
                    .await
                };
                match result {
                    Ok(()) => Ok(ExitCode::SUCCESS),
                    Err(e @ WitnessError::Fork { .. }) => {
                        eprintln!("error: {e}");
                        Ok(ExitCode::from(3))
                    }
                    Err(e) => Err(e.into()),
                }
            })
        }
    }
}
