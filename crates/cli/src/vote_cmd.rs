//! `tallyboard vote ...`: the voter's client (`spec/client.md`): enroll,
//! cast with a verified receipt, challenge the device (Benaloh), re-check a
//! receipt.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use tallyboard_board::BoardClient;
use tallyboard_client::{
    cast, cast_first_alignment, challenge, check_still_included, enroll, enroll_in_district,
    fetch_election, prepare, prepare_realignment, selections_for, verify_receipt_file, ClientError,
    ContestChoice, Credential, Election, FirstAlignment, Realignment,
};
use tallyboard_tlog::Ed25519Verifier;

/// Exit code when a challenge shows the device encrypted something else.
const EXIT_DEVICE_MISMATCH: u8 = 2;

/// The board to talk to and the key it must sign with.
#[derive(Debug, Clone, Args)]
pub struct BoardArgs {
    /// The bulletin board's URL.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:50051")]
    board: String,
    /// The board's verifier key (C2SP vkey, `board.pub`), or a file holding it.
    #[arg(long, value_name = "VKEY|FILE")]
    board_key: String,
}

/// What the voter chose.
#[derive(Debug, Clone, Args)]
pub struct ChoiceArgs {
    /// The voter's credential file (from `vote enroll`).
    #[arg(long, value_name = "FILE")]
    credential: PathBuf,
    /// A choice, once per contest: `CONTEST=OPTION[,OPTION...]`, or for
    /// points `CONTEST=OPTION:POINTS,...`. A contest left out chooses
    /// nothing (where its rule allows it).
    #[arg(long = "choice", value_name = "CONTEST=OPTION[,OPTION...]")]
    choices: Vec<ContestChoice>,
    /// Caucus round (0: first alignment or an ordinary election; 1: realignment).
    #[arg(long, default_value_t = 0)]
    round: u32,
}

/// Voter commands.
#[derive(Debug, Subcommand)]
pub enum VoteCommand {
    /// Obtain a credential from the issuer with an enrollment code. The
    /// credential key is made here; the issuer signs it blindly.
    Enroll {
        #[command(flatten)]
        board: BoardArgs,
        /// The credential issuer's URL.
        #[arg(long, value_name = "URL")]
        issuer: String,
        /// The voter id on the roll.
        #[arg(long)]
        voter_id: String,
        /// The enrollment code from the enrollment letter; `-` reads it from
        /// standard input (keeps it out of the shell history).
        #[arg(long)]
        code: String,
        /// The voter's district (from the letter); needed only when the
        /// election has several.
        #[arg(long)]
        district: Option<String>,
        /// Where to write the credential (mode 0600; never overwritten).
        #[arg(long, value_name = "CRED_FILE")]
        out: PathBuf,
    },
    /// Encrypt, prove and cast a ballot; verify and keep the receipt.
    Cast {
        #[command(flatten)]
        board: BoardArgs,
        #[command(flatten)]
        choice: ChoiceArgs,
        /// Where to write the receipt.
        #[arg(long, value_name = "FILE")]
        receipt_out: Option<PathBuf>,
        /// Caucus: up to five groups (option ids of the alignment contest),
        /// most preferred first, to realign to automatically if the first
        /// choice is not viable (`spec/caucus.md` §9.8). Needs
        /// `--first-alignment-out`.
        #[arg(long, value_delimiter = ',', value_name = "GROUP,...")]
        rank: Vec<String>,
        /// Caucus: where to keep what the realignment needs (this ballot's
        /// nonces and the ranked preferences; mode 0600, never overwritten).
        #[arg(long, value_name = "FILE")]
        first_alignment_out: Option<PathBuf>,
    },
    /// Caucus: once the viability is posted and the realignment is open,
    /// realign automatically from the preferences ranked at `vote cast`:
    /// stay if the first group is viable, else cast a realignment ballot
    /// for the first viable preference (or "uncommitted") with its
    /// eligibility proof.
    Realign {
        #[command(flatten)]
        board: BoardArgs,
        /// The voter's credential file.
        #[arg(long, value_name = "FILE")]
        credential: PathBuf,
        /// The file written by `vote cast --first-alignment-out`.
        #[arg(long, value_name = "FILE")]
        first_alignment: PathBuf,
        /// Wait up to this many seconds for the realignment to open.
        #[arg(long, default_value_t = 0)]
        wait: u64,
        /// Where to write the receipt.
        #[arg(long, value_name = "FILE")]
        receipt_out: Option<PathBuf>,
    },
    /// Encrypt a ballot and challenge it instead of casting: the ballot is
    /// posted with its randomness (never counted) and checked to encrypt
    /// exactly these choices. Cast afterwards with a fresh `vote cast`.
    Challenge {
        #[command(flatten)]
        board: BoardArgs,
        #[command(flatten)]
        choice: ChoiceArgs,
    },
    /// Look a ballot tracker (or any entry's leaf hash) up on the board and
    /// check the answer: the entry hashes to it, its inclusion proof, the
    /// board's signature and the witnesses' cosignatures.
    Lookup {
        #[command(flatten)]
        board: BoardArgs,
        /// The tracker: 64 hexadecimal characters.
        #[arg(long, value_name = "HEX")]
        tracker: String,
    },
    /// Re-check a receipt: offline against the board key, then online that
    /// the ballot is still on the board and the log was not forked.
    CheckReceipt {
        #[command(flatten)]
        board: BoardArgs,
        /// The receipt file (from `vote cast --receipt-out`).
        #[arg(long, value_name = "FILE")]
        receipt: PathBuf,
    },
}

