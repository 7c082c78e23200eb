//! The engine's memory of past incidents: which earlier stories resemble a new one
//! (MinHash signatures bucketed by LSH bands), and whether its root cause failed the same
//! way before (recurrence, with its period). Filled from the stored history at start
//! ([`load`]) and with every story the engine resolves, so a capture with the same
//! incident every six hours says so from its second occurrence on.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use arrow::array::{Array, BinaryArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use tapio_schemas::{Recurrence, SimilarIncident, Story, story_schema};
use tapio_udfs::lsh_bands::bands;
use tapio_udfs::minhash::{self, K};
use tapio_udfs::msg_template::template;

const NS: i64 = 1_000_000_000;

/// LSH bands of the signature: 16 bands of 4 rows, so pairs above ~0.5 similarity share
/// a bucket with high probability (1 - (1 - 0.5^4)^16 ≈ 0.64 at 0.5, ≈ 0.99 at 0.7).
const BANDS: usize = 16;
/// Similarity below which an earlier story is not listed.
pub const MIN_SIMILARITY: f64 = 0.5;
/// Similar incidents listed per story.
pub const MAX_SIMILAR: usize = 3;
/// How far back recurrence looks, from the new story's start.
pub const RECURRENCE_LOOKBACK_SECS: i64 = 30 * 24 * 3600;
/// Stories remembered by default; past it the older half is forgotten.
pub const MAX_REMEMBERED: usize = 100_000;
/// Timeline lines that go into a signature (the first ones: how it started).
const SIGNATURE_LINES: usize = 40;
/// Entries read per LSH bucket on recall, the newest: a root cause that failed the same
/// way thousands of times fills its buckets with near-identical stories, and the newest
/// of them are the ones worth listing.
const BUCKET_SCAN: usize = 256;

/// A resolved story as the memory keeps it.
#[derive(Debug, Clone)]
struct Past {
    id: String,
    title: String,
    first_seen: i64,
    last_seen: i64,
    signature: [u32; K],
    /// Recurrence key (see [`root_key`]).
    root: String,
}

/// What the memory says about one story.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recall {
    /// Earlier similar incidents, most similar first.
    pub similar: Vec<SimilarIncident>,
    /// Set when the same root cause failed the same way before.
    pub recurrence: Option<Recurrence>,
}

/// Past incidents, searchable by similarity and by root cause.
#[derive(Debug, Clone)]
pub struct Memory {
    /// Stories kept at most.
    cap: usize,
    past: Vec<Past>,
    /// Position in `past` by story id.
    by_id: HashMap<String, usize>,
    /// LSH band key → positions in `past`.
    buckets: HashMap<u64, Vec<usize>>,
    /// Recurrence key (pattern, root kind, namespace, name) → positions in `past`.
    by_root: HashMap<String, Vec<usize>>,
}

/// The text a story's signature is taken from: what kind of failure it is, on what kind
/// of object, and what its events said with names, numbers and ids masked.
pub fn signature_text(s: &Story) -> String {
    let mut t = format!(
        "{} {} {}",
        s.pattern, s.root_cause.kind, s.root_cause.reason
    );
    for w in &s.affected.workloads {
        t.push(' ');
        t.push_str(w.split('/').next().unwrap_or_default());
    }
    // Each distinct message once: a story of 30 BackOff lines says one thing 30 times.
    let mut seen = std::collections::HashSet::new();
    for e in s.timeline.iter().take(SIGNATURE_LINES) {
        let m = template(&e.text);
        if seen.insert(m.clone()) {
            t.push_str(" | ");
            t.push_str(&m);
        }
    }
    t
}

/// The MinHash signature of a story (see [`signature_text`]).
pub fn signature(s: &Story) -> [u32; K] {
    // The text always has words: the pattern id at least.
    minhash::signature(&signature_text(s)).unwrap_or([u32::MAX; K])
}

