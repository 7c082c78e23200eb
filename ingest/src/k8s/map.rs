//! The cluster map: what the capture (or a live watch) says about pods, owners and
//! services, used to give every event its Kubernetes context — owner chain, workload,
//! node, labels — by pod UID, namespace/name, container id or pod IP.

use std::collections::{BTreeMap, HashMap};

use tapio_schemas::{ObjectRef, UnifiedEvent};

/// What the map keeps of a pod.
#[derive(Debug, Clone, Default)]
pub struct PodInfo {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// Node it runs on.
    pub node: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Direct controller owner (`Kind`, name).
    pub owner: Option<(String, String)>,
    /// Pod IPs.
    pub ips: Vec<String>,
    /// Services (in the pod's namespace) whose selector matches it.
    pub services: Vec<String>,
    /// Container ids (runtime prefix stripped) → container name.
    pub containers: BTreeMap<String, String>,
    /// Memory limits by container (as written in the spec).
    pub memory_limits: BTreeMap<String, String>,
}

/// Index over pods and owners for enrichment. Keys are exact; nothing is guessed except
/// a missing ReplicaSet's Deployment, which Kubernetes names `<deployment>-<pod-template-hash>`.
#[derive(Debug, Default)]
pub struct ClusterMap {
    pods: Vec<PodInfo>,
    by_uid: HashMap<String, usize>,
    by_name: HashMap<(String, String), usize>,
    by_container: HashMap<String, usize>,
    by_ip: HashMap<String, usize>,
    /// (kind, namespace, name) → controller owner (kind, name).
    owners: HashMap<(String, String, String), (String, String)>,
    /// Owner chains of pods already resolved, by pod index; cleared when owners change.
    chains: HashMap<usize, Vec<(String, String)>>,
    service_ips: HashMap<String, (String, String)>,
    node_labels: HashMap<String, BTreeMap<String, String>>,
    lookups: u64,
    hits: u64,
}

impl ClusterMap {
    /// Adds or replaces a pod.
    pub fn add_pod(&mut self, pod: PodInfo) {
        self.chains.clear();
        let key = (pod.namespace.clone(), pod.name.clone());
        let idx = match self.by_name.get(&key) {
            Some(&i) => {
                self.pods[i] = pod;
                i
            }
            None => {
                self.pods.push(pod);
                self.pods.len() - 1
            }
        };
        let p = &self.pods[idx];
        self.by_name.insert(key, idx);
        if !p.uid.is_empty() {
            self.by_uid.insert(p.uid.clone(), idx);
        }
        for id in p.containers.keys() {
            self.by_container.insert(id.clone(), idx);
        }
        for ip in &p.ips {
            self.by_ip.insert(ip.clone(), idx);
        }
        if let Some((k, n)) = &p.owner {
            self.owners.insert(
                ("Pod".into(), p.namespace.clone(), p.name.clone()),
                (k.clone(), n.clone()),
            );
        }
    }

    /// Records that `kind/namespace/name` is controlled by `owner_kind/owner_name`.
    pub fn add_owner(
        &mut self,
        kind: &str,
        namespace: &str,
        name: &str,
        owner_kind: &str,
        owner_name: &str,
    ) {
        self.chains.clear();
        self.owners.insert(
            (kind.into(), namespace.into(), name.into()),
            (owner_kind.into(), owner_name.into()),
        );
    }

    /// Records a Node's labels (zone, instance type, ...) for node-level events.
    pub fn add_node(&mut self, name: &str, labels: BTreeMap<String, String>) {
        self.node_labels.insert(name.to_string(), labels);
    }

    /// Records that Service `service` selects the pod.
    pub fn add_pod_service(&mut self, namespace: &str, pod: &str, service: &str) {
        if let Some(&i) = self.by_name.get(&(namespace.to_string(), pod.to_string())) {
            let p = &mut self.pods[i];
            if !p.services.iter().any(|s| s == service) {
                p.services.push(service.to_string());
            }
        }
    }

    /// Records a Service's cluster IP, so network events can name the Service they tried.
    pub fn add_service_ip(&mut self, ip: &str, namespace: &str, name: &str) {
        self.service_ips
            .insert(ip.to_string(), (namespace.to_string(), name.to_string()));
    }

    /// What an IP belongs to: a Service (by cluster IP) or a Pod (by pod IP), as
    /// (kind, namespace, name).
    pub fn resolve_ip(&self, ip: &str) -> Option<(&'static str, String, String)> {
        if let Some((ns, name)) = self.service_ips.get(ip) {
            return Some(("Service", ns.clone(), name.clone()));
        }
        let p = &self.pods[*self.by_ip.get(ip)?];
        Some(("Pod", p.namespace.clone(), p.name.clone()))
    }

    /// All pods.
    pub fn pods(&self) -> &[PodInfo] {
        &self.pods
    }

