//! Known-answer tests against the transparency-dev/merkle proof vectors and
//! the C2SP signed-note / tlog-checkpoint examples (`spec/tlog.md` §11).

use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;
use tallyboard_tlog::*;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/tlog-vectors"
);

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

fn load(kind: &str) -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    json_files(
        &Path::new(DATA)
            .join("transparency-dev-merkle/testdata")
            .join(kind),
        &mut files,
    );
    files
        .into_iter()
        .map(|p| {
            let v = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
            (p, v)
        })
        .collect()
}

fn b64(v: &Value) -> Vec<u8> {
    BASE64.decode(v.as_str().unwrap()).unwrap()
}

fn proof(v: &Value) -> Vec<Vec<u8>> {
    match v {
        Value::Null => vec![],
        Value::Array(a) => a.iter().map(b64).collect(),
        other => panic!("bad proof {other}"),
    }
}

#[test]
fn transparency_dev_inclusion_vectors() {
    let vectors = load("inclusion");
    assert_eq!(vectors.len(), 98);
    let (mut ok, mut err) = (0, 0);
    for (path, v) in vectors {
        let leaf = b64(&v["leafHash"]);
        let root = b64(&v["root"]);
        let index = v["leafIdx"].as_u64().unwrap();
        let size = v["treeSize"].as_u64().unwrap();
        let p = proof(&v["proof"]);
        let want_err = v["wantErr"].as_bool().unwrap();
        let got = verify_inclusion(&leaf, index, size, &p, &root);
        assert_eq!(got.is_err(), want_err, "{}: {got:?}", path.display());
        if want_err {
            err += 1;
        } else {
            ok += 1;
            // The typed path agrees.
            let leaf = Hash::from_slice(&leaf).unwrap();
            let p: Vec<Hash> = p.iter().map(|h| Hash::from_slice(h).unwrap()).collect();
            assert_eq!(
                root_from_inclusion_proof(leaf, index, size, &p)
                    .unwrap()
                    .as_bytes()[..],
                root[..]
            );
        }
    }
    assert_eq!((ok, err), (6, 92));
}

#[test]
fn transparency_dev_consistency_vectors() {
    let vectors = load("consistency");
    assert_eq!(vectors.len(), 98);
    let (mut ok, mut err) = (0, 0);
    for (path, v) in vectors {
        let size1 = v["size1"].as_u64().unwrap();
        let size2 = v["size2"].as_u64().unwrap();
        let root1 = b64(&v["root1"]);
        let root2 = b64(&v["root2"]);
        let p = proof(&v["proof"]);
        let want_err = v["wantErr"].as_bool().unwrap();
        let got = verify_consistency(size1, size2, &p, &root1, &root2);
        assert_eq!(got.is_err(), want_err, "{}: {got:?}", path.display());
        if want_err {
            err += 1;
        } else {
            ok += 1;
        }
    }
    assert_eq!((ok, err), (6, 92));
}

/// The happy-path vectors' proofs are exactly what this crate generates for
/// the 8-entry reference tree.
#[test]
fn generated_proofs_match_happy_path_vectors() {
    let inputs: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    let mut tree = MemoryTree::new();
    for i in inputs {
        tree.append(&hex::decode(i).unwrap()).unwrap();
    }
    let mut checked = 0;
    for (path, v) in load("inclusion") {
        if !path.ends_with("happy-path.json") {
            continue;
        }
        let index = v["leafIdx"].as_u64().unwrap();
        let size = v["treeSize"].as_u64().unwrap();
        let got: Vec<Vec<u8>> = tree
            .inclusion_proof(index, size)
            .unwrap()
            .iter()
            .map(|h| h.0.to_vec())
            .collect();
        assert_eq!(got, proof(&v["proof"]), "{}", path.display());
        assert_eq!(tree.tree_hash(size).unwrap().0.to_vec(), b64(&v["root"]));
        assert_eq!(tree.leaf(index).unwrap().0.to_vec(), b64(&v["leafHash"]));
        checked += 1;
    }
    for (path, v) in load("consistency") {
        if !path.ends_with("happy-path.json") {
            continue;
        }
        let size1 = v["size1"].as_u64().unwrap();
        let size2 = v["size2"].as_u64().unwrap();
        let got: Vec<Vec<u8>> = tree
            .consistency_proof(size1, size2)
            .unwrap()
            .iter()
            .map(|h| h.0.to_vec())
            .collect();
        assert_eq!(got, proof(&v["proof"]), "{}", path.display());
        assert_eq!(tree.tree_hash(size1).unwrap().0.to_vec(), b64(&v["root1"]));
        assert_eq!(tree.tree_hash(size2).unwrap().0.to_vec(), b64(&v["root2"]));
        checked += 1;
    }
    assert_eq!(checked, 10);
}

