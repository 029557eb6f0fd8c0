//! `tallyboard demo`: a whole election on this machine, every party a real
//! gRPC client or server on loopback ports.
//!
//! 1. the credential issuer is initialised with a roll of N voters in 2–4
//!    districts; the bulletin board (SQLite) and the issuer are served;
//! 2. the administrator writes a manifest file (two contests: one-of-n and
//!    k-of-n) and posts it; three trustees (threshold two) run the key
//!    ceremony through the board;
//! 3. voting opens; the voters enroll through the issuer (real blind
//!    signatures) and cast through the board with the voter client, some
//!    challenging a ballot first (Benaloh) and some voting twice;
//! 4. voting closes; the administrator posts the encrypted tally; trustees 1
//!    and 3 post partial decryptions (trustee 2 is absent); the
//!    administrator posts the result;
//! 5. the record is exported and checked by the independent verifier, and
//!    the decrypted totals are compared with what the voters chose.
//!
//! Everything is kept in the data directory; the exit status is non-zero if
//! any step or check fails.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use tallyboard_authority::keys::{self, TrusteeDir};
use tallyboard_authority::{
    decrypt_tally_with, load_manifest, run_ceremony_with, Admin, CeremonyEvent, CeremonyOptions,
    CeremonyWait, DecryptOutcome, RecordFollower, ResultSummary,
};
use tallyboard_board::{BoardClient, BoardConfig};
use tallyboard_client::{
    cast, cast_first_alignment, challenge, connect_issuer, enroll_with, fetch_election, prepare,
    prepare_realignment, FirstAlignment, Realignment,
};
use tallyboard_issuer::{init_data_dir, Argon2Profile, InitOptions, IssuerConfig, Roll};
use tallyboard_protocol::v1;
use tallyboard_tlog::Ed25519Verifier;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// Options of `tallyboard demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Voters on the roll; every one enrolls and votes.
    #[arg(long, default_value_t = 1000)]
    pub voters: u64,
    /// Directory for the board, the issuer, the keys, the manifest and the
    /// exported record (must be new or empty; default: a new temporary
    /// directory, kept and printed).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Voters who challenge a ballot (Benaloh) before casting.
    #[arg(long, default_value_t = 10)]
    pub challenges: u64,
    /// Voters who cast a second ballot (the last one counts).
    #[arg(long, default_value_t = 10)]
    pub revotes: u64,
    /// Seed of the voters' choices (default: random).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Voters enrolling and voting at the same time.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Run a virtual caucus instead (`spec/caucus.md`): four precincts with
    /// delegates, a first alignment, viability, automatic realignment from
    /// the participants' ranked preferences, the final alignment and the
    /// delegate apportionment with its seeded coin.
    #[arg(long)]
    pub caucus: bool,
}

/// Board checkpoint origin of the demo.
const ORIGIN: &str = "tallyboard/demo";
/// The witnesses the demo runs: (data directory, key name).
const WITNESSES: [(&str, &str); 2] = [
    ("witness-press", "witness.springfield-gazette.example/w1"),
    ("witness-campaign", "witness.okafor-campaign.example/w1"),
];
/// Trustees and threshold.
const TRUSTEES: usize = 3;
/// Trustee absent at decryption (1-based).
const ABSENT: usize = 2;
/// Mayor candidates and how often voters choose them (percent).
const MAYOR: [(&str, &str, u64); 4] = [
    ("okafor", "Ngozi Okafor", 38),
    ("lindqvist", "Erik Lindqvist", 31),
    ("tanaka", "Hiro Tanaka", 21),
    ("moreau", "Lea Moreau", 10),
];
/// Park projects (k-of-n, 1 to 2 choices).
const PARKS: [(&str, &str); 4] = [
    ("riverside", "Riverside trail"),
    ("hilltop", "Hilltop garden"),
    ("playground", "New playground"),
    ("pool", "Public pool"),
];

/// Caucus groups: (id, title, first-choice weight in percent).
const GROUPS: [(&str, &str, u64); 6] = [
    ("adams", "Ada Adams", 31),
    ("baker", "Ben Baker", 24),
    ("chen", "Chen Li", 19),
    ("diaz", "Dora Diaz", 12),
    ("evans", "Eli Evans", 8),
    ("uncommitted", "Uncommitted", 6),
];
/// Caucus precincts: (id, delegates, state delegate equivalents).
const PRECINCTS: [(&str, u32, &str); 4] = [
    ("precinct-1", 7, "3.5"),
    ("precinct-2", 4, "1.2"),
    ("precinct-3", 3, "0.75"),
    ("precinct-4", 1, "0.25"),
];

/// A caucus participant's first alignment and ranked preferences (option
/// indices of [`GROUPS`], most preferred first, at most five including the
/// first choice): the first choice is weighted and rotated per precinct so
/// that different groups miss viability in different precincts; about one
/// participant in eight ranks nobody else.
fn caucus_choice(seed: u64, v: u64, precinct: usize, attempt: u64) -> (usize, Vec<usize>) {
    let h = mix(seed ^ mix(v.wrapping_mul(4).wrapping_add(attempt) ^ 0xca0c));
    let mut roll = h % 100;
    let mut first = GROUPS.len() - 1;
    for (i, (_, _, w)) in GROUPS.iter().enumerate() {
        if roll < *w {
            first = i;
            break;
        }
        roll -= w;
    }
    // Rotate the four candidates after the first per precinct.
    if first > 0 && first < GROUPS.len() - 1 {
        first = 1 + (first - 1 + precinct) % (GROUPS.len() - 2);
    }
    let mut ranked = vec![first];
    let mut h2 = mix(h);
    if !h2.is_multiple_of(8) {
        let mut others: Vec<usize> = (0..GROUPS.len()).filter(|&i| i != first).collect();
        while ranked.len() < 5 && !others.is_empty() {
            h2 = mix(h2);
            let k = usize::try_from(h2 % others.len() as u64).unwrap_or(0);
            ranked.push(others.remove(k));
        }
    }
    (first, ranked)
}

