//! # tallyboard-fuzz
//!
//! One target per decoder of untrusted bytes (`spec/threats.md`: bad input
//! is normal input). A target takes arbitrary bytes and must return: every
//! decoder answers garbage with its typed error, never a panic, an abort or
//! unbounded work. The targets run
//!
//! - under the stable harness `tests/stable_harness.rs` (part of the test
//!   suite): every seed and every saved regression input, then random
//!   mutations of them for a bounded time per target
//!   (`TALLYBOARD_FUZZ_SECS`, default 3 s);
//! - under libFuzzer with `cargo +nightly fuzz run <target>` from this
//!   directory (`fuzz/fuzz_targets/`), where nightly is available.
//!
//! An input that made a target panic is kept under `regressions/<target>/`
//! and replayed by every test run.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::{Mutex, OnceLock, PoisonError};

use ed25519_dalek::SigningKey;
use tallyboard_protocol::{BoardIdentity, RecordState};
use tallyboard_tlog::Ed25519Verifier;
use tallyboard_verifier::generate::{generate, GenOptions, Generated};

/// A fuzz target: arbitrary bytes in, must return.
pub type Target = fn(&[u8]);

/// The targets, by name (the names of `regressions/` and `fuzz/fuzz_targets/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("entry", entry),
    ("admission", admission),
    ("admission_signed", admission_signed),
    ("record", record),
    ("note", note),
    ("receipt", receipt),
    ("manifest_toml", manifest_toml),
    ("roll_csv", roll_csv),
    ("crypto", crypto),
];

/// A small, valid generated election (4 voters, 2 trustees): the seeds and
/// the state the admission target starts from.
pub fn sample() -> &'static Generated {
    static G: OnceLock<Generated> = OnceLock::new();
    G.get_or_init(|| {
        let opts = GenOptions {
            ballots: 4,
            options: 3,
            districts: 2,
            trustees: 2,
            threshold: 2,
            revotes: 1,
            challenged: 1,
            threads: 1,
            ..GenOptions::default()
        };
        match generate(&opts) {
            Ok(g) => g,
            Err(e) => panic!("generating the sample election: {e}"),
        }
    })
}

/// The sample board's note verifier.
pub fn board_verifier() -> Ed25519Verifier {
    sample().election.board_verifier()
}

/// `Entry` and `EntryBody` decoding with the signature check
/// (`spec/record.md` §2).
pub fn entry(data: &[u8]) {
    let _ = tallyboard_protocol::entry::decode_entry(data);
}

/// The board's admission path (`RecordState::precheck` then `apply`) on the
/// sample election's record up to its last entry but one.
pub fn admission(data: &[u8]) {
    static STATE: OnceLock<Mutex<RecordState>> = OnceLock::new();
    let state = STATE.get_or_init(|| {
        let g = sample();
        let mut st = RecordState::new(BoardIdentity {
            origin: g.election.origin.clone(),
            key: g.election.board.verifying_key(),
        });
        // Everything up to the voting phase and the first ballots.
        for e in g.entries.iter().take(g.entries.len() / 2) {
            if let Ok(p) = st.precheck(e) {
                let _ = st.apply(p);
            }
        }
        Mutex::new(st)
    });
    let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
    if let Ok(p) = st.precheck(data) {
        let _ = st.apply(p);
    }
}

/// The admission path behind the signature: `data` is an `EntryBody`; if
/// its author key is one of the sample election's (administrator, issuer,
/// trustees, voters' credentials), the body is signed with it, so that
/// mutations reach the rules and the zero-knowledge proofs instead of
/// stopping at the signature check.
pub fn admission_signed(data: &[u8]) {
    use prost::Message as _;
    let Ok(body) = tallyboard_protocol::v1::EntryBody::decode(data) else {
        return;
    };
    let Some(key) = signing_key_of(&body.author_key) else {
        return;
    };
    SIGNED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let msg = tallyboard_protocol::entry::signing_message(data);
    let signature = ed25519_dalek::Signer::sign(key, &msg).to_bytes().to_vec();
    let entry = tallyboard_protocol::v1::Entry {
        body: data.to_vec(),
        signature,
    }
    .encode_to_vec();
    admission(&entry);
}

