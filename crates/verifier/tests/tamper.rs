//! The tamper suite: an honest generated record (30 ballots, 3 trustees,
//! threshold 2, two challenges, two revotes) verifies; each tampering of it
//! is caught by the check of `spec/checks.md` that names it, at the entry
//! it concerns, without a panic.
//!
//! The test holds every key, so a tampered entry is re-signed by the key
//! that may post it, and the record's checkpoint is re-signed by the board
//! key: the check that catches a tampering is then the semantic one, not an
//! entry or checkpoint signature. Where a tampering changes what the tally
//! must be, the tally, partial decryptions and result are recomputed and
//! re-signed too ([`retally`]), so that only the tampered rule is broken.
//! Each test says which check catches it and why.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use prost::Message;
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use tallyboard_crypto::elgamal::Ciphertext;
use tallyboard_protocol::v1::{self, entry_body::Payload};
use tallyboard_protocol::{sign_entry, RecordState};
use tallyboard_threshold::{Commitment, DkgMessage, PartialDecryption};
use tallyboard_verifier::checks::EntryKind;
use tallyboard_verifier::generate::{generate, record_bytes, GenOptions, Generated};
use tallyboard_verifier::report::Status;
use tallyboard_verifier::{Report, VerifyOptions};

mod conformance_out;
use conformance_out::{emit_invalid, emit_valid, verify_bytes};

fn honest_opts() -> GenOptions {
    GenOptions {
        ballots: 30,
        trustees: 3,
        threshold: 2,
        revotes: 2,
        challenged: 2,
        threads: 2,
        ..GenOptions::default()
    }
}

fn honest() -> &'static Generated {
    static G: OnceLock<Generated> = OnceLock::new();
    G.get_or_init(|| generate(&honest_opts()).unwrap())
}

fn opts() -> VerifyOptions {
    VerifyOptions {
        threads: 2,
        ..VerifyOptions::default()
    }
}

/// Verifies `entries` under a checkpoint re-signed by the board.
fn verify(g: &Generated, entries: &[Vec<u8>]) -> Report {
    let cp = g.election.checkpoint(entries);
    verify_bytes(&record_bytes(entries, &cp).unwrap(), &opts())
}

fn kinds(entries: &[Vec<u8>]) -> Vec<EntryKind> {
    entries.iter().map(|e| EntryKind::sniff(e)).collect()
}

fn positions(entries: &[Vec<u8>], k: EntryKind) -> Vec<usize> {
    kinds(entries)
        .iter()
        .enumerate()
        .filter(|(_, x)| **x == k)
        .map(|(i, _)| i)
        .collect()
}

fn body(e: &[u8]) -> v1::EntryBody {
    let entry = v1::Entry::decode(e).unwrap();
    v1::EntryBody::decode(entry.body.as_slice()).unwrap()
}

fn author(e: &[u8]) -> [u8; 32] {
    body(e).author_key.try_into().unwrap()
}

/// The entry index of voter `v`'s ballots (cast ballots, in log order).
fn ballots_of(g: &Generated, entries: &[Vec<u8>], v: u64) -> Vec<usize> {
    let key = g
        .election
        .credential(v)
        .unwrap()
        .0
        .verifying_key()
        .to_bytes();
    positions(entries, EntryKind::Ballot)
        .into_iter()
        .filter(|&i| author(&entries[i]) == key)
        .collect()
}

fn ballot_payload(e: &[u8]) -> v1::Ballot {
    match body(e).payload.unwrap() {
        Payload::Ballot(b) => b,
        _ => panic!("not a ballot"),
    }
}

/// Re-signs a modified body with `key`.
fn resign(key: &ed25519_dalek::SigningKey, mut b: v1::EntryBody, p: Payload) -> Vec<u8> {
    b.payload = Some(p);
    sign_entry(key, b)
}

