//! The streaming engine: push event batches, get stories as incidents close.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ahash::HashSet;
use arrow::array::{Array, BooleanArray, RecordBatch, TimestampNanosecondArray};
use arrow::compute::filter_record_batch;
use tapio_schemas::rows::to_batch;
use tapio_schemas::{Correlation, Relation, Story, relation, topology_schema};
use tracing::debug;

use crate::config::EngineConfig;
use crate::context_index::{ContextIndex, Search};
use crate::incidents::Incidents;
use crate::memory::{History, Memory, attach};
use crate::runner::{Runner, notable_rows};
use crate::story::{PodsByObject, ServicesByPod, assemble, assemble_story};
use crate::window::{Retained, Seen, window_start};
use crate::window_rows::{WindowPacking, owned_rows};
use crate::{Error, Result};

const NS: i64 = 1_000_000_000;

/// The newest rows, held plain until packed (see [`Engine::push`]): pieces of a batch
/// with their arrival numbers.
#[derive(Debug, Default)]
enum Packing {
    #[default]
    Idle,
    Waiting(Vec<(u64, RecordBatch)>),
    Running(tokio::task::JoinHandle<Result<Vec<(u64, RecordBatch)>>>),
}

/// `pieces` as the window holds them ([`WindowPacking::store_piece`], on two threads
/// if `split`), each with its arrival number.
fn pack(
    packing: &WindowPacking,
    pieces: Vec<(u64, RecordBatch)>,
    split: bool,
) -> Result<Vec<(u64, RecordBatch)>> {
    pieces
        .into_iter()
        .map(|(arrival, rows)| Ok((arrival, packing.store_piece(&rows, split)?)))
        .collect()
}

/// What closing windows produced.
///
/// A story goes through `building` (evidence below the threshold: not published) →
/// `active` (the threshold is crossed: published in `activated`) → `resolved` (no new
/// evidence for the idle timeout, or end of input: published in `stories`, final).
#[derive(Debug, Default)]
pub struct Output {
    /// Final stories of incidents that closed (state `resolved`).
    pub stories: Vec<Story>,
    /// Their correlations.
    pub correlations: Vec<Correlation>,
    /// Stories that became `active` (enough evidence) while their incident is open: a
    /// snapshot of the evidence so far. The same id comes again, resolved, in `stories`.
    pub activated: Vec<Story>,
}

impl Output {
    fn extend(&mut self, o: Output) {
        self.stories.extend(o.stories);
        self.correlations.extend(o.correlations);
        self.activated.extend(o.activated);
    }

    /// Whether nothing was produced.
    pub fn is_empty(&self) -> bool {
        self.stories.is_empty() && self.activated.is_empty()
    }
}

/// Story states (the `state` field).
pub mod state {
    /// Evidence above the threshold, incident still open.
    pub const ACTIVE: &str = "active";
    /// The incident closed: the final story.
    pub const RESOLVED: &str = "resolved";
}

/// Counters of one engine run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EngineStats {
    /// Event rows accepted.
    pub events: u64,
    /// Rows older than the look-back behind the watermark: too late to correlate.
    pub late_dropped: u64,
    /// Windows closed.
    pub windows: u64,
    /// Windows whose patterns ran (windows with new events).
    pub windows_evaluated: u64,
    /// Pattern queries run, summed over windows.
    pub patterns_run: u64,
    /// Pattern queries skipped by the trigger prefilter: no notable event of the window
    /// had what they need (see [`crate::triggers`]).
    pub patterns_skipped: u64,
    /// Distinct signals.
    pub signals: u64,
    /// Stories published.
    pub stories: u64,
    /// Incidents closed with too little evidence to publish (e.g. a probe blip).
    pub below_threshold: u64,
    /// Incidents split off unpublished ones whose linking evidence aged out of the
    /// look-back (see [`crate::incidents::Incidents::split_aged`]).
    pub splits: u64,
    /// Most event rows held at once for the window and its look-back.
    pub peak_retained_rows: u64,
    /// Most bytes of Arrow event data held at once (at the same moment as the rows, the
    /// newest batch still plain: see [`Engine::push`]).
    pub peak_retained_bytes: u64,
    /// Bytes of the context index of those rows then (see [`crate::context_index`]).
    pub peak_index_bytes: u64,
    /// Rows the context search found for stories, summed over windows.
    pub context_rows: u64,
    /// Of those, rows a story did not hold yet (added to it).
    pub context_new: u64,
}

