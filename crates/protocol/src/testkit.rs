//! Builders of valid entries, for clients, tools and tests
//! (`spec/record.md` §2). Every builder signs with the given key.

use ed25519_dalek::SigningKey;
use tallyboard_proto::v1;
use v1::entry_body::Payload;

use crate::entry::sign_entry;
use crate::manifest::fingerprint;
use crate::state::BoardIdentity;

/// Current time in ms since the Unix epoch (0 if the clock is before 1970).
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Signs a body with `payload` for election `election_id` / `fingerprint`.
pub fn entry(
    key: &SigningKey,
    election_id: &str,
    fingerprint: [u8; 32],
    payload: Payload,
) -> Vec<u8> {
    sign_entry(
        key,
        v1::EntryBody {
            election_id: election_id.to_string(),
            election_fingerprint: fingerprint.to_vec(),
            created_unix_ms: now_unix_ms(),
            author_key: Vec::new(),
            payload: Some(payload),
        },
    )
}

/// Signs the manifest entry (empty fingerprint) and returns its bytes with the
/// election fingerprint it defines.
pub fn manifest_entry(admin: &SigningKey, manifest: v1::Manifest) -> (Vec<u8>, [u8; 32]) {
    let body = v1::EntryBody {
        election_id: manifest.election_id.clone(),
        election_fingerprint: Vec::new(),
        created_unix_ms: now_unix_ms(),
        author_key: admin.verifying_key().to_bytes().to_vec(),
        payload: Some(Payload::Manifest(manifest)),
    };
    let bytes = sign_entry(admin, body.clone());
    let body_bytes = prost::Message::encode_to_vec(&body);
    (bytes, fingerprint(&body_bytes))
}

/// A small but complete manifest for tests: one district, one one-of-3
/// contest, three trustees with threshold two, all keys derived from `seed`.
pub fn sample_manifest(admin: &SigningKey, board: &BoardIdentity, seed: u8) -> v1::Manifest {
    let trustees = (1..=3u8)
        .map(|i| {
            let signing = SigningKey::from_bytes(&[seed ^ 0x40 ^ i; 32]);
            v1::Trustee {
                index: u32::from(i),
                name: format!("trustee-{i}"),
                signing_key: signing.verifying_key().to_bytes().to_vec(),
            }
        })
        .collect();
    let issuer = SigningKey::from_bytes(&[seed ^ 0x80; 32]);
    v1::Manifest {
        election_id: format!("test-{seed}"),
        title: "Test election".into(),
        admin_key: admin.verifying_key().to_bytes().to_vec(),
        trustees: Some(v1::TrusteeSet {
            threshold: 2,
            trustees,
        }),
        districts: vec![v1::District {
            id: "d1".into(),
            name: "District 1".into(),
            issuer_rsa_key: sample_issuer_rsa().pk.to_der().unwrap_or_default(),
            delegates: 0,
            sde_weight: String::new(),
        }],
        contests: vec![v1::Contest {
            id: "c1".into(),
            title: "Contest 1".into(),
            options: ["a", "b", "c"]
                .iter()
                .map(|o| v1::ContestOption {
                    id: (*o).into(),
                    title: o.to_uppercase(),
                })
                .collect(),
            rule: Some(v1::ContestRule {
                kind: Some(v1::contest_rule::Kind::OneOfN(v1::OneOfN {})),
            }),
            districts: Vec::new(),
        }],
        revote_policy: v1::RevotePolicy::LastCounts as i32,
        voting_opens_unix_ms: 0,
        voting_closes_unix_ms: 0,
        issuer_signing_key: issuer.verifying_key().to_bytes().to_vec(),
        board_origin: board.origin.clone(),
        board_key: board.key.to_bytes().to_vec(),
        caucus: None,
        witnesses: Vec::new(),
    }
}

/// The issuer signing key matching [`sample_manifest`] with the same seed.
pub fn sample_issuer_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed ^ 0x80; 32])
}

