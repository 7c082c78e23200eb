//! The simulated cluster: its objects, their final state, and the Events written so far.

use std::collections::{BTreeMap, HashSet};

use rand::Rng;
use serde_json::{Value, json};
use tapio_schemas::ids::stable_id;

use super::Scenario;

/// A pod of a Deployment.
#[derive(Debug, Clone)]
pub struct Pod {
    /// Name.
    pub name: String,
    /// Node it runs on.
    pub node: String,
    /// IP.
    pub ip: String,
    /// `status` override (an incident's container state), else Running and Ready.
    pub status: Option<Value>,
    /// Volumes override (a reference to a missing ConfigMap).
    pub volumes: Option<Value>,
    /// Image override.
    pub image: Option<String>,
}

/// A Deployment with its ReplicaSet, Service and ConfigMap.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// Namespace.
    pub ns: String,
    /// Name (also the Service, the app label and the ConfigMap prefix).
    pub name: String,
    /// Pod-template hash of its ReplicaSet.
    pub hash: String,
    /// Pods.
    pub pods: Vec<Pod>,
    /// When its endpoints last changed (pods went unready), seconds.
    pub endpoints_changed: Option<i64>,
}

/// The simulated cluster.
pub struct Cluster {
    /// Seed, for ids.
    seed: u64,
    /// Capture start, seconds since the epoch.
    pub start: i64,
    /// Node names.
    pub nodes: Vec<String>,
    /// Node name → Ready condition override.
    pub node_ready: BTreeMap<String, Value>,
    /// Deployments.
    pub deployments: Vec<Deployment>,
    /// Events written.
    pub events: Vec<Value>,
    /// `namespace/name` of every object an incident touches (routine Events of these are
    /// not counted as routine noise).
    pub touched: HashSet<String>,
    ids: u64,
    /// (namespace, kind, name, reason, message) → index in `events`: the kubelet's event
    /// correlator bumps the count of an Event it already wrote instead of writing another.
    seen: std::collections::HashMap<(String, String, String, String, String), usize>,
    /// Pod → times of its routine readiness blips (see [`BLIP_GAP_SECS`]).
    blips: std::collections::HashMap<String, Vec<i64>>,
}

/// A healthy pod's readiness probe fails now and then, not every few minutes: at most one
/// routine blip per pod in this many seconds, however many events the scenario asks for
/// (a denser capture adds other routine events instead). A pod failing its probe every
/// few minutes for hours is a sustained failure, which the probe pattern rightly reports.
pub const BLIP_GAP_SECS: i64 = 1800;

