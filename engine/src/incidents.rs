//! Grouping signals into incidents: the connected components of the correlation graph
//! ([`crate::graph`]). Signals joined by an edge (a shared subject, or unless the subject
//! is a node a pod or a workload, scored to at least the threshold) belong to one
//! incident; an incident whose newest signal is older than the idle timeout (in event
//! time) is closed. When a signal links several open incidents they merge into the
//! oldest, which keeps its id. An unpublished incident whose linking evidence ages out of
//! the look-back splits into the components left ([`Incidents::split_aged`]).

use std::collections::{BTreeMap, BTreeSet};

use ahash::{HashMap, HashSet};

use arrow::array::RecordBatch;
use tapio_schemas::as_strings;
use tapio_schemas::ids::stable_id;

use crate::graph::{Graph, GraphEdge, NodeId};
use crate::held_events::{HeldEvents, Intake, Offer};
use crate::runner::Signal;
use crate::{Error, Result};

/// An incident being built.
#[derive(Debug, Clone)]
pub struct Incident {
    /// Stable id: from the first signal's event and subject.
    pub id: String,
    /// Evidence, in arrival order.
    pub signals: Vec<Signal>,
    /// Link keys.
    pub keys: BTreeSet<String>,
    /// Earliest signal time.
    pub first: i64,
    /// Latest time its evidence showed the failure going on ([`Incidents::add`]).
    pub last: i64,
    /// Every event of the incident (signals and context), by id, as Arrow rows.
    pub events: HeldEvents,
    /// The graph edges that joined its signals, in arrival order.
    pub links: Vec<GraphEdge>,
    /// Its signals' nodes in the graph, one per signal (in the same order).
    nodes: Vec<NodeId>,
    /// The edges that joined its signals, as node pairs (new, earlier).
    pairs: Vec<(NodeId, NodeId)>,
    /// A number no other state of any incident had: it changes whenever its signals do
    /// (what a cache of its context keys is checked against).
    pub revision: u64,
}

impl Incident {
    /// Sum of evidence weights.
    pub fn weight(&self) -> f64 {
        self.signals.iter().map(|s| s.weight).sum()
    }

    /// Keys the context search looks events up by: (type, key); see
    /// [`crate::context_index`] for which rows each finds.
    pub fn context_keys(&self) -> Vec<(&'static str, String)> {
        let mut out = BTreeSet::new();
        for s in &self.signals {
            out.insert(("event", s.event_id.clone()));
            if s.subject_kind == "Node" {
                // The node's own events; its pods show through their signals (losing the
                // node), not through everything else they said meanwhile.
                out.insert(("node", s.subject_name.clone()));
                continue;
            }
            if let Some(p) = &s.pod {
                out.insert(("pod", p.clone()));
            }
            if let Some(w) = &s.workload {
                out.insert(("workload", w.clone()));
                out.insert(("object", w.clone()));
            }
            out.insert(("object", s.subject_key()));
        }
        out.into_iter().collect()
    }
}

/// The open incidents.
#[derive(Debug, Default)]
pub struct Incidents {
    open: BTreeMap<String, Incident>,
    /// The open incidents' signals.
    graph: Graph,
    /// Graph node → its incident.
    incident_of: HashMap<NodeId, String>,
    /// Signals already seen: (pattern, event id, subject) → event time, graph node.
    seen: HashMap<(&'static str, String, String), (i64, NodeId)>,
    /// Event id → the link keys of the subjects it is evidence against, and its time.
    evidence: HashMap<String, (Vec<String>, i64)>,
    /// The idle timeout, in ns (see [`Incidents::until`]).
    idle: i64,
    /// The last [`Incident::revision`] given.
    revisions: u64,
}

impl Incidents {
    /// No incidents; the graph's edges need `threshold` confidence (see
    /// [`crate::graph::DEFAULT_THRESHOLD`]); `idle_ns` is the idle timeout after which
    /// the engine closes an incident.
    pub fn new(threshold: f64, idle_ns: i64) -> Self {
        Incidents {
            graph: Graph::new(threshold),
            idle: idle_ns,
            ..Incidents::default()
        }
    }

