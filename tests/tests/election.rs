//! A whole election through the `tallyboard` command, every party a separate
//! OS process talking gRPC over loopback sockets, in the order of
//! `spec/manifest.md` §7:
//!
//! 1. `board key` and `board serve` (own data directory, port chosen by the
//!    kernel and read back from the board's log); `issuer init` with a roll
//!    of 60 voters in two districts; three `trustee keygen` (threshold 2) and
//!    `admin keygen`; a manifest with two contests of different rules
//!    (one-of-n and approval); `admin post-manifest`; `issuer serve`; the
//!    key-ceremony phase with the three `trustee ceremony` processes running
//!    at the same time and `admin election-key`; voting opens.
//! 2. Every voter runs `vote enroll` with the code from the issuer's
//!    `enrollment-codes.csv` (some read it from standard input) and `vote
//!    cast` with pseudo-random choices this test remembers, eight voters at a
//!    time. Some voters `vote challenge` a ballot with other choices first
//!    (never counted); some cast a second ballot, which replaces the first
//!    (`last_counts`).
//! 3. Voting closes; `admin tally`; `admin result` waits while trustees 1 and
//!    3 run `trustee decrypt` (trustee 2 is absent); the election finishes.
//! 4. `export`, then `verify` of the exported record and of the live board
//!    must pass every check (`spec/checks.md`); the verifier's totals per
//!    contest and option must equal the totals of the choices the voters
//!    last cast, its list of counted ballots (V5.4) must be each voter's
//!    last cast, and the receipts must exist and re-check against the board.
//!
//! Every process's standard output and error go to files in the temporary
//! directory; a failing step prints them, and servers still running are
//! killed when the test ends, also on a panic (the directory is then kept).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The `tallyboard` command, built by this package.
const BIN: &str = env!("CARGO_BIN_EXE_tallyboard-it");
/// The board's checkpoint origin.
const ORIGIN: &str = "tallyboard/it-e2e";
/// Voters on the roll; every one enrolls and casts.
const VOTERS: u64 = 60;
/// The two districts; voter `v` lives in `DISTRICTS[v % 2]`.
const DISTRICTS: [&str; 2] = ["ward-1", "ward-2"];
/// Voters running at the same time.
const PARALLEL: usize = 8;
/// Contest 1, one-of-n.
const MAYOR: [&str; 4] = ["okafor", "lindqvist", "tanaka", "moreau"];
/// Contest 2, approval (any subset, the empty one included).
const MEASURES: [&str; 3] = ["library", "transit", "parks"];
/// Longest any single command may take before the test gives up on it.
const COMMAND_LIMIT: Duration = Duration::from_secs(240);
/// Longest a server may take to come up.
const START_LIMIT: Duration = Duration::from_secs(60);

/// Voters who cast a second ballot (the second counts).
fn revotes(v: u64) -> bool {
    v % 13 == 5
}

/// Voters who challenge a ballot before casting.
fn challenges(v: u64) -> bool {
    v % 25 == 2
}

/// Voters who give their enrollment code on standard input (`--code -`).
fn code_on_stdin(v: u64) -> bool {
    v % 10 == 9
}

/// SplitMix64: the voters' deterministic choices.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// What one ballot selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Choice {
    mayor: usize,
    measures: [bool; MEASURES.len()],
}

impl Choice {
    /// Voter `v`'s choice on ballot `attempt`.
    fn of(v: u64, attempt: u64) -> Self {
        let h = mix(0x7a11_b0a2 ^ mix(v.wrapping_mul(16).wrapping_add(attempt)));
        let mut measures = [false; MEASURES.len()];
        for (i, m) in measures.iter_mut().enumerate() {
            *m = (h >> (8 + i)) & 1 == 1;
        }
        Choice {
            mayor: usize::try_from(h % MAYOR.len() as u64).expect("small"),
            measures,
        }
    }

