//! Correlations: why an event belongs to a story — which pattern matched it, along
//! which dimension it was linked, and how strongly.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::columns::{dict_type, ts_type};
use crate::event::SCHEMA_VERSION_KEY;

/// One event's membership in one story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    /// The story.
    pub story_id: String,
    /// The member event.
    pub event_id: String,
    /// When the event happened.
    #[serde(with = "crate::time::rfc3339_ns")]
    pub event_time: i64,
    /// Pattern that matched the event, or `context` for timeline context.
    pub pattern: String,
    /// How it was linked: `subject` (it names the story's root object), `pod` or
    /// `workload` (it shares one with other evidence), `cascade` (it depends on the
    /// failing root through a Service), `context` (the failing objects' own history).
    pub dimension: String,
    /// Evidence weight the pattern gave it (0 for context).
    pub score: f64,
    /// `Kind/namespace/name` of the object the pattern blamed.
    pub subject: String,
    /// The pattern's reason (`OOMKilled`, `ConfigMapMissing`, ...).
    pub reason: String,
    /// The event's link to the story's root-cause event, scored 0..1 in five dimensions
    /// and combined (see the engine's `story::edges`). `None` in history written before
    /// the scores existed, or when the root event is not held.
    #[serde(default, flatten)]
    pub link: Link,
    /// The earlier signal whose correlation-graph edge joined this signal to the story
    /// (the strongest such edge), and that edge's confidence. `None` for the story's
    /// first signal, context events, and history written before the graph existed.
    #[serde(default, flatten)]
    pub joined: Joined,
}

/// The correlation-graph edge that joined a signal to its story.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Joined {
    /// Event id of the earlier signal at the edge's other end.
    pub joined_by: Option<String>,
    /// The edge's confidence (its five scores combined).
    pub joined_confidence: Option<f64>,
}

/// Scores of an event's link to its story's root-cause event, each 0..1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Link {
    /// Closeness in time, against the look-back.
    pub temporal: Option<f64>,
    /// Same node (1), same namespace (0.5).
    pub spatial: Option<f64>,
    /// Same pod (1), same workload (0.8), a shared owner (0.6).
    pub ownership: Option<f64>,
    /// Reached the root through a Service (1).
    pub dependency: Option<f64>,
    /// Similarity of the messages' templates.
    pub semantic: Option<f64>,
    /// The five combined.
    pub confidence: Option<f64>,
}

/// Version of [`correlation_schema`].
pub const CORRELATION_SCHEMA_VERSION: &str = "1";

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new_with_metadata(
        vec![
            Field::new("story_id", DataType::Utf8, false),
            Field::new("event_id", DataType::Utf8, false),
            Field::new("event_time", ts_type(), false),
            Field::new("pattern", dict_type(), false),
            Field::new("dimension", dict_type(), false),
            Field::new("score", DataType::Float64, false),
            Field::new("subject", DataType::Utf8, false),
            Field::new("reason", dict_type(), false),
            // Nullable: history written before these columns reads them as null.
            Field::new("temporal", DataType::Float64, true),
            Field::new("spatial", DataType::Float64, true),
            Field::new("ownership", DataType::Float64, true),
            Field::new("dependency", DataType::Float64, true),
            Field::new("semantic", DataType::Float64, true),
            Field::new("confidence", DataType::Float64, true),
            Field::new("joined_by", DataType::Utf8, true),
            Field::new("joined_confidence", DataType::Float64, true),
        ],
        [(
            SCHEMA_VERSION_KEY.to_string(),
            CORRELATION_SCHEMA_VERSION.to_string(),
        )]
        .into(),
    ))
});

/// Arrow schema of [`Correlation`] rows.
pub fn correlation_schema() -> SchemaRef {
    SCHEMA.clone()
}