    /// Until when a signal shows its failure going on: the last occurrence of its Event
    /// when they came on average no further apart than the idle timeout (a back-off
    /// Event the kubelet bumped every few minutes), else its first. Occurrences folded
    /// into one count hours apart say nothing of the time between them.
    fn until(&self, s: &Signal) -> i64 {
        let span = s.last_seen - s.event_time;
        if s.count > 1 && span > 0 && span / (s.count - 1) <= self.idle {
            s.last_seen
        } else {
            s.event_time
        }
    }

    /// Signals in the graph (those of open incidents).
    pub fn graph_nodes(&self) -> usize {
        self.graph.len()
    }

    /// Adds new signals (in event-time order); already-seen ones are ignored.
    /// Returns how many were new.
    pub fn add(&mut self, signals: Vec<Signal>) -> Result<usize> {
        let mut added = 0;
        for s in signals {
            let until = self.until(&s);
            let key = (s.pattern, s.event_id.clone(), s.subject_key());
            if let Some((_, node)) = self.seen.get(&key) {
                // Seen again (a live Event whose count was bumped): its incident goes on.
                if let Some(i) = self
                    .incident_of
                    .get(node)
                    .and_then(|id| self.open.get_mut(id))
                {
                    i.last = i.last.max(until);
                }
                continue;
            }
            added += 1;
            let e = self
                .evidence
                .entry(s.event_id.clone())
                // Most events are evidence against one subject: room for one, not four.
                .or_insert_with(|| (Vec::with_capacity(1), s.event_time));
            e.0.push(format!("S:{}", s.subject_key()));
            let (node, edges) = self.graph.insert(&s);
            self.seen.insert(key, (s.event_time, node));
            let mut hits: Vec<String> = edges
                .iter()
                .filter_map(|(n, _)| self.incident_of.get(n).cloned())
                .collect();
            hits.sort_by_key(|id| (self.open[id].first, id.clone()));
            hits.dedup();
            let target = match hits.first() {
                Some(id) => id.clone(),
                None => {
                    let id = stable_id(&["story", &s.event_id, &s.subject_key()]);
                    self.open.insert(
                        id.clone(),
                        Incident {
                            id: id.clone(),
                            // Most incidents keep one signal (a probe blip, one
                            // back-off): room for one, not four.
                            signals: Vec::with_capacity(1),
                            keys: BTreeSet::new(),
                            first: s.event_time,
                            last: until,
                            events: HeldEvents::default(),
                            links: Vec::new(),
                            nodes: Vec::new(),
                            pairs: Vec::new(),
                            revision: 0,
                        },
                    );
                    id
                }
            };
            for other in hits.iter().skip(1) {
                if let Some(o) = self.open.remove(other) {
                    for n in &o.nodes {
                        self.incident_of.insert(*n, target.clone());
                    }
                    let t = self.open.get_mut(&target).expect("target is open");
                    t.signals.extend(o.signals);
                    t.keys.extend(o.keys);
                    t.first = t.first.min(o.first);
                    t.last = t.last.max(o.last);
                    t.events.append(o.events)?;
                    t.links.extend(o.links);
                    t.nodes.extend(o.nodes);
                    t.pairs.extend(o.pairs);
                }
            }
            self.incident_of.insert(node, target.clone());
            let t = self.open.get_mut(&target).expect("target is open");
            t.first = t.first.min(s.event_time);
            t.last = t.last.max(until);
            t.keys.extend(self.graph.keys_of(node).iter().cloned());
            t.nodes.push(node);
            t.pairs.extend(edges.iter().map(|(n, _)| (node, *n)));
            t.links.extend(edges.into_iter().map(|(_, e)| e));
            t.signals.push(s);
            self.revisions += 1;
            t.revision = self.revisions;
        }
        Ok(added)
    }

    /// Open incident `id`.
    pub fn get(&self, id: &str) -> Option<&Incident> {
        self.open.get(id)
    }

    /// The open incidents.
    pub fn open(&self) -> impl Iterator<Item = &Incident> {
        self.open.values()
    }