/// Where the engine's time went, per stage: wall time summed over all windows, so the
/// slow stage of a run is visible (`tapio replay` prints it; the engine bench reports it).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct StageTimes {
    /// Dropping late rows, cutting each batch's notable rows (the routine-row prefilter,
    /// once per row), and retaining both for the look-back: packing the rows, or
    /// waiting for them to be packed where that ran while windows were evaluated.
    pub retain: Duration,
    /// Cutting a window (and its notable rows) out of the retained rows.
    pub prefilter: Duration,
    /// Planning and running the pattern SQL over the window.
    pub patterns: Duration,
    /// Grouping signals into incidents.
    pub incidents: Duration,
    /// The context search (every event of the open incidents, by key: see
    /// [`crate::context_index`]).
    pub context: Duration,
    /// Assembling stories (root cause, blast radius, timeline) and closing incidents.
    pub stories: Duration,
}

impl StageTimes {
    /// All stages.
    pub fn total(&self) -> Duration {
        self.retain + self.prefilter + self.patterns + self.incidents + self.context + self.stories
    }
}

impl std::fmt::Display for StageTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.total().as_secs_f64().max(1e-9);
        let parts = [
            ("retain", self.retain),
            ("prefilter", self.prefilter),
            ("patterns", self.patterns),
            ("incidents", self.incidents),
            ("context", self.context),
            ("stories", self.stories),
        ];
        for (i, (name, d)) in parts.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(
                f,
                "{sep}{name} {:.3}s ({:.0}%)",
                d.as_secs_f64(),
                100.0 * d.as_secs_f64() / total
            )?;
        }
        Ok(())
    }
}

/// An open incident's context keys (see [`crate::incidents::Incident::context_keys`]) as
/// of its revision, kept from one evaluation to the next: most incidents do not change
/// in a window, and building every incident's keys again each window was ~0.6 s of 5.3
/// with 1M events and 48k pods in one window.
#[derive(Debug)]
struct Searched {
    revision: u64,
    keys: Vec<(&'static str, String)>,
    /// Per key: whether an earlier evaluation searched it (it needs only unseen rows).
    known: Vec<bool>,
}

/// The engine. Feed batches in roughly event-time order (late rows within the look-back
/// are still correlated), then call [`Engine::finish`].
pub struct Engine {
    cfg: EngineConfig,
    runner: Runner,
    retained: Retained,
    /// The retained rows that patterns read (see [`notable_rows`]), cut once on arrival.
    notable: Retained,
    /// Both kinds of retained rows by the keys story context looks up.
    index: ContextIndex,
    incidents: Incidents,
    services: ServicesByPod,
    users: PodsByObject,
    watermark: Option<i64>,
    /// Ids of open incidents already published as active.
    active: HashSet<String>,
    /// Events before this time were evicted from the look-back.
    evicted_before: Option<i64>,
    next_window: Option<i64>,
    max_time: Option<i64>,
    /// Each open incident's context keys as the last evaluation searched them, and
    /// what it saw.
    searched: BTreeMap<String, Searched>,
    context_seen: Option<Seen>,
    /// What the last evaluation saw of the notable rows.
    notable_seen: Option<Seen>,
    /// Event-time range (min, max) of events not yet evaluated by a window.
    pending: Option<(i64, i64)>,
    stats: EngineStats,
    times: StageTimes,
    /// Past incidents: similar ones and recurrences are attached to new stories.
    memory: Memory,
    /// The newest rows, until they are held packed.
    packing: Packing,
}

impl Engine {
    /// A new engine; plans the pattern library.
    pub async fn new(cfg: EngineConfig) -> Result<Self> {
        if !(0.0..=1.0).contains(&cfg.link_threshold) {
            return Err(Error::Input(format!(
                "link_threshold must be within 0..1, not {}",
                cfg.link_threshold
            )));
        }
        if cfg.window_secs <= 0 || cfg.lookback_secs < 0 || cfg.idle_timeout_secs <= 0 {
            return Err(Error::Input(
                "window_secs and idle_timeout_secs must be > 0, lookback_secs >= 0".into(),
            ));
        }
        let runner = Runner::new(cfg.partitions, cfg.trigger_prefilter).await?;
        let incidents = Incidents::new(cfg.link_threshold, cfg.idle_timeout_secs * NS);
        Ok(Engine {
            cfg,
            runner,
            retained: Retained::default(),
            notable: Retained::default(),
            index: ContextIndex::default(),
            incidents,
            services: ServicesByPod::default(),
            users: PodsByObject::default(),
            watermark: None,
            active: Default::default(),
            evicted_before: None,
            next_window: None,
            max_time: None,
            searched: BTreeMap::new(),
            context_seen: None,
            notable_seen: None,
            pending: None,
            stats: EngineStats::default(),
            times: StageTimes::default(),
            memory: Memory::default(),
            packing: Packing::Idle,
        })
    }

