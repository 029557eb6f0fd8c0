//! The gRPC `tallyboard.v1.Issuer` service: decodes requests, calls
//! [`IssuerCore`], maps errors to statuses (`spec/issuer.md` §4, §7).

use std::sync::Arc;

use tallyboard_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::issue::IssuerCore;

/// Largest request accepted: the fields' limits with room for framing.
pub const MAX_REQUEST_BYTES: usize = 4096;
/// Largest response sent.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The `Issuer` gRPC service.
#[derive(Debug, Clone)]
pub struct IssuerService {
    core: Arc<IssuerCore>,
}

impl IssuerService {
    /// A service over `core`.
    pub fn new(core: Arc<IssuerCore>) -> Self {
        IssuerService { core }
    }

    /// The tonic server, with message size limits.
    pub fn into_server(self) -> pb::issuer_server::IssuerServer<Self> {
        pb::issuer_server::IssuerServer::new(self)
            .max_decoding_message_size(MAX_REQUEST_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES)
    }
}

#[tonic::async_trait]
impl pb::issuer_server::Issuer for IssuerService {
    async fn get_issuer_keys(
        &self,
        _request: Request<pb::GetIssuerKeysRequest>,
    ) -> Result<Response<pb::GetIssuerKeysResponse>, Status> {
        let keys = self
            .core
            .public_keys()
            .into_iter()
            .map(|(district, key)| pb::DistrictKey {
                district,
                rsa_public_key: key.to_der().to_vec(),
            })
            .collect();
        Ok(Response::new(pb::GetIssuerKeysResponse { keys }))
    }

    async fn issue_credential(
        &self,
        request: Request<pb::IssueCredentialRequest>,
    ) -> Result<Response<pb::IssueCredentialResponse>, Status> {
        let peer = request.remote_addr().map(|a| a.ip());
        let request = request.into_inner();
        let issued = self.core.issue(&request, peer).await?;
        Ok(Response::new(pb::IssueCredentialResponse {
            district: issued.district,
            blind_signature: issued.blind_signature,
            issuance_entry: issued.issuance_entry,
        }))
    }
}
