//! `tallyboard admin ...`: the election administrator (`spec/manifest.md`
//! §7.2). Every command reads the board, replays it through the record's
//! rules, and posts entries signed with the administrator's key.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use tallyboard_authority::keys;
use tallyboard_authority::{load_manifest, Admin, CeremonyWait, RecordFollower};
use tallyboard_board::ClientTls;
use tallyboard_protocol::v1;

/// How to reach and trust the board.
#[derive(Debug, Clone, Args)]
pub struct BoardArgs {
    /// Board URL, e.g. `http://127.0.0.1:50051`.
    #[arg(long)]
    pub board: String,
    /// The board's key: its C2SP verifier key (`<origin>+<id>+<base64>`,
    /// as printed by `tallyboard board key`) or the path of its `board.pub`.
    #[arg(long)]
    pub board_key: String,
    /// CA certificate (PEM) to trust for an `https://` board URL.
    #[arg(long)]
    pub board_ca: Option<PathBuf>,
}

impl BoardArgs {
    /// Connects and replays the record.
    pub async fn follow(&self) -> anyhow::Result<RecordFollower> {
        let verifier = keys::board_verifier(&self.board_key)?;
        let tls = match &self.board_ca {
            Some(p) => Some(ClientTls {
                ca_pem: std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
                domain: None,
            }),
            None => None,
        };
        RecordFollower::connect(&self.board, verifier, tls)
            .await
            .with_context(|| format!("reading the board at {}", self.board))
    }
}

/// The phases an administrator can move to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhaseArg {
    /// Trustees run the key ceremony.
    KeyCeremony,
    /// Ballots are accepted (needs the election key).
    VotingOpen,
    /// No more ballots.
    VotingClosed,
    /// Caucus realignment round open.
    RealignmentOpen,
    /// Caucus realignment round closed.
    RealignmentClosed,
    /// Results are final (needs a result).
    Finished,
}

impl PhaseArg {
    fn proto(self) -> v1::Phase {
        match self {
            PhaseArg::KeyCeremony => v1::Phase::KeyCeremony,
            PhaseArg::VotingOpen => v1::Phase::VotingOpen,
            PhaseArg::VotingClosed => v1::Phase::VotingClosed,
            PhaseArg::RealignmentOpen => v1::Phase::RealignmentOpen,
            PhaseArg::RealignmentClosed => v1::Phase::RealignmentClosed,
            PhaseArg::Finished => v1::Phase::Finished,
        }
    }
}

/// The board and the administrator's key.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    board: BoardArgs,
    /// The administrator's signing key file (from `admin keygen`).
    #[arg(long)]
    key: PathBuf,
}

impl AdminArgs {
    async fn admin(&self) -> anyhow::Result<Admin> {
        let key = keys::load_signing_key(&self.key)?;
        Ok(Admin::new(self.board.follow().await?, key))
    }
}

