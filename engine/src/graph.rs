//! The correlation graph over signals (the events a pattern matched). Signals are nodes;
//! an edge joins two signals whose link, scored in five dimensions (see [`Edge`]),
//! reaches the confidence threshold. [`crate::incidents`] keeps each connected component
//! as one incident and merges components when an edge joins them.
//!
//! Candidate edges come through link keys, so inserting a signal costs the same at 10 or
//! 100k nodes: the blamed subject, the pod and the workload (a node's signals link by the
//! node alone, see [`keys`]); each key remembers its [`FANOUT`] newest signals. Scoring a
//! pair of signals:
//! - temporal: closeness in time, against the look-back;
//! - spatial: the same node 1, the same namespace 0.5;
//! - ownership: the same pod or the same blamed object 1, the same workload 0.8 (as the
//!   pod's owner or the blamed object);
//! - dependency: a cascade signal (a downstream pod failing because of an upstream one)
//!   meeting a signal of its upstream subject or of a pod that subject owns 1;
//! - semantic: how alike the two messages are, as the MinHash agreement of their masked
//!   templates (numbers, ids, names of pods masked), at least 0.5 for the same pattern;
//!   without both messages, the same reason 1, the same pattern 0.5.
//!
//! A hint (evidence below [`HINT_WEIGHT`]) links only to its own pattern or pod.
//!
//! Signals leave the graph when their incident closes, which bounds it by the open
//! incidents, and, for incidents not yet published, when their evidence ages out of the
//! look-back; such an incident splits if what joined it was that evidence (see
//! [`crate::incidents::Incidents::split_aged`]). A published story keeps what joined it:
//! consumers hold its id and what it told them.

use ahash::HashMap;
use tapio_udfs::minhash::{self, K};

use crate::patterns::CASCADE;
use crate::runner::Signal;
use crate::story::edges::{Edge, TemplateSignatures, round};

/// Newest signals remembered per link key: candidates for a new signal's edges.
pub const FANOUT: usize = 4;

/// Default confidence an edge needs. Every structural link (a shared subject, pod or
/// workload, or a cascade) reaches it: ownership or dependency alone scores 0.48–0.8, and
/// signals sharing a pod or workload share a namespace (+0.15).
pub const DEFAULT_THRESHOLD: f64 = 0.5;

/// Evidence below this weight is a hint (a probe that failed once, a refused connection,
/// one failed pod of a Job): it links to signals of its own pattern or its own pod only.
/// A readiness blip on a healthy replica shares its workload with a sibling that cannot
/// be scheduled, but is no part of that story (and would bring its pod's history).
pub const HINT_WEIGHT: f64 = 0.5;

/// Message templates whose signatures the graph keeps; past it the cache starts again.
/// Failures say a few things many times: a cluster's signals have tens of templates.
const TEMPLATES_CACHED: usize = 4096;

/// A node's id in the graph.
pub type NodeId = u32;

/// One edge of the graph, from a new signal to an earlier one.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphEdge {
    /// The new signal's event.
    pub from: String,
    /// The earlier signal's event.
    pub to: String,
    /// Its scores.
    pub edge: Edge,
}

#[derive(Debug, Clone)]
struct Node {
    event_id: String,
    time: i64,
    pattern: &'static str,
    subject: String,
    namespace: String,
    reason: String,
    pod: Option<String>,
    workload: Option<String>,
    node: Option<String>,
    keys: Vec<String>,
    hint: bool,
    /// MinHash of its message's template.
    signature: Option<[u32; K]>,
}

/// Whether two signals may link at all: a hint ([`HINT_WEIGHT`]) only to its own
/// pattern or pod.
fn may_link(a: &Node, b: &Node) -> bool {
    !(a.hint || b.hint) || a.pattern == b.pattern || (a.pod.is_some() && a.pod == b.pod)
}

/// Link keys of a signal. A node's signals link by the node alone: the pods that lose
/// the node are its victims, and linking by them would chain every incident that once
/// touched one of its ~30 pods (and, through their workloads, other nodes' incidents)
/// into one story. Its pods still show in the node's story through the context search.
pub fn keys(s: &Signal) -> Vec<String> {
    let mut k = vec![format!("S:{}", s.subject_key())];
    if s.subject_kind == "Node" {
        return k;
    }
    if let Some(p) = &s.pod {
        k.push(format!("P:{p}"));
    }
    if let Some(w) = &s.workload {
        k.push(format!("S:{w}"));
    }
    // A workload blamed for its own pod's failure is both subject and workload.
    k.sort();
    k.dedup();
    k
}

