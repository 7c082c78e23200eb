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
