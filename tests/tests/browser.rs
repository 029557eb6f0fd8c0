//! The board explorer in a real browser (`spec/board.md` §11): Debian's
//! Chromium, driven headless by `crates/board/web/test/browser.mjs`
//! (playwright-core), against a board that this test fills with a small
//! election run by separate `tallyboard` processes, with two witnesses.
//!
//! 1. The page loads, shows the election and a verified checkpoint, and the
//!    witnesses' cosignatures.
//! 2. A voter's tracker (from their receipt) is found and marked verified at
//!    its index; a well-formed tracker that is not on the board is not; a
//!    malformed one is refused without a request. A receipt file is checked.
//! 3. The stream follows live appends: two more voters cast and the page's
//!    counts per district follow.
//! 4. The board forks: it is stopped, and a copy of its data directory made
//!    earlier (same key), grown with another entry, is served on the same
//!    port; on reload the page, which remembers the last checkpoint it
//!    verified, shows the fork warning. The witnesses refuse the fork too
//!    (exit status 3, with evidence).
//! 5. A pinned board key (`?key=`) that is not the manifest's makes the page
//!    say not to trust the board; a board that goes away makes it say so and
//!    retry.
//!
//! Screenshots (desktop and phone width, and the warning) are written to the
//! test's directory and, when `TALLYBOARD_SCREENSHOTS` names a directory,
//! copied there.
//!
//! Needs Node.js, the page's npm packages (installed here with `npm ci` if
//! missing) and Chromium (`/usr/bin/chromium` or `$CHROMIUM`; `.ci/run`
//! installs it with apt).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::{entry_index, open_election_on, s, Board, Harness, Voter};
use serde_json::{json, Value};

const ORIGIN: &str = "tallyboard/it-browser";
const DISTRICTS: [&str; 2] = ["ward-1", "ward-2"];
const MAYOR: [&str; 3] = ["okafor", "lindqvist", "tanaka"];
const WITNESSES: [(&str, &str); 2] = [
    ("witness-press", "witness.gazette.example/w1"),
    ("witness-campaign", "witness.okafor-campaign.example/w1"),
];

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/board/web")
}

/// Node, the npm packages and Chromium, or a panic saying what is missing.
fn prerequisites() -> String {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "the browser test needs Node.js (node) on PATH"
    );
    let web = web_dir();
    // One test at a time installs the packages (nextest runs tests as
    // parallel processes).
    let lock = std::fs::File::create(std::env::temp_dir().join("tallyboard-web-npm.lock"))
        .expect("creating the npm lock file");
    lock.lock().expect("locking the npm lock file");
    if !web.join("node_modules/playwright-core").is_dir() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&web)
            .status()
            .expect("running npm ci for the page's packages");
        assert!(status.success(), "npm ci in {} failed", web.display());
    }
    drop(lock);
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).is_file(),
        "the browser test needs Chromium at {chromium} (apt-get install -y chromium; .ci/run installs it), or CHROMIUM=path"
    );
    chromium
}