/// An administrator notice.
pub fn notice_entry(
    admin: &SigningKey,
    election_id: &str,
    fingerprint: [u8; 32],
    text: &str,
) -> Vec<u8> {
    entry(
        admin,
        election_id,
        fingerprint,
        Payload::Notice(v1::Notice {
            text: text.to_string(),
        }),
    )
}

/// A phase change.
pub fn phase_entry(
    admin: &SigningKey,
    election_id: &str,
    fingerprint: [u8; 32],
    phase: v1::Phase,
) -> Vec<u8> {
    entry(
        admin,
        election_id,
        fingerprint,
        Payload::PhaseChange(v1::PhaseChange {
            phase: phase as i32,
        }),
    )
}

/// A 2048-bit RSA issuer key pair for tests, generated once per process.
pub fn sample_issuer_rsa() -> &'static blind_rsa_signatures::KeyPair {
    static KP: std::sync::OnceLock<blind_rsa_signatures::KeyPair> = std::sync::OnceLock::new();
    KP.get_or_init(|| {
        blind_rsa_signatures::KeyPair::generate(&mut blind_rsa_signatures::DefaultRng, 2048)
            .unwrap_or_else(|e| panic!("RSA key generation failed: {e}"))
    })
}

/// The signing key of trustee `i` (1-based) of [`sample_manifest`] with `seed`.
pub fn sample_trustee_key(seed: u8, i: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed ^ 0x40 ^ i; 32])
}

/// A credential for [`sample_manifest`]'s district `d1`, issued (blindly) by
/// [`sample_issuer_rsa`]: the credential key, the signature and randomizer.
pub fn sample_credential(fingerprint: &[u8; 32], seed: u64) -> (SigningKey, Vec<u8>, Vec<u8>) {
    use blind_rsa_signatures::DefaultRng;
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = 0xc7;
    let key = SigningKey::from_bytes(&bytes);
    let kp = sample_issuer_rsa();
    let opts = crate::credential::credential_options();
    let msg = crate::credential::credential_message(fingerprint, &key.verifying_key().to_bytes());
    let blinded = kp
        .pk
        .blind(&mut DefaultRng, &msg, true, &opts)
        .unwrap_or_else(|e| panic!("blind: {e}"));
    let blind_sig = kp
        .sk
        .blind_sign(&mut DefaultRng, &blinded.blind_msg, &opts)
        .unwrap_or_else(|e| panic!("blind_sign: {e}"));
    let sig = kp
        .pk
        .finalize(
            &blind_sig,
            &blinded.secret,
            blinded.msg_randomizer,
            &msg,
            &opts,
        )
        .unwrap_or_else(|e| panic!("finalize: {e}"));
    let randomizer = blinded
        .msg_randomizer
        .map(|r| r.0.to_vec())
        .unwrap_or_default();
    (key, sig.0, randomizer)
}

