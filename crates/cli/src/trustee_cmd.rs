//! `tallyboard trustee ...`: a trustee's key ceremony and partial
//! decryptions (`spec/manifest.md` §7.3). A trustee keeps its keys, its
//! ceremony state and its secret share in one directory (files mode 0600).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use tallyboard_authority::keys::TrusteeDir;
use tallyboard_authority::{
    decrypt_tally_with, run_ceremony_with, CeremonyEvent, CeremonyOptions, DecryptOutcome,
};

use crate::admin_cmd::BoardArgs;

/// Trustee commands.
#[derive(Debug, Subcommand)]
pub enum TrusteeCommand {
    /// Make a trustee's keys in DIR: `signing.key` (Ed25519, signs the
    /// trustee's entries; its public key goes into the manifest) and
    /// `encryption.key` (ristretto255, receives shares in the ceremony).
    /// Prints the public signing key.
    Keygen {
        /// The trustee directory (created, mode 0700; keys never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Take part in the key ceremony through the board until the election
    /// key is posted; writes the secret share to DIR/share.key. Resumable:
    /// progress is saved in DIR/ceremony.state after every step.
    Ceremony {
        #[command(flatten)]
        board: BoardArgs,
        /// The trustee directory (from `trustee keygen`).
        #[arg(long)]
        dir: PathBuf,
        /// This trustee's index in the manifest (default: found by its key).
        #[arg(long)]
        index: Option<u8>,
        /// Seconds to wait for the other trustees' reveals before judging
        /// the shares received.
        #[arg(long, default_value_t = 600)]
        reveal_timeout: u64,
        /// Give up after this many seconds (default: wait).
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Post this trustee's partial decryption of an encrypted tally.
    Decrypt {
        #[command(flatten)]
        board: BoardArgs,
        /// The trustee directory (holding `share.key`).
        #[arg(long)]
        dir: PathBuf,
        /// Log index of the encrypted tally.
        #[arg(long)]
        tally_entry: u64,
    },
}

/// Runs a trustee command.
pub fn run(cmd: TrusteeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TrusteeCommand::Keygen { out } => {
            let public = TrusteeDir::new(&out).generate()?;
            println!("{}", hex::encode(public.as_bytes()));
            eprintln!(
                "wrote the keys of a trustee to {}; the line above (also in signing.pub) is the manifest's signing_key",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        other => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(run_online(other)),
    }
}

async fn run_online(cmd: TrusteeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TrusteeCommand::Keygen { .. } => anyhow::bail!("this command runs without the board"),
        TrusteeCommand::Ceremony {
            board,
            dir,
            index,
            reveal_timeout,
            timeout,
        } => {
            let dir = TrusteeDir::new(dir);
            let (signing, keys) = dir.load_keys()?;
            let mut follower = board.follow().await?;
            let index = match index {
                Some(i) => i,
                None => {
                    let st = follower.state();
                    let m = st
                        .manifest()
                        .context("the board holds no manifest yet: give --index")?;
                    let i = m
                        .trustee_index(&signing.verifying_key())
                        .context("this trustee's signing key is not in the manifest")?;
                    u8::try_from(i).context("trustee index")?
                }
            };
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let printer = tokio::spawn(async move {
                while let Some(e) = rx.recv().await {
                    match e {
                        CeremonyEvent::Announced => eprintln!("key announced"),
                        CeremonyEvent::Committed => {
                            eprintln!("committed; waiting for every trustee to commit")
                        }
                        CeremonyEvent::Revealed => {
                            eprintln!("revealed; waiting for every trustee to reveal")
                        }
                        CeremonyEvent::Complained(0) => {
                            eprintln!("every share received is valid; waiting for the election key")
                        }
                        CeremonyEvent::Complained(n) => eprintln!(
                            "posted {n} complaint(s) about bad shares; waiting for the election key"
                        ),
                        CeremonyEvent::Finished => eprintln!("share computed and checked"),
                    }
                }
            });
            let opts = CeremonyOptions {
                reveal_timeout: Some(Duration::from_secs(reveal_timeout)),
                timeout: timeout.map(Duration::from_secs),
                share_path: Some(dir.share_path()),
                events: Some(tx),
                ..CeremonyOptions::default()
            };
            let share = run_ceremony_with(
                &mut follower,
                &signing,
                keys,
                index,
                Some(&dir.state_path()),
                &opts,
            )
            .await?;
            drop(opts);
            let _ = printer.await;
            let key = follower
                .state()
                .election_key()
                .map(|k| hex::encode(k.to_bytes()))
                .unwrap_or_default();
            println!(
                "trustee {} holds its share in {} (election key {key})",
                share.index(),
                dir.share_path().display()
            );
        }
        TrusteeCommand::Decrypt {
            board,
            dir,
            tally_entry,
        } => {
            let dir = TrusteeDir::new(dir);
            let (signing, _) = dir.load_keys()?;
            let share = dir.load_share()?;
            let mut follower = board.follow().await?;
            match decrypt_tally_with(&mut follower, &signing, &share, tally_entry).await? {
                DecryptOutcome::Posted(i) => println!(
                    "trustee {}: partial decryption of the tally at entry {tally_entry} posted at entry {i}",
                    share.index()
                ),
                DecryptOutcome::AlreadyPosted => println!(
                    "trustee {}: the partial decryption of the tally at entry {tally_entry} was already on the record",
                    share.index()
                ),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