    /// The `--choice` arguments of `vote cast` / `vote challenge`.
    fn args(&self) -> Vec<String> {
        let approved: Vec<&str> = MEASURES
            .iter()
            .zip(self.measures)
            .filter(|(_, on)| *on)
            .map(|(o, _)| *o)
            .collect();
        vec![
            "--choice".into(),
            format!("mayor={}", MAYOR[self.mayor]),
            "--choice".into(),
            // `measures=` with nothing after it abstains (approval allows it).
            format!("measures={}", approved.join(",")),
        ]
    }

    fn count_into(&self, totals: &mut BTreeMap<(String, String), u64>) {
        *totals
            .get_mut(&("mayor".to_owned(), MAYOR[self.mayor].to_owned()))
            .expect("mayor option") += 1;
        for (o, on) in MEASURES.iter().zip(self.measures) {
            if on {
                *totals
                    .get_mut(&("measures".to_owned(), (*o).to_owned()))
                    .expect("measures option") += 1;
            }
        }
    }
}

/// Every contest/option with a zero count.
fn zero_totals() -> BTreeMap<(String, String), u64> {
    let mut t = BTreeMap::new();
    for o in MAYOR {
        t.insert(("mayor".to_owned(), o.to_owned()), 0);
    }
    for o in MEASURES {
        t.insert(("measures".to_owned(), o.to_owned()), 0);
    }
    t
}

// ---------------------------------------------------------------------------
// The process harness.

/// A child process whose output goes to two files; killed when dropped
/// unless it was waited for.
struct Proc {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    waited: bool,
}

