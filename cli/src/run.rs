//! `tapio run`: live collectors → the streaming engine → stories, all in one process (the
//! embedded default: no broker needed). Stories print as incidents close; history goes
//! to the data dir every `flush` and at shutdown.

use std::io::Write;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use tapio_engine::{Engine, EngineConfig};
use tapio_ingest::batch::{BatchPolicy, next_batch};
use tapio_ingest::ebpf::EbpfOptions;
use tapio_ingest::k8s::live::{K8sOptions, Topology};
use tapio_schemas::Relation;
use tapio_schemas::{Correlation, Story};

use crate::{Output, live};

/// What `tapio run` was asked.
pub struct Options {
    pub collectors: Vec<String>,
    pub output: Output,
    pub ebpf: EbpfOptions,
    pub k8s: K8sOptions,
    pub data_dir: Option<String>,
    pub window_secs: i64,
    pub idle_timeout_secs: i64,
    pub duration: Option<Duration>,
    /// Publish to Kafka instead of running the engine.
    pub sink: Option<tapio_ingest::kafka::KafkaConfig>,
}

/// How often history is written while running.
const FLUSH: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Pending {
    events: Vec<RecordBatch>,
    relations: Vec<Relation>,
    correlations: Vec<Correlation>,
    stories: Vec<Story>,
}

impl Pending {
    async fn flush(&mut self, dir: &Option<String>) -> anyhow::Result<()> {
        if let Some(dir) = dir
            && !(self.events.is_empty() && self.stories.is_empty() && self.relations.is_empty())
        {
            let n = crate::replay::store(
                dir,
                &self.events,
                &self.correlations,
                &self.relations,
                &self.stories,
            )
            .await?;
            tracing::debug!(rows = n, %dir, "History written.");
        }
        *self = Pending::default();
        Ok(())
    }
}