    /// Remembers resolved stories from before this run (the stored history, see
    /// [`crate::memory::load`]): new stories that resemble them, or whose root cause
    /// fails the same way again, say so.
    pub fn remember(&mut self, past: &History) {
        self.memory.remember_history(past);
    }

    /// Replaces the topology the patterns join against.
    pub async fn set_topology(&mut self, relations: &[Relation]) -> Result<()> {
        self.services.clear();
        self.users.clear();
        for r in relations {
            let pod = format!("{}/{}", r.to_namespace, r.to_name);
            match r.relation.as_str() {
                relation::SELECTS => {
                    self.services
                        .entry(pod)
                        .or_default()
                        .push(format!("{}/{}", r.from_namespace, r.from_name));
                }
                relation::USES_CONFIGMAP | relation::USES_SECRET | relation::CLAIMS => {
                    let object = format!("{}/{}/{}", r.to_kind, r.to_namespace, r.to_name);
                    self.users
                        .entry(object)
                        .or_default()
                        .push(format!("{}/{}", r.from_namespace, r.from_name));
                }
                _ => {}
            }
        }
        for names in self.services.values_mut().chain(self.users.values_mut()) {
            names.sort_unstable();
            names.dedup();
            names.shrink_to_fit();
        }
        self.services.shrink_to_fit();
        self.users.shrink_to_fit();
        let batch = to_batch(topology_schema(), relations)?;
        self.runner.set_topology(vec![batch]).await?;
        Ok(())
    }

    /// Counters so far.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Time spent per stage so far.
    pub fn stage_times(&self) -> &StageTimes {
        &self.times
    }

    /// The event time before which no event is held any more: every older event is out
    /// of the look-back and in no open incident, so its effects are final (published or
    /// dropped). A transport may acknowledge input whose events are all older than this
    /// (e.g. commit Kafka offsets); replaying from there rebuilds the engine's state.
    /// `None` until the first window closes.
    pub fn horizon(&self) -> Option<i64> {
        let evicted = self.evicted_before?;
        let open = self
            .incidents
            .open()
            .map(|i| i.events.min_time().unwrap_or(i.first).min(i.first))
            .min();
        Some(open.map_or(evicted, |o| o.min(evicted)))
    }

    fn size(&self) -> i64 {
        self.cfg.window_secs * NS
    }

    fn lookback(&self) -> i64 {
        self.cfg.lookback_secs * NS
    }

