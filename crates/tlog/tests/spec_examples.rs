//! The worked example of `spec/tlog.md` §12, reproduced byte for byte.
//! (Values cross-checked with an independent implementation.)

use tallyboard_tlog::*;

const ORIGIN: &str = "tallyboard/example-election";

const VKEY: &str =
    "tallyboard/example-election+f8cdd11f+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";

const LEAVES: [&str; 5] = [
    "51fVtkwhaf4o0nGaufkwNVHNTl+jZmtCGlm2sZ8nNWw=",
    "+jl+t8zTZ1VMoYjwhdcsfNdOSS4K1RVr+3j7KBGtnuA=",
    "MOxR44jXVf3T+QK2bqPL5jX7biNvQqyV5xpIFIVM3aU=",
    "9Yx1VpHMZn91kwpHWmM7lBqn4j3F2HIc/nWKb/mFfLE=",
    "cmepYl+m0+Ky/4aQuV+YMr7u3dObPmkDO+Hy0+FzgW8=",
];

/// Stored hashes in index order: ((level, n), hex).
const STORED: [((u32, u64), &str); 8] = [
    (
        (0, 0),
        "e757d5b64c2169fe28d2719ab9f9303551cd4e5fa3666b421a59b6b19f27356c",
    ),
    (
        (0, 1),
        "fa397eb7ccd367554ca188f085d72c7cd74e492e0ad5156bfb78fb2811ad9ee0",
    ),
    (
        (1, 0),
        "91a6ed630a24acacb8c8ad2fcb288e695fc6d1572e150db35ebf94fbc194adf0",
    ),
    (
        (0, 2),
        "30ec51e388d755fdd3f902b66ea3cbe635fb6e236f42ac95e71a4814854cdda5",
    ),
    (
        (0, 3),
        "f58c755691cc667f75930a475a633b941aa7e23dc5d8721cfe758a6ff9857cb1",
    ),
    (
        (1, 1),
        "6dcc759d75cf28cfa1a627558deaeca7709c9b506f5831fa75ef65ecfb4a7847",
    ),
    (
        (2, 0),
        "ee032330f6e7a47a0ada1d95cd89c9a39d5d0db1313eb88978a49b1ccecfac20",
    ),
    (
        (0, 4),
        "7267a9625fa6d3e2b2ff8690b95f9832beeeddd39b3e69033be1f2d3e173816f",
    ),
];

const RECEIPT: &str = "c2sp.org/tlog-proof@v1
index 2
9Yx1VpHMZn91kwpHWmM7lBqn4j3F2HIc/nWKb/mFfLE=
kabtYwokrKy4yK0vyyiOaV/G0VcuFQ2zXr+U+8GUrfA=
cmepYl+m0+Ky/4aQuV+YMr7u3dObPmkDO+Hy0+FzgW8=

tallyboard/example-election
5
p4GnZEHR02yif2nX5umh0IxJNqDLNEs3JnOidpmTxZ0=

\u{2014} tallyboard/example-election +M3RHwlBzaJGAnReMUkR5H8N/rOjNuQEz6qRD91vMJrdzaUpVs7x3zgCvnTKRnIpt7cDeFjmi/EdacmHjiMsUPr8OAQ=
";

const CHECKPOINT_3: &str = "tallyboard/example-election
3
5lBdeHwojQErRr/ORrBs0oDg9fE/InCZdm5ug9VIcVY=

\u{2014} tallyboard/example-election +M3RH+xB5RVDv74VyQXIcvwpV2oXc54h3lha8RXcOFLIVtI6kxu1sQxOwZOTW1ogF3eEIFK2EeU+UJLklShPjhDXYgo=
";

const CONSISTENCY_3_5: [&str; 4] = [
    "MOxR44jXVf3T+QK2bqPL5jX7biNvQqyV5xpIFIVM3aU=",
    "9Yx1VpHMZn91kwpHWmM7lBqn4j3F2HIc/nWKb/mFfLE=",
    "kabtYwokrKy4yK0vyyiOaV/G0VcuFQ2zXr+U+8GUrfA=",
    "cmepYl+m0+Ky/4aQuV+YMr7u3dObPmkDO+Hy0+FzgW8=",
];

/// Example-only log key: seed bytes 0x00, 0x01, ..., 0x1f. Never use it for a
/// real election.
fn example_signer() -> Ed25519Signer {
    let seed: [u8; 32] = core::array::from_fn(|i| i as u8);
    Ed25519Signer::new(ORIGIN, SigningKey::from_bytes(&seed)).unwrap()
}

fn example_tree() -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..5 {
        t.append(format!("example entry {i}").as_bytes()).unwrap();
    }
    t
}

fn hashes(b64: &[&str]) -> Vec<Hash> {
    b64.iter().map(|s| Hash::from_base64(s).unwrap()).collect()
}

#[test]
fn example_log_is_reproduced() {
    let s = example_signer();
    let t = example_tree();
    assert_eq!(s.verifier().to_vkey(), VKEY);
    for (i, l) in LEAVES.iter().enumerate() {
        assert_eq!(t.leaf(i as u64).unwrap().to_base64(), *l);
    }
    assert_eq!(t.stored().len(), STORED.len());
    for (i, ((level, n), hex)) in STORED.iter().enumerate() {
        assert_eq!(stored_hash_index(*level, *n), i as u64);
        assert_eq!(hex::encode(t.stored()[i].0), *hex);
    }

    let cp5 = Checkpoint::new(ORIGIN, 5, t.root().unwrap())
        .unwrap()
        .sign(&s)
        .unwrap();
    let receipt = TlogProof::new(2, t.inclusion_proof(2, 5).unwrap(), cp5).to_bytes();
    assert_eq!(String::from_utf8(receipt).unwrap(), RECEIPT);

    let cp3 = Checkpoint::new(ORIGIN, 3, t.tree_hash(3).unwrap())
        .unwrap()
        .sign(&s)
        .unwrap();
    assert_eq!(cp3.as_bytes(), CHECKPOINT_3.as_bytes());
    assert_eq!(t.consistency_proof(3, 5).unwrap(), hashes(&CONSISTENCY_3_5));
}

#[test]
fn example_receipt_and_consistency_verify() {
    let v = Ed25519Verifier::from_vkey(VKEY).unwrap();
    let leaf = leaf_hash(b"example entry 2");
    assert_eq!(leaf.to_base64(), LEAVES[2]);
    let trusted = TlogProof::parse(RECEIPT.as_bytes())
        .unwrap()
        .verify(&leaf, &v)
        .unwrap();
    assert_eq!(trusted.size(), 5);

    let old = Checkpoint::open(CHECKPOINT_3.as_bytes(), &v).unwrap();
    let newer = TlogProof::parse(RECEIPT.as_bytes()).unwrap();
    let newer = check_consistency(
        &old,
        newer.checkpoint().as_bytes(),
        &hashes(&CONSISTENCY_3_5),
        &v,
    )
    .unwrap();
    assert_eq!(newer.checkpoint(), &trusted);
}
