//! Cross-layer stories: what the eBPF collector reports (built here through its real
//! record → UnifiedEvent conversion) joins the Kubernetes view of the same failure.

mod common;

use common::*;
use serde_json::{Value, json};
use tapio_ingest::ebpf::{
    Context, KernelRecord, OomConstraint, Record, Task, TcpTrouble, to_event,
};
use tapio_schemas::UnifiedEvent;

const NS: &str = "shop";
const POD: &str = "web-7d4f9c8b5-x2k9q";
const RS: &str = "web-7d4f9c8b5";
const POD_UID: &str = "8e2a1b7c-3d4e-4f5a-9b6c-7d8e9f0a1b2c";
const CONTAINER: &str = "4c8a4f2f0e7d9b1a3c5e7f9012345678abcdef0123456789abcdef0123456789";

/// The converter's context, with boot time chosen so `boot_ns` seconds land on `hms`.
fn kernel_event(hms: &str, task: Task, kind: KernelRecord) -> UnifiedEvent {
    let wall: jiff::Timestamp = t(hms).parse().unwrap();
    let ctx = Context {
        node: "node-a".into(),
        cluster: "default".into(),
        boot_to_wall_ns: wall.as_nanosecond() as i64 - 1_000_000_000,
        page_size: 4096,
    };
    to_event(
        &Record {
            boot_ns: 1_000_000_000,
            task,
            kind,
        },
        &ctx,
    )
}

fn web_pod(statuses: Value) -> Vec<Value> {
    let mut v = deployment(NS, "web", "7d4f9c8b5");
    let mut p = pod(NS, POD, RS, "node-a", "web", json!([]), statuses);
    p["metadata"]["uid"] = json!(POD_UID);
    v.push(p);
    v
}

fn files(objects: Vec<Value>, kernel: &[UnifiedEvent]) -> Vec<(&'static str, String)> {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let lines: Vec<String> = kernel
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    vec![
        ("capture.json", serde_json::to_string_pretty(&list).unwrap()),
        ("ebpf.jsonl", lines.join("\n")),
    ]
}

#[test]
fn ebpf_oom_kill_joins_the_pods_oomkilled_story() {
    let statuses = json!([{"name": "app", "ready": false, "restartCount": 3,
        "containerID": format!("containerd://{CONTAINER}"),
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=app"}},
        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
            "startedAt": t("10:00:30"), "finishedAt": t("10:01:00"), "containerID": format!("containerd://{CONTAINER}")}}}]);
    let backoff = container_event(
        NS,
        POD,
        "spec.containers{app}",
        "BackOff",
        "Back-off restarting failed container app in pod web-7d4f9c8b5-x2k9q_shop(8e2a1b7c-3d4e-4f5a-9b6c-7d8e9f0a1b2c)",
        "10:01:05",
        3,
    );
    let task = Task {
        pid: 4242,
        tid: 4242,
        comm: "java".into(),
        cgroup_id: 9,
        cgroup: format!(
            "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{CONTAINER}.scope",
            POD_UID.replace('-', "_")
        ),
    };
    let kill = kernel_event(
        "10:01:00",
        task.clone(),
        KernelRecord::OomKill {
            constraint: OomConstraint::Memcg,
            limit_pages: 65536,
            usage_pages: 65530,
            rss_pages: 65000,
            oom_score_adj: 984,
        },
    );
    let pressure = kernel_event(
        "10:00:58",
        task,
        KernelRecord::MemcgReclaim {
            usage_pages: 65500,
            limit_pages: 65536,
            suppressed: 120,
            level: 0,
        },
    );
    let mut objects = web_pod(statuses);
    objects.push(backoff);
    let stories = replay_files(&files(objects, &[pressure.clone(), kill.clone()]));
    assert_eq!(
        summary(&stories),
        vec!["oom-killed Deployment/shop/web OOMKilled"]
    );
    let s = &stories[0];
    assert!(
        s.event_ids.contains(&kill.event_id),
        "kernel kill is evidence"
    );
    let texts: Vec<&str> = s.timeline.iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Kernel OOM-killed java (pid 4242)")),
        "kernel evidence in the timeline: {texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("memory cgroup at its limit")),
        "the reclaim before the kill is context in the timeline: {texts:#?}"
    );
}

fn refused(hms: &str, port: u16) -> UnifiedEvent {
    kernel_event(
        hms,
        Task {
            pid: 77,
            tid: 77,
            comm: "nginx".into(),
            cgroup_id: 0,
            cgroup: String::new(),
        },
        KernelRecord::Tcp {
            what: TcpTrouble::ConnectFailed,
            src: ("10.244.1.7".parse().unwrap(), 40000 + port),
            dst: ("10.96.0.20".parse().unwrap(), 80),
            err: 111,
            state: 2,
            suppressed: 0,
        },
    )
}

fn web_service() -> Value {
    let mut s = service(NS, "web", "web");
    s["spec"]["clusterIP"] = json!("10.96.0.20");
    s["spec"]["clusterIPs"] = json!(["10.96.0.20"]);
    s
}

#[test]
fn refused_connections_join_the_service_no_endpoints_story() {
    let mut objects = web_pod(json!([]));
    objects.push(web_service());
    objects.push(slice(NS, "web", &[(POD, false)], "10:00:00"));
    let conns = [refused("10:00:10", 1), refused("10:00:20", 2)];
    let stories = replay_files(&files(objects, &conns));
    assert_eq!(stories.len(), 1, "{:?}", summary(&stories));
    assert_eq!(stories[0].pattern, "service-no-endpoints");
    for c in &conns {
        assert!(
            stories[0].event_ids.contains(&c.event_id),
            "refused connect {} is in the story",
            c.event_id
        );
    }
}

#[test]
fn refused_connections_to_a_healthy_service_make_no_story() {
    let mut objects = web_pod(json!([]));
    objects.push(web_service());
    objects.push(slice(NS, "web", &[(POD, true)], "10:00:00"));
    let conns: Vec<UnifiedEvent> = (0..8).map(|i| refused("10:00:10", i)).collect();
    let stories = replay_files(&files(objects, &conns));
    assert!(stories.is_empty(), "{:?}", summary(&stories));
}
