//! The live cluster state: every watched object by kind, kept current from watch events
//! (a relist after `410 Gone` replaces a kind's objects atomically, and whatever it no
//! longer lists counts as deleted), turned into events and into the time-versioned
//! relationship map. Pure: no IO, so it is tested with recorded watch events alone.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde_json::Value;
use tapio_schemas::{Relation, UnifiedEvent};
use tracing::debug;

use super::diff::transitions;
use crate::k8s::event::read_event;
use crate::k8s::map::ClusterMap;
use crate::k8s::objects::ObjectState;
use crate::k8s::value::str_at;

/// What a watch said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// An object was added or modified.
    Apply,
    /// An object was deleted (its last state).
    Delete,
    /// A (re)list of the kind begins.
    InitStart,
    /// An object of the (re)list.
    InitApply,
    /// The (re)list is complete: it replaces what was known of the kind.
    InitDone,
}

/// One watch event, the object as JSON (`Null` for `InitStart`/`InitDone`).
#[derive(Debug, Clone)]
pub struct Change {
    /// The object's kind (`Pod`, `Event`, ...).
    pub kind: &'static str,
    /// What happened.
    pub op: Op,
    /// The object.
    pub object: Value,
}

type Key = (String, String);

fn key(v: &Value) -> Option<Key> {
    Some((
        str_at(v, "metadata.namespace").unwrap_or("").to_string(),
        str_at(v, "metadata.name")?.to_string(),
    ))
}

/// A relation's identity (what relates to what), hashed: 16 bytes instead of 7 strings.
type RelKey = u128;

fn rel_key(r: &Relation) -> RelKey {
    tapio_schemas::ids::stable_hash(&[
        &r.relation,
        &r.from_kind,
        &r.from_namespace,
        &r.from_name,
        &r.to_kind,
        &r.to_namespace,
        &r.to_name,
    ])
}

/// A set of ids that forgets the oldest beyond `cap`, so a long run stays bounded.
#[derive(Debug)]
struct Recent<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
    cap: usize,
}