/// [`signature`] of each story, computed on every core (a masked template and a MinHash
/// per timeline line: ~0.1 ms a story).
fn signatures(stories: &[&Story]) -> Vec<[u32; K]> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let chunk = stories.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = stories
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|s| signature(s)).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// The column of the stored `stories` table that holds each story's [`signature`], as
/// the `minhash` function writes one (64 little-endian u32): the memory loads it rather
/// than recomputing it, and SQL can compare stories with `minhash_similarity` and
/// `lsh_bands` over it.
pub const SIGNATURE_COLUMN: &str = "signature";

static STORED_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let stories = story_schema();
    let mut fields: Vec<Field> = stories
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(SIGNATURE_COLUMN, DataType::Binary, true));
    Arc::new(Schema::new_with_metadata(
        fields,
        stories.metadata().clone(),
    ))
});

/// The schema of the stored `stories` table: [`story_schema`] and [`SIGNATURE_COLUMN`]
/// (nullable: stories stored before it read as null).
pub fn stored_story_schema() -> SchemaRef {
    STORED_SCHEMA.clone()
}

/// A batch of [`story_schema`] rows with their signatures added, for the stored table;
/// a batch that has them already is returned as it is.
pub fn with_signatures(batch: &RecordBatch) -> crate::Result<RecordBatch> {
    if batch.column_by_name(SIGNATURE_COLUMN).is_some() {
        return Ok(batch.clone());
    }
    let stories = tapio_schemas::rows::from_batch::<Story>(batch)?;
    let all: Vec<&Story> = stories.iter().collect();
    let sigs: BinaryArray = signatures(&all)
        .iter()
        .map(|s| Some(minhash::to_bytes(s)))
        .collect();
    let mut columns = batch.columns().to_vec();
    columns.push(Arc::new(sigs));
    Ok(RecordBatch::try_new(stored_story_schema(), columns)?)
}

/// A stored signature read back; `None` when it is missing or not 64 u32 (not written
/// by Tapio: that story then signs from what was read, without its timeline).
fn stored_signature(bytes: Option<&[u8]>) -> Option<[u32; K]> {
    let bytes = bytes.filter(|b| b.len() == K * 4)?;
    let mut sig = [0u32; K];
    for (v, b) in sig.iter_mut().zip(bytes.chunks_exact(4)) {
        *v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    Some(sig)
}

impl Default for Memory {
    fn default() -> Self {
        Memory::with_capacity(MAX_REMEMBERED)
    }
}

fn root_key(s: &Story) -> String {
    let r = &s.root_cause;
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        s.pattern, r.kind, r.namespace, r.name
    )
}

fn band_keys(sig: &[u32; K]) -> Vec<u64> {
    bands(&minhash::to_bytes(sig), BANDS).unwrap_or_default()
}

impl Memory {
    /// A memory that keeps at most `cap` stories (at least 2).
    pub fn with_capacity(cap: usize) -> Self {
        Memory {
            cap: cap.max(2),
            past: Vec::new(),
            by_id: HashMap::new(),
            buckets: HashMap::new(),
            by_root: HashMap::new(),
        }
    }

    /// Stories remembered.
    pub fn len(&self) -> usize {
        self.past.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.past.is_empty()
    }

    /// Remembers a resolved story (a story id already remembered is kept as first seen).
    pub fn remember(&mut self, s: &Story) {
        self.remember_signed(s, || signature(s));
    }

    /// Remembers many stories, in order, as [`Memory::remember`] each: the signatures
    /// (most of the cost: a masked template and MinHash per timeline line) are computed
    /// on every core first.
    pub fn remember_all(&mut self, stories: &[Story]) {
        self.remember_signing(stories.iter().map(|s| (s, None)));
    }

    /// Remembers a loaded history, in order: stored signatures as they are, the others
    /// (stories stored before signatures were) computed as [`Memory::remember_all`] does.
    /// Loading the stored history at start goes through here.
    pub fn remember_history(&mut self, h: &History) {
        self.remember_signing(h.stories.iter().map(|(s, sig)| (s, *sig)));
    }

