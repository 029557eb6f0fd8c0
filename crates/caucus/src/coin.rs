//! Verifiable coin tosses (spec/caucus.md §6).
//!
//! The rules settle some ties "by coin toss" (or, with more than two tied
//! groups, by drawing lots). A toss here chooses `picks` winners among the
//! tied groups. [`SeededCoins`] derives every outcome from a public 32-byte
//! seed — in production the hash of the signed board checkpoint taken after
//! the final tally — so anyone can recompute it; [`FixedCoins`] replays
//! outcomes recorded elsewhere (for instance physical tosses); and
//! [`crate::all_outcomes`] enumerates every outcome the rules allow.
//!
//! # Bytes hashed (spec/caucus.md §6.2)
//!
//! For toss block `j` (starting at 0), SHA-256 of:
//!
//! ```text
//! u8(len(LABEL)) || LABEL                         LABEL = "tallyboard/caucus/coin-toss/v1"
//! || seed                                         32 bytes
//! || u32be(len(precinct)) || precinct             UTF-8 bytes of the precinct id
//! || u32be(round)
//! || u8(kind)                                     1 remove, 2 add, 3 plurality
//! || u32be(counter)                               toss number within the apportionment, from 0
//! || u32be(picks)
//! || u32be(m) || u32be(g_1) || ... || u32be(g_m)  tied group ids, ascending
//! || u32be(j)
//! ```
//!
//! The digests `block_0 || block_1 || ...` form a byte stream read as
//! big-endian `u64` words; a partial Fisher–Yates shuffle with rejection
//! sampling picks the winners (see [`SeededCoins`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::alignment::{GroupId, PrecinctId};
use crate::error::CaucusError;

/// Domain-separation label of the seeded coin toss, version 1.
pub const COIN_TOSS_LABEL: &[u8] = b"tallyboard/caucus/coin-toss/v1";

/// Why a toss happens (spec/caucus.md §6.1); its byte enters the hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TossKind {
    /// Rounding gave too many delegates; the winners of the toss each lose
    /// one (spec/caucus.md §4.3).
    Remove,
    /// Rounding gave too few delegates; the winners each gain one
    /// (spec/caucus.md §4.4).
    Add,
    /// A plurality precinct's largest groups tie; the winner takes the
    /// delegate (spec/caucus.md §4.5).
    Plurality,
}

impl TossKind {
    /// The byte hashed for this kind.
    pub fn byte(self) -> u8 {
        match self {
            TossKind::Remove => 1,
            TossKind::Add => 2,
            TossKind::Plurality => 3,
        }
    }
}

/// Everything a toss depends on.
#[derive(Clone, Copy, Debug)]
pub struct Toss<'a> {
    /// The precinct whose apportionment needs the toss.
    pub precinct: &'a PrecinctId,
    /// The alignment round being apportioned (2 for the final alignment
    /// after one realignment).
    pub round: u32,
    /// Why the toss happens.
    pub kind: TossKind,
    /// Toss number within this apportionment, from 0.
    pub counter: u32,
    /// The tied groups, ascending; at least two.
    pub tied: &'a [GroupId],
    /// How many of them win; `1 <= picks < tied.len()`.
    pub picks: u32,
}

/// A source of coin-toss outcomes.
pub trait CoinSource {
    /// Choose `toss.picks` distinct winners among `toss.tied`; return their
    /// indices into `toss.tied`. The caller rejects any other answer with
    /// [`CaucusError::InvalidToss`].
    fn toss(&mut self, toss: &Toss<'_>) -> Result<Vec<usize>, CaucusError>;
}

/// Check a toss's shape and a source's answer; returns the winners' indices
/// in ascending order.
pub(crate) fn checked_toss(
    source: &mut dyn CoinSource,
    toss: &Toss<'_>,
) -> Result<Vec<usize>, CaucusError> {
    let m = toss.tied.len();
    let picks = toss.picks as usize;
    if m < 2 || picks == 0 || picks >= m {
        return Err(CaucusError::InvalidToss(
            "a toss needs 1 <= picks < tied groups",
        ));
    }
    let mut idx = source.toss(toss)?;
    idx.sort_unstable();
    idx.dedup();
    if idx.len() != picks || idx.iter().any(|i| *i >= m) {
        return Err(CaucusError::InvalidToss(
            "the coin source did not return distinct winners of the requested number",
        ));
    }
    Ok(idx)
}

/// Deterministic public coin: every outcome is a function of a 32-byte seed
/// and the toss (spec/caucus.md §6.2).
///
/// Winners: let `perm = tied` (ascending). For `i` in `0..picks`, with
/// `n = m - i`, read `u64` words `x` from the stream until
/// `x < n * floor(2^64 / n)`, then swap `perm[i]` with `perm[i + x mod n]`.
/// The winners are `perm[0..picks]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeededCoins {
    seed: [u8; 32],
}

