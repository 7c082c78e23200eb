//! Blast radius: "if this goes down, what is affected" — pods, workloads, Services,
//! Ingresses, and the callers of Services that lose their endpoints — answered from the
//! relationship map (live or from a capture).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use tapio_schemas::{Relation, relation};

/// An object as (kind, namespace, name); namespace `""` when cluster-scoped.
pub type Obj = (String, String, String);

/// Parses `node/NAME`, `deployment/NS/NAME`, `service/NS/NAME`, ... (kind names as kubectl
/// takes them, singular or short).
pub fn parse_target(s: &str) -> Result<Obj, String> {
    let parts: Vec<&str> = s.split('/').collect();
    let kind = match parts[0].to_ascii_lowercase().as_str() {
        "node" | "nodes" | "no" => "Node",
        "pod" | "pods" | "po" => "Pod",
        "deployment" | "deploy" | "deployments" => "Deployment",
        "statefulset" | "sts" | "statefulsets" => "StatefulSet",
        "daemonset" | "ds" | "daemonsets" => "DaemonSet",
        "replicaset" | "rs" | "replicasets" => "ReplicaSet",
        "job" | "jobs" => "Job",
        "cronjob" | "cj" | "cronjobs" => "CronJob",
        "service" | "svc" | "services" => "Service",
        "configmap" | "cm" | "configmaps" => "ConfigMap",
        "secret" | "secrets" => "Secret",
        "persistentvolumeclaim" | "pvc" => "PersistentVolumeClaim",
        "persistentvolume" | "pv" => "PersistentVolume",
        "storageclass" | "sc" => "StorageClass",
        "namespace" | "ns" => "Namespace",
        other => return Err(format!("unknown kind {other:?} in {s:?}")),
    };
    let cluster_scoped = matches!(
        kind,
        "Node" | "PersistentVolume" | "StorageClass" | "Namespace"
    );
    match (cluster_scoped, parts.as_slice()) {
        (true, [_, name]) => Ok((kind.into(), String::new(), (*name).into())),
        (false, [_, ns, name]) => Ok((kind.into(), (*ns).into(), (*name).into())),
        (true, _) => Err(format!("{s:?}: expected {}/NAME", parts[0])),
        (false, _) => Err(format!("{s:?}: expected {}/NAMESPACE/NAME", parts[0])),
    }
}

/// One affected object and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// Kind.
    pub kind: String,
    /// Namespace (`""` when cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// How it is reached from the target, e.g. `runs on node node-a`.
    pub via: String,
}

/// A Service some of whose pods are affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceHit {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Selected pods affected.
    pub affected_pods: usize,
    /// Pods it selects.
    pub total_pods: usize,
    /// `down` when every selected pod is affected, else `degraded`.
    pub state: String,
}

/// A workload some of whose pods are affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkloadHit {
    /// Kind (`Deployment`, ...).
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Its pods affected.
    pub affected_pods: usize,
    /// Its pods.
    pub total_pods: usize,
}

/// The blast radius of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Impact {
    /// What was asked about, as `Kind/ns/name`.
    pub target: String,
    /// Pods that go down with it.
    pub pods: Vec<Hit>,
    /// Their workloads.
    pub workloads: Vec<WorkloadHit>,
    /// Services that lose endpoints (or, for a Service target, the Service itself).
    pub services: Vec<ServiceHit>,
    /// Ingresses routing to a Service that goes down.
    pub ingresses: Vec<Hit>,
    /// Pods that call (depend on) a Service that goes down: degraded, not down.
    pub callers: Vec<Hit>,
}

struct Graph<'a> {
    out: HashMap<(&'a str, &'a str, &'a str, &'a str), Vec<&'a Relation>>,
    into: HashMap<(&'a str, &'a str, &'a str, &'a str), Vec<&'a Relation>>,
}

impl<'a> Graph<'a> {
    fn new(rels: &'a [Relation]) -> Self {
        let mut g = Graph {
            out: HashMap::new(),
            into: HashMap::new(),
        };
        for r in rels.iter().filter(|r| r.valid_to.is_none()) {
            g.out
                .entry((&r.relation, &r.from_kind, &r.from_namespace, &r.from_name))
                .or_default()
                .push(r);
            g.into
                .entry((&r.relation, &r.to_kind, &r.to_namespace, &r.to_name))
                .or_default()
                .push(r);
        }
        g
    }