/// Recomputes, from the entries before it, the encrypted tally, every
/// partial decryption and the result, re-signed, as an honest administrator
/// and honest trustees would post them for this (tampered) record.
fn retally(g: &Generated, entries: &mut Vec<Vec<u8>>) {
    let el = &g.election;
    let t = positions(entries, EntryKind::Tally)[0];
    let mut st = RecordState::unbound();
    for e in &entries[..t] {
        if st.check_and_apply(e).is_err() {
            st.skip_refused();
        }
    }
    let agg = st.expected_tally(0);
    let cts: Vec<Ciphertext> = agg.iter().flat_map(|(_, _, c)| c.clone()).collect();
    let counted = st.counted_in_round(0);
    let mut tail = vec![el.entry(
        &el.admin,
        Payload::EncryptedTally(v1::EncryptedTally {
            round: 0,
            contests: vec![v1::ContestTally {
                contest: "c1".into(),
                district: String::new(),
                ciphertexts: cts.iter().map(|c| c.to_bytes().to_vec()).collect(),
            }],
            ballots_counted: counted,
            log_size: t as u64,
        }),
    )];
    let mut partials = Vec::new();
    for (i, (share, k)) in el.shares.iter().zip(&el.trustees).enumerate() {
        let p = PartialDecryption::create(share, &cts, &mut OsRng).unwrap();
        tail.push(el.entry(
            k,
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: i as u32 + 1,
                tally_entry: t as u64,
                partial: p.to_bytes(),
            }),
        ));
        partials.push(p);
    }
    let dec = tallyboard_threshold::combine(&el.key, &cts, &partials[..2], counted).unwrap();
    tail.push(el.entry(
        &el.admin,
        Payload::Result(v1::ElectionResult {
            tally_entry: t as u64,
            trustees_used: vec![1, 2],
            contests: vec![v1::ContestResult {
                contest: "c1".into(),
                district: String::new(),
                counts: dec.plaintexts,
            }],
        }),
    ));
    tail.push(entries.last().unwrap().clone()); // Finished
    entries.truncate(t);
    entries.extend(tail);
}

/// Asserts that `check` failed, naming `entry` (if given), and that no
/// check other than `also` failed.
fn assert_caught(r: &Report, check: &str, entry: Option<usize>, also: &[&str]) {
    let c = r.check(check).unwrap();
    assert_eq!(
        c.status,
        Status::Fail,
        "{check} should fail:\n{}",
        r.to_human()
    );
    if let Some(e) = entry {
        assert!(
            c.failures.iter().any(|f| f.entry == Some(e as u64)),
            "{check} should name entry {e}:\n{}",
            r.to_human()
        );
    }
    for f in r.failed_checks() {
        assert!(
            f == check || also.contains(&f),
            "unexpected failure of {f}:\n{}",
            r.to_human()
        );
    }
    assert!(!r.ok);
    emit_invalid(r, check, entry, also);
}

#[test]
fn honest_record_verifies() {
    let g = honest();
    let r = verify(g, &g.entries);
    assert!(r.ok, "{}", r.to_human());
    emit_valid(&r);
    assert_eq!(r.check("V5.2").unwrap().count, 34); // 30 + 2 revotes + 2 challenged
    assert_eq!(r.check("V5.4").unwrap().count, 30);
    assert_eq!(r.check("V6.1").unwrap().count, 2);
    assert_eq!(r.check("V7.2").unwrap().count, 3);
    let counts: Vec<u64> = r.results.iter().map(|x| x.count).collect();
    assert_eq!(counts, g.counts);
    // The JSON report has the documented shape (spec/checks.md §10).
    let j: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(j["schema"], "tallyboard-verify/v1");
    assert_eq!(j["ok"], true);
    assert_eq!(j["checks"].as_array().unwrap().len(), 29);
    assert_eq!(j["checks"][17]["id"], "V5.2");
    assert_eq!(j["checks"][17]["status"], "pass");
    assert_eq!(j["checks"][28]["status"], "n/a");
    assert_eq!(j["results"][0]["option"], "o1");
    assert_eq!(j["record"]["entries"], g.entries.len());
    // Retallying an honest record changes nothing that matters.
    let mut e = g.entries.clone();
    retally(g, &mut e);
    assert!(verify(g, &e).ok);
}

