//! `tapio run --source kafka://…`: the engine as a member of a consumer group. Event
//! batches come from the events topic; each cluster gets its own engine (its own event
//! time and watermark); story state changes go to the stories topic, history to the data
//! dir; offsets are committed only once what they caused is durable (see
//! `tapio_ingest::kafka::offsets`).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use arrow::array::{Array, RecordBatch, TimestampNanosecondArray};
use tapio_engine::{Engine, EngineConfig};
use tapio_ingest::kafka::source::Assignment;
use tapio_ingest::kafka::{
    Body, EventSource, KafkaConfig, OffsetTracker, Publisher, StoryLog, TopologyLog, admin,
};
use tapio_schemas::{Correlation, Story};

use crate::{Output, live};

/// How long an events message waits for the topology it names to be read.
const TOPOLOGY_WAIT: Duration = Duration::from_secs(60);

/// What `tapio run --source kafka://…` was asked.
pub struct Options {
    pub kafka: KafkaConfig,
    pub group: String,
    pub output: Output,
    pub data_dir: Option<String>,
    pub window_secs: i64,
    pub idle_timeout_secs: i64,
    pub duration: Option<Duration>,
    /// How often history is written and offsets committed.
    pub flush: Duration,
}

/// A cluster's engine and where its events come from.
struct Cluster {
    engine: Engine,
    partition: i32,
    topology_version: u64,
    /// Newest event time seen, and when the last batch arrived.
    max_time: i64,
    last_arrival: Instant,
    /// When its first batch arrived, and events since: the rate reported when its
    /// capture ends.
    first_arrival: Instant,
    events: u64,
}

#[derive(Default)]
struct Counters {
    messages: u64,
    events: u64,
    unreadable: u64,
    published: u64,
    duplicates: u64,
    commits: u64,
    /// Events messages correlated without the topology they named: it was not read in
    /// time.
    without_topology: u64,
    /// Time spent waiting for the broker to acknowledge stories.
    story_acks: Duration,
}

#[derive(Default)]
struct Pending {
    events: Vec<RecordBatch>,
    relations: Vec<tapio_schemas::Relation>,
    correlations: Vec<Correlation>,
    stories: Vec<Story>,
}

struct Runtime {
    o: Options,
    /// Resolved stories stored before this run started: every cluster's engine starts
    /// from them (read once, so every engine remembers the same past).
    history: tapio_engine::memory::History,
    publisher: Publisher,
    log: StoryLog,
    topology: TopologyLog,
    clusters: HashMap<String, Cluster>,
    ended: HashSet<String>,
    tracker: OffsetTracker,
    /// Next offset to read per partition (of any cluster): whether a quiet cluster is
    /// idle is asked against it.
    next_offsets: HashMap<i32, i64>,
    pending: Pending,
    n: Counters,
    out: std::io::BufWriter<std::io::Stdout>,
}

fn max_time(b: &RecordBatch) -> i64 {
    b.column_by_name("event_time")
        .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
        .and_then(|t| t.iter().flatten().max())
        .unwrap_or(i64::MIN)
}

