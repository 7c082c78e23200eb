//! Events/s through the engine on the replay path, per stage, beside a scan-only floor
//! measured in the same run; peak memory; per-window latency; accuracy on the labels.
//!
//! For each case, a child process (so peak RSS is the case's own):
//! 1. generates a seeded cluster (`tapio generate`'s generator) and writes the capture;
//! 2. reads it as replay does (kubectl JSON → UnifiedEvents, enrichment, topology);
//! 3. builds Arrow batches of 8192 rows, encodes them as Arrow IPC, and decodes them
//!    again (what the Kafka path does before the engine);
//! 4. floor: the decoded batches scanned by one DataFusion filter (`severity <> 'info'`);
//! 5. engine: every batch pushed through `Engine`, then `finish`: events/s, time per
//!    stage, and the time of each push that closed windows (the latency of the stories
//!    of those windows after they closed, an upper bound); the engine's own memory:
//!    peak RSS while it runs (the peak is reset after generating and reading, which
//!    hold far more) beside RSS before it starts (the decoded input batches, which the
//!    bench holds), and the rows and Arrow bytes it held at most;
//! 6. accuracy of the stories against the generator's labels.
//!
//! Run: `cargo bench -p tapio-benches --bench engine_throughput`. `TAPIO_BENCH_CASES`
//! picks cases as `EVENTS:PODS[:SPAN_SECS]` (span of event time, default 4 hours; a span
//! under the window plus look-back, 960 s, puts every event in one window).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use datafusion::catalog::MemTable;
use datafusion::prelude::SessionContext;
use tapio_engine::{Engine, EngineConfig};
use tapio_ingest::generate::{Scenario, generate, score::score, write};
use tapio_ingest::{ReplayOptions, read_paths};
use tapio_schemas::{EventBatchBuilder, event_schema, wire};

const ROWS: usize = 8192;
const DEFAULT_CASES: &str =
    "10000:1200,100000:1200,1000000:1200,100000:12000,100000:120000,1000000:48000:900";

fn main() {
    if let Ok(case) = std::env::var("TAPIO_BENCH_ONE") {
        let (events, pods, span) = parse_case(&case);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(one(events, pods, span));
        return;
    }
    let cases = std::env::var("TAPIO_BENCH_CASES").unwrap_or_else(|_| DEFAULT_CASES.into());
    let me = std::env::current_exe().expect("own path");
    println!(
        "| events | pods | read capture | to Arrow | IPC decode | floor: decode + filter | engine | engine / floor | RSS before engine → engine peak | held rows (bytes/row) | window latency p50 / p99 / max | stories | detected | root top-1 | F1 | routine leaked |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for case in cases.split(',').filter(|c| !c.is_empty()) {
        let status = Command::new(&me)
            .env("TAPIO_BENCH_ONE", case)
            .status()
            .expect("run a case");
        if !status.success() {
            eprintln!("case {case} failed: {status}");
        }
    }
}

fn parse_case(case: &str) -> (usize, usize, i64) {
    let mut it = case.split(':');
    let num = |v: Option<&str>, default: &str, what: &str| -> i64 {
        v.unwrap_or(default)
            .parse()
            .unwrap_or_else(|_| panic!("{what} in TAPIO_BENCH_CASES: {case}"))
    };
    let events = num(it.next(), "10000", "events");
    let pods = num(it.next(), "1200", "pods");
    let span = num(it.next(), "14400", "span seconds");
    (events as usize, pods as usize, span)
}

/// A scenario of about `pods` pods: 3 replicas per Deployment, 20 Deployments per
/// namespace, a node per 30 pods; an incident per 1,000 events (at most 200).
fn scenario(events: usize, pods: usize, span_secs: i64) -> Scenario {
    let deployments = 20;
    let replicas = 3;
    let namespaces = (pods / (deployments * replicas)).max(1);
    Scenario {
        seed: 1,
        events,
        nodes: (pods / 30).max(3),
        namespaces,
        deployments,
        replicas,
        incidents: (events / 1000).clamp(7, 200),
        span_secs,
        ..Scenario::default()
    }
}

fn rate(n: usize, d: Duration) -> String {
    let r = n as f64 / d.as_secs_f64().max(1e-9);
    if r >= 1e6 {
        format!("{:.2}M/s", r / 1e6)
    } else {
        format!("{:.0}k/s", r / 1e3)
    }
}

