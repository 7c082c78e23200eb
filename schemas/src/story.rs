//! Stories: what broke, why, what else is affected and what to do — the unit people read.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::columns::{dict_type, ts_type};
use crate::event::{SCHEMA_VERSION_KEY, Severity};

/// The object whose fix ends the incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCause {
    /// Kind (`Deployment`, `ConfigMap`, `Node`, ...).
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Why it is the cause (`OOMKilled`, `ConfigMapMissing`, `NodeNotReady`).
    pub reason: String,
    /// The facts that decided it, one sentence each.
    pub evidence: Vec<String>,
}

/// What the incident touches (keys as `namespace/name`; nodes by name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// Pods.
    pub pods: Vec<String>,
    /// Workloads as `Kind/namespace/name`.
    pub workloads: Vec<String>,
    /// Services.
    pub services: Vec<String>,
    /// Nodes.
    pub nodes: Vec<String>,
}

/// One line of a story's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When.
    #[serde(with = "crate::time::rfc3339_ns")]
    pub time: i64,
    /// The layer that reported it (`k8s-event`, `kernel`, ...).
    pub source: String,
    /// A sentence for people.
    pub text: String,
    /// The event it tells of.
    pub event_id: String,
}

/// An earlier incident that resembles a story (see [`Story::similar_incidents`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarIncident {
    /// Its story id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// When it started.
    #[serde(with = "crate::time::rfc3339_ns")]
    pub first_seen: i64,
    /// Estimated Jaccard similarity of the two stories' signatures (pattern, root cause,
    /// workload kinds and message templates), 0..1.
    pub similarity: f64,
}

/// The same root cause failing the same way again (see [`Story::recurrence`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recurrence {
    /// Occurrences in the look-back, this one included (at least 2).
    pub count: u32,
    /// When the first of them started.
    #[serde(with = "crate::time::rfc3339_ns")]
    pub since: i64,
    /// When the one before this started.
    #[serde(with = "crate::time::rfc3339_ns")]
    pub previous: i64,
    /// Median time between consecutive starts, in seconds; with 3 occurrences or more.
    pub period_secs: Option<i64>,
}

/// An incident story.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Story {
    /// Stable id: the same input gives the same id.
    pub id: String,
    /// Pattern id (`oom-killed`, `node-not-ready`, ...; see `queries/`).
    pub pattern: String,
    /// One line.
    pub title: String,
    /// A short narrative.
    pub summary: String,
    /// Worst severity.
    pub severity: Severity,
    /// Confidence in the root cause, 0..1.
    pub confidence: f64,
    /// `building`, `active` or `resolved`.
    pub state: String,
    /// The root cause.
    pub root_cause: RootCause,
    /// Blast radius.
    pub affected: Affected,
    /// Time-ordered account.
    pub timeline: Vec<TimelineEntry>,
    /// What to do, most useful first.
    pub recommendations: Vec<String>,
    /// First member event.
    #[serde(with = "crate::time::rfc3339_ns")]
    pub first_seen: i64,
    /// Last member event.
    #[serde(with = "crate::time::rfc3339_ns")]
    pub last_seen: i64,
    /// Source ids of every member event.
    pub event_ids: Vec<String>,
    /// Earlier incidents that resemble this one, most similar first (the engine's memory:
    /// the stored history and this run's stories).
    #[serde(default)]
    pub similar_incidents: Vec<SimilarIncident>,
    /// Set when the same root cause failed the same way before, in the look-back.
    #[serde(default)]
    pub recurrence: Option<Recurrence>,
}

/// Version of [`story_schema`].
pub const STORY_SCHEMA_VERSION: &str = "1";

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let list = crate::columns::list_field;
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    let root = Fields::from(vec![
        s("kind"),
        s("namespace"),
        s("name"),
        s("reason"),
        list("evidence"),
    ]);
    let affected = Fields::from(vec![
        list("pods"),
        list("workloads"),
        list("services"),
        list("nodes"),
    ]);
    let entry = Fields::from(vec![
        Field::new("time", ts_type(), false),
        s("source"),
        s("text"),
        s("event_id"),
    ]);
    Arc::new(Schema::new_with_metadata(
        vec![
            s("id"),
            Field::new("pattern", dict_type(), false),
            s("title"),
            s("summary"),
            Field::new("severity", dict_type(), false),
            Field::new("confidence", DataType::Float64, false),
            Field::new("state", dict_type(), false),
            Field::new("root_cause", DataType::Struct(root), false),
            Field::new("affected", DataType::Struct(affected), false),
            Field::new(
                "timeline",
                DataType::List(Arc::new(Field::new("item", DataType::Struct(entry), true))),
                false,
            ),
            list("recommendations"),
            Field::new("first_seen", ts_type(), false),
            Field::new("last_seen", ts_type(), false),
            list("event_ids"),
            Field::new(
                "similar_incidents",
                DataType::List(Arc::new(Field::new(
                    "item",
                    DataType::Struct(Fields::from(vec![
                        s("id"),
                        s("title"),
                        Field::new("first_seen", ts_type(), false),
                        Field::new("similarity", DataType::Float64, false),
                    ])),
                    true,
                ))),
                // Nullable: history written before these columns reads them as null.
                true,
            ),
            Field::new(
                "recurrence",
                DataType::Struct(Fields::from(vec![
                    Field::new("count", DataType::UInt32, false),
                    Field::new("since", ts_type(), false),
                    Field::new("previous", ts_type(), false),
                    Field::new("period_secs", DataType::Int64, true),
                ])),
                true,
            ),
        ],
        [(
            SCHEMA_VERSION_KEY.to_string(),
            STORY_SCHEMA_VERSION.to_string(),
        )]
        .into(),
    ))
});

/// Arrow schema of [`Story`] rows (nested: root cause and affected as structs, the
/// timeline as a list of structs).
pub fn story_schema() -> SchemaRef {
    SCHEMA.clone()
}
