//! Reading a whole topic without a consumer group, from the start and then as it grows
//! (the stories and topology logs).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tracing::warn;

use super::{KafkaConfig, KafkaError, Result};

const TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| KafkaError::Timeout(format!("metadata task: {e}")))?
}

/// A background reader of every partition of one topic.
pub(crate) struct Tail {
    consumer: Arc<StreamConsumer>,
    topic: String,
    /// Next offset per partition handed to the callback.
    positions: Arc<Mutex<HashMap<i32, i64>>>,
}

impl Tail {
    /// Assigns every partition of `topic` from the beginning and hands each message to
    /// `on_message`, in a task of its own.
    pub(crate) async fn start(
        cfg: &KafkaConfig,
        topic: &str,
        mut on_message: impl FnMut(&BorrowedMessage<'_>) + Send + 'static,
    ) -> Result<Self> {
        let consumer: Arc<StreamConsumer> = Arc::new(cfg.reader().create()?);
        assign_all(&consumer, topic).await?;
        let positions = Arc::new(Mutex::new(HashMap::new()));
        let (c, pos, t) = (consumer.clone(), positions.clone(), topic.to_string());
        tokio::spawn(async move {
            loop {
                match c.recv().await {
                    Ok(m) => {
                        on_message(&m);
                        if let Ok(mut p) = pos.lock() {
                            p.insert(m.partition(), m.offset() + 1);
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, topic = %t, "Reading failed; retrying.");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
        Ok(Tail {
            consumer,
            topic: topic.to_string(),
            positions,
        })
    }

    /// Waits until the message at `offset` of `partition` (or a later one) has been
    /// handed over.
    pub(crate) async fn reached(
        &self,
        partition: i32,
        offset: i64,
        timeout: Duration,
    ) -> Result<()> {
        let what = format!("up to partition {partition} offset {offset}");
        self.wait(timeout, &what, || async {
            let at = self
                .positions
                .lock()
                .ok()
                .and_then(|p| p.get(&partition).copied());
            Ok(at.is_some_and(|next| next > offset))
        })
        .await
    }

    /// Waits until everything the topic held when called has been handed over.
    pub(crate) async fn catch_up(&self, timeout: Duration) -> Result<()> {
        self.wait(timeout, "to its end", || async {
            let positions = self.positions.lock().map(|p| p.clone()).unwrap_or_default();
            caught_up(&self.consumer, &self.topic, &positions).await
        })
        .await
    }

    /// Asks `done` every 20 ms until it holds, or `timeout` passes (reading `what`).
    async fn wait<F, Fut>(&self, timeout: Duration, what: &str, mut done: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if done().await? {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(KafkaError::Timeout(format!(
                    "reading {} {what} took over {timeout:?}",
                    self.topic
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Assigns every partition of `topic`, from the beginning.
async fn assign_all(consumer: &Arc<StreamConsumer>, topic: &str) -> Result<()> {
    let (c, t) = (consumer.clone(), topic.to_string());
    let n = blocking(move || {
        let md = c.fetch_metadata(Some(&t), TIMEOUT)?;
        Ok(md
            .topics()
            .iter()
            .find(|x| x.name() == t)
            .map_or(0, |x| x.partitions().len()))
    })
    .await?;
    if n == 0 {
        return Err(KafkaError::Timeout(format!(
            "topic {topic} has no partitions"
        )));
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..n as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    Ok(())
}

/// Whether `positions` (next offset read per partition) reached the end of every
/// partition of `topic`.
async fn caught_up(
    consumer: &Arc<StreamConsumer>,
    topic: &str,
    positions: &HashMap<i32, i64>,
) -> Result<bool> {
    let assigned = consumer.assignment()?;
    let parts: Vec<i32> = assigned.elements().iter().map(|e| e.partition()).collect();
    let (c, t) = (consumer.clone(), topic.to_string());
    let marks = blocking(move || {
        parts
            .into_iter()
            .map(|p| Ok((p, c.fetch_watermarks(&t, p, TIMEOUT)?)))
            .collect::<Result<Vec<_>>>()
    })
    .await?;
    Ok(marks
        .into_iter()
        .all(|(p, (low, high))| high <= low || positions.get(&p).is_some_and(|pos| *pos >= high)))
}
