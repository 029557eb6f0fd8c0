//! Exporting a board's record to a file (`spec/export.md`), checking the
//! board's signed checkpoints and consistency proofs on the way.

use std::io::Write;

use tallyboard_board_client::{BoardClient, ClientError};
use tallyboard_tlog::leaf_hash;

use crate::record::RecordWriter;
use crate::tree::LeafTree;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The board failed or answered something that does not verify.
    #[error(transparent)]
    Board(#[from] ClientError),
    /// Writing failed.
    #[error("writing the record: {0}")]
    Io(#[from] std::io::Error),
    /// The entries the board served do not hash to its own signed
    /// checkpoint: the file was written and is evidence.
    #[error("the {size} entries served by the board do not hash to its signed checkpoint")]
    RootMismatch {
        /// Checkpoint size.
        size: u64,
    },
    /// The board served fewer entries than its checkpoint covers.
    #[error("the board served {got} of the {size} entries its checkpoint covers")]
    Short {
        /// Entries received.
        got: u64,
        /// Checkpoint size.
        size: u64,
    },
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    /// Entries written (the checkpoint's size).
    pub entries: u64,
    /// The signed checkpoint written to the file.
    pub checkpoint: Vec<u8>,
    /// The board's latest checkpoint after the download, proven consistent
    /// with the exported one by the board's consistency proof.
    pub latest: Vec<u8>,
    /// Size of `latest`.
    pub latest_size: u64,
}

/// Downloads every entry covered by the board's current signed checkpoint
/// (ListEntries, page by page) into `writer` as a record file, checks that
/// they hash to that checkpoint, then fetches the board's latest checkpoint
/// and checks the board's consistency proof from the exported one to it.
pub async fn export_record<W: Write>(
    client: &mut BoardClient,
    writer: W,
) -> Result<ExportSummary, ExportError> {
    let cp = client.checkpoint().await?;
    let size = cp.checkpoint().size();
    let mut out = RecordWriter::new(writer, size)?;
    let mut tree = LeafTree::with_capacity(size);
    let mut next = 0u64;
    while next < size {
        let (page, _) = client.list_entries(next, 0).await?;
        if page.is_empty() {
            return Err(ExportError::Short { got: next, size });
        }
        for e in page {
            if next == size {
                break;
            }
            tree.push(leaf_hash(&e.entry));
            out.entry(&e.entry)?;
            next += 1;
        }
    }
    out.finish(cp.as_bytes())?;
    if tree.root(size) != Some(cp.checkpoint().root()) {
        return Err(ExportError::RootMismatch { size });
    }
    let latest = client.check_consistency(cp.checkpoint()).await?;
    Ok(ExportSummary {
        entries: size,
        checkpoint: cp.as_bytes().to_vec(),
        latest_size: latest.checkpoint().size(),
        latest: latest.as_bytes().to_vec(),
    })
}