impl<V> Recent<V> {
    fn new(cap: usize) -> Self {
        Recent {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap,
        }
    }
    fn get(&self, k: &str) -> Option<&V> {
        self.map.get(k)
    }
    fn insert(&mut self, k: String, v: V) {
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
            while self.order.len() > self.cap {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

/// Counters of a live store.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StoreStats {
    /// Objects known now.
    pub objects: usize,
    /// Watch events applied.
    pub changes: u64,
    /// Relists completed (initial lists and those after `410 Gone`).
    pub relists: u64,
    /// Objects found deleted by a relist (their delete was missed while disconnected).
    pub deleted_by_relist: u64,
    /// Events emitted (Kubernetes Events, transitions, object state).
    pub events: u64,
    /// Objects that could not be read (named in the log).
    pub rejected: u64,
    /// Kinds whose initial list is complete.
    pub kinds_listed: usize,
}

/// What a refresh of the relationship map produced.
#[derive(Debug, Default)]
pub struct Refresh {
    /// Relations for the engine: those in force plus those that ended within the
    /// retention (a pod that just died still links its story).
    pub relations: Vec<Relation>,
    /// Relation rows to append to the history: new ones, and ended ones with `valid_to`.
    pub history: Vec<Relation>,
    /// Object-state events not emitted before (an `OOMKilled` last state, a Service
    /// without endpoints, ...).
    pub events: Vec<UnifiedEvent>,
}

/// The live state of one cluster.
#[derive(Debug)]
pub struct LiveStore {
    cluster: String,
    objects: BTreeMap<&'static str, HashMap<Key, Value>>,
    relisting: HashMap<&'static str, HashMap<Key, Value>>,
    listed: HashSet<&'static str>,
    current: HashMap<RelKey, Relation>,
    ended: Vec<Relation>,
    /// How long ended relations stay visible to the engine, ns.
    retain_ns: i64,
    map: ClusterMap,
    dirty: bool,
    derived_seen: Recent<()>,
    event_counts: Recent<i64>,
    stats: StoreStats,
}

impl LiveStore {
    /// An empty store for `cluster`.
    pub fn new(cluster: &str) -> Self {
        LiveStore {
            cluster: cluster.to_string(),
            objects: BTreeMap::new(),
            relisting: HashMap::new(),
            listed: HashSet::new(),
            current: HashMap::new(),
            ended: Vec::new(),
            retain_ns: 900 * 1_000_000_000,
            map: ClusterMap::default(),
            dirty: false,
            derived_seen: Recent::new(200_000),
            event_counts: Recent::new(200_000),
            stats: StoreStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> StoreStats {
        let mut s = self.stats.clone();
        s.objects = self.objects.values().map(HashMap::len).sum();
        s.kinds_listed = self.listed.len();
        s
    }

    /// The enrichment map as of the last refresh.
    pub fn map(&mut self) -> &mut ClusterMap {
        &mut self.map
    }

    /// The object of `kind` at namespace/name, if known.
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(kind)?
            .get(&(namespace.to_string(), name.to_string()))
    }

    /// Applies one watch event; returns the events it makes (a new or re-counted
    /// Kubernetes Event, state transitions), enriched from the map.
    pub fn apply(&mut self, c: Change, now: i64) -> Vec<UnifiedEvent> {
        self.stats.changes += 1;
        let mut out = Vec::new();
        if c.op == Op::InitDone {
            self.listed.insert(c.kind);
        }
        if c.kind == "Event" {
            if matches!(c.op, Op::Apply | Op::InitApply) {
                self.event(&c.object, &mut out);
            }
        } else {
            match c.op {
                Op::InitStart => {
                    self.relisting.insert(c.kind, HashMap::new());
                }
                Op::InitApply => match key(&c.object) {
                    Some(k) => {
                        self.relisting
                            .entry(c.kind)
                            .or_default()
                            .insert(k, c.object);
                    }
                    None => self.stats.rejected += 1,
                },
                Op::InitDone => {
                    let fresh = self.relisting.remove(c.kind).unwrap_or_default();
                    let old = self
                        .objects
                        .insert(c.kind, HashMap::new())
                        .unwrap_or_default();
                    self.stats.relists += 1;
                    self.stats.deleted_by_relist +=
                        old.keys().filter(|k| !fresh.contains_key(*k)).count() as u64;
                    for (k, v) in fresh {
                        if c.kind == "Pod" {
                            self.map_pod(&v);
                        }
                        out.extend(transitions(c.kind, old.get(&k), &v, &self.cluster, now));
                        self.objects.entry(c.kind).or_default().insert(k, v);
                    }
                    self.dirty = true;
                }
                Op::Apply => match key(&c.object) {
                    Some(k) => {
                        if c.kind == "Pod" {
                            self.map_pod(&c.object);
                        }
                        let objs = self.objects.entry(c.kind).or_default();
                        out.extend(transitions(
                            c.kind,
                            objs.get(&k),
                            &c.object,
                            &self.cluster,
                            now,
                        ));
                        objs.insert(k, c.object);
                        self.dirty = true;
                    }
                    None => self.stats.rejected += 1,
                },
                Op::Delete => {
                    if let Some(k) = key(&c.object) {
                        self.objects.entry(c.kind).or_default().remove(&k);
                        self.dirty = true;
                    }
                }
            }
        }
        for e in &mut out {
            self.map.enrich(e);
        }
        self.stats.events += out.len() as u64;
        out
    }

    /// Puts a pod's latest state in the enrichment map right away (the full rebuild waits
    /// for the next refresh), so events about a new pod are enriched at once.
    fn map_pod(&mut self, v: &Value) {
        let mut one = ObjectState::new(&self.cluster);
        if one.add("Pod", v).is_ok() {
            for p in one.map.pods() {
                self.map.add_pod(p.clone());
            }
        }
    }

    fn event(&mut self, v: &Value, out: &mut Vec<UnifiedEvent>) {
        match read_event(v) {
            Ok(mut e) => {
                // A count bump re-reports the same Event (same id) with the new count.
                if self
                    .event_counts
                    .get(&e.event_id)
                    .is_some_and(|&n| n >= e.count)
                {
                    return;
                }
                self.event_counts.insert(e.event_id.clone(), e.count);
                if e.cluster == "default" {
                    e.cluster = self.cluster.clone();
                }
                out.push(e);
            }
            Err((field, msg)) => {
                self.stats.rejected += 1;
                debug!(%field, %msg, "Event not readable.");
            }
        }
    }

    /// Rebuilds the relationship map and the enrichment map from the objects when
    /// anything changed since the last refresh (`None` otherwise).
    pub fn refresh(&mut self, now: i64) -> Option<Refresh> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        let mut state = ObjectState::new(&self.cluster);
        for (kind, objs) in &self.objects {
            for v in objs.values() {
                if let Err((field, msg)) = state.add(kind, v) {
                    debug!(kind, %field, %msg, "Object not readable.");
                }
            }
        }
        state.finish();
        let mut out = Refresh::default();
        let mut next: HashMap<RelKey, Relation> = HashMap::new();
        for r in std::mem::take(&mut state.relations) {
            next.insert(rel_key(&r), r);
        }
        for (k, r) in &next {
            if !self.current.contains_key(k) {
                out.history.push(r.clone());
            }
        }
        for (k, mut r) in std::mem::take(&mut self.current) {
            if !next.contains_key(&k) {
                r.valid_to = Some(r.valid_to.map_or(now, |t| t.min(now)));
                out.history.push(r.clone());
                self.ended.push(r);
            }
        }
        self.current = next;
        self.ended
            .retain(|r| r.valid_to.is_some_and(|t| t >= now - self.retain_ns));
        let mut seen_now = HashSet::new();
        out.relations = self
            .current
            .values()
            .chain(self.ended.iter())
            .filter(|r| seen_now.insert(rel_key(r)))
            .cloned()
            .collect();
        out.relations.sort();
        out.history.sort();
        self.map = std::mem::take(&mut state.map);
        for mut e in std::mem::take(&mut state.derived) {
            if self.derived_seen.get(&e.event_id).is_some() {
                continue;
            }
            self.derived_seen.insert(e.event_id.clone(), ());
            self.map.enrich(&mut e);
            out.events.push(e);
        }
        self.stats.events += out.events.len() as u64;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tapio_schemas::relation;

    const T: i64 = 1_795_000_000_000_000_000;

    fn pod(name: &str, node: &str, ready: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"),
                            "creationTimestamp": "2026-11-20T09:00:00Z", "labels": {"app": "web"}},
               "spec": {"nodeName": node, "containers": [{"name": "app"}]},
               "status": {"phase": "Running", "podIP": "10.244.0.7",
                          "conditions": [{"type": "Ready", "status": ready}]}})
    }

