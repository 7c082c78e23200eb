//! The embedded default end to end: `tapio run --collectors ebpf,kubernetes` against a
//! fake API server on 127.0.0.1 (plain HTTP, recorded-shape responses) and the real
//! kernel. A process OOM-killed in a cgroup laid out as kubelet lays out a pod's
//! (`kubepods.slice/…/kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope`)
//! and the API's view of that pod (OOMKilled last state, BackOff) become one story.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tapio_schemas::Story;

#[path = "../../ingest/tests/support/memcg.rs"]
mod memcg;
mod support;

/// Serves `lists` (path → list body) and `watches` (path → one watch body, then the
/// watch is held open) over HTTP/1.1, one thread per connection.
fn fake_api(lists: HashMap<String, Value>, watches: HashMap<String, String>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (lists, watches, served) = (lists.clone(), watches.clone(), served.clone());
            std::thread::spawn(move || serve(conn, &lists, &watches, &served));
        }
    });
    port
}

fn serve(
    conn: TcpStream,
    lists: &HashMap<String, Value>,
    watches: &HashMap<String, String>,
    served: &std::sync::Mutex<std::collections::HashSet<String>>,
) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        let _ = r.read_exact(&mut body);
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let reply = if query.contains("watch=true") {
            match watches.get(path) {
                Some(b) if served.lock().unwrap().insert(path.to_string()) => b.clone(),
                // Nothing more to say: hold the watch open.
                _ => loop {
                    std::thread::sleep(Duration::from_secs(3600));
                },
            }
        } else {
            match lists.get(path) {
                Some(v) => v.to_string(),
                None => {
                    let s = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404});
                    let b = s.to_string();
                    let _ = write!(
                        w,
                        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                        b.len()
                    );
                    continue;
                }
            }
        };
        let _ = write!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
    }
}

fn rfc3339_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[test]
fn kernel_oom_and_the_api_view_of_the_pod_make_one_story() {
    let pod_uid = format!("8e2a1b7c-3d4e-4f5a-9b6c-{:012x}", std::process::id());
    let cid = format!("{:064x}", u64::from(std::process::id()) * 7919);
    let layout = format!(
        "tapio-e2e-{}/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{cid}.scope",
        std::process::id(),
        pod_uid.replace('-', "_")
    );
    let cg = match memcg::TestCgroup::create(&layout, 24 << 20) {
        Ok(cg) => cg,
        Err(e) => {
            eprintln!("SKIP: cannot make a memory cgroup: {e}");
            return;
        }
    };
    let now = rfc3339_now();
    let pod = json!({"kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": "web-7d4f9c8b5-abcde", "namespace": "shop", "uid": pod_uid, "resourceVersion": "100",
                     "creationTimestamp": "2026-11-01T00:00:00Z", "labels": {"app": "web"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4f9c8b5", "uid": "r1", "controller": true}]},
        "spec": {"nodeName": "test-node", "containers": [{"name": "app", "image": "example/web:1",
                 "resources": {"limits": {"memory": "24Mi"}}}]},
        "status": {"phase": "Running", "podIP": "10.244.1.17",
                   "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}],
                   "containerStatuses": [{"name": "app", "ready": false, "restartCount": 1, "containerID": format!("containerd://{cid}"),
                       "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container=app"}},
                       "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": "2026-11-01T00:00:05Z", "finishedAt": now}}}]}});
    let backoff = json!({"kind": "Event", "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "web-7d4f9c8b5-abcde.1", "namespace": "shop", "uid": "e2e-backoff", "resourceVersion": "101", "creationTimestamp": now},
        "reason": "BackOff", "type": "Warning", "reportingController": "kubelet", "reportingInstance": "test-node",
        "regarding": {"kind": "Pod", "namespace": "shop", "name": "web-7d4f9c8b5-abcde", "uid": pod_uid, "fieldPath": "spec.containers{app}"},
        "note": "Back-off restarting failed container app in pod web-7d4f9c8b5-abcde_shop",
        "deprecatedFirstTimestamp": now, "deprecatedLastTimestamp": now, "deprecatedCount": 1});
    let lists = HashMap::from([
        (
            "/api/v1/pods".to_string(),
            json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "100"}, "items": [pod]}),
        ),
        (
            "/apis/events.k8s.io/v1/events".to_string(),
            json!({"kind": "EventList", "apiVersion": "events.k8s.io/v1", "metadata": {"resourceVersion": "101"}, "items": [backoff]}),
        ),
    ]);
    let port = fake_api(lists, HashMap::new());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{port}\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: fake\n    user: u\ncurrent-context: c\n"
        ),
    )
    .unwrap();

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tapio"));
    cmd.args([
        "run",
        "--collectors",
        "ebpf,kubernetes",
        "--k8s-resources",
        "pods,events",
        "--probes",
        "oom,memcg",
        "--node",
        "test-node",
        "--output",
        "json",
        "--no-store",
        "--window-secs",
        "1",
        "--idle-timeout-secs",
        "5",
        "--duration-secs",
        "9",
    ])
    .env("KUBECONFIG", &kubeconfig);
    let Some(child) = support::start_live(cmd) else {
        return;
    };
    // Give the watchers a moment to list, then OOM-kill a process in the pod's cgroup.
    std::thread::sleep(Duration::from_millis(800));
    let script = format!(
        "echo $$ > {} && exec tail /dev/zero",
        cg.dir.join("cgroup.procs").display()
    );
    let status = Command::new("sh").args(["-c", &script]).status().unwrap();
    assert!(!status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stories: Vec<Story> = support::json_lines(out.stdout);
    assert_eq!(stories.len(), 1, "one story: {stories:#?}");
    let s = &stories[0];
    assert_eq!(
        (
            s.root_cause.kind.as_str(),
            s.root_cause.namespace.as_str(),
            s.root_cause.name.as_str()
        ),
        ("Deployment", "shop", "web"),
        "{s:#?}"
    );
    assert!(
        s.event_ids.iter().any(|id| id == "e2e-backoff"),
        "the API's BackOff is in it"
    );
    assert!(
        s.timeline
            .iter()
            .any(|t| t.source == "kernel" && t.text.contains("Kernel OOM-killed tail")),
        "the kernel's kill, tied to the pod, is in it: {:#?}",
        s.timeline
    );
    drop(cg);
}