/// Tampering 1: A ciphertext byte of a ballot changed (re-signed by its credential):
/// the ciphertext no longer decodes or its proofs fail — V5.2 (R6.3).
/// The ballot is refused, so the tally no longer matches either (V7.1).
#[test]
fn ciphertext_byte_changed() {
    let g = honest();
    let mut e = g.entries.clone();
    let i = ballots_of(g, &e, 7)[0];
    let mut b = ballot_payload(&e[i]);
    // β of option 1, after the 13-byte header (n, R, exact-sum form, L).
    b.contests[0].encrypted[13 + 64 + 40] ^= 0x01;
    let cred = g.election.credential(7).unwrap();
    e[i] = resign(&cred.0, body(&e[i]), Payload::Ballot(b));
    retally(g, &mut e);
    assert_caught(&verify(g, &e), "V5.2", Some(i), &[]);
}

/// Tampering 2: Two ballots' proofs swapped (each re-signed by its own credential):
/// proofs are bound to their ciphertexts and credential — V5.2 (R6.3).
#[test]
fn proofs_swapped() {
    let g = honest();
    let mut e = g.entries.clone();
    let (i, j) = (ballots_of(g, &e, 10)[0], ballots_of(g, &e, 11)[0]);
    let (mut a, mut b) = (ballot_payload(&e[i]), ballot_payload(&e[j]));
    // The proofs start after the header and the 4 sent ciphertexts (the
    // fifth is implied, spec/crypto.md §8.2).
    let cut = 13 + 64 * 4;
    let pa = a.contests[0].encrypted.split_off(cut);
    let pb = b.contests[0].encrypted.split_off(cut);
    a.contests[0].encrypted.extend(pb);
    b.contests[0].encrypted.extend(pa);
    e[i] = resign(
        &g.election.credential(10).unwrap().0,
        body(&e[i]),
        Payload::Ballot(a),
    );
    e[j] = resign(
        &g.election.credential(11).unwrap().0,
        body(&e[j]),
        Payload::Ballot(b),
    );
    retally(g, &mut e);
    let r = verify(g, &e);
    assert_caught(&r, "V5.2", Some(i), &[]);
    assert!(r
        .check("V5.2")
        .unwrap()
        .failures
        .iter()
        .any(|f| f.entry == Some(j as u64)));
}

/// Tampering 3: A ballot replayed under another credential (voter 12's ballot posted
/// as voter 13's, with 13's valid credential and signature): the proofs
/// absorb the credential key — V5.2 (R6.3).
#[test]
fn ballot_replayed_under_another_credential() {
    let g = honest();
    let mut e = g.entries.clone();
    let (i, j) = (ballots_of(g, &e, 12)[0], ballots_of(g, &e, 13)[0]);
    let mut copied = ballot_payload(&e[i]);
    let c13 = g.election.credential(13).unwrap();
    copied.credential_signature = c13.1.clone();
    copied.credential_randomizer = c13.2.clone();
    e[j] = resign(&c13.0, body(&e[j]), Payload::Ballot(copied));
    retally(g, &mut e);
    assert_caught(&verify(g, &e), "V5.2", Some(j), &[]);
}

/// Tampering 4: A forged issuer signature: a credential the issuer never signed casts
/// a well-formed ballot (valid proofs, valid entry signature) in place of
/// voter 14's — V4.2 (R6.1).
#[test]
fn forged_issuer_signature() {
    let g = honest();
    let mut e = g.entries.clone();
    let i = ballots_of(g, &e, 14)[0];
    let forged = ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32]);
    let mut sig = g.election.credential(14).unwrap().1;
    sig[10] ^= 0xff;
    let cred = (forged.clone(), sig, vec![7u8; 32]);
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let (b, _) = g.election.ballot(&cred, "d1", 0, &mut rng).unwrap();
    e[i] = resign(&forged, body(&e[i]), Payload::Ballot(b));
    retally(g, &mut e);
    assert_caught(&verify(g, &e), "V4.2", Some(i), &[]);
}

/// Tampering 5a: An entry dropped, the record presented under the board's original
/// checkpoint: the recomputed tree is not the signed one — V1.1.
#[test]
fn entry_dropped() {
    let g = honest();
    let mut e = g.entries.clone();
    let i = ballots_of(g, &e, 15)[0];
    e.remove(i);
    let r = verify_bytes(
        &record_bytes(&e, &g.election.checkpoint(&g.entries)).unwrap(),
        &opts(),
    );
    assert_caught(&r, "V1.1", None, &["V7.1", "V7.2", "V7.3", "V2.3"]);
}

