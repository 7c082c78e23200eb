//! The latest topology of each cluster, read from the compacted topology topic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::buffer::Buffer;
use rdkafka::message::Message;
use tapio_schemas::Relation;
use tapio_schemas::rows::from_batch;
use tapio_schemas::wire::decode_ipc;

use super::log::Tail;
use super::{KafkaConfig, Result};

#[derive(Default)]
struct Latest {
    /// Cluster → (version: how many snapshots were read, relations).
    clusters: HashMap<String, (u64, Arc<Vec<Relation>>)>,
    unreadable: u64,
}

/// A reader of the topology topic (every partition, from the start).
pub struct TopologyLog {
    latest: Arc<Mutex<Latest>>,
    tail: Tail,
}

fn relations(payload: &[u8]) -> Option<Vec<Relation>> {
    let (_, batches) = decode_ipc(Buffer::from_vec(payload.to_vec())).ok()?;
    let mut out = Vec::new();
    for b in &batches {
        out.extend(from_batch::<Relation>(b).ok()?);
    }
    Some(out)
}

impl TopologyLog {
    /// Starts reading the topology topic in the background.
    pub async fn start(cfg: &KafkaConfig) -> Result<Self> {
        let latest = Arc::new(Mutex::new(Latest::default()));
        let l = latest.clone();
        let tail = Tail::start(cfg, &cfg.topology_topic, move |m| {
            let cluster = m
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default();
            let rel = m.payload().and_then(relations);
            let Ok(mut l) = l.lock() else { return };
            match rel {
                Some(r) => {
                    let v = l.clusters.get(&cluster).map_or(0, |(v, _)| *v) + 1;
                    l.clusters.insert(cluster, (v, Arc::new(r)));
                }
                None => l.unreadable += 1,
            }
        })
        .await?;
        Ok(TopologyLog { latest, tail })
    }

    /// Waits until everything the topic held when called has been read.
    pub async fn catch_up(&self, timeout: Duration) -> Result<()> {
        self.tail.catch_up(timeout).await
    }

    /// Waits until the snapshot at `offset` of `partition` (or a later message) has been
    /// read; see [`tapio_schemas::wire::HEADER_TOPOLOGY`].
    pub async fn reached(&self, partition: i32, offset: i64, timeout: Duration) -> Result<()> {
        self.tail.reached(partition, offset, timeout).await
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
