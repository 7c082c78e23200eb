//! `tapio replay`: capture in, stories out (and into the history).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use arrow::array::RecordBatch;
use tapio_engine::memory::History;
use tapio_engine::store::{DataDir, TABLES};
use tapio_engine::{Engine, EngineConfig};
use tapio_ingest::{ReplayOptions, read_paths};
use tapio_schemas::rows::to_batch;
use tapio_schemas::{
    Correlation, EventBatchBuilder, Relation, Story, correlation_schema, story_schema,
    topology_schema,
};

use crate::Output;

/// Rows per batch fed to the engine.
const BATCH_ROWS: usize = 8192;

/// What `tapio replay` was asked.
pub struct Options {
    pub paths: Vec<PathBuf>,
    pub output: Output,
    pub data_dir: Option<String>,
    pub cluster: String,
    pub year: Option<i16>,
    pub window_secs: i64,
    pub idle_timeout_secs: i64,
    /// Publish the capture to Kafka instead of running the engine here.
    pub sink: Option<tapio_ingest::kafka::KafkaConfig>,
    /// Ground truth to score the stories against.
    pub labels: Option<PathBuf>,
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let ropts = ReplayOptions {
        cluster: o.cluster.clone(),
        year: o.year,
    };
    let paths = o.paths.clone();
    let capture = tokio::task::spawn_blocking(move || read_paths(&paths, &ropts)).await??;
    let read = started.elapsed();
    let s = &capture.summary;
    for p in s.problems.iter().take(20) {
        eprintln!("tapio: rejected {p}");
    }
    if s.problems.len() > 20 {
        eprintln!(
            "tapio: … and {} more rejected records",
            s.problems.len() - 20
        );
    }
    eprintln!("tapio: read {s}");
    if let Some(k) = &o.sink {
        return publish(k, &capture).await;
    }

    let cfg = EngineConfig {
        window_secs: o.window_secs,
        idle_timeout_secs: o.idle_timeout_secs,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(cfg).await?;
    engine.set_topology(&capture.relations).await?;
    engine.remember(&history(o.data_dir.as_deref()).await?);
    let mut stories = Vec::new();
    let mut correlations = Vec::new();
    let mut event_batches = Vec::new();
    let total = capture.events.len();
    let mut to_arrow = std::time::Duration::ZERO;
    for (n, chunk) in capture.events.chunks(BATCH_ROWS).enumerate() {
        let t = Instant::now();
        let mut b = EventBatchBuilder::new();
        for e in chunk {
            b.append(e);
        }
        let batch = b.finish();
        to_arrow += t.elapsed();
        event_batches.push(batch.clone());
        let out = engine.push(batch).await?;
        stories.extend(out.stories);
        correlations.extend(out.correlations);
        if total > 10 * BATCH_ROWS && n % 10 == 9 {
            eprintln!("tapio: {} / {} events", (n + 1) * BATCH_ROWS, total);
        }
    }
    let out = engine.finish().await?;
    stories.extend(out.stories);
    correlations.extend(out.correlations);
    tapio_engine::engine::sort_stories(&mut stories);
    let elapsed = started.elapsed();

    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    match o.output {
        Output::Json => {
            for st in &stories {
                serde_json::to_writer(&mut w, st)?;
                writeln!(w)?;
            }
        }
        Output::Text => crate::render::stories(&mut w, &stories)?,
        Output::None => {}
    }
    w.flush()?;

    if let Some(dir) = &o.data_dir {
        let written = store(
            dir,
            &event_batches,
            &correlations,
            &capture.relations,
            &stories,
        )
        .await?;
        eprintln!("tapio: stored {written} new rows in {dir}");
    }
    if let Some(path) = &o.labels {
        let labels = tapio_ingest::generate::read_labels(path).map_err(anyhow::Error::msg)?;
        let score = tapio_ingest::generate::score::score(&labels, &stories);
        eprintln!("tapio: accuracy against {}:\n{score}", path.display());
    }
    let st = engine.stats();
    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "tapio: stages: read capture {:.3}s, to Arrow {:.3}s; engine: {}",
        read.as_secs_f64(),
        to_arrow.as_secs_f64(),
        engine.stage_times()
    );
    eprintln!(
        "tapio: {} windows evaluated; pattern queries run {}, skipped by the trigger prefilter {}",
        st.windows_evaluated, st.patterns_run, st.patterns_skipped
    );
    eprintln!(
        "tapio: {} events → {} stories ({} candidate incidents below threshold, {} split off when their linking evidence aged, {} late events dropped) in {:.2}s, {:.0} events/s",
        st.events,
        stories.len(),
        st.below_threshold,
        st.splits,
        st.late_dropped,
        secs,
        st.events as f64 / secs
    );
    Ok(())
}

