//! Sentences for people: one per timeline event, and names of objects.

use tapio_schemas::UnifiedEvent;

/// `Deployment shop/web`, `Node node-a`.
pub fn object(kind: &str, ns: &str, name: &str) -> String {
    if ns.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {ns}/{name}")
    }
}

fn clip(s: &str, n: usize) -> String {
    let s = s.trim().replace('\n', " ");
    if s.chars().count() <= n {
        s
    } else {
        let cut: String = s.chars().take(n).collect();
        format!("{cut}…")
    }
}

/// One sentence for an event.
pub fn describe(e: &UnifiedEvent) -> String {
    let obj = match e.object.kind.as_str() {
        "" => e
            .node
            .as_deref()
            .map(|n| format!("node {n}"))
            .unwrap_or_else(|| "unknown object".into()),
        "Pod" => format!("pod {}/{}", e.object.namespace, e.object.name),
        "Node" => format!("node {}", e.object.name),
        k => object(k, &e.object.namespace, &e.object.name),
    };
    let msg = e
        .message
        .as_deref()
        .map(|m| clip(m, 220))
        .unwrap_or_default();
    let reason = e.reason.as_deref().unwrap_or("");
    let container = e.container.as_deref().unwrap_or("?");
    let times = match (e.count > 1, e.attributes.get("last_timestamp")) {
        (true, Some(l)) => format!(" (×{}, until {})", e.count, l.get(11..19).unwrap_or(l)),
        (true, None) => format!(" (×{})", e.count),
        _ => String::new(),
    };
    match e.event_type.as_str() {
        "k8s.pod.oom_killed" => {
            let limit = e
                .attributes
                .get("memory_limit")
                .map(|l| format!(", memory limit {l}"))
                .unwrap_or_default();
            let restarts = e
                .attributes
                .get("restart_count")
                .map(|r| format!("; {r} restarts so far"))
                .unwrap_or_default();
            format!(
                "Container {container} of {obj} was OOMKilled (exit code {}{limit}){restarts}",
                e.exit_code.unwrap_or(137)
            )
        }
        "k8s.container.terminated" => format!(
            "Container {container} of {obj} terminated: {reason}, exit code {}",
            e.exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "?".into())
        ),
        "k8s.container.waiting" => {
            if msg.is_empty() {
                format!("Container {container} of {obj} is waiting: {reason}")
            } else {
                format!("Container {container} of {obj} is waiting: {reason}: {msg}")
            }
        }
        "k8s.pod.created" => format!("{obj} was created"),
        "k8s.pod.unschedulable" => format!("{obj} cannot be scheduled: {msg}"),
        "k8s.pod.evicted" => format!("{obj} was evicted: {msg}"),
        "k8s.node.not_ready" => format!("Node {} became NotReady ({reason}): {msg}", e.object.name),
        "k8s.node.pressure" => format!("Node {} reports {reason}: {msg}", e.object.name),
        "k8s.node.network_unavailable" => {
            format!("Node {} reports NetworkUnavailable: {msg}", e.object.name)
        }
        "k8s.service.no_endpoints" => format!("{obj} has no ready endpoints: {msg}"),
        "k8s.pvc.pending" | "k8s.pvc.lost" => format!("{obj} is {reason}"),
        "k8s.deployment.rollout_stuck" => {
            format!("Rollout of {obj} stopped progressing ({reason}): {msg}")
        }
        "k8s.workload.replica_failure" => format!("{obj} cannot create pods: {msg}"),
        "k8s.job.failed" => format!("{obj} failed ({reason}): {msg}"),
        "kernel.oom_kill" => {
            let limit = e
                .attributes
                .get("limit_kb")
                .and_then(|k| k.parse::<i64>().ok())
                .map(|k| format!(" of {} MiB", k / 1024))
                .unwrap_or_default();
            format!(
                "Kernel OOM-killed {} (pid {}) in {obj} at its cgroup memory limit{limit}",
                e.comm.as_deref().unwrap_or("?"),
                e.pid.unwrap_or(0)
            )
        }
        "kernel.system_oom" => format!(
            "Kernel ran out of memory on node {} and killed {} (pid {})",
            e.node.as_deref().unwrap_or("?"),
            e.comm.as_deref().unwrap_or("?"),
            e.pid.unwrap_or(0)
        ),
        t if t.starts_with("systemd.unit.") => format!(
            "{} on node {}: {msg}",
            e.attributes
                .get("unit")
                .map(String::as_str)
                .unwrap_or("unit"),
            e.node.as_deref().unwrap_or("?")
        ),
        "kubelet.error" => format!(
            "kubelet on node {}: {msg}",
            e.node.as_deref().unwrap_or("?")
        ),
        "cri.error" => format!(
            "container runtime on node {}: {msg}",
            e.node.as_deref().unwrap_or("?")
        ),
        _ if msg.is_empty() => format!("{obj}: {reason}{times}"),
        _ => format!("{obj}: {reason}: {msg}{times}"),
    }
}
