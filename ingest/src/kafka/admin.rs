//! Creating Tapio's topics. Tapio creates what it needs instead of relying on broker
//! auto-creation, which production clusters usually disable.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::{KafkaConfig, KafkaError, Result};

/// Creates the events, topology (compacted: the latest snapshot per cluster is what
/// matters) and stories topics when they do not exist. Existing topics are left alone.
pub async fn ensure_topics(cfg: &KafkaConfig) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = cfg.client().create()?;
    let r = || TopicReplication::Fixed(cfg.replication);
    let topics = [
        NewTopic::new(&cfg.events_topic, cfg.partitions, r()),
        NewTopic::new(&cfg.topology_topic, cfg.partitions, r()).set("cleanup.policy", "compact"),
        NewTopic::new(&cfg.stories_topic, cfg.partitions, r()),
    ];
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for r in admin.create_topics(&topics, &opts).await? {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::CreateTopic {
                    topic,
                    message: code.to_string(),
                });
            }
        }
    }
    Ok(())
}