fn one_hot(i: usize, n: usize) -> Vec<u64> {
    (0..n).map(|j| u64::from(i == j)).collect()
}

/// A participant of the caucus demo, kept from the first alignment to the
/// realignment.
struct Participant {
    credential: tallyboard_client::Credential,
    first: FirstAlignment,
    ranked: Vec<usize>,
    precinct: usize,
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    ensure!(args.voters >= 1, "--voters must be at least 1");
    ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .try_init();
    let dir = match &args.data_dir {
        Some(d) => {
            if d.exists()
                && std::fs::read_dir(d)
                    .with_context(|| format!("reading {}", d.display()))?
                    .next()
                    .is_some()
            {
                bail!(
                    "{} is not empty: the demo runs a new election in a new or empty directory",
                    d.display()
                );
            }
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => tempfile::Builder::new()
            .prefix("tallyboard-demo-")
            .tempdir()
            .context("creating a temporary directory")?
            .keep(),
    };
    let seed = args.seed.unwrap_or_else(|| {
        let mut b = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
        u64::from_le_bytes(b)
    });
    println!(
        "tallyboard demo: {} voters, data in {}",
        args.voters,
        dir.display()
    );
    println!("seed {seed} (--seed {seed} repeats the voters' choices)");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(Demo::new(args, dir.clone(), seed).run());
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            eprintln!("everything so far is in {}", dir.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// SplitMix64: the voters' deterministic choices.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// What voter `v` chooses on ballot `attempt` (0 = first): the mayor
/// (one-of-4, weighted) and one or two park projects.
fn choices(seed: u64, v: u64, attempt: u64) -> Vec<Vec<u64>> {
    let h = mix(seed ^ mix(v.wrapping_mul(4).wrapping_add(attempt)));
    let mut roll = h % 100;
    let mut mayor = vec![0u64; MAYOR.len()];
    for (i, (_, _, w)) in MAYOR.iter().enumerate() {
        if roll < *w || i == MAYOR.len() - 1 {
            mayor[i] = 1;
            break;
        }
        roll -= w;
    }
    let h2 = mix(h);
    let n = PARKS.len() as u64;
    let first = h2 % n;
    let mut parks = vec![0u64; PARKS.len()];
    parks[first as usize] = 1;
    if (h2 >> 8).is_multiple_of(2) {
        let second = (first + 1 + (h2 >> 16) % (n - 1)) % n;
        parks[second as usize] = 1;
    }
    vec![mayor, parks]
}

/// Whether voter `v` of `n` is one of `k` spread evenly; `shift` moves the
/// choice by half a stride (so two kinds of picks do not coincide).
fn picked(v: u64, n: u64, k: u64, shift: bool) -> bool {
    if k == 0 {
        return false;
    }
    let stride = (n / k).max(1);
    let off = if shift { stride / 2 } else { 0 };
    v >= off && (v - off).is_multiple_of(stride) && (v - off) / stride < k
}

struct Demo {
    args: DemoArgs,
    dir: PathBuf,
    seed: u64,
    timings: Vec<(String, Duration)>,
}

struct Servers {
    board_url: String,
    issuer_url: String,
    board: Ed25519Verifier,
    witnesses: Vec<tallyboard_tlog::CosignatureVerifier>,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Servers {
    async fn stop(self) -> anyhow::Result<()> {
        for s in self.stops {
            let _ = s.send(());
        }
        for t in self.tasks {
            t.await.context("a server task died")??;
        }
        Ok(())
    }
}

async fn connect(url: &str, board: &Ed25519Verifier) -> anyhow::Result<BoardClient> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match BoardClient::connect(url, board.clone(), None).await {
            Ok(c) => return Ok(c),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("connecting to the board at {url}")),
        }
    }
}

impl Demo {
    fn new(args: DemoArgs, dir: PathBuf, seed: u64) -> Self {
        Self {
            args,
            dir,
            seed,
            timings: Vec::new(),
        }
    }

    fn step(&mut self, name: &str, started: Instant) {
        let d = started.elapsed();
        println!("  {name}: {:.2} s", d.as_secs_f64());
        self.timings.push((name.to_owned(), d));
    }

    fn districts(&self) -> Vec<String> {
        if self.args.caucus {
            return PRECINCTS.iter().map(|p| p.0.to_owned()).collect();
        }
        let n = match self.args.voters {
            0..=999 => 2,
            1_000..=9_999 => 3,
            _ => 4,
        };
        (1..=n).map(|i| format!("ward-{i}")).collect()
    }

