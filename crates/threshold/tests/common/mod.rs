//! Shared helpers for the integration tests: deterministic honest ceremonies.
#![allow(dead_code)]

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tallyboard_threshold::*;

pub const ELECTION: [u8; 32] = [0x42; 32];

pub fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

/// Trustees created and announced, commitments posted: the record at the
/// opening of round 1.
pub fn setup(t: u8, n: u8, rng: &mut ChaCha20Rng) -> (Vec<Trustee>, DkgRecord) {
    let params = DkgParams::new(ELECTION, t, n).unwrap();
    let mut record = DkgRecord::new(params);
    let mut trustees = Vec::new();
    for i in 1..=n {
        let keys = TrusteeKeyPair::generate(rng);
        let mut tr = Trustee::new(params, i, keys, rng).unwrap();
        record
            .push(DkgMessage::KeyAnnouncement(tr.announce(rng).unwrap()))
            .unwrap();
        record
            .push(DkgMessage::Commitment(tr.commit().unwrap()))
            .unwrap();
        trustees.push(tr);
    }
    (trustees, record)
}

/// Round 1 for every trustee.
pub fn reveal_all(trustees: &mut [Trustee], record: &mut DkgRecord, rng: &mut ChaCha20Rng) {
    let snapshot = record.clone();
    for tr in trustees.iter_mut() {
        let r = tr.reveal(&snapshot, rng).unwrap();
        record.push(DkgMessage::Reveal(r)).unwrap();
    }
}

/// Round 2 for every trustee; returns the number of complaints posted.
pub fn complain_all(
    trustees: &mut [Trustee],
    record: &mut DkgRecord,
    rng: &mut ChaCha20Rng,
) -> usize {
    let snapshot = record.clone();
    let mut count = 0;
    for tr in trustees.iter_mut() {
        for c in tr.complain(&snapshot, rng).unwrap() {
            record.push(DkgMessage::Complaint(c)).unwrap();
            count += 1;
        }
    }
    count
}

/// Finish for every trustee; checks every trustee sees the same outcome.
pub fn finish_all(trustees: &mut [Trustee], record: &DkgRecord) -> (Vec<SecretShare>, DkgOutcome) {
    let mut shares = Vec::new();
    let mut outcome = None;
    for tr in trustees.iter_mut() {
        let (s, o) = tr.finish(record).unwrap();
        if let Some(prev) = &outcome {
            assert_eq!(prev, &o);
        }
        outcome = Some(o);
        shares.push(s);
    }
    let outcome = outcome.unwrap();
    assert_eq!(evaluate(record).unwrap(), outcome);
    (shares, outcome)
}

/// A whole honest ceremony.
pub fn honest_ceremony(t: u8, n: u8, seed: u8) -> (Vec<SecretShare>, DkgOutcome, DkgRecord) {
    let mut rng = rng(seed);
    let (mut trustees, mut record) = setup(t, n, &mut rng);
    reveal_all(&mut trustees, &mut record, &mut rng);
    assert_eq!(complain_all(&mut trustees, &mut record, &mut rng), 0);
    let (shares, outcome) = finish_all(&mut trustees, &record);
    (shares, outcome, record)
}

/// Replaces dealer `dealer`'s reveal in `record` (rebuilding it in order).
pub fn replace_reveal(record: &DkgRecord, dealer: u8, new: Option<Reveal>) -> DkgRecord {
    let mut out = DkgRecord::new(*record.params());
    for a in record.announcements() {
        out.push(DkgMessage::KeyAnnouncement(*a)).unwrap();
    }
    for c in record.commitments() {
        out.push(DkgMessage::Commitment(*c)).unwrap();
    }
    for r in record.reveals() {
        if r.dealer() == dealer {
            if let Some(n) = &new {
                out.push(DkgMessage::Reveal(n.clone())).unwrap();
            }
        } else {
            out.push(DkgMessage::Reveal(r.clone())).unwrap();
        }
    }
    for c in record.complaints() {
        out.push(DkgMessage::Complaint(*c)).unwrap();
    }
    out
}

/// A copy of a trustee through its state encoding.
pub fn copy(tr: &Trustee) -> Trustee {
    Trustee::from_bytes(&tr.to_bytes()).unwrap()
}
