//! Sending event batches, topology snapshots and stories.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::RecordBatch;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tapio_schemas::rows::to_batch;
use tapio_schemas::{EVENT_SCHEMA_VERSION, Relation, Story, event_schema, topology_schema, wire};

use super::{KafkaConfig, KafkaError, Result};

/// How long a message may wait in the client for the broker before it is an error.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// Publishes to Tapio's topics. Every send waits for the broker's acknowledgement
/// (`acks=all`), so a caller that awaits it knows the message is stored, and a slow
/// broker slows the caller instead of growing a queue.
#[derive(Clone)]
pub struct Publisher {
    producer: FutureProducer,
    /// Stories go through a producer that never retries by itself: a retry after a
    /// broker restart can write a story twice when the broker lost its idempotence
    /// state, so the caller checks the stories topic before sending again
    /// ([`Publisher::send_story_once`]).
    stories: FutureProducer,
    cfg: KafkaConfig,
    /// Cluster → where its latest topology snapshot is stored: named on its events
    /// messages ([`wire::HEADER_TOPOLOGY`]).
    topology_at: Arc<Mutex<HashMap<String, Stored>>>,
}

/// Where a message was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

fn headers(kind: &str, version: &str, content_type: &str, cluster: Option<&str>) -> OwnedHeaders {
    let mut h = OwnedHeaders::new()
        .insert(Header {
            key: wire::HEADER_KIND,
            value: Some(kind),
        })
        .insert(Header {
            key: wire::HEADER_SCHEMA_VERSION,
            value: Some(version),
        })
        .insert(Header {
            key: wire::HEADER_CONTENT_TYPE,
            value: Some(content_type),
        });
    if let Some(c) = cluster {
        h = h.insert(Header {
            key: wire::HEADER_CLUSTER,
            value: Some(c),
        });
    }
    h
}

impl Publisher {
    /// A producer for `cfg`'s brokers.
    pub fn new(cfg: &KafkaConfig) -> Result<Self> {
        let mut c = cfg.client();
        c.set("acks", "all")
            // Retries neither reorder nor duplicate a partition's messages.
            .set("enable.idempotence", "true")
            // Arrow values come compressed (`wire::encode_ipc_lz4`): compressing them
            // again on the client's one thread per broker was the publisher's limit.
            .set("compression.type", "none")
            .set("linger.ms", "5")
            .set("message.max.bytes", "16777216")
            .set(
                "message.timeout.ms",
                DELIVERY_TIMEOUT.as_millis().to_string(),
            );
        for (k, v) in &cfg.extra {
            c.set(k, v);
        }
        let mut once = cfg.client();
        once.set("acks", "all")
            .set("enable.idempotence", "false")
            .set("message.send.max.retries", "0")
            .set("linger.ms", "0")
            .set("message.timeout.ms", "30000");
        for (k, v) in &cfg.extra {
            once.set(k, v);
        }
        Ok(Publisher {
            producer: c.create()?,
            stories: once.create()?,
            cfg: cfg.clone(),
            topology_at: Arc::default(),
        })
    }

    async fn send(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        headers: OwnedHeaders,
    ) -> Result<Stored> {
        let record = FutureRecord::to(topic)
            .key(key)
            .payload(payload)
            .headers(headers);
        let producer = if topic == self.cfg.stories_topic {
            &self.stories
        } else {
            &self.producer
        };
        match producer.send(record, DELIVERY_TIMEOUT).await {
            Ok(d) => Ok(Stored {
                partition: d.partition,
                offset: d.offset,
            }),
            Err((e, _)) => Err(KafkaError::Client(e)),
        }
    }

    /// Sends one cluster's event batches as one message, keyed by the cluster: all of a
    /// cluster's events land in one partition, in order, so one consumer sees everything
    /// a story of that cluster needs.
    pub async fn send_events(&self, cluster: &str, batches: &[RecordBatch]) -> Result<Stored> {
        let bytes = wire::encode_ipc_lz4(&event_schema(), batches)
            .map_err(|e| KafkaError::Encode(e.to_string()))?;
        let mut h = headers(
            wire::KIND_EVENTS,
            EVENT_SCHEMA_VERSION,
            wire::ARROW_STREAM,
            Some(cluster),
        );
        let topology = self
            .topology_at
            .lock()
            .ok()
            .and_then(|t| t.get(cluster).copied());
        if let Some(t) = topology {
            h = h.insert(Header {
                key: wire::HEADER_TOPOLOGY,
                value: Some(&wire::topology_position(t.partition, t.offset)),
            });
        }
        self.send(&self.cfg.events_topic, cluster, &bytes, h).await
    }

