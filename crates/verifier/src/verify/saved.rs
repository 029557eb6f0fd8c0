//! The engine's saved state, for incremental verification
//! (`spec/checks.md` §13): everything [`Engine`] has built from the entries
//! it applied — the rules' state, the tree, the byte offsets of the entries
//! in the entry file, the outcomes of the checks and the verifier's own
//! sums — so that a later run applies only the entries that follow.

use std::collections::{HashMap, HashSet};

use tallyboard_crypto::elgamal::Ciphertext;
use tallyboard_protocol::snapshot::{SnapReader, SnapWriter, SnapshotError};
use tallyboard_protocol::RecordState;
use tallyboard_tlog::Hash;

use super::{Engine, Own};
use crate::report::{ResultRow, Tally};
use crate::tree::LeafTree;

/// What a saved engine restores.
pub(crate) struct Restored {
    pub(super) state: RecordState,
    pub(super) tree: LeafTree,
    pub(super) offsets: Vec<u64>,
    pub(super) tally: Tally,
    pub(super) own: Own,
    pub(super) results: Vec<ResultRow>,
    pub(super) ballots: u64,
    pub(super) stopped: bool,
}

fn write_bits(w: &mut SnapWriter, bits: &[u64]) {
    w.len(bits.len());
    for b in bits {
        w.u64(*b);
    }
}

fn read_bits(r: &mut SnapReader<'_>) -> Result<Vec<u64>, SnapshotError> {
    let n = r.len(8, "ballot bitset")?;
    (0..n).map(|_| r.u64("ballot bitset")).collect()
}

impl Own {
    fn write_snapshot(&self, w: &mut SnapWriter) {
        w.len(self.sums.len());
        for ((round, c, d), cts) in &self.sums {
            w.u32(*round);
            w.usize(*c);
            w.usize(*d);
            w.len(cts.len());
            for ct in cts {
                w.fixed(&ct.to_bytes());
            }
        }
        w.len(self.issued.len());
        for (d, n) in &self.issued {
            w.str(d);
            w.u64(*n);
        }
        write_bits(w, &self.cast[0]);
        write_bits(w, &self.cast[1]);
        w.len(self.alpha_fps.len());
        for (f, i) in &self.alpha_fps {
            w.u32(*f);
            w.u32(*i);
        }
        w.bool(self.alpha_overflow);
        w.len(self.challenged_alphas.len());
        for (a, i) in &self.challenged_alphas {
            w.fixed(a);
            w.u64(*i);
        }
        w.u64(self.challenged_reported);
        w.len(self.reuse_reported.len());
        for i in &self.reuse_reported {
            w.u64(*i);
        }
        for d in self.dkg {
            w.u64(d);
        }
        w.u64(self.counted[0]);
        w.u64(self.counted[1]);
        w.bool(self.coin_seed.is_some());
        if let Some(s) = &self.coin_seed {
            w.bytes(s);
        }
    }

    fn read_snapshot(r: &mut SnapReader<'_>) -> Result<Self, SnapshotError> {
        let mut o = Own::default();
        for _ in 0..r.len(28, "sums")? {
            let key = (r.u32("sum")?, r.usize("sum")?, r.usize("sum")?);
            let n = r.len(64, "sum")?;
            let cts = (0..n)
                .map(|_| {
                    Ciphertext::from_bytes_aggregate(r.take(64, "sum")?)
                        .map_err(|e| SnapshotError::invalid("sum", e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            o.sums.insert(key, cts);
        }
        for _ in 0..r.len(16, "issued")? {
            let d = r.str("issued")?;
            o.issued.insert(d, r.u64("issued")?);
        }
        o.cast = [read_bits(r)?, read_bits(r)?];
        let n = r.len(8, "ciphertext fingerprints")?;
        o.alpha_fps = (0..n)
            .map(|_| Ok((r.u32("fingerprint")?, r.u32("fingerprint")?)))
            .collect::<Result<_, SnapshotError>>()?;
        o.alpha_overflow = r.bool("overflow")?;
        let n = r.len(40, "challenged ciphertexts")?;
        o.challenged_alphas = HashMap::with_capacity(n);
        for _ in 0..n {
            let a = r.array("challenged ciphertext")?;
            o.challenged_alphas
                .insert(a, r.u64("challenged ciphertext")?);
        }
        o.challenged_reported = r.u64("challenged reported")?;
        let n = r.len(8, "reuse reported")?;
        o.reuse_reported = (0..n)
            .map(|_| r.u64("reuse reported"))
            .collect::<Result<HashSet<_>, _>>()?;
        for d in &mut o.dkg {
            *d = r.u64("key ceremony count")?;
        }
        o.counted = [r.u64("counted")?, r.u64("counted")?];
        if r.bool("coin seed")? {
            o.coin_seed = Some(r.bytes("coin seed")?.to_vec());
        }
        Ok(o)
    }
}

/// Layout version of the engine's part of a saved state.
const VERSION: u32 = 1;

impl Engine<'_> {
    /// Saves everything the applied entries built (before [`Engine::finish`],
    /// whose outcomes are those of one checkpoint only).
    pub(super) fn write_snapshot(&self, w: &mut SnapWriter) -> Result<(), SnapshotError> {
        if self.offsets.len() != self.tree.leaves().len() {
            return Err(SnapshotError::Unsupported("offsets and leaves differ"));
        }
        w.u32(VERSION);
        self.state.write_snapshot(w)?;
        w.len(self.tree.leaves().len());
        for h in self.tree.leaves() {
            w.fixed(&h.0);
        }
        for o in &self.offsets {
            w.u64(*o);
        }
        self.tally.write_snapshot(w);
        self.own.write_snapshot(w);
        w.len(self.results.len());
        for row in &self.results {
            row.write_snapshot(w);
        }
        w.u64(self.ballots);
        w.bool(self.stopped);
        Ok(())
    }
}

/// Restores what [`Engine::write_snapshot`] saved.
pub(crate) fn read_engine(r: &mut SnapReader<'_>) -> Result<Restored, SnapshotError> {
    let version = r.u32("engine version")?;
    if version != VERSION {
        return Err(SnapshotError::invalid(
            "engine version",
            format!("version {version}, this verifier reads {VERSION}"),
        ));
    }
    let state = RecordState::read_snapshot(r)?;
    let n = r.len(40, "leaves")?;
    let mut tree = LeafTree::with_capacity(n as u64);
    for _ in 0..n {
        tree.push(Hash(r.array("leaf")?));
    }
    if state.len() != n as u64 {
        return Err(SnapshotError::invalid(
            "leaves",
            format!("{n} leaves for a record state of {} entries", state.len()),
        ));
    }
    let offsets = (0..n)
        .map(|_| r.u64("offset"))
        .collect::<Result<Vec<_>, _>>()?;
    let tally = Tally::read_snapshot(r)?;
    let own = Own::read_snapshot(r)?;
    let k = r.len(60, "results")?;
    let results = (0..k)
        .map(|_| ResultRow::read_snapshot(r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Restored {
        state,
        tree,
        offsets,
        tally,
        own,
        results,
        ballots: r.u64("ballots")?,
        stopped: r.bool("stopped")?,
    })
}