    /// Objects with `rel` pointing at (kind, ns, name).
    fn from(&self, rel: &str, kind: &str, ns: &str, name: &str) -> Vec<Obj> {
        self.into
            .get(&(rel, kind, ns, name))
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r.from_kind.clone(),
                    r.from_namespace.clone(),
                    r.from_name.clone(),
                )
            })
            .collect()
    }

    /// Objects (kind, ns, name) points at with `rel`.
    fn to(&self, rel: &str, kind: &str, ns: &str, name: &str) -> Vec<Obj> {
        self.out
            .get(&(rel, kind, ns, name))
            .into_iter()
            .flatten()
            .map(|r| (r.to_kind.clone(), r.to_namespace.clone(), r.to_name.clone()))
            .collect()
    }

    /// The pods owned by a workload, through any chain of owners.
    fn owned_pods(&self, o: &Obj) -> Vec<Obj> {
        let mut pods = Vec::new();
        let mut stack = vec![o.clone()];
        let mut seen = BTreeSet::new();
        while let Some(x) = stack.pop() {
            if !seen.insert(x.clone()) {
                continue;
            }
            for child in self.from(relation::OWNED_BY, &x.0, &x.1, &x.2) {
                if child.0 == "Pod" {
                    pods.push(child);
                } else {
                    stack.push(child);
                }
            }
        }
        pods
    }

    /// The top owner of a pod (its workload), if it has one.
    fn workload(&self, pod: &Obj) -> Option<Obj> {
        let mut cur = pod.clone();
        let mut top = None;
        for _ in 0..8 {
            match self
                .to(relation::OWNED_BY, &cur.0, &cur.1, &cur.2)
                .into_iter()
                .next()
            {
                Some(o) => {
                    top = Some(o.clone());
                    cur = o;
                }
                None => break,
            }
        }
        top
    }
}

fn key(o: &Obj) -> String {
    if o.1.is_empty() {
        format!("{}/{}", o.0, o.2)
    } else {
        format!("{}/{}/{}", o.0, o.1, o.2)
    }
}

