//! How an event of a story is linked to the story's root-cause event, scored in five
//! dimensions: temporal (how close in time, against the look-back), spatial (same node,
//! same namespace), ownership (same pod, same workload, a shared owner), dependency (it
//! reached the root through a Service: a cascade) and semantic (its message says what the
//! root's says, compared as masked templates by MinHash). The scores go to the
//! correlations table beside the dimension that put the event in the story, so `tapio
//! sql` can say why two events are related (`queries/examples/why-related.sql`).

use std::cell::RefCell;
use std::collections::HashMap;

use tapio_schemas::UnifiedEvent;
use tapio_udfs::minhash::{self, K};
use tapio_udfs::msg_template::template;

/// Time over which the temporal score falls from 1 to 0: the engine's default look-back.
pub const LINK_WINDOW_NS: i64 = 900 * 1_000_000_000;

/// Weight of each dimension in the confidence (a noisy-OR: any one strong dimension makes
/// a strong link, several weak ones add up). Dependency and ownership are structural
/// facts; time and place alone are weaker.
const WEIGHTS: Edge = Edge {
    temporal: 0.3,
    spatial: 0.3,
    ownership: 0.6,
    dependency: 0.8,
    semantic: 0.5,
    confidence: 0.0,
};

/// The five scores of one event's link to the root event, each 0..1, and their
/// combination.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    /// 1 at the same instant, falling linearly to 0 at [`LINK_WINDOW_NS`] apart.
    pub temporal: f64,
    /// 1 on the same node, 0.5 in the same namespace, else 0.
    pub spatial: f64,
    /// 1 for the same pod, 0.8 for the same workload, 0.6 for a shared owner, else 0.
    pub ownership: f64,
    /// 1 when the event depends on the root through a Service (a cascade), else 0.
    pub dependency: f64,
    /// MinHash similarity of the two messages' templates (0 without a message).
    pub semantic: f64,
    /// `1 - Π(1 - weight × score)` over the five.
    pub confidence: f64,
}

fn workload_key(e: &UnifiedEvent) -> Option<String> {
    e.workload
        .as_ref()
        .map(|w| format!("{}/{}/{}", w.kind, w.namespace, w.name))
}

fn signature(e: &UnifiedEvent) -> Option<[u32; K]> {
    minhash::signature(&template(e.message.as_deref()?))
}

/// MinHash signatures of message templates, computed once per template: failures say a
/// few things many times, and the masking and MinHash are most of a semantic score's
/// cost. Holds at most `cap` templates; past it the cache starts again.
#[derive(Debug)]
pub struct TemplateSignatures {
    by_template: HashMap<String, Option<[u32; K]>>,
    cap: usize,
}

impl TemplateSignatures {
    /// An empty cache of at most `cap` templates.
    pub fn new(cap: usize) -> Self {
        TemplateSignatures {
            by_template: HashMap::new(),
            cap,
        }
    }

    /// The signature of `message`'s template.
    pub fn of(&mut self, message: &str) -> Option<[u32; K]> {
        let t = template(message);
        if let Some(s) = self.by_template.get(&t) {
            return *s;
        }
        if self.by_template.len() >= self.cap {
            self.by_template.clear();
        }
        let s = minhash::signature(&t);
        self.by_template.insert(t, s);
        s
    }
}

/// A story's root-cause event, with its message's signature computed once for all the
/// events scored against it, and the signatures of the templates met so far: a story's
/// thousand events say a few things many times, and the MinHash was most of the cost of
/// scoring them.
pub struct Root<'a> {
    event: &'a UnifiedEvent,
    signature: Option<[u32; K]>,
    templates: RefCell<TemplateSignatures>,
}

impl<'a> Root<'a> {
    /// Prepares `event` as the root.
    pub fn new(event: &'a UnifiedEvent) -> Self {
        Root {
            event,
            signature: signature(event),
            // A story's events: all of its templates.
            templates: RefCell::new(TemplateSignatures::new(usize::MAX)),
        }
    }

