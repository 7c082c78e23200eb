//! Where the brokers are and which topics Tapio uses.

use rdkafka::ClientConfig;
use tapio_schemas::wire;

use super::{KafkaError, Result};

/// Brokers and topic names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: `host:port[,host:port...]`.
    pub brokers: String,
    /// Event batches.
    pub events_topic: String,
    /// Topology snapshots (compacted).
    pub topology_topic: String,
    /// Story state changes.
    pub stories_topic: String,
    /// Partitions of topics Tapio creates (existing topics are left as they are).
    pub partitions: i32,
    /// Replication factor of topics Tapio creates (1 suits one broker; production: 3).
    pub replication: i32,
    /// Extra librdkafka settings (`security.protocol`, `sasl.*`, ...), applied last.
    pub extra: Vec<(String, String)>,
}

impl KafkaConfig {
    /// Parses `kafka://HOST:PORT[,HOST:PORT...]`, with the default topic names
    /// (`tapio.events`, `tapio.topology`, `tapio.stories`) and 3 partitions.
    pub fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("kafka://")
            .ok_or_else(|| KafkaError::Url(url.into()))?;
        let brokers = rest.trim_end_matches('/');
        let ok = !brokers.is_empty()
            && brokers.split(',').all(|b| {
                b.rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            });
        if !ok {
            return Err(KafkaError::Url(url.into()));
        }
        Ok(KafkaConfig {
            brokers: brokers.to_string(),
            events_topic: wire::EVENTS_TOPIC.into(),
            topology_topic: wire::TOPOLOGY_TOPIC.into(),
            stories_topic: wire::STORIES_TOPIC.into(),
            partitions: 3,
            replication: 1,
            extra: Vec::new(),
        })
    }

    /// Uses `{prefix}.events`, `{prefix}.topology`, `{prefix}.stories`.
    pub fn with_topic_prefix(mut self, prefix: &str) -> Self {
        self.events_topic = format!("{prefix}.events");
        self.topology_topic = format!("{prefix}.topology");
        self.stories_topic = format!("{prefix}.stories");
        self
    }

    /// A client config with the brokers and the extra settings.
    pub fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.extra {
            c.set(k, v);
        }
        c
    }

    /// A consumer config that reads without a group (assigned partitions, no commits).
    pub(crate) fn reader(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            // librdkafka needs a group id even for assign(); nothing is committed.
            .set("group.id", "tapio-reader")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "10");
        for (k, v) in &self.extra {
            c.set(k, v);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_broker_lists() {
        let c = KafkaConfig::parse("kafka://127.0.0.1:9092,b2:9093/").unwrap();
        assert_eq!(c.brokers, "127.0.0.1:9092,b2:9093");
        assert_eq!(c.stories_topic, "tapio.stories");
        let c = c.with_topic_prefix("prod");
        assert_eq!(c.events_topic, "prod.events");
        for bad in ["127.0.0.1:9092", "kafka://", "kafka://host", "kafka://h:x"] {
            assert!(KafkaConfig::parse(bad).is_err(), "{bad}");
        }
    }
}
