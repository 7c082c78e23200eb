//! Live collectors for `tapio collect` and `tapio run`: started by name, merged into one
//! channel of UnifiedEvents (every event enriched from the Kubernetes map when the
//! Kubernetes collector runs), stopped on SIGINT/SIGTERM.

use anyhow::{Context, bail};
use tapio_ingest::ebpf::{EbpfCollector, EbpfOptions, ProbeStats};
use tapio_ingest::k8s::live::{K8sOptions, KubernetesCollector};
use tapio_schemas::UnifiedEvent;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Collectors that can run live.
pub const KNOWN: [&str; 2] = ["ebpf", "kubernetes"];

/// Running collectors, all feeding `events`.
pub struct Collectors {
    /// Every collector's events; closes once all collectors have stopped and it is drained.
    pub events: mpsc::Receiver<UnifiedEvent>,
    ebpf: Option<EbpfCollector>,
    /// The Kubernetes collector, when running: its map enriches every event.
    pub k8s: Option<KubernetesCollector>,
    enrich: Option<JoinHandle<()>>,
}

/// What the collectors report when stopped.
pub struct Stopped {
    /// eBPF counters per probe.
    pub ebpf: Vec<ProbeStats>,
}

impl Stopped {
    /// The counters on stderr, a line per probe.
    pub fn report(&self) {
        for p in &self.ebpf {
            eprintln!(
                "tapio: ebpf {}: {} read, {} lost in the kernel, {} malformed",
                p.name, p.received, p.lost, p.malformed
            );
        }
    }
}

/// Starts the named collectors.
pub async fn start(
    names: &[String],
    ebpf: EbpfOptions,
    k8s: K8sOptions,
) -> anyhow::Result<Collectors> {
    for n in names {
        if !KNOWN.contains(&n.as_str()) {
            bail!("unknown collector {n:?} (known: {})", KNOWN.join(", "));
        }
    }
    let (tx, rx) = mpsc::channel(65_536);
    let mut c = Collectors {
        events: rx,
        ebpf: None,
        k8s: None,
        enrich: None,
    };
    if names.iter().any(|n| n == "kubernetes") {
        let client = tapio_ingest::k8s::live::client()
            .await
            .context("connecting to Kubernetes (KUBECONFIG, ~/.kube/config or in-cluster)")?;
        let col =
            KubernetesCollector::start(client, k8s, tx.clone()).map_err(anyhow::Error::msg)?;
        eprintln!("tapio: Kubernetes collector watching");
        c.k8s = Some(col);
    }
    if names.iter().any(|n| n == "ebpf") {
        // With the Kubernetes map, kernel events pass through it on their way.
        let ebpf_tx = match &c.k8s {
            Some(k) => {
                let (etx, mut erx) = mpsc::channel::<UnifiedEvent>(65_536);
                let enricher = k.enricher();
                let out = tx.clone();
                c.enrich = Some(tokio::spawn(async move {
                    while let Some(mut e) = erx.recv().await {
                        enricher.enrich(&mut e);
                        if out.send(e).await.is_err() {
                            break;
                        }
                    }
                }));
                etx
            }
            None => tx.clone(),
        };
        let col = EbpfCollector::start_into(ebpf, ebpf_tx)?;
        for (probe, why) in col.skipped() {
            eprintln!("tapio: eBPF probe {probe} not loaded: {why}");
        }
        eprintln!(
            "tapio: eBPF probes attached: {}",
            col.probe_names().join(", ")
        );
        c.ebpf = Some(col);
    }
    Ok(c)
}

impl Collectors {
    /// Stops every collector (each drains what it had read into `events` first).
    pub async fn stop(&mut self) -> Stopped {
        let mut stopped = Stopped { ebpf: Vec::new() };
        if let Some(mut c) = self.ebpf.take() {
            stopped.ebpf = c.shutdown().await;
        }
        if let Some(e) = self.enrich.take() {
            let _ = e.await;
        }
        if let Some(k) = self.k8s.as_mut() {
            k.shutdown().await;
        }
        stopped
    }
}

/// Resolves after `duration` (when given) or when the process is asked to stop. The
/// signal handlers are installed when this is called, not when first awaited: call it
/// before announcing readiness, or a SIGTERM sent right after would kill the process
/// instead of draining it.
pub fn stop_after(duration: Option<std::time::Duration>) -> impl std::future::Future<Output = ()> {
    let signal = stop_signal();
    async move {
        match duration {
            Some(d) => tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = signal => {}
            },
            None => signal.await,
        }
    }
}

/// Resolves when the process is asked to stop (SIGINT or SIGTERM); the handlers are
/// installed on the call.
pub fn stop_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            },
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