    /// Scores `e`'s link to the root; `cascade` when a cascade pattern linked it.
    pub fn score(&self, e: &UnifiedEvent, cascade: bool) -> Edge {
        let sig = e
            .message
            .as_deref()
            .and_then(|m| self.templates.borrow_mut().of(m));
        score(e, self.event, sig, self.signature.as_ref(), cascade)
    }
}

fn score(
    e: &UnifiedEvent,
    root: &UnifiedEvent,
    sig: Option<[u32; K]>,
    root_sig: Option<&[u32; K]>,
    cascade: bool,
) -> Edge {
    let temporal = Edge::temporal(e.event_time, root.event_time);
    let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
    let spatial = if same(&e.node, &root.node) {
        1.0
    } else if !e.object.namespace.is_empty() && e.object.namespace == root.object.namespace {
        0.5
    } else {
        0.0
    };
    let ownership = if same(&e.pod, &root.pod) {
        1.0
    } else if same(&workload_key(e), &workload_key(root)) {
        0.8
    } else if e.owner_chain.iter().any(|o| root.owner_chain.contains(o)) {
        0.6
    } else {
        0.0
    };
    let dependency = if cascade { 1.0 } else { 0.0 };
    let semantic = match (sig, root_sig) {
        (Some(a), Some(b)) => round(minhash::agreement(&a, b)),
        _ => 0.0,
    };
    Edge::new(temporal, spatial, ownership, dependency, semantic)
}

impl Edge {
    /// An edge of these five scores, with their confidence: `1 - Π(1 - weight × score)`.
    pub fn new(
        temporal: f64,
        spatial: f64,
        ownership: f64,
        dependency: f64,
        semantic: f64,
    ) -> Self {
        let miss = [
            WEIGHTS.temporal * temporal,
            WEIGHTS.spatial * spatial,
            WEIGHTS.ownership * ownership,
            WEIGHTS.dependency * dependency,
            WEIGHTS.semantic * semantic,
        ]
        .iter()
        .map(|p| 1.0 - p)
        .product::<f64>();
        Edge {
            temporal,
            spatial,
            ownership,
            dependency,
            semantic,
            confidence: round(1.0 - miss),
        }
    }

    /// Temporal score of two times: 1 at once, falling linearly to 0 at
    /// [`LINK_WINDOW_NS`] apart.
    pub fn temporal(a: i64, b: i64) -> f64 {
        let dt = (a - b).unsigned_abs() as f64;
        round((1.0 - dt / LINK_WINDOW_NS as f64).max(0.0))
    }
}