    /// Adds a batch of events (UnifiedEvent schema); returns stories of incidents that
    /// the advancing watermark closed.
    pub async fn push(&mut self, batch: RecordBatch) -> Result<Output> {
        let t = Instant::now();
        let batch = self.drop_late(batch)?;
        let notable = owned_rows(&notable_rows(&batch)?)?;
        let mut retained: Option<(i64, i64)> = None;
        let mut pieces = Vec::new();
        for rows in self.runner.packing().pieces(&batch)? {
            if let Some((lo, hi)) = self.retained.push(rows.clone())? {
                retained = Some(retained.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
                let arrival = self.retained.last_arrival();
                self.index.add_rows(arrival, &rows)?;
                pieces.push((arrival, rows));
            }
        }
        if self.notable.push(notable)?.is_some() {
            let arrival = self.notable.last_arrival();
            if let Some((rows, _)) = self.notable.batch(arrival) {
                self.index.add_notable(arrival, rows)?;
            }
        }
        let Some((lo, hi)) = retained else {
            self.times.retain += t.elapsed();
            return Ok(Output::default());
        };
        // The new rows are packed on another thread while the windows they close are
        // evaluated (from when their patterns have run: DataFusion uses both cores):
        // packing is most of what a batch costs on arrival, and the rest of evaluation
        // runs on one core. Meanwhile the window holds them plain (see
        // `WindowPacking::pieces`); patterns that read every row wait for them packed.
        // (A push that failed may have left some waiting.)
        self.hold_packed().await?;
        self.packing = Packing::Waiting(pieces);
        if self.runner.reads_window() {
            self.hold_packed().await?;
        }
        self.times.retain += t.elapsed();
        self.stats.events += batch.num_rows() as u64;
        // The most rows are held now, before the windows that close evict any; the
        // newest of them still plain.
        if self.retained.rows() as u64 > self.stats.peak_retained_rows {
            self.stats.peak_retained_rows = self.retained.rows() as u64;
            self.stats.peak_retained_bytes = (self.retained.bytes() + self.notable.bytes()) as u64;
            self.stats.peak_index_bytes = self.index.bytes() as u64;
        }
        self.pending = Some(
            self.pending
                .map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))),
        );
        self.max_time = Some(self.max_time.map_or(hi, |m| m.max(hi)));
        let wm = hi - self.cfg.lateness_secs * NS;
        self.watermark = Some(self.watermark.map_or(wm, |w| w.max(wm)));
        if self.next_window.is_none() {
            self.next_window = Some(window_start(lo, self.size()) + self.size());
        }
        let out = self.advance(self.watermark.unwrap_or(i64::MIN)).await?;
        let t = Instant::now();
        self.hold_packed().await?;
        self.times.retain += t.elapsed();
        Ok(out)
    }

    /// Starts packing the pieces waiting for it on the blocking pool.
    fn start_packing(&mut self) {
        if let Packing::Waiting(pieces) = &mut self.packing {
            let pieces = std::mem::take(pieces);
            let packing = self.runner.packing().clone();
            self.packing = Packing::Running(tokio::task::spawn_blocking(move || {
                pack(&packing, pieces, false)
            }));
        }
    }

    /// Waits for the newest pieces to be packed (packs here those not started) and
    /// holds them so, in place of their plain rows; those evicted meanwhile are dropped.
    async fn hold_packed(&mut self) -> Result<()> {
        let pieces = match std::mem::take(&mut self.packing) {
            Packing::Idle => return Ok(()),
            Packing::Waiting(pieces) => pack(self.runner.packing(), pieces, true)?,
            Packing::Running(job) => job
                .await
                .map_err(|e| Error::Internal(format!("packing the window's rows: {e}")))??,
        };
        for (arrival, rows) in pieces {
            self.retained.replace(arrival, rows)?;
        }
        Ok(())
    }

    /// Processing-time progress for live input: moves the watermark to `now` minus the
    /// allowed lateness when no newer event has, so windows close and idle incidents
    /// become stories even while the cluster is quiet. Replay never calls it (event time
    /// alone decides there, which keeps replays deterministic).
    pub async fn tick(&mut self, now: i64) -> Result<Output> {
        let wm = now - self.cfg.lateness_secs * NS;
        if self.watermark.is_some_and(|w| w >= wm) || self.next_window.is_none() {
            return Ok(Output::default());
        }
        self.watermark = Some(wm);
        self.advance(wm).await
    }

    fn drop_late(&mut self, batch: RecordBatch) -> Result<RecordBatch> {
        let Some(wm) = self.watermark else {
            return Ok(batch);
        };
        let cutoff = wm - self.lookback();
        let times = batch
            .column_by_name("event_time")
            .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
            .ok_or_else(|| Error::Input("batch without a timestamp `event_time` column".into()))?;
        if times.iter().flatten().all(|t| t >= cutoff) {
            return Ok(batch);
        }
        let mask: BooleanArray = times
            .iter()
            .map(|t| Some(t.is_some_and(|t| t >= cutoff)))
            .collect();
        let kept = filter_record_batch(&batch, &mask)?;
        self.stats.late_dropped += (batch.num_rows() - kept.num_rows()) as u64;
        Ok(kept)
    }

    /// Closes every window that ends at or before `until`.
    async fn advance(&mut self, until: i64) -> Result<Output> {
        let mut out = Output::default();
        while let Some(end) = self.next_window {
            if end > until {
                break;
            }
            out.extend(self.close_window(end).await?);
            // Jump over windows with nothing new to evaluate. Incidents that went idle
            // meanwhile close at the next window closed, with the same story.
            let target = match self.pending {
                Some((lo, _)) => window_start(lo, self.size()) + self.size(),
                None => window_start(until, self.size()),
            };
            self.next_window = Some((end + self.size()).max(target));
        }
        Ok(out)
    }

    async fn close_window(&mut self, end: i64) -> Result<Output> {
        self.stats.windows += 1;
        let from = end - self.size() - self.lookback();
        if let Some((lo, hi)) = self.pending.filter(|(lo, _)| *lo < end) {
            let t = Instant::now();
            self.pending = match self.retained.next_time(end)? {
                Some(next) if hi >= end => Some((next.max(lo), hi)),
                _ => None,
            };
            self.stats.windows_evaluated += 1;
            // Every row of the window, for patterns that read them (the library's
            // do not: context is looked up in the index).
            let data = match self.runner.reads_window() {
                true => self.retained.range(from, end)?,
                false => Vec::new(),
            };
            // Notable rows the last evaluation did not hold: what row-local patterns
            // are checked against (see `triggers`).
            let notable_seen = self.notable_seen;
            let new_notable = match self.notable_seen {
                Some(seen) => Some(self.notable.range_unseen(from, end, seen)?),
                None => None,
            };
            self.notable_seen = Some(self.notable.seen(end));
            let triggers =
                self.runner
                    .set_events(data, self.notable.range(from, end)?, new_notable);
            let t = self.lap(t, |s| &mut s.prefilter);
            let (signals, runs) = self.runner.signals(&triggers).await?;
            self.stats.patterns_run += runs.run;
            self.stats.patterns_skipped += runs.skipped;
            let t = self.lap(t, |s| &mut s.patterns);
            self.start_packing();
            let found = signals.len();
            self.stats.signals += self.incidents.add(signals)? as u64;
            // An incident still building (a probe blip, one back-off) gets its signals'
            // rows only; its pods' and workloads' history is fetched once its evidence
            // crosses the threshold (its keys are new then, so the whole look-back is
            // searched). Most building incidents never publish, and fetching the history
            // of each was most of the context stage at 1M events in the window.
            let threshold = self.cfg.threshold;
            self.searched
                .retain(|id, _| self.incidents.get(id).is_some());
            for i in self.incidents.open() {
                // The same revision has the same signals, weight included.
                let earlier = self.searched.get(&i.id);
                if earlier.is_some_and(|e| e.revision == i.revision) {
                    continue;
                }
                let building = i.weight() < threshold;
                // Keys the last evaluation searched for this incident have seen its rows.
                let before: HashSet<&(&'static str, String)> =
                    earlier.map(|e| e.keys.iter().collect()).unwrap_or_default();
                let keys: Vec<_> = i
                    .context_keys()
                    .into_iter()
                    .filter(|(t, _)| !building || *t == "event")
                    .collect();
                let known = keys.iter().map(|k| before.contains(k)).collect();
                let keys = Searched {
                    revision: i.revision,
                    keys,
                    known,
                };
                self.searched.insert(i.id.clone(), keys);
            }
            let t = self.lap(t, |s| &mut s.incidents);
            // A key searched in the last evaluation has seen the rows of that window:
            // search it only in the rows that arrived or fell into the window since.
            // New keys (new incidents, grown or merged ones) search the whole window.
            let (mut known, mut new) = (Vec::new(), Vec::new());
            for (id, s) in &self.searched {
                for ((t, k), was) in s.keys.iter().zip(&s.known) {
                    let key = (id.as_str(), *t, k.as_str());
                    if *was { known.push(key) } else { new.push(key) }
                }
            }
            let search = Search {
                new: &new,
                known: &known,
                seen: self.context_seen.zip(notable_seen),
                from,
                end,
            };
            let context =
                self.index
                    .find(&self.retained, &self.notable, self.runner.packing(), search)?;
            self.context_seen = Some(self.retained.seen(end));
            for s in self.searched.values_mut() {
                s.known.iter_mut().for_each(|k| *k = true);
            }
            for f in context {
                let rows: usize = f.stories.iter().map(|(_, r)| r.len()).sum();
                self.stats.context_rows += rows as u64;
                self.stats.context_new += self.incidents.add_context(&f.rows, &f.stories)? as u64;
            }
            self.lap(t, |s| &mut s.context);
            debug!(
                window_end = end,
                found,
                open = self.incidents.open().count(),
                "Window evaluated."
            );
        }
        let t = Instant::now();
        let closed = self
            .incidents
            .close_before(end - self.cfg.idle_timeout_secs * NS);
        let mut out = self.publish(closed)?;
        out.activated = self.activate()?;
        let t = self.lap(t, |s| &mut s.stories);
        self.retained.evict(from);
        self.notable.evict(from);
        self.index.evict(&self.retained, &self.notable);
        self.evicted_before = Some(self.evicted_before.map_or(from, |e| e.max(from)));
        self.stats.splits += self.incidents.split_aged(from, &self.active)? as u64;
        self.incidents.forget_before(from);
        self.lap(t, |s| &mut s.retain);
        Ok(out)
    }

    /// Adds the time since `t` to one stage; returns now.
    fn lap(&mut self, t: Instant, stage: impl FnOnce(&mut StageTimes) -> &mut Duration) -> Instant {
        let now = Instant::now();
        *stage(&mut self.times) += now - t;
        now
    }

    /// Open incidents that crossed the threshold: their first `active` story.
    fn activate(&mut self) -> Result<Vec<Story>> {
        // Incidents merged into others are gone: forget them.
        let open: HashSet<&str> = self.incidents.open().map(|i| i.id.as_str()).collect();
        self.active.retain(|id| open.contains(id.as_str()));
        let mut out = Vec::new();
        for inc in self.incidents.open() {
            if self.active.contains(&inc.id) {
                continue;
            }
            if let Some(mut story) =
                assemble_story(inc, &self.services, &self.users, self.cfg.threshold)?
            {
                story.state = state::ACTIVE.into();
                self.active.insert(inc.id.clone());
                out.push(story);
            }
        }
        sort_stories(&mut out);
        for s in &mut out {
            let r = self.memory.recall(s);
            attach(s, r);
        }
        Ok(out)
    }

    fn publish(&mut self, closed: Vec<crate::incidents::Incident>) -> Result<Output> {
        let mut out = Output::default();
        for inc in closed {
            self.active.remove(&inc.id);
            match assemble(&inc, &self.services, &self.users, self.cfg.threshold)? {
                Some((mut story, corr)) => {
                    story.state = state::RESOLVED.into();
                    self.stats.stories += 1;
                    out.stories.push(story);
                    out.correlations.extend(corr);
                }
                None => self.stats.below_threshold += 1,
            }
        }
        // Oldest first, each remembered before the next is recalled: a story recalls
        // every incident that ended before it started, however the closes were batched.
        sort_stories(&mut out.stories);
        for s in &mut out.stories {
            let r = self.memory.recall(s);
            attach(s, r);
            self.memory.remember(s);
        }
        Ok(out)
    }

    /// End of input: closes the remaining windows and every incident.
    pub async fn finish(&mut self) -> Result<Output> {
        let mut out = Output::default();
        if let Some(max) = self.max_time {
            out.extend(
                self.advance(window_start(max, self.size()) + self.size())
                    .await?,
            );
        }
        let t = Instant::now();
        let closed = self.incidents.close_all();
        out.extend(self.publish(closed)?);
        self.lap(t, |s| &mut s.stories);
        Ok(out)
    }
}

