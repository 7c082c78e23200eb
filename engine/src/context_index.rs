//! Story context by key: which held rows of the look-back belong to which open story.
//!
//! A story's context is every event of the look-back about its failing pods, its
//! subjects, their workloads and nodes, and its signals' own rows
//! ([`crate::incidents::Incident::context_keys`]). The window holds up to a million rows
//! and every window asks again: a new story (or one that grew or merged) for its keys in
//! the whole look-back, the others in the rows that arrived since. A SQL join of the
//! window's rows with the stories' keys answered this once per window, probing every held
//! row for each new key: the largest stage of the engine (37 % of it with 1M events over
//! 4 h, 3.3 s of 6.8 with 1M events and 48k pods in one window). Here each row is indexed
//! by its keys once, as it arrives, so a key's rows are one lookup whatever the window
//! holds. It is the keyed state a stream processor keeps for a keyed lookup, rather than
//! a join re-run over the window.
//!
//! Which row has which key is the rule the join had:
//! - `pod` `namespace/pod`: rows whose pod (or whose object, when it is a pod) is that
//!   pod: its own events, and kernel and runtime events that name it;
//! - `object` `Kind/namespace/name`: that object's own events, when they are no pod's;
//! - `workload` `Kind/namespace/name`: events of the workload's objects other than its
//!   pods (a ReplicaSet's, the Deployment's own), when they are no pod's;
//! - `node` `name`: a Node's own events;
//! - `event` `id`: that event's notable rows (a signal's own row).

use std::collections::{BTreeMap, HashMap as StdHashMap, VecDeque};

use ahash::HashMap;
use arrow::array::{
    Array, AsArray, BooleanArray, Int16Array, Int32Array, RecordBatch, StringArray,
    TimestampNanosecondArray, UInt32Array,
};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Int16Type, Int32Type};

use crate::window::{Retained, Seen};
use crate::window_rows::{POD_IS_OBJECT, WindowPacking};
use crate::{Error, Result};

/// One key a story looks rows up by; see the module doc for which rows have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key<'a> {
    Pod {
        namespace: &'a str,
        pod: &'a str,
    },
    Object {
        kind: &'a str,
        namespace: &'a str,
        name: &'a str,
    },
    Workload {
        kind: &'a str,
        namespace: &'a str,
        name: &'a str,
    },
    Node(&'a str),
    Event(&'a str),
}

/// Fixed seeds: a key hashes the same in every run (the index is in-process only, but
/// a replay then does the same work each time).
const HASHER: ahash::RandomState = ahash::RandomState::with_seeds(
    0x7461_7069_6f5f_6b65,
    0x795f_696e_6465_7830,
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
);

impl<'a> Key<'a> {
    /// The key `Incident::context_keys` writes as `(key_type, key)`; `None` for one of
    /// another form, which no row has.
    fn parse(key_type: &str, key: &'a str) -> Option<Self> {
        let three = || {
            let mut parts = key.splitn(3, '/');
            Some((parts.next()?, parts.next()?, parts.next()?))
        };
        match key_type {
            "pod" => key
                .split_once('/')
                .map(|(namespace, pod)| Key::Pod { namespace, pod }),
            "object" => three().map(|(kind, namespace, name)| Key::Object {
                kind,
                namespace,
                name,
            }),
            "workload" => three().map(|(kind, namespace, name)| Key::Workload {
                kind,
                namespace,
                name,
            }),
            "node" => Some(Key::Node(key)),
            "event" => Some(Key::Event(key)),
            _ => None,
        }
    }

    fn hash(&self) -> u64 {
        HASHER.hash_one(self)
    }
}

/// A text column of held rows, plain or a dictionary (as the window narrows them).
#[derive(Clone, Copy)]
enum Texts<'a> {
    Plain(&'a StringArray),
    Dict16(&'a Int16Array, &'a StringArray),
    Dict32(&'a Int32Array, &'a StringArray),
}

impl<'a> Texts<'a> {
    fn of(batch: &'a RecordBatch, name: &str) -> Result<Self> {
        let c = batch
            .column_by_name(name)
            .ok_or_else(|| Error::Internal(format!("context index: no `{name}` column")))?;
        let values = |d: &'a dyn Array| {
            d.as_string_opt::<i32>().ok_or_else(|| {
                Error::Internal(format!("context index: `{name}` holds {}", d.data_type()))
            })
        };
        Ok(match c.data_type() {
            DataType::Utf8 => Texts::Plain(c.as_string::<i32>()),
            DataType::Dictionary(k, _) if **k == DataType::Int16 => {
                let d = c.as_dictionary::<Int16Type>();
                Texts::Dict16(d.keys(), values(d.values().as_ref())?)
            }
            DataType::Dictionary(k, _) if **k == DataType::Int32 => {
                let d = c.as_dictionary::<Int32Type>();
                Texts::Dict32(d.keys(), values(d.values().as_ref())?)
            }
            t => {
                return Err(Error::Internal(format!(
                    "context index: `{name}` is {t}, not text"
                )));
            }
        })
    }

    fn get(&self, r: usize) -> Option<&'a str> {
        let value =
            |v: &'a StringArray, i: usize| (i < v.len() && v.is_valid(i)).then(|| v.value(i));
        match self {
            Texts::Plain(a) => a.is_valid(r).then(|| a.value(r)),
            Texts::Dict16(k, v) => k.is_valid(r).then(|| value(v, k.value(r) as usize))?,
            Texts::Dict32(k, v) => k.is_valid(r).then(|| value(v, k.value(r) as usize))?,
        }
    }
}