/// Runs an honest key ceremony through `st` (which must be in phase
/// KeyCeremony): every trustee of the manifest, signing with
/// `trustee_keys[i]` (trustee `i + 1`), announces, commits, reveals and
/// finishes; `admin` then posts the election key. Returns the trustees'
/// secret shares in trustee order. For tests and tools; panics if any step
/// fails.
pub fn run_key_ceremony(
    st: &mut crate::RecordState,
    admin: &SigningKey,
    trustee_keys: &[SigningKey],
) -> Vec<tallyboard_threshold::SecretShare> {
    use rand_core::OsRng;
    use tallyboard_threshold::{DkgMessage, Trustee, TrusteeKeyPair};
    let m = st.manifest().expect("manifest").clone();
    let (eid, fp) = (m.raw.election_id.clone(), m.fingerprint);
    let post = |st: &mut crate::RecordState, key: &SigningKey, p: Payload| {
        let e = entry(key, &eid, fp, p);
        st.check_and_apply(&e)
            .unwrap_or_else(|e| panic!("key ceremony entry refused: {e}"));
    };
    let dkg = |msg: DkgMessage| {
        Payload::Dkg(v1::DkgMessage {
            message: msg.to_bytes(),
        })
    };
    let params = *st.dkg().expect("dkg").params();
    let mut trustees: Vec<Trustee> = (1..=params.trustees())
        .map(|i| Trustee::new(params, i, TrusteeKeyPair::generate(&mut OsRng), &mut OsRng))
        .collect::<Result<_, _>>()
        .expect("trustee");
    for (t, k) in trustees.iter_mut().zip(trustee_keys) {
        let a = t.announce(&mut OsRng).expect("announce");
        post(st, k, dkg(DkgMessage::KeyAnnouncement(a)));
    }
    for (t, k) in trustees.iter_mut().zip(trustee_keys) {
        let c = t.commit().expect("commit");
        post(st, k, dkg(DkgMessage::Commitment(c)));
    }
    for (t, k) in trustees.iter_mut().zip(trustee_keys) {
        let r = t
            .reveal(st.dkg().expect("dkg"), &mut OsRng)
            .expect("reveal");
        post(st, k, dkg(DkgMessage::Reveal(r)));
    }
    for t in &mut trustees {
        let complaints = t
            .complain(st.dkg().expect("dkg"), &mut OsRng)
            .expect("complain");
        assert!(complaints.is_empty(), "an honest ceremony has no complaint");
    }
    let mut shares = Vec::new();
    let mut outcome = None;
    for t in &mut trustees {
        let (share, out) = t.finish(st.dkg().expect("dkg")).expect("finish");
        shares.push(share);
        outcome = Some(out);
    }
    let outcome = outcome.expect("at least one trustee");
    let ek = election_key_payload(&outcome.public_key, &outcome.qualification.qualified);
    post(st, admin, Payload::ElectionKey(ek));
    shares
}

/// The `ElectionKey` payload of a ceremony's threshold key and its
/// qualified trustees (`spec/record.md` §9).
pub fn election_key_payload(
    key: &tallyboard_threshold::ThresholdPublicKey,
    qualified: &[u8],
) -> v1::ElectionKey {
    v1::ElectionKey {
        joint_key: key.joint_key().to_bytes().to_vec(),
        verification_keys: key
            .verification_keys()
            .iter()
            .map(|v| v.compress().to_bytes().to_vec())
            .collect(),
        qualified: qualified.iter().map(|&q| u32::from(q)).collect(),
    }
}

/// The encrypted tally of `round` that `st` expects next
/// ([`crate::RecordState::expected_tally`]), as an entry payload (with no
/// aggregate before the manifest).
pub fn expected_tally_payload(st: &crate::RecordState, round: u32) -> v1::EncryptedTally {
    let Some(m) = st.manifest() else {
        return v1::EncryptedTally {
            round,
            ..Default::default()
        };
    };
    let agg = st.expected_tally(round);
    v1::EncryptedTally {
        round,
        contests: agg
            .iter()
            .map(|(c, d, cts)| v1::ContestTally {
                contest: m.raw.contests[*c].id.clone(),
                district: d.map(|d| m.raw.districts[d].id.clone()).unwrap_or_default(),
                ciphertexts: cts.iter().map(|x| x.to_bytes().to_vec()).collect(),
            })
            .collect(),
        ballots_counted: st.counted_in_round(round),
        log_size: st.len(),
    }
}

