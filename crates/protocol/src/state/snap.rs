//! Saving and restoring a compact [`RecordState`] (for the verifier's
//! incremental mode, `spec/checks.md` §13; the encoding is
//! [`crate::snapshot`]'s).
//!
//! What is restored is exactly the state that applying the same entries
//! would have built: sets and counters as they are; the manifest, the key
//! ceremony's messages, the election key, the partial decryptions and the
//! ciphertexts in their canonical encodings, decoded again with the same
//! decoders (so a restored state holds only values the rules could hold).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use prost::Message as _;
use tallyboard_crypto::elgamal::Ciphertext;
use tallyboard_proto::v1;
use tallyboard_threshold::{
    DkgMessage, DkgParams, DkgRecord, PartialDecryption, ThresholdPublicKey,
};

use super::{
    CaucusEntry, Compact, CompactCredential, ElectionPhase, RecordState, SupersededBallot,
    TallyRecord,
};
use crate::manifest::validate_manifest;
use crate::snapshot::{SnapReader, SnapWriter, SnapshotError};

/// Version of the layout below; a snapshot of another version is refused.
const VERSION: u32 = 1;

fn phase_code(p: ElectionPhase) -> u8 {
    match p {
        ElectionPhase::Empty => 0,
        ElectionPhase::Setup => 1,
        ElectionPhase::KeyCeremony => 2,
        ElectionPhase::VotingOpen => 3,
        ElectionPhase::VotingClosed => 4,
        ElectionPhase::RealignmentOpen => 5,
        ElectionPhase::RealignmentClosed => 6,
        ElectionPhase::Finished => 7,
    }
}

fn phase_of(code: u8) -> Result<ElectionPhase, SnapshotError> {
    Ok(match code {
        0 => ElectionPhase::Empty,
        1 => ElectionPhase::Setup,
        2 => ElectionPhase::KeyCeremony,
        3 => ElectionPhase::VotingOpen,
        4 => ElectionPhase::VotingClosed,
        5 => ElectionPhase::RealignmentOpen,
        6 => ElectionPhase::RealignmentClosed,
        7 => ElectionPhase::Finished,
        c => return Err(SnapshotError::invalid("phase", format!("code {c}"))),
    })
}

fn write_cts(w: &mut SnapWriter, cts: &[Ciphertext]) {
    w.len(cts.len());
    for c in cts {
        w.fixed(&c.to_bytes());
    }
}

fn read_cts(r: &mut SnapReader<'_>) -> Result<Vec<Ciphertext>, SnapshotError> {
    let n = r.len(64, "ciphertexts")?;
    (0..n)
        .map(|_| {
            Ciphertext::from_bytes_aggregate(r.take(64, "ciphertext")?)
                .map_err(|e| SnapshotError::invalid("ciphertext", e.to_string()))
        })
        .collect()
}

fn write_messages<M: prost::Message>(w: &mut SnapWriter, ms: &[M]) {
    w.len(ms.len());
    for m in ms {
        w.bytes(&m.encode_to_vec());
    }
}

fn read_messages<M: prost::Message + Default>(
    r: &mut SnapReader<'_>,
    what: &'static str,
) -> Result<Vec<M>, SnapshotError> {
    let n = r.len(8, what)?;
    (0..n)
        .map(|_| M::decode(r.bytes(what)?).map_err(|e| SnapshotError::invalid(what, e.to_string())))
        .collect()
}

fn write_caucus<T: prost::Message>(w: &mut SnapWriter, e: &Option<CaucusEntry<T>>) {
    w.bool(e.is_some());
    if let Some(e) = e {
        w.u64(e.index);
        write_messages(w, &e.districts);
    }
}

fn read_caucus<T: prost::Message + Default>(
    r: &mut SnapReader<'_>,
    what: &'static str,
) -> Result<Option<CaucusEntry<T>>, SnapshotError> {
    if !r.bool(what)? {
        return Ok(None);
    }
    Ok(Some(CaucusEntry {
        index: r.u64(what)?,
        districts: read_messages(r, what)?,
    }))
}

fn opt_index(v: Option<usize>) -> u64 {
    v.map_or(u64::MAX, |i| i as u64)
}

fn index_opt(v: u64) -> Option<usize> {
    (v != u64::MAX).then(|| usize::try_from(v).unwrap_or(usize::MAX))
}

