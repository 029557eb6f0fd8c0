//! `tallyboard caucus ...`: caucus rules on the command line.
//!
//! A thin front end over `tallyboard-caucus`; the rules and the check live
//! in the library (spec/caucus.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use tallyboard_caucus::published::{
    check_published, parse_delegates, parse_results, CheckReport, Outcome,
};
use tallyboard_caucus::Rules;

/// Caucus subcommands.
#[derive(Debug, Subcommand)]
pub enum CaucusCommand {
    /// Re-run viability and apportionment on published precinct results and
    /// compare the state delegate equivalents (spec/caucus.md §7).
    ///
    /// Prints `reproduced N of M precincts`, counts per reason, then every
    /// discrepancy and data anomaly with its line. Exits 0 when the check
    /// ran (discrepancies are findings), non-zero when an input is unreadable.
    CheckPublished {
        /// Results export (three header rows; first, final alignment and SDE
        /// per group).
        #[arg(long, value_name = "FILE")]
        results: PathBuf,
        /// Precinct delegate table (County, Long Name, Delegates to County
        /// Convention, State Delegate Equivalents).
        #[arg(long, value_name = "FILE")]
        delegates: PathBuf,
        /// Print only the summary, not every discrepancy and anomaly.
        #[arg(long)]
        summary: bool,
    },
}

/// Run a caucus subcommand.
pub fn run(cmd: CaucusCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CaucusCommand::CheckPublished {
            results,
            delegates,
            summary,
        } => check_published_cmd(&results, &delegates, summary),
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn check_published_cmd(
    results: &Path,
    delegates: &Path,
    summary_only: bool,
) -> anyhow::Result<ExitCode> {
    let results_table = parse_results(&read(results)?)
        .with_context(|| format!("cannot parse results file {}", results.display()))?;
    let delegate_table = parse_delegates(&read(delegates)?)
        .with_context(|| format!("cannot parse delegate file {}", delegates.display()))?;
    let report = check_published(&Rules::iowa_2020(), &results_table, &delegate_table);
    print!("{}", render(&report, summary_only));
    Ok(ExitCode::SUCCESS)
}

fn render(report: &CheckReport, summary_only: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let total = report.total();
    let reproduced = report.reproduced();
    // Writing to a String cannot fail.
    let _ = writeln!(s, "reproduced {reproduced} of {total} precincts");
    let _ = writeln!(
        s,
        "  {} of them needed a coin toss (several rule-consistent outcomes); {} carry no data anomaly",
        report.reproduced_with_toss(),
        report.reproduced_clean()
    );
    let _ = writeln!(s, "not reproduced: {}", total - reproduced);
    for (reason, n) in report.discrepancy_counts() {
        let _ = writeln!(s, "  {n:6}  {reason}");
    }
    let anomalies = report.anomaly_counts();
    if !anomalies.is_empty() {
        let _ = writeln!(s, "data anomalies (precincts, reproduced or not):");
        for (reason, n) in anomalies {
            let _ = writeln!(s, "  {n:6}  {reason}");
        }
    }
    if summary_only {
        return s;
    }
    let _ = writeln!(s, "discrepancies:");
    for p in &report.precincts {
        if let Outcome::NotReproduced(d) = &p.outcome {
            let _ = writeln!(s, "  line {}: {} / {}: {d}", p.line, p.county, p.precinct);
        }
    }
    let _ = writeln!(s, "anomalies:");
    for p in &report.precincts {
        for a in &p.anomalies {
            let _ = writeln!(s, "  line {}: {} / {}: {a}", p.line, p.county, p.precinct);
        }
    }
    s
}