/// Three decimals: what a person reading the table can use.
pub(crate) fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapio_schemas::ObjectRef;

    const S: i64 = 1_000_000_000;

    fn score(e: &UnifiedEvent, root: &UnifiedEvent, cascade: bool) -> Edge {
        Root::new(root).score(e, cascade)
    }

    fn event(t: i64, ns: &str, pod: Option<&str>, node: Option<&str>, msg: &str) -> UnifiedEvent {
        let mut e: UnifiedEvent = serde_json::from_value(serde_json::json!({
            "event_id": format!("e{t}"), "event_time": "2026-11-21T09:00:00Z",
            "observed_time": "2026-11-21T09:00:00Z", "source": "k8s-event",
            "event_type": "k8s.event", "severity": "warning", "cluster": "c",
            "object": {"kind": "Pod", "namespace": ns, "name": pod.unwrap_or("x")},
            "count": 1
        }))
        .unwrap();
        e.event_time = t * S;
        e.pod = pod.map(str::to_string);
        e.node = node.map(str::to_string);
        e.message = Some(msg.to_string());
        e
    }

    const OOM: &str = "Container mysql in pod shop/mysql-0 was OOM-killed (exit 137)";

    #[test]
    fn a_template_met_again_scores_as_the_first_time() {
        let root = event(0, "shop", Some("mysql-0"), Some("node-1"), OOM);
        let r = Root::new(&root);
        let a = event(5, "shop", Some("mysql-0"), Some("node-1"), OOM);
        let b = event(
            9,
            "shop",
            Some("api-1"),
            Some("node-2"),
            &OOM.replace("137", "1"),
        );
        let first = (r.score(&a, false), r.score(&b, false));
        assert_eq!(first.0.semantic, 1.0);
        assert_eq!((r.score(&a, false), r.score(&b, false)), first);
        assert_eq!(score(&b, &root, false), first.1);
    }

    #[test]
    fn each_dimension_scores_what_it_names() {
        let root = event(0, "shop", Some("mysql-0"), Some("node-1"), OOM);
        // The same pod, at once, saying the same: every dimension but dependency is full.
        let same = score(
            &event(0, "shop", Some("mysql-0"), Some("node-1"), OOM),
            &root,
            false,
        );
        assert_eq!(
            (
                same.temporal,
                same.spatial,
                same.ownership,
                same.dependency,
                same.semantic
            ),
            (1.0, 1.0, 1.0, 0.0, 1.0)
        );
        // Temporal: half the window apart is 0.5; past the window, 0.
        let half = event(450, "shop", Some("mysql-0"), Some("node-1"), OOM);
        assert_eq!(score(&half, &root, false).temporal, 0.5);
        assert_eq!(
            score(&event(2000, "shop", None, None, OOM), &root, false).temporal,
            0.0
        );
        // Spatial: another node in the same namespace, then another namespace.
        let ns = event(0, "shop", Some("web-1"), Some("node-2"), "x");
        assert_eq!(score(&ns, &root, false).spatial, 0.5);
        let far = event(0, "other", Some("web-1"), Some("node-2"), "x");
        assert_eq!(score(&far, &root, false).spatial, 0.0);
        // Ownership: the same workload, then only a shared owner.
        let w = |e: &mut UnifiedEvent, name: &str, chain: &[&str]| {
            e.workload = Some(ObjectRef {
                kind: "StatefulSet".into(),
                namespace: "shop".into(),
                name: name.into(),
                uid: None,
            });
            e.owner_chain = chain.iter().map(|c| c.to_string()).collect();
        };
        let mut r = root.clone();
        w(&mut r, "mysql", &["StatefulSet/mysql"]);
        let mut sibling = event(0, "shop", Some("mysql-1"), Some("node-2"), "x");
        w(&mut sibling, "mysql", &["StatefulSet/mysql"]);
        assert_eq!(score(&sibling, &r, false).ownership, 0.8);
        let mut cousin = event(0, "shop", Some("etl-1"), Some("node-2"), "x");
        w(&mut cousin, "etl", &["Job/etl", "CronJob/nightly"]);
        r.owner_chain.push("CronJob/nightly".into());
        assert_eq!(score(&cousin, &r, false).ownership, 0.6);
        // Dependency: only through a cascade.
        assert_eq!(score(&ns, &root, true).dependency, 1.0);
        // Semantic: the same failure in another pod is similar; another message is not.
        let other_pod = event(
            0,
            "shop",
            Some("mysql-7"),
            None,
            &OOM.replace("mysql-0", "mysql-7"),
        );
        assert_eq!(score(&other_pod, &root, false).semantic, 1.0);
        assert!(score(&ns, &root, false).semantic < 0.2);
    }

    #[test]
    fn confidence_grows_with_each_dimension() {
        let root = event(0, "shop", Some("mysql-0"), Some("node-1"), OOM);
        let weak = score(&event(800, "other", None, None, "x"), &root, false);
        let near = score(&event(10, "shop", None, None, "x"), &root, false);
        let cascade = score(&event(10, "shop", None, None, "x"), &root, true);
        let same = score(
            &event(10, "shop", Some("mysql-0"), Some("node-1"), OOM),
            &root,
            true,
        );
        assert!(weak.confidence < near.confidence, "{weak:?} {near:?}");
        assert!(near.confidence < cascade.confidence);
        assert!(cascade.confidence < same.confidence && same.confidence <= 1.0);
        assert!(weak.confidence < 0.05);
    }
}