/// Runs a voter command.
pub fn run(cmd: VoteCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cmd {
            VoteCommand::Enroll {
                board,
                issuer,
                voter_id,
                code,
                district,
                out,
            } => run_enroll(&board, &issuer, &voter_id, &code, district.as_deref(), &out).await,
            VoteCommand::Cast {
                board,
                choice,
                receipt_out,
                rank,
                first_alignment_out,
            } => {
                run_cast(
                    &board,
                    &choice,
                    receipt_out.as_deref(),
                    &rank,
                    first_alignment_out.as_deref(),
                )
                .await
            }
            VoteCommand::Realign {
                board,
                credential,
                first_alignment,
                wait,
                receipt_out,
            } => {
                run_realign(
                    &board,
                    &credential,
                    &first_alignment,
                    wait,
                    receipt_out.as_deref(),
                )
                .await
            }
            VoteCommand::Challenge { board, choice } => run_challenge(&board, &choice).await,
            VoteCommand::CheckReceipt { board, receipt } => run_check(&board, &receipt).await,
            VoteCommand::Lookup { board, tracker } => run_lookup(&board, &tracker).await,
        }
    })
}

fn board_key(arg: &str) -> anyhow::Result<Ed25519Verifier> {
    let path = Path::new(arg);
    let text = if path.is_file() {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the board key file {}", path.display()))?
    } else {
        arg.to_owned()
    };
    Ed25519Verifier::from_vkey(text.trim())
        .with_context(|| format!("{arg:?} is neither a board verifier key nor a file holding one"))
}

async fn connect(args: &BoardArgs) -> anyhow::Result<BoardClient> {
    let key = board_key(&args.board_key)?;
    BoardClient::connect(&args.board, key, None)
        .await
        .with_context(|| format!("cannot connect to the board at {}", args.board))
}

