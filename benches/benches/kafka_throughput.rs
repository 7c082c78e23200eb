//! Arrow over Kafka: events/s into and out of a real broker, beside the broker's own
//! raw rate measured in the same run.
//!
//! Starts a tansu broker (in-memory storage) on 127.0.0.1, then:
//! 1. produce: `Publisher::send_events` (Arrow IPC with LZ4 body compression, acks=all,
//!    idempotent), 32 messages in flight, one message per 8192-row batch; timed after
//!    the publisher's first message (to the topology topic), which connects it;
//! 2. raw: a bare rdkafka consumer reads the same messages without decoding them (the
//!    broker + client ceiling);
//! 3. tapio: `EventSource` in a consumer group reads and decodes them into Arrow batches
//!    (what `tapio run --source kafka://…` does before the engine);
//! 4. decode only: the same payloads decoded from memory (no broker).
//!
//! Run: `cargo bench -p tapio-benches --bench kafka_throughput` (tansu on PATH:
//! `cargo install tansu --locked --features dynostore`). `TAPIO_BENCH_EVENTS` sets the
//! event count (default 2,000,000); `TAPIO_BENCH_KAFKA_SET=key=value,...` adds librdkafka
//! settings to every client (as `KafkaConfig::extra` does). The produce step also prints
//! the CPU seconds it took in this process and in the broker.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tapio_benches::{cpu_secs_of, process_cpu_secs};
use tapio_ingest::kafka::{Body, EventSource, KafkaConfig, Publisher, admin};
use tapio_schemas::{EventBatchBuilder, ObjectRef, Severity, UnifiedEvent, event_schema, wire};

const ROWS: usize = 8192;

