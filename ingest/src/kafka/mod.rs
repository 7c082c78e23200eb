//! Kafka transport: Arrow event batches and topology snapshots in, stories out.
//!
//! The wire format (topics, keys, headers, Arrow IPC values) is in
//! [`tapio_schemas::wire`] and documented for consumers in `docs/kafka.md`. This module
//! is the client side: [`KafkaConfig`] names the brokers and topics, [`admin`] creates
//! the topics, [`Publisher`] sends, [`EventSource`] consumes events in a consumer group,
//! [`OffsetTracker`] decides which offsets may be committed, and [`StoryLog`] reads the
//! stories topic back so a redelivered event never publishes a story twice.

pub mod admin;
pub mod config;
mod log;
pub mod offsets;
pub mod publisher;
pub mod source;
pub mod story_log;
pub mod topology_log;

pub use config::KafkaConfig;
pub use offsets::OffsetTracker;
pub use publisher::Publisher;
pub use source::{Body, EventSource, Received};
pub use story_log::StoryLog;
pub use topology_log::TopologyLog;

/// Errors of the Kafka transport.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The `kafka://` URL does not parse (user input).
    #[error("{0:?}: expected kafka://HOST:PORT[,HOST:PORT...]")]
    Url(String),
    /// The client or broker failed (external: check the broker; a retry may help).
    #[error("kafka: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    /// A topic could not be created (external).
    #[error("creating topic {topic}: {message}")]
    CreateTopic {
        /// Topic.
        topic: String,
        /// The broker's answer.
        message: String,
    },
    /// Encoding a value failed (a bug or a row that does not fit its schema).
    #[error("encoding: {0}")]
    Encode(String),
    /// Waited too long for the broker (external).
    #[error("timed out: {0}")]
    Timeout(String),
}

/// Result with [`KafkaError`].
pub type Result<T, E = KafkaError> = std::result::Result<T, E>;

impl KafkaError {
    /// Whether the client cannot go on (a fatal librdkafka error, bad settings): anything
    /// else (a broker down, a timeout) the client retries by itself.
    pub fn is_fatal(&self) -> bool {
        match self {
            KafkaError::Client(e) => match e.rdkafka_error_code() {
                Some(code) => matches!(
                    code,
                    rdkafka::types::RDKafkaErrorCode::Fatal
                        | rdkafka::types::RDKafkaErrorCode::InvalidArgument
                        | rdkafka::types::RDKafkaErrorCode::Authentication
                        | rdkafka::types::RDKafkaErrorCode::TopicAuthorizationFailed
                        | rdkafka::types::RDKafkaErrorCode::GroupAuthorizationFailed
                ),
                None => !matches!(e, rdkafka::error::KafkaError::MessageConsumption(_)),
            },
            _ => false,
        }
    }
}