impl SeededCoins {
    /// A coin seeded with `seed` (in production: the SHA-256 of the signed
    /// board checkpoint after the final tally).
    pub fn new(seed: [u8; 32]) -> Self {
        SeededCoins { seed }
    }

    /// The hash input of block `j` of `toss` (spec/caucus.md §6.2), exposed so
    /// that verifiers and test vectors can check it byte for byte.
    pub fn block_input(&self, toss: &Toss<'_>, j: u32) -> Result<Vec<u8>, CaucusError> {
        let precinct = toss.precinct.as_bytes();
        let plen = u32::try_from(precinct.len()).map_err(|_| CaucusError::Overflow)?;
        let m = u32::try_from(toss.tied.len()).map_err(|_| CaucusError::Overflow)?;
        let label_len = u8::try_from(COIN_TOSS_LABEL.len()).map_err(|_| CaucusError::Overflow)?;
        let mut v = Vec::with_capacity(
            1 + COIN_TOSS_LABEL.len() + 32 + 4 + precinct.len() + 21 + 4 * toss.tied.len() + 4,
        );
        v.push(label_len);
        v.extend_from_slice(COIN_TOSS_LABEL);
        v.extend_from_slice(&self.seed);
        v.extend_from_slice(&plen.to_be_bytes());
        v.extend_from_slice(precinct);
        v.extend_from_slice(&toss.round.to_be_bytes());
        v.push(toss.kind.byte());
        v.extend_from_slice(&toss.counter.to_be_bytes());
        v.extend_from_slice(&toss.picks.to_be_bytes());
        v.extend_from_slice(&m.to_be_bytes());
        for g in toss.tied {
            v.extend_from_slice(&g.0.to_be_bytes());
        }
        v.extend_from_slice(&j.to_be_bytes());
        Ok(v)
    }

    /// The winners of `toss` as group ids, ascending.
    pub fn winners(&self, toss: &Toss<'_>) -> Result<Vec<GroupId>, CaucusError> {
        let idx = self.winner_indices(toss)?;
        Ok(idx.into_iter().map(|i| toss.tied[i]).collect())
    }

    fn winner_indices(&self, toss: &Toss<'_>) -> Result<Vec<usize>, CaucusError> {
        let m = toss.tied.len();
        let picks = toss.picks as usize;
        if m < 2 || picks == 0 || picks >= m {
            return Err(CaucusError::InvalidToss(
                "a toss needs 1 <= picks < tied groups",
            ));
        }
        let mut stream = WordStream {
            coins: self,
            toss,
            block: 0,
            buf: [0u8; 32],
            used: 32,
        };
        let mut perm: Vec<usize> = (0..m).collect();
        for i in 0..picks {
            let n = (m - i) as u64;
            // Accept x < zone, the largest multiple of n not above 2^64.
            let zone = (1u128 << 64) / u128::from(n) * u128::from(n);
            let r = loop {
                let x = stream.next_word()?;
                if u128::from(x) < zone {
                    break x % n;
                }
            };
            let r = usize::try_from(r).map_err(|_| CaucusError::Overflow)?;
            perm.swap(i, i + r);
        }
        let mut winners = perm[..picks].to_vec();
        winners.sort_unstable();
        Ok(winners)
    }
}

struct WordStream<'c, 't> {
    coins: &'c SeededCoins,
    toss: &'c Toss<'t>,
    block: u32,
    buf: [u8; 32],
    used: usize,
}

impl WordStream<'_, '_> {
    fn next_word(&mut self) -> Result<u64, CaucusError> {
        if self.used + 8 > self.buf.len() {
            let input = self.coins.block_input(self.toss, self.block)?;
            self.buf = Sha256::digest(&input).into();
            self.block = self.block.checked_add(1).ok_or(CaucusError::Overflow)?;
            self.used = 0;
        }
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.buf[self.used..self.used + 8]);
        self.used += 8;
        Ok(u64::from_be_bytes(w))
    }
}

