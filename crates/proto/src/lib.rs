//! The `tallyboard.v1` protobuf messages and gRPC services, generated from
//! `proto/tallyboard/v1/*.proto`. Those files are the API contract for clients
//! in any language; `spec/record.md` and `spec/board.md` give their semantics.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Generated types of package `tallyboard.v1`.
pub mod v1 {
    tonic::include_proto!("tallyboard.v1");
}

/// The encoded `FileDescriptorSet` of the API, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("tallyboard_v1_descriptor");