/// Routine-looking events of a 2,000-pod cluster: Kubernetes Events, pod transitions and
/// kernel process exits, with owner chains, nodes and messages.
fn event(i: usize) -> UnifiedEvent {
    let pod_n = i % 2000;
    let deploy = format!("app-{}", pod_n / 10);
    let ns = format!("ns-{}", pod_n / 200);
    let pod = format!("{deploy}-7d4f9c8b5-{pod_n:05}");
    let (src, ty, reason, msg) = match i % 4 {
        0 => (
            "kubernetes",
            "k8s.event",
            "Pulled",
            format!(
                "Container image \"registry.example.com/{deploy}:1.{}\" already present on machine",
                i % 7
            ),
        ),
        1 => (
            "kubernetes",
            "k8s.event",
            "Unhealthy",
            format!(
                "Readiness probe failed: HTTP probe failed with statuscode: 503 (attempt {})",
                i % 13
            ),
        ),
        2 => (
            "kubernetes",
            "pod.ready_changed",
            "ContainersReady",
            "containers with unready status: [app]".to_string(),
        ),
        _ => (
            "kernel",
            "kernel.process_exit",
            "exit",
            format!("process {} exited with code 1", 1000 + i % 50_000),
        ),
    };
    let object = ObjectRef {
        kind: "Pod".into(),
        namespace: ns.clone(),
        name: pod.clone(),
        uid: Some(format!("{pod_n:08x}-0000-4000-8000-{pod_n:012x}")),
    };
    let t = 1_790_000_000_000_000_000 + i as i64 * 1_000_000;
    let mut e = UnifiedEvent::new(format!("ev-{i:012}"), t, src, ty, Severity::Info, object);
    e.reason = Some(reason.into());
    e.message = Some(msg);
    e.node = Some(format!("node-{}", pod_n % 100));
    e.pod = Some(pod);
    e.workload = Some(ObjectRef {
        kind: "Deployment".into(),
        namespace: ns,
        name: deploy,
        uid: None,
    });
    e
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn row(what: &str, events: usize, messages: usize, bytes: usize, secs: f64) {
    println!(
        "| {what} | {:.0} | {:.0} | {:.1} |",
        events as f64 / secs,
        messages as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

/// Reads `messages` messages of the events topic with a bare rdkafka consumer.
fn raw_consume(cfg: &KafkaConfig, partition: i32, messages: usize, n: usize, what: &str) {
    let raw: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &cfg.brokers)
        .set("group.id", "bench-raw")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&cfg.events_topic, partition, Offset::Beginning)
        .unwrap();
    raw.assign(&tpl).unwrap();
    let (mut got, mut got_bytes) = (0, 0);
    let mut first = None;
    while got < messages {
        if let Some(Ok(m)) = raw.poll(Duration::from_millis(100)) {
            // The clock starts at the first message, as for the group consumer.
            first.get_or_insert_with(Instant::now);
            got += 1;
            got_bytes += m.payload().map_or(0, <[u8]>::len);
        }
    }
    let secs = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    row(what, n, got, got_bytes, secs);
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("TAPIO_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let mut broker = Command::new("tansu")
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu on PATH (cargo install tansu --locked --features dynostore)");
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let cfg = KafkaConfig::parse(&format!("kafka://127.0.0.1:{port}"))
        .unwrap()
        .with_topic_prefix("bench");
    // `TAPIO_BENCH_KAFKA_SET=key=value,...`: librdkafka settings for every client.
    let mut cfg = cfg;
    if let Ok(set) = std::env::var("TAPIO_BENCH_KAFKA_SET") {
        for kv in set.split(',').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .expect("TAPIO_BENCH_KAFKA_SET: key=value,...");
            cfg.extra.push((k.to_string(), v.to_string()));
        }
    }
    admin::ensure_topics(&cfg).await.unwrap();

    let t = Instant::now();
    let batches: Vec<_> = (0..n)
        .collect::<Vec<_>>()
        .chunks(ROWS)
        .map(|c| {
            let mut b = EventBatchBuilder::new();
            for i in c {
                b.append(&event(*i));
            }
            b.finish()
        })
        .collect();
    let payloads: Vec<Vec<u8>> = batches
        .iter()
        .map(|b| wire::encode_ipc_lz4(&event_schema(), std::slice::from_ref(b)).unwrap())
        .collect();
    let bytes: usize = payloads.iter().map(Vec::len).sum();
    let built = t.elapsed().as_secs_f64();
    let plain: usize = batches
        .iter()
        .map(|b| {
            wire::encode_ipc(&event_schema(), std::slice::from_ref(b))
                .unwrap()
                .len()
        })
        .sum();
    println!(
        "{n} events in {} batches of {ROWS}: {:.1} MB of Arrow IPC with LZ4 ({:.0} B/event; {:.0} B/event uncompressed); built in {built:.1}s",
        batches.len(),
        bytes as f64 / 1e6,
        bytes as f64 / n as f64,
        plain as f64 / n as f64,
    );
    println!();
    println!("| stage | events/s | messages/s | MB/s (of LZ4 IPC) |");
    println!("| --- | --- | --- | --- |");

    // 1. Produce. The publisher's first message goes to the topology topic, untimed:
    //    before it is acknowledged the client connects and gets its producer id, as the
    //    consumers' clocks start at their first message.
    let publisher = Publisher::new(&cfg).unwrap();
    let t = Instant::now();
    publisher.send_topology("bench-warmup", &[]).await.unwrap();
    let warmup = t.elapsed().as_secs_f64();
    let cpu = (process_cpu_secs(), cpu_secs_of(broker.id()));
    let t = Instant::now();
    let mut sends = futures::stream::iter(
        batches
            .iter()
            .map(|b| publisher.send_events("bench", std::slice::from_ref(b))),
    )
    .buffered(32);
    let mut partition = 0;
    while let Some(r) = sends.next().await {
        partition = r.unwrap().partition;
    }
    drop(sends);
    let produce_secs = t.elapsed().as_secs_f64();
    let produce_cpu = (process_cpu_secs() - cpu.0, cpu_secs_of(broker.id()) - cpu.1);
    row("produce (Publisher)", n, batches.len(), bytes, produce_secs);

    // 2. Raw consumer, no decoding; again after Tapio's consumer, as the broker may
    //    serve a second read of the same data faster.
    raw_consume(
        &cfg,
        partition,
        batches.len(),
        n,
        "consume, raw (bare rdkafka)",
    );
    // 3. Tapio's source: group consumer + Arrow decode.
    let source = EventSource::subscribe(&cfg, "bench-tapio").unwrap();
    let t = Instant::now();
    let (mut msgs, mut rows) = (0, 0);
    let mut started = None;
    while msgs < batches.len() {
        let r = source.recv().await.unwrap();
        // The clock starts at the first message: joining the group is not throughput.
        started.get_or_insert_with(Instant::now);
        msgs += 1;
        if let Body::Events(bs) = r.body {
            rows += bs.iter().map(|b| b.num_rows()).sum::<usize>();
        }
    }
    assert_eq!(rows, n);
    let joined = started.unwrap().duration_since(t).as_secs_f64();
    row(
        "consume + decode (EventSource)",
        n,
        msgs,
        bytes,
        started.unwrap().elapsed().as_secs_f64(),
    );

    raw_consume(&cfg, partition, batches.len(), n, "consume, raw again");

    // 4. Decode alone.
    let t = Instant::now();
    let mut rows = 0;
    for p in &payloads {
        let (_, bs) = wire::decode_ipc(arrow::buffer::Buffer::from_vec(p.clone())).unwrap();
        rows += bs.iter().map(|b| b.num_rows()).sum::<usize>();
    }
    assert_eq!(rows, n);
    row(
        "decode only (copy + LZ4 + IPC, no broker)",
        n,
        payloads.len(),
        bytes,
        t.elapsed().as_secs_f64(),
    );
    println!();
    println!("(joining the consumer group took {joined:.1}s, not counted)");
    println!(
        "(produce: {produce_secs:.2}s, CPU {:.2}s in this process (encoding, the client) and {:.2}s in the broker; the publisher's first message, not counted, took {warmup:.2}s)",
        produce_cpu.0, produce_cpu.1
    );
    let _ = broker.kill();
    let _ = broker.wait();
}
