//! Events from a live collector into Arrow batches: a batch closes when it holds
//! `max_rows` rows or when `linger` has passed since its first row, whichever is first,
//! so a quiet node still delivers promptly and a busy one delivers in large batches.

use std::time::Duration;

use arrow::array::RecordBatch;
use tapio_schemas::{EventBatchBuilder, UnifiedEvent};
use tokio::sync::mpsc;

/// How batches are cut.
#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    /// Rows at which a batch closes.
    pub max_rows: usize,
    /// Time after a batch's first row at which it closes.
    pub linger: Duration,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy {
            max_rows: 8192,
            linger: Duration::from_millis(200),
        }
    }
}

/// The next batch, waiting for its first row as long as needed; `None` once the channel
/// is closed and empty.
pub async fn next_batch(
    rx: &mut mpsc::Receiver<UnifiedEvent>,
    policy: BatchPolicy,
) -> Option<RecordBatch> {
    let first = rx.recv().await?;
    let mut b = EventBatchBuilder::new();
    b.append(&first);
    let deadline = tokio::time::Instant::now() + policy.linger;
    while b.len() < policy.max_rows {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(e)) => b.append(&e),
            Ok(None) | Err(_) => break,
        }
    }
    Some(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapio_schemas::{ObjectRef, Severity};

    fn ev(i: usize) -> UnifiedEvent {
        UnifiedEvent::new(
            format!("e{i}"),
            i as i64,
            "kernel",
            "kernel.process_exit",
            Severity::Info,
            ObjectRef::new("Node", "", "n"),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn cuts_by_rows_then_by_linger_then_ends() {
        let (tx, mut rx) = mpsc::channel(100);
        for i in 0..5 {
            tx.send(ev(i)).await.unwrap();
        }
        let policy = BatchPolicy {
            max_rows: 3,
            linger: Duration::from_secs(1),
        };
        assert_eq!(next_batch(&mut rx, policy).await.unwrap().num_rows(), 3);
        // Two rows left and the sender still open: the linger closes the batch.
        assert_eq!(next_batch(&mut rx, policy).await.unwrap().num_rows(), 2);
        drop(tx);
        assert!(next_batch(&mut rx, policy).await.is_none());
    }
}
