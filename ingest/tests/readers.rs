//! Readers against real-format fixtures, malformed records included: each bad record is
//! named by file, line and field, and the good records around it still flow.

use std::path::PathBuf;

use tapio_ingest::{ReplayOptions, read_paths};
use tapio_schemas::{events_to_batch, relation};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read(name: &str) -> tapio_ingest::Capture {
    read_paths(&[fixture(name)], &ReplayOptions::default()).unwrap()
}

#[test]
fn watch_stream_merges_count_bumps_and_survives_a_broken_document() {
    let c = read("watch-stream.json");
    assert_eq!(
        c.events.len(),
        1,
        "the same Event updated twice is one event"
    );
    assert_eq!(c.events[0].count, 4, "the latest update wins");
    assert_eq!(
        c.events[0].attributes["last_timestamp"],
        "2026-11-20T10:03:10Z"
    );
    assert_eq!(c.summary.duplicates, 1);
    assert_eq!(c.summary.problems.len(), 1);
    let p = &c.summary.problems[0];
    assert!(p.file.ends_with("watch-stream.json"));
    assert_eq!(p.line, Some(37), "{p}");
    assert!(p.message.contains("invalid JSON"), "{p}");
}

#[test]
fn events_k8s_io_yaml_and_multi_document() {
    let c = read("events-v1.yaml");
    let ev = c
        .events
        .iter()
        .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .unwrap();
    assert_eq!(ev.count, 7, "series.count");
    assert_eq!(ev.object.name, "db-0");
    assert!(
        ev.message
            .as_deref()
            .unwrap()
            .starts_with("0/3 nodes are available")
    );
    // The Pod in the second document: derived events and its owner.
    let un = c
        .events
        .iter()
        .find(|e| e.event_type == "k8s.pod.unschedulable")
        .unwrap();
    assert_eq!(un.workload.as_ref().unwrap().name, "db");
    assert_eq!(
        ev.workload.as_ref().unwrap().kind,
        "StatefulSet",
        "Events enriched from the Pod"
    );
    // The third document is broken YAML: named with its line.
    assert_eq!(c.summary.problems.len(), 1);
    let p = &c.summary.problems[0];
    assert!(
        p.message.contains("invalid YAML") && p.line.is_some_and(|l| l >= 58),
        "{p}"
    );
}

#[test]
fn cluster_info_dump_folder() {
    let c = read("cluster-info-dump");
    assert_eq!(
        c.summary.skipped_files.get("container logs (not read yet)"),
        Some(&1)
    );
    // The Event without any time is rejected by name; the rest flows.
    assert_eq!(c.summary.problems.len(), 1);
    let p = &c.summary.problems[0];
    assert!(
        p.file.ends_with("shop/events.json") && p.field.as_deref() == Some("lastTimestamp"),
        "{p}"
    );
    assert!(
        c.events
            .iter()
            .any(|e| e.reason.as_deref() == Some("Evicted") && e.source == "k8s-event")
    );
    assert!(c.events.iter().any(|e| e.event_type == "k8s.pod.evicted"));
    assert!(
        c.events.iter().any(|e| e.event_type == "k8s.node.pressure"
            && e.reason.as_deref() == Some("MemoryPressure"))
    );
    // Relations: owner, node, envFrom ConfigMap and Secret, PVC.
    let rels: Vec<(&str, &str)> = c
        .relations
        .iter()
        .map(|r| (r.relation.as_str(), r.to_name.as_str()))
        .collect();
    for want in [
        (relation::OWNED_BY, "web-5d8f7c9b6"),
        (relation::RUNS_ON, "node-a"),
        (relation::USES_CONFIGMAP, "web-env"),
        (relation::USES_SECRET, "web-secrets"),
        (relation::CLAIMS, "web-data"),
    ] {
        assert!(rels.contains(&want), "missing {want:?} in {rels:?}");
    }
    // Secret data is never kept.
    let dump = format!("{:?}{:?}", c.events, c.relations);
    assert!(!dump.contains("aHVudGVyMi"), "secret data leaked");
    // The pod's ReplicaSet is not in the dump: its Deployment is inferred from the name.
    let ev = c
        .events
        .iter()
        .find(|e| e.reason.as_deref() == Some("Evicted"))
        .unwrap();
    assert_eq!(
        ev.owner_chain,
        vec!["ReplicaSet/web-5d8f7c9b6", "Deployment/web"]
    );
}

#[test]
fn journald_lines_bad_lines_named() {
    let c = read("journal.json");
    let types: Vec<&str> = c.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, vec!["systemd.unit.exited", "kernel.oom_kill"]);
    assert_eq!(c.events[0].signal, Some(9));
    let lines: Vec<(Option<usize>, Option<&str>)> = c
        .summary
        .problems
        .iter()
        .map(|p| (p.line, p.field.as_deref()))
        .collect();
    assert_eq!(
        lines,
        vec![(Some(2), None), (Some(3), Some("__REALTIME_TIMESTAMP"))]
    );
    assert_eq!(
        c.summary.unmatched_lines, 1,
        "the sshd line (binary MESSAGE) is routine"
    );
}

#[test]
fn raw_dmesg_is_named_not_guessed() {
    let c = read("dmesg-raw.txt");
    assert!(c.events.is_empty());
    assert_eq!(c.summary.problems.len(), 1);
    assert!(c.summary.problems[0].message.contains("dmesg -T"));
}

#[test]
fn tapio_files_round_trip() {
    let c = read("cluster-info-dump");
    let dir = tempfile::tempdir().unwrap();
    let batch = events_to_batch(&c.events);
    // Parquet.
    let f = std::fs::File::create(dir.path().join("events.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    // Arrow IPC file.
    let f = std::fs::File::create(dir.path().join("events.arrow")).unwrap();
    let mut w = arrow::ipc::writer::FileWriter::try_new(f, &batch.schema()).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    // JSON lines.
    let lines: Vec<String> = c
        .events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    std::fs::write(dir.path().join("events.jsonl"), lines.join("\n")).unwrap();
    for name in ["events.parquet", "events.arrow", "events.jsonl"] {
        let back = read_paths(&[dir.path().join(name)], &ReplayOptions::default()).unwrap();
        assert_eq!(back.events, c.events, "{name}");
        assert!(
            back.summary.problems.is_empty(),
            "{name}: {:?}",
            back.summary.problems
        );
    }
}

#[test]
fn every_event_of_a_capture_carries_the_cluster_named_for_it() {
    let opts = ReplayOptions {
        cluster: "prod-eu".into(),
        ..ReplayOptions::default()
    };
    let paths = [
        fixture("cluster-info-dump"),
        fixture("journal.json"),
        fixture("dmesg-raw.txt"),
    ];
    let c = read_paths(&paths, &opts).unwrap();
    let sources: std::collections::BTreeSet<&str> =
        c.events.iter().map(|e| e.source.as_str()).collect();
    assert!(sources.len() >= 3, "events of several readers: {sources:?}");
    for e in &c.events {
        assert_eq!(e.cluster, "prod-eu", "{} ({})", e.event_id, e.source);
    }
}