impl CoinSource for SeededCoins {
    fn toss(&mut self, toss: &Toss<'_>) -> Result<Vec<usize>, CaucusError> {
        self.winner_indices(toss)
    }
}

/// Replays recorded toss outcomes, in order: each entry lists the winning
/// groups of one toss. Useful for physical tosses recorded on the board and
/// for tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FixedCoins {
    outcomes: Vec<Vec<GroupId>>,
    next: usize,
}

impl FixedCoins {
    /// Replay `outcomes`, one per toss.
    pub fn new(outcomes: Vec<Vec<GroupId>>) -> Self {
        FixedCoins { outcomes, next: 0 }
    }
}

impl CoinSource for FixedCoins {
    fn toss(&mut self, toss: &Toss<'_>) -> Result<Vec<usize>, CaucusError> {
        let winners = self
            .outcomes
            .get(self.next)
            .ok_or(CaucusError::InvalidToss("no recorded outcome left"))?;
        self.next += 1;
        winners
            .iter()
            .map(|w| {
                toss.tied
                    .iter()
                    .position(|g| g == w)
                    .ok_or(CaucusError::InvalidToss(
                        "recorded winner is not among the tied groups",
                    ))
            })
            .collect()
    }
}

/// `C(n, k)`, or `None` on overflow.
pub(crate) fn binomial(n: usize, k: usize) -> Option<u128> {
    if k > n {
        return Some(0);
    }
    let k = k.min(n - k);
    let mut acc: u128 = 1;
    for i in 0..k {
        acc = acc.checked_mul((n - i) as u128)? / (i as u128 + 1);
    }
    Some(acc)
}

/// The `index`-th `k`-subset of `0..n` in lexicographic order.
pub(crate) fn nth_combination(n: usize, k: usize, mut index: u128) -> Option<Vec<usize>> {
    let mut out = Vec::with_capacity(k);
    let mut start = 0;
    for slot in 0..k {
        let remaining = k - slot;
        let mut c = start;
        loop {
            if c + remaining > n {
                return None;
            }
            let with_c = binomial(n - c - 1, remaining - 1)?;
            if index < with_c {
                out.push(c);
                start = c + 1;
                break;
            }
            index -= with_c;
            c += 1;
        }
    }
    Some(out)
}

/// Explores every toss outcome: follows `script` and then always the first
/// option, recording how many options each toss had.
pub(crate) struct EnumeratingCoins {
    pub(crate) script: Vec<u128>,
    pub(crate) options: Vec<u128>,
    pub(crate) limit: usize,
}

