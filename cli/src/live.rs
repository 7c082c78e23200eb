//! Live collectors for `tapio collect` and `tapio run`: started by name, merged into one
//! channel of UnifiedEvents, stopped on SIGINT/SIGTERM.

use anyhow::bail;
use tapio_ingest::ebpf::{EbpfCollector, EbpfOptions, ProbeStats};
use tapio_schemas::UnifiedEvent;
use tokio::sync::mpsc;

/// Collectors that can run live.
pub const KNOWN: [&str; 1] = ["ebpf"];

/// Running collectors, all feeding `events`.
pub struct Collectors {
    /// Every collector's events; closes once all collectors have stopped and it is drained.
    pub events: mpsc::Receiver<UnifiedEvent>,
    ebpf: Option<EbpfCollector>,
}

/// What the collectors report when stopped.
pub struct Stopped {
    /// eBPF counters per probe.
    pub ebpf: Vec<ProbeStats>,
}

/// Starts the named collectors (`ebpf`).
pub fn start(names: &[String], ebpf: EbpfOptions) -> anyhow::Result<Collectors> {
    let (tx, rx) = mpsc::channel(65_536);
    let mut c = Collectors {
        events: rx,
        ebpf: None,
    };
    for name in names {
        match name.as_str() {
            "ebpf" => {
                let col = EbpfCollector::start_into(ebpf.clone(), tx.clone())?;
                for (probe, why) in col.skipped() {
                    eprintln!("tapio: eBPF probe {probe} not loaded: {why}");
                }
                eprintln!(
                    "tapio: eBPF probes attached: {}",
                    col.probe_names().join(", ")
                );
                c.ebpf = Some(col);
            }
            other => bail!("unknown collector {other:?} (known: {})", KNOWN.join(", ")),
        }
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
        stopped
    }
}

/// Resolves when the process is asked to stop (SIGINT or SIGTERM).
pub async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
