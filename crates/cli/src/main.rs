//! `tallyboard`: run, observe and verify a remote election or caucus.
//!
//! Every subcommand is a thin front end over the library crates; the rules
//! live there so that the services and the independent verifier share them.

use clap::{Parser, Subcommand};

mod caucus_cmd;

/// Verifiable remote elections and caucuses.
#[derive(Debug, Parser)]
#[command(name = "tallyboard", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Caucus rules: viability, apportionment, checks against published results.
    #[command(subcommand)]
    Caucus(caucus_cmd::CaucusCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Caucus(cmd) => caucus_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