impl CoinSource for EnumeratingCoins {
    fn toss(&mut self, toss: &Toss<'_>) -> Result<Vec<usize>, CaucusError> {
        let m = toss.tied.len();
        let k = toss.picks as usize;
        let limit = self.limit;
        let n = binomial(m, k)
            .filter(|n| *n <= limit as u128)
            .ok_or(CaucusError::TooManyOutcomes { limit })?;
        let pos = self.options.len();
        let choice = self.script.get(pos).copied().unwrap_or(0);
        self.options.push(n);
        nth_combination(m, k, choice).ok_or(CaucusError::InvalidToss("enumeration out of range"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn combinations() {
        assert_eq!(binomial(5, 2), Some(10));
        assert_eq!(binomial(14, 7), Some(3432));
        assert_eq!(binomial(3, 4), Some(0));
        let all: Vec<_> = (0..10).map(|i| nth_combination(5, 2, i).unwrap()).collect();
        assert_eq!(all[0], vec![0, 1]);
        assert_eq!(all[3], vec![0, 4]);
        assert_eq!(all[4], vec![1, 2]);
        assert_eq!(all[9], vec![3, 4]);
        assert_eq!(nth_combination(5, 2, 10), None);
    }

    #[test]
    fn seeded_coin_is_deterministic_and_valid() {
        let p = PrecinctId::new("Adair/1NW ADAIR");
        let tied = [GroupId(3), GroupId(6), GroupId(8), GroupId(10)];
        let t = Toss {
            precinct: &p,
            round: 2,
            kind: TossKind::Remove,
            counter: 0,
            tied: &tied,
            picks: 2,
        };
        let a = SeededCoins::new([7; 32]).winners(&t).unwrap();
        let b = SeededCoins::new([7; 32]).winners(&t).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
        assert!(a[0] < a[1]);
        // Every input field matters: across many seeds both outcomes occur.
        let mut seen = std::collections::BTreeSet::new();
        for s in 0..64u8 {
            seen.insert(SeededCoins::new([s; 32]).winners(&t).unwrap());
        }
        assert_eq!(seen.len(), 6, "all C(4,2) outcomes reachable");
    }

    #[test]
    fn block_input_layout() {
        let p = PrecinctId::new("P");
        let tied = [GroupId(1), GroupId(258)];
        let t = Toss {
            precinct: &p,
            round: 2,
            kind: TossKind::Add,
            counter: 5,
            tied: &tied,
            picks: 1,
        };
        let input = SeededCoins::new([0xab; 32]).block_input(&t, 1).unwrap();
        let mut want = vec![30u8];
        want.extend_from_slice(b"tallyboard/caucus/coin-toss/v1");
        want.extend_from_slice(&[0xab; 32]);
        want.extend_from_slice(&[0, 0, 0, 1, b'P']);
        want.extend_from_slice(&[0, 0, 0, 2]);
        want.push(2);
        want.extend_from_slice(&[0, 0, 0, 5]);
        want.extend_from_slice(&[0, 0, 0, 1]);
        want.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 1, 2]);
        want.extend_from_slice(&[0, 0, 0, 1]);
        assert_eq!(input, want);
    }

    #[test]
    fn fixed_coins_replay() {
        let p = PrecinctId::new("P");
        let tied = [GroupId(1), GroupId(2), GroupId(3)];
        let t = Toss {
            precinct: &p,
            round: 2,
            kind: TossKind::Remove,
            counter: 0,
            tied: &tied,
            picks: 1,
        };
        let mut c = FixedCoins::new(vec![vec![GroupId(3)]]);
        assert_eq!(checked_toss(&mut c, &t).unwrap(), vec![2]);
        assert!(checked_toss(&mut c, &t).is_err(), "no outcome left");
        let mut wrong = FixedCoins::new(vec![vec![GroupId(9)]]);
        assert!(checked_toss(&mut wrong, &t).is_err());
        let mut too_many = FixedCoins::new(vec![vec![GroupId(1), GroupId(2)]]);
        assert!(checked_toss(&mut too_many, &t).is_err());
    }

    /// Known-answer vectors, also listed in spec/caucus.md §6.4 (computed
    /// independently from the byte description).
    #[test]
    fn known_answer_vectors() {
        let seed: [u8; 32] = core::array::from_fn(|i| i as u8);
        let coins = SeededCoins::new(seed);
        let p = PrecinctId::new("Adair/1NW ADAIR");
        let g = |v: &[u32]| v.iter().map(|i| GroupId(*i)).collect::<Vec<_>>();
        let tied = g(&[3, 6]);
        let t = Toss {
            precinct: &p,
            round: 2,
            kind: TossKind::Remove,
            counter: 0,
            tied: &tied,
            picks: 1,
        };
        let input = coins.block_input(&t, 0).unwrap();
        assert_eq!(
            hex(&input),
            "1e74616c6c79626f6172642f6361756375732f636f696e2d746f73732f7631\
             000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
             0000000f41646169722f314e572041444149520000000201000000000000000100000002\
             000000030000000600000000"
        );
        assert_eq!(
            hex(&Sha256::digest(&input)),
            "90cb1a256813e503b23d3b1b081762b463562f44bbe8aafec42c04a1ee21eb9c"
        );
        assert_eq!(coins.winners(&t).unwrap(), g(&[6]));

        let tied = g(&[1, 3, 8, 10, 11]);
        let t = Toss {
            tied: &tied,
            picks: 2,
            ..t
        };
        assert_eq!(coins.winners(&t).unwrap(), g(&[1, 11]));

        let demo = PrecinctId::new("demo");
        let tied = g(&[0, 1, 2, 3, 4, 5, 6]);
        let t = Toss {
            precinct: &demo,
            round: 2,
            kind: TossKind::Add,
            counter: 1,
            tied: &tied,
            picks: 3,
        };
        assert_eq!(coins.winners(&t).unwrap(), g(&[0, 1, 5]));

        let tied = g(&[4, 9]);
        let t = Toss {
            precinct: &demo,
            round: 2,
            kind: TossKind::Plurality,
            counter: 0,
            tied: &tied,
            picks: 1,
        };
        assert_eq!(SeededCoins::new([0; 32]).winners(&t).unwrap(), g(&[4]));
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