/// The key columns of a batch of the window's rows, as held ([`WindowPacking::schema`])
/// or as a piece not packed yet ([`WindowPacking::pieces`]).
struct RowKeys<'a> {
    kind: Texts<'a>,
    namespace: Texts<'a>,
    name: Texts<'a>,
    /// Null where the pod is the row's object (`same`).
    pod: Texts<'a>,
    /// `None` in a piece not packed yet: its pod column is whole.
    same: Option<&'a BooleanArray>,
    workload_kind: Texts<'a>,
    workload: Texts<'a>,
    node: Texts<'a>,
}

impl<'a> RowKeys<'a> {
    fn of(batch: &'a RecordBatch) -> Result<Self> {
        let same = match batch.column_by_name(POD_IS_OBJECT) {
            Some(c) => Some(c.as_boolean_opt().ok_or_else(|| {
                Error::Internal(format!("context index: `{POD_IS_OBJECT}` is not boolean"))
            })?),
            None => None,
        };
        Ok(RowKeys {
            kind: Texts::of(batch, "object_kind")?,
            namespace: Texts::of(batch, "object_namespace")?,
            name: Texts::of(batch, "object_name")?,
            pod: Texts::of(batch, "pod")?,
            same,
            workload_kind: Texts::of(batch, "workload_kind")?,
            workload: Texts::of(batch, "workload_name")?,
            node: Texts::of(batch, "node")?,
        })
    }

