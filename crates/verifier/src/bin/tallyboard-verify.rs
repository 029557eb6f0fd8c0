//! `tallyboard-verify`: the independent verifier alone, for auditors who
//! build only this crate (`cargo install --path crates/verifier`). Same
//! arguments, output and exit codes as `tallyboard verify`
//! (`spec/checks.md` §10): 0 every check passed, 1 a check failed, 2 the
//! verification could not run.

use clap::Parser;
use tallyboard_verifier::cli::{run_verify, VerifyArgs};

/// Verify a tallyboard election record, from a live board or an exported
/// file: every check of spec/checks.md.
#[derive(Debug, Parser)]
#[command(name = "tallyboard-verify", version)]
struct Cli {
    #[command(flatten)]
    args: VerifyArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run_verify(cli.args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