    /// Remembers stories in order, computing the signatures not given on every core.
    fn remember_signing<'a>(
        &mut self,
        stories: impl Iterator<Item = (&'a Story, Option<[u32; K]>)>,
    ) {
        let stories: Vec<_> = stories.collect();
        let unsigned: Vec<&Story> = stories
            .iter()
            .filter(|(_, sig)| sig.is_none())
            .map(|(s, _)| *s)
            .collect();
        let mut computed = signatures(&unsigned).into_iter();
        for (s, sig) in stories {
            if let Some(sig) = sig.or_else(|| computed.next()) {
                self.remember_signed(s, || sig);
            }
        }
    }

    fn remember_signed(&mut self, s: &Story, signature: impl FnOnce() -> [u32; K]) {
        if self.by_id.contains_key(&s.id) {
            return;
        }
        if self.past.len() >= self.cap {
            self.forget_older_half();
        }
        self.insert(Past {
            id: s.id.clone(),
            title: s.title.clone(),
            first_seen: s.first_seen,
            last_seen: s.last_seen,
            signature: signature(),
            root: root_key(s),
        });
    }

    fn insert(&mut self, p: Past) {
        let i = self.past.len();
        for k in band_keys(&p.signature) {
            self.buckets.entry(k).or_default().push(i);
        }
        self.by_root.entry(p.root.clone()).or_default().push(i);
        self.by_id.insert(p.id.clone(), i);
        self.past.push(p);
    }

    /// Keeps the newer half (by start), re-indexed.
    fn forget_older_half(&mut self) {
        let mut past = std::mem::take(&mut self.past);
        past.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.id.cmp(&b.id)));
        let keep = past.split_off(past.len() / 2);
        *self = Memory::with_capacity(self.cap);
        for p in keep {
            self.insert(p);
        }
    }

    /// What the memory knows of `s`: earlier stories that resemble it, and earlier
    /// occurrences of its root cause failing the same way (within
    /// [`RECURRENCE_LOOKBACK_SECS`]). Earlier means ended before `s` started: the engine
    /// has resolved all of those by the time it resolves `s`, whatever the batching, so
    /// replay and the Kafka path recall the same.
    pub fn recall(&self, s: &Story) -> Recall {
        let sig = signature(s);
        let mut candidates: Vec<usize> = band_keys(&sig)
            .iter()
            .filter_map(|k| self.buckets.get(k))
            .flat_map(|b| b.iter().rev().take(BUCKET_SCAN))
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let root = root_key(s);
        // (similarity, same root cause, start, position): scored before anything is cloned.
        let mut scored: Vec<(f64, bool, i64, usize)> = candidates
            .into_iter()
            .filter(|i| {
                let p = &self.past[*i];
                p.id != s.id && p.last_seen < s.first_seen
            })
            .map(|i| {
                let p = &self.past[i];
                (
                    minhash::agreement(&sig, &p.signature),
                    p.root == root,
                    p.first_seen,
                    i,
                )
            })
            .filter(|c| c.0 >= MIN_SIMILARITY)
            .collect();
        // Most similar first; among equals its own root cause's past, then the newest.
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(b.1.cmp(&a.1))
                .then(b.2.cmp(&a.2))
                .then(self.past[a.3].id.cmp(&self.past[b.3].id))
        });
        let similar: Vec<SimilarIncident> = scored
            .into_iter()
            .take(MAX_SIMILAR)
            .map(|(similarity, _, first_seen, i)| SimilarIncident {
                id: self.past[i].id.clone(),
                title: self.past[i].title.clone(),
                first_seen,
                similarity,
            })
            .collect();

        let from = s.first_seen.saturating_sub(RECURRENCE_LOOKBACK_SECS * NS);
        let mut starts: Vec<i64> = self
            .by_root
            .get(&root_key(s))
            .into_iter()
            .flatten()
            .map(|i| &self.past[*i])
            .filter(|p| p.id != s.id && p.first_seen >= from && p.last_seen < s.first_seen)
            .map(|p| p.first_seen)
            .collect();
        let recurrence = (!starts.is_empty()).then(|| {
            starts.sort_unstable();
            let previous = *starts.last().unwrap_or(&s.first_seen);
            starts.push(s.first_seen);
            let mut gaps: Vec<i64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
            gaps.sort_unstable();
            Recurrence {
                count: starts.len() as u32,
                since: starts[0],
                previous,
                period_secs: (starts.len() >= 3).then(|| gaps[gaps.len() / 2] / NS),
            }
        });
        Recall {
            similar,
            recurrence,
        }
    }
}