impl RecordState {
    /// Saves this state. Only a compact state ([`Self::unbound_compact`],
    /// the verifier's) can be saved: an ordinary one keeps every counted
    /// ballot, which a verifier's saved state has no need of.
    pub fn write_snapshot(&self, w: &mut SnapWriter) -> Result<(), SnapshotError> {
        let Some(compact) = &self.compact else {
            return Err(SnapshotError::Unsupported(
                "only a compact record state is saved",
            ));
        };
        if self.board.is_some() || !self.credentials.is_empty() {
            return Err(SnapshotError::Unsupported("a board-bound record state"));
        }
        w.u32(VERSION);
        w.u64(self.len);
        // The manifest as posted; its fingerprint is the entry body's hash,
        // which the posted protobuf alone does not give.
        w.bool(self.manifest.is_some());
        if let Some(m) = &self.manifest {
            w.bytes(&m.raw.encode_to_vec());
            w.fixed(&m.fingerprint);
        }
        w.u8(phase_code(self.phase));
        w.len(self.phase_changes.len());
        for (p, i) in &self.phase_changes {
            w.u8(phase_code(*p));
            w.u64(*i);
        }
        w.len(self.bodies.len());
        for b in &self.bodies {
            w.fixed(b);
        }
        w.len(self.issued_voters.len());
        for v in &self.issued_voters {
            w.fixed(v);
        }
        w.len(self.issued_per_district.len());
        for (d, n) in &self.issued_per_district {
            w.str(d);
            w.u64(*n);
        }
        w.len(self.used_per_district.len());
        for (d, n) in &self.used_per_district {
            w.usize(*d);
            w.u64(*n);
        }
        w.u64(self.notices);
        // The key ceremony: its messages, in the order the record holds them
        // per type (pushing them again rebuilds the same record).
        let dkg: Vec<Vec<u8>> = self.dkg.as_ref().map_or_else(Vec::new, |d| {
            let a = d
                .announcements()
                .iter()
                .cloned()
                .map(DkgMessage::KeyAnnouncement);
            let c = d.commitments().iter().cloned().map(DkgMessage::Commitment);
            let r = d.reveals().iter().cloned().map(DkgMessage::Reveal);
            let x = d.complaints().iter().cloned().map(DkgMessage::Complaint);
            a.chain(c).chain(r).chain(x).map(|m| m.to_bytes()).collect()
        });
        w.len(dkg.len());
        for m in &dkg {
            w.bytes(m);
        }
        w.bool(self.threshold_key.is_some());
        if let Some(k) = &self.threshold_key {
            w.bytes(&k.to_bytes());
        }
        w.len(self.aggregates.len());
        for ((round, c, d), cts) in &self.aggregates {
            w.u32(*round);
            w.usize(*c);
            w.usize(*d);
            write_cts(w, cts);
        }
        w.u64(self.ballots_cast);
        w.u64(self.challenged);
        w.len(self.tallies.len());
        for t in &self.tallies {
            w.u64(t.index);
            w.u32(t.round);
            w.len(t.contests.len());
            for (c, d, cts) in &t.contests {
                w.usize(*c);
                w.u64(opt_index(*d));
                write_cts(w, cts);
            }
            w.u64(t.ballots_counted);
            w.u64(t.max_ballots);
            w.len(t.partials.len());
            for (i, p) in &t.partials {
                w.u8(*i);
                w.bytes(&p.to_bytes());
            }
            w.u64(t.result.unwrap_or(u64::MAX));
            w.len(t.counts.len());
            for row in &t.counts {
                w.len(row.len());
                for n in row {
                    w.u64(*n);
                }
            }
        }
        write_caucus(w, &self.viability);
        write_caucus(w, &self.apportionment);
        w.len(compact.credentials.len());
        for (k, c) in &compact.credentials {
            w.fixed(k);
            w.u64(c.counted[0]);
            w.u64(c.counted[1]);
            w.u32(c.district);
            w.u32(c.cast[0]);
            w.u32(c.cast[1]);
            w.u32(c.challenged);
        }
        w.len(compact.pending.len());
        for p in &compact.pending {
            w.u64(p.index);
            w.u32(p.round);
            w.fixed(&p.credential);
        }
        w.len(compact.round0_alignment.len());
        for (k, cts) in &compact.round0_alignment {
            w.fixed(k);
            write_cts(w, cts);
        }
        Ok(())
    }

