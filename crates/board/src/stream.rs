//! `StreamEntries`: history, then live appends (`spec/board.md` §5.4).
//!
//! Each stream is a task that sends into a bounded channel drained by the
//! gRPC response body. It subscribes to committed batches *before* reading
//! the head, so no batch falls between the history it reads from storage and
//! the live batches it receives. The sequencer never waits for a stream:
//! publishing a batch is a non-blocking broadcast. A stream whose client is
//! slow stops receiving (its task waits on the full channel), falls behind
//! the broadcast buffer, and then catches up from storage.

use std::sync::Arc;

use tallyboard_proto::v1 as pb;
use tokio::sync::{broadcast, mpsc, OwnedSemaphorePermit};
use tonic::Status;

use crate::board::Board;
use crate::error::BoardError;
use crate::sequencer::CommittedBatch;

/// Items of a stream.
pub type StreamItem = Result<pb::StreamEntriesResponse, Status>;

/// Starts a stream of entries from `start` (at most the current size).
pub fn start_stream(board: Board, start: u64) -> Result<mpsc::Receiver<StreamItem>, BoardError> {
    let size = board.head().size;
    if start > size {
        return Err(BoardError::OutOfRange(format!(
            "board.range: start {start} is beyond the log size {size}"
        )));
    }
    let permit = board.stream_permit()?;
    let (tx, rx) = mpsc::channel(board.limits().stream_buffer.max(1));
    tokio::spawn(run(board, start, tx, permit));
    Ok(rx)
}

fn message(index: u64, entry: Vec<u8>, checkpoint: Option<&[u8]>) -> StreamItem {
    Ok(pb::StreamEntriesResponse {
        entry: Some(pb::LoggedEntry { index, entry }),
        checkpoint: checkpoint.map(<[u8]>::to_vec).unwrap_or_default(),
    })
}

async fn run(
    board: Board,
    start: u64,
    tx: mpsc::Sender<StreamItem>,
    _permit: OwnedSemaphorePermit,
) {
    let mut closing = board.closing();
    tokio::select! {
        () = follow(&board, start, &tx) => {}
        () = tx.closed() => {}
        _ = closing.wait_for(|c| *c) => {
            // Never wait on a slow client while shutting down.
            let _ = tx.try_send(Err(BoardError::closing().into()));
        }
    }
}

async fn follow(board: &Board, start: u64, tx: &mpsc::Sender<StreamItem>) {
    let mut next = start;
    loop {
        let mut live = board.subscribe();
        // Catch up from storage.
        loop {
            let head = board.head();
            if next >= head.size {
                break;
            }
            let page = match board.read_entries(next, head.size).await {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            };
            for entry in page {
                let last = next + 1 == head.size;
                let cp = last.then(|| board.with_cosignatures(&head));
                if tx.send(message(next, entry, cp.as_deref())).await.is_err() {
                    return;
                }
                next += 1;
            }
        }
        // Follow live batches until the stream lags.
        loop {
            match live.recv().await {
                Ok(batch) => match send_batch(board, &batch, &mut next, tx).await {
                    Ok(true) => {}
                    Ok(false) => break, // gap: re-read from storage
                    Err(()) => return,
                },
                Err(broadcast::error::RecvError::Lagged(_)) => break,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

/// Sends the part of `batch` from `next` on. `Ok(false)` if the batch starts
/// after `next` (entries were missed), `Err` if the client went away.
async fn send_batch(
    board: &Board,
    batch: &Arc<CommittedBatch>,
    next: &mut u64,
    tx: &mpsc::Sender<StreamItem>,
) -> Result<bool, ()> {
    if batch.first > *next {
        return Ok(false);
    }
    let end = batch.first + batch.entries.len() as u64;
    while *next < end {
        let offset = usize::try_from(*next - batch.first).map_err(|_| ())?;
        let Some(entry) = batch.entries.get(offset) else {
            return Ok(false);
        };
        let cp = (*next + 1 == end).then(|| board.with_cosignatures(&batch.head));
        tx.send(message(*next, entry.clone(), cp.as_deref()))
            .await
            .map_err(|_| ())?;
        *next += 1;
    }
    Ok(true)
}
