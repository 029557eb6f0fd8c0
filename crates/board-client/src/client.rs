//! A verifying client of the board (`spec/board.md` §8), for the voter
//! client, observers and the verifier.
//!
//! Every answer that carries a board signature or a proof is checked before
//! it is returned: receipts against the entry bytes and the board key,
//! checkpoints against the board key, newer checkpoints against a trusted
//! one by consistency proof.

use std::time::Duration;

use tallyboard_proto::v1 as pb;
use tallyboard_tlog::{
    verify_checkpoint_consistency, verify_inclusion, Checkpoint, CheckpointError, ConsistencyError,
    Ed25519Verifier, Hash, ProofError, SignedCheckpoint,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::receipt::{verify_receipt, ReceiptError, VerifiedReceipt};

/// The generated gRPC client.
pub type RpcClient = pb::board_client::BoardClient<Channel>;

/// Largest response the client accepts.
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// Errors of the board client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting failed.
    #[error("cannot connect to the board")]
    Transport(#[from] tonic::transport::Error),
    /// The board answered with an error status.
    #[error("board error: {}: {}", .0.code(), .0.message())]
    Status(tonic::Status),
    /// A receipt did not verify.
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    /// A checkpoint is malformed or not signed by the board.
    #[error("bad checkpoint: {0}")]
    Checkpoint(CheckpointError),
    /// A newer checkpoint does not extend the trusted one: evidence of a
    /// fork, keep both checkpoints.
    #[error("{0}")]
    Consistency(ConsistencyError),
    /// An inclusion proof does not verify.
    #[error("bad inclusion proof: {0}")]
    Inclusion(ProofError),
    /// The board's answer is malformed or does not match the request.
    #[error("malformed board answer: {0}")]
    Malformed(String),
}

impl From<tonic::Status> for ClientError {
    fn from(s: tonic::Status) -> Self {
        ClientError::Status(s)
    }
}

impl From<CheckpointError> for ClientError {
    fn from(e: CheckpointError) -> Self {
        ClientError::Checkpoint(e)
    }
}

impl From<ConsistencyError> for ClientError {
    fn from(e: ConsistencyError) -> Self {
        ClientError::Consistency(e)
    }
}

impl From<ProofError> for ClientError {
    fn from(e: ProofError) -> Self {
        ClientError::Inclusion(e)
    }
}

/// An entry found by its tracker, verified against a signed checkpoint.
#[derive(Debug, Clone)]
pub struct FoundByTracker {
    /// Its log index.
    pub index: u64,
    /// Its exact bytes.
    pub entry: Vec<u8>,
    /// The checkpoint it was proven included in (with any cosignatures).
    pub checkpoint: SignedCheckpoint,
}

/// TLS settings of a client: the CA certificate(s) to trust (PEM) and the
/// server name to expect (default: the URL's host).
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// Trusted CA certificate(s), PEM.
    pub ca_pem: Vec<u8>,
    /// Expected server name.
    pub domain: Option<String>,
}

/// A client that verifies what the board says.
#[derive(Debug, Clone)]
pub struct BoardClient {
    rpc: RpcClient,
    board: Ed25519Verifier,
}

fn hashes(raw: &[Vec<u8>]) -> Result<Vec<Hash>, ClientError> {
    raw.iter()
        .map(|h| Hash::from_slice(h).map_err(|e| ClientError::Malformed(e.to_string())))
        .collect()
}

