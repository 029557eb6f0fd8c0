//! Bounded discrete logarithm by baby-step giant-step (`spec/crypto.md` §7).
//!
//! Decryption yields `m·G`; the tally needs `m`. For `0 ≤ m ≤ max` with
//! `max < M·(N+1)`, write `m = i·M + j` with `0 ≤ j < M`: the *baby-step*
//! table maps the encoding of `j·G` to `j`, and the *giant steps* walk
//! `P − i·(M·G)` for `i = 0, 1, …` until one is in the table.
//!
//! Both phases compress points in batches with
//! `RistrettoPoint::double_and_compress_batch` (one field inversion per batch
//! instead of one per point): we walk the *halves* `Q = ½·P` and compress
//! `2·Q = P`. Keys of the table are the first 8 bytes of the encoding; a hit
//! is confirmed against the full point, so a key collision cannot give a
//! wrong answer.
//!
//! Variable time by design: it is only ever applied to decrypted *aggregates*,
//! which are public by the time they are decoded.

use std::collections::HashMap;
use std::sync::OnceLock;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;

use crate::generators::{G_table, G};

/// Default number of baby steps (2¹⁶): recovers up to 10⁹ with ~15,300 giant steps.
pub const DEFAULT_BABY_STEPS: u32 = 1 << 16;

const BATCH: usize = 1024;

fn key(bytes: &[u8; 32]) -> u64 {
    let mut k = [0u8; 8];
    k.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(k)
}

/// A baby-step table for `j·G`, `0 ≤ j < M`.
pub struct DlogTable {
    m: u32,
    table: HashMap<u64, u32>,
}

impl DlogTable {
    /// Builds the table for `baby_steps` entries (at least 1).
    pub fn new(baby_steps: u32) -> Self {
        let m = baby_steps.max(1);
        let half_g = G() * Scalar::from(2u8).invert();
        let mut table = HashMap::with_capacity(m as usize);
        let mut q = RistrettoPoint::identity();
        let mut j: u32 = 0;
        let mut buf = Vec::with_capacity(BATCH);
        while j < m {
            buf.clear();
            let start = j;
            while buf.len() < BATCH && j < m {
                buf.push(q);
                q += half_g;
                j += 1;
            }
            for (k, c) in RistrettoPoint::double_and_compress_batch(&buf)
                .iter()
                .enumerate()
            {
                table.entry(key(c.as_bytes())).or_insert(start + k as u32);
            }
        }
        Self { m, table }
    }

    /// The shared default table (2¹⁶ baby steps), built on first use.
    pub fn default_table() -> &'static DlogTable {
        static T: OnceLock<DlogTable> = OnceLock::new();
        T.get_or_init(|| DlogTable::new(DEFAULT_BABY_STEPS))
    }

    /// Finds `m ∈ [0, max]` with `m·G = target`, or `None` if there is none.
    /// Variable time: only for public values.
    pub fn vartime_dlog(&self, target: &RistrettoPoint, max: u64) -> Option<u64> {
        let m = u64::from(self.m);
        let giants = max / m + 1;
        let inv2 = Scalar::from(2u8).invert();
        let mut q = target * inv2;
        let step = G_table() * &(Scalar::from(m) * inv2);
        let mut i: u64 = 0;
        let mut buf = Vec::with_capacity(BATCH);
        while i < giants {
            buf.clear();
            let start = i;
            while buf.len() < BATCH && i < giants {
                buf.push(q);
                q -= step;
                i += 1;
            }
            for (k, c) in RistrettoPoint::double_and_compress_batch(&buf)
                .iter()
                .enumerate()
            {
                if let Some(&j) = self.table.get(&key(c.as_bytes())) {
                    let cand = (start + k as u64) * m + u64::from(j);
                    if cand <= max && G_table() * &Scalar::from(cand) == *target {
                        return Some(cand);
                    }
                }
            }
        }
        None
    }
}

/// `m ∈ [0, max]` with `m·G = target`, through the shared default table.
pub fn vartime_dlog(target: &RistrettoPoint, max: u64) -> Option<u64> {
    DlogTable::default_table().vartime_dlog(target, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_edge_values() {
        let t = DlogTable::new(64);
        for m in [0u64, 1, 2, 63, 64, 65, 1000, 4095, 4096] {
            let p = G_table() * &Scalar::from(m);
            assert_eq!(t.vartime_dlog(&p, 5000), Some(m), "m = {m}");
        }
        let p = G_table() * &Scalar::from(5001u64);
        assert_eq!(t.vartime_dlog(&p, 5000), None);
        assert_eq!(t.vartime_dlog(&(-G()), 5000), None);
    }

    #[test]
    fn large_value_default_table() {
        let m = 999_999_937u64;
        let p = G_table() * &Scalar::from(m);
        assert_eq!(vartime_dlog(&p, 1_000_000_000), Some(m));
    }
}