    fn apply(kind: &'static str, op: Op, object: Value) -> Change {
        Change { kind, op, object }
    }

    fn runs_on(r: &Refresh) -> Vec<(String, String, Option<i64>)> {
        r.relations
            .iter()
            .filter(|r| r.relation == relation::RUNS_ON)
            .map(|r| (r.from_name.clone(), r.to_name.clone(), r.valid_to))
            .collect()
    }

    #[test]
    fn relations_follow_the_watch_and_end_with_a_time() {
        let mut s = LiveStore::new("prod");
        s.apply(apply("Pod", Op::InitStart, Value::Null), T);
        s.apply(
            apply("Pod", Op::InitApply, pod("web-1", "node-a", "True")),
            T,
        );
        s.apply(apply("Pod", Op::InitDone, Value::Null), T);
        let r = s.refresh(T).unwrap();
        assert_eq!(runs_on(&r), [("web-1".into(), "node-a".into(), None)]);
        assert_eq!(r.history.len(), r.relations.len(), "all new: all history");
        assert!(s.refresh(T).is_none(), "nothing changed");
        // Deleted: the relation ends at the time it was seen gone, and stays visible
        // to the engine for the retention.
        s.apply(
            apply("Pod", Op::Delete, pod("web-1", "node-a", "True")),
            T + 5,
        );
        let r = s.refresh(T + 5).unwrap();
        assert_eq!(
            runs_on(&r),
            [("web-1".into(), "node-a".into(), Some(T + 5))]
        );
        assert_eq!(r.history.len(), 1);
        let r = {
            s.dirty = true;
            s.refresh(T + 2_000_000_000_000).unwrap()
        };
        assert!(runs_on(&r).is_empty(), "past the retention");
    }

