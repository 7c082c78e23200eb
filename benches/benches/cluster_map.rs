//! The relationship map: memory per 10k pods and enrichment lookups per second.
//!
//! Builds a synthetic cluster (pods of Deployments behind Services, each with a ConfigMap
//! and a Secret, spread over nodes) as API-shaped JSON, and feeds it (a) to the live store
//! (which keeps every object, as the collector does) and refreshes the map, and (b) to the
//! replay state alone. Memory is the resident-set growth. Then enriches a stream of events
//! keyed by pod UID, container id, pod IP, or nothing known (10%), and reports the rate
//! and the hit rate.
//!
//! Run: `cargo bench -p tapio-benches --bench cluster_map`.

use std::time::Instant;

use serde_json::{Value, json};
use tapio_ingest::k8s::live::{Change, LiveStore, Op};
use tapio_schemas::{ObjectRef, Severity, UnifiedEvent, source};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn uid(i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", i, i)
}

fn cid(i: usize) -> String {
    format!("{:064x}", i as u64 * 2_654_435_761)
}

fn ip(i: usize) -> String {
    format!("10.{}.{}.{}", 64 + i / 65536, (i / 256) % 256, i % 256)
}

/// Pod `i` of deployment `i / 10` in namespace `ns-{i / 1000}`.
fn pod(i: usize) -> Value {
    let d = i / 10;
    let ns = format!("ns-{}", i / 1000);
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("app-{d}-7d4f9c8b5-{i:05}"), "namespace": ns, "uid": uid(i),
                     "creationTimestamp": "2026-11-20T09:00:00Z", "resourceVersion": "1",
                     "labels": {"app": format!("app-{d}"), "pod-template-hash": "7d4f9c8b5"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("app-{d}-7d4f9c8b5"), "uid": "x", "controller": true}]},
        "spec": {"nodeName": format!("node-{}", i % 200),
                 "volumes": [{"name": "cfg", "configMap": {"name": format!("app-{d}-config")}},
                             {"name": "sec", "secret": {"secretName": format!("app-{d}-tls")}}],
                 "containers": [{"name": "app", "image": "registry.example.com/app:1.2.3",
                                 "env": [{"name": "DB_HOST", "value": format!("db-{}", d % 50)}],
                                 "resources": {"limits": {"memory": "256Mi"}}}]},
        "status": {"phase": "Running", "podIP": ip(i), "podIPs": [{"ip": ip(i)}],
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                                          "containerID": format!("containerd://{}", cid(i))}]}})
}

fn service(d: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": format!("app-{d}"), "namespace": format!("ns-{}", d / 100), "uid": format!("s{d}"),
                     "creationTimestamp": "2026-11-01T00:00:00Z"},
        "spec": {"selector": {"app": format!("app-{d}")}, "clusterIP": format!("10.96.{}.{}", d / 256, d % 256)}})
}

fn build(pods: usize) -> (LiveStore, u64, f64) {
    let before = rss_bytes();
    let t = Instant::now();
    let mut s = LiveStore::new("bench");
    for i in 0..pods {
        s.apply(
            Change {
                kind: "Pod",
                op: Op::Apply,
                object: pod(i),
            },
            0,
        );
    }
    for d in 0..pods / 10 {
        s.apply(
            Change {
                kind: "Service",
                op: Op::Apply,
                object: service(d),
            },
            0,
        );
    }
    let r = s.refresh(0).expect("changed");
    std::hint::black_box(&r.relations);
    drop(r);
    (
        s,
        rss_bytes().saturating_sub(before),
        t.elapsed().as_secs_f64(),
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let Some(pods) = args
        .iter()
        .position(|a| a == "--pods")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse::<usize>().ok())
    else {
        // Each size in a fresh process, so memory figures do not inherit freed heap.
        println!(
            "{:>8} {:>14} {:>16} {:>14} {:>16} {:>10}",
            "pods", "store MB", "MB per 10k pods", "build+map s", "lookups/s", "hit rate"
        );
        for pods in [1_000usize, 10_000, 50_000] {
            let st = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--pods", &pods.to_string()])
                .status()
                .unwrap();
            assert!(st.success());
        }
        return;
    };
    {
        let (mut store, bytes, secs) = build(pods);
        let mb = bytes as f64 / 1e6;
        // Events keyed the ways collectors key them: 40% by pod UID (kubelet, cgroup),
        // 30% container id (runtime, cgroup), 20% pod IP (network), 10% unknown.
        let n = 1_000_000usize;
        let events: Vec<UnifiedEvent> = (0..n)
            .map(|k| {
                let i = (k * 7919) % pods;
                let mut e = UnifiedEvent::new(
                    String::new(),
                    0,
                    source::KERNEL,
                    "kernel.oom_kill",
                    Severity::Error,
                    ObjectRef::default(),
                );
                match k % 10 {
                    0..=3 => e.pod_uid = Some(uid(i)),
                    4..=6 => e.container_id = Some(cid(i)),
                    7 | 8 => e.src_ip = Some(ip(i)),
                    _ => e.pod_uid = Some(uid(pods + i)),
                }
                e
            })
            .collect();
        let map = store.map();
        let (l0, h0) = map.hit_rate();
        let t = Instant::now();
        let mut events = events;
        for e in &mut events {
            map.enrich(e);
        }
        let secs_lookup = t.elapsed().as_secs_f64();
        let (l1, h1) = map.hit_rate();
        std::hint::black_box(&events);
        println!(
            "{:>8} {:>14.1} {:>16.1} {:>14.2} {:>16.0} {:>9.1}%",
            pods,
            mb,
            mb / (pods as f64 / 10_000.0),
            secs,
            n as f64 / secs_lookup,
            100.0 * (h1 - h0) as f64 / (l1 - l0).max(1) as f64
        );
    }
}
