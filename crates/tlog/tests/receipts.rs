//! Receipts (tlog-proof) and observer consistency checks end to end
//! (`spec/tlog.md` §8, §9).

use ed25519_dalek::SigningKey;
use tallyboard_tlog::*;

const ORIGIN: &str = "tallyboard/caucus-2028-ia";

fn signer(seed: u8) -> Ed25519Signer {
    Ed25519Signer::new(ORIGIN, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

fn board(entries: &[&[u8]]) -> MemoryTree {
    let mut t = MemoryTree::new();
    for e in entries {
        t.append(e).unwrap();
    }
    t
}

fn checkpoint(t: &MemoryTree, size: u64, s: &Ed25519Signer) -> SignedCheckpoint {
    Checkpoint::new(ORIGIN, size, t.tree_hash(size).unwrap())
        .unwrap()
        .sign(s)
        .unwrap()
}

#[test]
fn receipt_roundtrip_with_extra_and_cosignature() {
    let s = signer(1);
    let t = board(&[
        b"manifest",
        b"ballot-a",
        b"ballot-b",
        b"ballot-c",
        b"ballot-d",
    ]);
    let signed = checkpoint(&t, 5, &s);
    // A witness cosigns (unknown signature type to the voter): still verifies.
    let witness =
        Ed25519Signer::new("witness.example/w1", SigningKey::from_bytes(&[2; 32])).unwrap();
    let mut note = signed.note().clone();
    note.sign(&witness).unwrap();
    let cosigned = SignedCheckpoint::parse(&note.to_bytes()).unwrap();

    let proof = t.inclusion_proof(2, 5).unwrap();
    let receipt = TlogProof::new(2, proof.clone(), cosigned)
        .with_extra(b"opaque".to_vec())
        .unwrap();
    let bytes = receipt.to_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra b3BhcXVl\nindex 2\n"));
    assert!(text.contains(&format!("\n\n{ORIGIN}\n5\n")));
    let parsed = TlogProof::parse(&bytes).unwrap();
    assert_eq!(parsed, receipt);
    assert_eq!(parsed.extra(), Some(&b"opaque"[..]));
    assert_eq!(parsed.index(), 2);
    assert_eq!(parsed.proof(), &proof[..]);

    let v = s.verifier();
    let cp = parsed.verify(&leaf_hash(b"ballot-b"), &v).unwrap();
    assert_eq!(cp.size(), 5);
    assert!(matches!(
        parsed.verify(&leaf_hash(b"ballot-c"), &v),
        Err(TlogProofError::Inclusion(ProofError::RootMismatch))
    ));
    assert!(matches!(
        parsed.verify(&leaf_hash(b"ballot-b"), &signer(9).verifier()),
        Err(TlogProofError::Checkpoint(CheckpointError::Note(
            NoteError::NoKnownSignature
        )))
    ));
    assert!(matches!(
        parsed.verify(&leaf_hash(b"ballot-b"), &witness.verifier()),
        Err(TlogProofError::Checkpoint(
            CheckpointError::OriginMismatch { .. }
        ))
    ));

    // Without extra; an empty extra is kept as present-but-empty.
    let plain = TlogProof::new(0, t.inclusion_proof(0, 5).unwrap(), checkpoint(&t, 5, &s));
    let b = plain.to_bytes();
    assert!(b.starts_with(b"c2sp.org/tlog-proof@v1\nindex 0\n"));
    assert_eq!(TlogProof::parse(&b).unwrap().extra(), None);
    let empty = plain.clone().with_extra(vec![]).unwrap();
    let b = empty.to_bytes();
    assert!(b.starts_with(b"c2sp.org/tlog-proof@v1\nextra \nindex 0\n"));
    assert_eq!(TlogProof::parse(&b).unwrap().extra(), Some(&b""[..]));
}

#[test]
fn single_entry_receipt_has_no_proof_lines() {
    let s = signer(1);
    let t = board(&[b"only"]);
    let r = TlogProof::new(0, vec![], checkpoint(&t, 1, &s)).to_bytes();
    assert!(r.starts_with(format!("c2sp.org/tlog-proof@v1\nindex 0\n\n{ORIGIN}\n1\n").as_bytes()));
    TlogProof::parse(&r)
        .unwrap()
        .verify(&leaf_hash(b"only"), &s.verifier())
        .unwrap();
}

#[test]
fn malformed_receipts() {
    let s = signer(1);
    let t = board(&[b"a", b"b", b"c"]);
    let good =
        TlogProof::new(1, t.inclusion_proof(1, 3).unwrap(), checkpoint(&t, 3, &s)).to_bytes();
    let good = String::from_utf8(good).unwrap();
    let cases: Vec<(String, TlogProofError)> = vec![
        (
            good.replacen("@v1", "@v2", 1),
            TlogProofError::MissingHeader,
        ),
        (
            good.replacen("index 1", "index 01", 1),
            TlogProofError::InvalidIndex,
        ),
        (
            good.replacen("index 1", "index  1", 1),
            TlogProofError::InvalidIndex,
        ),
        (
            good.replacen("index 1", "Index 1", 1),
            TlogProofError::InvalidIndex,
        ),
        (
            good.replacen("index 1\n", "", 1),
            TlogProofError::InvalidIndex,
        ),
        (
            good.replacen("index 1\n", "index 1\nextra AA==\n", 1),
            TlogProofError::InvalidProofHash { line: 0 },
        ),
        (
            good.replacen("\nindex", "\nextra !!\nindex", 1),
            TlogProofError::InvalidExtra,
        ),
        (
            good.replacen("index 1\n", "index 1\nZG9uJ3QgY2FyZSAx\n", 1),
            TlogProofError::InvalidProofHash { line: 0 },
        ),
        (
            "c2sp.org/tlog-proof@v1\nindex 1\n".into(),
            TlogProofError::Truncated,
        ),
        ("c2sp.org/tlog-proof@v1".into(), TlogProofError::Truncated),
        (String::new(), TlogProofError::Truncated),
    ];
    for (input, want) in cases {
        assert_eq!(TlogProof::parse(input.as_bytes()), Err(want), "{input:?}");
    }
    // Checkpoint part broken.
    let (head, _) = good.split_once("\n\n").unwrap();
    assert!(matches!(
        TlogProof::parse(format!("{head}\n\nnot a checkpoint\n").as_bytes()),
        Err(TlogProofError::Checkpoint(_))
    ));
    // Too many proof lines.
    let h = leaf_hash(b"x").to_base64();
    let many = format!(
        "c2sp.org/tlog-proof@v1\nindex 1\n{}\n",
        vec![h.as_str(); MAX_PROOF_HASHES + 1].join("\n")
    );
    assert_eq!(
        TlogProof::parse(many.as_bytes()),
        Err(TlogProofError::TooManyProofHashes)
    );
    // Index outside the checkpointed tree.
    let r = TlogProof::new(3, vec![], checkpoint(&t, 3, &s));
    assert!(matches!(
        r.verify(&leaf_hash(b"a"), &s.verifier()),
        Err(TlogProofError::Inclusion(ProofError::IndexOutOfRange {
            index: 3,
            size: 3
        }))
    ));
}

#[test]
fn observer_accepts_honest_growth() {
    let s = signer(1);
    let v = s.verifier();
    let entries: Vec<Vec<u8>> = (0u32..50).map(|i| i.to_be_bytes().to_vec()).collect();
    let mut t = MemoryTree::new();
    let empty = Checkpoint::new(ORIGIN, 0, EMPTY_ROOT).unwrap();
    let mut trusted = empty.clone();
    for (i, e) in entries.iter().enumerate() {
        t.append(e).unwrap();
        if i % 7 == 3 || i == entries.len() - 1 {
            let size = t.size();
            let newer = checkpoint(&t, size, &s);
            let proof = if trusted.size() == 0 {
                vec![]
            } else {
                t.consistency_proof(trusted.size(), size).unwrap()
            };
            trusted = check_consistency(&trusted, newer.as_bytes(), &proof, &v)
                .unwrap()
                .into_checkpoint();
        }
    }
    assert_eq!(trusted.size(), 50);
    // Same checkpoint again: fine, with an empty proof.
    let again = checkpoint(&t, 50, &s);
    check_consistency(&trusted, again.as_bytes(), &[], &v).unwrap();
    // From the empty tree: any newer tree, empty proof.
    verify_checkpoint_consistency(&empty, &trusted, &[]).unwrap();
    assert!(matches!(
        verify_checkpoint_consistency(&empty, &trusted, &[EMPTY_ROOT]),
        Err(ConsistencyError::Inconsistent { .. })
    ));
    let bogus_empty = Checkpoint::new(ORIGIN, 0, leaf_hash(b"")).unwrap();
    assert!(matches!(
        verify_checkpoint_consistency(&bogus_empty, &trusted, &[]),
        Err(ConsistencyError::Inconsistent { .. })
    ));
}

#[test]
fn observer_detects_misbehaviour() {
    let s = signer(1);
    let v = s.verifier();
    let honest = board(&[b"m", b"b1", b"b2", b"b3", b"b4", b"b5", b"b6"]);
    // The forked history drops b2 and adds others.
    let forked = board(&[b"m", b"b1", b"b3", b"b4", b"b5", b"b6", b"b7", b"b8"]);

    let trusted = checkpoint(&honest, 5, &s).into_checkpoint();

    // Fork at a larger size: no proof from either history links them.
    let fork_cp = checkpoint(&forked, 8, &s);
    for proof in [
        forked.consistency_proof(5, 8).unwrap(),
        honest.consistency_proof(5, 7).unwrap(),
        vec![],
    ] {
        assert!(matches!(
            check_consistency(&trusted, fork_cp.as_bytes(), &proof, &v),
            Err(ConsistencyError::Inconsistent {
                trusted_size: 5,
                newer_size: 8,
                ..
            })
        ));
    }

    // Fork at the same size.
    let same = checkpoint(&forked, 5, &s);
    assert_eq!(
        check_consistency(&trusted, same.as_bytes(), &[], &v),
        Err(ConsistencyError::Fork { size: 5 })
    );

    // Going backwards.
    let older = checkpoint(&honest, 4, &s);
    assert_eq!(
        check_consistency(&trusted, older.as_bytes(), &[], &v),
        Err(ConsistencyError::SizeWentBackwards {
            trusted: 5,
            newer: 4
        })
    );

    // Bad signature: signed by another key of the same name, or tampered.
    let impostor = checkpoint(&honest, 7, &signer(2));
    let proof = honest.consistency_proof(5, 7).unwrap();
    assert!(matches!(
        check_consistency(&trusted, impostor.as_bytes(), &proof, &v),
        Err(ConsistencyError::BadCheckpoint(CheckpointError::Note(
            NoteError::NoKnownSignature
        )))
    ));
    let good = checkpoint(&honest, 7, &s);
    let mut tampered = good.as_bytes().to_vec();
    let pos = ORIGIN.len() + 1; // first digit of the size
    tampered[pos] = b'6';
    assert!(matches!(
        check_consistency(&trusted, &tampered, &proof, &v),
        Err(ConsistencyError::BadCheckpoint(CheckpointError::Note(
            NoteError::InvalidSignature { .. }
        )))
    ));
    assert!(check_consistency(&trusted, good.as_bytes(), &proof, &v).is_ok());

    // Another log.
    let other_signer =
        Ed25519Signer::new("tallyboard/other", SigningKey::from_bytes(&[1; 32])).unwrap();
    let other = Checkpoint::new("tallyboard/other", 7, honest.root().unwrap())
        .unwrap()
        .sign(&other_signer)
        .unwrap();
    assert!(matches!(
        check_consistency(&trusted, other.as_bytes(), &proof, &other_signer.verifier()),
        Err(ConsistencyError::OriginMismatch { .. })
    ));
}