    #[test]
    fn relist_replaces_the_kind_and_drops_what_it_no_longer_lists() {
        let mut s = LiveStore::new("prod");
        for p in ["web-1", "web-2"] {
            s.apply(apply("Pod", Op::Apply, pod(p, "node-a", "True")), T);
        }
        // 410 Gone → the watcher relists; web-2 was deleted meanwhile, web-1 lost Ready.
        s.apply(apply("Pod", Op::InitStart, Value::Null), T + 1);
        let ev = s.apply(
            apply("Pod", Op::InitApply, pod("web-1", "node-a", "False")),
            T + 1,
        );
        assert!(
            ev.is_empty(),
            "nothing happens until the relist is complete"
        );
        let ev = s.apply(apply("Pod", Op::InitDone, Value::Null), T + 1);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].event_type, "k8s.pod.not_ready");
        assert_eq!(s.stats().deleted_by_relist, 1);
        assert_eq!(s.stats().objects, 1);
        assert!(s.object("Pod", "shop", "web-2").is_none());
    }

    #[test]
    fn event_count_bumps_are_reported_once_each() {
        let mut s = LiveStore::new("prod");
        let ev = |count: i64| {
            json!({"apiVersion": "v1", "kind": "Event",
                   "metadata": {"name": "web-1.17a", "namespace": "shop", "uid": "ev-1"},
                   "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-1"},
                   "reason": "BackOff", "message": "Back-off restarting failed container app",
                   "type": "Warning", "count": count,
                   "firstTimestamp": "2026-11-20T10:00:00Z", "lastTimestamp": "2026-11-20T10:05:00Z"})
        };
        assert_eq!(s.apply(apply("Event", Op::Apply, ev(1)), T).len(), 1);
        let bumped = s.apply(apply("Event", Op::Apply, ev(5)), T);
        assert_eq!(bumped.len(), 1);
        assert_eq!(bumped[0].count, 5);
        assert_eq!(bumped[0].event_id, "ev-1");
        assert!(
            s.apply(apply("Event", Op::Apply, ev(5)), T).is_empty(),
            "redelivery"
        );
        assert!(
            s.apply(apply("Event", Op::Apply, ev(4)), T).is_empty(),
            "stale"
        );
    }

    #[test]
    fn object_state_events_come_once_and_enrich_from_the_map() {
        let mut s = LiveStore::new("prod");
        let mut p = pod("web-1", "node-a", "True");
        p["status"]["containerStatuses"] = json!([{"name": "app", "restartCount": 1,
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                "startedAt": "2026-11-20T10:00:00Z", "finishedAt": "2026-11-20T10:01:00Z"}}}]);
        s.apply(apply("Pod", Op::Apply, p.clone()), T);
        let r = s.refresh(T).unwrap();
        let oom: Vec<_> = r
            .events
            .iter()
            .filter(|e| e.event_type == "k8s.pod.oom_killed")
            .collect();
        assert_eq!(oom.len(), 1);
        assert_eq!(oom[0].node.as_deref(), Some("node-a"));
        p["metadata"]["labels"]["tier"] = json!("front");
        s.apply(apply("Pod", Op::Apply, p), T + 1);
        let r = s.refresh(T + 1).unwrap();
        assert!(
            r.events
                .iter()
                .all(|e| e.event_type != "k8s.pod.oom_killed"),
            "the same terminated state is not reported twice"
        );
    }
}
