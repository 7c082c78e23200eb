//! The latest topology of each cluster, read from the compacted topology topic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::buffer::Buffer;
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::Message;
use tapio_schemas::Relation;
use tapio_schemas::rows::from_batch;
use tapio_schemas::wire::decode_ipc;
use tracing::warn;

use super::log::{assign_all, caught_up};
use super::{KafkaConfig, KafkaError, Result};

#[derive(Default)]
struct Latest {
    /// Cluster → (version: how many snapshots were read, relations).
    clusters: HashMap<String, (u64, Arc<Vec<Relation>>)>,
    positions: HashMap<i32, i64>,
    unreadable: u64,
}

/// A reader of the topology topic (every partition, from the start).
pub struct TopologyLog {
    latest: Arc<Mutex<Latest>>,
    consumer: Arc<StreamConsumer>,
    topic: String,
}

impl TopologyLog {
    /// Starts reading the topology topic in the background.
    pub async fn start(cfg: &KafkaConfig) -> Result<Self> {
        let consumer: Arc<StreamConsumer> = Arc::new(cfg.reader().create()?);
        assign_all(&consumer, &cfg.topology_topic).await?;
        let latest = Arc::new(Mutex::new(Latest::default()));
        let (c, l) = (consumer.clone(), latest.clone());
        tokio::spawn(async move {
            loop {
                let m = match c.recv().await {
                    Ok(m) => m,
                    Err(e) => {
                        warn!(error = %e, "Reading the topology topic failed; retrying.");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                let cluster = m
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .unwrap_or_default();
                let relations = m.payload().and_then(|p| {
                    let (_, batches) = decode_ipc(Buffer::from_vec(p.to_vec())).ok()?;
                    let mut out = Vec::new();
                    for b in &batches {
                        out.extend(from_batch::<Relation>(b).ok()?);
                    }
                    Some(out)
                });
                let Ok(mut l) = l.lock() else { break };
                l.positions.insert(m.partition(), m.offset() + 1);
                match relations {
                    Some(r) => {
                        let v = l.clusters.get(&cluster).map_or(0, |(v, _)| *v) + 1;
                        l.clusters.insert(cluster, (v, Arc::new(r)));
                    }
                    None => l.unreadable += 1,
                }
            }
        });
        Ok(TopologyLog {
            latest,
            consumer,
            topic: cfg.topology_topic.clone(),
        })
    }

    /// Waits until everything the topic held when called has been read.
    pub async fn catch_up(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let positions = self
                .latest
                .lock()
                .map(|s| s.positions.clone())
                .unwrap_or_default();
            if caught_up(&self.consumer, &self.topic, &positions).await? {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(KafkaError::Timeout(format!(
                    "reading {} took over {timeout:?}",
                    self.topic
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The cluster's latest topology and its version, if any was published.
    pub fn get(&self, cluster: &str) -> Option<(u64, Arc<Vec<Relation>>)> {
        self.latest
            .lock()
            .ok()
            .and_then(|l| l.clusters.get(cluster).cloned())
    }

    /// Messages on the topic that were not topology snapshots.
    pub fn unreadable(&self) -> u64 {
        self.latest.lock().map(|s| s.unreadable).unwrap_or(0)
    }
}