    /// A pod by namespace and name.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&PodInfo> {
        self.by_name
            .get(&(namespace.to_string(), name.to_string()))
            .map(|&i| &self.pods[i])
    }

    /// Owners from `kind/namespace/name` up, as (kind, name), nearest first.
    pub fn owner_chain(&self, kind: &str, namespace: &str, name: &str) -> Vec<(String, String)> {
        let mut chain = Vec::new();
        let (mut k, mut n) = (kind.to_string(), name.to_string());
        while chain.len() < 8 {
            let next = match self
                .owners
                .get(&(k.clone(), namespace.to_string(), n.clone()))
            {
                Some(o) => o.clone(),
                None if k == "ReplicaSet" => match n.rsplit_once('-') {
                    // A ReplicaSet missing from the capture: Deployments name theirs
                    // `<deployment>-<pod-template-hash>`.
                    Some((deploy, hash)) if looks_like_hash(hash) => {
                        ("Deployment".into(), deploy.into())
                    }
                    _ => break,
                },
                None => break,
            };
            chain.push(next.clone());
            (k, n) = next;
        }
        chain
    }

    /// Fills in the event's pod, node, workload, owner chain and labels from whichever
    /// key it carries. Fields already set are kept.
    pub fn enrich(&mut self, e: &mut UnifiedEvent) {
        self.lookups += 1;
        // A network event's peer: which Service or Pod the connection went to.
        if let Some(dst) = &e.dst_ip
            && !e.attributes.contains_key("dst_kind")
            && let Some((kind, ns, name)) = self.resolve_ip(dst)
        {
            e.attributes.insert("dst_kind".into(), kind.into());
            e.attributes.insert("dst_namespace".into(), ns);
            e.attributes.insert("dst_name".into(), name);
        }
        let idx = self.find(e);
        if let Some(i) = idx {
            self.hits += 1;
            let p = &self.pods[i];
            let node_level = e.source != tapio_schemas::source::K8S_EVENT
                && e.source != tapio_schemas::source::K8S_OBJECT
                && e.object.kind == "Node";
            if e.object.kind.is_empty() || node_level {
                // Kernel and journald events are about the pod they happened in.
                e.object = ObjectRef {
                    kind: "Pod".into(),
                    namespace: p.namespace.clone(),
                    name: p.name.clone(),
                    uid: Some(p.uid.clone()),
                };
            }
            e.pod.get_or_insert_with(|| p.name.clone());
            if !p.uid.is_empty() {
                e.pod_uid.get_or_insert_with(|| p.uid.clone());
            }
            if e.node.is_none() {
                e.node = p.node.clone();
            }
            if let Some(cid) = &e.container_id
                && e.container.is_none()
            {
                e.container = p.containers.get(cid).cloned();
            }
            if e.labels.is_empty() {
                e.labels = p.labels.clone();
            }
            if !p.services.is_empty() {
                e.attributes
                    .entry("services".into())
                    .or_insert_with(|| p.services.join(","));
            }
            if let Some(c) = &e.container
                && let Some(limit) = p.memory_limits.get(c)
            {
                e.attributes
                    .entry("memory_limit".into())
                    .or_insert_with(|| limit.clone());
            }
        }
        // A node-level event (nothing ties it to a pod): the node's labels.
        if idx.is_none()
            && e.labels.is_empty()
            && let Some(labels) = e.node.as_ref().and_then(|n| self.node_labels.get(n))
        {
            e.labels = labels.clone();
        }
        if e.owner_chain.is_empty() && !e.object.kind.is_empty() {
            let (kind, ns, name) = match (&e.pod, idx) {
                (Some(pod), _) => ("Pod".to_string(), e.object.namespace.clone(), pod.clone()),
                _ => (
                    e.object.kind.clone(),
                    e.object.namespace.clone(),
                    e.object.name.clone(),
                ),
            };
            // A pod's chain is looked up once per map version: events repeat pods.
            let chain = match (&e.pod, idx) {
                (Some(_), Some(i)) => match self.chains.get(&i) {
                    Some(c) => c.clone(),
                    None => {
                        let c = self.owner_chain(&kind, &ns, &name);
                        self.chains.insert(i, c.clone());
                        c
                    }
                },
                _ => self.owner_chain(&kind, &ns, &name),
            };
            if let Some((wk, wn)) = chain.last() {
                e.workload = Some(ObjectRef::new(wk, &ns, wn));
            } else if tapio_schemas::is_workload_kind(&e.object.kind) {
                e.workload = Some(ObjectRef::new(&e.object.kind, &ns, &e.object.name));
            }
            e.owner_chain = chain.into_iter().map(|(k, n)| format!("{k}/{n}")).collect();
        }
    }

    fn find(&self, e: &UnifiedEvent) -> Option<usize> {
        if let Some(uid) =
            e.pod_uid
                .as_ref()
                .or(e.object.uid.as_ref().filter(|_| e.object.kind == "Pod"))
            && let Some(&i) = self.by_uid.get(uid)
        {
            return Some(i);
        }
        if e.object.kind == "Pod"
            && let Some(&i) = self
                .by_name
                .get(&(e.object.namespace.clone(), e.object.name.clone()))
        {
            return Some(i);
        }
        if let Some(cid) = &e.container_id
            && let Some(&i) = self.by_container.get(cid)
        {
            return Some(i);
        }
        // The source side is where a network event happened; the destination is kept in
        // the dst_* attributes instead of making the event about the peer.
        for ip in [&e.src_ip].into_iter().flatten() {
            if let Some(&i) = self.by_ip.get(ip) {
                return Some(i);
            }
        }
        None
    }

    /// (lookups, hits) so far: the enrichment hit rate.
    pub fn hit_rate(&self) -> (u64, u64) {
        (self.lookups, self.hits)
    }
}

