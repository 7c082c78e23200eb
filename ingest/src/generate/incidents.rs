//! Injected incidents: each writes what the kubelet, scheduler and node controller
//! report for that failure (reasons and message shapes from their sources) and sets the
//! objects' final state to match, and returns its ground truth.

use rand::Rng;
use serde_json::json;

use super::IncidentLabel;
use super::cluster::{Cluster, ts};

/// The patterns injected, in turn.
pub const PATTERNS: [&str; 7] = [
    "oom-killed",
    "crashloop",
    "image-pull",
    "config-missing",
    "node-not-ready",
    "unschedulable",
    "probe-failure",
];

/// Injects incident number `n` into Deployment `d`, starting at `at` (seconds).
pub fn inject(c: &mut Cluster, rng: &mut impl Rng, n: usize, d: usize, at: i64) -> IncidentLabel {
    let pattern = PATTERNS[n % PATTERNS.len()];
    let dep = c.deployments[d].clone();
    let (ns, name) = (dep.ns.clone(), dep.name.clone());
    let mut ids = Vec::new();
    let mut pods = Vec::new();
    let mut root = ["Deployment".to_string(), ns.clone(), name.clone()];
    let dur = rng.random_range(300..1200);
    let c_path = Some("spec.containers{app}");
    c.touched.insert(format!("{ns}/{name}"));
    c.touched.insert(format!("{ns}/{name}-{}", dep.hash));
    match pattern {
        "oom-killed" | "crashloop" => {
            let oom = pattern == "oom-killed";
            for (i, p) in dep.pods.iter().enumerate() {
                let restarts = rng.random_range(3..9);
                let start = at + i as i64 * 20;
                let msg = format!(
                    "Back-off restarting failed container app in pod {}_{ns}({})",
                    p.name,
                    tapio_schemas::ids::stable_id(&["Pod", &ns, &p.name])
                );
                ids.push(c.event(
                    &ns,
                    "Pod",
                    &p.name,
                    "BackOff",
                    &msg,
                    (start + 60, start + dur, restarts),
                    true,
                    ("kubelet", &p.node),
                    c_path,
                ));
                let (reason, code) = if oom {
                    ("OOMKilled", 137)
                } else {
                    ("Error", 1)
                };
                let status = json!({"phase": "Running", "podIP": p.ip,
                    "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                                    "message": "containers with unready status: [app]", "lastTransitionTime": ts(start)}],
                    "containerStatuses": [{"name": "app", "ready": false, "restartCount": restarts,
                        "image": format!("registry.example.com/{ns}/{name}:1.0.0"),
                        "containerID": format!("containerd://{}", tapio_schemas::ids::stable_id(&["c", &p.name, "2"])),
                        "state": {"waiting": {"reason": "CrashLoopBackOff",
                                  "message": format!("back-off 2m40s restarting failed container=app pod={}_{ns}", p.name)}},
                        "lastState": {"terminated": {"reason": reason, "exitCode": code,
                                      "startedAt": ts(start + dur - 90), "finishedAt": ts(start + dur - 30)}}}]});
                pods.push(format!("{ns}/{}", p.name));
                c.deployments[d].pods[i].status = Some(status);
            }
        }
        "image-pull" => {
            let image = format!("registry.example.com/{ns}/{name}:1.4.0-rc1");
            for (i, p) in dep.pods.iter().enumerate() {
                let k = ("kubelet", p.node.as_str());
                let start = at + i as i64 * 10;
                let not_found = format!(
                    "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"
                );
                let n = rng.random_range(3..7);
                ids.push(c.event(
                    &ns,
                    "Pod",
                    &p.name,
                    "Failed",
                    &not_found,
                    (start, start + dur, n),
                    true,
                    k,
                    c_path,
                ));
                ids.push(c.event(
                    &ns,
                    "Pod",
                    &p.name,
                    "Failed",
                    "Error: ErrImagePull",
                    (start, start + dur, n),
                    true,
                    k,
                    c_path,
                ));
                let backoff = format!("Back-off pulling image \"{image}\"");
                ids.push(c.event(
                    &ns,
                    "Pod",
                    &p.name,
                    "BackOff",
                    &backoff,
                    (start + 20, start + dur, n * 4),
                    false,
                    k,
                    c_path,
                ));
                ids.push(c.event(
                    &ns,
                    "Pod",
                    &p.name,
                    "Failed",
                    "Error: ImagePullBackOff",
                    (start + 20, start + dur, n * 4),
                    true,
                    k,
                    c_path,
                ));
                let status = json!({"phase": "Pending", "podIP": p.ip,
                    "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": ts(start)}],
                    "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "image": image,
                        "state": {"waiting": {"reason": "ImagePullBackOff", "message": backoff}}}]});
                pods.push(format!("{ns}/{}", p.name));
                let pod = &mut c.deployments[d].pods[i];
                pod.status = Some(status);
                pod.image = Some(image.clone());
            }
        }
        "config-missing" => {
            let cm = format!("{name}-config-v2");
            root = ["ConfigMap".into(), ns.clone(), cm.clone()];
            for (i, p) in dep.pods.iter().enumerate() {
                let start = at + i as i64 * 15;
                let msg = format!(
                    "MountVolume.SetUp failed for volume \"config\" : configmap \"{cm}\" not found"
                );
                ids.push(c.event(
                    &ns,
                    "Pod",
                    &p.name,
                    "FailedMount",
                    &msg,
                    (start, start + dur, rng.random_range(4..12)),
                    true,
                    ("kubelet", &p.node),
                    None,
                ));
                let status = json!({"phase": "Pending",
                    "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": ts(start)}],
                    "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                        "image": format!("registry.example.com/{ns}/{name}:1.0.0"),
                        "state": {"waiting": {"reason": "ContainerCreating"}}}]});
                pods.push(format!("{ns}/{}", p.name));
                let pod = &mut c.deployments[d].pods[i];
                pod.status = Some(status);
                pod.volumes = Some(json!([{"name": "config", "configMap": {"name": cm}}]));
            }
        }
        "node-not-ready" => {
            let node = dep.pods[0].node.clone();
            root = ["Node".into(), String::new(), node.clone()];
            c.touched.insert(format!("/{node}"));
            let msg = format!("Node {node} status is now: NodeNotReady");
            ids.push(c.event(
                "",
                "Node",
                &node,
                "NodeNotReady",
                &msg,
                (at, at, 1),
                false,
                ("node-controller", ""),
                None,
            ));
            c.node_ready.insert(node.clone(), json!({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": ts(at - 40), "lastTransitionTime": ts(at)}));
            // Every pod on the node, of any Deployment, loses it.
            for di in 0..c.deployments.len() {
                for pi in 0..c.deployments[di].pods.len() {
                    let p = c.deployments[di].pods[pi].clone();
                    if p.node != node {
                        continue;
                    }
                    let pns = c.deployments[di].ns.clone();
                    let t = at + rng.random_range(1..20);
                    ids.push(c.event(
                        &pns,
                        "Pod",
                        &p.name,
                        "NodeNotReady",
                        "Node is not ready",
                        (t, t, 1),
                        true,
                        ("node-controller", ""),
                        None,
                    ));
                    pods.push(format!("{pns}/{}", p.name));
                    c.touched.insert(format!("{pns}/{}", p.name));
                }
            }
        }
        "unschedulable" => {
            // A scale-up whose new pod fits nowhere.
            let n = c.nodes.len();
            let pod = format!("{name}-{}-pend1", dep.hash);
            let msg = format!(
                "0/{n} nodes are available: {n} Insufficient memory. preemption: 0/{n} nodes are available: {n} No preemption victims found for incoming pod."
            );
            ids.push(c.event(
                &ns,
                "Pod",
                &pod,
                "FailedScheduling",
                &msg,
                (at, at + dur, rng.random_range(3..10)),
                true,
                ("default-scheduler", ""),
                None,
            ));
            pods.push(format!("{ns}/{pod}"));
            let mut p = dep.pods[0].clone();
            p.name = pod;
            p.node = String::new();
            p.status = Some(json!({"phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": msg, "lastTransitionTime": ts(at)}]}));
            c.deployments[d].pods.push(p);
        }
        _ => {
            // probe-failure: the app answers 503 under load on every replica.
            for (i, p) in dep.pods.iter().enumerate() {
                let start = at + i as i64 * 5;
                let msg = "Readiness probe failed: HTTP probe failed with statuscode: 503";
                ids.push(c.event(
                    &ns,
                    "Pod",
                    &p.name,
                    "Unhealthy",
                    msg,
                    (start, start + dur, rng.random_range(8..40)),
                    true,
                    ("kubelet", &p.node),
                    c_path,
                ));
                let status = json!({"phase": "Running", "podIP": p.ip,
                    "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": ts(start)}],
                    "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                        "image": format!("registry.example.com/{ns}/{name}:1.0.0"),
                        "containerID": format!("containerd://{}", tapio_schemas::ids::stable_id(&["c", &p.name])),
                        "state": {"running": {"startedAt": ts(c.start - 3600)}}}]});
                pods.push(format!("{ns}/{}", p.name));
                c.deployments[d].pods[i].status = Some(status);
            }
        }
    }
    for p in &pods {
        c.touched.insert(p.clone());
    }
    if !matches!(pattern, "node-not-ready" | "unschedulable") {
        // Its pods went unready: the Service's endpoints changed then.
        c.deployments[d].endpoints_changed = Some(at);
    }
    IncidentLabel {
        id: format!("inc-{n}"),
        pattern: pattern.into(),
        root,
        event_ids: ids,
        pods,
        start: ts(at),
        end: ts(at + dur),
    }
}
