//! The gRPC `tallyboard.v1.Board` service: decodes requests, calls
//! [`Board`], maps errors to statuses (`spec/board.md` §5).

use tallyboard_proto::v1 as pb;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::board::Board;
use crate::stream::{start_stream, StreamItem};

/// The `Board` gRPC service over a [`Board`].
#[derive(Debug, Clone)]
pub struct BoardService {
    board: Board,
}

impl BoardService {
    /// A service for `board`.
    pub fn new(board: Board) -> Self {
        BoardService { board }
    }

    /// The tonic server for this service, with the board's message size
    /// limits: requests up to the entry limit plus 1 KiB of framing,
    /// responses up to 8 MiB.
    pub fn into_server(self) -> pb::board_server::BoardServer<Self> {
        let max_request = self.board.limits().max_entry_bytes + 1024;
        pb::board_server::BoardServer::new(self)
            .max_decoding_message_size(max_request)
            .max_encoding_message_size(8 << 20)
    }
}

fn hashes(proof: Vec<tallyboard_tlog::Hash>) -> Vec<Vec<u8>> {
    proof.into_iter().map(|h| h.0.to_vec()).collect()
}

#[tonic::async_trait]
impl pb::board_server::Board for BoardService {
    async fn append(
        &self,
        request: Request<pb::AppendRequest>,
    ) -> Result<Response<pb::AppendResponse>, Status> {
        let entry = request.into_inner().entry;
        let receipt = self.board.append(entry).await?;
        Ok(Response::new(pb::AppendResponse {
            receipt: Some(receipt.to_proto()),
        }))
    }

    async fn get_checkpoint(
        &self,
        _request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        let (tree_size, checkpoint) = self.board.served_checkpoint();
        let cosigned = self.board.cosigned_checkpoint();
        Ok(Response::new(pb::GetCheckpointResponse {
            checkpoint,
            tree_size,
            cosigned_checkpoint: cosigned
                .as_ref()
                .map(|c| c.note.clone())
                .unwrap_or_default(),
            cosigned_tree_size: cosigned.as_ref().map_or(0, |c| c.size),
        }))
    }

    async fn list_entries(
        &self,
        request: Request<pb::ListEntriesRequest>,
    ) -> Result<Response<pb::ListEntriesResponse>, Status> {
        let req = request.into_inner();
        let (entries, tree_size) = self.board.list_entries(req.start, req.limit).await?;
        Ok(Response::new(pb::ListEntriesResponse {
            entries: (req.start..)
                .zip(entries)
                .map(|(index, entry)| pb::LoggedEntry { index, entry })
                .collect(),
            tree_size,
        }))
    }

    type StreamEntriesStream = ReceiverStream<StreamItem>;

    async fn stream_entries(
        &self,
        request: Request<pb::StreamEntriesRequest>,
    ) -> Result<Response<Self::StreamEntriesStream>, Status> {
        let rx = start_stream(self.board.clone(), request.into_inner().start)?;
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::GetInclusionProofResponse>, Status> {
        let req = request.into_inner();
        let p = self.board.inclusion_proof(req.index, req.tree_size).await?;
        Ok(Response::new(pb::GetInclusionProofResponse {
            leaf_hash: p.leaf_hash.0.to_vec(),
            tree_size: p.tree_size,
            proof: hashes(p.proof),
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::GetConsistencyProofResponse>, Status> {
        let req = request.into_inner();
        let p = self
            .board
            .consistency_proof(req.old_size, req.new_size)
            .await?;
        Ok(Response::new(pb::GetConsistencyProofResponse {
            old_size: p.old_size,
            new_size: p.new_size,
            proof: hashes(p.proof),
        }))
    }

    async fn get_entry_by_leaf_hash(
        &self,
        request: Request<pb::GetEntryByLeafHashRequest>,
    ) -> Result<Response<pb::GetEntryByLeafHashResponse>, Status> {
        let req = request.into_inner();
        let found = self.board.entry_by_leaf_hash(&req.leaf_hash).await?;
        Ok(Response::new(pb::GetEntryByLeafHashResponse {
            entry: Some(pb::LoggedEntry {
                index: found.index,
                entry: found.entry,
            }),
            checkpoint: found.checkpoint,
            tree_size: found.proof.tree_size,
            inclusion_proof: hashes(found.proof.proof),
        }))
    }

    async fn add_cosignature(
        &self,
        request: Request<pb::AddCosignatureRequest>,
    ) -> Result<Response<pb::AddCosignatureResponse>, Status> {
        let req = request.into_inner();
        let (tree_size, witnesses) = self.board.add_cosignature(req.cosigned_checkpoint).await?;
        Ok(Response::new(pb::AddCosignatureResponse {
            tree_size,
            witnesses,
        }))
    }
}