/// Scores the link between two signals.
fn score(a: &Node, b: &Node) -> Edge {
    let same = |x: &Option<String>, y: &Option<String>| x.is_some() && x == y;
    let temporal = Edge::temporal(a.time, b.time);
    let spatial = if same(&a.node, &b.node) {
        1.0
    } else if !a.namespace.is_empty() && a.namespace == b.namespace {
        0.5
    } else {
        0.0
    };
    // A cascade signal blames the upstream subject from a downstream pod: meeting the
    // upstream's own signals through that subject is a dependency, not shared ownership.
    let upstream = |c: &Node, o: &Node| {
        c.pattern == CASCADE && (c.subject == o.subject || o.workload.as_ref() == Some(&c.subject))
    };
    let dependency = if upstream(a, b) || upstream(b, a) {
        1.0
    } else {
        0.0
    };
    // The workloads a signal names: its pod's, and its subject when that is not a
    // cascade's upstream (a Service's signal may blame the Deployment behind it).
    fn owners(n: &Node) -> [Option<&String>; 2] {
        let subject = (n.pattern != CASCADE).then_some(&n.subject);
        [n.workload.as_ref(), subject]
    }
    let (oa, ob) = (owners(a), owners(b));
    let ownership = if same(&a.pod, &b.pod) || (oa[1].is_some() && oa[1] == ob[1]) {
        1.0
    } else if oa
        .iter()
        .flatten()
        .any(|x| ob.iter().flatten().any(|y| x == y))
    {
        0.8
    } else {
        0.0
    };
    let said = match (&a.signature, &b.signature) {
        (Some(x), Some(y)) => round(minhash::agreement(x, y)),
        _ if a.reason == b.reason => 1.0,
        _ => 0.0,
    };
    let semantic = if a.pattern == b.pattern {
        said.max(0.5)
    } else {
        said
    };
    Edge::new(temporal, spatial, ownership, dependency, semantic)
}

/// The graph: nodes, and the link-key index that finds a new node's candidates.
#[derive(Debug)]
pub struct Graph {
    /// Boxed: a node is 480 bytes (its MinHash signature is 256), and a table holds up
    /// to twice the nodes it has; with 48k pods the open nodes' table took 16.8 MiB.
    nodes: HashMap<NodeId, Box<Node>>,
    /// Link key → its newest nodes, oldest first.
    index: HashMap<String, Vec<NodeId>>,
    /// MinHash signatures of the message templates met (see [`TEMPLATES_CACHED`]).
    templates: TemplateSignatures,
    next: NodeId,
    threshold: f64,
}

impl Default for Graph {
    fn default() -> Self {
        Graph::new(DEFAULT_THRESHOLD)
    }
}

impl Graph {
    /// An empty graph whose edges need `threshold` confidence.
    pub fn new(threshold: f64) -> Self {
        Graph {
            nodes: HashMap::default(),
            index: HashMap::default(),
            templates: TemplateSignatures::new(TEMPLATES_CACHED),
            next: 0,
            threshold,
        }
    }

    /// Nodes held.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is held.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Adds a signal; returns its node and its edges to earlier nodes (those reaching
    /// the threshold), strongest first.
    pub fn insert(&mut self, s: &Signal) -> (NodeId, Vec<(NodeId, GraphEdge)>) {
        let node = Node {
            event_id: s.event_id.clone(),
            time: s.event_time,
            pattern: s.pattern,
            subject: s.subject_key(),
            namespace: s.subject_namespace.clone(),
            reason: s.reason.clone(),
            pod: s.pod.clone(),
            workload: s.workload.clone(),
            node: s.node.clone(),
            keys: keys(s),
            hint: s.weight < HINT_WEIGHT,
            signature: s.message.as_deref().and_then(|m| self.templates.of(m)),
        };
        let mut candidates: Vec<NodeId> = node
            .keys
            .iter()
            .filter_map(|k| self.index.get(k))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut edges: Vec<(NodeId, GraphEdge)> = candidates
            .into_iter()
            .filter_map(|id| {
                let other = self.nodes.get(&id).filter(|o| may_link(&node, o))?;
                let edge = score(&node, other);
                (edge.confidence >= self.threshold).then(|| {
                    (
                        id,
                        GraphEdge {
                            from: node.event_id.clone(),
                            to: other.event_id.clone(),
                            edge,
                        },
                    )
                })
            })
            .collect();
        edges.sort_by(|a, b| b.1.edge.confidence.total_cmp(&a.1.edge.confidence));
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        for k in &node.keys {
            let list = self.index.entry(k.clone()).or_default();
            if list.len() == FANOUT {
                list.remove(0);
            }
            list.push(id);
        }
        self.nodes.insert(id, Box::new(node));
        (id, edges)
    }

