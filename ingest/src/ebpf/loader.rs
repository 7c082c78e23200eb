//! The aya side of the eBPF collector: load each probe object, attach its programs, read
//! its ring buffer into UnifiedEvents, watch its drop counter, and detach on shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aya::maps::{MapData, PerCpuArray, RingBuf};
use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf, EbpfLoader};
use tapio_bpf::{Probe, Program};
use tapio_schemas::ids::stable_id;
use tapio_schemas::{ObjectRef, Severity, UnifiedEvent, source};
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::convert::{Context, to_event};
use super::record::decode;

/// Why the eBPF collector could not start, or a probe could not load.
#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    /// This build has no eBPF objects (clang, bpftool or kernel BTF missing at build time).
    #[error("the eBPF collector is not available in this build: {0}")]
    NotBuilt(&'static str),
    /// The running kernel exposes no BTF (`/sys/kernel/btf/vmlinux`).
    #[error("the kernel has no BTF, which the eBPF programs need: {0}")]
    Btf(#[from] aya::BtfError),
    /// A probe name on the command line that does not exist.
    #[error("unknown eBPF probe {0:?} (known: oom, exit, tcp, memcg)")]
    UnknownProbe(String),
    /// The kernel refused a probe's object or program (privilege, kernel version).
    #[error("eBPF probe {probe}: {what}: {source}")]
    Load {
        /// The probe.
        probe: &'static str,
        /// The step that failed.
        what: String,
        /// The cause, from aya.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Every requested probe failed; the errors say why.
    #[error("no eBPF probe could be loaded: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    NoneLoaded(Vec<EbpfError>),
}

fn load_err(
    probe: &'static str,
    what: impl Into<String>,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> EbpfError {
    let what = what.into();
    move |source| EbpfError::Load {
        probe,
        what,
        source,
    }
}

/// What the collector runs with.
#[derive(Debug, Clone)]
pub struct EbpfOptions {
    /// Probes to load by name; empty means all.
    pub probes: Vec<String>,
    /// Ring buffer bytes per probe (a power of two, at least a page).
    pub ring_bytes: u32,
    /// Node name for the events.
    pub node: String,
    /// Cluster name for the events.
    pub cluster: String,
    /// Events buffered between the readers and the consumer. When it is full the readers
    /// wait, the ring buffers fill and the kernel drops (and counts) instead of Tapio
    /// growing without bound.
    pub channel: usize,
    /// How often drop counters are read.
    pub loss_interval: Duration,
}

impl Default for EbpfOptions {
    fn default() -> Self {
        EbpfOptions {
            probes: Vec::new(),
            ring_bytes: 1 << 22,
            node: node_name(),
            cluster: "default".into(),
            channel: 65_536,
            loss_interval: Duration::from_secs(1),
        }
    }
}

/// This machine's node name: `NODE_NAME` (set from `spec.nodeName` in the DaemonSet), else
/// the host name.
pub fn node_name() -> String {
    std::env::var("NODE_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned()
        })
}

/// Counters of one probe, shared with its reader task.
#[derive(Debug, Default)]
pub struct ProbeCounters {
    /// Records read from the ring buffer.
    pub received: AtomicU64,
    /// Records that did not decode (a loader/object mismatch).
    pub malformed: AtomicU64,
    /// Records the kernel dropped because the ring buffer was full.
    pub lost: AtomicU64,
}

/// A loaded probe's counters, as a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeStats {
    /// Probe name.
    pub name: &'static str,
    /// Records read.
    pub received: u64,
    /// Records that did not decode.
    pub malformed: u64,
    /// Records dropped in the kernel.
    pub lost: u64,
}

struct Loaded {
    name: &'static str,
    // Owns the attached programs: dropping it detaches them.
    _ebpf: Ebpf,
    counters: Arc<ProbeCounters>,
}

/// A running eBPF collector: probes attached, readers running. Events arrive through
/// [`EbpfCollector::recv`]; [`EbpfCollector::shutdown`] stops the readers and detaches.
pub struct EbpfCollector {
    loaded: Vec<Loaded>,
    skipped: Vec<(&'static str, String)>,
    rx: Option<mpsc::Receiver<UnifiedEvent>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for EbpfCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbpfCollector")
            .field("probes", &self.probe_names())
            .field("skipped", &self.skipped)
            .finish()
    }
}

fn boot_to_wall_ns() -> i64 {
    use rustix::time::{ClockId, clock_gettime};
    let ns = |t: rustix::time::Timespec| t.tv_sec * 1_000_000_000 + t.tv_nsec;
    let boot = ns(clock_gettime(ClockId::Boottime));
    ns(clock_gettime(ClockId::Realtime)) - boot
}

impl EbpfCollector {
    /// Loads and attaches the probes and starts reading. Must run inside a tokio runtime.
    /// A probe the kernel refuses is skipped (see [`EbpfCollector::skipped`]); it is an
    /// error only when none loads.
    pub fn start(opts: EbpfOptions) -> Result<Self, EbpfError> {
        let (tx, rx) = mpsc::channel(opts.channel.max(1));
        let mut c = Self::start_into(opts, tx)?;
        c.rx = Some(rx);
        Ok(c)
    }

    /// Like [`EbpfCollector::start`], but events go to `tx` (shared with other
    /// collectors); [`EbpfCollector::recv`] then returns `None`. The readers drop their
    /// senders at shutdown.
    pub fn start_into(
        opts: EbpfOptions,
        tx: mpsc::Sender<UnifiedEvent>,
    ) -> Result<Self, EbpfError> {
        let all = tapio_bpf::probes().map_err(EbpfError::NotBuilt)?;
        let wanted: Vec<&'static Probe> = if opts.probes.is_empty() {
            all.iter().collect()
        } else {
            opts.probes
                .iter()
                .map(|n| {
                    all.iter()
                        .find(|p| p.name == n)
                        .ok_or_else(|| EbpfError::UnknownProbe(n.clone()))
                })
                .collect::<Result<_, _>>()?
        };
        let btf = Btf::from_sys_fs()?;
        let ctx = Arc::new(Context {
            node: opts.node.clone(),
            cluster: opts.cluster.clone(),
            boot_to_wall_ns: boot_to_wall_ns(),
            page_size: rustix::param::page_size() as u64,
        });
        let (stop, stop_rx) = watch::channel(false);
        let mut loaded = Vec::new();
        let mut skipped = Vec::new();
        let mut errors = Vec::new();
        let mut tasks = Vec::new();
        for probe in wanted {
            match load_probe(probe, &btf, opts.ring_bytes) {
                Ok((ebpf, ring, lost)) => {
                    let counters = Arc::new(ProbeCounters::default());
                    // The RingBuf owns its map fd for as long as the AsyncFd holds it, which
                    // is the invariant the newer, unsafe `AsyncFd::register` asks callers to
                    // promise; the safe constructor keeps `unsafe_code` forbidden here.
                    #[allow(deprecated)]
                    let fd = AsyncFd::new(ring)
                        .map_err(|e| load_err(probe.name, "poll ring buffer")(Box::new(e)))?;
                    tasks.push(tokio::spawn(read_ring(
                        probe.name,
                        fd,
                        Arc::clone(&ctx),
                        Arc::clone(&counters),
                        tx.clone(),
                        stop_rx.clone(),
                    )));
                    tasks.push(tokio::spawn(watch_losses(
                        probe.name,
                        lost,
                        Arc::clone(&ctx),
                        Arc::clone(&counters),
                        tx.clone(),
                        stop_rx.clone(),
                        opts.loss_interval,
                    )));
                    info!(probe = probe.name, "eBPF probe attached");
                    loaded.push(Loaded {
                        name: probe.name,
                        _ebpf: ebpf,
                        counters,
                    });
                }
                Err(e) => {
                    warn!(probe = probe.name, error = %e, "eBPF probe not loaded");
                    skipped.push((probe.name, e.to_string()));
                    errors.push(e);
                }
            }
        }
        if loaded.is_empty() {
            return Err(EbpfError::NoneLoaded(errors));
        }
        Ok(EbpfCollector {
            loaded,
            skipped,
            rx: None,
            stop,
            tasks,
        })
    }

    /// The next event; `None` after shutdown once everything read has been handed out.
    pub async fn recv(&mut self) -> Option<UnifiedEvent> {
        self.rx.as_mut()?.recv().await
    }

    /// Names of the probes that are attached.
    pub fn probe_names(&self) -> Vec<&'static str> {
        self.loaded.iter().map(|l| l.name).collect()
    }

    /// Probes that were asked for but did not load, with the kernel's reason.
    pub fn skipped(&self) -> &[(&'static str, String)] {
        &self.skipped
    }

    /// Counters per probe.
    pub fn stats(&self) -> Vec<ProbeStats> {
        self.loaded
            .iter()
            .map(|l| ProbeStats {
                name: l.name,
                received: l.counters.received.load(Ordering::Relaxed),
                malformed: l.counters.malformed.load(Ordering::Relaxed),
                lost: l.counters.lost.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Stops the readers (they drain what the ring buffers hold first), detaches every
    /// program, and returns the final counters. Events still buffered stay readable
    /// through [`EbpfCollector::recv`] until it returns `None`.
    pub async fn shutdown(&mut self) -> Vec<ProbeStats> {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        let stats = self.stats();
        // Dropping the Ebpf objects detaches the programs and frees the maps.
        self.loaded.clear();
        stats
    }
}

type ProbeMaps = (Ebpf, RingBuf<MapData>, PerCpuArray<MapData, u64>);

fn load_probe(probe: &'static Probe, btf: &Btf, ring_bytes: u32) -> Result<ProbeMaps, EbpfError> {
    let mut ebpf = EbpfLoader::new()
        .btf(Some(btf))
        .map_max_entries("events", ring_bytes)
        .load(probe.object)
        .map_err(|e| load_err(probe.name, "load object")(Box::new(e)))?;
    for program in probe.programs {
        match *program {
            Program::BtfTracePoint(name, tracepoint) => {
                let p: &mut BtfTracePoint = ebpf
                    .program_mut(name)
                    .ok_or_else(|| missing(probe.name, name))?
                    .try_into()
                    .map_err(|e| load_err(probe.name, name)(Box::new(e)))?;
                p.load(tracepoint, btf)
                    .map_err(|e| load_err(probe.name, format!("load {name}"))(Box::new(e)))?;
                p.attach().map_err(|e| {
                    load_err(probe.name, format!("attach {name} to {tracepoint}"))(Box::new(e))
                })?;
            }
        }
    }
    let ring = RingBuf::try_from(
        ebpf.take_map("events")
            .ok_or_else(|| missing(probe.name, "events"))?,
    )
    .map_err(|e| load_err(probe.name, "events map")(Box::new(e)))?;
    let lost = PerCpuArray::try_from(
        ebpf.take_map("lost")
            .ok_or_else(|| missing(probe.name, "lost"))?,
    )
    .map_err(|e| load_err(probe.name, "lost map")(Box::new(e)))?;
    Ok((ebpf, ring, lost))
}

fn missing(probe: &'static str, what: &str) -> EbpfError {
    EbpfError::Load {
        probe,
        what: what.to_string(),
        source: "not in the object (loader and object from different builds?)".into(),
    }
}

/// How often a ring buffer is drained when the kernel has not woken the reader.
const POLL: Duration = Duration::from_millis(50);

/// Reads one ring buffer until told to stop, then drains what is left.
async fn read_ring(
    probe: &'static str,
    mut fd: AsyncFd<RingBuf<MapData>>,
    ctx: Arc<Context>,
    counters: Arc<ProbeCounters>,
    tx: mpsc::Sender<UnifiedEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let mut batch = Vec::new();
    loop {
        let stopping = tokio::select! {
            // The programs wake the reader only when 64 KiB are waiting; this catches
            // the quiet trickle.
            _ = tokio::time::sleep(POLL) => false,
            r = fd.readable_mut() => match r {
                Ok(mut guard) => {
                    guard.clear_ready();
                    false
                }
                Err(e) => {
                    warn!(probe, error = %e, "ring buffer poll failed");
                    true
                }
            },
            _ = stop.changed() => true,
        };
        // Drain everything ready before awaiting the channel: a RingBufItem borrows the ring.
        let ring = fd.get_mut();
        while let Some(item) = ring.next() {
            counters.received.fetch_add(1, Ordering::Relaxed);
            match decode(&item) {
                Ok(r) => batch.push(to_event(&r, &ctx)),
                Err(e) => {
                    counters.malformed.fetch_add(1, Ordering::Relaxed);
                    debug!(probe, error = %e, "malformed ring buffer record");
                }
            }
        }
        for e in batch.drain(..) {
            if tx.send(e).await.is_err() {
                return; // the consumer is gone
            }
        }
        if stopping {
            return;
        }
    }
}

/// Reads a probe's drop counter every `interval` and reports increases as
/// `kernel.telemetry_lost` events, so a story on this node can say telemetry was lost.
async fn watch_losses(
    probe: &'static str,
    lost: PerCpuArray<MapData, u64>,
    ctx: Arc<Context>,
    counters: Arc<ProbeCounters>,
    tx: mpsc::Sender<UnifiedEvent>,
    mut stop: watch::Receiver<bool>,
    interval: Duration,
) {
    let mut seen = 0u64;
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(interval) => false,
            _ = stop.changed() => true,
        };
        let total: u64 = match lost.get(&0, 0) {
            Ok(v) => v.iter().sum(),
            Err(e) => {
                warn!(probe, error = %e, "reading the drop counter failed");
                seen
            }
        };
        if total > seen {
            let n = total - seen;
            seen = total;
            counters.lost.store(total, Ordering::Relaxed);
            warn!(
                probe,
                lost = n,
                "kernel dropped eBPF events: ring buffer full"
            );
            if tx.send(lost_event(probe, n, &ctx)).await.is_err() {
                return;
            }
        }
        if stopping {
            return;
        }
    }
}

fn lost_event(probe: &str, n: u64, ctx: &Context) -> UnifiedEvent {
    let now = jiff::Timestamp::now().as_nanosecond() as i64;
    let mut e = UnifiedEvent::new(
        stable_id(&["ebpf-lost", &ctx.node, probe, &now.to_string()]),
        now,
        source::KERNEL,
        "kernel.telemetry_lost",
        Severity::Warning,
        ObjectRef::new("Node", "", &ctx.node),
    );
    e.cluster = ctx.cluster.clone();
    e.node = Some(ctx.node.clone());
    e.reason = Some("TelemetryLost".into());
    e.count = n as i64;
    e.message = Some(format!(
        "{n} kernel events from the {probe} probe were dropped: the ring buffer was full"
    ));
    e.attributes.insert("collector".into(), "ebpf".into());
    e.attributes.insert("probe".into(), probe.into());
    e
}
