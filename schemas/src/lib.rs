//! Arrow schemas and Rust types for everything Tapio moves: UnifiedEvent rows, the
//! time-versioned topology, correlations and stories.
//!
//! Every schema is versioned (metadata key [`SCHEMA_VERSION_KEY`]) and documented field
//! by field on its Rust type. Pure data: nothing here does IO.

mod columns;
pub mod correlation;
pub mod event;
pub mod ids;
pub mod rows;
pub mod story;
pub mod time;
pub mod topology;
pub mod wire;

pub use columns::{as_strings, dict_type, ts_type};
pub use correlation::{Correlation, Joined, Link, correlation_schema};
pub use event::{
    EVENT_SCHEMA_VERSION, EventBatchBuilder, OMITTABLE_COLUMNS, ObjectRef, SCHEMA_VERSION_KEY,
    Severity, UnifiedEvent, event_schema, events_from_batch, events_to_batch, is_workload_kind,
    source,
};
pub use story::{
    Affected, Recurrence, RootCause, SimilarIncident, Story, TimelineEntry, story_schema,
};
pub use topology::{Relation, relation, topology_schema};

/// Errors converting between Rust types and Arrow.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A batch lacks a column the schema requires (an old or foreign file).
    #[error("missing column `{0}`")]
    MissingColumn(&'static str),
    /// A column exists with a type Tapio cannot read.
    #[error("column `{0}` has an unexpected type")]
    ColumnType(&'static str),
    /// A value in a row breaks the schema's contract.
    #[error("row {row}, field `{field}`: {message}")]
    Field {
        /// Column name.
        field: &'static str,
        /// Row index within the batch.
        row: usize,
        /// What is wrong.
        message: String,
    },
    /// Arrow refused the data (the rows do not fit the schema).
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
