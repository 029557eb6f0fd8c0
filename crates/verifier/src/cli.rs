//! The command lines of the verifier: `tallyboard verify`, `tallyboard
//! export`, `tallyboard gen-record` (and the verifier's own binary,
//! `tallyboard-verify`): the independent verifier (`spec/checks.md`), the
//! record export (`spec/export.md`) and the record generator.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::generate::{generate_to_file, GenOptions};
use crate::incremental::{download, verify_update, StateFiles};
use crate::report_html::{sha256_file, utc_timestamp};
use crate::split::{merge, read_part, verify_part, write_part, PartSpec};
use crate::{export_record, verify_file, HtmlContext, Report, VerifyOptions};
use anyhow::Context as _;
use clap::Args;
use tallyboard_board_client::BoardClient;
use tallyboard_tlog::Ed25519Verifier;

/// Verify an election record: every check of spec/checks.md.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Download the record from this board (`http://host:port`).
    #[arg(long, requires = "board_key", conflicts_with = "record")]
    pub board: Option<String>,
    /// The board's verifier key (C2SP vkey); must be the manifest's board key.
    #[arg(long)]
    pub board_key: Option<String>,
    /// Verify this exported record file (spec/export.md).
    #[arg(long, required_unless_present = "board")]
    pub record: Option<PathBuf>,
    /// With --board: keep what was verified in FILE (and the entries in
    /// FILE.entries); the next run verifies only the entries added since
    /// and reports on the whole record (spec/checks.md §13).
    #[arg(long, value_name = "FILE", requires = "board")]
    pub state: Option<PathBuf>,
    /// An earlier signed checkpoint saved by you (repeatable): it must be
    /// consistent with the record.
    #[arg(long = "checkpoint", value_name = "FILE")]
    pub checkpoints: Vec<PathBuf>,
    /// Print the report as JSON (schema in spec/checks.md §10).
    #[arg(long)]
    pub json: bool,
    /// Also write the audit report, one self-contained HTML page to read,
    /// print and archive (spec/checks.md §12).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Write the counted ballot of every credential to this file
    /// (`credential-hex round entry-index` per line, check V5.4).
    #[arg(long, value_name = "FILE")]
    pub counted: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Verify only part I of K of --record, an index range, and write what
    /// the merge needs to --out (spec/checks.md §14). The parts run
    /// independently, at once, on any machines.
    #[arg(
        long,
        value_name = "I/K",
        value_parser = parse_part,
        requires = "record",
        conflicts_with_all = ["merge", "board", "state", "json", "report", "counted", "checkpoints", "board_key"]
    )]
    pub part: Option<PartSpec>,
    /// With --part: the part file to write (default: RECORD.part-I-of-K).
    #[arg(long, value_name = "FILE", requires = "part")]
    pub out: Option<PathBuf>,
    /// Merge the part files of a split verification of --record (every
    /// part I/K of one K, each once) into the report of one whole run
    /// (spec/checks.md §14).
    #[arg(
        long,
        value_name = "PART",
        num_args = 1..,
        requires = "record",
        conflicts_with_all = ["board", "state"]
    )]
    pub merge: Vec<PathBuf>,
}

fn parse_part(s: &str) -> Result<PartSpec, String> {
    s.parse()
}

/// Export a board's record to a file (spec/export.md).
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The board (`http://host:port`).
    #[arg(long)]
    pub board: String,
    /// The board's verifier key (C2SP vkey).
    #[arg(long)]
    pub board_key: String,
    /// Output file.
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
}