impl Runtime {
    fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            window_secs: self.o.window_secs,
            idle_timeout_secs: self.o.idle_timeout_secs,
            ..EngineConfig::default()
        }
    }

    async fn cluster(&mut self, name: &str, partition: i32) -> anyhow::Result<&mut Cluster> {
        if !self.clusters.contains_key(name) {
            let mut engine = Engine::new(self.engine_config()).await?;
            engine.remember(&self.history);
            self.ended.remove(name);
            self.clusters.insert(
                name.to_string(),
                Cluster {
                    engine,
                    partition,
                    topology_version: 0,
                    max_time: i64::MIN,
                    last_arrival: Instant::now(),
                    first_arrival: Instant::now(),
                    events: 0,
                },
            );
        }
        let c = self
            .clusters
            .get_mut(name)
            .context("cluster engine just created")?;
        // The patterns join the cluster's latest published topology.
        if let Some((v, rel)) = self.topology.get(name)
            && v != c.topology_version
        {
            c.engine.set_topology(&rel).await?;
            c.topology_version = v;
            // The topology the stories were told against goes to the history too.
            self.pending.relations.extend(rel.iter().cloned());
        }
        Ok(c)
    }

    /// Publishes story state changes that are not on the topic yet, prints them.
    async fn emit(&mut self, out: tapio_engine::Output) -> anyhow::Result<()> {
        for s in out.activated.iter().chain(out.stories.iter()) {
            let t = Instant::now();
            let wrote = self
                .publisher
                .send_story_once(s, &self.log, 20)
                .await
                .with_context(|| format!("publishing story {}", s.id))?;
            self.n.story_acks += t.elapsed();
            if !wrote {
                self.n.duplicates += 1;
                continue;
            }
            self.n.published += 1;
            match self.o.output {
                Output::Json => {
                    serde_json::to_writer(&mut self.out, s)?;
                    writeln!(self.out)?;
                }
                Output::Text if s.state == tapio_engine::engine::state::ACTIVE => {
                    writeln!(self.out, "ACTIVE  {}  ({})", s.title, s.id)?
                }
                Output::Text => crate::render::stories(&mut self.out, std::slice::from_ref(s))?,
                Output::None => {}
            }
        }
        self.out.flush()?;
        self.pending.stories.extend(out.stories);
        self.pending.correlations.extend(out.correlations);
        Ok(())
    }

    async fn handle(&mut self, r: tapio_ingest::kafka::Received) -> anyhow::Result<()> {
        self.n.messages += 1;
        let mut newest = i64::MIN;
        match r.body {
            Body::Events(batches) => {
                // The topology these events were sent after must be in the engine first.
                if let Some((p, o)) = r.topology
                    && let Err(e) = self.topology.reached(p, o, TOPOLOGY_WAIT).await
                {
                    self.n.without_topology += 1;
                    tracing::warn!(error = %e, cluster = %r.cluster, "The topology these events name was not read in time; correlating them with the topology read so far.");
                }
                for b in batches {
                    let t = max_time(&b);
                    newest = newest.max(t);
                    self.n.events += b.num_rows() as u64;
                    self.pending.events.push(b.clone());
                    let c = self.cluster(&r.cluster, r.partition).await?;
                    c.max_time = c.max_time.max(t);
                    c.last_arrival = Instant::now();
                    c.events += b.num_rows() as u64;
                    let out = c.engine.push(b).await?;
                    self.emit(out).await?;
                }
            }
            Body::EndOfCapture => {
                if let Some(mut c) = self.clusters.remove(&r.cluster) {
                    let out = c.engine.finish().await?;
                    self.emit(out).await?;
                    let secs = c.first_arrival.elapsed().as_secs_f64().max(1e-9);
                    eprintln!(
                        "tapio: cluster {}: capture ended; {} events in {secs:.2}s from its first batch to its last story ({:.0} events/s); engine: {}",
                        r.cluster,
                        c.events,
                        c.events as f64 / secs,
                        c.engine.stage_times()
                    );
                }
                self.ended.insert(r.cluster.clone());
            }
            Body::Unreadable(why) => {
                self.n.unreadable += 1;
                if self.n.unreadable <= 10 {
                    eprintln!(
                        "tapio: skipped {} partition {} offset {}: {why}",
                        self.o.kafka.events_topic, r.partition, r.offset
                    );
                }
            }
        }
        self.tracker
            .received(r.partition, r.offset, &r.cluster, newest);
        self.next_offsets.insert(r.partition, r.offset + 1);
        Ok(())
    }

    /// Event time keeps moving while a cluster is quiet: after 2 s without a batch, and
    /// once the broker confirms its partition has nothing more to read, its watermark
    /// advances with the wall clock from its newest event. A stall (a broker restart, a
    /// slow fetch) is not quiet: its events are still coming, and closing their windows
    /// early would make them late. Historical captures are unaffected while they stream
    /// (event time alone decides), and end with their
    /// end-of-capture marker.
    async fn idle(&mut self, source: &EventSource) -> anyhow::Result<()> {
        let mut outs = Vec::new();
        for c in self.clusters.values_mut() {
            let quiet = c.last_arrival.elapsed();
            if quiet >= Duration::from_secs(2)
                && c.max_time > i64::MIN
                && source
                    .at_end(
                        c.partition,
                        self.next_offsets.get(&c.partition).copied().unwrap_or(0),
                    )
                    .await
            {
                let now = c.max_time.saturating_add(quiet.as_nanos() as i64);
                outs.push(c.engine.tick(now).await?);
            }
        }
        for o in outs {
            self.emit(o).await?;
        }
        Ok(())
    }

    /// Writes history, then commits what is final.
    async fn flush(&mut self, source: &EventSource, sync: bool) -> anyhow::Result<()> {
        let p = std::mem::take(&mut self.pending);
        if let Some(dir) = &self.o.data_dir
            && !(p.events.is_empty() && p.stories.is_empty() && p.relations.is_empty())
        {
            crate::replay::store(dir, &p.events, &p.correlations, &p.relations, &p.stories).await?;
        }
        self.tracker.flushed();
        let clusters = &self.clusters;
        let offsets = self.tracker.committable(|c| match clusters.get(c) {
            Some(c) => c.engine.horizon(),
            // No engine: its capture ended, or it never had events: nothing held.
            None => Some(i64::MAX),
        });
        if !offsets.is_empty() {
            source.commit(&offsets, sync)?;
            self.tracker.committed(&offsets);
            self.n.commits += 1;
            tracing::debug!(?offsets, "Committed.");
        }
        // Stories whose events cannot come back any more need not be remembered.
        if let Some(h) = self
            .clusters
            .values()
            .filter_map(|c| c.engine.horizon())
            .min()
        {
            self.log
                .forget_before(h.saturating_sub(24 * 3600 * 1_000_000_000));
        }
        Ok(())
    }

    fn rebalanced(&mut self, changes: Vec<Assignment>) {
        for ch in changes {
            if let Assignment::Revoked(parts) = ch {
                // Their new owner rebuilds the state from the committed offsets.
                self.clusters.retain(|_, c| !parts.contains(&c.partition));
                for p in parts {
                    self.next_offsets.remove(&p);
                    self.tracker.revoke(p);
                }
            }
        }
    }
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let k = o.kafka.clone();
    admin::ensure_topics(&k)
        .await
        .with_context(|| format!("creating topics on {}", k.brokers))?;
    let publisher = Publisher::new(&k)?;
    let log = StoryLog::start(&k).await?;
    log.catch_up(Duration::from_secs(60))
        .await
        .context("reading the stories topic back")?;
    // Before anything announces readiness: see `live::stop_after`.
    let stop = live::stop_after(o.duration);
    let topology = TopologyLog::start(&k).await?;
    topology
        .catch_up(Duration::from_secs(60))
        .await
        .context("reading the topology topic")?;
    let source = EventSource::subscribe(&k, &o.group)?;
    eprintln!(
        "tapio: consuming {} on {} as group {:?}; stories to {}",
        k.events_topic, k.brokers, o.group, k.stories_topic
    );
    tokio::pin!(stop);
    let flush_every = o.flush;
    let history = crate::replay::history(o.data_dir.as_deref()).await?;
    let mut rt = Runtime {
        history,
        o,
        publisher,
        log,
        topology,
        clusters: HashMap::new(),
        ended: HashSet::new(),
        tracker: OffsetTracker::default(),
        next_offsets: HashMap::new(),
        pending: Pending::default(),
        n: Counters::default(),
        out: std::io::BufWriter::new(std::io::stdout()),
    };
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut last_flush = Instant::now();
    let started = Instant::now();
    loop {
        tokio::select! {
            r = source.recv() => match r {
                Ok(r) => rt.handle(r).await?,
                // librdkafka reconnects by itself (a broker restart, a network blip); the
                // consumer only reports it. Anything fatal ends the run.
                Err(e) if !e.is_fatal() => {
                    tracing::warn!(error = %e, "Consuming events: retrying.");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e).context("consuming events"),
            },
            _ = tick.tick() => {
                rt.idle(&source).await?;
                if last_flush.elapsed() >= flush_every {
                    rt.flush(&source, false).await?;
                    last_flush = Instant::now();
                }
            }
            _ = &mut stop => break,
        }
        let changes = source.assignments();
        if changes.iter().any(|c| matches!(c, Assignment::Assigned(_))) {
            // Stories the previous owner of these partitions published must be known
            // before their events are re-read.
            rt.log.catch_up(Duration::from_secs(30)).await?;
        }
        rt.rebalanced(changes);
    }
    // Drain: what was consumed is written and committed; open incidents stay open (the
    // next owner of the partitions re-reads their events from the committed offsets).
    rt.flush(&source, true).await?;
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let n = &rt.n;
    eprintln!(
        "tapio: {} messages, {} events ({:.0}/s), {} unreadable, {} without their topology; {} story updates published ({:.1}s waiting for their acknowledgements), {} already on the topic; {} commits; {} messages not yet final",
        n.messages,
        n.events,
        n.events as f64 / secs,
        n.unreadable,
        n.without_topology,
        n.published,
        n.story_acks.as_secs_f64(),
        n.duplicates,
        n.commits,
        rt.tracker.pending()
    );
    Ok(())
}