    /// Calls `f` with each key row `r` has.
    fn keys(&self, r: usize, mut f: impl FnMut(Key<'a>)) {
        let same = self.same.is_some_and(|s| s.is_valid(r) && s.value(r));
        let (kind, namespace, name) = (self.kind.get(r), self.namespace.get(r), self.name.get(r));
        let pod = if same { name } else { self.pod.get(r) };
        if let (Some(namespace), Some(pod)) = (namespace, pod) {
            f(Key::Pod { namespace, pod });
        }
        if pod.is_none() {
            if let (Some(k), Some(namespace), Some(name)) = (kind, namespace, name) {
                f(Key::Object {
                    kind: k,
                    namespace,
                    name,
                });
            }
            let workload = (self.workload_kind.get(r), namespace, self.workload.get(r));
            if let (Some(w), Some(namespace), Some(name)) = workload
                && kind.is_some_and(|k| k != "Pod")
            {
                f(Key::Workload {
                    kind: w,
                    namespace,
                    name,
                });
            }
        }
        if kind == Some("Node")
            && let Some(node) = self.node.get(r)
        {
            f(Key::Node(node));
        }
    }

    fn has(&self, r: usize, key: &Key<'_>) -> bool {
        let mut found = false;
        self.keys(r, |k| found |= k == *key);
        found
    }
}

/// No ref: the end of a key's chain.
const NONE: u64 = u64::MAX;

/// The refs (keys of rows) of one indexed batch: ref `first + j` is row `rows[j]`,
/// and `back[j]` how many refs before it the previous one with the same key hash is
/// (0: none; a gap wider than `u32` reaches past anything a window holds).
#[derive(Debug)]
struct Chunk {
    arrival: u64,
    first: u64,
    rows: Vec<u32>,
    back: Vec<u32>,
}

/// Rows by key hash for one [`Retained`]: each key's refs chained newest to oldest
/// through the batches, as a hash join's table chains its build rows. A batch's refs
/// are kept with it and leave with it (8 bytes a ref); the map holds each key's newest
/// ref. With 1M events and 48k pods in the window it takes ~12 MB.
#[derive(Debug, Default)]
struct KeyIndex {
    heads: HashMap<u64, u64>,
    chunks: VecDeque<Chunk>,
    /// The next ref's number.
    next: u64,
    /// Refs of evicted batches since the map was last swept of keys with none left.
    dead: u64,
}

impl KeyIndex {
    fn insert(&mut self, arrival: u64, keys: &[(u64, u32)]) {
        let first = self.next;
        let mut rows = Vec::with_capacity(keys.len());
        let mut back = Vec::with_capacity(keys.len());
        for &(hash, row) in keys {
            let gap = match self.heads.insert(hash, self.next) {
                Some(prev) => u32::try_from(self.next - prev).unwrap_or(0),
                None => 0,
            };
            back.push(gap);
            rows.push(row);
            self.next += 1;
        }
        self.chunks.push_back(Chunk {
            arrival,
            first,
            rows,
            back,
        });
    }

    /// The oldest live ref: refs before it belong to evicted batches.
    fn live(&self) -> u64 {
        self.chunks.front().map_or(self.next, |c| c.first)
    }

    /// Forgets batches that arrived before `first` (the oldest held now).
    fn evict(&mut self, first: u64) {
        while self.chunks.front().is_some_and(|c| c.arrival < first) {
            if let Some(c) = self.chunks.pop_front() {
                self.dead += c.rows.len() as u64;
            }
        }
        // Keys whose refs all left cost a map entry until swept: swept when as many
        // refs left as are live.
        if self.dead > (self.next - self.live()).max(4096) {
            let live = self.live();
            self.heads.retain(|_, r| *r >= live);
            self.dead = 0;
        }
    }

    /// Calls `f(arrival, row)` for each ref of `hash` in batches that arrived at or
    /// after `from`, newest first.
    fn each(
        &self,
        hash: u64,
        from: u64,
        mut f: impl FnMut(u64, usize) -> Result<()>,
    ) -> Result<()> {
        let live = self.live();
        let mut r = self.heads.get(&hash).copied().unwrap_or(NONE);
        while r != NONE && r >= live {
            let at = self.chunks.partition_point(|c| c.first <= r);
            let Some(c) = at.checked_sub(1).and_then(|i| self.chunks.get(i)) else {
                break;
            };
            if c.arrival < from {
                break;
            }
            let j = (r - c.first) as usize;
            f(c.arrival, c.rows[j] as usize)?;
            r = match c.back[j] {
                0 => NONE,
                gap => r - gap as u64,
            };
        }
        Ok(())
    }
}

/// The rows found for open stories in one held batch.
#[derive(Debug)]
pub struct Found {
    /// The rows, each once, in the window's columns (an event schema's, by name).
    pub rows: RecordBatch,
    /// Each story's rows among them (positions), by story id.
    pub stories: Vec<(String, Vec<usize>)>,
}

/// The window's rows and its notable rows, indexed by the keys stories look up.
#[derive(Debug, Default)]
pub struct ContextIndex {
    rows: KeyIndex,
    notable: KeyIndex,
}

/// One evaluation's search: keys (story id, key type, key) searched in the whole window,
/// and keys an earlier evaluation searched, which need only the rows it did not see.
#[derive(Debug, Clone, Copy)]
pub struct Search<'k> {
    /// Keys searched in every row of the window.
    pub new: &'k [(&'k str, &'static str, &'k str)],
    /// Keys searched in rows `seen` did not hold.
    pub known: &'k [(&'k str, &'static str, &'k str)],
    /// What the earlier evaluation saw of the window's rows and of the notable rows;
    /// `None`: known keys search the whole window too.
    pub seen: Option<(Seen, Seen)>,
    /// The window with its look-back: event time from `from` up to `end`.
    pub from: i64,
    /// End of the window (exclusive).
    pub end: i64,
}