/// Writes what the memory recalled into the story: the fields, and a sentence in the
/// summary when it recurs.
pub fn attach(s: &mut Story, r: Recall) {
    if let Some(rec) = &r.recurrence {
        s.summary.push(' ');
        s.summary.push_str(&recurrence_sentence(rec));
    }
    s.similar_incidents = r.similar;
    s.recurrence = r.recurrence;
}

/// "Recurring: the 3rd time since 2026-11-21 03:00 UTC, about every 6 h."
pub fn recurrence_sentence(r: &Recurrence) -> String {
    let since = tapio_schemas::time::format_ns(r.since);
    let since = since.get(..16).unwrap_or(&since).replace('T', " ");
    let mut t = format!("Recurring: the {} time since {since} UTC", ordinal(r.count));
    if let Some(p) = r.period_secs {
        t.push_str(&format!(", about every {}", duration(p)));
    }
    t.push('.');
    t
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A period for people: minutes under 2 h, hours under 2 days, then days.
fn duration(secs: i64) -> String {
    match secs {
        s if s < 2 * 3600 => format!("{} min", (s + 30) / 60),
        s if s < 2 * 86_400 => format!("{} h", (s + 1800) / 3600),
        s => format!("{} days", (s + 43_200) / 86_400),
    }
}

/// Stories of the stored history with their stored signatures, oldest first.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Each story with its stored signature: `None` for one stored before signatures
    /// were (computed when remembered). One with a signature is read without its
    /// timeline: the memory needs only its id, title, times and root cause.
    pub stories: Vec<(Story, Option<[u32; K]>)>,
}

impl History {
    /// Stories held.
    pub fn len(&self) -> usize {
        self.stories.len()
    }

    /// Whether no story is held.
    pub fn is_empty(&self) -> bool {
        self.stories.is_empty()
    }
}

impl From<Vec<Story>> for History {
    /// Stories without stored signatures (the memory computes them).
    fn from(stories: Vec<Story>) -> Self {
        History {
            stories: stories.into_iter().map(|s| (s, None)).collect(),
        }
    }
}