/// The resolved stories stored in `dir`, for the engine's memory (similar incidents and
/// recurrence); none without a data dir.
pub async fn history(dir: Option<&str>) -> anyhow::Result<History> {
    let Some(dir) = dir else {
        return Ok(History::default());
    };
    let dd = DataDir::open(dir).with_context(|| format!("opening data dir {dir}"))?;
    let past = tapio_engine::memory::load(&dd)
        .await
        .with_context(|| format!("reading the stories stored in {dir}"))?;
    if !past.is_empty() {
        eprintln!(
            "tapio: remembering {} earlier stories from {dir}",
            past.len()
        );
    }
    Ok(past)
}

/// Appends events, correlations, topology and stories to the history in `dir`; returns
/// the rows that were new.
pub async fn store(
    dir: &str,
    events: &[RecordBatch],
    correlations: &[Correlation],
    relations: &[Relation],
    stories: &[Story],
) -> anyhow::Result<usize> {
    let dd = DataDir::open(dir).with_context(|| format!("opening data dir {dir}"))?;
    let [events_t, corr_t, topo_t, stories_t] = TABLES;
    let mut written = dd.append(&events_t, events).await?;
    written += dd
        .append(&corr_t, &[to_batch(correlation_schema(), correlations)?])
        .await?;
    written += dd
        .append(&topo_t, &[to_batch(topology_schema(), relations)?])
        .await?;
    written += dd
        .append(&stories_t, &[to_batch(story_schema(), stories)?])
        .await?;
    Ok(written)
}

/// Messages in flight to the broker while publishing a capture.
const IN_FLIGHT: usize = 32;

/// `--sink kafka://…`: the capture's topology, then its events in order (batches of
/// [`BATCH_ROWS`], keyed by cluster), then an end-of-capture marker per cluster, so a
/// running `tapio run --source kafka://…` tells the capture's stories without waiting
/// for the idle timeout.
async fn publish(
    k: &tapio_ingest::kafka::KafkaConfig,
    capture: &tapio_ingest::Capture,
) -> anyhow::Result<()> {
    use futures::StreamExt;
    use tapio_ingest::kafka::{Publisher, admin};
    let started = Instant::now();
    admin::ensure_topics(k)
        .await
        .with_context(|| format!("creating topics on {}", k.brokers))?;
    let p = Publisher::new(k)?;
    let mut clusters: Vec<&str> = capture.events.iter().map(|e| e.cluster.as_str()).collect();
    clusters.extend(capture.relations.iter().map(|r| r.cluster.as_str()));
    clusters.sort_unstable();
    clusters.dedup();
    let mut messages = 0usize;
    for c in &clusters {
        let rel: Vec<Relation> = capture
            .relations
            .iter()
            .filter(|r| r.cluster == *c)
            .cloned()
            .collect();
        p.send_topology(c, &rel)
            .await
            .with_context(|| format!("publishing the topology of cluster {c}"))?;
        messages += 1;
    }
    for c in &clusters {
        let events: Vec<&tapio_schemas::UnifiedEvent> =
            capture.events.iter().filter(|e| e.cluster == *c).collect();
        let batches: Vec<RecordBatch> = events
            .chunks(BATCH_ROWS)
            .map(|chunk| {
                let mut b = EventBatchBuilder::new();
                for e in chunk {
                    b.append(e);
                }
                b.finish()
            })
            .collect();
        // Sends are pipelined; the producer keeps their order within the partition.
        let mut sends = futures::stream::iter(
            batches
                .iter()
                .map(|b| p.send_events(c, std::slice::from_ref(b))),
        )
        .buffered(IN_FLIGHT);
        while let Some(r) = sends.next().await {
            r.with_context(|| format!("publishing events of cluster {c}"))?;
            messages += 1;
        }
        p.send_end_of_capture(c).await?;
        messages += 1;
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "tapio: published {} events of {} cluster(s) in {messages} messages to {} in {secs:.2}s, {:.0} events/s",
        capture.events.len(),
        clusters.len(),
        k.events_topic,
        capture.events.len() as f64 / secs
    );
    Ok(())
}
