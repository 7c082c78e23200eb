//! The Kubernetes collector as a running thing: watchers → [`LiveStore`] → events out, the
//! relationship map published to whoever needs it (the engine's topology table, the
//! enrichment of every other collector's events, the history).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use tapio_schemas::{Relation, UnifiedEvent};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::store::{Change, LiveStore, StoreStats};

/// How the collector runs.
#[derive(Debug, Clone)]
pub struct K8sOptions {
    /// Cluster name for events and relations.
    pub cluster: String,
    /// Resources to watch (see [`super::RESOURCES`]); empty means all.
    pub resources: Vec<String>,
    /// How often the relationship map is rebuilt when something changed.
    pub refresh: Duration,
}

impl Default for K8sOptions {
    fn default() -> Self {
        K8sOptions {
            cluster: "default".into(),
            resources: Vec::new(),
            refresh: Duration::from_secs(2),
        }
    }
}

/// The relationship map as the engine sees it, with a version that grows on each change.
#[derive(Debug, Default, Clone)]
pub struct Topology {
    /// Relations in force plus recently ended ones.
    pub relations: Vec<Relation>,
    /// Bumped on every refresh that changed something.
    pub version: u64,
}

/// A handle that enriches events from the live map; cheap to clone into other tasks.
#[derive(Clone)]
pub struct Enricher(Arc<Mutex<LiveStore>>);

impl Enricher {
    /// Adds the Kubernetes context (owner chain, workload, node, labels, the peer of a
    /// connection) to an event from any collector.
    pub fn enrich(&self, e: &mut UnifiedEvent) {
        lock(&self.0).map().enrich(e);
    }
}

/// A running Kubernetes collector.
pub struct KubernetesCollector {
    store: Arc<Mutex<LiveStore>>,
    topology: watch::Receiver<Arc<Topology>>,
    history: Arc<Mutex<Vec<Relation>>>,
    watchers: Vec<JoinHandle<()>>,
    state: Option<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for KubernetesCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesCollector")
            .field("watchers", &self.watchers.len())
            .finish()
    }
}

fn now_ns() -> i64 {
    jiff::Timestamp::now().as_nanosecond() as i64
}

impl KubernetesCollector {
    /// Starts watching with `client`; events go to `events`.
    pub fn start(
        client: Client,
        opts: K8sOptions,
        events: mpsc::Sender<UnifiedEvent>,
    ) -> Result<Self, String> {
        let (ctx, mut crx) = mpsc::channel::<Change>(4096);
        let watchers = super::watch::spawn(&client, &opts.resources, &ctx)?;
        drop(ctx);
        let store = Arc::new(Mutex::new(LiveStore::new(&opts.cluster)));
        let history = Arc::new(Mutex::new(Vec::new()));
        let (topo_tx, topology) = watch::channel(Arc::new(Topology::default()));
        let (stop, mut stop_rx) = watch::channel(false);
        let st = Arc::clone(&store);
        let hist = Arc::clone(&history);
        let state = tokio::spawn(async move {
            // The next rebuild of the map: at least `refresh` apart, and at least three
            // times as long as the last one took, so a big cluster cannot keep a core busy.
            let mut next = tokio::time::Instant::now() + opts.refresh;
            let mut version = 0u64;
            loop {
                let out: Vec<UnifiedEvent> = tokio::select! {
                    c = crx.recv() => match c {
                        Some(c) => lock(&st).apply(c, now_ns()),
                        None => break,
                    },
                    _ = tokio::time::sleep_until(next) => {
                        let started = tokio::time::Instant::now();
                        let refreshed = lock(&st).refresh(now_ns());
                        next = tokio::time::Instant::now() + opts.refresh.max(started.elapsed() * 3);
                        match refreshed {
                            Some(r) => {
                                version += 1;
                                lock(&hist).extend(r.history);
                                let _ = topo_tx.send(Arc::new(Topology { relations: r.relations, version }));
                                r.events
                            }
                            None => Vec::new(),
                        }
                    }
                    _ = stop_rx.changed() => break,
                };
                for e in out {
                    if events.send(e).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(KubernetesCollector {
            store,
            topology,
            history,
            watchers,
            state: Some(state),
            stop,
        })
    }

    /// Adds the Kubernetes context (owner chain, workload, node, labels, the peer of a
    /// connection) to an event from any collector.
    pub fn enrich(&self, e: &mut UnifiedEvent) {
        lock(&self.store).map().enrich(e);
    }

    /// An [`Enricher`] for other tasks.
    pub fn enricher(&self) -> Enricher {
        Enricher(Arc::clone(&self.store))
    }

    /// True once every watcher has finished its initial list.
    pub fn synced(&self) -> bool {
        lock(&self.store).stats().kinds_listed >= self.watchers.len()
    }

    /// The relationship map; changes are signalled on the receiver.
    pub fn topology(&self) -> watch::Receiver<Arc<Topology>> {
        self.topology.clone()
    }

    /// Relation rows (new and ended) since the last call, for the history.
    pub fn take_history(&self) -> Vec<Relation> {
        std::mem::take(&mut *lock(&self.history))
    }

    /// Counters of the store, with enrichment lookups and hits.
    pub fn stats(&self) -> (StoreStats, (u64, u64)) {
        let mut s = lock(&self.store);
        let st = s.stats();
        (st, s.map().hit_rate())
    }

    /// Stops the watchers and the state task.
    pub async fn shutdown(&mut self) {
        for w in self.watchers.drain(..) {
            w.abort();
        }
        let _ = self.stop.send(true);
        if let Some(s) = self.state.take() {
            let _ = s.await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the store half-updated in a way that
    // matters more than stopping would: keep going with what is there.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