async fn learn(board: &mut BoardClient) -> anyhow::Result<Election> {
    let election = fetch_election(board)
        .await
        .context("cannot learn the election from the board")?;
    println!(
        "election    {} ({}), fingerprint {}",
        election.election_id(),
        election.manifest.raw.title,
        hex(election.fingerprint())
    );
    println!(
        "record      {} entries replayed through the rules of the record, matching the board's signed checkpoint (size {}); phase {:?} as of entry {}",
        election.log_size,
        election.checkpoint.size(),
        election.phase,
        election.log_size
    );
    Ok(election)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn run_enroll(
    board: &BoardArgs,
    issuer: &str,
    voter_id: &str,
    code: &str,
    district: Option<&str>,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    if out.exists() {
        anyhow::bail!(
            "{} exists; a credential is never overwritten",
            out.display()
        );
    }
    let code = if code == "-" {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the enrollment code from standard input")?;
        line.trim().to_owned()
    } else {
        code.to_owned()
    };
    let mut client = connect(board).await?;
    let election = learn(&mut client).await?;
    let credential = match district {
        Some(d) => enroll_in_district(issuer, voter_id, &code, d, &election).await,
        None => enroll(issuer, voter_id, &code, &election).await,
    }
    .context("enrollment failed")?;
    credential
        .save(out)
        .with_context(|| format!("cannot write the credential to {}", out.display()))?;
    println!(
        "credential  district {}, public key {}",
        credential.district(),
        hex(credential.public_key().as_bytes())
    );
    println!(
        "verified    the issuer's blind signature under district {}'s key from the manifest",
        credential.district()
    );
    println!(
        "written     {} (mode 0600; keep it secret, it is your vote)",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The credential, the selections, and a summary of them in the voter's terms.
fn selections(
    election: &Election,
    args: &ChoiceArgs,
) -> anyhow::Result<(Credential, Vec<Vec<u64>>)> {
    let credential = Credential::load(&args.credential)
        .with_context(|| format!("cannot load the credential {}", args.credential.display()))?;
    credential
        .verify(election)
        .context("the credential does not fit this election")?;
    println!(
        "credential  district {}, public key {}, issuer signature valid",
        credential.district(),
        hex(credential.public_key().as_bytes())
    );
    let sel = selections_for(&election.manifest, credential.district(), &args.choices)?;
    for (c, values) in election
        .ballot_contests(credential.district())
        .iter()
        .zip(&sel)
    {
        let chosen: Vec<String> = c
            .options
            .iter()
            .zip(values)
            .filter(|(_, &v)| v > 0)
            .map(|(o, &v)| {
                if v == 1 {
                    o.id.clone()
                } else {
                    format!("{}:{v}", o.id)
                }
            })
            .collect();
        let chosen = if chosen.is_empty() {
            "(nothing)".to_owned()
        } else {
            chosen.join(", ")
        };
        println!("choice      {}: {chosen}", c.id);
    }
    Ok((credential, sel))
}

/// The option indices of the caucus groups named in `rank`.
fn ranked_groups(election: &Election, rank: &[String]) -> anyhow::Result<Vec<usize>> {
    let m = &election.manifest;
    let s = tallyboard_protocol::caucus::CaucusSetup::from_manifest(m)
        .context("--rank is for a caucus; this election is not one")?;
    let options = &m.raw.contests[s.contest].options;
    anyhow::ensure!(
        rank.len() <= tallyboard_protocol::caucus::MAX_RANKED_PREFERENCES,
        "at most {} ranked preferences",
        tallyboard_protocol::caucus::MAX_RANKED_PREFERENCES
    );
    rank.iter()
        .map(|g| {
            options.iter().position(|o| &o.id == g).with_context(|| {
                format!(
                    "{g:?} is not a group of the alignment contest {}",
                    s.contest_id
                )
            })
        })
        .collect()
}

async fn run_cast(
    board: &BoardArgs,
    args: &ChoiceArgs,
    receipt_out: Option<&Path>,
    rank: &[String],
    first_alignment_out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut client = connect(board).await?;
    let election = learn(&mut client).await?;
    let (credential, sel) = selections(&election, args)?;
    anyhow::ensure!(
        rank.is_empty() || first_alignment_out.is_some(),
        "--rank needs --first-alignment-out (where the realignment's secrets are kept)"
    );
    let ranked = if first_alignment_out.is_some() {
        ranked_groups(&election, rank)?
    } else {
        Vec::new()
    };
    if let Some(out) = first_alignment_out {
        anyhow::ensure!(
            !out.exists(),
            "{} exists; it is never overwritten",
            out.display()
        );
    }
    let prepared = prepare(&election, &credential, &sel, args.round)?;
    println!();
    println!("  BALLOT TRACKER  {}", prepared.tracker_hex());
    println!();
    let receipt = match first_alignment_out {
        Some(out) => {
            let (receipt, first) = cast_first_alignment(&mut client, prepared)
                .await
                .context("casting failed")?;
            first
                .save(out, &election, &ranked)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "kept        {} (mode 0600): what `vote realign` needs",
                out.display()
            );
            receipt
        }
        None => cast(&mut client, prepared)
            .await
            .context("casting failed")?,
    };
    println!("cast        entry {} on the board", receipt.index());
    println!(
        "verified    board signature on checkpoint (size {}); inclusion proof of the tracker at entry {}; entry read back byte-identical; checkpoint extends the replayed record",
        receipt.checkpoint().size(),
        receipt.index()
    );
    if let Some(path) = receipt_out {
        std::fs::write(path, receipt.to_file_bytes())
            .with_context(|| format!("cannot write the receipt to {}", path.display()))?;
        println!(
            "receipt     written to {} (check it later with `vote check-receipt`)",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_realign(
    board: &BoardArgs,
    credential: &Path,
    first_alignment: &Path,
    wait: u64,
    receipt_out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut client = connect(board).await?;
    let mut election = learn(&mut client).await?;
    let credential = Credential::load(credential)
        .with_context(|| format!("cannot load the credential {}", credential.display()))?;
    let (first, ranked) = FirstAlignment::load(first_alignment, &election)
        .with_context(|| format!("cannot load {}", first_alignment.display()))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait);
    loop {
        election.refresh(&mut client).await?;
        if election.phase >= tallyboard_client::ElectionPhase::RealignmentOpen {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the realignment is not open (phase {:?}); retry later or pass --wait SECONDS",
            election.phase
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let m = election.manifest.clone();
    let groups: Vec<String> = tallyboard_protocol::caucus::CaucusSetup::from_manifest(&m)
        .and_then(|s| m.raw.contests.get(s.contest))
        .map(|c| c.options.iter().map(|o| o.id.clone()).collect())
        .unwrap_or_default();
    match prepare_realignment(&election, &credential, &first, &ranked)? {
        Realignment::Locked => {
            println!("locked      your first-alignment group is viable: you stay in it");
        }
        Realignment::NoViablePreference => {
            println!("no change   none of your ranked groups (nor uncommitted) is viable: you do not realign");
        }
        Realignment::Ballot(target, prepared) => {
            println!(
                "realign     to {} (proof: your first-alignment group was not viable)",
                groups.get(target).map_or("?", String::as_str)
            );
            println!();
            println!("  BALLOT TRACKER  {}", prepared.tracker_hex());
            println!();
            let receipt = cast(&mut client, *prepared)
                .await
                .context("casting the realignment failed")?;
            println!("cast        entry {} on the board", receipt.index());
            if let Some(path) = receipt_out {
                std::fs::write(path, receipt.to_file_bytes())
                    .with_context(|| format!("cannot write the receipt to {}", path.display()))?;
                println!("receipt     written to {}", path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_challenge(board: &BoardArgs, args: &ChoiceArgs) -> anyhow::Result<ExitCode> {
    let mut client = connect(board).await?;
    let election = learn(&mut client).await?;
    let (credential, sel) = selections(&election, args)?;
    let prepared = prepare(&election, &credential, &sel, args.round)?;
    println!();
    println!(
        "  BALLOT TRACKER  {}  (challenged: this ballot will not be cast)",
        prepared.tracker_hex()
    );
    println!();
    let report = match challenge(&mut client, prepared, &sel).await {
        Ok(report) => report,
        Err(ClientError::ChallengeMismatch(report)) => {
            println!("challenge   entry {} on the board", report.index);
            for c in &report.contests {
                println!(
                    "contest     {}: revealed {:?}, intended {:?}{}",
                    c.contest,
                    c.revealed,
                    c.intended,
                    if c.matches() { "" } else { "  <-- MISMATCH" }
                );
            }
            eprintln!("DEVICE MISMATCH: the ballot encrypted other choices than yours. Do not cast with this device.");
            return Ok(ExitCode::from(EXIT_DEVICE_MISMATCH));
        }
        Err(e) => return Err(anyhow::Error::new(e).context("the challenge failed")),
    };
    println!(
        "challenge   entry {} on the board, tracker {}",
        report.index,
        hex(&report.challenge_tracker.0)
    );
    for c in &report.contests {
        println!(
            "contest     {}: revealed {:?} = intended",
            c.contest, c.revealed
        );
    }
    println!("verified    the posted ballot is the one committed to; its proofs verify; the revealed choices and randomness re-encrypt to its ciphertexts; they are your choices");
    println!("next        this ballot is spent (never counted); run `vote cast` to encrypt afresh and cast");
    Ok(ExitCode::SUCCESS)
}

async fn run_check(board: &BoardArgs, path: &Path) -> anyhow::Result<ExitCode> {
    let key = board_key(&board.board_key)?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let receipt = verify_receipt_file(&key, &bytes).context("the receipt does not verify")?;
    println!("  BALLOT TRACKER  {}", receipt.tracker_hex());
    println!(
        "offline     board signature on checkpoint (size {}) and inclusion of the tracker at entry {}: valid",
        receipt.checkpoint().size(),
        receipt.index()
    );
    let mut client = connect(board).await?;
    let check = check_still_included(&mut client, &receipt)
        .await
        .context("the board cannot show the ballot is still on the record (keep this receipt: it is evidence)")?;
    println!(
        "online      the board's latest checkpoint (size {}) is consistent with the receipt's; entry {} still hashes to the tracker and is included",
        check.latest.checkpoint().size(),
        receipt.index()
    );
    // A cosigned proof: the entry in the latest checkpoint as the board
    // serves it, with the witnesses' cosignatures.
    if let Some(found) = client.find_by_tracker(&receipt.tracker()).await? {
        println!(
            "witnesses   {}",
            cosigners(&mut client, &found.checkpoint).await?
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The manifest's witnesses (entry 0 of the board).
async fn manifest_witnesses(
    client: &mut BoardClient,
) -> anyhow::Result<Vec<tallyboard_tlog::CosignatureVerifier>> {
    let (page, _) = client.list_entries(0, 1).await?;
    let Some(first) = page.first() else {
        return Ok(Vec::new());
    };
    let decoded = tallyboard_protocol::entry::decode_entry(&first.entry)
        .map_err(|e| anyhow::anyhow!("entry 0 of the board: {e}"))?;
    let Some(tallyboard_protocol::v1::entry_body::Payload::Manifest(m)) = decoded.body.payload
    else {
        anyhow::bail!("entry 0 of the board is not a manifest");
    };
    Ok(m.witnesses
        .iter()
        .filter_map(|w| tallyboard_tlog::CosignatureVerifier::from_bytes(&w.name, &w.key).ok())
        .collect())
}

/// Which of the manifest's witnesses validly cosigned `cp`, as a sentence.
async fn cosigners(
    client: &mut BoardClient,
    cp: &tallyboard_tlog::SignedCheckpoint,
) -> anyhow::Result<String> {
    use tallyboard_tlog::NoteVerifier as _;
    let witnesses = manifest_witnesses(client).await?;
    if witnesses.is_empty() {
        return Ok("the manifest names no witness".into());
    }
    let (yes, no): (Vec<_>, Vec<_>) = witnesses.iter().partition(|v| v.cosigned(cp.note()));
    let names = |v: &[&tallyboard_tlog::CosignatureVerifier]| {
        v.iter()
            .map(|w| w.name().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(match (yes.is_empty(), no.is_empty()) {
        (true, _) => format!(
            "the checkpoint of size {} is not cosigned yet (expected: {})",
            cp.checkpoint().size(),
            names(&no)
        ),
        (false, true) => format!(
            "the checkpoint of size {} is cosigned by every witness of the manifest: {}",
            cp.checkpoint().size(),
            names(&yes)
        ),
        (false, false) => format!(
            "the checkpoint of size {} is cosigned by {}; not (yet) by {}",
            cp.checkpoint().size(),
            names(&yes),
            names(&no)
        ),
    })
}

async fn run_lookup(board: &BoardArgs, tracker: &str) -> anyhow::Result<ExitCode> {
    let text = tracker.trim();
    let bytes = hex::decode(text)
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "a tracker is 64 hexadecimal characters (32 bytes); got {} characters",
                text.len()
            )
        })?;
    let hash =
        tallyboard_tlog::Hash::from_slice(&bytes).map_err(|e| anyhow::anyhow!("tracker: {e}"))?;
    let mut client = connect(board).await?;
    let Some(found) = client.find_by_tracker(&hash).await? else {
        println!("NOT ON THE BOARD  no entry of the board has tracker {text}");
        return Ok(ExitCode::from(1));
    };
    let kind = tallyboard_protocol::entry::decode_entry(&found.entry)
        .ok()
        .and_then(|e| e.body.payload)
        .map_or_else(|| "undecodable entry".to_owned(), |p| payload_name(&p));
    println!("  BALLOT TRACKER  {text}");
    println!(
        "found       entry {} ({kind}); it hashes to the tracker and its inclusion proof verifies in the board-signed checkpoint of size {}",
        found.index,
        found.checkpoint.checkpoint().size()
    );
    println!(
        "witnesses   {}",
        cosigners(&mut client, &found.checkpoint).await?
    );
    Ok(ExitCode::SUCCESS)
}

fn payload_name(p: &tallyboard_protocol::v1::entry_body::Payload) -> String {
    use tallyboard_protocol::v1::entry_body::Payload as P;
    match p {
        P::Manifest(_) => "manifest".into(),
        P::PhaseChange(_) => "phase change".into(),
        P::Dkg(_) => "key-ceremony message".into(),
        P::ElectionKey(_) => "election key".into(),
        P::Issuance(i) => format!("credential issued in district {}", i.district),
        P::Ballot(b) => format!("ballot, district {}, round {}", b.district, b.round),
        P::ChallengedBallot(_) => "challenged ballot".into(),
        P::EncryptedTally(_) => "encrypted tally".into(),
        P::PartialDecryption(d) => format!("partial decryption by trustee {}", d.trustee),
        P::Result(_) => "result".into(),
        P::CaucusViability(_) => "caucus viability".into(),
        P::CaucusApportionment(_) => "caucus apportionment".into(),
        P::Notice(_) => "notice".into(),
    }
}