impl ContextIndex {
    /// Indexes a batch of the window's rows (as held) that `retained` took as
    /// arrival `arrival`.
    pub fn add_rows(&mut self, arrival: u64, batch: &RecordBatch) -> Result<()> {
        let keys = RowKeys::of(batch)?;
        let mut hashes = Vec::with_capacity(batch.num_rows() + batch.num_rows() / 4);
        for r in 0..batch.num_rows() {
            let row = row_number(r)?;
            keys.keys(r, |k| hashes.push((k.hash(), row)));
        }
        self.rows.insert(arrival, &hashes);
        Ok(())
    }

    /// Indexes a batch of notable rows (the event schema's columns) by event id.
    pub fn add_notable(&mut self, arrival: u64, batch: &RecordBatch) -> Result<()> {
        let ids = Texts::of(batch, "event_id")?;
        let mut hashes = Vec::with_capacity(batch.num_rows());
        for r in 0..batch.num_rows() {
            if let Some(id) = ids.get(r) {
                hashes.push((Key::Event(id).hash(), row_number(r)?));
            }
        }
        self.notable.insert(arrival, &hashes);
        Ok(())
    }

    /// Bytes the index takes: its refs, and its maps' slots by their capacity (a key
    /// and a ref, and hashbrown's control byte).
    pub fn bytes(&self) -> usize {
        [&self.rows, &self.notable]
            .iter()
            .map(|i| {
                let refs: usize = i
                    .chunks
                    .iter()
                    .map(|c| (c.rows.capacity() + c.back.capacity()) * 4)
                    .sum();
                refs + i.heads.capacity() * 17
            })
            .sum()
    }

    /// Forgets what `rows` and `notable` evicted.
    pub fn evict(&mut self, rows: &Retained, notable: &Retained) {
        self.rows.evict(rows.first_arrival());
        self.notable.evict(notable.first_arrival());
    }