/// Sorts stories for output: by first seen, then id (deterministic).
pub fn sort_stories(stories: &mut [Story]) {
    stories.sort_by(|a, b| (a.first_seen, &a.id).cmp(&(b.first_seen, &b.id)));
}

#[cfg(test)]
mod tests {
    use tapio_schemas::{UnifiedEvent, events_to_batch};

    use super::*;
    use crate::runner::tests::pod_event;

    fn at(i: usize, secs: i64) -> UnifiedEvent {
        let mut e = pod_event(i);
        e.event_time += secs * NS;
        e
    }

    /// The newest rows are packed while the windows they close are evaluated: however
    /// many windows one batch closes, every row is held packed when `push` returns.
    #[tokio::test]
    async fn rows_are_held_packed_when_push_returns() {
        let mut engine = Engine::new(EngineConfig::default()).await.unwrap();
        let first: Vec<_> = (0..100).map(|i| at(i, (i % 50) as i64)).collect();
        engine.push(events_to_batch(&first)).await.unwrap();
        assert_eq!(engine.stats().windows_evaluated, 0);
        // Rows in two more windows and one past them: three evaluations in one push.
        let second: Vec<_> = (100..300).map(|i| at(i, [70, 130, 400][i % 3])).collect();
        engine.push(events_to_batch(&second)).await.unwrap();
        assert_eq!(engine.stats().windows_evaluated, 3);
        let held = &engine.retained;
        assert_eq!(held.rows(), 300);
        for a in held.first_arrival()..=held.last_arrival() {
            let (rows, _) = held.batch(a).unwrap();
            assert!(engine.runner.packing().is_packed(rows), "arrival {a}");
        }
    }
}