/// pod-template-hash values are short lower-case alphanumerics (e.g. `7d4f9c8b5`).
fn looks_like_hash(s: &str) -> bool {
    (5..=10).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapio_schemas::{Severity, source};

    /// A kernel event about nothing yet: enrichment fills it in.
    fn kernel_event(ty: &str) -> UnifiedEvent {
        UnifiedEvent::new(
            "x".into(),
            0,
            source::KERNEL,
            ty,
            Severity::Warning,
            ObjectRef::default(),
        )
    }

    fn map() -> ClusterMap {
        let mut m = ClusterMap::default();
        m.add_pod(PodInfo {
            namespace: "shop".into(),
            name: "web-7d4f9c8b5-abcde".into(),
            uid: "uid-1".into(),
            node: Some("node-a".into()),
            owner: Some(("ReplicaSet".into(), "web-7d4f9c8b5".into())),
            ips: vec!["10.1.0.5".into()],
            containers: [("c0ffee".to_string(), "app".to_string())].into(),
            ..Default::default()
        });
        m
    }

    #[test]
    fn enrich_by_each_key() {
        let mut m = map();
        for set in [
            |e: &mut UnifiedEvent| e.pod_uid = Some("uid-1".into()),
            |e: &mut UnifiedEvent| e.container_id = Some("c0ffee".into()),
            |e: &mut UnifiedEvent| e.src_ip = Some("10.1.0.5".into()),
        ] {
            let mut e = kernel_event("kernel.oom_kill");
            set(&mut e);
            m.enrich(&mut e);
            assert_eq!(e.pod.as_deref(), Some("web-7d4f9c8b5-abcde"));
            assert_eq!(e.object.kind, "Pod");
            assert_eq!(e.node.as_deref(), Some("node-a"));
            assert_eq!(
                e.workload,
                Some(ObjectRef::new("Deployment", "shop", "web"))
            );
            assert_eq!(
                e.owner_chain,
                vec!["ReplicaSet/web-7d4f9c8b5", "Deployment/web"]
            );
        }
        assert_eq!(m.hit_rate(), (3, 3));
    }

    #[test]
    fn services_and_node_labels() {
        let mut m = map();
        m.add_pod_service("shop", "web-7d4f9c8b5-abcde", "web");
        m.add_pod_service("shop", "web-7d4f9c8b5-abcde", "web-canary");
        m.add_node(
            "node-b",
            [(
                "topology.kubernetes.io/zone".to_string(),
                "eu-1b".to_string(),
            )]
            .into(),
        );
        let mut e = kernel_event("kernel.oom_kill");
        e.pod_uid = Some("uid-1".into());
        m.enrich(&mut e);
        assert_eq!(e.attributes["services"], "web,web-canary");
        let mut n = UnifiedEvent::new(
            "y".into(),
            0,
            source::KERNEL,
            "kernel.system_oom",
            Severity::Critical,
            ObjectRef::new("Node", "", "node-b"),
        );
        n.node = Some("node-b".into());
        m.enrich(&mut n);
        assert_eq!(n.labels["topology.kubernetes.io/zone"], "eu-1b");
    }

    #[test]
    fn network_peer_by_service_and_pod_ip() {
        let mut m = map();
        m.add_service_ip("10.96.0.20", "shop", "web");
        let connect = |dst: &str| {
            let mut e = kernel_event("kernel.tcp_connect_failed");
            e.dst_ip = Some(dst.into());
            e
        };
        let mut e = connect("10.96.0.20");
        m.enrich(&mut e);
        assert_eq!(e.attributes["dst_kind"], "Service");
        assert_eq!(e.attributes["dst_name"], "web");
        assert_eq!(e.pod, None, "the peer does not become the event's pod");
        let mut e = connect("10.1.0.5");
        m.enrich(&mut e);
        assert_eq!(e.attributes["dst_kind"], "Pod");
        assert_eq!(e.attributes["dst_namespace"], "shop");
        assert_eq!(e.attributes["dst_name"], "web-7d4f9c8b5-abcde");
        let mut e = connect("192.0.2.1");
        m.enrich(&mut e);
        assert!(!e.attributes.contains_key("dst_kind"));
    }
}