    /// The rows of `rows` (the window's, as held) and `notable` that `search` finds, by
    /// batch in arrival order (the window's rows first), unpacked with `packing`.
    pub fn find(
        &self,
        rows: &Retained,
        notable: &Retained,
        packing: &WindowPacking,
        search: Search<'_>,
    ) -> Result<Vec<Found>> {
        // (from the notable rows?, arrival) → (row, story) pairs found there.
        let mut hits: BTreeMap<(bool, u64), Vec<(usize, &str)>> = BTreeMap::new();
        let mut row_keys: StdHashMap<u64, RowKeys<'_>> = StdHashMap::new();
        let first_unseen = search
            .seen
            .map(|(r, n)| (rows.first_unseen(r), notable.first_unseen(n)));
        let keys = search
            .new
            .iter()
            .map(|k| (k, false))
            .chain(search.known.iter().map(|k| (k, true)));
        for ((story, key_type, key), known) in keys {
            let Some(key) = Key::parse(key_type, key) else {
                continue;
            };
            let hash = key.hash();
            // A known key: only rows of batches that arrived since, or at or after the
            // earlier evaluation's end (see `Retained::range_unseen`).
            let unseen = search.seen.zip(first_unseen).filter(|_| known);
            let from = |arrival: u64, seen: Option<Seen>| {
                seen.map_or(search.from, |s| s.unseen_from(arrival, search.from))
            };
            if let Key::Event(id) = key {
                let (seen, first) = (unseen.map(|u| u.0.1), unseen.map_or(0, |u| u.1.1));
                self.notable.each(hash, first, |arrival, r| {
                    let Some((batch, times)) = notable.batch(arrival) else {
                        return Ok(());
                    };
                    if in_range(times, r, from(arrival, seen), search.end)
                        && Texts::of(batch, "event_id")?.get(r) == Some(id)
                    {
                        hits.entry((true, arrival)).or_default().push((r, story));
                    }
                    Ok(())
                })?;
                continue;
            }
            let (seen, first) = (unseen.map(|u| u.0.0), unseen.map_or(0, |u| u.1.0));
            self.rows.each(hash, first, |arrival, r| {
                let Some((batch, times)) = rows.batch(arrival) else {
                    return Ok(());
                };
                if !in_range(times, r, from(arrival, seen), search.end) {
                    return Ok(());
                }
                let keys = match row_keys.entry(arrival) {
                    std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => v.insert(RowKeys::of(batch)?),
                };
                // A hash names a key but for collisions: the row must have it.
                if keys.has(r, &key) {
                    hits.entry((false, arrival)).or_default().push((r, story));
                }
                Ok(())
            })?;
        }
        let mut out = Vec::with_capacity(hits.len());
        for ((from_notable, arrival), mut pairs) in hits {
            let (held, batch) = if from_notable {
                (false, notable.batch(arrival))
            } else {
                (true, rows.batch(arrival))
            };
            let Some((batch, _)) = batch else {
                continue;
            };
            pairs.sort_unstable();
            pairs.dedup();
            let mut distinct: Vec<u32> = pairs.iter().map(|(r, _)| *r as u32).collect();
            distinct.dedup();
            let mut stories: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (r, story) in &pairs {
                let at = distinct.partition_point(|d| (*d as usize) < *r);
                stories.entry(story).or_default().push(at);
            }
            let taken = take_record_batch(batch, &UInt32Array::from(distinct))?;
            let rows = if held { packing.plain(&taken)? } else { taken };
            out.push(Found {
                rows,
                stories: stories
                    .into_iter()
                    .map(|(s, r)| (s.to_string(), r))
                    .collect(),
            });
        }
        Ok(out)
    }
}

/// Whether row `r`'s event time is within `from..end` (a row without one is in none).
fn in_range(times: &TimestampNanosecondArray, r: usize, from: i64, end: i64) -> bool {
    times.is_valid(r) && (from..end).contains(&times.value(r))
}

/// Row `r` as a `u32` index (what Arrow's take kernels read).
pub(crate) fn row_number(r: usize) -> Result<u32> {
    u32::try_from(r).map_err(|_| Error::Input(format!("a batch of over {} rows", u32::MAX)))
}

#[cfg(test)]
mod tests {
    use tapio_schemas::{
        ObjectRef, UnifiedEvent, event_schema, events_from_batch, events_to_batch,
    };

    use super::*;
    use crate::runner::tests::pod_event;

    /// The window's rows and notable rows, indexed as the engine indexes them.
    #[derive(Default)]
    struct Window {
        packing: WindowPacking,
        rows: Retained,
        notable: Retained,
        index: ContextIndex,
        /// Hold rows plain, as the newest are until packed.
        plain: bool,
    }

    impl Window {
        fn push(&mut self, events: &[UnifiedEvent]) {
            let batch = events_to_batch(events);
            let pieces = match self.plain {
                true => self.packing.pieces(&batch).unwrap(),
                false => self.packing.store(&batch).unwrap(),
            };
            for b in pieces {
                self.rows.push(b).unwrap();
                let arrival = self.rows.last_arrival();
                let (b, _) = self.rows.batch(arrival).unwrap();
                self.index.add_rows(arrival, b).unwrap();
            }
        }