/// RFC 3339 of `secs` since the epoch.
pub fn ts(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn hash5(rng: &mut impl Rng) -> String {
    const ALNUM: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect()
}

impl Cluster {
    /// A healthy cluster as `s` describes.
    pub fn new(s: &Scenario, start: i64) -> Self {
        let mut rng =
            <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(s.seed ^ 0x5eed);
        let nodes: Vec<String> = (0..s.nodes).map(|i| format!("node-{i}")).collect();
        let mut deployments = Vec::new();
        let mut n = 0usize;
        for ns in 0..s.namespaces {
            for d in 0..s.deployments {
                let name = format!("app-{d}");
                let hash = format!("{:x}", 0x5d4f9c8b5u64 + (ns * 1000 + d) as u64);
                let pods = (0..s.replicas)
                    .map(|_| {
                        n += 1;
                        Pod {
                            name: format!("{name}-{hash}-{}", hash5(&mut rng)),
                            node: nodes[rng.random_range(0..nodes.len())].clone(),
                            ip: format!("10.{}.{}.{}", 64 + n / 65536, (n / 256) % 256, n % 256),
                            status: None,
                            volumes: None,
                            image: None,
                        }
                    })
                    .collect();
                deployments.push(Deployment {
                    ns: format!("team-{ns}"),
                    name,
                    hash,
                    pods,
                    endpoints_changed: None,
                });
            }
        }
        Cluster {
            seed: s.seed,
            start,
            nodes,
            node_ready: BTreeMap::new(),
            deployments,
            events: Vec::new(),
            touched: HashSet::new(),
            ids: 0,
            seen: Default::default(),
            blips: Default::default(),
        }
    }

    /// A fresh uid.
    pub fn uid(&mut self) -> String {
        self.ids += 1;
        let h = stable_id(&["gen", &self.seed.to_string(), &self.ids.to_string()]);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// Writes an Event, or bumps the count of the same Event written before (same object,
    /// reason and message, as the event correlator does); returns its uid.
    #[allow(clippy::too_many_arguments)]
    pub fn event(
        &mut self,
        ns: &str,
        kind: &str,
        name: &str,
        reason: &str,
        message: &str,
        (first, last, count): (i64, i64, i64),
        warning: bool,
        (component, host): (&str, &str),
        field_path: Option<&str>,
    ) -> String {
        let key = (
            ns.to_string(),
            kind.to_string(),
            name.to_string(),
            reason.to_string(),
            message.to_string(),
        );
        if let Some(&i) = self.seen.get(&key) {
            let e = &mut self.events[i];
            let n = e["count"].as_i64().unwrap_or(1) + count;
            e["count"] = json!(n);
            if ts(first).as_str() < e["firstTimestamp"].as_str().unwrap_or_default() {
                e["firstTimestamp"] = json!(ts(first));
                e["metadata"]["creationTimestamp"] = json!(ts(first));
            }
            if ts(last).as_str() > e["lastTimestamp"].as_str().unwrap_or_default() {
                e["lastTimestamp"] = json!(ts(last));
            }
            return e["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        self.seen.insert(key, self.events.len());
        let uid = self.uid();
        let mut involved = json!({"kind": kind, "name": name, "uid": stable_id(&[kind, ns, name])});
        if !ns.is_empty() {
            involved["namespace"] = json!(ns);
        }
        if let Some(f) = field_path {
            involved["fieldPath"] = json!(f);
        }
        let mut source = json!({"component": component});
        if !host.is_empty() {
            source["host"] = json!(host);
        }
        self.events.push(json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{name}.{}", &uid[..13].replace('-', "")),
                         "namespace": if ns.is_empty() { "default" } else { ns },
                         "uid": uid, "creationTimestamp": ts(first)},
            "involvedObject": involved,
            "reason": reason, "message": message, "source": source,
            "firstTimestamp": ts(first), "lastTimestamp": ts(last), "count": count,
            "type": if warning { "Warning" } else { "Normal" }
        }));
        uid
    }

    /// One routine Event at `at`: scheduling, image pulls, container starts, scaling,
    /// ReplicaSet pod creation, and now and then a single failed readiness probe that
    /// recovers by itself.
    /// A pod no node took (an unschedulable incident's) pulls, starts and probes nothing:
    /// only scheduled pods say routine things.
    pub fn routine_event(&mut self, rng: &mut impl Rng, at: i64) {
        let d = rng.random_range(0..self.deployments.len());
        let dep = self.deployments[d].clone();
        let scheduled: Vec<usize> = (0..dep.pods.len())
            .filter(|&i| !dep.pods[i].node.is_empty())
            .collect();
        let Some(&p) = scheduled.get(rng.random_range(0..scheduled.len().max(1))) else {
            return;
        };
        let pod = &dep.pods[p];
        let (ns, name) = (dep.ns.as_str(), dep.name.as_str());
        let image = format!("registry.example.com/{ns}/{name}:1.{}.0", d % 7);
        let kubelet = ("kubelet", pod.node.as_str());
        let c = Some("spec.containers{app}");
        let mut kind = rng.random_range(0..100);
        if kind >= 97 {
            // Routine events are drawn at random times, so check every blip of the pod.
            let times = self.blips.entry(format!("{ns}/{}", pod.name)).or_default();
            if times.iter().any(|t| (at - t).abs() < BLIP_GAP_SECS) {
                kind %= 97;
            } else {
                times.push(at);
            }
        }
        match kind {
            0..=14 => {
                let msg = format!("Successfully assigned {ns}/{} to {}", pod.name, pod.node);
                self.event(
                    ns,
                    "Pod",
                    &pod.name,
                    "Scheduled",
                    &msg,
                    (at, at, 1),
                    false,
                    ("default-scheduler", ""),
                    None,
                );
            }
            15..=29 => {
                let msg = format!("Pulling image \"{image}\"");
                self.event(
                    ns,
                    "Pod",
                    &pod.name,
                    "Pulling",
                    &msg,
                    (at, at, 1),
                    false,
                    kubelet,
                    c,
                );
            }
            30..=44 => {
                let ms = rng.random_range(300..4000);
                let msg = format!(
                    "Successfully pulled image \"{image}\" in {ms}ms ({ms}ms including waiting). Image size: {} bytes.",
                    rng.random_range(20_000_000..400_000_000)
                );
                self.event(
                    ns,
                    "Pod",
                    &pod.name,
                    "Pulled",
                    &msg,
                    (at, at, 1),
                    false,
                    kubelet,
                    c,
                );
            }
            45..=59 => {
                self.event(
                    ns,
                    "Pod",
                    &pod.name,
                    "Created",
                    "Created container: app",
                    (at, at, 1),
                    false,
                    kubelet,
                    c,
                );
            }
            60..=74 => {
                self.event(
                    ns,
                    "Pod",
                    &pod.name,
                    "Started",
                    "Started container app",
                    (at, at, 1),
                    false,
                    kubelet,
                    c,
                );
            }
            75..=84 => {
                let (from, to) = if rng.random_bool(0.5) { (3, 4) } else { (4, 3) };
                let verb = if to > from { "up" } else { "down" };
                let msg = format!(
                    "Scaled {verb} replica set {name}-{} from {from} to {to}",
                    dep.hash
                );
                self.event(
                    ns,
                    "Deployment",
                    name,
                    "ScalingReplicaSet",
                    &msg,
                    (at, at, 1),
                    false,
                    ("deployment-controller", ""),
                    None,
                );
            }
            85..=96 => {
                let msg = format!("Created pod: {}", pod.name);
                let rs = format!("{name}-{}", dep.hash);
                self.event(
                    ns,
                    "ReplicaSet",
                    &rs,
                    "SuccessfulCreate",
                    &msg,
                    (at, at, 1),
                    false,
                    ("replicaset-controller", ""),
                    None,
                );
            }
            _ => {
                let msg = "Readiness probe failed: Get \"http://10.64.0.1:8080/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)";
                self.event(
                    ns,
                    "Pod",
                    &pod.name,
                    "Unhealthy",
                    msg,
                    (at, at, 1),
                    true,
                    kubelet,
                    c,
                );
            }
        }
    }

    /// Every object in its final state.
    pub fn objects(&self) -> Vec<Value> {
        let created = ts(self.start - 86_400);
        let mut out = Vec::new();
        for n in &self.nodes {
            let ready = self.node_ready.get(n).cloned().unwrap_or_else(|| {
                json!({"type": "Ready", "status": "True", "reason": "KubeletReady",
                       "message": "kubelet is posting ready status", "lastTransitionTime": created})
            });
            out.push(json!({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": n, "uid": stable_id(&["Node", "", n]), "creationTimestamp": created,
                             "labels": {"kubernetes.io/hostname": n, "topology.kubernetes.io/zone": format!("zone-{}", n.len() % 3)}},
                "status": {"conditions": [
                    {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "lastTransitionTime": created},
                    {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "lastTransitionTime": created},
                    ready]}}));
        }
        for d in &self.deployments {
            let (ns, name, hash) = (&d.ns, &d.name, &d.hash);
            let rs = format!("{name}-{hash}");
            let image = format!("registry.example.com/{ns}/{name}:1.0.0");
            out.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": ns, "uid": stable_id(&["Deployment", ns, name]), "creationTimestamp": created, "labels": {"app": name}},
                "spec": {"replicas": d.pods.len(), "selector": {"matchLabels": {"app": name}}},
                "status": {"replicas": d.pods.len(), "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "lastTransitionTime": created}]}}));
            out.push(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs, "namespace": ns, "uid": stable_id(&["ReplicaSet", ns, &rs]), "creationTimestamp": created,
                             "labels": {"app": name, "pod-template-hash": hash},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": stable_id(&["Deployment", ns, name]), "controller": true}]},
                "spec": {"replicas": d.pods.len()}}));
            out.push(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": ns, "uid": stable_id(&["Service", ns, name]), "creationTimestamp": created},
                "spec": {"selector": {"app": name}, "clusterIP": format!("10.96.{}.{}", ns.len(), name.len()), "ports": [{"port": 80, "targetPort": 8080}]}}));
            out.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("{name}-config"), "namespace": ns, "uid": stable_id(&["ConfigMap", ns, name]), "creationTimestamp": created}}));
            let endpoints: Vec<Value> = d
                .pods
                .iter()
                .map(|p| json!({"addresses": [p.ip], "conditions": {"ready": p.status.is_none()}, "nodeName": p.node,
                                "targetRef": {"kind": "Pod", "namespace": ns, "name": p.name}}))
                .collect();
            // The endpoints controller stamps when the endpoints last changed.
            let changed = d.endpoints_changed.map_or_else(|| created.clone(), ts);
            out.push(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": format!("{name}-x7k2p"), "namespace": ns, "creationTimestamp": created,
                             "labels": {"kubernetes.io/service-name": name},
                             "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": changed}},
                "endpoints": endpoints, "ports": [{"port": 8080}]}));
            for p in &d.pods {
                let volumes = p.volumes.clone().unwrap_or_else(
                    || json!([{"name": "config", "configMap": {"name": format!("{name}-config")}}]),
                );
                let status = p.status.clone().unwrap_or_else(|| {
                    json!({"phase": "Running", "podIP": p.ip,
                           "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": created}],
                           "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": image,
                                                  "containerID": format!("containerd://{}", stable_id(&["c", &p.name])),
                                                  "state": {"running": {"startedAt": created}}}]})
                });
                out.push(json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": p.name, "namespace": ns, "uid": stable_id(&["Pod", ns, &p.name]), "creationTimestamp": created,
                                 "labels": {"app": name, "pod-template-hash": hash},
                                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": stable_id(&["ReplicaSet", ns, &rs]), "controller": true}]},
                    "spec": {"nodeName": p.node, "volumes": volumes,
                             "containers": [{"name": "app", "image": p.image.clone().unwrap_or_else(|| image.clone()),
                                             "resources": {"limits": {"memory": "256Mi", "cpu": "500m"}},
                                             "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}]}]},
                    "status": status}));
            }
        }
        out
    }
}
