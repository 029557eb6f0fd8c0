//! `tallyboard`: run, observe and verify a remote election or caucus.
//!
//! Every subcommand is a thin front end over the library crates; the rules
//! live there so that the services and the independent verifier share them.

use clap::{Parser, Subcommand};

mod admin_cmd;
mod board_cmd;
mod caucus_cmd;
mod demo;
mod issuer_cmd;
mod trustee_cmd;
use tallyboard_verifier::cli as verify_cmd;
mod vote_cmd;
mod witness_cmd;

/// Verifiable remote elections and caucuses.
#[derive(Debug, Parser)]
#[command(name = "tallyboard", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a whole election on the embedded default: board, issuer, trustees,
    /// voters, tally, decryption and verification.
    Demo(demo::DemoArgs),
    /// The bulletin board: serve it, or print its key.
    #[command(subcommand)]
    Board(board_cmd::BoardCommand),
    /// The credential issuer: import a roll, serve blind signatures.
    #[command(subcommand)]
    Issuer(issuer_cmd::IssuerCommand),
    /// The election administrator: manifest, phases, tally, result.
    #[command(subcommand)]
    Admin(admin_cmd::AdminCommand),
    /// A trustee: keys, key ceremony, partial decryption.
    #[command(subcommand)]
    Trustee(trustee_cmd::TrusteeCommand),
    /// A voter: enroll, cast or challenge, check a receipt.
    #[command(subcommand)]
    Vote(vote_cmd::VoteCommand),
    /// Verify a whole election record, from a live board or an exported file.
    Verify(verify_cmd::VerifyArgs),
    /// Export a board's record to a file for offline verification.
    Export(verify_cmd::ExportArgs),
    /// Generate a complete, valid election record offline (for benchmarks).
    GenRecord(verify_cmd::GenRecordArgs),
    /// Caucus rules: viability, apportionment, checks against published results.
    #[command(subcommand)]
    Caucus(caucus_cmd::CaucusCommand),
    /// A witness: follow a board and cosign its consistent checkpoints.
    #[command(subcommand)]
    Witness(witness_cmd::WitnessCommand),
}

/// Runs the `tallyboard` command on this process's arguments
/// (`std::env::args_os`) and returns its exit status.
pub fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    // `verify` exits 1 when a check fails and 2 when it cannot run at all
    // (`spec/checks.md` §10); every other command exits 1 on error.
    let error_code: u8 = if matches!(cli.command, Command::Verify(_)) {
        2
    } else {
        1
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Board(cmd) => board_cmd::run(cmd),
        Command::Issuer(cmd) => issuer_cmd::run(cmd),
        Command::Admin(cmd) => admin_cmd::run(cmd),
        Command::Trustee(cmd) => trustee_cmd::run(cmd),
        Command::Vote(cmd) => vote_cmd::run(cmd),
        Command::Verify(args) => verify_cmd::run_verify(args),
        Command::Export(args) => verify_cmd::run_export(args),
        Command::GenRecord(args) => verify_cmd::run_gen_record(args),
        Command::Caucus(cmd) => caucus_cmd::run(cmd),
        Command::Witness(cmd) => witness_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(error_code)
        }
    }
}