fn c2sp(name: &str) -> Vec<u8> {
    fs::read(Path::new(DATA).join("C2SP").join(name)).unwrap()
}

#[test]
fn c2sp_signed_note_example_verifies() {
    let vkey = String::from_utf8(c2sp("signed-note/example.vkey")).unwrap();
    let v = Ed25519Verifier::from_vkey(vkey.trim_end_matches('\n')).unwrap();
    assert_eq!(v.to_vkey(), vkey.trim_end_matches('\n'));
    assert_eq!(v.name(), "example.com/foo");
    assert_eq!(v.key_id(), 0x530d903a);
    let msg = c2sp("signed-note/example.note");
    let note = open(&msg, &[&v]).unwrap();
    assert_eq!(note.text(), "This is an example message.\n");
    assert_eq!(note.to_bytes(), msg);

    // Any change to the text breaks the signature.
    let mut bad = msg.clone();
    bad[0] = b't';
    assert!(matches!(
        open(&bad, &[&v]),
        Err(NoteError::InvalidSignature { .. })
    ));
}

#[test]
fn c2sp_other_examples_parse() {
    let v = Ed25519Verifier::from_vkey(
        String::from_utf8(c2sp("signed-note/example.vkey"))
            .unwrap()
            .trim_end(),
    )
    .unwrap();

    let msg = c2sp("signed-note/quasimodo.note");
    let note = Note::parse(&msg).unwrap();
    assert_eq!(
        note.text(),
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u{e8} subito sera.\n"
    );
    assert_eq!(note.signatures().len(), 1);
    assert_eq!(note.signatures()[0].name(), "quasimodo.example/salvatore");
    assert_eq!(note.signatures()[0].signature().len(), 64);
    assert_eq!(note.to_bytes(), msg);
    // Unknown key: ignored, so nothing verifies.
    assert_eq!(open(&msg, &[&v]), Err(NoteError::NoKnownSignature));

    let msg = c2sp("tlog-checkpoint/example.checkpoint");
    let sc = SignedCheckpoint::parse(&msg).unwrap();
    let cp = sc.checkpoint();
    assert_eq!(cp.origin(), "example.com/behind-the-sofa");
    assert_eq!(cp.size(), 20852163);
    assert_eq!(
        cp.root().to_base64(),
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    );
    assert!(cp.extensions().is_empty());
    assert_eq!(sc.as_bytes(), &msg[..]);
    assert_eq!(sc.note().to_bytes(), msg);
    assert_eq!(
        Checkpoint::parse(sc.note().text()).unwrap().to_text(),
        sc.note().text()
    );

    let msg = c2sp("tlog-cosignature/example-cosigned.checkpoint");
    let sc2 = SignedCheckpoint::parse(&msg).unwrap();
    assert_eq!(sc2.checkpoint(), cp);
    let sigs = sc2.note().signatures();
    assert_eq!(sigs.len(), 2);
    assert_eq!(sigs[1].name(), "witness.example.com/w1");
    // Cosignature type 0x04: 8-byte timestamp || 64-byte signature.
    assert_eq!(sigs[1].signature().len(), 72);
    assert_eq!(sc2.note().to_bytes(), msg);
}