/// Generate a complete valid election record, in process (no network).
#[derive(Debug, Args)]
pub struct GenRecordArgs {
    /// Ballots (one voter and credential each).
    #[arg(long)]
    pub ballots: u64,
    /// Output record file; the board key is written to FILE.board-key.
    #[arg(long)]
    pub out: PathBuf,
    /// Options of the one-of-n contest.
    #[arg(long, default_value_t = 5)]
    pub options: u32,
    /// Districts.
    #[arg(long, default_value_t = 1)]
    pub districts: u32,
    /// Trustees.
    #[arg(long, default_value_t = 3)]
    pub trustees: u8,
    /// Threshold.
    #[arg(long, default_value_t = 2)]
    pub threshold: u8,
    /// Voters who cast a second ballot (the last counts).
    #[arg(long, default_value_t = 0)]
    pub revotes: u64,
    /// Voters who challenge a ballot before casting.
    #[arg(long, default_value_t = 0)]
    pub challenged: u64,
    /// Revote policy FIRST_COUNTS (default: LAST_COUNTS).
    #[arg(long)]
    pub first_counts: bool,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

fn parse_vkey(s: &str) -> anyhow::Result<Ed25519Verifier> {
    Ed25519Verifier::from_vkey(s.trim()).context("--board-key is not a C2SP Ed25519 vkey")
}

async fn connect(url: &str, key: &Ed25519Verifier) -> anyhow::Result<BoardClient> {
    BoardClient::connect(url, key.clone(), None)
        .await
        .with_context(|| format!("connecting to the board at {url}"))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Runs `tallyboard verify`. Exit code 0 only if every check passes, 1 if a
/// check fails; errors (unreadable files, unreachable board) are reported as
/// `Err`.
pub fn run_verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut opts = VerifyOptions {
        threads: args.threads,
        progress: !args.quiet,
        counted_out: args.counted.clone(),
        ..VerifyOptions::default()
    };
    if let Some(k) = &args.board_key {
        opts.board_key = Some(parse_vkey(k)?);
    }
    for path in &args.checkpoints {
        let note = std::fs::read(path)
            .with_context(|| format!("reading checkpoint {}", path.display()))?;
        opts.checkpoints.push((path.display().to_string(), note));
    }
    if let (Some(spec), Some(record)) = (args.part, &args.record) {
        return run_part(record, spec, args.out.as_deref(), &opts, args.quiet);
    }
    if let (false, Some(record)) = (args.merge.is_empty(), &args.record) {
        let mut parts = Vec::with_capacity(args.merge.len());
        for path in &args.merge {
            parts.push((path.clone(), read_part(path)?));
        }
        let run = merge(record, &parts, &opts)?;
        if !args.quiet {
            eprintln!(
                "merged {} parts: {} entries' signatures and proofs judged by the parts, {} by the merge",
                parts.len(),
                run.trusted,
                run.judged
            );
        }
        return finish_verify(&run.report, &args);
    }
    if let (Some(state), Some(url)) = (&args.state, &args.board) {
        let key = opts
            .board_key
            .clone()
            .context("--board needs --board-key")?;
        let files = StateFiles::new(state);
        let update = runtime()?.block_on(async {
            let mut client = connect(url, &key).await?;
            download(&mut client, &files)
                .await
                .context("updating the saved state from the board")
        })?;
        if !args.quiet {
            eprintln!(
                "{} entries verified earlier (saved in {}), {} new",
                update.verified_before(),
                state.display(),
                update.new_entries()
            );
        }
        let report = verify_update(update, &opts).context("verifying the new entries")?;
        return finish_verify(&report, &args);
    }
    let spool;
    let record = match (&args.record, &args.board) {
        (Some(path), _) => path.clone(),
        (None, Some(url)) => {
            let key = opts
                .board_key
                .clone()
                .context("--board needs --board-key")?;
            spool = tempfile::NamedTempFile::new().context("creating a temporary record file")?;
            let file = spool
                .reopen()
                .context("opening the temporary record file")?;
            let summary = runtime()?.block_on(async {
                let mut client = connect(url, &key).await?;
                export_record(&mut client, std::io::BufWriter::new(file))
                    .await
                    .context("downloading the record")
            })?;
            opts.board_consistency.push(format!(
                "board consistency proof {} -> {}",
                summary.entries, summary.latest_size
            ));
            spool.path().to_path_buf()
        }
        (None, None) => anyhow::bail!("give --record FILE or --board URL"),
    };
    let report = verify_file(&record, &opts)?;
    finish_verify(&report, &args)
}

/// Runs `tallyboard verify --record R --part I/K` (`spec/checks.md` §14):
/// exit code 0 once the part file is written, whatever the entries hold
/// (the verdict is the merge's).
fn run_part(
    record: &std::path::Path,
    spec: PartSpec,
    out: Option<&std::path::Path>,
    opts: &VerifyOptions,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let out = out.map_or_else(
        || {
            let mut p = record.as_os_str().to_owned();
            p.push(format!(".part-{}-of-{}", spec.index, spec.count));
            PathBuf::from(p)
        },
        std::path::Path::to_path_buf,
    );
    let run = verify_part(record, spec, opts)?;
    write_part(&out, &run.part)?;
    let (start, end) = run.part.range();
    if !quiet {
        eprintln!(
            "part {spec}: entries {start}..{end} ({} ballots, {} failed) in {:.2} s, {:.2} CPU s, {:.1} units per ballot (unit {:.1} µs); written to {}",
            run.ballots,
            run.part.failed_entries().len(),
            run.seconds,
            run.cpu_seconds,
            run.units_per_ballot(),
            run.unit_us,
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes and prints the report; the exit code says whether it passed.
fn finish_verify(report: &Report, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    if let Some(out) = &args.report {
        write_html_report(report, args, out)?;
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_human());
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Quotes `s` for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=+,@%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The command that re-runs this verification (`spec/checks.md` §12).
fn rerun_command(args: &VerifyArgs) -> String {
    let mut cmd = vec!["tallyboard".to_string(), "verify".to_string()];
    if let Some(path) = &args.record {
        cmd.push("--record".into());
        cmd.push(shell_quote(&path.display().to_string()));
    } else if let Some(url) = &args.board {
        cmd.push("--board".into());
        cmd.push(shell_quote(url));
        if let Some(k) = &args.board_key {
            cmd.push("--board-key".into());
            cmd.push(shell_quote(k.trim()));
        }
    }
    if args.record.is_some() {
        if let Some(k) = &args.board_key {
            cmd.push("--board-key".into());
            cmd.push(shell_quote(k.trim()));
        }
    }
    for c in &args.checkpoints {
        cmd.push("--checkpoint".into());
        cmd.push(shell_quote(&c.display().to_string()));
    }
    cmd.join(" ")
}

/// Writes the HTML audit report atomically: a temporary file in the same
/// directory, renamed over `out` once complete.
fn write_html_report(
    report: &Report,
    args: &VerifyArgs,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let record_sha256 = match &args.record {
        Some(path) => Some(
            sha256_file(path).with_context(|| format!("hashing the record {}", path.display()))?,
        ),
        None => None,
    };
    let ctx = HtmlContext {
        generated_at: utc_timestamp(std::time::SystemTime::now()),
        version: env!("CARGO_PKG_VERSION").to_string(),
        command: rerun_command(args),
        record_file: args.record.as_ref().map(|p| p.display().to_string()),
        record_sha256,
    };
    let html = report.to_html(&ctx);
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tallyboard-report")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(html.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing the report in {}", dir.display()))?;
    // A page to share and archive: readable by all, like any other output
    // (a temporary file is created owner-only).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("writing the report in {}", dir.display()))?;
    }
    tmp.persist(out)
        .with_context(|| format!("writing the report {}", out.display()))?;
    eprintln!(
        "audit report ({}) written to {}",
        if report.ok {
            "VERIFIED"
        } else {
            "NOT VERIFIED"
        },
        out.display()
    );
    Ok(())
}

/// Runs `tallyboard export`.
pub fn run_export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let key = parse_vkey(&args.board_key)?;
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let summary = runtime()?.block_on(async {
        let mut client = connect(&args.board, &key).await?;
        export_record(&mut client, std::io::BufWriter::new(file))
            .await
            .context("exporting the record")
    })?;
    eprintln!(
        "wrote {} entries to {} (board now at {} entries, consistent)",
        summary.entries,
        args.out.display(),
        summary.latest_size
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `tallyboard gen-record`.
pub fn run_gen_record(args: GenRecordArgs) -> anyhow::Result<ExitCode> {
    let opts = GenOptions {
        ballots: args.ballots,
        options: args.options,
        districts: args.districts,
        trustees: args.trustees,
        threshold: args.threshold,
        revotes: args.revotes,
        challenged: args.challenged,
        first_counts: args.first_counts,
        threads: args.threads,
        seed: crate::generate::random_seed(),
        progress: true,
    };
    let summary = generate_to_file(&opts, &args.out)?;
    eprintln!(
        "wrote {} entries to {} in {:.1} s; board key in {}.board-key: {}",
        summary.entries,
        args.out.display(),
        summary.seconds,
        args.out.display(),
        summary.board_vkey
    );
    Ok(ExitCode::SUCCESS)
}
