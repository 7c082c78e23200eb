//! The Kubernetes collector against a mocked API server (`tower_test::mock`, the way
//! kube-rs tests itself) replaying recorded list and watch responses: a list, a watch
//! with a change and a bookmark, `410 Gone`, the relist that follows (a pod deleted
//! while disconnected), a watch with an addition and a deletion, and Event count bumps.
//! The recordings are in `tests/fixtures/watch/`, in the shapes the API server returns.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use tapio_ingest::k8s::live::{K8sOptions, KubernetesCollector};
use tapio_schemas::{ObjectRef, Severity, UnifiedEvent, relation, source};
use tokio::sync::mpsc;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/watch/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// What the mock API server answers to each resource path, in order. A request with no
/// step left is held open (as a real watch with nothing to say).
struct Script {
    steps: HashMap<&'static str, VecDeque<(bool, &'static str)>>,
}

impl Script {
    fn recorded() -> Self {
        let mut steps = HashMap::new();
        steps.insert(
            "/api/v1/pods",
            VecDeque::from([
                (false, "pods-list-1.json"),
                (true, "pods-watch-1.jsonl"),
                (true, "pods-watch-2-gone.jsonl"),
                (false, "pods-list-2.json"),
                (true, "pods-watch-3.jsonl"),
            ]),
        );
        steps.insert(
            "/api/v1/services",
            VecDeque::from([(false, "services-list.json")]),
        );
        steps.insert(
            "/apis/events.k8s.io/v1/events",
            VecDeque::from([(false, "events-list.json"), (true, "events-watch-1.jsonl")]),
        );
        Script { steps }
    }

    fn remaining(&self) -> usize {
        self.steps.values().map(VecDeque::len).sum()
    }
}

type Log = Arc<Mutex<Vec<(String, String)>>>;

fn serve(
    mut handle: tower_test::mock::Handle<Request<Body>, Response<Body>>,
    script: Arc<Mutex<Script>>,
    log: Log,
) {
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some((req, send)) = handle.next_request().await {
            let path = req.uri().path().to_string();
            let query = req.uri().query().unwrap_or("").to_string();
            let watch = query.contains("watch=true");
            log.lock().unwrap().push((path.clone(), query));
            let step = {
                let mut s = script.lock().unwrap();
                s.steps.get_mut(path.as_str()).and_then(|q| {
                    if q.front().is_some_and(|(w, _)| *w == watch) {
                        q.pop_front()
                    } else {
                        None
                    }
                })
            };
            match step {
                Some((_, file)) => send.send_response(
                    Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .body(Body::from(fixture(file)))
                        .unwrap(),
                ),
                None if watch => held.push(send),
                // An unscripted list: an empty one of the right shape.
                None => send.send_response(
                    Response::builder()
                        .status(200)
                        .body(Body::from(
                            br#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#.to_vec(),
                        ))
                        .unwrap(),
                ),
            }
        }
    });
}

fn param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_watch_bookmark_gone_relist_and_deletions() {
    let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let script = Arc::new(Mutex::new(Script::recorded()));
    let log: Log = Arc::default();
    serve(handle, Arc::clone(&script), Arc::clone(&log));
    let client = Client::new(svc, "default");
    let (tx, mut rx) = mpsc::channel(10_000);
    let opts = K8sOptions {
        cluster: "test".into(),
        resources: vec!["pods".into(), "services".into(), "events".into()],
        refresh: Duration::from_millis(50),
    };
    let mut col = KubernetesCollector::start(client, opts, tx).unwrap();
    // The watcher backs off (~1 s) after 410 Gone before it relists.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while script.lock().unwrap().remaining() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "script not consumed; requests: {:#?}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }

    // resourceVersion handling: watch from the list, resume from the bookmark, relist
    // after 410, watch from the relist.
    let pods: Vec<(String, String)> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == "/api/v1/pods")
        .cloned()
        .collect();
    let shape: Vec<(bool, Option<&str>)> = pods
        .iter()
        .map(|(_, q)| (q.contains("watch=true"), param(q, "resourceVersion")))
        .collect();
    assert_eq!(shape[1], (true, Some("1100")), "{pods:#?}");
    assert_eq!(
        shape[2],
        (true, Some("1205")),
        "resumes from the bookmark: {pods:#?}"
    );
    assert!(!shape[3].0, "410 Gone leads to a relist: {pods:#?}");
    assert_eq!(shape[4], (true, Some("2231")), "{pods:#?}");
    assert!(pods[1].1.contains("allowWatchBookmarks=true"));

    // The restart seen in the watch, with its last termination, enriched from the map.
    let restart = events
        .iter()
        .find(|e| e.event_type == "k8s.container.restarted")
        .unwrap_or_else(|| panic!("no restart in {events:#?}"));
    assert_eq!(restart.reason.as_deref(), Some("OOMKilled"));
    assert_eq!(restart.exit_code, Some(137));
    assert_eq!(restart.node.as_deref(), Some("node-a"));
    assert_eq!(
        restart.workload,
        Some(ObjectRef::new("Deployment", "shop", "web"))
    );
    // The OOMKilled last state also becomes the replay-shaped object event, once.
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "k8s.pod.oom_killed")
            .count(),
        1
    );
    // The Event and its count bump: same id, counts 1 then 4.
    let backoff: Vec<i64> = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("BackOff"))
        .map(|e| e.count)
        .collect();
    assert_eq!(backoff, [1, 4]);

    // The map: the relisted-away pod and the deleted one have ended relations; the
    // added one is in force; the Service selects what exists.
    let topo = col.topology().borrow().clone();
    let runs_on = |pod: &str| {
        topo.relations
            .iter()
            .find(|r| r.relation == relation::RUNS_ON && r.from_name == pod)
            .map(|r| r.valid_to.is_some())
    };
    assert_eq!(
        runs_on("web-7d4f9c8b5-q9w2e"),
        Some(false),
        "added pod in force"
    );
    assert_eq!(
        runs_on("web-7d4f9c8b5-m4n8z"),
        Some(true),
        "gone by relist: ended"
    );
    assert_eq!(runs_on("web-7d4f9c8b5-x2k9q"), Some(true), "deleted: ended");
    let history = col.take_history();
    assert!(
        history
            .iter()
            .any(|r| r.from_name == "web-7d4f9c8b5-m4n8z" && r.valid_to.is_some())
    );
    let (stats, _) = col.stats();
    assert_eq!(stats.deleted_by_relist, 1);
    assert!(stats.relists >= 2, "{stats:?}");

    // Any collector's event is enriched from the live map: by container id, and the
    // peer of a connection by cluster IP.
    let mut k = UnifiedEvent::new(
        "k".into(),
        0,
        source::KERNEL,
        "kernel.tcp_connect_failed",
        Severity::Warning,
        ObjectRef::default(),
    );
    k.container_id =
        Some("5c7a9e1b2d4f4a6c8e0b1d3f5a7c9e2b5c7a9e1b2d4f4a6c8e0b1d3f5a7c9e2b".into());
    k.dst_ip = Some("10.96.14.20".into());
    col.enrich(&mut k);
    assert_eq!(k.pod.as_deref(), Some("web-7d4f9c8b5-q9w2e"));
    assert_eq!(k.attributes["dst_kind"], "Service");
    assert_eq!(k.attributes["dst_name"], "web");
    col.shutdown().await;
}