    /// Adds context rows (the window's columns, by name) to their open incidents:
    /// `stories` gives each story's rows of `batch` (what [`crate::context_index`] finds).
    /// A row is left out when its event is evidence against a subject that is not the
    /// incident's: it belongs to that subject's story (a pod's history shows its node
    /// going NotReady, but that is the node's incident). An event already held is
    /// replaced only by a row with a higher count (see [`HeldEvents::add`]). Returns how
    /// many rows were taken.
    pub fn add_context(
        &mut self,
        batch: &RecordBatch,
        stories: &[(String, Vec<usize>)],
    ) -> Result<usize> {
        let events = batch
            .column_by_name("event_id")
            .and_then(as_strings)
            .ok_or_else(|| Error::Internal("context rows: `event_id`".into()))?;
        let mut intake = Intake::new(batch);
        let mut taken = 0;
        let mut pending = Vec::new();
        for (id, rows) in stories {
            let Some(i) = self.open.get_mut(id) else {
                continue;
            };
            let evidence = &self.evidence;
            let rows: Vec<usize> = rows
                .iter()
                .copied()
                .filter(|&r| match evidence.get(events.value(r)) {
                    Some((subjects, _)) => subjects.iter().any(|k| i.keys.contains(k)),
                    None => true,
                })
                .collect();
            match i.events.offer(&mut intake, &rows)? {
                Offer::Taken(n) => taken += n,
                Offer::Pending(p) => pending.push((id, p)),
            }
        }
        // The rows of the incidents that hold rows, packed a chunk at a time.
        let mut packed: Option<(usize, RecordBatch)> = None;
        for (id, p) in pending {
            let Some(i) = self.open.get_mut(id) else {
                continue;
            };
            let chunk = p.chunk();
            let rows = match packed.take() {
                Some((c, rows)) if c == chunk => rows,
                _ => intake.pack(chunk)?,
            };
            taken += i.events.hold(&rows, p)?;
            packed = Some((chunk, rows));
        }
        Ok(taken)
    }

    /// Closes and returns incidents whose last signal is older than `before`.
    pub fn close_before(&mut self, before: i64) -> Vec<Incident> {
        let ids: Vec<String> = self
            .open
            .values()
            .filter(|i| i.last < before)
            .map(|i| i.id.clone())
            .collect();
        ids.into_iter().filter_map(|id| self.close(&id)).collect()
    }

    /// Closes and returns every incident.
    pub fn close_all(&mut self) -> Vec<Incident> {
        let ids: Vec<String> = self.open.keys().cloned().collect();
        ids.into_iter().filter_map(|id| self.close(&id)).collect()
    }

    fn close(&mut self, id: &str) -> Option<Incident> {
        let i = self.open.remove(id)?;
        for n in &i.nodes {
            self.graph.remove(*n);
            self.incident_of.remove(n);
        }
        Some(i)
    }

    /// Takes the signals of unpublished incidents whose evidence ended before `before`
    /// (out of the look-back, see `Incidents::until`) out of the graph, and splits an
    /// incident whose other signals no longer form one component: each component goes on
    /// as an incident of its own. An aged signal stays with the first component it was
    /// linked to, else with the first component; the component of the first remaining
    /// signal keeps the id. Published incidents (ids in `published`) keep their signals
    /// and their shape: consumers hold their id and what they were told. Returns how
    /// many incidents the splits made.
    pub fn split_aged(&mut self, before: i64, published: &HashSet<String>) -> Result<usize> {
        // Every window checks every open incident (thousands with 48k pods): only
        // those with a signal to age are taken apart.
        let ids: Vec<String> = self
            .open
            .iter()
            .filter(|(id, i)| !published.contains(*id) && self.aged(i, before).next().is_some())
            .map(|(id, _)| id.clone())
            .collect();
        let mut made = 0;
        for id in ids {
            let aged: Vec<NodeId> = self.aged(&self.open[&id], before).collect();
            for n in aged {
                self.graph.remove(n);
            }
            let parts = self.components(&self.open[&id]);
            if parts.len() > 1 {
                made += parts.len() - 1;
                self.split(&id, parts)?;
            }
        }
        Ok(made)
    }

    /// Nodes of `i`'s signals that end before `before` and are still in the graph.
    fn aged<'a>(&'a self, i: &'a Incident, before: i64) -> impl Iterator<Item = NodeId> + 'a {
        i.signals
            .iter()
            .zip(&i.nodes)
            .filter(move |(s, n)| self.until(s) < before && self.graph.contains(**n))
            .map(|(_, n)| *n)
    }

