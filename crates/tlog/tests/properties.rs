//! Property tests (`spec/tlog.md` §11): proofs generated from stored hashes
//! match the RFC 9162 definitions and verify; any bit flip fails; parsers and
//! verifiers never panic on arbitrary input.

use proptest::prelude::*;
use tallyboard_tlog::*;

fn leaves(n: usize) -> Vec<Hash> {
    (0..n as u64).map(|i| leaf_hash(&i.to_le_bytes())).collect()
}

fn tree_of(leaves: &[Hash]) -> MemoryTree {
    let mut t = MemoryTree::new();
    for l in leaves {
        t.append_leaf_hash(*l).unwrap();
    }
    t
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while 2 * k < n {
        k *= 2;
    }
    k
}

/// RFC 9162 §2.1.3.1 PATH(m, D[n]).
fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = k_of(n);
    let mut p;
    if m < k {
        p = ref_path(m, &d[..k]);
        p.push(merkle_tree_hash(&d[k..]));
    } else {
        p = ref_path(m - k, &d[k..]);
        p.push(merkle_tree_hash(&d[..k]));
    }
    p
}

/// RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b).
fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![merkle_tree_hash(d)] };
    }
    let k = k_of(n);
    let mut p;
    if m <= k {
        p = ref_subproof(m, &d[..k], b);
        p.push(merkle_tree_hash(&d[k..]));
    } else {
        p = ref_subproof(m - k, &d[k..], false);
        p.push(merkle_tree_hash(&d[..k]));
    }
    p
}