/// Tampering 5b: An entry dropped by a board that re-signs its checkpoint and an
/// administrator who retallies: against the checkpoint a voter saved
/// before (covering the dropped ballot), the log is not an extension —
/// V1.3.
#[test]
fn entry_dropped_and_history_rewritten() {
    let g = honest();
    let saved = g.election.checkpoint(&g.entries[..70]);
    let mut e = g.entries.clone();
    let i = ballots_of(g, &e, 15)[0];
    e.remove(i);
    retally(g, &mut e);
    let mut o = opts();
    o.checkpoints.push(("saved".into(), saved));
    let r = verify_bytes(&record_bytes(&e, &g.election.checkpoint(&e)).unwrap(), &o);
    assert_caught(&r, "V1.3", None, &[]);
}

/// Tampering 6: Entries reordered (a voter's revote moved before their first ballot)
/// under the original checkpoint: the tree differs — V1.1.
#[test]
fn entries_reordered() {
    let g = honest();
    let mut e = g.entries.clone();
    let b = ballots_of(g, &e, 0);
    e.swap(b[0], b[1]);
    let r = verify_bytes(
        &record_bytes(&e, &g.election.checkpoint(&g.entries)).unwrap(),
        &opts(),
    );
    assert_caught(&r, "V1.1", None, &["V7.1", "V7.2", "V7.3", "V2.3"]);
}

/// Tampering 7: Under FIRST_COUNTS, the administrator's tally counts a voter's second
/// ballot instead of the first (tally re-signed; partials and result made
/// for it): the aggregate is not the sum of the counted ballots — V7.1
/// (R10.1, and the verifier's own sum).
#[test]
fn second_ballot_counted_under_first_counts() {
    let g = generate(&GenOptions {
        first_counts: true,
        ..honest_opts()
    })
    .unwrap();
    assert!(verify(&g, &g.entries).ok);
    // Make the record say LAST_COUNTS for the tally: recompute it with the
    // revotes counted by a non-compact replay under a patched policy.
    let mut e = g.entries.clone();
    let t = positions(&e, EntryKind::Tally)[0];
    let mut tally = match body(&e[t]).payload.unwrap() {
        Payload::EncryptedTally(t) => t,
        _ => unreachable!(),
    };
    // Voter 0: remove the first ballot, add the revote.
    let b = ballots_of(&g, &e, 0);
    let cts = |i: usize| -> Vec<Ciphertext> {
        let bb = ballot_payload(&e[i]).contests[0].encrypted.clone();
        tallyboard_crypto::contest::EncryptedContest::from_bytes(&bb)
            .unwrap()
            .option_ciphertexts()
    };
    let (first, second) = (cts(b[0]), cts(b[1]));
    for (k, c) in tally.contests[0].ciphertexts.iter_mut().enumerate() {
        let agg = Ciphertext::from_bytes_aggregate(c).unwrap() - first[k] + second[k];
        *c = agg.to_bytes().to_vec();
    }
    e[t] = resign(
        &g.election.admin,
        body(&e[t]),
        Payload::EncryptedTally(tally),
    );
    // The refused tally leaves its partials and result without a tally
    // (V7.2, V7.3) and the election unfinished (V2.3).
    let r = verify(&g, &e);
    assert_caught(&r, "V7.1", Some(t), &["V7.2", "V7.3", "V2.3"]);
}

/// Tampering 8: A partial decryption changed (trustee 2's, re-signed by trustee 2):
/// its share or proof no longer verifies — V7.2 (R10.2).
#[test]
fn partial_decryption_changed() {
    let g = honest();
    let mut e = g.entries.clone();
    let i = positions(&e, EntryKind::Partial)[1];
    let mut p = match body(&e[i]).payload.unwrap() {
        Payload::PartialDecryption(p) => p,
        _ => unreachable!(),
    };
    // Replace the first decryption share D by another point, keeping the proof.
    let last = p.partial.len() - 1;
    p.partial[last - 40] ^= 0x01;
    e[i] = resign(
        &g.election.trustees[1],
        body(&e[i]),
        Payload::PartialDecryption(p),
    );
    // The administrator combines trustees 1 and 3 instead.
    let ri = positions(&e, EntryKind::Result)[0];
    let mut r = match body(&e[ri]).payload.unwrap() {
        Payload::Result(r) => r,
        _ => unreachable!(),
    };
    r.trustees_used = vec![1, 3];
    e[ri] = resign(&g.election.admin, body(&e[ri]), Payload::Result(r));
    assert_caught(&verify(g, &e), "V7.2", Some(i), &[]);
}