/// Runs `node ARGS` in the page's directory; panics with its output unless
/// it exits 0.
fn node(args: &[&str]) -> String {
    let out = Command::new("node")
        .args(args)
        .current_dir(web_dir())
        .output()
        .expect("running node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "node {args:?} failed:\n{text}");
    text
}

/// The page's own unit tests (Merkle vectors, notes and cosignatures,
/// gRPC-Web framing, trackers, receipts), under Node's test runner.
#[test]
fn page_unit_tests() {
    prerequisites();
    let out = node(&["--test", "test/unit/"]);
    assert!(out.contains("# fail 0"), "{out}");
    assert!(!out.contains("# pass 0"), "no unit test ran:\n{out}");
}

/// The embedded `dist/` is exactly what the sources and the locked packages
/// build to (`node build.mjs --check`).
#[test]
fn page_bundle_is_built_from_sources() {
    prerequisites();
    node(&["build.mjs", "--check"]);
}

/// The Playwright driver: one JSON command per line in, one answer out.
struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Driver {
    fn start(url: &str, shots: &Path, chromium: &str, log: &Path) -> Driver {
        let err = std::fs::File::create(log).expect("driver log");
        let mut child = Command::new("node")
            .arg("test/browser.mjs")
            .args(["--url", url, "--screenshots"])
            .arg(shots)
            .current_dir(web_dir())
            .env("CHROMIUM", chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("starting the browser driver");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Driver {
            child,
            stdin,
            stdout,
        }
    }

    fn cmd(&mut self, c: Value, log: &Path) -> Value {
        writeln!(self.stdin, "{c}").expect("writing to the driver");
        self.stdin.flush().expect("flushing the driver's stdin");
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("reading the driver's answer");
        let answer: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "driver answered {line:?} to {c} ({e})\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        });
        assert_eq!(
            answer["ok"],
            json!(true),
            "driver refused {c}: {answer}\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        answer
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn write_manifest(h: &Harness, vkey: &str) -> PathBuf {
    let mut m = String::new();
    m.push_str("election_id = \"it-browser\"\n");
    m.push_str("title = \"Browser test election\"\n");
    m.push_str("admin_key = \"admin.key.pub\"\n");
    m.push_str("issuer_keys = \"issuer/issuer-keys.json\"\n\n");
    m.push_str(&format!("[board]\nkey = \"{vkey}\"\n\n"));
    m.push_str("[trustees]\nthreshold = 2\nn = 3\n\n");
    for i in 1..=3 {
        m.push_str(&format!(
            "[[trustees.members]]\nname = \"Trustee {i}\"\nsigning_key = \"trustee-{i}/signing.pub\"\n\n"
        ));
    }
    for (dir, _) in WITNESSES {
        m.push_str(&format!("[[witnesses]]\nkey = \"{dir}/witness.pub\"\n\n"));
    }
    for (i, d) in DISTRICTS.iter().enumerate() {
        m.push_str(&format!(
            "[[districts]]\nid = \"{d}\"\nname = \"Ward {}\"\n\n",
            i + 1
        ));
    }
    let options = MAYOR
        .iter()
        .map(|o| format!("\"{o}\""))
        .collect::<Vec<_>>()
        .join(", ");
    m.push_str(&format!(
        "[[contests]]\nid = \"mayor\"\ntitle = \"Mayor\"\nrule = \"one_of_n\"\noptions = [{options}]\n"
    ));
    let path = h.path("manifest.toml");
    std::fs::write(&path, m).expect("writing the manifest");
    path
}

/// Enrolls and casts voter `voter`; returns (entry index, tracker hex).
fn vote(h: &Harness, board: &Board, issuer: &str, voter: &Voter) -> (u64, String) {
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
        voter.code.clone(),
    ]);
    h.run(&format!("enroll-{}", voter.id), &args);
    let receipt = h.path(&format!("voters/{}.receipt", voter.id));
    let mut args = vec![s("vote"), s("cast")];
    args.extend(board.args());
    args.extend([
        s("--credential"),
        cred.display().to_string(),
        s("--choice"),
        format!("mayor={}", MAYOR[(voter.v % 3) as usize]),
        s("--receipt-out"),
        receipt.display().to_string(),
    ]);
    let out = h.run(&format!("cast-{}", voter.id), &args);
    let index = entry_index(&out.stdout, "cast").expect("cast entry index");
    let text = std::fs::read_to_string(&receipt).expect("receipt file");
    let tracker = text
        .lines()
        .find_map(|l| l.strip_prefix("tracker "))
        .expect("tracker line in the receipt")
        .to_owned();
    (index, tracker)
}

fn notice(h: &Harness, board: &Board, text: &str) -> u64 {
    let mut args = vec![s("admin"), s("notice")];
    args.extend(board.admin());
    args.extend([s("--text"), s(text)]);
    let out = h.run("notice", &args);
    entry_index(&out.stdout, "notice").expect("notice entry index")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating the copy");
    for e in std::fs::read_dir(from).expect("reading the board directory") {
        let e = e.expect("directory entry");
        if e.file_name() != "board.lock" {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copying");
        }
    }
}

fn serve_board(h: &Harness, dir: &str, port: u16) {
    h.serve(
        "board",
        &[
            s("board"),
            s("serve"),
            s("--data-dir"),
            s(dir),
            s("--listen"),
            format!("127.0.0.1:{port}"),
            s("--origin"),
            s(ORIGIN),
        ],
        "board serving",
    );
}

#[test]
fn board_explorer_in_chromium() {
    let chromium = prerequisites();
    let h = Harness::new();
    std::fs::create_dir(h.path("voters")).expect("voters directory");
    let shots = h.path("screenshots");
    let driver_log = h.path("logs/browser-driver.stderr");

    // The election, with two witnesses in its manifest.
    for (dir, name) in WITNESSES {
        let out = h.run(
            &format!("{dir}-init"),
            &[
                s("witness"),
                s("init"),
                s("--data-dir"),
                s(dir),
                s("--name"),
                s(name),
            ],
        );
        assert!(out.stdout.starts_with(name), "{}", out.stdout);
    }
    let mut roll = String::from("voter_id,district\n");
    for v in 0..8u64 {
        roll.push_str(&format!("voter-{v:03},{}\n", DISTRICTS[(v % 2) as usize]));
    }
    std::fs::write(h.path("roll.csv"), roll).expect("roll");
    let port = free_port();
    let common::Opened {
        board,
        issuer,
        voters,
    } = open_election_on(
        &h,
        ORIGIN,
        &h.path("roll.csv"),
        &format!("127.0.0.1:{port}"),
        write_manifest,
    );
    let mut witnesses: Vec<common::Proc> = WITNESSES
        .iter()
        .map(|(dir, _)| {
            let mut args = vec![s("witness"), s("serve"), s("--data-dir"), s(dir)];
            args.extend(board.args());
            args.extend([s("--interval-ms"), s("200")]);
            h.spawn(dir, &args, None)
        })
        .collect();
    let mut cast: Vec<(u64, String)> = voters[..4]
        .iter()
        .map(|v| vote(&h, &board, &issuer, v))
        .collect();

    // 1. The page loads and verifies.
    let url = format!("http://127.0.0.1:{port}/");
    let mut d = Driver::start(&url, &shots, &chromium, &driver_log);
    let loaded = d.cmd(json!({"cmd": "load"}), &driver_log);
    assert_eq!(loaded["title"], json!("Browser test election"), "{loaded}");
    let last = cast.last().expect("ballots").0;
    d.cmd(
        json!({"cmd": "wait_size", "size": last + 1, "timeout_ms": 30000}),
        &driver_log,
    );
    // The witnesses' cosignatures reach the page.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = d.cmd(json!({"cmd": "cosigners"}), &driver_log);
        let names: Vec<&str> = c["witnesses"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if WITNESSES.iter().all(|(_, n)| names.contains(n)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page shows cosigners {names:?}, not both witnesses"
        );
        std::thread::sleep(Duration::from_millis(300));
        d.cmd(json!({"cmd": "reload"}), &driver_log);
    }

    // 2. Trackers.
    for (index, tracker) in &cast {
        let r = d.cmd(json!({"cmd": "lookup", "tracker": tracker}), &driver_log);
        assert_eq!(r["status"], json!("verified"), "{tracker}: {r}");
        assert_eq!(r["index"], json!(index), "{tracker}: {r}");
    }
    let r = d.cmd(
        json!({"cmd": "lookup", "tracker": "ab".repeat(32)}),
        &driver_log,
    );
    assert_eq!(r["status"], json!("not-found"), "{r}");
    for bad in ["not a tracker", "abc", &"f".repeat(5000)] {
        let r = d.cmd(json!({"cmd": "lookup", "tracker": bad}), &driver_log);
        assert_eq!(r["status"], json!("invalid"), "{bad:.20}: {r}");
        assert!(!r["message"].as_str().unwrap_or("").is_empty(), "{r}");
    }
    let receipt = h.path(&format!("voters/{}.receipt", voters[0].id));
    let r = d.cmd(
        json!({"cmd": "receipt", "path": receipt.display().to_string()}),
        &driver_log,
    );
    assert_eq!(r["status"], json!("verified"), "receipt: {r}");
    d.cmd(
        json!({"cmd": "screenshot", "name": "explorer-desktop", "full_page": true}),
        &driver_log,
    );

    // 3. Live appends.
    for v in &voters[4..6] {
        cast.push(vote(&h, &board, &issuer, v));
    }
    let last = cast.last().expect("ballots").0;
    let live = d.cmd(
        json!({"cmd": "wait_size", "size": last + 1, "timeout_ms": 30000}),
        &driver_log,
    );
    let counted: u64 = live["ballots"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    assert_eq!(counted, cast.len() as u64, "ballots per district: {live}");
    for dname in DISTRICTS {
        assert_eq!(live["ballots"][dname], json!(3), "{live}");
    }
    d.cmd(
        json!({"cmd": "viewport", "width": 390, "height": 844}),
        &driver_log,
    );
    d.cmd(
        json!({"cmd": "screenshot", "name": "explorer-phone", "full_page": true}),
        &driver_log,
    );
    d.cmd(
        json!({"cmd": "viewport", "width": 1280, "height": 900}),
        &driver_log,
    );

    // 4. A fork. Copy the board's storage (same key), let the real board
    // grow and the page follow, then serve the diverging copy in its place.
    h.stop_service("board");
    copy_dir(&h.path("board"), &h.path("board-fork"));
    serve_board(&h, "board", port);
    let honest = notice(&h, &board, "polls close at 8 pm");
    d.cmd(
        json!({"cmd": "wait_size", "size": honest + 1, "timeout_ms": 30000}),
        &driver_log,
    );
    h.stop_service("board");
    serve_board(&h, "board-fork", port);
    let forked = notice(&h, &board, "polls close at 6 pm");
    assert_eq!(forked, honest, "the fork reuses the index");
    d.cmd(json!({"cmd": "reload"}), &driver_log);
    let warned = d.cmd(
        json!({"cmd": "wait_fork", "timeout_ms": 30000}),
        &driver_log,
    );
    assert!(
        !warned["warning"].as_str().unwrap_or("").is_empty(),
        "{warned}"
    );
    d.cmd(
        json!({"cmd": "screenshot", "name": "explorer-fork", "full_page": false}),
        &driver_log,
    );

    // 5. Bad conditions give clear messages, never a blank page: a board
    // that goes away (the page says so and retries), and a pinned board key
    // that is not the manifest's.
    h.stop_service("board");
    let st = d.cmd(
        json!({"cmd": "wait_connection", "contains": "Retrying", "timeout_ms": 30000}),
        &driver_log,
    );
    assert!(
        st["connection"]
            .as_str()
            .unwrap_or("")
            .contains("cannot be reached")
            || st["connection"].as_str().unwrap_or("").contains("Retrying"),
        "{st}"
    );
    serve_board(&h, "board-fork", port);
    let other = h
        .run(
            "other-board-key",
            &[
                s("board"),
                s("key"),
                s("--data-dir"),
                s("other-board"),
                s("--origin"),
                s(ORIGIN),
            ],
        )
        .stdout
        .trim()
        .to_owned();
    let path = format!("?key={}", other.replace('+', "%2B"));
    let st = d.cmd(json!({"cmd": "goto", "path": path}), &driver_log);
    assert_eq!(st["status"], json!("untrusted"), "{st}");
    assert!(
        st["warning"]
            .as_str()
            .unwrap_or("")
            .contains("Do not trust this board"),
        "{st}"
    );
    d.cmd(
        json!({"cmd": "screenshot", "name": "explorer-key-mismatch", "full_page": false}),
        &driver_log,
    );
    d.cmd(json!({"cmd": "quit"}), &driver_log);

    // The witnesses, pointed at the same address, refuse the fork.
    for (w, (dir, _)) in witnesses.iter_mut().zip(WITNESSES) {
        let status = w
            .wait(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{dir}: {e}\n{}", w.report()));
        assert_eq!(status.code(), Some(3), "{dir}\n{}", w.report());
        let evidence = std::fs::read_dir(h.path(dir))
            .expect("witness directory")
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("evidence-"));
        assert!(evidence, "{dir} wrote no evidence");
    }

    for name in [
        "explorer-desktop",
        "explorer-phone",
        "explorer-fork",
        "explorer-key-mismatch",
    ] {
        let png = shots.join(format!("{name}.png"));
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            png.display()
        );
        if let Ok(out) = std::env::var("TALLYBOARD_SCREENSHOTS") {
            std::fs::create_dir_all(&out).expect("screenshot directory");
            std::fs::copy(&png, Path::new(&out).join(format!("{name}.png"))).expect("copy");
        }
    }
}
