//! eBPF capture: kernel events per second read without loss, and what capturing costs.
//!
//! A load generator (this binary re-run with `--generate`, so its CPU is its own) makes
//! refused TCP connects on 127.0.0.1 at a fixed rate: each is one `tcp_connect_failed`
//! record. The collector runs every probe and turns records into UnifiedEvents and Arrow
//! batches, as `tapio run` does. For each rate it reports what was generated, read and
//! lost, the collector's CPU (userspace: ring buffer, decode, batches) per 10k events/s,
//! and the generator's CPU per connect with and without the probes attached (the
//! in-kernel cost of the programs, paid by the process that triggers them).
//!
//! Run: `cargo bench -p tapio-benches --bench ebpf_capture` (as root, kernel with BTF).

use std::io::BufRead;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tapio_benches::process_cpu_secs;
use tapio_ingest::batch::{BatchPolicy, next_batch};
use tapio_ingest::ebpf::{EbpfCollector, EbpfOptions};

const SECS: f64 = 5.0;

/// Generator mode: `rate` connects/s (0 = as fast as possible) for `secs` on `threads`
/// threads; prints `connects cpu_secs`.
fn generate(rate: u64, secs: f64, threads: u64) {
    // Below the ephemeral range, so no connect can become a TCP self-connect.
    let port = (20_000..30_000)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .unwrap();
    let per_thread = rate / threads;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut n = 0u64;
                while start.elapsed().as_secs_f64() < secs {
                    if per_thread > 0 {
                        let due = (start.elapsed().as_secs_f64() * per_thread as f64) as u64;
                        if n >= due {
                            std::thread::sleep(Duration::from_micros(200));
                            continue;
                        }
                    }
                    let _ = TcpStream::connect(("127.0.0.1", port));
                    n += 1;
                }
                n
            })
        })
        .collect();
    let n: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!("{n} {}", process_cpu_secs());
}

struct GenResult {
    connects: u64,
    cpu: f64,
}

fn run_generator(rate: u64) -> GenResult {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--generate", &rate.to_string(), &SECS.to_string()])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let line = out.stdout.lines().next().unwrap().unwrap();
    let mut f = line.split_whitespace();
    GenResult {
        connects: f.next().unwrap().parse().unwrap(),
        cpu: f.next().unwrap().parse().unwrap(),
    }
}

struct Captured {
    generated: GenResult,
    read: u64,
    lost: u64,
    rows: u64,
    collector_cpu: f64,
    wall: f64,
}

async fn capture(rate: u64) -> Result<Captured, String> {
    let opts = EbpfOptions {
        node: "bench".into(),
        ..EbpfOptions::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(opts.channel);
    let mut c = EbpfCollector::start_into(opts, tx).map_err(|e| e.to_string())?;
    let consumer = tokio::spawn(async move {
        let mut rows = 0u64;
        while let Some(b) = next_batch(&mut rx, BatchPolicy::default()).await {
            rows += b.num_rows() as u64;
        }
        rows
    });
    let cpu0 = process_cpu_secs();
    let t0 = Instant::now();
    let generated = tokio::task::spawn_blocking(move || run_generator(rate))
        .await
        .unwrap();
    // Let the readers catch up with what the ring buffers still hold.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = c.shutdown().await;
    let wall = t0.elapsed().as_secs_f64();
    let collector_cpu = process_cpu_secs() - cpu0;
    let rows = consumer.await.unwrap();
    let tcp = stats.iter().find(|s| s.name == "tcp").cloned();
    let (read, lost) = tcp.map_or((0, 0), |s| (s.received, s.lost));
    Ok(Captured {
        generated,
        read,
        lost,
        rows,
        collector_cpu,
        wall,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--generate") {
        let rate = args[2].parse().unwrap();
        let secs = args[3].parse().unwrap();
        generate(rate, secs, 2);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{:>9} {:>10} {:>10} {:>8} {:>12} {:>16} {:>16} {:>16}",
        "target/s",
        "events/s",
        "read",
        "lost",
        "rows",
        "collector CPU %",
        "% per 10k ev/s",
        "kernel µs/event"
    );
    for rate in [10_000u64, 25_000, 50_000, 0] {
        let base = run_generator(rate);
        let c = match rt.block_on(capture(rate)) {
            Ok(c) => c,
            Err(e) => {
                println!("eBPF collector unavailable: {e}");
                return;
            }
        };
        let ev_rate = c.read as f64 / SECS;
        let cpu_pct = 100.0 * c.collector_cpu / c.wall;
        let per_10k = cpu_pct / (ev_rate / 10_000.0);
        // The generator's CPU per connect with the probes minus without: the in-kernel
        // cost of the eBPF programs per event.
        let kernel_us = 1e6
            * (c.generated.cpu / c.generated.connects.max(1) as f64
                - base.cpu / base.connects.max(1) as f64);
        println!(
            "{:>9} {:>10.0} {:>10} {:>8} {:>12} {:>16.1} {:>16.2} {:>16.2}",
            if rate == 0 {
                "max".to_string()
            } else {
                rate.to_string()
            },
            ev_rate,
            c.read,
            c.lost,
            c.rows,
            cpu_pct,
            per_10k,
            kernel_us
        );
        if c.read + c.lost < c.generated.connects {
            println!(
                "  note: {} connects generated, {} read + {} lost (the rest were other sockets' events or not yet drained)",
                c.generated.connects, c.read, c.lost
            );
        }
    }
}