/// Inputs [`admission_signed`] signed and passed on (a measure of how deep
/// the mutations reach).
pub static SIGNED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn signing_key_of(author: &[u8]) -> Option<&'static SigningKey> {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let el = &sample().election;
        let mut k = vec![el.admin.clone(), el.issuer.clone()];
        k.extend(el.trustees.iter().cloned());
        for v in 0..8 {
            if let Ok((key, _, _)) = el.credential(v) {
                k.push(key);
            }
        }
        k
    });
    keys.iter()
        .find(|k| k.verifying_key().as_bytes().as_slice() == author)
}

/// The record file and the whole verifier over it (`spec/export.md`).
pub fn record(data: &[u8]) {
    let opts = tallyboard_verifier::VerifyOptions {
        threads: 1,
        ..Default::default()
    };
    let _ = tallyboard_verifier::verify_bytes(data, &opts);
}

/// Signed notes, checkpoints and cosignatures (`spec/tlog.md` §6, §7, §14).
pub fn note(data: &[u8]) {
    let board = board_verifier();
    let _ = tallyboard_tlog::Note::parse(data);
    let _ = tallyboard_tlog::SignedCheckpoint::open(data, &board);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tallyboard_tlog::Checkpoint::parse(text);
        let _ = Ed25519Verifier::from_vkey(text);
        let _ = tallyboard_tlog::CosignatureVerifier::from_vkey(text);
    }
    if let Ok(n) = tallyboard_tlog::Note::parse(data) {
        let w = tallyboard_tlog::CosignatureVerifier::new(
            "witness.example/w1",
            SigningKey::from_bytes(&[9; 32]).verifying_key(),
        );
        if let Ok(w) = w {
            let _ = n.verify(&[&board, &w]);
        }
    }
}

/// C2SP tlog-proof receipts and the voter's receipt file
/// (`spec/tlog.md` §8, `spec/client.md` §5.2).
pub fn receipt(data: &[u8]) {
    let _ = tallyboard_tlog::TlogProof::parse(data);
    let _ = tallyboard_client::verify_receipt_file(&board_verifier(), data);
}

/// The manifest file (`spec/manifest.md` §2).
pub fn manifest_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = tallyboard_authority::parse_manifest(&text, std::path::Path::new("/nonexistent"));
}

/// The issuer's roll (`spec/issuer.md`).
pub fn roll_csv(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = tallyboard_issuer::Roll::parse_csv(&text);
}

/// The canonical encodings inside payloads: encrypted contests, points
/// ballots, key-ceremony messages, partial decryptions, threshold keys
/// (`spec/crypto.md` §8, `spec/range-proofs.md`, `spec/threshold.md`).
pub fn crypto(data: &[u8]) {
    let _ = tallyboard_crypto::contest::EncryptedContest::from_bytes(data);
    let _ = tallyboard_rangeproof::PointsBallot::from_bytes(data);
    let _ = tallyboard_threshold::DkgMessage::from_bytes(data);
    let _ = tallyboard_threshold::PartialDecryption::from_bytes(data);
    let _ = tallyboard_threshold::ThresholdPublicKey::from_bytes(data);
}