/// A `/proc/self/status` figure (`VmHWM`: peak RSS, `VmRSS`: now) in MiB.
fn status_mib(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets the peak RSS to the current RSS (Linux `clear_refs`, value 5).
fn reset_peak_rss() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("cannot reset peak RSS ({e}): the engine's peak includes generation");
    }
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn one(events: usize, pods: usize, span: i64) {
    let s = scenario(events, pods, span);
    let t = Instant::now();
    let g = generate(&s).expect("scenario");
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), &g).expect("write capture");
    let labels = g.labels.clone();
    drop(g);
    eprintln!(
        "case {events} events, {} pods: generated in {:.1}s",
        s.namespaces * s.deployments * s.replicas,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let capture = read_paths(
        &[dir.path().join("capture")],
        &ReplayOptions {
            cluster: "bench".into(),
            year: None,
        },
    )
    .expect("read capture");
    let read = t.elapsed();
    let n = capture.events.len();

    let t = Instant::now();
    let batches: Vec<RecordBatch> = capture
        .events
        .chunks(ROWS)
        .map(|chunk| {
            let mut b = EventBatchBuilder::new();
            for e in chunk {
                b.append(e);
            }
            b.finish()
        })
        .collect();
    let to_arrow = t.elapsed();
    let relations = capture.relations;
    drop(capture.events);
    let payloads: Vec<Vec<u8>> = batches
        .iter()
        .map(|b| wire::encode_ipc(&event_schema(), std::slice::from_ref(b)).expect("encode"))
        .collect();
    drop(batches);

    // Floor: decode + one DataFusion filter over the same rows.
    let t = Instant::now();
    let rows: usize = decode_all(&payloads).iter().map(|b| b.num_rows()).sum();
    let decode = t.elapsed();
    assert_eq!(rows, n, "decoded rows");
    let t = Instant::now();
    let decoded = decode_all(&payloads);
    let kept = scan(decoded).await;
    let floor = t.elapsed();

    // The engine, fed decoded batches as the Kafka path does.
    let batches = decode_all(&payloads);
    drop(payloads);
    let rss_before = status_mib("VmRSS:");
    reset_peak_rss();
    let mut engine = Engine::new(EngineConfig::default()).await.expect("engine");
    engine.set_topology(&relations).await.expect("topology");
    let mut stories = Vec::new();
    let mut latencies = Vec::new();
    let t = Instant::now();
    for b in batches {
        let windows = engine.stats().windows;
        let p = Instant::now();
        let out = engine.push(b).await.expect("push");
        if engine.stats().windows > windows {
            latencies.push(p.elapsed());
        }
        stories.extend(out.stories);
    }
    let p = Instant::now();
    stories.extend(engine.finish().await.expect("finish").stories);
    latencies.push(p.elapsed());
    let elapsed = t.elapsed();
    let rss_peak = status_mib("VmHWM:");
    latencies.sort();
    let sc = score(&labels, &stories);
    let st = engine.stats();
    eprintln!(
        "case {events} events: {n} read, {kept} non-routine; engine stages: {}",
        engine.stage_times()
    );
    eprintln!("{sc}");
    println!(
        "| {n} | {pods} | {} | {} | {} | {} | {} | {:.1}× slower | {:.0} → {:.0} MiB | {} ({:.0} B) | {:.0} / {:.0} / {:.0} ms | {} | {}/{} | {}/{} | {:.3} | {}/{} |",
        rate(n, read),
        rate(n, to_arrow),
        rate(n, decode),
        rate(n, floor),
        rate(n, elapsed),
        elapsed.as_secs_f64() / floor.as_secs_f64().max(1e-9),
        rss_before,
        rss_peak,
        st.peak_retained_rows,
        st.peak_retained_bytes as f64 / st.peak_retained_rows.max(1) as f64,
        quantile(&latencies, 0.5).as_secs_f64() * 1e3,
        quantile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        stories.len(),
        sc.detected,
        sc.incidents,
        sc.root_top1,
        sc.incidents,
        sc.f1,
        sc.routine_leaked,
        sc.routine,
    );
}

fn decode_all(payloads: &[Vec<u8>]) -> Vec<RecordBatch> {
    payloads
        .iter()
        .flat_map(|p| {
            wire::decode_ipc(arrow::buffer::Buffer::from_vec(p.clone()))
                .expect("decode")
                .1
        })
        .collect()
}

async fn scan(batches: Vec<RecordBatch>) -> usize {
    let ctx = SessionContext::new();
    let table = MemTable::try_new(event_schema(), vec![batches]).expect("table");
    ctx.register_table("events", Arc::new(table))
        .expect("register");
    let out = ctx
        .sql("SELECT event_id FROM events WHERE severity <> 'info'")
        .await
        .expect("plan")
        .collect()
        .await
        .expect("scan");
    out.iter().map(|b| b.num_rows()).sum()
}
