//! Tapio's correlation engine: a streaming pipeline on DataFusion. Events arrive as
//! Arrow batches in (roughly) event-time order; a watermark closes tumbling windows;
//! each window runs the SQL pattern library over its events plus a look-back, joined
//! with the topology; signals group into incidents; closed incidents become stories
//! with a root cause, a blast radius, a timeline and recommendations. Replay and live
//! mode run this same engine.

pub mod config;
pub mod context_index;
pub mod engine;
pub mod graph;
pub mod held_events;
pub mod incidents;
pub mod lean_projection;
pub mod memory;
pub mod packed_text;
pub mod patterns;
pub mod runner;
pub mod sql;
pub mod store;
pub mod story;
pub mod swap_table;
pub mod triggers;
pub mod window;
pub mod window_rows;

pub use config::EngineConfig;
pub use engine::{Engine, EngineStats, Output, StageTimes};

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A pattern file does not plan (a bug in `queries/`: internal).
    #[error("pattern {id} (queries/{id}.sql): {source}")]
    Pattern {
        /// Pattern id.
        id: &'static str,
        /// DataFusion's error.
        source: Box<datafusion::error::DataFusionError>,
    },
    /// A topology view does not plan (a bug in `queries/views/`: internal).
    #[error("view {name} (queries/views/{name}.sql): {source}")]
    View {
        /// View name.
        name: &'static str,
        /// DataFusion's error.
        source: Box<datafusion::error::DataFusionError>,
    },
    /// DataFusion failed (a query, a scan of stored data).
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Arrow failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// Converting rows failed.
    #[error(transparent)]
    Schema(#[from] tapio_schemas::Error),
    /// Object storage failed (external: a retry may help).
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// Parquet encoding or decoding failed.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The data dir is not a usable URL or path (user input).
    #[error("data dir {0:?}: not a path or a file:// or s3:// URL")]
    DataDir(String),
    /// Bad input to the engine (user input).
    #[error("input: {0}")]
    Input(String),
    /// A broken invariant (a bug).
    #[error("internal: {0}")]
    Internal(String),
}

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