fn flip(bytes: &mut [u8], bit: usize) {
    bytes[bit / 8] ^= 1 << (bit % 8);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn inclusion_proofs_verify_and_resist_bit_flips(n in 1usize..400, seed in any::<u64>()) {
        let d = leaves(n);
        let t = tree_of(&d);
        let index = (seed % n as u64) as usize;
        let size = n as u64;
        let root = t.root().unwrap();
        prop_assert_eq!(root, merkle_tree_hash(&d));
        let proof = t.inclusion_proof(index as u64, size).unwrap();
        prop_assert_eq!(&proof, &ref_path(index, &d));
        prop_assert_eq!(verify_inclusion(d[index], index as u64, size, &proof, root), Ok(()));

        // Every single-bit flip of the leaf, the root or any proof hash fails.
        for bit in 0..256 {
            let mut l = d[index];
            flip(&mut l.0, bit);
            prop_assert!(verify_inclusion(l, index as u64, size, &proof, root).is_err());
            let mut r = root;
            flip(&mut r.0, bit);
            prop_assert!(verify_inclusion(d[index], index as u64, size, &proof, r).is_err());
        }
        for i in 0..proof.len() {
            for bit in 0..256 {
                let mut p = proof.clone();
                flip(&mut p[i].0, bit);
                prop_assert!(verify_inclusion(d[index], index as u64, size, &p, root).is_err());
            }
        }
        // Another index, a truncated or an extended proof fails.
        let other = (index + 1 + (seed as usize >> 32) % n) % n;
        if other != index {
            prop_assert!(verify_inclusion(d[index], other as u64, size, &proof, root).is_err());
        }
        if !proof.is_empty() {
            prop_assert!(verify_inclusion(d[index], index as u64, size, &proof[1..], root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(d[index], index as u64, size, &longer, root).is_err());
    }

    #[test]
    fn consistency_proofs_verify_and_resist_bit_flips(n in 1usize..400, seed in any::<u64>()) {
        let d = leaves(n);
        let t = tree_of(&d);
        let m = 1 + (seed % n as u64) as usize;
        let (root1, root2) = (t.tree_hash(m as u64).unwrap(), t.root().unwrap());
        let proof = t.consistency_proof(m as u64, n as u64).unwrap();
        prop_assert_eq!(&proof, &ref_subproof(m, &d, true));
        prop_assert_eq!(verify_consistency(m as u64, n as u64, &proof, root1, root2), Ok(()));

        for bit in 0..256 {
            let mut r1 = root1;
            flip(&mut r1.0, bit);
            prop_assert!(verify_consistency(m as u64, n as u64, &proof, r1, root2).is_err());
            let mut r2 = root2;
            flip(&mut r2.0, bit);
            prop_assert!(verify_consistency(m as u64, n as u64, &proof, root1, r2).is_err());
        }
        for i in 0..proof.len() {
            for bit in 0..256 {
                let mut p = proof.clone();
                flip(&mut p[i].0, bit);
                prop_assert!(verify_consistency(m as u64, n as u64, &p, root1, root2).is_err());
            }
        }
        if m < n {
            // Claiming the old tree is bigger or smaller than it was fails.
            let m2 = if m > 1 { m - 1 } else { m + 1 };
            if m2 != n {
                prop_assert!(verify_consistency(m2 as u64, n as u64, &proof, root1, root2).is_err());
            }
        }
    }

    #[test]
    fn stored_hash_layout_roundtrips(level in 0u32..40, n in 0u64..(1 << 20)) {
        let i = stored_hash_index(level, n);
        prop_assert_eq!(split_stored_hash_index(i), (level, n));
    }

    #[test]
    fn verifiers_never_panic(
        index in any::<u64>(),
        size in any::<u64>(),
        size1 in any::<u64>(),
        proof in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..70),
        leaf in proptest::collection::vec(any::<u8>(), 0..40),
        root in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let _ = verify_inclusion(&leaf, index, size, &proof, &root);
        let _ = verify_inclusion(&leaf, index % size.max(1), size, &proof, &root);
        let _ = verify_consistency(size1, size, &proof, &leaf, &root);
        let _ = verify_consistency(size1 % size.max(1), size, &proof, &leaf, &root);
    }

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Note::parse(&bytes);
        let _ = SignedCheckpoint::parse(&bytes);
        let _ = TlogProof::parse(&bytes);
        if let Ok(s) = core::str::from_utf8(&bytes) {
            let _ = Checkpoint::parse(s);
            let _ = Ed25519Verifier::from_vkey(s);
            let _ = Hash::from_base64(s);
        }
    }

    #[test]
    fn parsers_never_panic_on_near_valid_input(
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let (receipt, _, _) = sample_receipt();
        let mut b = receipt.clone();
        let i = pos.index(b.len());
        b[i] = byte;
        for input in [&b[..], &receipt[..cut.index(receipt.len())]] {
            if let Ok(p) = TlogProof::parse(input) {
                // Whatever parses re-encodes to exactly the same bytes.
                prop_assert_eq!(&p.to_bytes()[..], input);
            }
            if let Ok(n) = Note::parse(input) {
                prop_assert_eq!(&n.to_bytes()[..], input);
            }
        }
    }
}

fn sample_receipt() -> (Vec<u8>, Hash, Ed25519Verifier) {
    let d = leaves(21);
    let t = tree_of(&d);
    let signer = Ed25519Signer::new(
        "tallyboard/test-election",
        SigningKey::from_bytes(&[42; 32]),
    )
    .unwrap();
    let cp = Checkpoint::new("tallyboard/test-election", 21, t.root().unwrap()).unwrap();
    let signed = cp.sign(&signer).unwrap();
    let proof = t.inclusion_proof(13, 21).unwrap();
    let receipt = TlogProof::new(13, proof, signed).to_bytes();
    (receipt, d[13], signer.verifier())
}

use ed25519_dalek::SigningKey;

#[test]
fn receipt_every_bit_flip_fails() {
    let (receipt, leaf, v) = sample_receipt();
    let p = TlogProof::parse(&receipt).unwrap();
    assert_eq!(p.to_bytes(), receipt);
    assert_eq!(p.verify(&leaf, &v).unwrap().size(), 21);
    for bit in 0..receipt.len() * 8 {
        let mut b = receipt.clone();
        flip(&mut b, bit);
        let res = TlogProof::parse(&b).and_then(|p| p.verify(&leaf, &v));
        assert!(res.is_err(), "bit {bit} flip accepted");
    }
}
