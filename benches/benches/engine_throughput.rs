//! Events/s through the engine on the replay path, per stage, beside a scan-only floor
//! measured in the same run; the engine's memory; per-window latency; accuracy on the
//! generator's labels.
//!
//! Each case runs in a child process, and its engine phase in a grandchild, so that peak
//! RSS is the engine's own and not the generator's or the capture reader's:
//! 1. generates a seeded cluster (`tapio generate`'s generator) and writes the capture;
//! 2. reads it as replay does (kubectl JSON → UnifiedEvents, enrichment, topology);
//! 3. builds Arrow batches of 8192 rows, encodes them as Arrow IPC (what the Kafka path
//!    carries), and decodes them again;
//! 4. floor: the decoded batches scanned by one DataFusion filter (`severity <> 'info'`);
//! 5. engine (grandchild): reads the topology, then the IPC messages one at a time from a
//!    file, decodes each and pushes its batch through `Engine`, then `finish`: events/s
//!    (of the engine's calls alone), time per stage, the time of each push that closed
//!    windows (the latency of those windows' stories after they closed, an upper bound),
//!    peak RSS (the process holds one input message besides what the engine retains),
//!    and the rows and Arrow bytes the engine held at most;
//! 6. accuracy of the stories against the generator's labels.
//!
//! Run: `cargo bench -p tapio-benches --bench engine_throughput`. `TAPIO_BENCH_CASES`
//! picks cases as `EVENTS:PODS[:SPAN_SECS[:LOOKBACK_SECS[:ROUNDS]]]`: event time spans 4
//! hours by default (the generator needs at least one), and the engine looks back 900 s (a
//! look-back as long as the span puts every event in one window). ROUNDS pushes the
//! capture that many times back to back, each round a span later with its ids suffixed
//! (`1000000:1200:14400:900:10` is 10M events over 40 hours): the engine's figures and
//! accuracy count every round, the reading, Arrow, decode and floor figures one. `TAPIO_BENCH_PARTITIONS` sets the
//! engine's DataFusion partitions (default: the engine's, one).
//! `TAPIO_BENCH_NO_TRIGGERS=1` turns the trigger prefilter off (every pattern runs in
//! every window), to measure what it saves.
//! `TAPIO_BENCH_PACE=N` paces the input at N events/s: each message is due when the rows
//! before it would have arrived at that rate, and a window's latency is counted from the
//! arrival of the message that closed it (queueing included when the engine falls
//! behind) to the return of its story updates.
//! `TAPIO_BENCH_KEEP=DIR` writes the engine phase's input (topology, IPC messages,
//! labels) to DIR and keeps it: `TAPIO_BENCH_ENGINE=DIR TAPIO_BENCH_LOOKBACK=SECS` then
//! reruns that phase alone (its JSON result on stdout), to compare builds on one input
//! without generating it again (the 48k-pod case takes minutes).
//! Built with `--features dhat-heap`, the engine phase runs on dhat's counting allocator
//! (~30× slower) and writes `DIR/dhat-heap.json`: the engine's live heap by allocation
//! site, at its peak ("At t-gmax") and at the end, from `Engine::new` on (the bench's own
//! parse of the relations left out). Valgrind's `dh_view.html` reads it.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use datafusion::catalog::MemTable;
use datafusion::prelude::SessionContext;
use tapio_engine::{Engine, EngineConfig};
use tapio_ingest::generate::{Labels, Scenario, generate, score::score, write};
use tapio_ingest::{ReplayOptions, read_paths};
use tapio_schemas::time::{format_ns, parse_rfc3339};
use tapio_schemas::{EventBatchBuilder, Relation, UnifiedEvent, event_schema, wire};

/// The `tapio` binary's allocator, so the engine phase runs as the binary would.
#[cfg(not(feature = "dhat-heap"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Counts every allocation, for `dhat-heap.json` (see the module doc).
#[cfg(feature = "dhat-heap")]
#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const ROWS: usize = 8192;
const DEFAULT_CASES: &str =
    "10000:1200,100000:1200,1000000:1200,100000:12000,100000:120000,1000000:48000:3600:3600";