/// Administrator commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make the administrator's Ed25519 key: FILE (secret, mode 0600) and
    /// FILE.pub (hex, for the manifest's `admin_key`).
    Keygen {
        /// The secret key file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Load and check a manifest file without posting it.
    CheckManifest {
        /// The TOML manifest (spec/manifest.md).
        #[arg(long)]
        manifest: PathBuf,
    },
    /// Post the manifest as entry 0 of the board.
    PostManifest {
        #[command(flatten)]
        admin: AdminArgs,
        /// The TOML manifest (spec/manifest.md).
        #[arg(long)]
        manifest: PathBuf,
    },
    /// Move the election to the next phase.
    Phase {
        #[command(flatten)]
        admin: AdminArgs,
        /// The new phase.
        #[arg(long, value_enum)]
        phase: PhaseArg,
    },
    /// Post a public notice.
    Notice {
        #[command(flatten)]
        admin: AdminArgs,
        /// The text (1 to 4096 bytes).
        #[arg(long)]
        text: String,
    },
    /// Wait for the key ceremony, evaluate it from the record and post the
    /// election key.
    ElectionKey {
        #[command(flatten)]
        admin: AdminArgs,
        /// Seconds to leave for complaints once every reveal is in.
        #[arg(long, default_value_t = 10)]
        complaint_window: u64,
        /// Seconds after which missing reveals are no longer awaited
        /// (default: wait for every trustee).
        #[arg(long)]
        reveal_timeout: Option<u64>,
        /// Give up after this many seconds.
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Post the encrypted tally of a round (voting must be closed).
    Tally {
        #[command(flatten)]
        admin: AdminArgs,
        /// Caucus round (0 for an ordinary election).
        #[arg(long, default_value_t = 0)]
        round: u32,
    },
    /// Wait for enough partial decryptions, combine them and post the result.
    Result {
        #[command(flatten)]
        admin: AdminArgs,
        /// Log index of the encrypted tally.
        #[arg(long)]
        tally_entry: u64,
        /// Give up after this many seconds (default: wait).
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Caucus: post the viability of every group per district, computed
    /// from the first-alignment result (`spec/caucus.md` §9.3). Then open
    /// the realignment with `admin phase --phase realignment-open`.
    Viability {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Caucus: post the delegate apportionment computed from the
    /// final-alignment result, with coin tosses seeded by the final
    /// aggregates (`spec/caucus.md` §9.6–§9.7).
    Apportion {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Print the state of the record.
    Status {
        #[command(flatten)]
        board: BoardArgs,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs an administrator command.
pub fn run(cmd: AdminCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AdminCommand::Keygen { out } => {
            let public = keys::generate_signing_key(&out, &keys::public_key_path(&out))?;
            println!("{}", hex::encode(public.as_bytes()));
            eprintln!(
                "wrote {} (secret, mode 0600) and {} (public: the manifest's admin_key)",
                out.display(),
                keys::public_key_path(&out).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AdminCommand::CheckManifest { manifest } => {
            let m = load_manifest(&manifest)?;
            print_manifest(&m);
            Ok(ExitCode::SUCCESS)
        }
        other => runtime()?.block_on(run_online(other)),
    }
}

fn print_manifest(m: &v1::Manifest) {
    let ts = m.trustees.clone().unwrap_or_default();
    println!("election {} — {}", m.election_id, m.title);
    println!("board    {} {}", m.board_origin, hex::encode(&m.board_key));
    println!(
        "trustees {} of {}: {}",
        ts.threshold,
        ts.trustees.len(),
        ts.trustees
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "districts {}: {}",
        m.districts.len(),
        m.districts
            .iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for c in &m.contests {
        println!(
            "contest  {} ({} options){}",
            c.id,
            c.options.len(),
            if c.districts.is_empty() {
                String::new()
            } else {
                format!(" in {}", c.districts.join(", "))
            }
        );
    }
}

async fn run_online(cmd: AdminCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AdminCommand::Keygen { .. } | AdminCommand::CheckManifest { .. } => {
            anyhow::bail!("this command runs without the board")
        }
        AdminCommand::PostManifest { admin, manifest } => {
            let m = load_manifest(&manifest)?;
            let mut a = admin.admin().await?;
            let fp = a.post_manifest(m.clone()).await?;
            print_manifest(&m);
            println!("fingerprint {}", hex::encode(fp));
        }
        AdminCommand::Phase { admin, phase } => {
            let mut a = admin.admin().await?;
            let index = a.set_phase(phase.proto()).await?;
            println!("phase {:?} at entry {index}", phase.proto());
        }
        AdminCommand::Notice { admin, text } => {
            let mut a = admin.admin().await?;
            let index = a.post_notice(&text).await?;
            println!("notice at entry {index}");
        }
        AdminCommand::ElectionKey {
            admin,
            complaint_window,
            reveal_timeout,
            timeout,
        } => {
            let mut a = admin.admin().await?;
            eprintln!("waiting for the key ceremony...");
            let wait = CeremonyWait {
                complaint_window: Duration::from_secs(complaint_window),
                reveal_timeout: reveal_timeout.map(Duration::from_secs),
                timeout: timeout.map(Duration::from_secs),
                ..CeremonyWait::default()
            };
            let k = a.post_election_key(&wait).await?;
            match k.entry {
                Some(i) => println!("election key at entry {i}"),
                None => println!("the election key was already on the record"),
            }
            println!("joint key  {}", hex::encode(k.joint_key));
            println!(
                "qualified  {}",
                k.qualified
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for (t, why) in &k.disqualified {
                println!("trustee {t} disqualified: {why}");
            }
        }
        AdminCommand::Tally { admin, round } => {
            let mut a = admin.admin().await?;
            let index = a.post_tally(round).await?;
            let counted = a
                .state()
                .tallies()
                .iter()
                .find(|t| t.index == index)
                .map_or(0, |t| t.ballots_counted);
            println!(
                "encrypted tally of round {round} at entry {index}: {counted} ballots counted"
            );
        }
        AdminCommand::Result {
            admin,
            tally_entry,
            timeout,
        } => {
            let mut a = admin.admin().await?;
            eprintln!("waiting for partial decryptions of the tally at entry {tally_entry}...");
            let r = a
                .post_result(
                    tally_entry,
                    timeout.map(Duration::from_secs),
                    tallyboard_authority::DEFAULT_POLL,
                )
                .await?;
            print!("{r}");
        }
        AdminCommand::Viability { admin } => {
            let mut a = admin.admin().await?;
            let index = a.post_caucus_viability().await?;
            println!("caucus viability at entry {index}");
            let m = a.state().manifest().cloned();
            if let (Some(v), Some(m)) = (a.state().caucus_viability(), m) {
                let names = caucus_group_ids(&m);
                for d in &v.districts {
                    let viable: Vec<&str> = names
                        .iter()
                        .zip(&d.viable)
                        .filter(|(_, ok)| **ok)
                        .map(|(n, _)| n.as_str())
                        .collect();
                    println!(
                        "  {}: {} participants, threshold {}, viable: {}",
                        d.district,
                        d.participants,
                        d.threshold,
                        viable.join(", ")
                    );
                }
            }
        }
        AdminCommand::Apportion { admin } => {
            let mut a = admin.admin().await?;
            let index = a.post_caucus_apportionment().await?;
            println!("delegate apportionment at entry {index}");
            let m = a.state().manifest().cloned();
            if let (Some(ap), Some(m)) = (a.state().caucus_apportionment(), m) {
                let names = caucus_group_ids(&m);
                for d in &ap.districts {
                    let won: Vec<String> = names
                        .iter()
                        .zip(d.delegates.iter().zip(&d.sde))
                        .filter(|(_, (n, _))| **n > 0)
                        .map(|(g, (n, sde))| format!("{g} {n} ({sde} SDE)"))
                        .collect();
                    println!("  {}: {}", d.district, won.join(", "));
                }
            }
        }
        AdminCommand::Status { board } => {
            let f = board.follow().await?;
            print_status(&f);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The option ids of a caucus's alignment contest (its groups), in order.
fn caucus_group_ids(m: &tallyboard_protocol::ElectionManifest) -> Vec<String> {
    tallyboard_protocol::caucus::CaucusSetup::from_manifest(m)
        .and_then(|s| m.raw.contests.get(s.contest))
        .map(|c| c.options.iter().map(|o| o.id.clone()).collect())
        .unwrap_or_default()
}

fn print_status(f: &RecordFollower) {
    let st = f.state();
    let Some(m) = st.manifest() else {
        println!("the board holds no manifest yet ({} entries)", st.len());
        return;
    };
    println!("election   {} — {}", m.raw.election_id, m.raw.title);
    println!("fingerprint {}", hex::encode(m.fingerprint));
    println!("entries    {}", st.len());
    println!("phase      {:?}", st.phase());
    if let Some(d) = st.dkg() {
        println!(
            "ceremony   {} announcements, {} commitments, {} reveals, {} complaints",
            d.announcements().len(),
            d.commitments().len(),
            d.reveals().len(),
            d.complaints().len()
        );
    }
    if let Some(k) = st.election_key() {
        println!("key        {}", hex::encode(k.to_bytes()));
    }
    let issued: u64 = st.issued_per_district().values().sum();
    println!(
        "ballots    {} cast, {} challenged, {} credentials issued",
        st.ballots_cast(),
        st.challenged(),
        issued
    );
    for t in st.tallies() {
        println!(
            "tally      entry {} (round {}): {} ballots, {} partial decryptions{}",
            t.index,
            t.round,
            t.ballots_counted,
            t.partials.len(),
            t.result
                .map(|r| format!(", result at entry {r}"))
                .unwrap_or_default()
        );
    }
}