impl BoardClient {
    /// Connects to the board at `url` (`http://host:port`, or
    /// `https://host:port` with `tls`), trusting the board key `board`.
    pub async fn connect(
        url: &str,
        board: Ed25519Verifier,
        tls: Option<ClientTls>,
    ) -> Result<Self, ClientError> {
        let mut endpoint = Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30));
        if let Some(tls) = tls {
            let mut config =
                ClientTlsConfig::new().ca_certificate(Certificate::from_pem(tls.ca_pem));
            if let Some(domain) = tls.domain {
                config = config.domain_name(domain);
            }
            endpoint = endpoint.tls_config(config)?;
        }
        let channel = endpoint.connect().await?;
        Ok(Self::from_channel(channel, board))
    }

    /// A client over an existing channel.
    pub fn from_channel(channel: Channel, board: Ed25519Verifier) -> Self {
        let rpc = pb::board_client::BoardClient::new(channel)
            .max_decoding_message_size(MAX_RESPONSE_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES);
        BoardClient { rpc, board }
    }

    /// The board key this client trusts.
    pub fn board_key(&self) -> &Ed25519Verifier {
        &self.board
    }

    /// The raw gRPC client, for calls that need no verification.
    pub fn rpc(&mut self) -> &mut RpcClient {
        &mut self.rpc
    }

    /// Appends `entry` and verifies the receipt against the entry bytes and
    /// the board key.
    pub async fn append(&mut self, entry: Vec<u8>) -> Result<VerifiedReceipt, ClientError> {
        let response = self
            .rpc
            .append(pb::AppendRequest {
                entry: entry.clone(),
            })
            .await?
            .into_inner();
        let receipt = response
            .receipt
            .ok_or_else(|| ClientError::Malformed("append answered without a receipt".into()))?;
        Ok(verify_receipt(&receipt, &entry, &self.board)?)
    }

    /// The latest checkpoint, its signature verified.
    pub async fn checkpoint(&mut self) -> Result<SignedCheckpoint, ClientError> {
        let response = self
            .rpc
            .get_checkpoint(pb::GetCheckpointRequest {})
            .await?
            .into_inner();
        let signed = SignedCheckpoint::open(&response.checkpoint, &self.board)?;
        if signed.checkpoint().size() != response.tree_size {
            return Err(ClientError::Malformed(
                "tree_size differs from the checkpoint's".into(),
            ));
        }
        Ok(signed)
    }

    /// Looks an entry up by its tracker and verifies the answer: the
    /// checkpoint's signature, the entry's leaf hash and its inclusion proof
    /// (`spec/board.md` §5.8). `Ok(None)` if the board says no entry has
    /// that tracker.
    pub async fn find_by_tracker(
        &mut self,
        tracker: &Hash,
    ) -> Result<Option<FoundByTracker>, ClientError> {
        let response = match self
            .rpc
            .get_entry_by_leaf_hash(pb::GetEntryByLeafHashRequest {
                leaf_hash: tracker.0.to_vec(),
            })
            .await
        {
            Ok(r) => r.into_inner(),
            Err(s) if s.code() == tonic::Code::NotFound => return Ok(None),
            Err(s) => return Err(s.into()),
        };
        let signed = SignedCheckpoint::open(&response.checkpoint, &self.board)?;
        let cp = signed.checkpoint();
        if cp.size() != response.tree_size {
            return Err(ClientError::Malformed(
                "tree_size differs from the checkpoint's".into(),
            ));
        }
        let logged = response
            .entry
            .ok_or_else(|| ClientError::Malformed("no entry in the answer".into()))?;
        if tallyboard_tlog::leaf_hash(&logged.entry) != *tracker {
            return Err(ClientError::Malformed(
                "the entry does not hash to the tracker".into(),
            ));
        }
        let proof = hashes(&response.inclusion_proof)?;
        verify_inclusion(*tracker, logged.index, cp.size(), &proof, cp.root())?;
        Ok(Some(FoundByTracker {
            index: logged.index,
            entry: logged.entry,
            checkpoint: signed,
        }))
    }

    /// The newest checkpoint witnesses cosigned, its board signature
    /// verified (the cosignatures are the caller's to check against the
    /// manifest's witnesses), or `None` if none is cosigned yet.
    pub async fn cosigned_checkpoint(&mut self) -> Result<Option<SignedCheckpoint>, ClientError> {
        let response = self
            .rpc
            .get_checkpoint(pb::GetCheckpointRequest {})
            .await?
            .into_inner();
        if response.cosigned_checkpoint.is_empty() {
            return Ok(None);
        }
        let signed = SignedCheckpoint::open(&response.cosigned_checkpoint, &self.board)?;
        if signed.checkpoint().size() != response.cosigned_tree_size {
            return Err(ClientError::Malformed(
                "cosigned_tree_size differs from the checkpoint's".into(),
            ));
        }
        Ok(Some(signed))
    }

    /// Hands the board a witness's cosigned checkpoint; returns the witnesses
    /// whose cosignatures it now holds for that size.
    pub async fn add_cosignature(&mut self, note: Vec<u8>) -> Result<Vec<String>, ClientError> {
        let response = self
            .rpc
            .add_cosignature(pb::AddCosignatureRequest {
                cosigned_checkpoint: note,
            })
            .await?
            .into_inner();
        Ok(response.witnesses)
    }

    /// Checks that `newer` (a checkpoint whose signature was verified)
    /// extends `trusted`, fetching the consistency proof from the board.
    pub async fn prove_consistency(
        &mut self,
        trusted: &Checkpoint,
        newer: &Checkpoint,
    ) -> Result<(), ClientError> {
        let proof = if trusted.size() == 0 || trusted.size() >= newer.size() {
            Vec::new()
        } else {
            let response = self
                .rpc
                .get_consistency_proof(pb::GetConsistencyProofRequest {
                    old_size: trusted.size(),
                    new_size: newer.size(),
                })
                .await?
                .into_inner();
            if response.old_size != trusted.size() || response.new_size != newer.size() {
                return Err(ClientError::Malformed(
                    "consistency proof for other sizes".into(),
                ));
            }
            hashes(&response.proof)?
        };
        verify_checkpoint_consistency(trusted, newer, &proof)?;
        Ok(())
    }

    /// Fetches the latest checkpoint and checks that it extends `trusted`;
    /// returns it (to be trusted from now on).
    pub async fn check_consistency(
        &mut self,
        trusted: &Checkpoint,
    ) -> Result<SignedCheckpoint, ClientError> {
        let latest = self.checkpoint().await?;
        self.prove_consistency(trusted, latest.checkpoint()).await?;
        Ok(latest)
    }

    /// Checks with the board that `entry` is at `index` in the tree of
    /// `checkpoint` (a verified checkpoint).
    pub async fn prove_inclusion(
        &mut self,
        entry: &[u8],
        index: u64,
        checkpoint: &Checkpoint,
    ) -> Result<(), ClientError> {
        let response = self
            .rpc
            .get_inclusion_proof(pb::GetInclusionProofRequest {
                index,
                tree_size: checkpoint.size(),
            })
            .await?
            .into_inner();
        if response.tree_size != checkpoint.size() {
            return Err(ClientError::Malformed(
                "inclusion proof for another size".into(),
            ));
        }
        let proof = hashes(&response.proof)?;
        verify_inclusion(
            tallyboard_tlog::leaf_hash(entry),
            index,
            checkpoint.size(),
            &proof,
            checkpoint.root(),
        )?;
        Ok(())
    }

    /// A page of entries from `start` (`limit` 0 = the board's default) and
    /// the log size. Entries are not verified here: check them against a
    /// checkpoint (e.g. by recomputing the tree).
    pub async fn list_entries(
        &mut self,
        start: u64,
        limit: u32,
    ) -> Result<(Vec<pb::LoggedEntry>, u64), ClientError> {
        let response = self
            .rpc
            .list_entries(pb::ListEntriesRequest { start, limit })
            .await?
            .into_inner();
        for (expected, e) in (start..).zip(&response.entries) {
            if e.index != expected {
                return Err(ClientError::Malformed(format!(
                    "entry {} where {expected} was expected",
                    e.index
                )));
            }
        }
        Ok((response.entries, response.tree_size))
    }

    /// Streams entries from `start`: history, then live appends.
    pub async fn stream_entries(
        &mut self,
        start: u64,
    ) -> Result<tonic::Streaming<pb::StreamEntriesResponse>, ClientError> {
        Ok(self
            .rpc
            .stream_entries(pb::StreamEntriesRequest { start })
            .await?
            .into_inner())
    }
}
