//! Which membership test should drop a window's rows whose key no open story uses: an
//! exact hash set, or a Bloom filter (issue 6 names `probabilistic-collections`, and
//! `fastbloom` as the faster blocked Bloom filter)?
//!
//! The rows are a generated scenario's events as the engine holds them (Arrow, the
//! namespace a dictionary, the pod a string); the key is `(namespace, pod)`, what the
//! story-context search matches a row's pod on. The keys are the pods of the open
//! stories: a few (a quiet cluster), tens, or hundreds (half the pods of the 1.2k-pod
//! scenario failing at once). Each test runs over every row, as a prefilter
//! would before the join; the false-positive rate of each Bloom filter (configured at
//! 1 %) is measured over the rows whose pod is not a key and printed before the timings.
//!
//! Run: `cargo bench -p tapio-benches --bench prefilter` (criterion, ~1 min).

use ahash::{HashSet, HashSetExt, RandomState};

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::Int32Type;
use criterion::{Criterion, Throughput};
use tapio_schemas::EventBatchBuilder;

/// False-positive rate the Bloom filters are built for.
const FP_RATE: f64 = 0.01;

/// `(namespace, pod)` of each row that has a pod, read from the batch's columns.
fn keys(batch: &RecordBatch) -> Vec<(&str, &str)> {
    let ns = batch
        .column_by_name("object_namespace")
        .expect("namespace")
        .as_dictionary::<Int32Type>();
    let ns_values = ns.values().as_string::<i32>();
    let pod: &StringArray = batch.column_by_name("pod").expect("pod").as_string();
    (0..batch.num_rows())
        .filter(|&i| pod.is_valid(i) && ns.is_valid(i))
        .map(|i| (ns_values.value(ns.keys().value(i) as usize), pod.value(i)))
        .collect()
}

fn prefilter(c: &mut Criterion) {
    // The engine bench's 100k-event, 1,200-pod case: 20 namespaces of 20 Deployments × 3.
    let events = capture(100_000, 20).events;
    let batches: Vec<RecordBatch> = events
        .chunks(8192)
        .map(|chunk| {
            let mut b = EventBatchBuilder::new();
            chunk.iter().for_each(|e| b.append(e));
            b.finish()
        })
        .collect();
    let rows: Vec<(&str, &str)> = batches.iter().flat_map(keys).collect();
    let mut pods: Vec<(&str, &str)> = rows.clone();
    pods.sort_unstable();
    pods.dedup();
    eprintln!(
        "{} rows with a pod, {} distinct pods",
        rows.len(),
        pods.len()
    );

    for n in [6, 60, 600] {
        // Every k-th pod: keys spread over namespaces, as failing pods are.
        let step = (pods.len() / n).max(1);
        let wanted: Vec<(&str, &str)> = pods.iter().step_by(step).take(n).copied().collect();
        let mut exact: HashSet<(&str, &str)> = HashSet::with_capacity(wanted.len());
        exact.extend(wanted.iter().copied());
        let fast = fastbloom::BloomFilter::with_false_pos(FP_RATE)
            .hasher(RandomState::new())
            .items(wanted.iter());
        let mut pc = probabilistic_collections::bloom::BloomFilter::<(&str, &str)>::new(
            wanted.len(),
            FP_RATE,
        );
        wanted.iter().for_each(|k| pc.insert(k));

        let outside: Vec<&(&str, &str)> = rows.iter().filter(|k| !exact.contains(*k)).collect();
        let fp = |hit: &dyn Fn(&(&str, &str)) -> bool| {
            outside.iter().filter(|k| hit(k)).count() as f64 / outside.len().max(1) as f64
        };
        eprintln!(
            "{n} keys: {} of {} rows are wanted; false positives among the rest: fastbloom {:.3} %, probabilistic-collections {:.3} %; memory: exact set {} B, fastbloom {} B",
            rows.len() - outside.len(),
            rows.len(),
            100.0 * fp(&|k| fast.contains(k)),
            100.0 * fp(&|k| pc.contains(k)),
            exact.capacity() * (size_of::<(&str, &str)>() + 1),
            fast.num_bits() / 8,
        );

        let mut g = c.benchmark_group(format!("prefilter_{n}_keys"));
        g.throughput(Throughput::Elements(rows.len() as u64));
        g.bench_function("exact_ahash_set", |b| {
            b.iter(|| rows.iter().filter(|k| exact.contains(*k)).count())
        });
        g.bench_function("fastbloom", |b| {
            b.iter(|| rows.iter().filter(|k| fast.contains(*k)).count())
        });
        g.bench_function("probabilistic_collections", |b| {
            b.iter(|| rows.iter().filter(|k| pc.contains(*k)).count())
        });
        // The exact set behind a Bloom filter: what a prefilter in front of the join costs.
        g.bench_function("fastbloom_then_exact", |b| {
            b.iter(|| {
                rows.iter()
                    .filter(|k| fast.contains(*k) && exact.contains(*k))
                    .count()
            })
        });
        g.finish();
        // One hash per row, shared by both tests: the best case for a Bloom filter in
        // front of a hash table (fastbloom's pre-hashed entry point).
        let state = RandomState::new();
        let mut hashed =
            fastbloom::BloomFilter::with_false_pos(FP_RATE).expected_items(wanted.len());
        for k in &wanted {
            hashed.insert_hash(state.hash_one(k));
        }
        let mut g = c.benchmark_group(format!("prefilter_{n}_keys_prehashed"));
        g.throughput(Throughput::Elements(rows.len() as u64));
        g.bench_function("hash_only", |b| {
            b.iter(|| rows.iter().map(|k| state.hash_one(k) & 1).sum::<u64>())
        });
        g.bench_function("fastbloom_prehashed", |b| {
            b.iter(|| {
                rows.iter()
                    .filter(|k| hashed.contains_hash(state.hash_one(*k)))
                    .count()
            })
        });
        g.finish();
    }
}

/// A generated capture of `events` events over `namespaces` namespaces of 60 pods.
fn capture(events: usize, namespaces: usize) -> tapio_ingest::Capture {
    tapio_benches::capture_of(&tapio_ingest::generate::Scenario {
        seed: 1,
        events,
        nodes: namespaces * 2,
        namespaces,
        deployments: 20,
        replicas: 3,
        incidents: events / 1000,
        ..Default::default()
    })
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    prefilter(&mut c);
    c.final_summary();
}