fn print(w: &mut impl Write, output: Output, stories: &[Story]) -> anyhow::Result<()> {
    match output {
        Output::Json => {
            for s in stories {
                serde_json::to_writer(&mut *w, s)?;
                writeln!(w)?;
            }
        }
        Output::Text if !stories.is_empty() => crate::render::stories(w, stories)?,
        _ => {}
    }
    w.flush()?;
    Ok(())
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    if let Some(k) = o.sink.clone() {
        return run_to_kafka(o, k).await;
    }
    let cfg = EngineConfig {
        window_secs: o.window_secs,
        idle_timeout_secs: o.idle_timeout_secs,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(cfg).await?;
    engine.remember(&crate::replay::history(o.data_dir.as_deref()).await?);
    // Before the collectors announce themselves: see `live::stop_after`.
    let stop = live::stop_after(o.duration);
    let mut c = live::start(&o.collectors, o.ebpf, o.k8s).await?;
    let mut topology = c.k8s.as_ref().map(|k| k.topology());
    eprintln!(
        "tapio: running; stories print as incidents close ({} s without new evidence)",
        o.idle_timeout_secs
    );
    tokio::pin!(stop);
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut pending = Pending::default();
    let mut last_flush = Instant::now();
    let mut published = 0usize;
    let (mut batches, batcher) = batcher(&mut c);
    loop {
        let out = tokio::select! {
            b = batches.recv() => match b {
                Some(b) => {
                    pending.events.push(b.clone());
                    engine.push(b).await?
                }
                None => break,
            },
            _ = tick.tick() => engine.tick(jiff::Timestamp::now().as_nanosecond() as i64).await?,
            // The live relationship map changed: the patterns join the new one.
            Some(t) = changed(&mut topology) => {
                engine.set_topology(&t.relations).await?;
                tapio_engine::Output::default()
            }
            _ = &mut stop => break,
        };
        published += out.stories.len();
        print(&mut w, o.output, &out.stories)?;
        pending.stories.extend(out.stories);
        pending.correlations.extend(out.correlations);
        if last_flush.elapsed() >= FLUSH {
            if let Some(k) = &c.k8s {
                pending.relations.extend(k.take_history());
            }
            pending.flush(&o.data_dir).await?;
            last_flush = Instant::now();
        }
    }
    let stopped = c.stop().await;
    // The collectors have stopped: the batcher drains what they left and ends.
    while let Some(b) = batches.recv().await {
        pending.events.push(b.clone());
        let out = engine.push(b).await?;
        print(&mut w, o.output, &out.stories)?;
        published += out.stories.len();
        pending.stories.extend(out.stories);
        pending.correlations.extend(out.correlations);
    }
    let _ = batcher.await;
    let out = engine.finish().await?;
    published += out.stories.len();
    print(&mut w, o.output, &out.stories)?;
    if published == 0 && o.output == Output::Text {
        writeln!(w, "No incidents found.")?;
        w.flush()?;
    }
    pending.stories.extend(out.stories);
    pending.correlations.extend(out.correlations);
    if let Some(k) = &c.k8s {
        pending.relations.extend(k.take_history());
    }
    pending.flush(&o.data_dir).await?;
    stopped.report();
    let st = engine.stats();
    eprintln!(
        "tapio: {} events → {} stories in {} windows",
        st.events, published, st.windows
    );
    Ok(())
}

/// `tapio run --sink kafka://…`: the collectors' batches go to the events topic and
/// each new relationship map to the topology topic; a `tapio run --source kafka://…`
/// elsewhere tells the stories. Every send waits for the broker, so a slow broker slows
/// the batcher (and the collectors' bounded channels) instead of growing memory.
async fn run_to_kafka(o: Options, k: tapio_ingest::kafka::KafkaConfig) -> anyhow::Result<()> {
    use anyhow::Context;
    use tapio_ingest::kafka::{Publisher, admin};
    admin::ensure_topics(&k)
        .await
        .with_context(|| format!("creating topics on {}", k.brokers))?;
    let publisher = Publisher::new(&k)?;
    let cluster = o.ebpf.cluster.clone();
    // Before the collectors announce themselves: see `live::stop_after`.
    let stop = live::stop_after(o.duration);
    let mut c = live::start(&o.collectors, o.ebpf, o.k8s).await?;
    let mut topology = c.k8s.as_ref().map(|k| k.topology());
    eprintln!(
        "tapio: sending events to {} on {}",
        k.events_topic, k.brokers
    );
    tokio::pin!(stop);
    let (mut batches, batcher) = batcher(&mut c);
    let (mut sent, mut rows) = (0usize, 0usize);
    loop {
        tokio::select! {
            b = batches.recv() => match b {
                Some(b) => {
                    rows += b.num_rows();
                    publisher.send_events(&cluster, &[b]).await?;
                    sent += 1;
                }
                None => break,
            },
            Some(t) = changed(&mut topology) => {
                publisher.send_topology(&cluster, &t.relations).await?;
            }
            _ = &mut stop => break,
        }
    }
    let stopped = c.stop().await;
    while let Some(b) = batches.recv().await {
        rows += b.num_rows();
        publisher.send_events(&cluster, &[b]).await?;
        sent += 1;
    }
    let _ = batcher.await;
    stopped.report();
    eprintln!(
        "tapio: sent {rows} events in {sent} messages to {}",
        k.events_topic
    );
    Ok(())
}

/// Takes the collectors' events and cuts them into batches in a task of its own: a
/// half-built batch inside `select!` would be dropped (with its events) whenever another
/// branch fires. The batches end once the collectors stopped and were drained.
fn batcher(
    c: &mut live::Collectors,
) -> (
    tokio::sync::mpsc::Receiver<RecordBatch>,
    tokio::task::JoinHandle<()>,
) {
    let (btx, batches) = tokio::sync::mpsc::channel(16);
    let mut events = std::mem::replace(&mut c.events, tokio::sync::mpsc::channel(1).1);
    let task = tokio::spawn(async move {
        while let Some(b) = next_batch(&mut events, BatchPolicy::default()).await {
            if btx.send(b).await.is_err() {
                break;
            }
        }
    });
    (batches, task)
}

/// The next version of the topology, when there is a Kubernetes collector.
async fn changed(
    rx: &mut Option<tokio::sync::watch::Receiver<std::sync::Arc<Topology>>>,
) -> Option<std::sync::Arc<Topology>> {
    match rx {
        Some(rx) => {
            rx.changed().await.ok()?;
            Some(rx.borrow_and_update().clone())
        }
        None => std::future::pending().await,
    }
}
