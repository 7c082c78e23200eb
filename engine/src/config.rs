//! Engine settings.

use serde::{Deserialize, Serialize};

/// How the engine windows and groups. Durations in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Tumbling window size: how often patterns are evaluated, in event time.
    pub window_secs: i64,
    /// Look-back: how much history each window's queries see (a crash loop builds up
    /// over minutes; a cascade's upstream failure precedes the downstream one).
    pub lookback_secs: i64,
    /// An incident with no new evidence for this long is closed and its story emitted.
    pub idle_timeout_secs: i64,
    /// Allowed lateness: the watermark trails the newest event time by this much.
    pub lateness_secs: i64,
    /// Evidence a story needs before it is published.
    pub threshold: f64,
    /// Confidence (0..1) an edge of the correlation graph needs to join two signals'
    /// incidents (see [`crate::graph`]).
    pub link_threshold: f64,
    /// DataFusion partitions per query. One: a window's plans are small, and a second
    /// partition on a second core only added repartitioning (engine bench, 1M events
    /// over 4 h: 3.22-3.26 s with one, 3.62-3.65 s with two; with 1M in one window
    /// 6.70-6.81 s against 6.64-6.99 s).
    pub partitions: usize,
    /// Run only the patterns whose trigger values occur in the window (see
    /// [`crate::triggers`]). Off runs every pattern in every window: the same signals,
    /// slower; there for measuring the cut.
    pub trigger_prefilter: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            window_secs: 60,
            lookback_secs: 900,
            idle_timeout_secs: 900,
            lateness_secs: 30,
            threshold: 1.0,
            link_threshold: crate::graph::DEFAULT_THRESHOLD,
            partitions: 1,
            trigger_prefilter: true,
        }
    }
}