/// Tampering 9: The posted result altered (two counts swapped, re-signed by the
/// administrator): the counts are not the decryption — V7.3 (R10.3).
#[test]
fn result_altered() {
    let g = honest();
    let mut e = g.entries.clone();
    let i = positions(&e, EntryKind::Result)[0];
    let mut r = match body(&e[i]).payload.unwrap() {
        Payload::Result(r) => r,
        _ => unreachable!(),
    };
    let c = &mut r.contests[0].counts;
    let j = (1..c.len()).find(|&j| c[j] != c[0]).unwrap();
    c.swap(0, j);
    e[i] = resign(&g.election.admin, body(&e[i]), Payload::Result(r));
    // The refused result leaves the election unfinished (V2.3 at Finished).
    assert_caught(&verify(g, &e), "V7.3", Some(i), &["V2.3"]);
}

/// Tampering 10: A DKG commitment altered (trustee 2's, re-signed by trustee 2): its
/// reveal no longer matches, trustee 2 is disqualified, and the posted
/// election key (which includes trustee 2's polynomial) is not the
/// ceremony's outcome — V3.4 (R8.2). Everything that needs the key fails
/// after it.
#[test]
fn dkg_commitment_altered() {
    let g = honest();
    let mut e = g.entries.clone();
    let i = positions(&e, EntryKind::Dkg)[4]; // commitments are 3, 4, 5 of the DKG
    let d = match body(&e[i]).payload.unwrap() {
        Payload::Dkg(d) => d,
        _ => unreachable!(),
    };
    let DkgMessage::Commitment(c) = DkgMessage::from_bytes(&d.message).unwrap() else {
        panic!("not a commitment")
    };
    let mut bytes = c.to_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let altered = DkgMessage::Commitment(Commitment::from_bytes(&bytes).unwrap());
    e[i] = resign(
        &g.election.trustees[1],
        body(&e[i]),
        Payload::Dkg(v1::DkgMessage {
            message: altered.to_bytes(),
        }),
    );
    let r = verify(g, &e);
    let key = positions(&e, EntryKind::ElectionKey)[0];
    let c = r.check("V3.4").unwrap();
    assert_eq!(c.status, Status::Fail, "{}", r.to_human());
    assert!(c.failures.iter().any(|f| f.entry == Some(key as u64)));
    // Everything that needs the election key fails after it.
    emit_invalid(&r, "V3.4", Some(key), &["V2.3", "V5.3", "V7.1"]);
}

/// Tampering 11: A ballot after close: voter 20 revotes after VotingClosed (re-signed
/// by the credential, tally retallied): the phase does not allow ballots —
/// V5.3 (R3.3).
#[test]
fn ballot_after_close() {
    let g = honest();
    let mut e = g.entries.clone();
    let closed = positions(&e, EntryKind::Tally)[0] - 1;
    let cred = g.election.credential(20).unwrap();
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let (b, _) = g.election.ballot(&cred, "d1", 1, &mut rng).unwrap();
    e.insert(closed + 1, g.election.entry(&cred.0, Payload::Ballot(b)));
    retally(g, &mut e);
    assert_caught(&verify(g, &e), "V5.3", Some(closed + 1), &[]);
}

/// Tampering 12: More credentials used than issued: the issuance of voter 29 is
/// dropped (board re-signs, administrator retallies without that ballot):
/// voter 29's ballot is one credential too many for the district — V4.3
/// (R6.4).
#[test]
fn more_credentials_than_issued() {
    let g = honest();
    let mut e = g.entries.clone();
    let issuances = positions(&e, EntryKind::Issuance);
    e.remove(*issuances.last().unwrap());
    let i = ballots_of(g, &e, 29)[0];
    retally(g, &mut e);
    assert_caught(&verify(g, &e), "V4.3", Some(i), &[]);
}

