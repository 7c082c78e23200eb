//! Consuming event batches in a consumer group.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::buffer::Buffer;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tapio_schemas::{EVENT_SCHEMA_VERSION, event_schema, wire};
use tracing::{info, warn};

use super::{KafkaConfig, Result};

/// One message from the events topic.
#[derive(Debug)]
pub struct Received {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// The cluster (the key).
    pub cluster: String,
    /// Where the topology snapshot these events were sent after is stored (partition,
    /// offset of the topology topic), when the producer said
    /// ([`wire::HEADER_TOPOLOGY`]).
    pub topology: Option<(i32, i64)>,
    /// What it holds.
    pub body: Body,
}

/// What a message holds.
#[derive(Debug)]
pub enum Body {
    /// UnifiedEvent batches.
    Events(Vec<RecordBatch>),
    /// The cluster's capture is complete.
    EndOfCapture,
    /// A message Tapio cannot read (a foreign producer, a newer schema, a corrupt
    /// value): why. Counted and skipped; its offset is still committed.
    Unreadable(String),
}

/// A partition change from the group coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// This instance now owns these partitions.
    Assigned(Vec<i32>),
    /// These partitions went to another instance: drop their state.
    Revoked(Vec<i32>),
}

/// Records rebalances for the processing loop.
pub struct GroupContext {
    changes: Arc<Mutex<Vec<Assignment>>>,
}

impl ClientContext for GroupContext {}

fn partitions(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

impl ConsumerContext for GroupContext {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let change = match rebalance {
            Rebalance::Assign(tpl) => Assignment::Assigned(partitions(tpl)),
            Rebalance::Revoke(tpl) => Assignment::Revoked(partitions(tpl)),
            Rebalance::Error(e) => {
                warn!(error = %e, "Rebalance failed.");
                return;
            }
        };
        info!(?change, "Partitions rebalanced.");
        if let Ok(mut c) = self.changes.lock() {
            c.push(change);
        }
    }
}

/// A member of a consumer group on the events topic. Offsets are committed only by
/// [`EventSource::commit`], never automatically.
pub struct EventSource {
    consumer: Arc<StreamConsumer<GroupContext>>,
    topic: String,
    changes: Arc<Mutex<Vec<Assignment>>>,
}

impl EventSource {
    /// Joins `group` on the events topic. A group without committed offsets starts at the
    /// beginning of the topic.
    pub fn subscribe(cfg: &KafkaConfig, group: &str) -> Result<Self> {
        let changes = Arc::new(Mutex::new(Vec::new()));
        let mut c = cfg.client();
        c.set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // A fetch waits about half of this even when data is ready (seen with tansu):
            // keep it short; batches carry many rows per message anyway.
            .set("fetch.wait.max.ms", "10")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .set("max.poll.interval.ms", "300000");
        for (k, v) in &cfg.extra {
            c.set(k, v);
        }
        let consumer: StreamConsumer<GroupContext> = c.create_with_context(GroupContext {
            changes: changes.clone(),
        })?;
        consumer.subscribe(&[&cfg.events_topic])?;
        Ok(EventSource {
            consumer: Arc::new(consumer),
            topic: cfg.events_topic.clone(),
            changes,
        })
    }

    /// Partition changes since the last call.
    pub fn assignments(&self) -> Vec<Assignment> {
        self.changes
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }

    /// The next message, decoded.
    pub async fn recv(&self) -> Result<Received> {
        let m = self.consumer.recv().await?;
        let cluster = m
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default();
        let mut kind = None;
        let mut version = None;
        let mut topology = None;
        if let Some(h) = m.headers() {
            for h in h.iter() {
                let v = h.value.map(|v| String::from_utf8_lossy(v).into_owned());
                match h.key {
                    wire::HEADER_KIND => kind = v,
                    wire::HEADER_SCHEMA_VERSION => version = v,
                    wire::HEADER_TOPOLOGY => {
                        topology = v.as_deref().and_then(wire::parse_topology_position);
                        if topology.is_none() {
                            warn!(value = ?v, partition = m.partition(), offset = m.offset(),
                                "Header {} is not PARTITION:OFFSET; ignored.", wire::HEADER_TOPOLOGY);
                        }
                    }
                    _ => {}
                }
            }
        }
        let body = match (kind.as_deref(), version.as_deref()) {
            (Some(wire::KIND_END_OF_CAPTURE), _) => Body::EndOfCapture,
            (Some(wire::KIND_EVENTS), Some(EVENT_SCHEMA_VERSION)) => {
                decode(m.payload().unwrap_or_default())
            }
            (Some(wire::KIND_EVENTS), v) => Body::Unreadable(format!(
                "event schema version {v:?}, this build reads {EVENT_SCHEMA_VERSION}"
            )),
            (k, _) => Body::Unreadable(format!("header {}: {k:?}", wire::HEADER_KIND)),
        };
        Ok(Received {
            partition: m.partition(),
            offset: m.offset(),
            cluster,
            topology,
            body,
        })
    }

    /// Whether `next` (the next offset this member will read from `partition`) is the end
    /// of the partition, as the broker says now. False when the broker cannot say (down,
    /// restarting, slow): a quiet stream counts as idle only when the broker confirms
    /// there is nothing more to read, not merely because nothing arrived for a while.
    pub async fn at_end(&self, partition: i32, next: i64) -> bool {
        let (c, t) = (self.consumer.clone(), self.topic.clone());
        let marks = super::log::blocking(move || {
            Ok(c.fetch_watermarks(&t, partition, Duration::from_secs(1))?)
        })
        .await;
        matches!(marks, Ok((_, high)) if next >= high)
    }

    /// Commits `partition → next offset to read`. `sync` waits for the broker (at
    /// shutdown); otherwise the commit is sent in the background.
    pub fn commit(&self, offsets: &BTreeMap<i32, i64>, sync: bool) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (p, o) in offsets {
            tpl.add_partition_offset(&self.topic, *p, Offset::Offset(*o))?;
        }
        let mode = if sync {
            CommitMode::Sync
        } else {
            CommitMode::Async
        };
        self.consumer.commit(&tpl, mode)?;
        Ok(())
    }
}

/// Decodes an Arrow IPC value into event batches. The payload is copied once, out of
/// librdkafka's buffer; Arrow then slices that copy.
fn decode(payload: &[u8]) -> Body {
    match wire::decode_ipc(Buffer::from_vec(payload.to_vec())) {
        Ok((_, batches)) => {
            let want = event_schema();
            match batches
                .iter()
                .find(|b| b.schema().fields() != want.fields())
            {
                Some(_) => Body::Unreadable("Arrow schema differs from the event schema".into()),
                None => Body::Events(batches),
            }
        }
        Err(e) => Body::Unreadable(format!("Arrow IPC: {e}")),
    }
}
