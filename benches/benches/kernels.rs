//! Criterion micro-benchmarks of the hot kernels, on the events of a generated scenario
//! (real kubelet, scheduler and controller wordings): rows to Arrow, Arrow IPC decode (what
//! every Kafka message costs), and the UDFs the patterns and similarity use, per message.
//!
//! Run: `cargo bench -p tapio-benches --bench kernels`.

use criterion::{Criterion, Throughput};
use tapio_schemas::{EventBatchBuilder, event_schema, wire};
use tapio_udfs::{lsh_bands, minhash, minhash_similarity, missing_ref, msg_template};

const ROWS: usize = 8192;

fn kernels(c: &mut Criterion) {
    let events = tapio_benches::generated_capture(10_000).events;
    let rows = &events[..ROWS.min(events.len())];
    let to_arrow = || {
        let mut b = EventBatchBuilder::new();
        for e in rows {
            b.append(e);
        }
        b.finish()
    };
    let batch = to_arrow();
    let payload = wire::encode_ipc(&event_schema(), std::slice::from_ref(&batch)).expect("ipc");
    let messages: Vec<&str> = rows.iter().filter_map(|e| e.message.as_deref()).collect();
    let templates: Vec<String> = messages.iter().map(|m| msg_template::template(m)).collect();
    let signatures: Vec<Vec<u8>> = templates
        .iter()
        .filter_map(|t| minhash::signature(t))
        .map(|s| minhash::to_bytes(&s))
        .collect();

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("rows_to_arrow", |b| b.iter(to_arrow));
    g.bench_function("ipc_decode", |b| {
        b.iter(|| {
            wire::decode_ipc(arrow::buffer::Buffer::from(payload.as_slice())).expect("decode")
        })
    });
    g.finish();

    let mut g = c.benchmark_group("udfs");
    g.throughput(Throughput::Elements(messages.len() as u64));
    g.bench_function("msg_template", |b| {
        b.iter(|| {
            messages
                .iter()
                .map(|m| msg_template::template(m).len())
                .sum::<usize>()
        })
    });
    g.bench_function("missing_ref", |b| {
        b.iter(|| {
            messages
                .iter()
                .filter_map(|m| missing_ref::parse(m))
                .count()
        })
    });
    g.bench_function("minhash", |b| {
        b.iter(|| {
            templates
                .iter()
                .filter_map(|t| minhash::signature(t))
                .count()
        })
    });
    g.throughput(Throughput::Elements(signatures.len() as u64));
    g.bench_function("lsh_bands_16", |b| {
        b.iter(|| {
            signatures
                .iter()
                .filter_map(|s| lsh_bands::bands(s, 16))
                .count()
        })
    });
    g.bench_function("minhash_similarity", |b| {
        b.iter(|| {
            signatures
                .windows(2)
                .filter_map(|w| minhash_similarity::similarity(&w[0], &w[1]))
                .sum::<f64>()
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    kernels(&mut c);
    c.final_summary();
}
