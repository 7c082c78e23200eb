//! Builders of realistic Kubernetes objects (the shapes `kubectl get -o json` prints)
//! and a runner that replays them through the real ingest and engine.

#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::{Value, json};
use tapio_engine::{Engine, EngineConfig};
use tapio_ingest::{ReplayOptions, read_paths};
use tapio_schemas::{Story, events_to_batch};

pub const DAY: &str = "2026-11-20";

pub fn t(hms: &str) -> String {
    format!("{DAY}T{hms}Z")
}

fn uid(s: &str) -> String {
    tapio_schemas::ids::stable_id(&[s])
}

/// A core/v1 Event (its fields as arguments, in the order kubectl prints them).
#[allow(clippy::too_many_arguments)]
pub fn event(
    ns: &str,
    kind: &str,
    name: &str,
    reason: &str,
    message: &str,
    first: &str,
    count: i64,
    warning: bool,
) -> Value {
    let id = uid(&format!("ev/{ns}/{kind}/{name}/{reason}/{first}/{message}"));
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.{}", &id[..12]), "namespace": if ns.is_empty() { "default" } else { ns }, "uid": id,
                     "creationTimestamp": t(first)},
        "involvedObject": {"kind": kind, "namespace": ns, "name": name, "uid": uid(&format!("{kind}/{ns}/{name}"))},
        "reason": reason, "message": message,
        "source": {"component": "kubelet", "host": "node-a"},
        "firstTimestamp": t(first), "lastTimestamp": t(first), "count": count,
        "type": if warning { "Warning" } else { "Normal" }
    })
}

/// An Event with a container field path.
pub fn container_event(
    ns: &str,
    pod: &str,
    field: &str,
    reason: &str,
    message: &str,
    first: &str,
    count: i64,
) -> Value {
    let mut e = event(ns, "Pod", pod, reason, message, first, count, true);
    e["involvedObject"]["fieldPath"] = json!(field);
    e
}

/// A Deployment's ReplicaSet and Deployment, so pods resolve to their workload.
pub fn deployment(ns: &str, name: &str, hash: &str) -> Vec<Value> {
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": name, "namespace": ns, "uid": uid(&format!("Deployment/{ns}/{name}")), "creationTimestamp": "2026-11-01T00:00:00Z", "labels": {"app": name}},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}},
               "status": {"conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "lastTransitionTime": "2026-11-01T00:00:00Z"}]}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": format!("{name}-{hash}"), "namespace": ns, "uid": uid(&format!("ReplicaSet/{ns}/{name}-{hash}")), "creationTimestamp": "2026-11-01T00:00:00Z",
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid(&format!("Deployment/{ns}/{name}")), "controller": true}]}}),
    ]
}

/// A running pod owned by a ReplicaSet, with optional env and extra status.
pub fn pod(
    ns: &str,
    name: &str,
    rs: &str,
    node: &str,
    app: &str,
    env: Value,
    statuses: Value,
) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": uid(&format!("Pod/{ns}/{name}")), "creationTimestamp": "2026-11-19T00:00:00Z",
                     "labels": {"app": app},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": uid(&format!("ReplicaSet/{ns}/{rs}")), "controller": true}]},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "example/app:1", "env": env,
                                                     "resources": {"limits": {"memory": "256Mi"}}}]},
        "status": {"phase": "Running", "podIP": format!("10.244.0.{}", name.len()),
                   "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-19T00:00:05Z"}],
                   "containerStatuses": statuses}
    })
}

/// A Service selecting `app`.
pub fn service(ns: &str, name: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": ns, "uid": uid(&format!("Service/{ns}/{name}")), "creationTimestamp": "2026-11-01T00:00:00Z"},
           "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]}})
}

/// An EndpointSlice of `svc` listing (pod, ready).
pub fn slice(ns: &str, svc: &str, eps: &[(&str, bool)], changed: &str) -> Value {
    let endpoints: Vec<Value> = eps
        .iter()
        .map(|(p, r)| json!({"addresses": ["10.244.0.9"], "conditions": {"ready": r}, "targetRef": {"kind": "Pod", "namespace": ns, "name": p}}))
        .collect();
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
           "metadata": {"name": format!("{svc}-abcde"), "namespace": ns, "creationTimestamp": "2026-11-01T00:00:00Z",
                        "labels": {"kubernetes.io/service-name": svc},
                        "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": t(changed)}},
           "endpoints": endpoints})
}

/// Writes files into a temp dir and replays them; stories sorted as the CLI prints them.
pub fn replay_files(files: &[(&str, String)]) -> Vec<Story> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    replay_paths(&[dir.path().to_path_buf()])
}

/// Replays objects given as one `kubectl get -o json` List.
pub fn replay(objects: Vec<Value>) -> Vec<Story> {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    replay_files(&[("capture.json", serde_json::to_string_pretty(&list).unwrap())])
}

pub fn replay_paths(paths: &[PathBuf]) -> Vec<Story> {
    let capture = read_paths(paths, &ReplayOptions::default()).unwrap();
    assert!(
        capture.summary.problems.is_empty(),
        "unexpected input problems: {:?}",
        capture.summary.problems
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut engine = Engine::new(EngineConfig {
            partitions: 1,
            ..EngineConfig::default()
        })
        .await
        .unwrap();
        engine.set_topology(&capture.relations).await.unwrap();
        let mut stories = Vec::new();
        for chunk in capture.events.chunks(4096) {
            stories.extend(engine.push(events_to_batch(chunk)).await.unwrap().stories);
        }
        stories.extend(engine.finish().await.unwrap().stories);
        tapio_engine::engine::sort_stories(&mut stories);
        stories
    })
}

/// `pattern root-kind/ns/name` of each story, for compact assertions.
pub fn summary(stories: &[Story]) -> Vec<String> {
    stories
        .iter()
        .map(|s| {
            format!(
                "{} {}/{}/{} {}",
                s.pattern,
                s.root_cause.kind,
                s.root_cause.namespace,
                s.root_cause.name,
                s.root_cause.reason
            )
        })
        .collect()
}