impl Proc {
    /// Waits at most `limit` for the process (bounded polling), killing it
    /// on timeout.
    fn wait(&mut self, limit: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_millis(2);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.waited = true;
                    return Ok(status);
                }
                Ok(None) => {}
                Err(e) => return Err(format!("waiting for {}: {e}", self.name)),
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.waited = true;
                return Err(format!(
                    "{} did not finish within {} s (killed)",
                    self.name,
                    limit.as_secs()
                ));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Whether the process has exited (and how).
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Both outputs, for a failure message (the last 8 KiB of each).
    fn report(&self) -> String {
        format!(
            "--- {} stdout ({}) ---\n{}\n--- {} stderr ({}) ---\n{}",
            self.name,
            self.stdout.display(),
            tail(&self.stdout()),
            self.name,
            self.stderr.display(),
            tail(&self.stderr())
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.waited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn tail(text: &str) -> &str {
    const MAX: usize = 8 * 1024;
    if text.len() <= MAX {
        return text;
    }
    let mut start = text.len() - MAX;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// A finished command's standard output.
struct Output {
    stdout: String,
}

/// The temporary directory, the servers, and a counter naming log files.
struct Harness {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    logs: PathBuf,
    services: Mutex<Vec<Proc>>,
    seq: AtomicUsize,
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("tallyboard-it-")
            .tempdir()
            .expect("creating the temporary directory");
        let root = dir.path().to_path_buf();
        let logs = root.join("logs");
        std::fs::create_dir(&logs).expect("creating the log directory");
        Harness {
            dir: Some(dir),
            root,
            logs,
            services: Mutex::new(Vec::new()),
            seq: AtomicUsize::new(0),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Starts `tallyboard ARGS` in the temporary directory; `stdin` is
    /// written to its standard input.
    fn spawn(&self, name: &str, args: &[String], stdin: Option<&str>) -> Proc {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let stdout = self.logs.join(format!("{n:04}-{name}.stdout"));
        let stderr = self.logs.join(format!("{n:04}-{name}.stderr"));
        let out = File::create(&stdout).expect("creating a stdout log file");
        let err = File::create(&stderr).expect("creating a stderr log file");
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(&self.root)
            .env("NO_COLOR", "1")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN} for {name}: {e}"));
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            // A process that exits early shows its reason in its logs.
            let _ = pipe.write_all(text.as_bytes());
        }
        Proc {
            name: format!("{n:04}-{name}"),
            child,
            stdout,
            stderr,
            waited: false,
        }
    }

    /// Waits for a spawned command and requires exit status 0.
    fn finish(&self, mut p: Proc, limit: Duration) -> Result<Output, String> {
        match p.wait(limit) {
            Ok(status) if status.success() => Ok(Output { stdout: p.stdout() }),
            Ok(status) => Err(format!("{} failed ({status})\n{}", p.name, p.report())),
            Err(e) => Err(format!("{e}\n{}", p.report())),
        }
    }

    /// Runs a command to completion; exit status 0 required.
    fn try_run(&self, name: &str, args: &[String], stdin: Option<&str>) -> Result<Output, String> {
        let p = self.spawn(name, args, stdin);
        self.finish(p, COMMAND_LIMIT)
    }

    /// [`Harness::try_run`], panicking with the command's output on failure.
    fn run(&self, name: &str, args: &[String]) -> Output {
        self.try_run(name, args, None)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.service_reports()))
    }

    /// Starts a server listening on `127.0.0.1:0`, waits until its log names
    /// the address it bound (the line holding `marker`) and a connection to
    /// that address succeeds, and keeps it until the harness is dropped.
    fn serve(&self, name: &str, args: &[String], marker: &str) -> SocketAddr {
        let mut p = self.spawn(name, args, None);
        let deadline = Instant::now() + START_LIMIT;
        let addr = loop {
            if let Some(addr) = bound_address(&p.stderr(), marker) {
                break addr;
            }
            if let Some(status) = p.exited() {
                p.waited = true;
                panic!("{name} exited before serving ({status})\n{}", p.report());
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not report its address within {} s\n{}",
                START_LIMIT.as_secs(),
                p.report()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                break;
            }
            if let Some(status) = p.exited() {
                p.waited = true;
                panic!(
                    "{name} exited before accepting connections ({status})\n{}",
                    p.report()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{name} does not accept connections on {addr}\n{}",
                p.report()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.services.lock().expect("services").push(p);
        addr
    }

    /// The logs of every server, for a failure message.
    fn service_reports(&self) -> String {
        match self.services.lock() {
            Ok(s) => s.iter().map(Proc::report).collect::<Vec<_>>().join("\n"),
            Err(_) => String::new(),
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        let services = match self.services.get_mut() {
            Ok(s) => std::mem::take(s),
            Err(p) => std::mem::take(p.into_inner()),
        };
        if panicking {
            for s in &services {
                eprintln!("{}", s.report());
            }
        }
        // Kills every server still running.
        drop(services);
        if panicking {
            if let Some(dir) = self.dir.take() {
                eprintln!("the election's files are kept in {}", dir.keep().display());
            }
        }
    }
}

/// The address in the line of `log` holding `marker`: the servers log
/// `addr=Some(127.0.0.1:PORT)` when they start serving.
fn bound_address(log: &str, marker: &str) -> Option<SocketAddr> {
    let line = strip_ansi(log)
        .lines()
        .find(|l| l.contains(marker))?
        .to_owned();
    let rest = &line[line.find("addr=Some(")? + "addr=Some(".len()..];
    rest[..rest.find(')')?].parse().ok()
}

/// Removes terminal colour sequences (`ESC [ ... letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The text after `prefix` on the first line of `text` starting with it.
fn line_after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(str::trim)
}

/// The number after the word `entry` on the first line starting with `prefix`.
fn entry_index(text: &str, prefix: &str) -> Option<u64> {
    let rest = line_after(text, prefix)?;
    let after = &rest[rest.find("entry ")? + "entry ".len()..];
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The totals in the table `admin result` prints: a `  Title [contest]`
/// line, then `    option  count  percent` lines and a `total` line.
fn printed_result(text: &str) -> BTreeMap<(String, String), u64> {
    let mut totals = BTreeMap::new();
    let mut contest: Option<&str> = None;
    for line in text.lines() {
        if let Some(id) = line
            .strip_suffix(']')
            .and_then(|l| l.rsplit_once('['))
            .map(|(_, id)| id)
        {
            contest = Some(id);
            continue;
        }
        let (Some(c), Some(row)) = (contest, line.strip_prefix("    ")) else {
            continue;
        };
        let f: Vec<&str> = row.split_whitespace().collect();
        if f.first() == Some(&"total") || f.len() < 2 {
            continue;
        }
        let count = f[1]
            .parse()
            .unwrap_or_else(|_| panic!("count in result line {line:?}"));
        totals.insert((s(c), s(f[0])), count);
    }
    totals
}

fn s(x: impl AsRef<str>) -> String {
    x.as_ref().to_owned()
}

// ---------------------------------------------------------------------------
// The election.

/// One voter's enrollment letter and what the voter did.
struct Voter {
    v: u64,
    id: String,
    district: String,
    code: String,
}

/// What a voter left behind.
struct Voted {
    /// The credential's public key (hex), as `vote enroll` printed it.
    credential_key: String,
    /// The ballot that counts.
    last: Choice,
    /// Log index of the ballot that counts.
    last_entry: u64,
    /// Every receipt written, in casting order.
    receipts: Vec<PathBuf>,
}

struct Board {
    url: String,
    vkey: String,
}

impl Board {
    /// `--board URL --board-key VKEY`.
    fn args(&self) -> Vec<String> {
        vec![
            s("--board"),
            self.url.clone(),
            s("--board-key"),
            self.vkey.clone(),
        ]
    }

    /// The board arguments and the administrator's key.
    fn admin(&self) -> Vec<String> {
        let mut a = self.args();
        a.extend([s("--key"), s("admin.key")]);
        a
    }
}

fn write_roll(h: &Harness) -> PathBuf {
    let mut roll = String::from("voter_id,district\n");
    for v in 0..VOTERS {
        roll.push_str(&format!("voter-{v:03},{}\n", DISTRICTS[(v % 2) as usize]));
    }
    let path = h.path("roll.csv");
    std::fs::write(&path, roll).expect("writing the roll");
    path
}

fn write_manifest(h: &Harness, vkey: &str) -> PathBuf {
    let mut m = String::new();
    m.push_str("election_id = \"it-e2e\"\n");
    m.push_str("title = \"End-to-end test election\"\n");
    m.push_str("admin_key = \"admin.key.pub\"\n");
    m.push_str("issuer_keys = \"issuer/issuer-keys.json\"\n");
    m.push_str("revote_policy = \"last_counts\"\n\n");
    m.push_str(&format!("[board]\nkey = \"{vkey}\"\n\n"));
    m.push_str("[trustees]\nthreshold = 2\nn = 3\n\n");
    for i in 1..=3 {
        m.push_str(&format!(
            "[[trustees.members]]\nname = \"Trustee {i}\"\nsigning_key = \"trustee-{i}/signing.pub\"\n\n"
        ));
    }
    for d in DISTRICTS {
        m.push_str(&format!("[[districts]]\nid = \"{d}\"\n\n"));
    }
    let list = |o: &[&str]| {
        o.iter()
            .map(|x| format!("\"{x}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    m.push_str(&format!(
        "[[contests]]\nid = \"mayor\"\ntitle = \"Mayor\"\nrule = \"one_of_n\"\noptions = [{}]\n\n",
        list(&MAYOR)
    ));
    m.push_str(&format!(
        "[[contests]]\nid = \"measures\"\ntitle = \"Ballot measures (approve any)\"\nrule = \"approval\"\noptions = [{}]\n",
        list(&MEASURES)
    ));
    let path = h.path("manifest.toml");
    std::fs::write(&path, m).expect("writing the manifest");
    path
}

/// The issuer's `enrollment-codes.csv`: `voter_id,district,enrollment_code`.
fn read_codes(path: &Path) -> Vec<Voter> {
    let text = std::fs::read_to_string(path).expect("reading the enrollment codes");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("voter_id,district,enrollment_code"),
        "header of {}",
        path.display()
    );
    let mut voters: Vec<Voter> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 3, "enrollment code line {l:?}");
            let v = f[0]
                .strip_prefix("voter-")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("voter id {:?}", f[0]));
            Voter {
                v,
                id: f[0].to_owned(),
                district: f[1].to_owned(),
                code: f[2].to_owned(),
            }
        })
        .collect();
    voters.sort_by_key(|x| x.v);
    voters
}

/// One voter: enroll, maybe challenge, cast, maybe cast again.
fn vote(h: &Harness, board: &Board, issuer: &str, voter: &Voter) -> Result<Voted, String> {
    let cred = h.path(&format!("voters/{}.cred", voter.id));
    let mut args = vec![s("vote"), s("enroll")];
    args.extend(board.args());
    args.extend([
        s("--issuer"),
        s(issuer),
        s("--voter-id"),
        voter.id.clone(),
        s("--district"),
        voter.district.clone(),
        s("--out"),
        cred.display().to_string(),
        s("--code"),
    ]);
    let enrolled = if code_on_stdin(voter.v) {
        args.push(s("-"));
        h.try_run(
            &format!("enroll-{}", voter.id),
            &args,
            Some(&format!("{}\n", voter.code)),
        )?
    } else {
        args.push(voter.code.clone());
        h.try_run(&format!("enroll-{}", voter.id), &args, None)?
    };
    let credential_key = line_after(&enrolled.stdout, "credential")
        .and_then(|l| l.split("public key ").nth(1))
        .map(|k| k.trim().to_owned())
        .ok_or_else(|| format!("no credential key in:\n{}", enrolled.stdout))?;
    if !cred.is_file() {
        return Err(format!(
            "{}: no credential file {}",
            voter.id,
            cred.display()
        ));
    }

    let choice_args = |c: &Choice| {
        let mut a = board.args();
        a.extend([s("--credential"), cred.display().to_string()]);
        a.extend(c.args());
        a
    };

    if challenges(voter.v) {
        // Other choices than the cast ones: a challenged ballot never counts.
        let spent = Choice::of(voter.v, 9);
        let mut args = vec![s("vote"), s("challenge")];
        args.extend(choice_args(&spent));
        let out = h.try_run(&format!("challenge-{}", voter.id), &args, None)?;
        if entry_index(&out.stdout, "challenge").is_none() || !out.stdout.contains("verified") {
            return Err(format!(
                "{}: the challenge reports no verified entry:\n{}",
                voter.id, out.stdout
            ));
        }
    }

    let mut attempts = vec![Choice::of(voter.v, 0)];
    if revotes(voter.v) {
        attempts.push(Choice::of(voter.v, 1));
    }
    let mut receipts = Vec::new();
    let mut last_entry = 0;
    for (i, c) in attempts.iter().enumerate() {
        let receipt = h.path(&format!("voters/{}.receipt-{i}", voter.id));
        let mut args = vec![s("vote"), s("cast")];
        args.extend(choice_args(c));
        args.extend([s("--receipt-out"), receipt.display().to_string()]);
        let out = h.try_run(&format!("cast{i}-{}", voter.id), &args, None)?;
        last_entry = entry_index(&out.stdout, "cast")
            .ok_or_else(|| format!("{}: no cast entry in:\n{}", voter.id, out.stdout))?;
        receipts.push(receipt);
    }
    Ok(Voted {
        credential_key,
        last: *attempts.last().expect("one ballot at least"),
        last_entry,
        receipts,
    })
}

#[test]
fn election_over_processes() {
    let started = Instant::now();
    let h = Harness::new();
    std::fs::create_dir(h.path("voters")).expect("creating the voters' directory");

    // 1. Board.
    let vkey = h
        .run(
            "board-key",
            &[
                s("board"),
                s("key"),
                s("--data-dir"),
                s("board"),
                s("--origin"),
                s(ORIGIN),
            ],
        )
        .stdout
        .trim()
        .to_owned();
    assert!(
        vkey.starts_with(&format!("{ORIGIN}+")),
        "board key {vkey:?} is not a verifier key of {ORIGIN}"
    );
    let board_addr = h.serve(
        "board",
        &[
            s("board"),
            s("serve"),
            s("--data-dir"),
            s("board"),
            s("--listen"),
            s("127.0.0.1:0"),
            s("--origin"),
            s(ORIGIN),
        ],
        "board serving",
    );
    let board = Board {
        url: format!("http://{board_addr}"),
        vkey,
    };

    // Issuer data, keys, manifest.
    let roll = write_roll(&h);
    let init = h.run(
        "issuer-init",
        &[
            s("issuer"),
            s("init"),
            s("--roll"),
            roll.display().to_string(),
            s("--data-dir"),
            s("issuer"),
            s("--rsa-bits"),
            s("2048"),
            s("--argon2"),
            s("fast"),
        ],
    );
    let voters = read_codes(&h.path("issuer/enrollment-codes.csv"));
    assert_eq!(
        voters.len() as u64,
        VOTERS,
        "issuer init output:\n{}",
        init.stdout
    );
    for (i, voter) in voters.iter().enumerate() {
        assert_eq!(voter.v, i as u64, "voter ids of the codes file");
        assert_eq!(voter.district, DISTRICTS[i % 2], "district of {}", voter.id);
    }
    for i in 1..=3 {
        let out = h.run(
            &format!("trustee-{i}-keygen"),
            &[
                s("trustee"),
                s("keygen"),
                s("--out"),
                format!("trustee-{i}"),
            ],
        );
        assert_eq!(out.stdout.trim().len(), 64, "trustee {i} public key");
    }
    h.run(
        "admin-keygen",
        &[s("admin"), s("keygen"), s("--out"), s("admin.key")],
    );
    let manifest = write_manifest(&h, &board.vkey);
    let mut args = vec![s("admin"), s("post-manifest")];
    args.extend(board.admin());
    args.extend([s("--manifest"), manifest.display().to_string()]);
    let posted = h.run("post-manifest", &args);
    assert!(posted.stdout.contains("fingerprint "), "{}", posted.stdout);

    let mut args = vec![
        s("issuer"),
        s("serve"),
        s("--data-dir"),
        s("issuer"),
        s("--listen"),
        s("127.0.0.1:0"),
        s("--board"),
        board.url.clone(),
        s("--board-key"),
        board.vkey.clone(),
    ];
    // Every voter of this test comes from 127.0.0.1 (spec/issuer.md §4.4).
    args.extend([
        s("--address-burst"),
        s("100000"),
        s("--address-per-minute"),
        s("100000"),
    ]);
    let issuer_addr = h.serve("issuer", &args, "issuer serving");
    let issuer = format!("http://{issuer_addr}");

    // Key ceremony: three trustees at once, then the election key.
    let phase = |p: &str| {
        let mut args = vec![s("admin"), s("phase")];
        args.extend(board.admin());
        args.extend([s("--phase"), s(p)]);
        h.run(&format!("phase-{p}"), &args)
    };
    phase("key-ceremony");
    let ceremonies: Vec<Proc> = (1..=3)
        .map(|i| {
            let mut args = vec![s("trustee"), s("ceremony")];
            args.extend(board.args());
            args.extend([
                s("--dir"),
                format!("trustee-{i}"),
                s("--reveal-timeout"),
                s("120"),
                s("--timeout"),
                s("240"),
            ]);
            h.spawn(&format!("trustee-{i}-ceremony"), &args, None)
        })
        .collect();
    let mut args = vec![s("admin"), s("election-key")];
    args.extend(board.admin());
    args.extend([s("--complaint-window"), s("1"), s("--timeout"), s("240")]);
    let key = match h.try_run("election-key", &args, None) {
        Ok(out) => out,
        Err(e) => panic!(
            "{e}\n{}",
            ceremonies
                .iter()
                .map(Proc::report)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    let joint = line_after(&key.stdout, "joint key")
        .unwrap_or_else(|| panic!("no joint key in:\n{}", key.stdout))
        .to_owned();
    assert_eq!(
        line_after(&key.stdout, "qualified"),
        Some("1, 2, 3"),
        "every trustee must qualify:\n{}",
        key.stdout
    );
    assert!(!key.stdout.contains("disqualified"), "{}", key.stdout);
    for (i, c) in ceremonies.into_iter().enumerate() {
        let out = h
            .finish(c, COMMAND_LIMIT)
            .unwrap_or_else(|e| panic!("{e}\n{}", h.service_reports()));
        assert!(
            out.stdout.contains(&format!("(election key {joint})")),
            "trustee {} ends with another key than {joint}:\n{}",
            i + 1,
            out.stdout
        );
        assert!(h.path(&format!("trustee-{}/share.key", i + 1)).is_file());
    }
    phase("voting-open");
    let setup = started.elapsed();

    // 2. Voting, PARALLEL voters at a time.
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<BTreeMap<u64, Voted>> = Mutex::new(BTreeMap::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let Some(voter) = voters.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    match vote(&h, &board, &issuer, voter) {
                        Ok(done) => {
                            results.lock().expect("results").insert(voter.v, done);
                        }
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            errors.lock().expect("errors").push(e);
                        }
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().expect("errors");
    assert!(
        errors.is_empty(),
        "voting failed:\n{}\n{}",
        errors.join("\n"),
        h.service_reports()
    );
    let voted = results.into_inner().expect("results");
    assert_eq!(voted.len() as u64, VOTERS, "every voter voted");
    let voting = started.elapsed() - setup;

    let mut expected = zero_totals();
    for done in voted.values() {
        done.last.count_into(&mut expected);
    }
    let revoters = (0..VOTERS).filter(|&v| revotes(v)).count() as u64;
    let challengers = (0..VOTERS).filter(|&v| challenges(v)).count() as u64;
    assert!(revoters >= 1 && challengers >= 1);
    // The revotes must change something, or replacing could go unnoticed.
    assert!(
        (0..VOTERS)
            .filter(|&v| revotes(v))
            .any(|v| Choice::of(v, 0) != Choice::of(v, 1)),
        "no revote changes a choice"
    );

    // 3. Close, tally, decrypt (trustees 1 and 3), result.
    phase("voting-closed");
    let mut args = vec![s("admin"), s("tally")];
    args.extend(board.admin());
    let tally = h.run("tally", &args);
    let tally_entry = entry_index(&tally.stdout, "encrypted tally")
        .unwrap_or_else(|| panic!("no tally entry in:\n{}", tally.stdout));
    assert!(
        tally
            .stdout
            .contains(&format!(": {VOTERS} ballots counted")),
        "{}",
        tally.stdout
    );
    let mut args = vec![s("admin"), s("result")];
    args.extend(board.admin());
    args.extend([
        s("--tally-entry"),
        tally_entry.to_string(),
        s("--timeout"),
        s("240"),
    ]);
    // The administrator waits for the partial decryptions.
    let result = h.spawn("result", &args, None);
    for i in [1, 3] {
        let mut args = vec![s("trustee"), s("decrypt")];
        args.extend(board.args());
        args.extend([
            s("--dir"),
            format!("trustee-{i}"),
            s("--tally-entry"),
            tally_entry.to_string(),
        ]);
        let out = h.run(&format!("trustee-{i}-decrypt"), &args);
        assert!(out.stdout.contains("posted at entry"), "{}", out.stdout);
    }
    let result = h
        .finish(result, COMMAND_LIMIT)
        .unwrap_or_else(|e| panic!("{e}\n{}", h.service_reports()));
    assert!(
        result.stdout.contains(&format!(
            "{VOTERS} ballots counted, decrypted by trustees 1, 3"
        )),
        "{}",
        result.stdout
    );
    assert_eq!(
        printed_result(&result.stdout),
        expected,
        "the totals `admin result` printed (left) against the voters' choices (right)"
    );
    phase("finished");

    // 4. Export and verify, offline and against the live board.
    let record = h.path("election.record");
    let mut args = vec![s("export")];
    args.extend(board.args());
    args.extend([s("--out"), record.display().to_string()]);
    h.run("export", &args);
    let counted = h.path("counted.txt");
    let report = h.run(
        "verify-record",
        &[
            s("verify"),
            s("--record"),
            record.display().to_string(),
            s("--board-key"),
            board.vkey.clone(),
            s("--json"),
            s("--quiet"),
            s("--counted"),
            counted.display().to_string(),
        ],
    );
    let mut args = vec![s("verify")];
    args.extend(board.args());
    args.push(s("--quiet"));
    let live = h.run("verify-board", &args);
    assert!(
        live.stdout
            .lines()
            .any(|l| l.starts_with("VERIFIED: every check passed")),
        "{}",
        live.stdout
    );

    let json: serde_json::Value = serde_json::from_str(&report.stdout)
        .unwrap_or_else(|e| panic!("verify --json: {e}:\n{}", report.stdout));
    assert_eq!(json["schema"], "tallyboard-verify/v1");
    assert_eq!(json["ok"], true, "{}", report.stdout);
    let checks = json["checks"].as_array().expect("checks");
    assert!(!checks.is_empty());
    for c in checks {
        assert_ne!(c["status"], "fail", "check failed: {c}");
    }
    let rec = &json["record"];
    assert_eq!(rec["election_id"], "it-e2e");
    assert_eq!(rec["origin"], ORIGIN);
    assert_eq!(rec["phase"], "Finished");
    assert_eq!(rec["ballots_cast"], VOTERS + revoters, "{rec}");
    assert_eq!(rec["challenged"], challengers, "{rec}");

    // The decrypted totals equal the choices the voters last cast.
    let mut decrypted = BTreeMap::new();
    for row in json["results"].as_array().expect("results") {
        if row["round"] != 0 || row["district"] != "" {
            continue;
        }
        let key = (
            s(row["contest"].as_str().expect("contest")),
            s(row["option"].as_str().expect("option")),
        );
        let count = row["count"].as_u64().expect("count");
        assert!(
            decrypted.insert(key.clone(), count).is_none(),
            "two totals for {key:?}"
        );
    }
    assert_eq!(
        decrypted, expected,
        "decrypted totals (left) against the voters' choices (right)"
    );

    // Exactly each voter's last ballot counts (V5.4).
    let counted = std::fs::read_to_string(&counted).expect("reading the counted ballots");
    let mut counted_by_key = BTreeMap::new();
    for line in counted.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 3, "counted line {line:?}");
        assert_eq!(f[1], "0", "round of {line:?}");
        let entry: u64 = f[2].parse().expect("entry index");
        assert!(counted_by_key.insert(s(f[0]), entry).is_none(), "{line}");
    }
    let last_by_key: BTreeMap<String, u64> = voted
        .values()
        .map(|d| (d.credential_key.clone(), d.last_entry))
        .collect();
    assert_eq!(last_by_key.len() as u64, VOTERS, "distinct credentials");
    assert_eq!(
        counted_by_key, last_by_key,
        "counted ballots against the last cast ones"
    );

    // Receipts: every one exists; a sample re-checks against the board,
    // replaced ballots included (they stay on the record).
    for (v, done) in &voted {
        let expected_receipts = if revotes(*v) { 2 } else { 1 };
        assert_eq!(done.receipts.len(), expected_receipts);
        for r in &done.receipts {
            let len = std::fs::metadata(r)
                .unwrap_or_else(|e| panic!("receipt {}: {e}", r.display()))
                .len();
            assert!(len > 0, "empty receipt {}", r.display());
        }
    }
    let sample: Vec<&PathBuf> = voted
        .iter()
        .filter(|(v, _)| revotes(**v) || **v < 2)
        .flat_map(|(_, d)| &d.receipts)
        .collect();
    for (i, r) in sample.into_iter().enumerate() {
        let mut args = vec![s("vote"), s("check-receipt")];
        args.extend(board.args());
        args.extend([s("--receipt"), r.display().to_string()]);
        let out = h.run(&format!("check-receipt-{i}"), &args);
        assert!(
            out.stdout.contains("still hashes to the tracker"),
            "{}",
            out.stdout
        );
    }

    eprintln!(
        "election over processes: {VOTERS} voters ({revoters} revotes, {challengers} challenges); setup and ceremony {:.1} s, voting {:.1} s, total {:.1} s",
        setup.as_secs_f64(),
        voting.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
