//! Criterion benchmark of the engine's memory of past incidents (`engine/src/memory.rs`):
//! the cost to remember a resolved story and to recall similar incidents and recurrence
//! for a new one, with 10k and 100k stories remembered. The stories are the engine's own,
//! told from a generated scenario, repeated with fresh ids and times to fill the memory:
//! a history where every incident recurs, the worst case for LSH buckets.
//!
//! Before the criterion groups it times, once, loading a stored history of 100k stories
//! as `tapio replay` and `tapio run` do at start: reading them from Parquet
//! (`memory::load`) and remembering each.
//!
//! Run: `cargo bench -p tapio-benches --bench memory`.

use criterion::{BenchmarkId, Criterion, Throughput};
use tapio_engine::memory::Memory;
use tapio_engine::{Engine, EngineConfig};
use tapio_schemas::{Story, events_to_batch};

const HOUR: i64 = 3600 * 1_000_000_000;

/// The stories the engine tells for a generated 20k-event scenario.
fn stories() -> Vec<Story> {
    let c = tapio_benches::generated_capture(20_000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut e = Engine::new(EngineConfig::default()).await.expect("engine");
        e.set_topology(&c.relations).await.expect("topology");
        let mut out = Vec::new();
        for chunk in c.events.chunks(8192) {
            out.extend(e.push(events_to_batch(chunk)).await.expect("push").stories);
        }
        out.extend(e.finish().await.expect("finish").stories);
        out
    })
}

/// `n` stories: `base` again and again, each round `step` ns later with fresh ids.
fn history(base: &[Story], n: usize, step: i64) -> Vec<Story> {
    (0..n)
        .map(|i| {
            let mut s = base[i % base.len()].clone();
            let round = (i / base.len()) as i64;
            s.id = format!("{}-{round}", s.id);
            s.first_seen += round * step;
            s.last_seen += round * step;
            s
        })
        .collect()
}

fn memory(c: &mut Criterion, base: &[Story]) {
    eprintln!(
        "memory bench: {} distinct stories from the scenario",
        base.len()
    );
    let mut g = c.benchmark_group("memory");
    for n in [10_000usize, 100_000] {
        let past = history(base, n, 7 * 24 * HOUR);
        let mut m = Memory::with_capacity(n + base.len());
        for s in &past {
            m.remember(s);
        }
        // New stories, a week after the last round.
        let later = (n / base.len() + 1) as i64 * 7 * 24 * HOUR;
        let new: Vec<Story> = base
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s.id = format!("{}-new", s.id);
                s.first_seen += later;
                s.last_seen += later;
                s
            })
            .collect();
        let found = new
            .iter()
            .filter(|s| !m.recall(s).similar.is_empty())
            .count();
        eprintln!(
            "memory bench: {n} remembered, {found}/{} new stories recall similar ones",
            new.len()
        );
        g.throughput(Throughput::Elements(new.len() as u64));
        g.bench_with_input(BenchmarkId::new("recall", n), &new, |b, new| {
            b.iter(|| new.iter().map(|s| m.recall(s).similar.len()).sum::<usize>())
        });
        if n > 10_000 {
            // Remembering is linear: the 10k run gives the rate (100k takes minutes).
            continue;
        }
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(10);
        g.bench_with_input(BenchmarkId::new("remember", n), &past, |b, past| {
            b.iter(|| {
                let mut m = Memory::with_capacity(n);
                for s in past {
                    m.remember(s);
                }
                m.len()
            })
        });
    }
    g.finish();
}

/// Times loading `n` stored stories (a round every 30 s: 100k span a few days, as a busy
/// cluster's history would): the Parquet read, then the signatures and index.
fn load_history(base: &[Story], n: usize) {
    use tapio_engine::store::{DataDir, TABLES};
    let past = history(base, n, 30 * 1_000_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let dd = DataDir::open(dir.path().to_str().expect("utf-8 temp path")).expect("data dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let batch = tapio_schemas::rows::to_batch(tapio_schemas::story_schema(), &past)
        .expect("stories to Arrow");
    rt.block_on(dd.append(&TABLES[3], &[batch])).expect("store");
    let t = std::time::Instant::now();
    let loaded = rt.block_on(tapio_engine::memory::load(&dd)).expect("load");
    let read = t.elapsed();
    let t = std::time::Instant::now();
    let mut m = Memory::default();
    m.remember_history(&loaded);
    let remember = t.elapsed();
    eprintln!(
        "memory bench: loading {} stored stories: Parquet read {:.2} s, remember {:.2} s ({:.0} µs each)",
        loaded.len(),
        read.as_secs_f64(),
        remember.as_secs_f64(),
        remember.as_secs_f64() * 1e6 / loaded.len().max(1) as f64
    );
}

fn main() {
    let base = stories();
    load_history(&base, 100_000);
    let mut c = Criterion::default().configure_from_args();
    memory(&mut c, &base);
    c.final_summary();
}