    /// The components of an incident's signals (indices into `signals`), joined by the
    /// edges between nodes still in the graph; aged signals as [`Incidents::split_aged`]
    /// places them. In order of their first signal.
    fn components(&self, i: &Incident) -> Vec<Vec<usize>> {
        let at: HashMap<NodeId, usize> = i.nodes.iter().enumerate().map(|(k, n)| (*n, k)).collect();
        let live: Vec<bool> = i.nodes.iter().map(|n| self.graph.contains(*n)).collect();
        let pairs: Vec<(usize, usize)> = i
            .pairs
            .iter()
            .filter_map(|(a, b)| Some((*at.get(a)?, *at.get(b)?)))
            .collect();
        // Union-find whose root is the smallest index of its set.
        let mut parent: Vec<usize> = (0..i.nodes.len()).collect();
        fn root(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        for &(a, b) in &pairs {
            if live[a] && live[b] {
                let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
        let mut part: Vec<Option<usize>> = (0..i.nodes.len())
            .map(|k| live[k].then(|| root(&mut parent, k)))
            .collect();
        for &(a, b) in &pairs {
            for (x, y) in [(a, b), (b, a)] {
                if part[x].is_none() && live[y] {
                    part[x] = part[y];
                }
            }
        }
        let Some(first) = part.iter().flatten().min().copied() else {
            return Vec::new();
        };
        let mut parts: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (k, p) in part.into_iter().enumerate() {
            parts.entry(p.unwrap_or(first)).or_default().push(k);
        }
        parts.into_values().collect()
    }

    /// Splits open incident `id` into `parts` (see [`Incidents::components`]): the first
    /// keeps the id, its lifetime and the events no other part's signals are; the others
    /// become incidents with ids of their own (as if their first signal had started
    /// them), each with its signals' events and edges.
    fn split(&mut self, id: &str, parts: Vec<Vec<usize>>) -> Result<()> {
        let Some(whole) = self.open.remove(id) else {
            return Ok(());
        };
        let mut part_of = vec![0; whole.signals.len()];
        for (p, members) in parts.iter().enumerate() {
            for k in members {
                part_of[*k] = p;
            }
        }
        let mut made: Vec<Incident> = parts
            .iter()
            .map(|_| Incident {
                id: String::new(),
                signals: Vec::new(),
                keys: BTreeSet::new(),
                first: i64::MAX,
                last: i64::MIN,
                events: HeldEvents::default(),
                links: Vec::new(),
                nodes: Vec::new(),
                pairs: Vec::new(),
                revision: 0,
            })
            .collect();
        let node_part: HashMap<NodeId, usize> = whole
            .nodes
            .iter()
            .zip(&part_of)
            .map(|(n, p)| (*n, *p))
            .collect();
        for (pair, link) in whole.pairs.into_iter().zip(whole.links) {
            let p = node_part.get(&pair.0).copied().unwrap_or(0);
            made[p].pairs.push(pair);
            made[p].links.push(link);
        }
        for ((s, n), p) in whole.signals.into_iter().zip(whole.nodes).zip(part_of) {
            let t = &mut made[p];
            t.first = t.first.min(s.event_time);
            t.last = t.last.max(self.until(&s));
            t.keys.extend(crate::graph::keys(&s));
            t.nodes.push(n);
            t.signals.push(s);
        }
        let mut events = whole.events;
        for (p, t) in made.iter_mut().enumerate() {
            if p == 0 {
                t.id = id.to_string();
                t.last = t.last.max(whole.last);
                continue;
            }
            let s = &t.signals[0];
            t.id = stable_id(&["story", &s.event_id, &s.subject_key()]);
            t.events = events.split_off(t.signals.iter().map(|s| s.event_id.as_str()))?;
        }
        made[0].events = events;
        for mut t in made {
            self.revisions += 1;
            t.revision = self.revisions;
            for n in &t.nodes {
                self.incident_of.insert(*n, t.id.clone());
            }
            self.open.insert(t.id.clone(), t);
        }
        Ok(())
    }

    /// Forgets seen signals of events older than `before` (bounded memory); an event
    /// that old is out of the look-back and cannot be matched again.
    pub fn forget_before(&mut self, before: i64) {
        self.seen.retain(|_, (t, _)| *t >= before);
        self.evidence.retain(|_, (_, t)| *t >= before);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tapio_schemas::{UnifiedEvent, events_to_batch};

    use crate::window_rows::window_rows;

    /// Adds `e` to incident `id` as the context search would find it.
    fn add_event(inc: &mut Incidents, id: &str, e: UnifiedEvent) {
        let rows = window_rows(&events_to_batch(&[e])).unwrap();
        inc.add_context(&rows, &[(id.to_string(), vec![0])])
            .unwrap();
    }

    fn sig(
        id: &str,
        t: i64,
        subject: (&str, &str),
        pod: Option<&str>,
        workload: Option<&str>,
    ) -> Signal {
        Signal {
            pattern: "crashloop",
            event_id: id.into(),
            subject_kind: subject.0.into(),
            subject_namespace: "ns".into(),
            subject_name: subject.1.into(),
            reason: "r".into(),
            weight: 1.0,
            event_time: t,
            count: 1,
            last_seen: t,
            pod: pod.map(Into::into),
            workload: workload.map(Into::into),
            node: None,
            message: None,
        }
    }

    #[test]
    fn an_event_bumped_steadily_keeps_its_incident_going_until_its_last_occurrence() {
        const MIN: i64 = 60;
        let mut inc = Incidents::new(crate::graph::DEFAULT_THRESHOLD, 15 * MIN);
        let web = |id: &str, t: i64, count: i64, last: i64| Signal {
            count,
            last_seen: last,
            ..sig(
                id,
                t,
                ("Deployment", "web"),
                Some("ns/web-1"),
                Some("Deployment/ns/web"),
            )
        };
        // A back-off bumped six times in 20 minutes: going on until its last.
        inc.add(vec![web("backoff", 0, 6, 20 * MIN)]).unwrap();
        assert_eq!(inc.open().next().unwrap().last, 20 * MIN);
        assert_eq!(inc.close_before(20 * MIN).len(), 0);
        // The same Event seen again, bumped later (a live watch): later still.
        inc.add(vec![web("backoff", 0, 8, 26 * MIN)]).unwrap();
        assert_eq!(inc.open().next().unwrap().last, 26 * MIN);
        assert_eq!(inc.close_before(26 * MIN + 1).len(), 1);
        // Two occurrences two hours apart say nothing of the time between.
        let mut inc = Incidents::new(crate::graph::DEFAULT_THRESHOLD, 15 * MIN);
        inc.add(vec![web("blips", 0, 2, 120 * MIN)]).unwrap();
        assert_eq!(inc.open().next().unwrap().last, 0);
    }

    #[test]
    fn merge_and_split() {
        let mut inc = Incidents::default();
        // Two unrelated incidents.
        inc.add(vec![sig(
            "a",
            1,
            ("Deployment", "web"),
            Some("ns/web-1"),
            Some("Deployment/ns/web"),
        )])
        .unwrap();
        inc.add(vec![sig(
            "b",
            2,
            ("Deployment", "db"),
            Some("ns/db-0"),
            Some("Deployment/ns/db"),
        )])
        .unwrap();
        assert_eq!(inc.open().count(), 2);
        // A signal blaming a ConfigMap for web's pod joins web's incident.
        inc.add(vec![sig(
            "c",
            3,
            ("ConfigMap", "cfg"),
            Some("ns/web-1"),
            Some("Deployment/ns/web"),
        )])
        .unwrap();
        assert_eq!(inc.open().count(), 2);
        // A cascade signal from web's pod blaming db merges the two; the oldest id stays.
        let first_id = inc
            .open()
            .find(|i| i.signals[0].event_id == "a")
            .unwrap()
            .id
            .clone();
        inc.add(vec![sig(
            "d",
            4,
            ("Deployment", "db"),
            Some("ns/web-2"),
            Some("Deployment/ns/web"),
        )])
        .unwrap();
        let all: Vec<_> = inc.open().collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, first_id);
        assert_eq!(all[0].signals.len(), 4);
        // Seen signals are not added twice.
        assert_eq!(
            inc.add(vec![sig(
                "d",
                4,
                ("Deployment", "db"),
                Some("ns/web-2"),
                Some("Deployment/ns/web")
            )])
            .unwrap(),
            0
        );
        // Closing by idle time.
        assert_eq!(inc.close_before(4).len(), 0);
        assert_eq!(inc.close_before(5).len(), 1);
        // After closing, the same subject starts a new incident.
        inc.add(vec![sig("e", 100, ("Deployment", "db"), None, None)])
            .unwrap();
        assert_eq!(inc.open().count(), 1);
        assert_ne!(inc.open().next().unwrap().id, first_id);
    }

    /// web-1 and db-0 failing, each on its own pod, and a signal of web-1 blaming db-0
    /// (a refused connection) at minute 1 that links the two; web-1's and db-0's Events
    /// are bumped until minute 20.
    fn bridged() -> Vec<Signal> {
        const MIN: i64 = 60;
        let bumped = |s: Signal| Signal {
            count: 20,
            last_seen: 20 * MIN,
            ..s
        };
        vec![
            bumped(sig("web", 0, ("Pod", "web-1"), Some("ns/web-1"), None)),
            sig("refused", MIN, ("Pod", "db-0"), Some("ns/web-1"), None),
            bumped(sig("db", 2 * MIN, ("Pod", "db-0"), Some("ns/db-0"), None)),
        ]
    }

    #[test]
    fn a_component_splits_when_the_evidence_joining_it_ages_out() {
        const MIN: i64 = 60;
        let mut inc = Incidents::new(crate::graph::DEFAULT_THRESHOLD, 15 * MIN);
        inc.add(bridged()).unwrap();
        assert_eq!(inc.open().count(), 1, "the refused connection joins them");
        let id = inc.open().next().unwrap().id.clone();
        let ev = |id: &str| {
            let mut e = UnifiedEvent::new(
                id.into(),
                0,
                "k8s-event",
                "k8s.event",
                tapio_schemas::Severity::Warning,
                tapio_schemas::ObjectRef::new("Pod", "ns", "web-1"),
            );
            e.count = 1;
            e
        };
        for e in ["web", "refused", "db"] {
            add_event(&mut inc, &id, ev(e));
        }
        let none = HashSet::default();
        // The look-back still holds the refused connection: one incident.
        assert_eq!(inc.split_aged(MIN, &none).unwrap(), 0);
        assert_eq!(inc.open().count(), 1);
        // Past it, web-1 and db-0 are joined by nothing still in the look-back: two
        // incidents. web-1's (the first signal's) keeps the id and the aged signal it
        // was linked to first; db-0's is new, with its own signal's event.
        assert_eq!(inc.split_aged(MIN + 1, &none).unwrap(), 1);
        let parts: Vec<(&str, Vec<&str>, Vec<&str>, i64)> = inc
            .open()
            .map(|i| {
                (
                    i.id.as_str(),
                    i.signals.iter().map(|s| s.event_id.as_str()).collect(),
                    i.events.ids().collect(),
                    i.last,
                )
            })
            .collect();
        let db_id = stable_id(&["story", "db", "Pod/ns/db-0"]);
        let mut want = vec![
            (
                id.as_str(),
                vec!["web", "refused"],
                vec!["refused", "web"],
                20 * MIN,
            ),
            (db_id.as_str(), vec!["db"], vec!["db"], 20 * MIN),
        ];
        want.sort();
        assert_eq!(parts, want);
        // Each part goes on growing on its own: db-0 failing again joins db-0's.
        inc.add(vec![sig(
            "db-again",
            3 * MIN,
            ("Pod", "db-0"),
            Some("ns/db-0"),
            None,
        )])
        .unwrap();
        let db = inc.open().find(|i| i.id == db_id).unwrap();
        assert_eq!(db.signals.len(), 2);
        assert_eq!(inc.open().count(), 2);
        // Nothing more to split.
        assert_eq!(inc.split_aged(MIN + 1, &none).unwrap(), 0);
    }

    #[test]
    fn a_published_incident_keeps_its_shape_when_evidence_ages() {
        const MIN: i64 = 60;
        let mut inc = Incidents::new(crate::graph::DEFAULT_THRESHOLD, 15 * MIN);
        inc.add(bridged()).unwrap();
        let published: HashSet<String> = inc.open().map(|i| i.id.clone()).collect();
        assert_eq!(inc.split_aged(MIN + 1, &published).unwrap(), 0);
        assert_eq!(inc.open().count(), 1);
        assert_eq!(inc.graph_nodes(), 3, "its signals stay linkable");
    }

    #[test]
    fn edges_below_the_threshold_do_not_merge() {
        // Two pods of one workload failing 10 min apart, each blamed on its own pod: the
        // workload links them (ownership 0.8, same namespace, a third of the time left).
        let web_1 = sig(
            "a",
            0,
            ("Pod", "web-1"),
            Some("ns/web-1"),
            Some("Deployment/ns/web"),
        );
        let mut web_2 = sig(
            "b",
            600 * 1_000_000_000,
            ("Pod", "web-2"),
            Some("ns/web-2"),
            Some("Deployment/ns/web"),
        );
        web_2.pattern = "probe-failure";
        web_2.reason = "Unhealthy".into();
        let mut loose = Incidents::default();
        loose.add(vec![web_1.clone(), web_2.clone()]).unwrap();
        let one: Vec<_> = loose.open().collect();
        assert_eq!(one.len(), 1);
        // The edge that joined them says why.
        let link = &one[0].links[0];
        assert_eq!((link.from.as_str(), link.to.as_str()), ("b", "a"));
        assert_eq!(
            (link.edge.ownership, link.edge.spatial, link.edge.temporal),
            (0.8, 0.5, 0.333)
        );
        assert!(link.edge.confidence < 0.7, "{link:?}");
        // At a stricter threshold they are two incidents.
        let mut strict = Incidents::new(0.7, 0);
        strict.add(vec![web_1, web_2]).unwrap();
        assert_eq!(strict.open().count(), 2);
        assert!(strict.open().all(|i| i.links.is_empty()));
        // Closing takes their signals out of the graph.
        assert_eq!(strict.graph_nodes(), 2);
        strict.close_all();
        assert_eq!(strict.graph_nodes(), 0);
    }

    #[test]
    fn another_subjects_evidence_is_not_context() {
        use tapio_schemas::{ObjectRef, Severity};
        let ev = |id: &str| {
            UnifiedEvent::new(
                id.into(),
                1,
                "k8s-event",
                "k8s.event",
                Severity::Warning,
                ObjectRef::new("Pod", "ns", "web-1"),
            )
        };
        let mut inc = Incidents::default();
        inc.add(vec![sig(
            "node-lost",
            1,
            ("Node", "n1"),
            Some("ns/web-1"),
            None,
        )])
        .unwrap();
        inc.add(vec![sig(
            "web-crash",
            2,
            ("Deployment", "web"),
            Some("ns/web-1"),
            Some("Deployment/ns/web"),
        )])
        .unwrap();
        let web = inc
            .open()
            .find(|i| i.signals[0].event_id == "web-crash")
            .unwrap()
            .id
            .clone();
        // web-1's history: its node going NotReady is the node's evidence, not web's;
        // its own Events and web's own signals are web's context.
        for id in ["node-lost", "web-started", "web-crash"] {
            add_event(&mut inc, &web, ev(id));
        }
        let web = inc.open().find(|i| i.id == web).unwrap();
        let held: Vec<&str> = web.events.ids().collect();
        assert_eq!(held, ["web-crash", "web-started"]);
    }

    #[test]
    fn node_subjects_do_not_link_by_workload_or_pod() {
        let mut inc = Incidents::default();
        inc.add(vec![sig(
            "a",
            1,
            ("Node", "n1"),
            Some("ns/web-1"),
            Some("Deployment/ns/web"),
        )])
        .unwrap();
        inc.add(vec![sig(
            "b",
            2,
            ("Deployment", "web"),
            Some("ns/web-9"),
            Some("Deployment/ns/web"),
        )])
        .unwrap();
        assert_eq!(inc.open().count(), 2);
        // web-1 failing on its own is web's incident, not the node's.
        inc.add(vec![sig(
            "c",
            3,
            ("Deployment", "web"),
            Some("ns/web-1"),
            Some("Deployment/ns/web"),
        )])
        .unwrap();
        assert_eq!(inc.open().count(), 2);
        // Another pod losing the same node joins the node's incident.
        inc.add(vec![sig(
            "d",
            4,
            ("Node", "n1"),
            Some("ns/db-0"),
            Some("StatefulSet/ns/db"),
        )])
        .unwrap();
        let node = inc.open().find(|i| i.signals[0].event_id == "a").unwrap();
        assert_eq!(node.signals.len(), 2);
        assert_eq!(inc.open().count(), 2);
    }
}