/// Posts partial decryptions of the tally at log index `tally_entry` by the
/// trustees `shares` belong to, then the result `admin` computes from them.
/// Returns the decrypted counts, per aggregate in tally order.
pub fn decrypt_and_post_result(
    st: &mut crate::RecordState,
    admin: &SigningKey,
    trustee_keys: &[SigningKey],
    shares: &[&tallyboard_threshold::SecretShare],
    tally_entry: u64,
) -> Vec<Vec<u64>> {
    use rand_core::OsRng;
    use tallyboard_threshold::PartialDecryption;
    let m = st.manifest().expect("manifest").clone();
    let (eid, fp) = (m.raw.election_id.clone(), m.fingerprint);
    let tally = st
        .tallies()
        .iter()
        .find(|t| t.index == tally_entry)
        .expect("tally")
        .clone();
    let cts = tally.flat_ciphertexts();
    let mut partials = Vec::new();
    for share in shares {
        let i = share.index();
        let p = PartialDecryption::create(share, &cts, &mut OsRng).expect("partial");
        let e = entry(
            &trustee_keys[usize::from(i) - 1],
            &eid,
            fp,
            Payload::PartialDecryption(v1::PartialDecryption {
                trustee: u32::from(i),
                tally_entry,
                partial: p.to_bytes(),
            }),
        );
        st.check_and_apply(&e)
            .unwrap_or_else(|e| panic!("partial decryption refused: {e}"));
        partials.push(p);
    }
    let (result, counts) = result_payload(st, tally_entry, &partials);
    let e = entry(admin, &eid, fp, Payload::Result(result));
    st.check_and_apply(&e)
        .unwrap_or_else(|e| panic!("result refused: {e}"));
    counts
}

/// [`sample_manifest`] turned into a caucus: `districts` as (id, delegates,
/// SDE weight), all with the sample issuer key; the contest `"align"` with
/// `options` (the groups) as the alignment contest; `"u"` as uncommitted
/// when it is one of the options; the Iowa 2020 rules.
pub fn sample_caucus_manifest(
    admin: &SigningKey,
    board: &BoardIdentity,
    seed: u8,
    districts: &[(&str, u32, &str)],
    options: &[&str],
) -> v1::Manifest {
    let mut m = sample_manifest(admin, board, seed);
    let rsa = m.districts[0].issuer_rsa_key.clone();
    m.districts = districts
        .iter()
        .map(|(id, delegates, w)| v1::District {
            id: (*id).into(),
            name: format!("District {id}"),
            issuer_rsa_key: rsa.clone(),
            delegates: *delegates,
            sde_weight: (*w).into(),
        })
        .collect();
    m.contests[0].id = "align".into();
    m.contests[0].options = options
        .iter()
        .map(|o| v1::ContestOption {
            id: (*o).into(),
            title: o.to_uppercase(),
        })
        .collect();
    m.caucus = Some(v1::CaucusRules {
        alignment_contest: "align".into(),
        uncommitted_option: if options.contains(&"u") {
            "u".into()
        } else {
            String::new()
        },
        viability_rule: "idp-2020".into(),
    });
    m
}

/// The result the administrator posts for the tally at log index
/// `tally_entry` of `st` from `partials` (valid partial decryptions of that
/// tally, at least `t`; `trustees_used` names their trustees in the order
/// given): their combination (`spec/threshold.md` §6.3) with the bound of
/// `spec/record.md` §10.3. Returns it with the counts, per aggregate in
/// tally order. For tests and tools; panics if the tally is missing or the
/// partials do not combine.
pub fn result_payload(
    st: &crate::RecordState,
    tally_entry: u64,
    partials: &[tallyboard_threshold::PartialDecryption],
) -> (v1::ElectionResult, Vec<Vec<u64>>) {
    let m = st.manifest().expect("manifest");
    let tally = st
        .tallies()
        .iter()
        .find(|t| t.index == tally_entry)
        .expect("tally");
    let max = tally.max_plaintext(m);
    let key = st.threshold_key().expect("key");
    let dec = tallyboard_threshold::combine(key, &tally.flat_ciphertexts(), partials, max)
        .expect("combine");
    let mut plaintexts = dec.plaintexts.into_iter();
    let (contests, counts): (Vec<_>, Vec<_>) = tally
        .contests
        .iter()
        .map(|(c, d, x)| {
            let n: Vec<u64> = plaintexts.by_ref().take(x.len()).collect();
            let result = v1::ContestResult {
                contest: m.raw.contests[*c].id.clone(),
                district: d.map(|d| m.raw.districts[d].id.clone()).unwrap_or_default(),
                counts: n.clone(),
            };
            (result, n)
        })
        .unzip();
    let result = v1::ElectionResult {
        tally_entry,
        trustees_used: partials.iter().map(|p| u32::from(p.trustee())).collect(),
        contests,
    };
    (result, counts)
}