/// Seeds for `target`: valid inputs the mutations start from.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let g = sample();
    let checkpoint = g.election.checkpoint(&g.entries);
    match target {
        "entry" | "admission" => g.entries.clone(),
        "admission_signed" => g
            .entries
            .iter()
            .filter_map(|e| {
                use prost::Message as _;
                tallyboard_protocol::v1::Entry::decode(e.as_slice())
                    .ok()
                    .map(|x| x.body)
            })
            .collect(),
        "record" => tallyboard_verifier::generate::record_bytes(&g.entries, &checkpoint)
            .map(|r| vec![r])
            .unwrap_or_default(),
        "note" => {
            let mut out = vec![checkpoint.clone(), board_verifier().to_vkey().into_bytes()];
            if let Ok(mut n) = tallyboard_tlog::Note::parse(&checkpoint) {
                if let Ok(w) = tallyboard_tlog::CosignatureSigner::new(
                    "witness.example/w1",
                    SigningKey::from_bytes(&[9; 32]),
                ) {
                    if n.sign(&w).is_ok() {
                        out.push(n.to_bytes());
                    }
                }
            }
            out
        }
        "receipt" => receipt_seeds(g, &checkpoint),
        "manifest_toml" => vec![SAMPLE_MANIFEST.as_bytes().to_vec()],
        "roll_csv" => vec![b"voter_id,district\nvoter-001,ward-1\nvoter-002,ward-2\n".to_vec()],
        "crypto" => crypto_seeds(g),
        _ => Vec::new(),
    }
}

fn receipt_seeds(g: &Generated, checkpoint: &[u8]) -> Vec<Vec<u8>> {
    let n = g.entries.len() as u64;
    let index = n / 2;
    let mut tree = tallyboard_tlog::MemoryTree::new();
    for e in &g.entries {
        if tree.append(e).is_err() {
            return Vec::new();
        }
    }
    let Ok(proof) = tallyboard_tlog::inclusion_proof(index, n, &tree) else {
        return Vec::new();
    };
    let Ok(signed) = tallyboard_tlog::SignedCheckpoint::parse(checkpoint) else {
        return Vec::new();
    };
    let tlog = tallyboard_tlog::TlogProof::new(index, proof, signed).to_bytes();
    let tracker = tallyboard_tlog::leaf_hash(&g.entries[index as usize]);
    let mut file = format!(
        "tallyboard/v1/cast-receipt\nelection {}\ntracker {}\nindex {index}\n\n",
        hex(&g.election.fingerprint()),
        hex(&tracker.0)
    )
    .into_bytes();
    file.extend_from_slice(&tlog);
    vec![tlog, file]
}

fn crypto_seeds(g: &Generated) -> Vec<Vec<u8>> {
    use prost::Message as _;
    use tallyboard_protocol::v1::{self, entry_body::Payload};
    let mut out = Vec::new();
    for e in &g.entries {
        let Ok(entry) = v1::Entry::decode(e.as_slice()) else {
            continue;
        };
        let Ok(body) = v1::EntryBody::decode(entry.body.as_slice()) else {
            continue;
        };
        match body.payload {
            Some(Payload::Ballot(b)) => {
                out.extend(b.contests.into_iter().map(|c| c.encrypted));
            }
            Some(Payload::Dkg(d)) => out.push(d.message),
            Some(Payload::PartialDecryption(p)) => out.push(p.partial),
            _ => {}
        }
        if out.len() > 24 {
            break;
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A manifest file exercising every section.
pub const SAMPLE_MANIFEST: &str = r#"election_id = "fuzz"
title = "Fuzz election"
admin_key = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
issuer_signing_key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
revote_policy = "last_counts"

[voting]
opens = 2028-02-03T19:00:00Z
closes = 1800000000000

[board]
key = "tallyboard/fuzz+2a4c1a1b+AdEY1Qm0TIGWaKFC7Hz6RKn4l3MnTzFFwpUVMUOuIZwd"

[trustees]
threshold = 1
n = 1

[[trustees.members]]
name = "Trustee 1"
signing_key = "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025"

[[witnesses]]
key = "witness.example/w1+b3d7a2c4+BMrw4mHPnjQ9Dl9eWx2wTq6A0ILVIvO4c0DTnDfWeb4Q"

[[districts]]
id = "d1"
name = "District 1"
issuer_rsa_key = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"
delegates = 3
sde_weight = "1.25"

[[contests]]
id = "c1"
title = "Contest"
rule = { k_of_n = { min = 1, max = 2 } }
options = ["a", { id = "b", title = "B" }, "c"]

[caucus]
alignment_contest = "c1"
uncommitted_option = "c"
"#;