        fn push_notable(&mut self, events: &[UnifiedEvent]) {
            self.notable.push(events_to_batch(events)).unwrap();
            let arrival = self.notable.last_arrival();
            let (b, _) = self.notable.batch(arrival).unwrap();
            self.index.add_notable(arrival, b).unwrap();
        }

        fn evict(&mut self, before: i64) {
            self.rows.evict(before);
            self.notable.evict(before);
            self.index.evict(&self.rows, &self.notable);
        }

        /// (story, event id) of each row found, sorted.
        fn find(&self, search: Search<'_>) -> Vec<(String, String)> {
            let found = self
                .index
                .find(&self.rows, &self.notable, &self.packing, search)
                .unwrap();
            let mut out = Vec::new();
            for f in &found {
                let events = events_from_batch(&f.rows).unwrap();
                for (story, rows) in &f.stories {
                    out.extend(
                        rows.iter()
                            .map(|r| (story.clone(), events[*r].event_id.clone())),
                    );
                }
            }
            out.sort();
            out
        }

        fn everything(&self) -> Search<'static> {
            Search {
                new: &[],
                known: &[],
                seen: None,
                from: i64::MIN,
                end: i64::MAX,
            }
        }
    }

    fn at(id: &str, pod: &str, t: i64) -> UnifiedEvent {
        let mut e = pod_event(0);
        e.event_id = id.into();
        e.object.name = pod.into();
        e.pod = Some(pod.into());
        e.event_time = t;
        e
    }

    /// The window keeps messages, event ids, owner chains and attributes packed; the
    /// rows found come back with each as it arrived (empty lists and maps included), in
    /// the event schema's types, for rows packed before the codec had a table (raw) and
    /// after.
    #[test]
    fn found_rows_come_back_unpacked() {
        let mut w = Window::default();
        let events: Vec<_> = (0..20_000).map(pod_event).collect();
        for c in events.chunks(4096) {
            w.push(c);
        }
        let coded = |arrival: u64| {
            let (b, _) = w.rows.batch(arrival).unwrap();
            let m = b.column_by_name("message").unwrap().as_binary::<i32>();
            (0..m.len()).find(|&i| m.is_valid(i)).map(|i| m.value(i)[0])
        };
        assert_eq!(coded(1), Some(crate::packed_text::RAW));
        assert_eq!(coded(5), Some(1));

        let keys = [("s1", "pod", "shop/web-7")];
        let search = Search {
            new: &keys,
            ..w.everything()
        };
        let found = w
            .index
            .find(&w.rows, &w.notable, &w.packing, search)
            .unwrap();
        // The window's narrow dictionary keys come back as the event schema's.
        for column in ["source", "object_namespace", "node", "reason"] {
            let field = event_schema().field_with_name(column).unwrap().clone();
            for f in &found {
                assert_eq!(
                    f.rows.column_by_name(column).unwrap().data_type(),
                    field.data_type()
                );
            }
        }
        let mut got: Vec<_> = found
            .iter()
            .flat_map(|f| events_from_batch(&f.rows).unwrap())
            .map(|e| (e.event_id, e.message, e.owner_chain, e.attributes))
            .collect();
        got.sort();
        let mut want: Vec<_> = events
            .iter()
            .filter(|e| e.pod.as_deref() == Some("web-7"))
            .map(|e| {
                let e = e.clone();
                (e.event_id, e.message, e.owner_chain, e.attributes)
            })
            .collect();
        want.sort();
        assert_eq!(got.len(), 400);
        assert_eq!(got, want);
    }

    /// Each kind of key finds its rows however the window holds them: a pod that is
    /// the row's object (held once), a pod that is not, a workload's own events (their
    /// names held as a dictionary), an object's, a node's; a signal's row among the
    /// notable rows by id. The same in rows still plain.
    #[test]
    fn each_kind_of_key_finds_its_rows() {
        each_kind_of_key_finds_its_rows_held(false);
        each_kind_of_key_finds_its_rows_held(true);
    }

    fn each_kind_of_key_finds_its_rows_held(plain: bool) {
        let event = |id: &str, kind: &str, name: &str| {
            let mut e = pod_event(0);
            e.event_id = id.into();
            e.object.kind = kind.into();
            e.object.name = name.into();
            e.pod = None;
            e
        };
        let mut own = event("own", "Pod", "web-1");
        own.pod = Some("web-1".into());
        let mut kernel = event("kernel", "Node", "node-3");
        kernel.pod = Some("web-1".into());
        kernel.node = Some("node-3".into());
        let mut node = event("node", "Node", "node-3");
        node.node = Some("node-3".into());
        let mut other_pod = event("other-pod", "Pod", "web-2");
        other_pod.pod = Some("web-2".into());
        let mut rs = event("rs", "ReplicaSet", "web-7f");
        rs.workload = Some(ObjectRef::new("Deployment", "shop", "web"));
        let mut other_rs = event("other-rs", "ReplicaSet", "api-5c");
        other_rs.workload = Some(ObjectRef::new("Deployment", "shop", "api"));
        let mut w = Window {
            plain,
            ..Window::default()
        };
        w.push(&[own, kernel, node, other_pod.clone(), rs, other_rs]);
        w.push_notable(&[other_pod]);

        let keys = [
            ("pod", "pod", "shop/web-1"),
            ("workload", "workload", "Deployment/shop/web"),
            ("object", "object", "ReplicaSet/shop/api-5c"),
            ("node", "node", "node-3"),
            ("signal", "event", "other-pod"),
            // Malformed keys find nothing.
            ("bad", "pod", "web-1"),
            ("bad", "object", "shop/web-1"),
        ];
        let got = w.find(Search {
            new: &keys,
            ..w.everything()
        });
        let got: Vec<(&str, &str)> = got.iter().map(|(s, e)| (s.as_str(), e.as_str())).collect();
        assert_eq!(
            got,
            [
                ("node", "kernel"),
                ("node", "node"),
                ("object", "other-rs"),
                ("pod", "kernel"),
                ("pod", "own"),
                ("signal", "other-pod"),
                ("workload", "rs"),
            ],
            "plain: {plain}"
        );
    }

    /// A known key reads only what the last evaluation did not see: batches that
    /// arrived since (late rows included) and earlier rows at or after its end. New
    /// keys read the whole window; evicted batches are gone from both.
    #[test]
    fn known_keys_read_only_unseen_rows() {
        let mut w = Window::default();
        w.push(&[at("a10", "web-1", 10), at("a40", "web-1", 40)]);
        w.push_notable(&[at("a10", "web-1", 10)]);
        let key = [("s", "pod", "shop/web-1")];
        let signal = [("s", "event", "a10")];
        let first = w.find(Search {
            new: &key,
            end: 30,
            ..w.everything()
        });
        assert_eq!(first, [("s".into(), "a10".into())]);
        let seen = (w.rows.seen(30), w.notable.seen(30));

        w.push(&[
            at("b25", "web-1", 25),
            at("b50", "web-1", 50),
            at("c50", "web-2", 50),
        ]);
        let known = w.find(Search {
            known: &key,
            seen: Some(seen),
            end: 60,
            ..w.everything()
        });
        let ids: Vec<&str> = known.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(ids, ["a40", "b25", "b50"]);
        // The signal's own row was seen: a known event key does not find it again.
        let again = w.find(Search {
            known: &signal,
            seen: Some(seen),
            end: 60,
            ..w.everything()
        });
        assert!(again.is_empty(), "{again:?}");

        // The first batch ends at 40: evicted before 45.
        w.evict(45);
        let new = w.find(Search {
            new: &key,
            end: 60,
            ..w.everything()
        });
        let ids: Vec<&str> = new.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(ids, ["b25", "b50"]);
        assert!(
            w.find(Search {
                new: &signal,
                ..w.everything()
            })
            .is_empty()
        );
    }
}