/// Tampering 13: A challenged ballot counted: voter 0's challenged ballot (whose
/// randomness is public) is cast as its counted ballot, re-signed by the
/// credential, and retallied — the rules accept the ballot, but the
/// verifier finds a counted ciphertext revealed by a challenge — V6.2.
#[test]
fn challenged_ballot_counted() {
    let g = honest();
    let mut e = g.entries.clone();
    let ch = positions(&e, EntryKind::Challenged)[0];
    let challenged = match body(&e[ch]).payload.unwrap() {
        Payload::ChallengedBallot(c) => c.ballot.unwrap(),
        _ => unreachable!(),
    };
    let cred_key = g.election.credential(0).unwrap().0;
    assert_eq!(author(&e[ch]), cred_key.verifying_key().to_bytes());
    // Voter 0's revote (the counted ballot) becomes the challenged ballot.
    let i = ballots_of(g, &e, 0)[1];
    e[i] = resign(&cred_key, body(&e[i]), Payload::Ballot(challenged));
    retally(g, &mut e);
    assert_caught(&verify(g, &e), "V6.2", Some(i), &[]);
}

/// Tampering 14: A checkpoint inconsistent with an earlier one: the user saved a
/// checkpoint the board signed for a different history (a ballot of voter
/// 3 replaced); the record is not its extension — V1.3.
#[test]
fn checkpoint_inconsistent() {
    let g = honest();
    let mut other = g.entries[..50].to_vec();
    let i = ballots_of(g, &other, 3)[0];
    let cred = g.election.credential(3).unwrap();
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let (b, _) = g.election.ballot(&cred, "d1", 2, &mut rng).unwrap();
    other[i] = g.election.entry(&cred.0, Payload::Ballot(b));
    let mut o = opts();
    o.checkpoints
        .push(("fork".into(), g.election.checkpoint(&other)));
    o.checkpoints
        .push(("honest".into(), g.election.checkpoint(&g.entries[..40])));
    let r = verify_bytes(
        &record_bytes(&g.entries, &g.election.checkpoint(&g.entries)).unwrap(),
        &o,
    );
    assert_caught(&r, "V1.3", None, &[]);
    assert_eq!(r.check("V1.3").unwrap().count, 1); // the honest one
}

/// Tampering 15: A record truncated in the middle of an entry: V1.4 names the entry.
#[test]
fn record_truncated_mid_entry() {
    let g = honest();
    let bytes = record_bytes(&g.entries, &g.election.checkpoint(&g.entries)).unwrap();
    let header = format!("tallyboard-record/v1 {}\n", g.entries.len()).len();
    let upto: usize = g.entries[..40].iter().map(|e| 4 + e.len()).sum();
    let cut = header + upto + 4 + g.entries[40].len() / 2;
    let r = verify_bytes(&bytes[..cut], &opts());
    let c = r.check("V1.4").unwrap();
    assert_eq!(c.status, Status::Fail, "{}", r.to_human());
    assert!(c
        .failures
        .iter()
        .any(|f| f.entry == Some(40) && f.message.contains("truncated")));
    assert!(!r.ok);
    emit_invalid(&r, "V1.4", Some(40), &["*"]);
}

/// Tampering 16: An entry replayed (a ballot posted twice, byte for byte): V2.4 (R1.5).
#[test]
fn entry_replayed() {
    let g = honest();
    let mut e = g.entries.clone();
    let i = ballots_of(g, &e, 5)[0];
    e.insert(i + 1, e[i].clone());
    retally(g, &mut e);
    assert_caught(&verify(g, &e), "V2.4", Some(i + 1), &[]);
}

/// Tampering 17: The encrypted tally altered (two aggregates swapped, re-signed by
/// the administrator, partials and result made for it): V7.1 (R10.1 and
/// the verifier's own sums).
#[test]
fn tally_aggregate_altered() {
    let g = honest();
    let mut e = g.entries.clone();
    let t = positions(&e, EntryKind::Tally)[0];
    let mut tally = match body(&e[t]).payload.unwrap() {
        Payload::EncryptedTally(t) => t,
        _ => unreachable!(),
    };
    tally.contests[0].ciphertexts.swap(0, 1);
    e[t] = resign(
        &g.election.admin,
        body(&e[t]),
        Payload::EncryptedTally(tally),
    );
    // The refused tally leaves its partials and result without a tally
    // (V7.2, V7.3) and the election unfinished (V2.3).
    assert_caught(&verify(g, &e), "V7.1", Some(t), &["V7.2", "V7.3", "V2.3"]);
}