fn main() {
    let rt = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    };
    if let Ok(dir) = std::env::var("TAPIO_BENCH_ENGINE") {
        // `RUST_LOG=tapio_engine::runner=trace` prints every plan run with its operators'
        // rows and times, on stderr (stdout carries the JSON result).
        if std::env::var_os("RUST_LOG").is_some() {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_writer(std::io::stderr)
                .init();
        }
        let lookback = std::env::var("TAPIO_BENCH_LOOKBACK")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(900);
        rt().block_on(engine_phase(Path::new(&dir), lookback));
        return;
    }
    if let Ok(case) = std::env::var("TAPIO_BENCH_ONE") {
        rt().block_on(one(parse_case(&case)));
        return;
    }
    let cases = std::env::var("TAPIO_BENCH_CASES").unwrap_or_else(|_| DEFAULT_CASES.into());
    let me = std::env::current_exe().expect("own path");
    println!(
        "| events | pods | span / look-back | read capture | to Arrow | IPC decode | floor: decode + filter | engine | engine / floor | set topology (views) | engine peak RSS (before the first event) | held rows (bytes/row) | window latency p50 / p99 / max | stories | detected | root top-1 | F1 | routine leaked |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
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

/// One case: events, pods, span of event time and look-back, both in seconds.
#[derive(Debug, Clone, Copy)]
struct Case {
    events: usize,
    pods: usize,
    span: i64,
    lookback: i64,
    /// The capture pushed this many times back to back (see [`round`]).
    rounds: usize,
}

fn parse_case(case: &str) -> Case {
    let mut it = case.split(':');
    let mut num = |default: i64, what: &str| -> i64 {
        it.next()
            .map_or(Ok(default), str::parse)
            .unwrap_or_else(|_| panic!("{what} in TAPIO_BENCH_CASES: {case}"))
    };
    Case {
        events: num(10_000, "events") as usize,
        pods: num(1200, "pods") as usize,
        span: num(4 * 3600, "span seconds"),
        lookback: num(900, "look-back seconds"),
        rounds: num(1, "rounds").max(1) as usize,
    }
}

/// A scenario of about `pods` pods: 3 replicas per Deployment, 20 Deployments per
/// namespace, a node per 30 pods; an incident per 1,000 events (at most 200).
fn scenario(c: Case) -> Scenario {
    let deployments = 20;
    let replicas = 3;
    let namespaces = (c.pods / (deployments * replicas)).max(1);
    Scenario {
        seed: 1,
        events: c.events,
        nodes: (c.pods / 30).max(3),
        namespaces,
        deployments,
        replicas,
        incidents: (c.events / 1000).clamp(7, 200),
        span_secs: c.span,
        ..Scenario::default()
    }
}

/// Round `r` of a capture repeated back to back: its events `r` spans later, their ids
/// (and the labels') suffixed `~r`. Round 0 is the capture itself. The same cluster's
/// day again, so the engine sees `rounds` times the events at the same density.
fn round(e: &UnifiedEvent, r: usize, span_ns: i64) -> UnifiedEvent {
    let mut e = e.clone();
    if r == 0 {
        return e;
    }
    let shift = r as i64 * span_ns;
    e.event_id = format!("{}~{r}", e.event_id);
    e.event_time += shift;
    e.observed_time += shift;
    if let Some(t) = e
        .attributes
        .get("last_timestamp")
        .and_then(|l| parse_rfc3339(l))
    {
        e.attributes
            .insert("last_timestamp".into(), format_ns(t + shift));
    }
    e
}

/// The labels of `rounds` rounds (see [`round`]).
fn round_labels(labels: &Labels, rounds: usize) -> Labels {
    let suffix = |id: &str, r: usize| {
        if r == 0 {
            id.to_string()
        } else {
            format!("{id}~{r}")
        }
    };
    let mut out = Labels {
        seed: labels.seed,
        warning_events: labels.warning_events * rounds,
        ..Labels::default()
    };
    for r in 0..rounds {
        for inc in &labels.incidents {
            let mut inc = inc.clone();
            inc.id = suffix(&inc.id, r);
            inc.event_ids = inc.event_ids.iter().map(|e| suffix(e, r)).collect();
            out.incidents.push(inc);
        }
        out.routine_event_ids
            .extend(labels.routine_event_ids.iter().map(|e| suffix(e, r)));
    }
    out
}

fn rate(n: usize, d: Duration) -> String {
    let r = n as f64 / d.as_secs_f64().max(1e-9);
    if r >= 1e6 {
        format!("{:.2}M/s", r / 1e6)
    } else {
        format!("{:.0}k/s", r / 1e3)
    }
}

/// Peak RSS of this process (`VmHWM`), MiB.
fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Current RSS of this process (`VmRSS`), MiB.
fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn one(case: Case) {
    let s = scenario(case);
    let t = Instant::now();
    let g = generate(&s).expect("scenario");
    let dir = match std::env::var("TAPIO_BENCH_KEEP") {
        Ok(keep) => tempfile::Builder::new()
            .disable_cleanup(true)
            .tempdir_in(keep)
            .expect("kept dir"),
        Err(_) => tempfile::tempdir().expect("temp dir"),
    };
    write(dir.path(), &g).expect("write capture");
    drop(g);
    eprintln!(
        "case {} events, {} pods: generated in {:.1}s",
        case.events,
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
    let kept = scan(decode_all(&payloads)).await;
    let floor = t.elapsed();

    // The engine, in a process of its own, over every round.
    let mut framed = std::io::BufWriter::new(
        std::fs::File::create(dir.path().join("events.ipc")).expect("payloads file"),
    );
    let mut frame = |p: &[u8]| {
        framed
            .write_all(&(p.len() as u64).to_le_bytes())
            .and_then(|_| framed.write_all(p))
            .expect("write payloads")
    };
    payloads.iter().for_each(|p| frame(p));
    for r in 1..case.rounds {
        for chunk in capture.events.chunks(ROWS) {
            let mut b = EventBatchBuilder::new();
            for e in chunk {
                b.append(&round(e, r, case.span * 1_000_000_000));
            }
            frame(&wire::encode_ipc(&event_schema(), &[b.finish()]).expect("encode"));
        }
    }
    framed.flush().expect("write payloads");
    drop(framed);
    if case.rounds > 1 {
        let labels: Labels =
            serde_json::from_slice(&std::fs::read(dir.path().join("labels.json")).expect("labels"))
                .expect("labels json");
        std::fs::write(
            dir.path().join("labels.json"),
            serde_json::to_vec(&round_labels(&labels, case.rounds)).expect("labels"),
        )
        .expect("write labels");
    }
    std::fs::write(
        dir.path().join("relations.json"),
        serde_json::to_vec(&capture.relations).expect("relations"),
    )
    .expect("write relations");
    drop((capture, payloads));
    let out = Command::new(std::env::current_exe().expect("own path"))
        .env("TAPIO_BENCH_ENGINE", dir.path())
        .env("TAPIO_BENCH_LOOKBACK", case.lookback.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run the engine phase");
    assert!(out.status.success(), "engine phase failed: {}", out.status);
    if std::env::var_os("TAPIO_BENCH_KEEP").is_some() {
        eprintln!("engine phase input kept in {}", dir.path().display());
    }
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).expect("engine phase result");
    let f = |k: &str| e[k].as_f64().unwrap_or(f64::NAN);
    let elapsed = Duration::from_secs_f64(f("engine_secs"));
    eprintln!(
        "case {} events: {n} read, {kept} non-routine; {} round(s) pushed",
        case.events, case.rounds
    );
    // The engine's figures count every round; reading, Arrow, decode and floor one.
    let pushed = n * case.rounds;
    println!(
        "| {pushed} | {} | {} s / {} s | {} | {} | {} | {} | {} | {:.1}× slower | {:.0} ms ({} relations) | {:.0} MiB ({:.0} MiB) | {} ({:.0} B) | {:.0} / {:.0} / {:.0} ms | {} | {} | {} | {:.3} | {} |",
        case.pods,
        case.span,
        case.lookback,
        rate(n, read),
        rate(n, to_arrow),
        rate(n, decode),
        rate(n, floor),
        rate(pushed, elapsed),
        elapsed.as_secs_f64() / (floor.as_secs_f64() * case.rounds as f64).max(1e-9),
        f("topology_ms"),
        f("relations"),
        f("peak_rss_mib"),
        f("topology_rss_mib"),
        f("held_rows"),
        f("held_bytes") / f("held_rows").max(1.0),
        f("latency_p50_ms"),
        f("latency_p99_ms"),
        f("latency_max_ms"),
        f("stories"),
        e["detected"].as_str().unwrap_or("?"),
        e["root_top1"].as_str().unwrap_or("?"),
        f("f1"),
        e["routine_leaked"].as_str().unwrap_or("?"),
    );
}

/// The grandchild: the engine over the IPC messages in `dir`, a JSON result on stdout.
async fn engine_phase(dir: &Path, lookback: i64) {
    // Parsed from a reader: the file's bytes are not held beside its values.
    let relations: Vec<Relation> = serde_json::from_reader(std::io::BufReader::new(
        std::fs::File::open(dir.join("relations.json")).expect("relations"),
    ))
    .expect("relations json");
    // The engine's heap from here on (the parsed relations are not counted); written
    // when the phase ends.
    #[cfg(feature = "dhat-heap")]
    let _heap = dhat::Profiler::builder()
        .file_name(dir.join("dhat-heap.json"))
        .trim_backtraces(Some(14))
        .build();
    let mut cfg = EngineConfig {
        lookback_secs: lookback,
        ..EngineConfig::default()
    };
    if let Some(p) = std::env::var("TAPIO_BENCH_PARTITIONS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        cfg.partitions = p;
    }
    if std::env::var_os("TAPIO_BENCH_NO_TRIGGERS").is_some() {
        cfg.trigger_prefilter = false;
    }
    let mut engine = Engine::new(cfg).await.expect("engine");
    // Topology views are computed here, once per topology change, not per window.
    let t = Instant::now();
    engine.set_topology(&relations).await.expect("topology");
    let topology_ms = t.elapsed().as_secs_f64() * 1e3;
    let relation_count = relations.len();
    drop(relations);
    // What the process holds before the first event: the topology, its views, the plans.
    let topology_rss = rss_mib();
    eprintln!(
        "engine with topology: {topology_rss:.0} MiB RSS (peak so far {:.0} MiB)",
        peak_rss_mib()
    );
    // One message at a time, as the Kafka path decodes them: the process holds only what
    // the engine retains. Only the engine's calls are timed.
    let mut input =
        std::io::BufReader::new(std::fs::File::open(dir.join("events.ipc")).expect("payloads"));
    let mut stories = Vec::new();
    let mut latencies = Vec::new();
    let mut elapsed = Duration::ZERO;
    let pace: Option<f64> = std::env::var("TAPIO_BENCH_PACE")
        .ok()
        .and_then(|v| v.parse().ok());
    let start = Instant::now();
    let mut arrived_rows = 0usize;
    let mut len = [0u8; 8];
    while input.read_exact(&mut len).is_ok() {
        let mut payload = vec![0u8; u64::from_le_bytes(len) as usize];
        input.read_exact(&mut payload).expect("payload");
        for b in wire::decode_ipc(arrow::buffer::Buffer::from_vec(payload))
            .expect("decode")
            .1
        {
            let windows = engine.stats().windows;
            // Paced: the message arrives when its rows are due; unpaced: now.
            let due = match pace {
                Some(rate) => {
                    let due = start + Duration::from_secs_f64(arrived_rows as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                    due
                }
                None => Instant::now(),
            };
            arrived_rows += b.num_rows();
            let p = Instant::now();
            let out = engine.push(b).await.expect("push");
            elapsed += p.elapsed();
            if engine.stats().windows > windows {
                latencies.push(due.elapsed());
            }
            stories.extend(out.stories);
        }
    }
    let p = Instant::now();
    stories.extend(engine.finish().await.expect("finish").stories);
    latencies.push(p.elapsed());
    elapsed += p.elapsed();
    latencies.sort();
    // Peak RSS is read before the labels are: at 10M events they are 3M ids.
    let peak_rss = peak_rss_mib();
    // The engine's heap profile ends here, before the labels are read.
    #[cfg(feature = "dhat-heap")]
    drop(_heap);
    let labels: Labels =
        serde_json::from_slice(&std::fs::read(dir.join("labels.json")).expect("labels"))
            .expect("labels json");
    let sc = score(&labels, &stories);
    let st = engine.stats();
    eprintln!("engine stages: {}", engine.stage_times());
    let mut sizes: Vec<(usize, &str)> = stories
        .iter()
        .map(|s| (s.event_ids.len(), s.pattern.as_str()))
        .collect();
    sizes.sort();
    sizes.reverse();
    eprintln!(
        "story events: {} in all, largest {:?}",
        sizes.iter().map(|s| s.0).sum::<usize>(),
        &sizes[..sizes.len().min(5)]
    );
    eprintln!(
        "windows evaluated {}, pattern queries run {} (skipped {}), context rows {} ({} new to their story)",
        engine.stats().windows_evaluated,
        engine.stats().patterns_run,
        engine.stats().patterns_skipped,
        engine.stats().context_rows,
        engine.stats().context_new
    );
    eprintln!("{sc}");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let result = serde_json::json!({
        "engine_secs": elapsed.as_secs_f64(),
        "topology_ms": topology_ms,
        "relations": relation_count,
        "peak_rss_mib": peak_rss,
        "topology_rss_mib": topology_rss,
        "held_rows": st.peak_retained_rows,
        "held_bytes": st.peak_retained_bytes,
        "index_bytes": st.peak_index_bytes,
        "latency_p50_ms": ms(quantile(&latencies, 0.5)),
        "latency_p99_ms": ms(quantile(&latencies, 0.99)),
        "latency_max_ms": ms(latencies.last().copied().unwrap_or_default()),
        "stories": stories.len(),
        "detected": format!("{}/{}", sc.detected, sc.incidents),
        "root_top1": format!("{}/{}", sc.root_top1, sc.incidents),
        "f1": sc.f1,
        "routine_leaked": format!("{}/{}", sc.routine_leaked, sc.routine),
    });
    println!("{result}");
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
