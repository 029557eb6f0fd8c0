//! The `tallyboard` verifier subcommands as a stand-alone program (the
//! CLI's own [`tallyboard_verifier::cli`]), for benchmarks without the full
//! command:
//!
//! ```text
//! cargo run --release -p tallyboard-verifier --example verifier_cli -- gen-record --ballots 100000 --out /tmp/r.record
//! cargo run --release -p tallyboard-verifier --example verifier_cli -- verify --record /tmp/r.record
//! ```

use tallyboard_verifier::cli as verify_cmd;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a record.
    Verify(verify_cmd::VerifyArgs),
    /// Export a board's record.
    Export(verify_cmd::ExportArgs),
    /// Generate a record.
    GenRecord(verify_cmd::GenRecordArgs),
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Verify(a) => verify_cmd::run_verify(a),
        Command::Export(a) => verify_cmd::run_export(a),
        Command::GenRecord(a) => verify_cmd::run_gen_record(a),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        std::process::ExitCode::from(2)
    })
}