/// Tampering 18: The checkpoint signed by another key than the manifest's board key:
/// V1.2.
#[test]
fn checkpoint_by_another_key() {
    let g = honest();
    let other = tallyboard_tlog::Ed25519Signer::new(
        &g.election.origin,
        ed25519_dalek::SigningKey::from_bytes(&[0x77; 32]),
    )
    .unwrap();
    let mut t = tallyboard_verifier::tree::LeafTree::default();
    for x in &g.entries {
        t.push(tallyboard_tlog::leaf_hash(x));
    }
    let cp =
        tallyboard_tlog::Checkpoint::new(&g.election.origin, t.size(), t.root(t.size()).unwrap())
            .unwrap()
            .sign(&other)
            .unwrap();
    let r = verify_bytes(&record_bytes(&g.entries, cp.as_bytes()).unwrap(), &opts());
    assert_caught(&r, "V1.2", None, &[]);
}

/// Tampering: entry signatures broken without re-signing (one bit of a
/// ballot's `s`, one of an issuance entry's `R`): the verifier checks a
/// chunk's signatures in one batch (`spec/crypto.md` §10.2), finds the batch
/// failing and names each bad entry — V5.1 for the ballot, V2.2 for the
/// issuance entry (R1.3) — while the other entries of the chunk pass.
#[test]
fn entry_signatures_broken() {
    let g = honest();
    let mut e = g.entries.clone();
    let flip = |bytes: &[u8], at: usize| -> Vec<u8> {
        let mut entry = v1::Entry::decode(bytes).unwrap();
        entry.signature[at] ^= 0x04;
        entry.encode_to_vec()
    };
    let i = ballots_of(g, &e, 11)[0];
    e[i] = flip(&e[i], 40);
    let j = positions(&e, EntryKind::Issuance)[5];
    e[j] = flip(&e[j], 3);
    let r = verify(g, &e);
    // The refused ballot changes the tally, so the (not recomputed) tally,
    // partials, result and the final phase change are refused too.
    let downstream = ["V2.3", "V7.1", "V7.2", "V7.3"];
    assert_caught(&r, "V5.1", Some(i), &[&["V2.2"], &downstream[..]].concat());
    assert_caught(&r, "V2.2", Some(j), &[&["V5.1"], &downstream[..]].concat());
}

/// Not a tampering: a ballot re-signed by its credential with a nonce point
/// `R = r·B + T` (`T` of order 8). Only the key holder can make such a
/// signature; the cofactored rule of `spec/crypto.md` §10.1 accepts it, and
/// it must be accepted the same way entry by entry (the board's path,
/// `RecordState`) and in the verifier's batches.
#[test]
fn torsion_in_a_signature_is_judged_alike_alone_and_in_batches() {
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};
    let g = honest();
    let mut e = g.entries.clone();
    let i = ballots_of(g, &e, 4)[0];
    let cred = g.election.credential(4).unwrap().0;
    let mut entry = v1::Entry::decode(e[i].as_slice()).unwrap();
    let msg = tallyboard_protocol::entry::signing_message(&entry.body);
    let a = cred.to_scalar();
    let r = tallyboard_crypto::random_scalar(&mut ChaCha20Rng::seed_from_u64(4));
    let big_r = (ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[1])
        .compress()
        .to_bytes();
    let k = Scalar::from_hash(
        Sha512::new()
            .chain_update(big_r)
            .chain_update(cred.verifying_key().as_bytes())
            .chain_update(&msg),
    );
    entry.signature = [big_r.as_slice(), (r + k * a).as_bytes()].concat();
    e[i] = entry.encode_to_vec();
    let mut st = RecordState::unbound();
    for x in &e {
        st.check_and_apply(x).unwrap();
    }
    let r = verify(g, &e);
    assert!(r.ok, "{}", r.to_human());
}