    /// Sends a cluster's whole topology (every current relation) to the compacted
    /// topology topic, keyed by the cluster. The cluster's events sent after it name it
    /// ([`wire::HEADER_TOPOLOGY`]).
    pub async fn send_topology(&self, cluster: &str, relations: &[Relation]) -> Result<Stored> {
        let batch = to_batch(topology_schema(), relations)
            .map_err(|e| KafkaError::Encode(e.to_string()))?;
        let bytes = wire::encode_ipc_lz4(&topology_schema(), &[batch])
            .map_err(|e| KafkaError::Encode(e.to_string()))?;
        let h = headers(
            wire::KIND_TOPOLOGY,
            tapio_schemas::topology::TOPOLOGY_SCHEMA_VERSION,
            wire::ARROW_STREAM,
            Some(cluster),
        );
        let at = self
            .send(&self.cfg.topology_topic, cluster, &bytes, h)
            .await?;
        if let Ok(mut t) = self.topology_at.lock() {
            t.insert(cluster.to_string(), at);
        }
        Ok(at)
    }

    /// Marks the end of a cluster's capture on the events topic (after its last batch, in
    /// the same partition).
    pub async fn send_end_of_capture(&self, cluster: &str) -> Result<Stored> {
        let h = headers(
            wire::KIND_END_OF_CAPTURE,
            EVENT_SCHEMA_VERSION,
            wire::ARROW_STREAM,
            Some(cluster),
        );
        self.send(&self.cfg.events_topic, cluster, &[], h).await
    }

    /// Publishes one story (a state change) unless `log` shows it is on the topic
    /// already; returns whether this call wrote it. A failed send is not blindly
    /// repeated: the broker may have stored it before failing to answer. A fence
    /// ([`wire::KIND_FENCE`]) is written to the story's partition and the topic is read up
    /// to it; the story is sent again only if it is not there. (Reading up to the
    /// broker's reported end is not enough: tansu answered with an end from before its
    /// restart, and the story was sent twice.) Stops on a fatal error, or after
    /// `attempts` failed sends or reads.
    pub async fn send_story_once(
        &self,
        story: &Story,
        log: &super::StoryLog,
        attempts: usize,
    ) -> Result<bool> {
        let mut tries = 0;
        loop {
            if log.published(story) {
                return Ok(false);
            }
            match self.send_story(story).await {
                Ok(_) => {
                    log.record(story);
                    return Ok(true);
                }
                Err(e) if e.is_fatal() || tries + 1 >= attempts => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, story = %story.id, "Publishing a story failed; checking the topic before sending again.");
                    // The failed send may still have been written: send again only once
                    // the topic has been read up to a fence written after it (the broker
                    // may still be down).
                    loop {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(200 * tries as u64)).await;
                        match self.read_past_fence(&story.id, log).await {
                            Ok(_) => break,
                            Err(e) if e.is_fatal() || tries + 1 >= attempts => return Err(e),
                            Err(e) => {
                                tracing::warn!(error = %e, "Reading the stories topic back failed; retrying.")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Writes a fence ([`wire::KIND_FENCE`]) to the partition of story `id` and waits
    /// until `log` has read up to it: then `log` knows every story of that partition
    /// stored before, whatever the broker says about the topic's end.
    pub async fn read_past_fence(&self, id: &str, log: &super::StoryLog) -> Result<Stored> {
        let h = OwnedHeaders::new().insert(Header {
            key: wire::HEADER_KIND,
            value: Some(wire::KIND_FENCE),
        });
        let fence = self.send(&self.cfg.stories_topic, id, &[], h).await?;
        log.reached(fence.partition, fence.offset, Duration::from_secs(30))
            .await?;
        Ok(fence)
    }

    /// Sends one story (a state change) as JSON, keyed by its id: one attempt (see
    /// [`Publisher::send_story_once`]).
    pub async fn send_story(&self, story: &Story) -> Result<Stored> {
        let json = serde_json::to_vec(story).map_err(|e| KafkaError::Encode(e.to_string()))?;
        let h = headers(
            wire::KIND_STORY,
            tapio_schemas::story::STORY_SCHEMA_VERSION,
            wire::JSON,
            None,
        )
        .insert(Header {
            key: wire::HEADER_STATE,
            value: Some(story.state.as_str()),
        });
        self.send(&self.cfg.stories_topic, &story.id, &json, h)
            .await
    }
}
