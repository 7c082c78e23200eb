//! What to do, per pattern: the first checks and fixes an SRE would reach for, with the
//! story's own names filled in.

use super::Root;

/// Recommendations for a story whose root is `root` and pattern `pattern`.
pub fn recommend(
    pattern: &str,
    root: &Root,
    pod: Option<&str>,
    memory_limit: Option<&str>,
) -> Vec<String> {
    let (kind, ns, name) = (
        root.kind.as_str(),
        root.namespace.as_str(),
        root.name.as_str(),
    );
    let k = kind.to_lowercase();
    let n = if ns.is_empty() {
        String::new()
    } else {
        format!(" -n {ns}")
    };
    let pod = pod.unwrap_or("<pod>");
    let pod_name = pod.rsplit('/').next().unwrap_or(pod);
    let v: Vec<String> = match pattern {
        // A kernel OOM kill the capture could not tie to a pod: a host service or a
        // container outside Kubernetes. The fix is the cgroup's own limit.
        "oom-killed" if kind == "Cgroup" => vec![
            format!("Find who owns cgroup {name} on the node: `find /sys/fs/cgroup -type d -path '*{name}'`, then its cgroup.procs (a pod's cgroup names its UID: if it is a pod, check that Tapio sees the pod)."),
            "Raise its limit or find what grows: memory.max (cgroup v2) or memory.limit_in_bytes (v1), MemoryMax= for a systemd unit; memory.stat shows where the memory went.".to_string(),
        ],
        "oom-killed" => vec![
            format!(
                "Raise the memory limit of {kind} {ns}/{name}{} or find what grows (heap, caches, connection pools): `kubectl top pod{n}`.",
                memory_limit.map(|l| format!(" (now {l})")).unwrap_or_default()
            ),
            format!("If the kills began after a rollout, compare versions: `kubectl rollout history {k}/{name}{n}`, and roll back with `kubectl rollout undo {k}/{name}{n}`."),
        ],
        "crashloop" => vec![
            format!("Read the last crash: `kubectl logs {pod_name}{n} --previous`."),
            format!("Check the exit code and last state: `kubectl describe pod {pod_name}{n}` (1: application error, 137: killed, 139: segfault)."),
            format!("If a rollout started it, roll back: `kubectl rollout undo {k}/{name}{n}`."),
        ],
        "image-pull" => vec![
            format!("Check the image name and tag in {kind} {ns}/{name}: `kubectl get {k} {name}{n} -o jsonpath='{{..image}}'`."),
            "For private registries, check the pod's imagePullSecrets and that the secret's credentials are valid.".into(),
        ],
        "config-missing" => vec![
            format!("Create {kind} {ns}/{name} (or fix the name the pods reference): `kubectl get {k}{n}`."),
            "Pods start by themselves once it exists; if it was deleted, restore it from your manifests or GitOps source.".into(),
        ],
        "container-create-error" => vec![
            format!("Check the container command, args and image entrypoint of {kind} {ns}/{name}: `kubectl describe pod {pod_name}{n}`."),
            "An `executable file not found` means the command is not in the image; fix the command or the image.".into(),
        ],
        "probe-failure" => vec![
            format!("Check what the probe calls and how long it takes: `kubectl describe pod {pod_name}{n}`; `kubectl logs {pod_name}{n}`."),
            "If the app is healthy but slow to start or respond, raise the probe's timeoutSeconds / failureThreshold or add a startupProbe.".into(),
        ],
        "init-failure" => vec![format!("Read the init container's logs: `kubectl logs {pod_name}{n} -c <init-container>`; it often waits for a dependency or a migration.")],
        "unschedulable" => vec![
            format!("See why no node fits: `kubectl describe pod {pod_name}{n}` (Events); compare requests with `kubectl describe nodes` allocatable."),
            format!("Lower the requests of {kind} {ns}/{name}, fix its nodeSelector/affinity/tolerations, or add capacity."),
        ],
        "volume-failure" => vec![
            format!("Inspect the claim: `kubectl describe {k} {name}{n}`; check its StorageClass exists (`kubectl get storageclass`) and the provisioner is running."),
            "For Multi-Attach errors, make sure the old pod on the other node is gone (ReadWriteOnce volumes attach to one node).".into(),
        ],
        "node-pressure-eviction" => vec![
            format!("See what fills node {name}: `kubectl describe node {name}` (Conditions, Allocated resources); `kubectl top pods -A --sort-by=memory`."),
            "Set memory requests close to real usage so the scheduler does not overcommit the node; clean up images and logs for disk pressure.".into(),
        ],
        "node-not-ready" => vec![
            format!("Check node {name}: `kubectl describe node {name}`; on the node, `systemctl status kubelet containerd` and `journalctl -u kubelet`."),
            format!("If it will not recover, cordon and drain it: `kubectl cordon {name}; kubectl drain {name} --ignore-daemonsets --delete-emptydir-data`."),
        ],
        "node-service-failure" => vec![
            format!("On node {name}: `systemctl status kubelet containerd`, `journalctl -u kubelet -u containerd --since -1h`."),
            "Common causes: expired kubelet certificates, a full disk, a bad config change, a runtime socket that does not answer.".into(),
        ],
        "pod-network-failure" => vec![
            format!("Check the CNI pods on node {name}: `kubectl get pods -A -o wide --field-selector spec.nodeName={name}` (calico-node, cilium, aws-node, ...)."),
            "For IP exhaustion, free addresses (stuck pods, leaked IPAM allocations) or widen the pod CIDR / subnet.".into(),
        ],
        "dns-failure" => vec![
            "Check cluster DNS: `kubectl -n kube-system get pods -l k8s-app=kube-dns`, `kubectl -n kube-system logs -l k8s-app=kube-dns`.".into(),
            format!("For `no such host`, check the name the app uses exists: `kubectl get svc -A | grep <name>`; {kind} {ns}/{name} may reference a wrong or deleted Service."),
        ],
        "service-no-endpoints" => vec![
            format!("Compare the Service selector with pod labels: `kubectl get endpointslices{n} -l kubernetes.io/service-name=<service>`; `kubectl get pods{n} --show-labels`."),
            format!("If the pods exist but are not Ready, fix {kind} {ns}/{name} first: its readiness decides the endpoints."),
        ],
        "network-policy-block" => vec![
            format!("Review NetworkPolicy {ns}/{name}: `kubectl describe networkpolicy {name}{n}`; allow the traffic the failing pods need (ingress from their clients, egress to DNS and dependencies)."),
        ],
        "rollout-stuck" => vec![
            format!("See why new pods do not become ready: `kubectl rollout status {k}/{name}{n}`; `kubectl describe {k} {name}{n}`."),
            format!("Roll back if needed: `kubectl rollout undo {k}/{name}{n}`."),
        ],
        "replicaset-create-failure" => vec![
            format!("Read the controller's refusal: `kubectl describe {k} {name}{n}`; for quotas, `kubectl describe resourcequota{n}`; for service accounts, `kubectl get sa{n}`."),
        ],
        "job-failure" => vec![
            format!("Read the failed pods' logs: `kubectl logs{n} -l job-name=<job> --previous`; `kubectl describe {k} {name}{n}`."),
            "Raise backoffLimit or activeDeadlineSeconds only once the failures themselves are understood.".into(),
        ],
        "system-oom" => vec![
            format!("Node {name} ran out of memory outside container limits: set memory limits on pods without them and reserve memory for the system (kubelet --system-reserved / --kube-reserved)."),
            format!("Find the largest processes: `kubectl top pods -A --sort-by=memory` and `kubectl describe node {name}`."),
        ],
        "cascading-failure" => vec![
            format!("Fix the root first: {kind} {ns}/{name} ({}); the dependent services recover when it does.", root.reason),
            "Make dependents degrade gracefully: timeouts, circuit breakers, and readiness probes that do not fail on a dependency's outage.".into(),
        ],
        _ => vec![format!("Inspect {kind} {ns}/{name}: `kubectl describe {k} {name}{n}`.")],
    };
    v
}