/// The newest [`MAX_REMEMBERED`] resolved stories of the stored history, oldest first:
/// what [`Memory`] starts from (a longer history would only be forgotten again).
pub async fn load(dir: &crate::store::DataDir) -> crate::Result<History> {
    let ctx = crate::sql::session(dir).await?;
    let batches = ctx
        // Only what the memory reads: the signature, or where none is stored the
        // timeline's first lines that make one; no event ids, summary or links to other
        // incidents. Rows go through serde, so every byte not read is time saved.
        .sql(&format!(
            "SELECT id, pattern, title, '' AS summary, severity, confidence, state, \
                    root_cause, affected, \
                    CASE WHEN {SIGNATURE_COLUMN} IS NULL \
                         THEN array_slice(timeline, 1, {SIGNATURE_LINES}) \
                         ELSE array_slice(timeline, 1, 0) END AS timeline, \
                    recommendations, first_seen, last_seen, \
                    arrow_cast(make_array(), 'List(Utf8)') AS event_ids, \
                    {SIGNATURE_COLUMN} \
             FROM stories WHERE state = 'resolved' \
             ORDER BY first_seen DESC, id DESC LIMIT {MAX_REMEMBERED}"
        ))
        .await?
        .collect()
        .await?;
    let mut out = History::default();
    for b in &batches {
        let sigs = b
            .column_by_name(SIGNATURE_COLUMN)
            .and_then(|c| c.as_any().downcast_ref::<BinaryArray>())
            .ok_or_else(|| crate::Error::Internal("stories: signature column".into()))?;
        let rows = b.project(&(0..b.num_columns() - 1).collect::<Vec<_>>())?;
        let stories = tapio_schemas::rows::from_batch::<Story>(&rows)?;
        out.stories
            .extend(stories.into_iter().zip(sigs.iter().map(stored_signature)));
    }
    out.stories.reverse();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapio_schemas::{Affected, RootCause, TimelineEntry};

    const H: i64 = 3600 * NS;

    /// A story of `pattern` on `Deployment/ns/name`, its timeline saying `lines`.
    fn story(id: &str, pattern: &str, name: &str, start: i64, lines: &[&str]) -> Story {
        Story {
            id: id.into(),
            pattern: pattern.into(),
            title: format!("{pattern} {name}"),
            summary: "s".into(),
            severity: tapio_schemas::Severity::Error,
            confidence: 0.9,
            state: "resolved".into(),
            root_cause: RootCause {
                kind: "Deployment".into(),
                namespace: "ns".into(),
                name: name.into(),
                reason: "OOMKilled".into(),
                evidence: vec![],
            },
            affected: Affected {
                workloads: vec![format!("Deployment/ns/{name}")],
                ..Default::default()
            },
            timeline: lines
                .iter()
                .enumerate()
                .map(|(i, l)| TimelineEntry {
                    time: start + i as i64 * NS,
                    source: "k8s-event".into(),
                    text: l.to_string(),
                    event_id: format!("{id}-{i}"),
                })
                .collect(),
            recommendations: vec![],
            first_seen: start,
            last_seen: start + 10 * 60 * NS,
            event_ids: vec![],
            similar_incidents: vec![],
            recurrence: None,
        }
    }

    fn oom(id: &str, name: &str, pod: &str, start: i64) -> Story {
        story(
            id,
            "oom-killed",
            name,
            start,
            &[
                &format!("pod ns/{pod} was created"),
                &format!("container {name} in pod ns/{pod} was OOM-killed (exit 137), limit 512Mi"),
                &format!(
                    "pod ns/{pod}: BackOff: Back-off restarting failed container {name} in pod {pod}_ns(0d9f2c1e-8b7a-4c3d-9e6f-5a4b3c2d1e0f)"
                ),
            ],
        )
    }

    #[test]
    fn templated_messages_make_stories_similar_across_pods() {
        let mut m = Memory::default();
        m.remember(&oom("a", "mysql", "mysql-7d9f8b6c5d-x2k4p", 0));
        m.remember(&oom("l", "ledger", "ledger-5c6d7e8f9a-abcde", 0));
        m.remember(&story(
            "b",
            "image-pull",
            "web",
            0,
            &["pod ns/web-1 failed to pull image registry.example.com/web:1.2: not found"],
        ));
        // The same failure on another pod of mysql, a day later: its own past first, then
        // the other workload that failed the same way (names and numbers are masked, the
        // container name is not); the image pull failure is not similar.
        let again = oom("c", "mysql", "mysql-7d9f8b6c5d-q8z1m", 24 * H);
        let r = m.recall(&again);
        assert_eq!(
            r.similar.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["a", "l"],
            "{:?}",
            r.similar
        );
        assert_eq!(r.similar[0].similarity, 1.0);
        assert!(
            r.similar[1].similarity >= MIN_SIMILARITY && r.similar[1].similarity < 1.0,
            "{:?}",
            r.similar
        );
        // Not itself, and nothing that had not ended when it started.
        assert!(
            m.recall(&oom("a", "mysql", "mysql-x", 0))
                .similar
                .is_empty()
        );
        assert!(
            m.recall(&oom("e", "mysql", "mysql-x", 60 * NS))
                .similar
                .is_empty()
        );
    }

    #[test]
    fn recurrence_counts_the_same_root_failing_again_with_its_period() {
        let mut m = Memory::default();
        // Every 6 hours for a day; one 40 days earlier is out of the look-back; another
        // workload and another pattern do not count.
        for k in 0..4 {
            m.remember(&oom(&format!("r{k}"), "mysql", "mysql-0", k * 6 * H));
        }
        m.remember(&oom("old", "mysql", "mysql-0", -40 * 24 * H));
        m.remember(&oom("x", "ledger", "ledger-0", 6 * H));
        m.remember(&story("y", "crashloop", "mysql", 12 * H, &["crash"]));
        let now = oom("r4", "mysql", "mysql-0", 24 * H);
        let r = m.recall(&now).recurrence.expect("recurs");
        assert_eq!(r.count, 5);
        assert_eq!(r.since, 0);
        assert_eq!(r.previous, 18 * H);
        assert_eq!(r.period_secs, Some(6 * 3600));
        let mut s = now.clone();
        attach(&mut s, m.recall(&now));
        assert!(
            s.summary
                .ends_with("Recurring: the 5th time since 1970-01-01 00:00 UTC, about every 6 h."),
            "{}",
            s.summary
        );
        // The second occurrence recurs without a period yet.
        let mut first = Memory::default();
        first.remember(&oom("r0", "mysql", "mysql-0", 0));
        let r = first
            .recall(&oom("r1", "mysql", "mysql-0", 6 * H))
            .recurrence
            .expect("second time");
        assert_eq!((r.count, r.period_secs), (2, None));
        assert_eq!(
            first.recall(&oom("r0", "mysql", "mysql-0", 0)).recurrence,
            None
        );
    }

    #[test]
    fn a_full_memory_forgets_the_older_half() {
        let mut m = Memory::with_capacity(4);
        for k in 0..5 {
            m.remember(&oom(&format!("r{k}"), "mysql", "mysql-0", k * H));
        }
        assert_eq!(m.len(), 3, "4 kept, the older 2 forgotten, then one added");
        let r = m.recall(&oom("n", "mysql", "mysql-0", 10 * H));
        assert_eq!(r.recurrence.map(|r| (r.count, r.since)), Some((4, 2 * H)));
        assert!(r.similar.iter().all(|s| s.first_seen >= 2 * H));
    }

    #[test]
    fn remembering_all_at_once_is_remembering_each() {
        let mut past: Vec<Story> = (0..9)
            .map(|k| oom(&format!("r{k}"), "mysql", "mysql-0", k * 6 * H))
            .collect();
        past.push(oom("x", "ledger", "ledger-0", 6 * H));
        past.push(oom("r1", "mysql", "mysql-0", 99 * H)); // an id seen before: kept first
        let mut each = Memory::with_capacity(8);
        for s in &past {
            each.remember(s);
        }
        let mut all = Memory::with_capacity(8);
        all.remember_all(&past);
        assert_eq!(all.len(), each.len());
        let now = oom("n", "mysql", "mysql-0", 60 * H);
        let (a, e) = (all.recall(&now), each.recall(&now));
        assert_eq!(format!("{a:?}"), format!("{e:?}"));
        assert!(a.recurrence.is_some());
    }

    #[test]
    fn periods_read_as_people_say_them() {
        assert_eq!(duration(45 * 60), "45 min");
        assert_eq!(duration(6 * 3600 + 600), "6 h");
        assert_eq!(duration(3 * 86_400), "3 days");
        assert_eq!(ordinal(1), "1st");
        assert_eq!(ordinal(12), "12th");
        assert_eq!(ordinal(22), "22nd");
        assert_eq!(ordinal(103), "103rd");
    }
}