    async fn run(mut self) -> anyhow::Result<()> {
        let total = Instant::now();
        let n = self.args.voters;
        let districts = self.districts();

        // 1. Issuer data directory, board, keys, manifest.
        let t = Instant::now();
        let roll = Roll::from_pairs((0..n).map(|v| {
            (
                format!("voter-{v:07}"),
                districts[(v as usize) % districts.len()].clone(),
            )
        }))
        .map_err(|e| anyhow::anyhow!("roll: {e}"))?;
        let issuer_dir = self.dir.join("issuer");
        let init = {
            let issuer_dir = issuer_dir.clone();
            tokio::task::spawn_blocking(move || {
                init_data_dir(
                    &issuer_dir,
                    &roll,
                    &InitOptions {
                        rsa_bits: 2048,
                        argon2: Argon2Profile::Fast,
                        write_codes_file: false,
                    },
                )
            })
            .await??
        };
        let codes = Arc::new(init.codes);
        self.step(
            &format!(
                "issuer set up: {} district keys, {n} enrollment codes",
                districts.len()
            ),
            t,
        );

        let t = Instant::now();
        let board_dir = self.dir.join("board");
        let board = tallyboard_board::keys::load_or_create_key(&board_dir, ORIGIN)?.verifier();
        let board_listener = TcpListener::bind("127.0.0.1:0").await?;
        let board_addr: SocketAddr = board_listener.local_addr()?;
        let board_url = format!("http://{board_addr}");
        let (board_stop, board_stopped) = oneshot::channel::<()>();
        let board_task = tokio::spawn(async move {
            tallyboard_board::serve_with_listener(
                BoardConfig::new(&board_dir, board_addr, ORIGIN),
                board_listener,
                async {
                    let _ = board_stopped.await;
                },
            )
            .await
            .context("the board stopped with an error")
        });

        let admin_path = self.dir.join("admin.key");
        keys::generate_signing_key(&admin_path, &keys::public_key_path(&admin_path))?;
        let trustee_dirs: Vec<TrusteeDir> = (1..=TRUSTEES)
            .map(|i| TrusteeDir::new(self.dir.join(format!("trustee-{i}"))))
            .collect();
        for d in &trustee_dirs {
            d.generate()?;
        }
        let mut witnesses = Vec::new();
        for (dir, name) in WITNESSES {
            let w = tallyboard_board::witness::init(&self.dir.join(dir), name)?;
            witnesses.push(w.verifier());
        }
        let manifest_path = self.write_manifest(&board, &districts)?;
        let manifest = load_manifest(&manifest_path)?;
        let mut admin = Admin::new(
            RecordFollower::new(connect(&board_url, &board).await?),
            keys::load_signing_key(&admin_path)?,
        );
        let fp = admin.post_manifest(manifest).await?;
        println!(
            "board {board_url} ({}), election fingerprint {}",
            board.to_vkey(),
            hex::encode(fp)
        );

        let issuer_listener = TcpListener::bind("127.0.0.1:0").await?;
        let issuer_addr = issuer_listener.local_addr()?;
        let issuer_url = format!("http://{issuer_addr}");
        let mut config = IssuerConfig::new(&issuer_dir, issuer_addr, board_url.clone());
        config.board_key = Some(board.to_vkey());
        // Every demo voter comes from this machine's address.
        config.limits.address_burst = u32::MAX;
        config.limits.address_per_minute = u32::MAX;
        config.limits.request_timeout = Duration::from_secs(120);
        let (issuer_stop, issuer_stopped) = oneshot::channel::<()>();
        let issuer_task = tokio::spawn(async move {
            tallyboard_issuer::serve_with_listener(config, issuer_listener, async {
                let _ = issuer_stopped.await;
            })
            .await
            .context("the issuer stopped with an error")
        });
        let mut stops = Vec::new();
        let mut tasks = Vec::new();
        // The witnesses follow the board from now on, each with its own
        // connection, as a campaign's or the press's would.
        for (dir, _) in WITNESSES {
            let mut w =
                tallyboard_board::witness::Witness::open(&self.dir.join(dir), board.clone())?;
            let mut client = connect(&board_url, &board).await?;
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            tasks.push(tokio::spawn(async move {
                tallyboard_board::witness::follow(
                    &mut w,
                    &mut client,
                    Duration::from_millis(200),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await
                .context("a witness stopped with an error")
            }));
        }
        stops.extend([issuer_stop, board_stop]);
        tasks.extend([issuer_task, board_task]);
        let servers = Servers {
            board_url,
            issuer_url,
            board,
            witnesses,
            stops,
            tasks,
        };
        println!("issuer {}", servers.issuer_url);
        self.step("board and issuer started, manifest posted", t);

        let result = self
            .election(&servers, &mut admin, &trustee_dirs, codes)
            .await;
        let stopped = servers.stop().await;
        let summary = result?;
        stopped?;

        println!();
        print!("{summary}");
        println!();
        println!(
            "timings ({} voters, {} cores):",
            n,
            std::thread::available_parallelism().map_or(1, |c| c.get())
        );
        for (name, d) in &self.timings {
            println!("  {:<70} {:>9.2} s", name, d.as_secs_f64());
        }
        println!("  {:<70} {:>9.2} s", "total", total.elapsed().as_secs_f64());
        println!();
        println!("verified. The record is in {}:", self.dir.display());
        println!("  board database   {}", self.dir.join("board").display());
        println!(
            "  exported record  {}",
            self.dir.join("election.record").display()
        );
        println!(
            "  manifest         {}",
            self.dir.join("manifest.toml").display()
        );
        println!(
            "Browse it: tallyboard board serve --data-dir {} --origin {ORIGIN} --listen 127.0.0.1:50051, then open http://127.0.0.1:50051/",
            self.dir.join("board").display()
        );
        Ok(())
    }

    fn write_manifest(
        &self,
        board: &Ed25519Verifier,
        districts: &[String],
    ) -> anyhow::Result<PathBuf> {
        let mut t = String::new();
        if self.args.caucus {
            writeln!(t, "election_id = \"tallyboard-demo-caucus\"")?;
            writeln!(
                t,
                "title = \"Springfield virtual caucus ({} participants)\"",
                self.args.voters
            )?;
        } else {
            writeln!(t, "election_id = \"tallyboard-demo\"")?;
            writeln!(
                t,
                "title = \"Springfield demo election ({} voters)\"",
                self.args.voters
            )?;
        }
        writeln!(t, "admin_key = \"admin.key.pub\"")?;
        writeln!(t, "issuer_keys = \"issuer/issuer-keys.json\"")?;
        writeln!(t, "revote_policy = \"last_counts\"\n")?;
        writeln!(t, "[board]\nkey = \"{}\"\n", board.to_vkey())?;
        for (dir, _) in WITNESSES {
            writeln!(t, "[[witnesses]]\nkey = \"{dir}/witness.pub\"\n")?;
        }
        writeln!(t, "[trustees]\nthreshold = 2\nn = {TRUSTEES}\n")?;
        for i in 1..=TRUSTEES {
            writeln!(
                t,
                "[[trustees.members]]\nname = \"Trustee {i}\"\nsigning_key = \"trustee-{i}/signing.pub\"\n"
            )?;
        }
        let opts = |o: Vec<(&str, &str)>| {
            o.iter()
                .map(|(id, title)| format!("{{ id = \"{id}\", title = \"{title}\" }}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.args.caucus {
            for (i, (d, delegates, sde)) in PRECINCTS.iter().enumerate() {
                writeln!(
                    t,
                    "[[districts]]\nid = \"{d}\"\nname = \"Precinct {}\"\ndelegates = {delegates}\nsde_weight = \"{sde}\"\n",
                    i + 1
                )?;
            }
            writeln!(
                t,
                "[[contests]]\nid = \"alignment\"\ntitle = \"Presidential preference\"\nrule = \"one_of_n\"\noptions = [{}]\n",
                opts(GROUPS.iter().map(|(a, b, _)| (*a, *b)).collect())
            )?;
            writeln!(
                t,
                "[caucus]\nalignment_contest = \"alignment\"\nuncommitted_option = \"uncommitted\"\nviability_rule = \"idp-2020\""
            )?;
            let path = self.dir.join("manifest.toml");
            std::fs::write(&path, t).with_context(|| format!("writing {}", path.display()))?;
            return Ok(path);
        }
        for (i, d) in districts.iter().enumerate() {
            writeln!(
                t,
                "[[districts]]\nid = \"{d}\"\nname = \"Ward {}\"\n",
                i + 1
            )?;
        }
        writeln!(
            t,
            "[[contests]]\nid = \"mayor\"\ntitle = \"Mayor\"\nrule = \"one_of_n\"\noptions = [{}]\n",
            opts(MAYOR.iter().map(|(a, b, _)| (*a, *b)).collect())
        )?;
        writeln!(
            t,
            "[[contests]]\nid = \"parks\"\ntitle = \"Park projects (choose 1 or 2)\"\nrule = {{ k_of_n = {{ min = 1, max = 2 }} }}\noptions = [{}]",
            opts(PARKS.to_vec())
        )?;
        let path = self.dir.join("manifest.toml");
        std::fs::write(&path, t).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    async fn election(
        &mut self,
        servers: &Servers,
        admin: &mut Admin,
        trustee_dirs: &[TrusteeDir],
        codes: Arc<Vec<tallyboard_issuer::IssuedCode>>,
    ) -> anyhow::Result<ResultSummary> {
        let url = &servers.board_url;
        let board = &servers.board;

        // 2. Key ceremony.
        let t = Instant::now();
        admin.set_phase(v1::Phase::KeyCeremony).await?;
        let (tx, mut rx) = mpsc::unbounded_channel::<CeremonyEvent>();
        let mut tasks = Vec::new();
        for (i, d) in trustee_dirs.iter().enumerate() {
            let (signing, keys) = d.load_keys()?;
            let opts = CeremonyOptions {
                poll: Duration::from_millis(50),
                reveal_timeout: Some(Duration::from_secs(60)),
                timeout: Some(Duration::from_secs(300)),
                share_path: Some(d.share_path()),
                events: Some(tx.clone()),
            };
            let state = d.state_path();
            let mut follower = RecordFollower::new(connect(url, board).await?);
            let index = u8::try_from(i + 1)?;
            tasks.push(tokio::spawn(async move {
                run_ceremony_with(&mut follower, &signing, keys, index, Some(&state), &opts).await
            }));
        }
        drop(tx);
        let mut complained = 0;
        while complained < TRUSTEES {
            match tokio::time::timeout(Duration::from_secs(300), rx.recv()).await {
                Ok(Some(CeremonyEvent::Complained(c))) => {
                    ensure!(c == 0, "a trustee complained about a bad share");
                    complained += 1;
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        let key = admin
            .post_election_key(&CeremonyWait {
                poll: Duration::from_millis(50),
                reveal_timeout: None,
                complaint_window: Duration::ZERO,
                timeout: Some(Duration::from_secs(300)),
            })
            .await?;
        let mut shares = Vec::new();
        for task in tasks {
            shares.push(task.await.context("a trustee task died")??);
        }
        ensure!(
            key.qualified.len() == TRUSTEES,
            "trustees disqualified: {:?}",
            key.disqualified
        );
        println!("election key {}", hex::encode(key.joint_key));
        self.step("key ceremony (3 trustees, threshold 2)", t);

        // 3. Voting.
        admin.set_phase(v1::Phase::VotingOpen).await?;
        let t = Instant::now();
        // The administrator keeps its replay of the record up to date while
        // the voters vote, so that little is left to replay at the close.
        let voting_done = AtomicBool::new(false);
        let follow = async {
            while !voting_done.load(Ordering::Relaxed) {
                admin.follower().sync().await?;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Ok::<_, anyhow::Error>(())
        };
        let voting = async {
            let r = self.vote(servers, codes).await;
            voting_done.store(true, Ordering::Relaxed);
            r
        };
        let (voted, followed) = tokio::join!(voting, follow);
        let (totals, challenged, revoted, participants) = voted?;
        followed.context("the administrator following the board")?;
        let n = self.args.voters;
        let rate = n as f64 / t.elapsed().as_secs_f64();
        self.step(
            &format!(
                "voting: {n} enrolled and cast ({rate:.0}/s), {challenged} challenges, {revoted} revotes"
            ),
            t,
        );

        // 4. Tally, partial decryptions, result.
        let t = Instant::now();
        admin.set_phase(v1::Phase::VotingClosed).await?;
        let tally = admin.post_tally(0).await?;
        self.step(
            &format!("voting closed, record replayed, encrypted tally (entry {tally})"),
            t,
        );
        let t = Instant::now();
        let summary = decrypt_round(admin, trustee_dirs, &shares, tally).await?;
        self.step("partial decryptions (trustees 1 and 3) and result", t);
        check_totals(&summary, &totals)?;
        println!("the decrypted totals equal the voters' choices");
        let summary = if self.args.caucus {
            print!("\nFirst alignment\n{summary}");
            self.realign(servers, admin, trustee_dirs, &shares, participants, &totals)
                .await?
        } else {
            summary
        };
        admin.set_phase(v1::Phase::Finished).await?;

        // 5. The witnesses cosign the final checkpoint; export and
        // independent verification.
        let t = Instant::now();
        let mut client = connect(url, board).await?;
        let (final_size, cosigned) = tallyboard_board::witness::wait_for_cosignatures(
            &mut client,
            &servers.witnesses,
            Duration::from_secs(30),
        )
        .await?;
        if cosigned.len() != servers.witnesses.len() {
            bail!("the witnesses did not cosign the final checkpoint (size {final_size}) in 30 s: only {cosigned:?}");
        }
        self.step(
            &format!(
                "final checkpoint (size {final_size}) cosigned by {} witnesses",
                cosigned.len()
            ),
            t,
        );
        let t = Instant::now();
        let record = self.dir.join("election.record");
        let file = std::fs::File::create(&record)
            .with_context(|| format!("creating {}", record.display()))?;
        let exported =
            tallyboard_verifier::export_record(&mut client, std::io::BufWriter::new(file))
                .await
                .context("exporting the record")?;
        self.step(
            &format!("record exported ({} entries)", exported.entries),
            t,
        );
        let t = Instant::now();
        let opts = tallyboard_verifier::VerifyOptions {
            board_key: Some(board.clone()),
            progress: true,
            ..Default::default()
        };
        let path = record.clone();
        let report =
            tokio::task::spawn_blocking(move || tallyboard_verifier::verify_file(&path, &opts))
                .await??;
        if !report.ok {
            eprintln!("{}", report.to_human());
            bail!("the verifier found failures: {:?}", report.failed_checks());
        }
        check_report_results(&report, &summary)?;
        if report.record.witnesses_cosigned.len() != servers.witnesses.len() {
            bail!(
                "the record's checkpoint lacks witness cosignatures: {:?} missing",
                report.record.witnesses_missing
            );
        }
        self.step("independent verification of the whole record", t);
        println!(
            "the final checkpoint is cosigned by {}",
            report.record.witnesses_cosigned.join(" and ")
        );
        Ok(summary)
    }

    /// The caucus after the first alignment (`spec/caucus.md` §9): the
    /// viability, every participant's client realigning by itself from its
    /// ranked preferences, the final alignment's tally and decryption, and
    /// the apportionment. Returns the final alignment.
    async fn realign(
        &mut self,
        servers: &Servers,
        admin: &mut Admin,
        trustee_dirs: &[TrusteeDir],
        shares: &[tallyboard_authority::SecretShare],
        participants: Vec<Participant>,
        first: &[Vec<u64>],
    ) -> anyhow::Result<ResultSummary> {
        let t = Instant::now();
        let entry = admin.post_caucus_viability().await?;
        let viability = admin
            .state()
            .caucus_viability()
            .context("the viability is not on the record")?
            .districts
            .clone();
        println!("\nViability (entry {entry}):");
        for v in &viability {
            let groups: Vec<&str> = GROUPS
                .iter()
                .zip(&v.viable)
                .filter(|(_, ok)| **ok)
                .map(|(g, _)| g.0)
                .collect();
            println!(
                "  {:<11} {:>6} participants, threshold {:>5}: viable {}",
                v.district,
                v.participants,
                v.threshold,
                groups.join(", ")
            );
        }
        admin.set_phase(v1::Phase::RealignmentOpen).await?;
        self.step("viability posted, realignment open", t);

        let t = Instant::now();
        let mut board = connect(&servers.board_url, &servers.board).await?;
        let mut election = fetch_election(&mut board).await?;
        election.refresh(&mut board).await?;
        let mut expected: Vec<Vec<u64>> = first
            .iter()
            .zip(&viability)
            .map(|(c, v)| {
                c.iter()
                    .zip(&v.viable)
                    .map(|(n, ok)| if *ok { *n } else { 0 })
                    .collect()
            })
            .collect();
        let workers = self.args.concurrency.clamp(1, 64);
        let mut queues: Vec<Vec<Participant>> = (0..workers).map(|_| Vec::new()).collect();
        for (i, p) in participants.into_iter().enumerate() {
            queues[i % workers].push(p);
        }
        let mut tasks = Vec::new();
        for queue in queues {
            let (mut board, election) = (board.clone(), election.clone());
            tasks.push(tokio::spawn(async move {
                let mut moved = Vec::new();
                let mut stayed = 0u64;
                for p in queue {
                    let e = election.clone();
                    let decided = tokio::task::spawn_blocking(move || {
                        prepare_realignment(&e, &p.credential, &p.first, &p.ranked)
                            .map(|r| (r, p.precinct))
                    })
                    .await??;
                    match decided {
                        (Realignment::Ballot(target, ballot), precinct) => {
                            cast(&mut board, *ballot).await.context("realigning")?;
                            moved.push((precinct, target));
                        }
                        (Realignment::Locked, _) => stayed += 1,
                        (Realignment::NoViablePreference, _) => {}
                    }
                }
                Ok::<_, anyhow::Error>((moved, stayed))
            }));
        }
        let (mut realigned, mut locked) = (0u64, 0u64);
        for task in tasks {
            let (moved, stayed) = task.await.context("a realignment task died")??;
            locked += stayed;
            for (precinct, target) in moved {
                expected[precinct][target] += 1;
                realigned += 1;
            }
        }
        let total: u64 = first.iter().flatten().sum();
        self.step(
            &format!(
                "realignment: {realigned} realigned by ranked preference, {locked} locked in viable groups, {} dropped out",
                total.saturating_sub(realigned + locked)
            ),
            t,
        );

        let t = Instant::now();
        admin.set_phase(v1::Phase::RealignmentClosed).await?;
        let tally = admin.post_tally(1).await?;
        let summary = decrypt_round(admin, trustee_dirs, shares, tally).await?;
        check_totals(&summary, &expected)?;
        println!(
            "the final alignment equals the first alignment's viable groups plus the realignments"
        );
        let entry = admin.post_caucus_apportionment().await?;
        let ap = admin
            .state()
            .caucus_apportionment()
            .context("the apportionment is not on the record")?
            .districts
            .clone();
        self.step("final alignment decrypted, delegates apportioned", t);
        println!("\nDelegates (entry {entry}; coin tosses seeded by the final aggregates):");
        for d in &ap {
            let won: Vec<String> = GROUPS
                .iter()
                .zip(d.delegates.iter().zip(&d.sde))
                .filter(|(_, (n, _))| **n > 0)
                .map(|(g, (n, sde))| format!("{} {n} ({sde} SDE)", g.0))
                .collect();
            println!("  {:<11} {}", d.district, won.join(", "));
        }
        Ok(summary)
    }

    /// Every voter enrolls and casts; returns the totals of the ballots
    /// that count, per contest and option.
    async fn vote(
        &mut self,
        servers: &Servers,
        codes: Arc<Vec<tallyboard_issuer::IssuedCode>>,
    ) -> anyhow::Result<(Vec<Vec<u64>>, u64, u64, Vec<Participant>)> {
        let n = self.args.voters;
        let caucus = self.args.caucus;
        let precincts = self.districts().len();
        let participants = Arc::new(std::sync::Mutex::new(Vec::new()));
        let challenged = Arc::new(AtomicU64::new(0));
        let revoted = Arc::new(AtomicU64::new(0));
        let mut board = connect(&servers.board_url, &servers.board).await?;
        let election = fetch_election(&mut board)
            .await
            .context("the voter client reading the election")?;
        let issuer = connect_issuer(&servers.issuer_url).await?;
        let next = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicBool::new(false));
        let bar = indicatif::ProgressBar::new(n);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "  voting [{bar:40}] {pos}/{len} voters, {per_sec}, eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        let (challenges, revotes, seed) = (self.args.challenges, self.args.revotes, self.seed);
        // Without a terminal the bar is hidden: print a line every 10%.
        let done = Arc::new(AtomicU64::new(0));
        let every = (n / 10).max(1);
        let started = Instant::now();
        let workers = self
            .args
            .concurrency
            .min(usize::try_from(n).unwrap_or(usize::MAX));
        let mut tasks = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (mut board, issuer, election) = (board.clone(), issuer.clone(), election.clone());
            let (next, failed, bar, codes) =
                (next.clone(), failed.clone(), bar.clone(), codes.clone());
            let (challenged, revoted, done) = (challenged.clone(), revoted.clone(), done.clone());
            let participants = participants.clone();
            tasks.push(tokio::spawn(async move {
                let mut totals = empty_totals(caucus);
                loop {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let v = next.fetch_add(1, Ordering::Relaxed);
                    if v >= n {
                        break;
                    }
                    let r = async {
                        let c = codes
                            .get(usize::try_from(v)?)
                            .context("no enrollment code")?;
                        let cred = enroll_with(
                            issuer.clone(),
                            &c.voter_id,
                            c.code.canonical(),
                            &c.district,
                            &election,
                        )
                        .await
                        .context("enrolling")?;
                        let precinct = usize::try_from(v)? % precincts;
                        let pick = |attempt: u64| {
                            if caucus {
                                let (f, r) = caucus_choice(seed, v, precinct, attempt);
                                (vec![one_hot(f, GROUPS.len())], r)
                            } else {
                                (choices(seed, v, attempt), Vec::new())
                            }
                        };
                        let (mut sel, mut ranked) = pick(0);
                        if picked(v, n, challenges, false) {
                            let (e, cr, s) = (election.clone(), cred.clone(), sel.clone());
                            let spent =
                                tokio::task::spawn_blocking(move || prepare(&e, &cr, &s, 0))
                                    .await??;
                            let report = challenge(&mut board, spent, &sel)
                                .await
                                .context("challenging")?;
                            ensure!(report.honest(), "the challenge found a dishonest device");
                            challenged.fetch_add(1, Ordering::Relaxed);
                        }
                        let (e, cr, s) = (election.clone(), cred.clone(), sel.clone());
                        let ballot =
                            tokio::task::spawn_blocking(move || prepare(&e, &cr, &s, 0)).await??;
                        let mut first = if caucus {
                            let (_, f) = cast_first_alignment(&mut board, ballot)
                                .await
                                .context("casting")?;
                            Some(f)
                        } else {
                            cast(&mut board, ballot).await.context("casting")?;
                            None
                        };
                        if picked(v, n, revotes, true) {
                            (sel, ranked) = pick(1);
                            let (e, cr, s) = (election.clone(), cred.clone(), sel.clone());
                            let ballot =
                                tokio::task::spawn_blocking(move || prepare(&e, &cr, &s, 0))
                                    .await??;
                            if caucus {
                                // The last ballot counts: realign from it.
                                let (_, f) = cast_first_alignment(&mut board, ballot)
                                    .await
                                    .context("casting again")?;
                                first = Some(f);
                            } else {
                                cast(&mut board, ballot).await.context("casting again")?;
                            }
                            revoted.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Some(first) = first {
                            if let Ok(mut p) = participants.lock() {
                                p.push(Participant {
                                    credential: cred,
                                    first,
                                    ranked,
                                    precinct,
                                });
                            }
                        }
                        Ok::<_, anyhow::Error>((sel, precinct))
                    }
                    .await;
                    match r {
                        Ok((sel, precinct)) => {
                            // A caucus totals its one contest per precinct.
                            let rows = if caucus {
                                &mut totals[precinct..=precinct]
                            } else {
                                &mut totals[..]
                            };
                            for (t, s) in rows.iter_mut().zip(&sel) {
                                for (a, b) in t.iter_mut().zip(s) {
                                    *a += b;
                                }
                            }
                            bar.inc(1);
                            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                            if bar.is_hidden() && d % every == 0 {
                                println!(
                                    "  voted {d}/{n} ({:.0}/s)",
                                    d as f64 / started.elapsed().as_secs_f64()
                                );
                            }
                        }
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e.context(format!("voter-{v:07}")));
                        }
                    }
                }
                Ok(totals)
            }));
        }
        let mut totals = empty_totals(caucus);
        let mut first_error = None;
        for task in tasks {
            match task.await.context("a voter task died")? {
                Ok(t) => {
                    for (a, b) in totals.iter_mut().zip(&t) {
                        for (x, y) in a.iter_mut().zip(b) {
                            *x += y;
                        }
                    }
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        bar.finish_and_clear();
        if let Some(e) = first_error {
            return Err(e);
        }
        let participants = std::mem::take(
            &mut *participants
                .lock()
                .map_err(|_| anyhow::anyhow!("a voter task panicked"))?,
        );
        Ok((
            totals,
            challenged.load(Ordering::Relaxed),
            revoted.load(Ordering::Relaxed),
            participants,
        ))
    }
}

/// Zero totals: per contest, or for the caucus per precinct.
fn empty_totals(caucus: bool) -> Vec<Vec<u64>> {
    if caucus {
        vec![vec![0u64; GROUPS.len()]; PRECINCTS.len()]
    } else {
        vec![vec![0u64; MAYOR.len()], vec![0u64; PARKS.len()]]
    }
}

/// Trustees other than the absent one post partial decryptions of the tally
/// at `tally`; the administrator combines them and posts the result.
async fn decrypt_round(
    admin: &mut Admin,
    trustee_dirs: &[TrusteeDir],
    shares: &[tallyboard_authority::SecretShare],
    tally: u64,
) -> anyhow::Result<ResultSummary> {
    for (i, d) in trustee_dirs.iter().enumerate() {
        if i + 1 == ABSENT {
            continue;
        }
        let (signing, _) = d.load_keys()?;
        // The trustee starts from the administrator's verified replay
        // (same process) and syncs it with the board.
        let mut follower = admin.follower().clone();
        match decrypt_tally_with(&mut follower, &signing, &shares[i], tally).await? {
            DecryptOutcome::Posted(e) => println!("trustee {} decrypted (entry {e})", i + 1),
            DecryptOutcome::AlreadyPosted => {}
        }
    }
    Ok(admin
        .post_result(
            tally,
            Some(Duration::from_secs(60)),
            Duration::from_millis(50),
        )
        .await?)
}

/// The decrypted counts must be `expected`, aggregate by aggregate.
fn check_totals(summary: &ResultSummary, expected: &[Vec<u64>]) -> anyhow::Result<()> {
    ensure!(
        summary.contests.len() == expected.len(),
        "the result has {} aggregates, expected {}",
        summary.contests.len(),
        expected.len()
    );
    for (c, want) in summary.contests.iter().zip(expected) {
        let got: Vec<u64> = c.options.iter().map(|o| o.2).collect();
        ensure!(
            &got == want,
            "contest {} {:?}: decrypted {got:?}, expected {want:?}",
            c.contest,
            c.district
        );
    }
    Ok(())
}

/// The verifier's result rows must be the posted result.
fn check_report_results(
    report: &tallyboard_verifier::Report,
    summary: &ResultSummary,
) -> anyhow::Result<()> {
    for c in &summary.contests {
        for (option, _, count) in &c.options {
            let row = report
                .results
                .iter()
                .find(|r| {
                    r.contest == c.contest
                        && &r.option == option
                        && r.round == summary.round
                        && r.district == c.district.as_deref().unwrap_or("")
                })
                .with_context(|| {
                    format!("the verifier reports no count for {}/{option}", c.contest)
                })?;
            ensure!(
                row.count == *count,
                "{}/{option}: the verifier counts {}, the result says {count}",
                c.contest,
                row.count
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_follow_the_rules() {
        for v in 0..2_000 {
            for attempt in 0..2 {
                let c = choices(7, v, attempt);
                assert_eq!(c[0].iter().sum::<u64>(), 1);
                let parks: u64 = c[1].iter().sum();
                assert!((1..=2).contains(&parks));
                assert!(c[1].iter().all(|&x| x <= 1));
            }
        }
    }

    #[test]
    fn caucus_preferences_are_distinct_and_start_with_the_first_choice() {
        let mut firsts = [0u64; GROUPS.len()];
        for v in 0..2_000 {
            for precinct in 0..PRECINCTS.len() {
                let (first, ranked) = caucus_choice(11, v, precinct, 0);
                assert_eq!(ranked[0], first);
                assert!(ranked.len() <= 5);
                let mut seen = ranked.clone();
                seen.sort_unstable();
                seen.dedup();
                assert_eq!(seen.len(), ranked.len());
                assert!(ranked.iter().all(|&g| g < GROUPS.len()));
                firsts[first] += 1;
            }
        }
        assert!(firsts.iter().all(|&n| n > 0), "{firsts:?}");
    }

    /// The whole caucus in-process: first alignment, viability,
    /// realignment by ranked preferences, final alignment, apportionment,
    /// export and independent verification (the run fails if any check or
    /// total comparison fails).
    #[test]
    fn caucus_demo_runs_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let args = DemoArgs {
            voters: 80,
            data_dir: None,
            challenges: 2,
            revotes: 3,
            seed: Some(5),
            concurrency: 8,
            caucus: true,
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(Demo::new(args, dir.path().to_path_buf(), 5).run())
            .unwrap();
        let record = std::fs::read(dir.path().join("election.record")).unwrap();
        let board = tallyboard_board::keys::load_or_create_key(&dir.path().join("board"), ORIGIN)
            .unwrap()
            .verifier();
        let report = tallyboard_verifier::verify_bytes(
            &record,
            &tallyboard_verifier::VerifyOptions {
                board_key: Some(board),
                ..Default::default()
            },
        );
        assert!(report.ok, "{}", report.to_human());
        for check in ["V8.1", "V8.2", "V8.3", "V8.4"] {
            assert!(
                report
                    .to_human()
                    .lines()
                    .any(|l| l.starts_with(check) && l.ends_with("PASS")),
                "{check} did not run and pass"
            );
        }

        // The same record with a caucus entry altered and re-signed by the
        // administrator (and the checkpoint by the board): the verifier
        // names the caucus check.
        let entries = read_entries(&dir.path().join("election.record"));
        let admin = keys::load_signing_key(&dir.path().join("admin.key")).unwrap();
        let board_signer =
            tallyboard_board::keys::load_or_create_key(&dir.path().join("board"), ORIGIN).unwrap();
        let verify = |entries: &[Vec<u8>]| {
            let bytes = rebuild(entries, &board_signer);
            tallyboard_verifier::verify_bytes(
                &bytes,
                &tallyboard_verifier::VerifyOptions {
                    board_key: Some(board_signer.verifier()),
                    ..Default::default()
                },
            )
        };
        assert!(verify(&entries).ok, "the rebuilt honest record verifies");
        let tamper = |f: &dyn Fn(&mut v1::entry_body::Payload) -> bool| {
            let mut out = entries.clone();
            let mut hit = false;
            for e in &mut out {
                let mut body = tallyboard_protocol::decode_entry(e).unwrap().body;
                if let Some(p) = body.payload.as_mut() {
                    if f(p) {
                        *e = tallyboard_protocol::sign_entry(&admin, body);
                        hit = true;
                    }
                }
            }
            assert!(hit, "nothing to tamper with");
            verify(&out)
        };
        // A non-viable group declared viable.
        let r = tamper(&|p| match p {
            v1::entry_body::Payload::CaucusViability(v) => {
                let d = v
                    .districts
                    .iter_mut()
                    .find(|d| d.viable.contains(&false))
                    .unwrap();
                let i = d.viable.iter().position(|x| !x).unwrap();
                d.viable[i] = true;
                true
            }
            _ => false,
        });
        assert!(r.failed_checks().contains(&"V8.1"), "{}", r.to_human());
        // A delegate moved from one group to another.
        let r = tamper(&|p| match p {
            v1::entry_body::Payload::CaucusApportionment(a) => {
                let d = a
                    .districts
                    .iter_mut()
                    .find(|d| d.delegates.iter().any(|n| *n > 0))
                    .unwrap();
                let from = d.delegates.iter().position(|n| *n > 0).unwrap();
                let to = (from + 1) % d.delegates.len();
                d.delegates[from] -= 1;
                d.delegates[to] += 1;
                true
            }
            _ => false,
        });
        // (The refused apportionment also leaves the phase change to
        // Finished without its prerequisite: V2.3.)
        assert_eq!(r.failed_checks(), vec!["V2.3", "V8.4"], "{}", r.to_human());
        // Another coin seed.
        let r = tamper(&|p| match p {
            v1::entry_body::Payload::CaucusApportionment(a) => {
                a.coin_seed[0] ^= 1;
                true
            }
            _ => false,
        });
        // (The refused apportionment also leaves the phase change to
        // Finished without its prerequisite: V2.3.)
        assert_eq!(r.failed_checks(), vec!["V2.3", "V8.4"], "{}", r.to_human());
    }

    fn read_entries(path: &std::path::Path) -> Vec<Vec<u8>> {
        let f = std::fs::File::open(path).unwrap();
        let mut r =
            tallyboard_verifier::record::RecordReader::new(std::io::BufReader::new(f)).unwrap();
        let mut out = Vec::new();
        while let Some(e) = r.next_entry().unwrap() {
            out.push(e.bytes);
        }
        out
    }

    /// An export-format record of `entries` under a checkpoint signed by
    /// `board`.
    fn rebuild(entries: &[Vec<u8>], board: &tallyboard_tlog::Ed25519Signer) -> Vec<u8> {
        let mut t = tallyboard_verifier::tree::LeafTree::with_capacity(entries.len() as u64);
        for e in entries {
            t.push(tallyboard_tlog::leaf_hash(e));
        }
        let cp = tallyboard_tlog::Checkpoint::new(ORIGIN, t.size(), t.root(t.size()).unwrap())
            .unwrap()
            .sign(board)
            .unwrap();
        let mut w =
            tallyboard_verifier::record::RecordWriter::new(Vec::new(), entries.len() as u64)
                .unwrap();
        for e in entries {
            w.entry(e).unwrap();
        }
        w.finish(cp.as_bytes()).unwrap()
    }

    #[test]
    fn picked_counts() {
        for (n, k) in [(1000u64, 10u64), (7, 3), (5, 10), (100, 0), (1, 1)] {
            for shift in [false, true] {
                let got = (0..n).filter(|&v| picked(v, n, k, shift)).count() as u64;
                assert_eq!(got, k.min(n), "n={n} k={k} shift={shift}");
            }
        }
    }
}
