//! A seeded, deterministic load and scenario generator: a cluster of nodes, namespaces
//! and Deployments behind Services, routine churn (scheduling, pulls, starts, scaling,
//! readiness blips), and injected incidents of several patterns, written in the formats
//! replay reads (`kubectl get -o json` Lists) with ground-truth labels beside them.
//!
//! The failure reports follow what the kubelet, scheduler and node controller write
//! (reasons and message shapes of their sources). [`score`] compares the stories told
//! for a generated capture with its labels.

mod cluster;
pub use cluster::BLIP_GAP_SECS;
mod incidents;
pub mod score;

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use cluster::Cluster;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Seed: the same seed and settings give byte-identical output.
    pub seed: u64,
    /// Kubernetes Events to write in total (routine ones fill what incidents leave).
    pub events: usize,
    /// Nodes.
    pub nodes: usize,
    /// Namespaces.
    pub namespaces: usize,
    /// Deployments per namespace.
    pub deployments: usize,
    /// Pods per Deployment.
    pub replicas: usize,
    /// Incidents to inject, cycling through the patterns.
    pub incidents: usize,
    /// Event-time span of the capture, seconds.
    pub span_secs: i64,
    /// Start of the capture, RFC 3339.
    pub start: String,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            seed: 1,
            events: 10_000,
            nodes: 20,
            namespaces: 5,
            deployments: 10,
            replicas: 3,
            incidents: 12,
            span_secs: 4 * 3600,
            start: "2026-11-20T08:00:00Z".into(),
        }
    }
}

/// The ground truth of one injected incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentLabel {
    /// `inc-N`.
    pub id: String,
    /// The pattern a correct story names (`queries/<pattern>.sql`).
    pub pattern: String,
    /// The root cause: kind, namespace (empty for cluster-scoped), name.
    pub root: [String; 3],
    /// Ids of the Events that report it (Event `metadata.uid`, which replay keeps as the
    /// event id).
    pub event_ids: Vec<String>,
    /// Pods it takes down or degrades (`namespace/name`).
    pub pods: Vec<String>,
    /// First and last report, RFC 3339.
    pub start: String,
    /// Last report.
    pub end: String,
}

/// Ground truth of a generated capture.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    /// The scenario's seed.
    pub seed: u64,
    /// Injected incidents.
    pub incidents: Vec<IncidentLabel>,
    /// Ids of routine Events of objects no incident touches: none belongs in a story.
    pub routine_event_ids: Vec<String>,
    /// Warning Events written (for noise reduction: 1 - stories / warnings).
    pub warning_events: usize,
}

/// A generated capture.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Nodes, workloads, pods, Services, EndpointSlices, ConfigMaps (final state).
    pub objects: Vec<Value>,
    /// core/v1 Events.
    pub events: Vec<Value>,
    /// The truth.
    pub labels: Labels,
}

/// Generates a capture.
pub fn generate(s: &Scenario) -> Result<Generated, String> {
    let start = s
        .start
        .parse::<jiff::Timestamp>()
        .map_err(|e| format!("start {:?}: {e}", s.start))?;
    if s.nodes == 0 || s.namespaces == 0 || s.deployments == 0 || s.replicas == 0 {
        return Err("nodes, namespaces, deployments and replicas must be > 0".into());
    }
    if s.span_secs < 3600 {
        return Err("span_secs must be at least 3600 (incidents need room)".into());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
    let mut c = Cluster::new(s, start.as_second());
    let mut labels = Labels {
        seed: s.seed,
        ..Labels::default()
    };
    // Incidents at distinct Deployments, spread over the span (leaving the last 30 min).
    let mut order: Vec<usize> = (0..c.deployments.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let slot = (s.span_secs - 1800) / (s.incidents.max(1) as i64);
    for (i, d) in order.iter().take(s.incidents).enumerate() {
        let at = c.start + i as i64 * slot + rng.random_range(0..slot.max(1) / 2);
        let label = incidents::inject(&mut c, &mut rng, i, *d, at);
        labels.incidents.push(label);
    }
    // Routine churn fills the rest (repeats of an Event bump its count, so this draws
    // until enough distinct Events exist, within a bound).
    let start_routine = c.events.len();
    let mut draws = 0;
    while c.events.len() < s.events && draws < 20 * s.events {
        let at = c.start + rng.random_range(0..s.span_secs);
        c.routine_event(&mut rng, at);
        draws += 1;
    }
    let touched = c.touched.clone();
    for e in &c.events[start_routine..] {
        let obj = format!(
            "{}/{}",
            e["involvedObject"]["namespace"].as_str().unwrap_or(""),
            e["involvedObject"]["name"].as_str().unwrap_or("")
        );
        if !touched.contains(&obj) {
            labels
                .routine_event_ids
                .push(e["metadata"]["uid"].as_str().unwrap_or("").to_string());
        }
    }
    labels.warning_events = c.events.iter().filter(|e| e["type"] == "Warning").count();
    Ok(Generated {
        objects: c.objects(),
        events: std::mem::take(&mut c.events),
        labels,
    })
}

/// Writes `capture/objects.json` and `capture/events.json` (kubectl Lists, what replay
/// reads) and `labels.json` beside the capture, in `dir`.
pub fn write(dir: &Path, g: &Generated) -> std::io::Result<()> {
    let capture = dir.join("capture");
    std::fs::create_dir_all(&capture)?;
    let list = |items: &[Value]| json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(
        capture.join("objects.json"),
        serde_json::to_vec(&list(&g.objects))?,
    )?;
    std::fs::write(
        capture.join("events.json"),
        serde_json::to_vec(&list(&g.events))?,
    )?;
    std::fs::write(
        dir.join("labels.json"),
        serde_json::to_vec_pretty(&g.labels)?,
    )?;
    Ok(())
}

/// Reads `labels.json` back.
pub fn read_labels(path: &Path) -> Result<Labels, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