    /// Whether node `id` is in the graph (its incident is open and its evidence has not
    /// aged out, see [`crate::incidents::Incidents::split_aged`]).
    pub fn contains(&self, id: NodeId) -> bool {
        self.nodes.contains_key(&id)
    }

    /// The link keys of a node ([`keys`] of its signal).
    pub fn keys_of(&self, id: NodeId) -> &[String] {
        self.nodes.get(&id).map_or(&[], |n| n.keys.as_slice())
    }

    /// Removes a node (its incident closed).
    pub fn remove(&mut self, id: NodeId) {
        let Some(node) = self.nodes.remove(&id) else {
            return;
        };
        for k in &node.keys {
            if let Some(list) = self.index.get_mut(k) {
                list.retain(|n| *n != id);
                if list.is_empty() {
                    self.index.remove(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn sig(
        pattern: &'static str,
        t: i64,
        subject: &str,
        pod: Option<&str>,
        node: Option<&str>,
        reason: &str,
    ) -> Signal {
        let (kind, name) = subject.split_once('/').unwrap();
        Signal {
            pattern,
            event_id: format!("{pattern}-{t}-{subject}-{}", pod.unwrap_or("")),
            subject_kind: kind.into(),
            subject_namespace: "shop".into(),
            subject_name: name.into(),
            reason: reason.into(),
            weight: 1.0,
            event_time: t * S,
            count: 1,
            last_seen: t * S,
            pod: pod.map(|p| format!("shop/{p}")),
            workload: (kind != "Node").then(|| format!("Deployment/shop/{}", &name)),
            node: node.map(Into::into),
            message: None,
        }
    }

    /// api-1 of Deployment api on node n1, OOM-killed at `t` s.
    fn api_oom(t: i64) -> Signal {
        sig(
            "oom-killed",
            t,
            "Deployment/api",
            Some("api-1"),
            Some("n1"),
            "OOMKilled",
        )
    }

    fn edge(g: &mut Graph, s: &Signal) -> Option<Edge> {
        g.insert(s).1.first().map(|(_, e)| e.edge)
    }

    #[test]
    fn each_dimension_scores_signals() {
        let mut g = Graph::new(0.0);
        g.insert(&api_oom(0));
        // The same pod, node and reason at once: all but dependency are full.
        let e = edge(&mut g, &api_oom(0)).unwrap();
        assert_eq!(
            (e.temporal, e.spatial, e.ownership, e.dependency, e.semantic),
            (1.0, 1.0, 1.0, 0.0, 1.0)
        );
        // A sibling pod on another node, half the look-back later, crash-looping: the
        // shared subject (the workload) is ownership; another pattern's reason scores 0.
        let e = edge(
            &mut g,
            &sig(
                "crashloop",
                450,
                "Deployment/api",
                Some("api-2"),
                Some("n2"),
                "CrashLoopBackOff",
            ),
        )
        .unwrap();
        assert_eq!(
            (e.temporal, e.spatial, e.ownership, e.semantic),
            (0.5, 0.5, 1.0, 0.0)
        );
        // A cascade from a web pod blaming api: a dependency, not ownership.
        let mut cascade = sig(
            CASCADE,
            460,
            "Deployment/api",
            Some("web-1"),
            Some("n3"),
            "UpstreamFailing",
        );
        cascade.workload = Some("Deployment/shop/web".into());
        let e = edge(&mut g, &cascade).unwrap();
        assert_eq!((e.dependency, e.ownership), (1.0, 0.0));
        // Every structural link clears the default threshold.
        assert!(e.confidence >= DEFAULT_THRESHOLD);
    }

    #[test]
    fn semantic_compares_message_templates() {
        let mut g = Graph::new(0.0);
        let said = |pattern, t, pod: &str, msg: &str| Signal {
            message: Some(msg.into()),
            ..sig(pattern, t, "Deployment/api", Some(pod), None, "Failed")
        };
        let pull = |tag: &str| {
            format!(
                "Failed to pull image \"registry.example.com/shop/api:{tag}\": rpc error: \
                 code = NotFound desc = failed to pull and unpack image \
                 \"registry.example.com/shop/api:{tag}\": not found"
            )
        };
        g.insert(&said("image-pull", 0, "api-1", &pull("1.4.2")));
        // Another pod saying the same of another tag: the same template.
        let e = edge(&mut g, &said("image-pull", 5, "api-2", &pull("1.4.3"))).unwrap();
        assert_eq!(e.semantic, 1.0);
        // The kubelet's reason is "Failed" for a missing ConfigMap too: another failure,
        // and the messages share little.
        let config = said(
            "config-missing",
            10,
            "api-3",
            "Error: configmap \"api-config\" not found",
        );
        let e = edge(&mut g, &config).unwrap();
        assert!(e.semantic < 0.5, "{e:?}");
        // Without messages, the same reason is all there is to compare.
        let bare = Signal {
            message: None,
            ..config
        };
        assert_eq!(edge(&mut g, &bare).unwrap().semantic, 1.0);
    }

    #[test]
    fn a_workload_blamed_meets_its_pods_signals() {
        // service-no-endpoints blames the Deployment behind a Service (no pod of its
        // own); a missing ConfigMap blamed from that Deployment's pod is the same
        // workload's trouble.
        let mut g = Graph::default();
        let mut service = sig(
            "service-no-endpoints",
            0,
            "Deployment/api",
            None,
            None,
            "NoReadyEndpoints",
        );
        service.workload = None;
        g.insert(&service);
        let mut config = sig(
            "config-missing",
            10,
            "ConfigMap/api-config",
            Some("api-1"),
            Some("n1"),
            "ConfigMapMissing",
        );
        config.workload = Some("Deployment/shop/api".into());
        let e = edge(&mut g, &config).expect("linked");
        assert_eq!(e.ownership, 0.8);
        assert!(e.confidence >= DEFAULT_THRESHOLD);
    }

    #[test]
    fn edges_need_the_threshold() {
        // At 0.9 a workload sibling 10 min later failing otherwise is not linked; the
        // same pod failing the same way soon after is.
        let mut g = Graph::new(0.9);
        g.insert(&api_oom(0));
        let sibling = sig(
            "probe-failure",
            600,
            "Pod/api-2",
            Some("api-2"),
            Some("n2"),
            "Unhealthy",
        );
        let mut sibling = sibling;
        sibling.workload = Some("Deployment/shop/api".into());
        assert_eq!(edge(&mut g, &sibling), None);
        let again = api_oom(30);
        assert!(edge(&mut g, &again).unwrap().confidence >= 0.9);
    }

    #[test]
    fn a_hint_links_to_its_own_pattern_or_pod_only() {
        let mut g = Graph::default();
        // api-2 cannot be scheduled.
        g.insert(&sig(
            "unschedulable",
            0,
            "Deployment/api",
            Some("api-2"),
            None,
            "InsufficientMemory",
        ));
        let hint = |pattern: &'static str, t: i64, pod: &str, reason: &str| Signal {
            weight: 0.2,
            ..sig(pattern, t, "Deployment/api", Some(pod), None, reason)
        };
        // A readiness probe of its running sibling api-1 failed once: no part of it,
        // though the same workload is blamed.
        assert_eq!(
            edge(&mut g, &hint("probe-failure", 10, "api-1", "Unhealthy")),
            None
        );
        // The same hint as conclusive evidence links.
        let strong = sig(
            "probe-failure",
            20,
            "Deployment/api",
            Some("api-1"),
            None,
            "Unhealthy",
        );
        assert!(edge(&mut g, &strong).is_some());
        // A hint of the same pattern, or on the same pod, links.
        assert!(
            edge(
                &mut g,
                &hint("unschedulable", 30, "api-3", "InsufficientMemory")
            )
            .is_some()
        );
        assert!(edge(&mut g, &hint("crashloop", 40, "api-2", "BackOff")).is_some());
    }

    #[test]
    fn keys_remember_their_newest_signals_and_forget_removed_ones() {
        let mut g = Graph::default();
        let ids: Vec<NodeId> = (0..10)
            .map(|t| {
                g.insert(&sig(
                    "crashloop",
                    t,
                    "Deployment/api",
                    Some("api-1"),
                    None,
                    "CrashLoopBackOff",
                ))
                .0
            })
            .collect();
        // A new signal meets only the FANOUT newest.
        let (_, edges) = g.insert(&sig(
            "crashloop",
            11,
            "Deployment/api",
            Some("api-1"),
            None,
            "CrashLoopBackOff",
        ));
        let mut met: Vec<NodeId> = edges.iter().map(|(id, _)| *id).collect();
        met.sort();
        assert_eq!(met, ids[10 - FANOUT..]);
        // Removed nodes are no candidates; with all gone, the keys are gone too.
        for id in ids {
            g.remove(id);
        }
        assert_eq!(g.len(), 1);
        let (last, _) = g.insert(&sig(
            "crashloop",
            12,
            "Deployment/api",
            Some("api-1"),
            None,
            "CrashLoopBackOff",
        ));
        g.remove(last);
        g.remove(last - 1);
        assert!(g.is_empty() && g.index.is_empty());
    }
}