/// The blast radius of `target` over `relations` (those still in force).
pub fn impact(relations: &[Relation], target: &Obj) -> Impact {
    let g = Graph::new(relations);
    let (kind, ns, name) = (target.0.as_str(), target.1.as_str(), target.2.as_str());
    let mut pods: BTreeMap<Obj, String> = BTreeMap::new();
    let mut down_services: BTreeSet<Obj> = BTreeSet::new();
    let add = |pods: &mut BTreeMap<Obj, String>, p: Obj, via: String| {
        pods.entry(p).or_insert(via);
    };
    match kind {
        "Node" => {
            for p in g.from(relation::RUNS_ON, kind, ns, name) {
                add(&mut pods, p, format!("runs on node {name}"));
            }
        }
        "Pod" => add(&mut pods, target.clone(), "is the target".into()),
        "Service" => {
            down_services.insert(target.clone());
        }
        "ConfigMap" | "Secret" => {
            let rel = if kind == "ConfigMap" {
                relation::USES_CONFIGMAP
            } else {
                relation::USES_SECRET
            };
            for p in g.from(rel, kind, ns, name) {
                add(&mut pods, p, format!("uses {kind} {ns}/{name}"));
            }
        }
        "PersistentVolumeClaim" | "PersistentVolume" | "StorageClass" => {
            let claims: Vec<Obj> = match kind {
                "PersistentVolumeClaim" => vec![target.clone()],
                "PersistentVolume" => g.from(relation::BOUND_TO, kind, ns, name),
                _ => g.from(relation::STORAGE_CLASS, kind, ns, name),
            };
            for c in claims {
                for p in g.from(relation::CLAIMS, &c.0, &c.1, &c.2) {
                    add(&mut pods, p, format!("mounts PVC {}/{}", c.1, c.2));
                }
            }
        }
        "Namespace" => {
            for r in relations.iter().filter(|r| {
                r.valid_to.is_none()
                    && r.relation == relation::RUNS_ON
                    && r.from_kind == "Pod"
                    && r.from_namespace == name
            }) {
                add(
                    &mut pods,
                    (
                        r.from_kind.clone(),
                        r.from_namespace.clone(),
                        r.from_name.clone(),
                    ),
                    format!("in namespace {name}"),
                );
            }
        }
        _ => {
            for p in g.owned_pods(target) {
                add(&mut pods, p, format!("owned by {kind} {ns}/{name}"));
            }
        }
    }
    // Services selecting affected pods: down when all their pods are affected.
    let mut services = Vec::new();
    let candidate: BTreeSet<Obj> = pods
        .keys()
        .flat_map(|p| g.from(relation::SELECTS, &p.0, &p.1, &p.2))
        .chain(down_services.iter().cloned())
        .collect();
    for s in candidate {
        let selected = g.to(relation::SELECTS, &s.0, &s.1, &s.2);
        let hit = selected.iter().filter(|p| pods.contains_key(*p)).count();
        let is_target = down_services.contains(&s);
        let down = is_target || (!selected.is_empty() && hit == selected.len());
        if down {
            down_services.insert(s.clone());
        }
        services.push(ServiceHit {
            namespace: s.1.clone(),
            name: s.2.clone(),
            affected_pods: if is_target { selected.len() } else { hit },
            total_pods: selected.len(),
            state: if down { "down" } else { "degraded" }.into(),
        });
    }
    // Workloads of affected pods, with how many of their pods are hit.
    let mut by_workload: BTreeMap<Obj, usize> = BTreeMap::new();
    for p in pods.keys() {
        if let Some(w) = g.workload(p) {
            *by_workload.entry(w).or_default() += 1;
        }
    }
    let workloads = by_workload
        .into_iter()
        .map(|(w, n)| WorkloadHit {
            total_pods: g.owned_pods(&w).len(),
            kind: w.0,
            namespace: w.1,
            name: w.2,
            affected_pods: n,
        })
        .collect();
    let mut ingresses = Vec::new();
    let mut callers = BTreeMap::new();
    for s in &down_services {
        for i in g.from(relation::ROUTES_TO, &s.0, &s.1, &s.2) {
            ingresses.push(Hit {
                via: format!("routes to {}", key(s)),
                kind: i.0,
                namespace: i.1,
                name: i.2,
            });
        }
        for p in g.from(relation::DEPENDS_ON, &s.0, &s.1, &s.2) {
            if !pods.contains_key(&p) {
                callers.entry(p).or_insert(format!("depends on {}", key(s)));
            }
        }
    }
    let hits = |m: BTreeMap<Obj, String>| {
        m.into_iter()
            .map(|(o, via)| Hit {
                kind: o.0,
                namespace: o.1,
                name: o.2,
                via,
            })
            .collect::<Vec<_>>()
    };
    Impact {
        target: key(target),
        pods: hits(pods),
        workloads,
        services,
        ingresses,
        callers: hits(callers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(rel: &str, from: (&str, &str, &str), to: (&str, &str, &str)) -> Relation {
        Relation {
            cluster: "c".into(),
            relation: rel.into(),
            from_kind: from.0.into(),
            from_namespace: from.1.into(),
            from_name: from.2.into(),
            from_uid: None,
            to_kind: to.0.into(),
            to_namespace: to.1.into(),
            to_name: to.2.into(),
            to_uid: None,
            detail: None,
            valid_from: 0,
            valid_to: None,
        }
    }

    #[test]
    fn targets_parse_like_kubectl() {
        assert_eq!(
            parse_target("node/node-a").unwrap(),
            ("Node".into(), "".into(), "node-a".into())
        );
        assert_eq!(parse_target("deploy/shop/web").unwrap().0, "Deployment");
        assert!(parse_target("deployment/web").is_err());
        assert!(parse_target("gizmo/x").is_err());
    }

    #[test]
    fn ended_relations_do_not_count() {
        let mut gone = r(relation::RUNS_ON, ("Pod", "shop", "old"), ("Node", "", "n"));
        gone.valid_to = Some(5);
        let i = impact(&[gone], &("Node".into(), "".into(), "n".into()));
        assert!(i.pods.is_empty());
    }
}
