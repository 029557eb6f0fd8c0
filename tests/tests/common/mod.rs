//! The process harness of the end-to-end tests: every party of an election
//! is a separate `tallyboard` process talking gRPC over loopback sockets.
//! Each process's standard output and error go to files in a temporary
//! directory; a failing step prints them, and servers still running are
//! killed when the harness is dropped, also on a panic (the directory is
//! then kept).

// Each test file uses a different part of this module.
#![allow(dead_code)]

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
pub const BIN: &str = env!("CARGO_BIN_EXE_tallyboard-it");
/// Longest any single command may take before the test gives up on it.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(240);
/// Longest a server may take to come up.
pub const START_LIMIT: Duration = Duration::from_secs(60);
/// Voters or participants running at the same time.
pub const PARALLEL: usize = 8;

// ---------------------------------------------------------------------------
// The process harness.

/// A child process whose output goes to two files; killed when dropped
/// unless it was waited for.
pub struct Proc {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    waited: bool,
}

impl Proc {
    /// Waits at most `limit` for the process (bounded polling), killing it
    /// on timeout.
    pub fn wait(&mut self, limit: Duration) -> Result<ExitStatus, String> {
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
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Both outputs, for a failure message (the last 8 KiB of each).
    pub fn report(&self) -> String {
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

pub fn tail(text: &str) -> &str {
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
pub struct Output {
    pub stdout: String,
}

/// The temporary directory, the servers, and a counter naming log files.
pub struct Harness {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    logs: PathBuf,
    services: Mutex<Vec<Proc>>,
    seq: AtomicUsize,
}

impl Harness {
    pub fn new() -> Self {
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

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Starts `tallyboard ARGS` in the temporary directory; `stdin` is
    /// written to its standard input.
    pub fn spawn(&self, name: &str, args: &[String], stdin: Option<&str>) -> Proc {
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
    pub fn finish(&self, mut p: Proc, limit: Duration) -> Result<Output, String> {
        match p.wait(limit) {
            Ok(status) if status.success() => Ok(Output { stdout: p.stdout() }),
            Ok(status) => Err(format!("{} failed ({status})\n{}", p.name, p.report())),
            Err(e) => Err(format!("{e}\n{}", p.report())),
        }
    }

    /// Runs a command to completion; exit status 0 required.
    pub fn try_run(
        &self,
        name: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> Result<Output, String> {
        let p = self.spawn(name, args, stdin);
        self.finish(p, COMMAND_LIMIT)
    }

    /// [`Harness::try_run`], panicking with the command's output on failure.
    pub fn run(&self, name: &str, args: &[String]) -> Output {
        self.try_run(name, args, None)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.service_reports()))
    }

    /// Starts a server listening on `127.0.0.1:0`, waits until its log names
    /// the address it bound (the line holding `marker`) and a connection to
    /// that address succeeds, and keeps it until the harness is dropped.
    pub fn serve(&self, name: &str, args: &[String], marker: &str) -> SocketAddr {
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

    /// Stops (kills) the servers started under `name` and waits for them.
    pub fn stop_service(&self, name: &str) {
        let mut services = self.services.lock().expect("services");
        let suffix = format!("-{name}");
        let (stopped, kept): (Vec<Proc>, Vec<Proc>) =
            services.drain(..).partition(|p| p.name.ends_with(&suffix));
        *services = kept;
        drop(services);
        assert!(!stopped.is_empty(), "no service named {name}");
        // Dropping a process kills and reaps it.
        drop(stopped);
    }

    /// The logs of every server, for a failure message.
    pub fn service_reports(&self) -> String {
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
pub fn bound_address(log: &str, marker: &str) -> Option<SocketAddr> {
    let line = strip_ansi(log)
        .lines()
        .find(|l| l.contains(marker))?
        .to_owned();
    let rest = &line[line.find("addr=Some(")? + "addr=Some(".len()..];
    rest[..rest.find(')')?].parse().ok()
}

/// Removes terminal colour sequences (`ESC [ ... letter`).
pub fn strip_ansi(s: &str) -> String {
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
pub fn line_after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(str::trim)
}

/// The number after the word `entry` on the first line starting with `prefix`.
pub fn entry_index(text: &str, prefix: &str) -> Option<u64> {
    let rest = line_after(text, prefix)?;
    let after = &rest[rest.find("entry ")? + "entry ".len()..];
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// `x` as an owned string.
pub fn s(x: impl AsRef<str>) -> String {
    x.as_ref().to_owned()
}

// ---------------------------------------------------------------------------
// The parties.

/// One voter's enrollment letter (a line of the issuer's
/// `enrollment-codes.csv`).
pub struct Voter {
    /// The number in the voter id `voter-NNN`.
    pub v: u64,
    pub id: String,
    pub district: String,
    pub code: String,
}

/// The board's URL and verifier key.
pub struct Board {
    pub url: String,
    pub vkey: String,
}

impl Board {
    /// `--board URL --board-key VKEY`.
    pub fn args(&self) -> Vec<String> {
        vec![
            s("--board"),
            self.url.clone(),
            s("--board-key"),
            self.vkey.clone(),
        ]
    }

    /// The board arguments and the administrator's key.
    pub fn admin(&self) -> Vec<String> {
        let mut a = self.args();
        a.extend([s("--key"), s("admin.key")]);
        a
    }

    /// `admin phase --phase PHASE`.
    pub fn phase(&self, h: &Harness, phase: &str) -> Output {
        let mut args = vec![s("admin"), s("phase")];
        args.extend(self.admin());
        args.extend([s("--phase"), s(phase)]);
        h.run(&format!("phase-{phase}"), &args)
    }
}

/// The issuer's `enrollment-codes.csv`: `voter_id,district,enrollment_code`.
pub fn read_codes(path: &Path) -> Vec<Voter> {
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

// ---------------------------------------------------------------------------
// Opening an election.

/// An election open for voting, and the servers it runs on.
pub struct Opened {
    pub board: Board,
    /// The credential issuer's URL.
    pub issuer: String,
    /// Every voter on the roll, by voter id.
    pub voters: Vec<Voter>,
}

/// Opens an election, in the order of `spec/manifest.md` §7: `board key` and
/// `board serve` (own data directory, port chosen by the kernel and read
/// back from the board's log); `issuer init` with `roll` (a CSV
/// `voter_id,district` with ids `voter-NNN`); three `trustee keygen`
/// (threshold 2) and `admin keygen`; the manifest `write_manifest` writes
/// (given the board's verifier key); `admin post-manifest`; `issuer serve`;
/// the key-ceremony phase with the three `trustee ceremony` processes
/// running at the same time and `admin election-key`; voting opens.
pub fn open_election(
    h: &Harness,
    origin: &str,
    roll: &Path,
    write_manifest: impl FnOnce(&Harness, &str) -> PathBuf,
) -> Opened {
    open_election_on(h, origin, roll, "127.0.0.1:0", write_manifest)
}

/// [`open_election`] with the board listening on `listen`.
pub fn open_election_on(
    h: &Harness,
    origin: &str,
    roll: &Path,
    listen: &str,
    write_manifest: impl FnOnce(&Harness, &str) -> PathBuf,
) -> Opened {
    let vkey = h
        .run(
            "board-key",
            &[
                s("board"),
                s("key"),
                s("--data-dir"),
                s("board"),
                s("--origin"),
                s(origin),
            ],
        )
        .stdout
        .trim()
        .to_owned();
    assert!(
        vkey.starts_with(&format!("{origin}+")),
        "board key {vkey:?} is not a verifier key of {origin}"
    );
    let board_addr = h.serve(
        "board",
        &[
            s("board"),
            s("serve"),
            s("--data-dir"),
            s("board"),
            s("--listen"),
            s(listen),
            s("--origin"),
            s(origin),
        ],
        "board serving",
    );
    let board = Board {
        url: format!("http://{board_addr}"),
        vkey,
    };

    // Issuer data, keys, manifest.
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
    assert!(!voters.is_empty(), "issuer init output:\n{}", init.stdout);
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
    let manifest = write_manifest(h, &board.vkey);
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
    board.phase(h, "key-ceremony");
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
    board.phase(h, "voting-open");
    Opened {
        board,
        issuer,
        voters,
    }
}

/// A decrypted round: `admin tally --round ROUND`, then `admin result`
/// waiting while trustees 1 and 3 run `trustee decrypt` (trustee 2 is
/// absent). Voting (or the realignment) must be closed.
pub struct Decrypted {
    /// Log index of the encrypted tally.
    pub tally_entry: u64,
    /// What `admin tally` printed.
    pub tally: String,
    /// What `admin result` printed.
    pub result: String,
}

/// Tallies round `round` and decrypts it with trustees 1 and 3.
pub fn decrypt_round(h: &Harness, board: &Board, round: u32) -> Decrypted {
    let mut args = vec![s("admin"), s("tally")];
    args.extend(board.admin());
    args.extend([s("--round"), round.to_string()]);
    let tally = h.run(&format!("tally-{round}"), &args);
    let tally_entry = entry_index(&tally.stdout, "encrypted tally")
        .unwrap_or_else(|| panic!("no tally entry in:\n{}", tally.stdout));
    let mut args = vec![s("admin"), s("result")];
    args.extend(board.admin());
    args.extend([
        s("--tally-entry"),
        tally_entry.to_string(),
        s("--timeout"),
        s("240"),
    ]);
    // The administrator waits for the partial decryptions.
    let result = h.spawn(&format!("result-{round}"), &args, None);
    for i in [1, 3] {
        let mut args = vec![s("trustee"), s("decrypt")];
        args.extend(board.args());
        args.extend([
            s("--dir"),
            format!("trustee-{i}"),
            s("--tally-entry"),
            tally_entry.to_string(),
        ]);
        let out = h.run(&format!("trustee-{i}-decrypt-{round}"), &args);
        assert!(out.stdout.contains("posted at entry"), "{}", out.stdout);
    }
    let result = h
        .finish(result, COMMAND_LIMIT)
        .unwrap_or_else(|e| panic!("{e}\n{}", h.service_reports()));
    Decrypted {
        tally_entry,
        tally: tally.stdout,
        result: result.stdout,
    }
}

/// Runs `job` for every index below `n`, [`PARALLEL`] at a time; stops
/// early and panics with every error (and the services' logs) if one
/// fails. Results by index.
pub fn parallel<T: Send>(
    h: &Harness,
    n: usize,
    what: &str,
    job: impl Fn(usize) -> Result<T, String> + Sync,
) -> BTreeMap<usize, T> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results = Mutex::new(BTreeMap::new());
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    match job(i) {
                        Ok(r) => {
                            results.lock().expect("results").insert(i, r);
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
        "{what} failed:\n{}\n{}",
        errors.join("\n"),
        h.service_reports()
    );
    let results = results.into_inner().expect("results");
    assert_eq!(results.len(), n, "every job ran");
    results
}

/// `verify --board --state` (spec/checks.md §13) against the live board,
/// and a full `verify --board`: the reports agree but for the timings.
pub fn verify_incrementally(h: &Harness, board: &Board, step: &str) -> serde_json::Value {
    let json = |out: &Output| -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("verify --json: {e}:\n{}", out.stdout));
        v.as_object_mut().expect("a report").remove("performance");
        v
    };
    let mut args = vec![s("verify")];
    args.extend(board.args());
    args.push(s("--json"));
    let full = json(&h.run(&format!("verify-full-{step}"), &args));
    args.extend([s("--state"), h.path("verifier.state").display().to_string()]);
    let inc = json(&h.run(&format!("verify-incremental-{step}"), &args));
    assert!(h.path("verifier.state.entries").exists(), "the entry file");
    assert_eq!(inc, full, "{step}: incremental (left) against full (right)");
    assert_eq!(inc["ok"], true, "{inc}");
    inc
}
