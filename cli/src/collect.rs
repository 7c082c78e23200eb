//! `tapio collect`: run collectors and print their events live, one per line.

use std::io::Write;
use std::time::Duration;

use tapio_ingest::ebpf::EbpfOptions;
use tapio_ingest::k8s::live::K8sOptions;
use tapio_schemas::UnifiedEvent;

use crate::live;

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventOutput {
    /// One readable line per event.
    Text,
    /// One UnifiedEvent JSON object per line.
    Json,
}

/// What `tapio collect` was asked.
pub struct Options {
    pub collectors: Vec<String>,
    pub output: EventOutput,
    pub ebpf: EbpfOptions,
    pub k8s: K8sOptions,
    pub duration: Option<Duration>,
}

/// One event as a line for people: time, node, type, reason, where, what.
pub fn event_line(e: &UnifiedEvent) -> String {
    let time = jiff::Timestamp::from_nanosecond(i128::from(e.event_time))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|_| e.event_time.to_string());
    let place = if e.object.kind == "Pod" || e.pod.is_some() {
        format!(
            "pod {}/{}",
            e.object.namespace,
            e.pod.as_deref().unwrap_or(&e.object.name)
        )
    } else if let Some(uid) = &e.pod_uid {
        format!("pod uid {uid}")
    } else if let Some(cg) = &e.cgroup {
        format!("cgroup {cg}")
    } else {
        format!("{} {}", e.object.kind, e.object.name)
    };
    let times = if e.count > 1 {
        format!(" (×{})", e.count)
    } else {
        String::new()
    };
    format!(
        "{time} {} {} {} [{place}] {}{times}",
        e.node.as_deref().unwrap_or("-"),
        e.event_type,
        e.reason.as_deref().unwrap_or("-"),
        e.message.as_deref().unwrap_or("")
    )
}

fn print(w: &mut impl Write, e: &UnifiedEvent, output: EventOutput) -> anyhow::Result<()> {
    match output {
        EventOutput::Json => {
            serde_json::to_writer(&mut *w, e)?;
            writeln!(w)?;
        }
        EventOutput::Text => writeln!(w, "{}", event_line(e))?,
    }
    Ok(())
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    // Before the collectors announce themselves: see `live::stop_after`.
    let stop = live::stop_after(o.duration);
    let mut c = live::start(&o.collectors, o.ebpf, o.k8s).await?;
    tokio::pin!(stop);
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    let mut printed = 0u64;
    loop {
        tokio::select! {
            e = c.events.recv() => match e {
                Some(e) => {
                    print(&mut w, &e, o.output)?;
                    printed += 1;
                    // Flush when nothing more is waiting: live, without a write per line.
                    if c.events.is_empty() {
                        w.flush()?;
                    }
                }
                None => break,
            },
            _ = &mut stop => break,
        }
    }
    let stopped = c.stop().await;
    while let Some(e) = c.events.recv().await {
        print(&mut w, &e, o.output)?;
        printed += 1;
    }
    w.flush()?;
    stopped.report();
    eprintln!("tapio: {printed} events");
    Ok(())
}