/// Tampering 21: A notice signed by a key that is no party of the election,
/// inserted after the manifest: the author may not post it — V2.2 (R1.6).
#[test]
fn notice_by_a_stranger() {
    let g = honest();
    let mut e = g.entries.clone();
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[0x77; 32]);
    e.insert(
        1,
        g.election.entry(
            &stranger,
            Payload::Notice(v1::Notice {
                text: "polls are closed".into(),
            }),
        ),
    );
    retally(g, &mut e);
    assert_caught(&verify(g, &e), "V2.2", Some(1), &[]);
}

/// Tampering 22: A notice of another election (its election id and
/// fingerprint), signed by this election's administrator, inserted after
/// the manifest — V2.2 (R1.4).
#[test]
fn entry_of_another_election() {
    let g = honest();
    let mut e = g.entries.clone();
    e.insert(
        1,
        tallyboard_protocol::testkit::notice_entry(
            &g.election.admin,
            "another-election",
            [0x42; 32],
            "hello",
        ),
    );
    retally(g, &mut e);
    assert_caught(&verify(g, &e), "V2.2", Some(1), &[]);
}

/// Tampering 23: A second manifest posted after the first — V2.1 (R2.1).
#[test]
fn second_manifest() {
    let g = honest();
    let mut e = g.entries.clone();
    let second = e[0].clone();
    let mut b = body(&second);
    b.created_unix_ms += 1;
    let p = b.payload.clone().unwrap();
    e.insert(1, resign(&g.election.admin, b, p));
    retally(g, &mut e);
    assert_caught(&verify(g, &e), "V2.1", Some(1), &["V2.2", "V2.3", "V2.4"]);
}

/// Tampering 24: The record file's header names a format version this
/// verifier does not know — V1.4.
#[test]
fn record_with_unknown_header() {
    let g = honest();
    let mut bytes = record_bytes(&g.entries, &g.election.checkpoint(&g.entries)).unwrap();
    bytes[19] = b'9'; // "tallyboard-record/v9"
    let r = verify_bytes(&bytes, &opts());
    assert_eq!(
        r.check("V1.4").unwrap().status,
        Status::Fail,
        "{}",
        r.to_human()
    );
    assert!(!r.ok);
    emit_invalid(&r, "V1.4", None, &["*"]);
}

/// Tampering 25: Bytes after the record's checkpoint — V1.4.
#[test]
fn bytes_after_the_checkpoint() {
    let g = honest();
    let mut bytes = record_bytes(&g.entries, &g.election.checkpoint(&g.entries)).unwrap();
    bytes.extend_from_slice(b"\x00\x00\x00\x01X");
    let r = verify_bytes(&bytes, &opts());
    assert_eq!(
        r.check("V1.4").unwrap().status,
        Status::Fail,
        "{}",
        r.to_human()
    );
    assert!(!r.ok);
    emit_invalid(&r, "V1.4", None, &["*"]);
}

/// Tampering 26: The result names fewer trustees than the threshold (only
/// trustee 1, of threshold 2): it cannot be the combination it claims —
/// V7.3 (R10.3).
#[test]
fn result_names_other_trustees() {
    let g = honest();
    let mut e = g.entries.clone();
    let i = positions(&e, EntryKind::Result)[0];
    let mut b = body(&e[i]);
    let Some(Payload::Result(mut res)) = b.payload.take() else {
        panic!("not a result")
    };
    res.trustees_used = vec![1];
    e[i] = resign(&g.election.admin, b, Payload::Result(res));
    // Without a valid result, Finished lacks its prerequisite (V2.3).
    assert_caught(&verify(g, &e), "V7.3", Some(i), &["V2.3"]);
}

/// Valid: three districts, FIRST_COUNTS, three revotes (recorded, not
/// counted) and two challenged ballots; every check passes.
#[test]
fn honest_variant_first_counts_three_districts() {
    let g = generate(&GenOptions {
        ballots: 12,
        options: 3,
        districts: 3,
        revotes: 3,
        challenged: 2,
        first_counts: true,
        threads: 2,
        seed: 7,
        ..GenOptions::default()
    })
    .unwrap();
    let r = verify(&g, &g.entries);
    assert!(r.ok, "{}", r.to_human());
    assert_eq!(r.check("V5.4").unwrap().count, 12);
    let counts: Vec<u64> = r.results.iter().map(|x| x.count).collect();
    assert_eq!(counts, g.counts);
    emit_valid(&r);
}