    /// Restores a state saved by [`Self::write_snapshot`].
    pub fn read_snapshot(r: &mut SnapReader<'_>) -> Result<Self, SnapshotError> {
        let version = r.u32("version")?;
        if version != VERSION {
            return Err(SnapshotError::invalid(
                "version",
                format!("record state version {version}, this verifier reads {VERSION}"),
            ));
        }
        let mut s = Self::unbound_compact();
        s.len = r.u64("length")?;
        if r.bool("manifest")? {
            let raw = v1::Manifest::decode(r.bytes("manifest")?)
                .map_err(|e| SnapshotError::invalid("manifest", e.to_string()))?;
            let fp = r.array::<32>("fingerprint")?;
            let mut m = validate_manifest(&raw, &[])
                .map_err(|e| SnapshotError::invalid("manifest", e.to_string()))?;
            m.fingerprint = fp;
            let t = u8::try_from(m.threshold)
                .map_err(|_| SnapshotError::invalid("manifest", "threshold"))?;
            let n = u8::try_from(m.trustee_keys.len())
                .map_err(|_| SnapshotError::invalid("manifest", "trustees"))?;
            let params = DkgParams::new(fp, t, n)
                .map_err(|e| SnapshotError::invalid("manifest", e.to_string()))?;
            s.dkg = Some(DkgRecord::new(params));
            s.manifest = Some(Arc::new(m));
        }
        s.phase = phase_of(r.u8("phase")?)?;
        let n = r.len(9, "phase changes")?;
        for _ in 0..n {
            let p = phase_of(r.u8("phase change")?)?;
            s.phase_changes.push((p, r.u64("phase change")?));
        }
        let n = r.len(32, "entry bodies")?;
        s.bodies = HashSet::with_capacity(n);
        for _ in 0..n {
            s.bodies.insert(r.array("entry body")?);
        }
        let n = r.len(32, "voters")?;
        s.issued_voters = HashSet::with_capacity(n);
        for _ in 0..n {
            s.issued_voters.insert(r.array("voter")?);
        }
        let n = r.len(16, "issued per district")?;
        for _ in 0..n {
            let d = r.str("district")?;
            s.issued_per_district.insert(d, r.u64("issued")?);
        }
        let n = r.len(16, "used per district")?;
        for _ in 0..n {
            let d = r.usize("district")?;
            s.used_per_district.insert(d, r.u64("used")?);
        }
        s.notices = r.u64("notices")?;
        let n = r.len(8, "key ceremony")?;
        for _ in 0..n {
            let bytes = r.bytes("key ceremony message")?;
            let dkg = s
                .dkg
                .as_mut()
                .ok_or_else(|| SnapshotError::invalid("key ceremony", "no manifest"))?;
            dkg.push_bytes(bytes)
                .map_err(|e| SnapshotError::invalid("key ceremony message", e.to_string()))?;
        }
        if r.bool("threshold key")? {
            let k = ThresholdPublicKey::from_bytes(r.bytes("threshold key")?)
                .map_err(|e| SnapshotError::invalid("threshold key", e.to_string()))?;
            s.election_key = Some(k.joint_key().clone());
            s.threshold_key = Some(k);
        }
        let n = r.len(28, "aggregates")?;
        for _ in 0..n {
            let round = r.u32("aggregate")?;
            let c = r.usize("aggregate")?;
            let d = r.usize("aggregate")?;
            s.aggregates.insert((round, c, d), read_cts(r)?);
        }
        s.ballots_cast = r.u64("ballots cast")?;
        s.challenged = r.u64("challenged")?;
        let n = r.len(48, "tallies")?;
        for _ in 0..n {
            let index = r.u64("tally")?;
            let round = r.u32("tally")?;
            let nc = r.len(24, "tally contests")?;
            let mut contests = Vec::with_capacity(nc);
            for _ in 0..nc {
                let c = r.usize("tally contest")?;
                let d = index_opt(r.u64("tally district")?);
                contests.push((c, d, read_cts(r)?));
            }
            let ballots_counted = r.u64("tally")?;
            let max_ballots = r.u64("tally")?;
            let np = r.len(9, "partial decryptions")?;
            let mut partials = BTreeMap::new();
            for _ in 0..np {
                let i = r.u8("partial decryption")?;
                let p = PartialDecryption::from_bytes(r.bytes("partial decryption")?)
                    .map_err(|e| SnapshotError::invalid("partial decryption", e.to_string()))?;
                partials.insert(i, p);
            }
            let result = Some(r.u64("result")?).filter(|&i| i != u64::MAX);
            let nr = r.len(8, "counts")?;
            let mut counts = Vec::with_capacity(nr);
            for _ in 0..nr {
                let k = r.len(8, "counts")?;
                counts.push((0..k).map(|_| r.u64("count")).collect::<Result<_, _>>()?);
            }
            s.tallies.push(TallyRecord {
                index,
                round,
                contests,
                ballots_counted,
                max_ballots,
                partials,
                result,
                counts,
            });
        }
        s.viability = read_caucus(r, "viability")?;
        s.apportionment = read_caucus(r, "apportionment")?;
        let mut compact = Compact::default();
        let n = r.len(64, "credentials")?;
        compact.credentials = HashMap::with_capacity(n);
        for _ in 0..n {
            let k = r.array("credential")?;
            let c = CompactCredential {
                counted: [r.u64("credential")?, r.u64("credential")?],
                district: r.u32("credential")?,
                cast: [r.u32("credential")?, r.u32("credential")?],
                challenged: r.u32("credential")?,
            };
            compact.credentials.insert(k, c);
        }
        let n = r.len(44, "superseded ballots")?;
        for _ in 0..n {
            compact.pending.push(SupersededBallot {
                index: r.u64("superseded ballot")?,
                round: r.u32("superseded ballot")?,
                credential: r.array("superseded ballot")?,
            });
        }
        let n = r.len(40, "round-0 alignment")?;
        for _ in 0..n {
            let k = r.array("round-0 alignment")?;
            compact.round0_alignment.insert(k, read_cts(r)?);
        }
        s.compact = Some(Box::new(compact));
        Ok(s)
    }
}
