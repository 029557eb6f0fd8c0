//! Enrollment over gRPC with the real issuer service: the client blinds a
//! credential key it made, the issuer checks the enrollment code against the
//! roll and blind-signs, and the client finalizes and checks the signature
//! against the district key of the manifest it replayed. Then the credential
//! is saved, loaded, and votes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::World;
use tallyboard_client::{cast, enroll, fetch_election, prepare, ClientError, Credential};
use tallyboard_issuer::codes::Argon2Profile;
use tallyboard_issuer::credential::TEST_RSA_BITS;
use tallyboard_issuer::{
    init_data_dir, EnrollmentCode, InitOptions, IssuerConfig, ObtainError, Roll,
};
use tallyboard_protocol::testkit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_with_the_issuer_save_load_and_vote() {
    // The issuer's data directory: keys and codes for a two-voter roll.
    let issuer_dir = tempfile::tempdir().unwrap();
    let roll = Roll::parse_csv("voter_id,district\nalice,d1\nbob,d1\n").unwrap();
    let init = init_data_dir(
        issuer_dir.path(),
        &roll,
        &InitOptions {
            rsa_bits: TEST_RSA_BITS,
            argon2: Argon2Profile::Fast,
            write_codes_file: false,
        },
    )
    .unwrap();
    let d1_key = init.district_keys["d1"].to_der().to_vec();
    let signing_key = init.signing_key.to_bytes().to_vec();
    // The election names the issuer's keys.
    let w = World::start_with(31, |m| {
        m.districts[0].issuer_rsa_key = d1_key;
        m.issuer_signing_key = signing_key;
    })
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer_url = format!("http://{}", listener.local_addr().unwrap());
    let config = IssuerConfig::new(
        issuer_dir.path(),
        listener.local_addr().unwrap(),
        w.board.url(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let issuer = tokio::spawn(tallyboard_issuer::serve_with_listener(
        config,
        listener,
        async {
            let _ = stopped.await;
        },
    ));

    let mut board = w.voter_client().await;
    let election = fetch_election(&mut board).await.unwrap();
    let code = |voter: &str| {
        init.codes
            .iter()
            .find(|c| c.voter_id == voter)
            .unwrap()
            .code
            .display()
            .to_string()
    };
    let cred = enroll(&issuer_url, "alice", &code("alice"), &election)
        .await
        .unwrap();
    cred.verify(&election).unwrap();
    assert_eq!(cred.district(), "d1");
    assert_eq!(cred.election_fingerprint(), &w.fp);
    // Codes are single use; a wrong code is refused; a mistyped one is not sent.
    let err = enroll(&issuer_url, "alice", &code("alice"), &election)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Enroll(ObtainError::Status(_))),
        "{err}"
    );
    let wrong = EnrollmentCode::generate(&mut rand_core::OsRng)
        .display()
        .to_string();
    let err = enroll(&issuer_url, "bob", &wrong, &election)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Enroll(ObtainError::Status(_))),
        "{err}"
    );
    let err = enroll(&issuer_url, "bob", "not a code", &election)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Enroll(ObtainError::Code(_))),
        "{err}"
    );

    // Save (0600, never overwriting), load, Debug redacted.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alice.cred");
    cred.save(&path).unwrap();
    assert!(matches!(cred.save(&path), Err(ClientError::Io { .. })));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let loaded = Credential::load(&path).unwrap();
    assert_eq!(loaded.public_key(), cred.public_key());
    assert_eq!(loaded.signature(), cred.signature());
    assert_eq!(
        loaded.to_file_string().as_str(),
        cred.to_file_string().as_str()
    );
    let debug = format!("{loaded:?}");
    assert!(debug.contains("[REDACTED]"));
    let text = cred.to_file_string();
    let secret_line = text.lines().find(|l| l.starts_with("secret-key ")).unwrap();
    assert!(!debug.contains(&secret_line["secret-key ".len()..]));

    // The loaded credential votes (the issuer recorded its issuance).
    let receipt = cast(
        &mut board,
        prepare(&election, &loaded, &[vec![0, 0, 1]], 0).unwrap(),
    )
    .await
    .unwrap();
    assert!(receipt.index() > 0);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Credential::load(&path),
            Err(ClientError::Credential(_))
        ));
    }
    let _ = stop.send(());
    issuer.await.unwrap().unwrap();
}

#[test]
fn credential_files_are_parsed_strictly() {
    let (key, sig, rnd) = testkit::sample_credential(&[9; 32], 5);
    let cred = Credential::new(key, [9; 32], "d1", sig, rnd);
    let text = cred.to_file_string();
    let back = Credential::from_file_str(&text).unwrap();
    assert_eq!(back.public_key(), cred.public_key());
    assert_eq!(back.election_fingerprint(), &[9; 32]);
    let swap_public = {
        let other = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let line = text.lines().find(|l| l.starts_with("public-key ")).unwrap();
        text.replacen(
            line,
            &format!(
                "public-key {}",
                hex::encode(other.verifying_key().as_bytes())
            ),
            1,
        )
    };
    for bad in [
        text.replacen("tallyboard/v1/credential", "tallyboard/v2/credential", 1),
        swap_public,
        text.replacen("district d1", "district ", 1),
        format!("{}extra\n", text.as_str()),
        text.trim_end().to_string(),
        text.replacen("election ", "election 00", 1),
    ] {
        assert!(Credential::from_file_str(&bad).is_err(), "accepted:\n{bad}");
    }
}
