//! The events an open incident holds (its signals' rows and its context), as Arrow rows
//! rather than `UnifiedEvent` values: with a million events in the look-back, stories
//! held 261k context events, and as values (their strings, maps and tree nodes) they
//! took ~1.6 KB each, 410 MiB in all. Held as rows they take about what the window's
//! rows take (their messages, owner chains and attributes packed), plus their id in the
//! index. They become `UnifiedEvent`s only when a story is told
//! ([`HeldEvents::decode`]): when it goes active and when it resolves. An incident of a
//! few events (most of them: a probe blip, one back-off) keeps them as values, which
//! costs less than Arrow batches of a row or two.
//!
//! Rows come in small batches (a story's new rows of one window). Batches are merged as
//! a binary counter carries: the last batch is merged into the one before once it holds
//! as many live rows, so an incident holds O(log n) batches and each row is copied
//! O(log n) times. A merge keeps only the live rows: an Event seen again with a higher
//! count replaces its row, and the old one is dropped then.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, TimestampNanosecondArray, UInt32Array,
};
use arrow::compute::{cast, interleave, take, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use tapio_schemas::{UnifiedEvent, as_strings, events_from_batch, events_to_batch};

use crate::context_index::row_number;
use crate::packed_text::PackedColumns;
use crate::window_rows::{window_rows, window_schema};
use crate::{Error, Result};

/// The window's columns, dictionaries decoded to plain strings: what held rows read back
/// as. A row taken from a window batch would otherwise keep that batch's whole
/// dictionary (and, through it, the batch) alive.
static PLAIN: LazyLock<SchemaRef> = LazyLock::new(|| {
    let window = window_schema();
    let fields: Vec<Field> = window
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Dictionary(_, _) => Field::new(f.name(), DataType::Utf8, f.is_nullable()),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, window.metadata().clone()))
});

/// Columns held rows keep FSST-packed until a story is told, as the window does (see
/// [`crate::packed_text`]): a story of 1,350 events holds them for as long as it is open.
const PACKED: [&str; 3] = ["message", "owner_chain", "attributes"];

/// [`PACKED`] of [`PLAIN`] with their codecs, shared by every incident of the process: a
/// value carries its table's number and tables are never dropped, so any engine's rows
/// read back whole; only how well they pack depends on what was seen first.
static HELD: LazyLock<PackedColumns> = LazyLock::new(|| PackedColumns::new(PLAIN.clone(), &PACKED));

/// The held rows' schema: [`PLAIN`] with [`PACKED`] as Binary.
static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| HELD.schema());

/// Events an incident holds before they are worth rows. A value costs ~1.6 KB (measured,
/// see the module doc); a one-row Arrow batch gives each of its 24 columns buffers and
/// array headers of their own, several KB by estimate (not measured apart). Most
/// incidents stay small: replaying the generated 10k capture closes 380 below the
/// threshold against 10 stories.
const FEW: usize = 16;

/// An incident's events, by id; see the module doc. Up to `FEW` (16) are kept as values.
#[derive(Debug, Clone, Default)]
pub struct HeldEvents {
    few: Few,
    rows: Rows,
}

/// Events held as values: sorted by id, in a vector of exactly their number. A map
/// would cost more than the events: a `BTreeMap`'s first node has room for 11 of them
/// (a `UnifiedEvent` is 704 bytes), ~8 KB, and with 48k pods ~5,200 small incidents
/// held one or two events each in 40 MiB of such nodes (measured with dhat, 1M events
/// in the window).
#[derive(Debug, Clone, Default)]
struct Few(Vec<UnifiedEvent>);

impl Few {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn at(&self, id: &str) -> std::result::Result<usize, usize> {
        self.0.binary_search_by(|e| e.event_id.as_str().cmp(id))
    }

    fn get(&self, id: &str) -> Option<&UnifiedEvent> {
        self.at(id).ok().map(|i| &self.0[i])
    }

    /// Adds `e`, replacing the event of its id.
    fn insert(&mut self, e: UnifiedEvent) {
        match self.at(&e.event_id) {
            Ok(i) => self.0[i] = e,
            Err(i) => {
                // At most `FEW` events: growing one at a time costs little, and the
                // vector holds no spare room.
                self.0.reserve_exact(1);
                self.0.insert(i, e);
            }
        }
    }

    fn remove(&mut self, id: &str) -> Option<UnifiedEvent> {
        let i = self.at(id).ok()?;
        let e = self.0.remove(i);
        self.0.shrink_to_fit();
        Some(e)
    }

    fn iter(&self) -> impl Iterator<Item = &UnifiedEvent> {
        self.0.iter()
    }
}

/// The rows of one batch that several incidents take (the rows a context search found
/// in one held batch). Incidents that keep their few events as values share one
/// decoding of the batch, on first need: taking each one's rows out of the batch before
/// decoding them cost more than decoding the batch once (with 48k pods ~0.7 s of 5.3).
/// Incidents that keep rows share its packing ([`Intake::pack`]), in chunks of up to
/// 1,024 rows (`INTAKE_CHUNK`): taking, packing and casting each one's few rows apart
/// cost that per column per incident (over 4 h of 1M events, 7,390 calls of ~9 rows;
/// shared, the context stage went 0.31–0.33 → 0.28–0.30 s of ~1 s, fat LTO, with the
/// decoding of `tapio_schemas` made faster at the same time).
#[derive(Debug)]
pub struct Intake<'a> {
    batch: &'a RecordBatch,
    values: Option<Vec<UnifiedEvent>>,
    /// Rows of `batch` to hold as rows, in chunks packed apart; each incident's rows are
    /// one run of a chunk.
    chunks: Vec<Vec<u32>>,
}

/// Rows an intake packs at once, but for an incident that takes more: an incident's rows
/// are packed together. It bounds how many rows are held twice for a moment (packed, and
/// as each incident holds them) when a search finds many, as a new incident's first
/// search of the whole look-back can; on the bench's inputs chunks of 64 or 1,024 rows
/// and one pack of every row measured the same peak RSS.
const INTAKE_CHUNK: usize = 1024;

/// Rows an incident takes from an [`Intake`], once it is packed: a run of one packed
/// chunk, with their event ids.
#[derive(Debug)]
pub struct Pending {
    chunk: usize,
    start: usize,
    ids: Vec<String>,
}

impl Pending {
    /// The chunk of the intake its rows are in (see [`Intake::pack`]).
    pub fn chunk(&self) -> usize {
        self.chunk
    }
}

/// What [`HeldEvents::offer`] did with the rows offered.
#[derive(Debug)]
pub enum Offer {
    /// This many were taken (as values; none were fresh, if 0).
    Taken(usize),
    /// Fresh rows wait to be held as rows: see [`HeldEvents::hold`].
    Pending(Pending),
}

impl<'a> Intake<'a> {
    /// `batch` (the window's columns, by name), nothing decoded or picked yet.
    pub fn new(batch: &'a RecordBatch) -> Self {
        Intake {
            batch,
            values: None,
            chunks: Vec::new(),
        }
    }

    /// Row `r` as a value.
    fn get(&mut self, r: usize) -> Result<UnifiedEvent> {
        if self.values.is_none() {
            // Columns are read by name: others beside them are passed over.
            self.values = Some(events_from_batch(self.batch)?);
        }
        self.values
            .as_ref()
            .and_then(|v| v.get(r))
            .cloned()
            .ok_or_else(|| Error::Internal(format!("held rows: no row {r}")))
    }

    /// Picks `rows` (of the batch), whose events have the ids `ids`, for one incident,
    /// in one run of a chunk.
    fn pick(&mut self, rows: &[usize], ids: Vec<String>) -> Result<Pending> {
        let full = |c: &Vec<u32>| !c.is_empty() && c.len() + rows.len() > INTAKE_CHUNK;
        if self.chunks.last().is_none_or(full) {
            self.chunks.push(Vec::new());
        }
        let chunk = self.chunks.len() - 1;
        let picked = &mut self.chunks[chunk];
        let start = picked.len();
        for r in rows {
            picked.push(row_number(*r)?);
        }
        Ok(Pending { chunk, start, ids })
    }

    /// The rows picked into `chunk`, as held rows: each [`Pending`] of it is a run of
    /// them.
    pub fn pack(&self, chunk: usize) -> Result<RecordBatch> {
        let rows = self
            .chunks
            .get(chunk)
            .map(Vec::as_slice)
            .unwrap_or_default();
        pack_rows(self.batch, rows.iter().map(|r| *r as usize))
    }
}

impl HeldEvents {
    /// Events held.
    pub fn len(&self) -> usize {
        self.few.len() + self.rows.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The occurrence count of event `id` as held.
    pub fn count_of(&self, id: &str) -> Option<i64> {
        self.few
            .get(id)
            .map(|e| e.count)
            .or_else(|| self.rows.count_of(id))
    }

    /// Ids of the held events, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        // One of the two is empty.
        self.few
            .iter()
            .map(|e| e.event_id.as_str())
            .chain(self.rows.ids())
    }

    /// The earliest event time held, or ever held by a part split off.
    pub fn min_time(&self) -> Option<i64> {
        let few = self.few.iter().map(|e| e.event_time).min();
        match (few, self.rows.min_time()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Adds `rows` of `batch` (the window's columns, by name; extra columns such as a
    /// story id are ignored). An event already held is replaced only by a row with a
    /// higher count (its reporter saw it again); anything else is a redelivery. Returns
    /// how many rows were taken.
    pub fn add(&mut self, batch: &RecordBatch, rows: &[usize]) -> Result<usize> {
        let mut intake = Intake::new(batch);
        match self.offer(&mut intake, rows)? {
            Offer::Taken(n) => Ok(n),
            Offer::Pending(p) => self.hold(&intake.pack(p.chunk)?, p),
        }
    }

    /// [`HeldEvents::add`] of the rows of `intake`'s batch, which other incidents may
    /// take too: rows to hold as values are taken now; rows to hold as rows are picked,
    /// and held by [`HeldEvents::hold`] once the intake is packed.
    pub fn offer(&mut self, intake: &mut Intake<'_>, rows: &[usize]) -> Result<Offer> {
        // Most context rows of a window are held already: they are told apart by id and
        // count before anything is copied or decoded.
        let keep = fresh(intake.batch, rows, |id| self.count_of(id))?;
        if keep.is_empty() {
            return Ok(Offer::Taken(0));
        }
        if !self.rows.is_empty() || self.few.len() + keep.len() > FEW {
            self.keep_as_rows()?;
            let (ids, rows): (Vec<String>, Vec<usize>) = keep.into_iter().unzip();
            return Ok(Offer::Pending(intake.pick(&rows, ids)?));
        }
        for r in keep.values() {
            self.few.insert(intake.get(*r)?);
        }
        Ok(Offer::Taken(keep.len()))
    }

    /// Holds the rows `pending` picked, from `packed` (their chunk of the intake, see
    /// [`Intake::pack`]); returns how many.
    pub fn hold(&mut self, packed: &RecordBatch, pending: Pending) -> Result<usize> {
        let Pending { start, ids, .. } = pending;
        if start + ids.len() > packed.num_rows() {
            return Err(Error::Internal(format!(
                "held rows: {} rows picked from {start}, {} packed",
                ids.len(),
                packed.num_rows()
            )));
        }
        let shared = ids.len() < packed.num_rows();
        self.rows.hold(packed.slice(start, ids.len()), ids, shared)
    }

    /// Takes in `other`'s events (an incident merged into this one's); an event held by
    /// both keeps the copy with the higher count.
    pub fn append(&mut self, mut other: HeldEvents) -> Result<()> {
        if self.rows.is_empty() && other.rows.is_empty() && self.len() + other.len() <= FEW {
            for e in other.few.0 {
                if self.few.get(&e.event_id).is_none_or(|h| e.count > h.count) {
                    self.few.insert(e);
                }
            }
            return Ok(());
        }
        self.keep_as_rows()?;
        other.keep_as_rows()?;
        self.rows.append(other.rows)
    }

    /// Moves the events of `ids` that are held into a new set (a part split off the
    /// incident).
    pub fn split_off<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> Result<HeldEvents> {
        let ids: Vec<&str> = ids.into_iter().collect();
        let mut out = HeldEvents::default();
        for id in &ids {
            if let Some(e) = self.few.remove(id) {
                out.few.insert(e);
            }
        }
        out.rows = self.rows.split_off(ids)?;
        if self.rows.is_empty() {
            // Only replaced or moved rows are left: free them.
            self.rows = Rows::default();
        }
        Ok(out)
    }

    /// The held events as values, by id.
    pub fn decode(&self) -> Result<BTreeMap<String, UnifiedEvent>> {
        if self.rows.is_empty() {
            return Ok(self
                .few
                .iter()
                .map(|e| (e.event_id.clone(), e.clone()))
                .collect());
        }
        self.rows.decode()
    }

    /// Moves the events held as values into rows.
    fn keep_as_rows(&mut self) -> Result<()> {
        if self.few.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.few).0;
        let batch = window_rows(&events_to_batch(&events))?;
        let all: Vec<usize> = (0..batch.num_rows()).collect();
        self.rows.add(&batch, &all)?;
        Ok(())
    }
}

/// Where a held event's row is.
#[derive(Debug, Clone, Copy)]
struct Slot {
    batch: usize,
    row: usize,
    count: i64,
}

/// Events held as rows.
#[derive(Debug, Clone, Default)]
struct Rows {
    batches: Vec<RecordBatch>,
    /// Per batch, the slots that were put in it (a slot that moved on is stale there).
    members: Vec<Vec<usize>>,
    slots: Vec<Slot>,
    index: BTreeMap<String, usize>,
    /// The earliest event time ever held (see `Engine::horizon`).
    min_time: Option<i64>,
}

impl Rows {
    /// Events held.
    fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether none is held.
    fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The occurrence count of event `id` as held.
    pub fn count_of(&self, id: &str) -> Option<i64> {
        self.index.get(id).map(|s| self.slots[*s].count)
    }

    /// Ids of the held events, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    /// The earliest event time held, or ever held by a part split off.
    pub fn min_time(&self) -> Option<i64> {
        self.min_time
    }

    /// Adds `rows` of `batch` (the window's columns, by name; extra columns such as a
    /// story id are ignored). An event already held is replaced only by a row with a
    /// higher count (its reporter saw it again); anything else is a redelivery. Returns
    /// how many rows were taken.
    pub fn add(&mut self, batch: &RecordBatch, rows: &[usize]) -> Result<usize> {
        let keep = fresh(batch, rows, |id| self.count_of(id))?;
        if keep.is_empty() {
            return Ok(0);
        }
        let packed = pack_rows(batch, keep.values().copied())?;
        self.hold(packed, keep.into_keys().collect(), false)
    }

    /// Holds `batch` (held rows, see [`pack_rows`]), whose events have the ids `ids`, in
    /// order: each replaces the row held of its id. A `shared` batch (a slice of an
    /// intake's rows, see [`Intake`]) is held as it is only until it is merged: if it is
    /// not merged at once, its rows are copied out, or the slice would keep every other
    /// incident's rows of that intake alive for as long as this incident is open.
    fn hold(&mut self, batch: RecordBatch, ids: Vec<String>, shared: bool) -> Result<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        let counts = typed::<Int64Array>(&batch, "count")?;
        let times = typed::<TimestampNanosecondArray>(&batch, "event_time")?;
        let b = self.batches.len();
        let mut members = Vec::with_capacity(ids.len());
        let taken = ids.len();
        for (row, id) in ids.into_iter().enumerate() {
            let slot = Slot {
                batch: b,
                row,
                count: count_at(counts, row),
            };
            let s = match self.index.get(id.as_str()) {
                Some(s) => {
                    self.slots[*s] = slot;
                    *s
                }
                None => {
                    self.slots.push(slot);
                    self.index.insert(id, self.slots.len() - 1);
                    self.slots.len() - 1
                }
            };
            members.push(s);
            if !times.is_null(row) {
                let t = times.value(row);
                self.min_time = Some(self.min_time.map_or(t, |m| m.min(t)));
            }
        }
        self.batches.push(batch);
        self.members.push(members);
        if !self.merge_tail()? && shared {
            let rows = UInt32Array::from_iter_values(0..taken as u32);
            self.batches[b] = take_record_batch(&self.batches[b], &rows)?;
        }
        Ok(taken)
    }

    /// Takes in `other`'s events (an incident merged into this one's); an event held by
    /// both keeps the row with the higher count.
    pub fn append(&mut self, other: Rows) -> Result<()> {
        let offset = self.batches.len();
        self.batches.extend(other.batches);
        self.members
            .extend(std::iter::repeat_with(Vec::new).take(other.members.len()));
        for (id, s) in other.index {
            let o = other.slots[s];
            let slot = Slot {
                batch: offset + o.batch,
                ..o
            };
            let s = match self.index.get(&id) {
                Some(s) if self.slots[*s].count >= o.count => continue,
                Some(s) => {
                    self.slots[*s] = slot;
                    *s
                }
                None => {
                    self.slots.push(slot);
                    self.index.insert(id, self.slots.len() - 1);
                    self.slots.len() - 1
                }
            };
            self.members[slot.batch].push(s);
        }
        self.min_time = match (self.min_time, other.min_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.merge_tail()?;
        Ok(())
    }

    /// Moves the events of `ids` that are held into a new set (a part split off the
    /// incident).
    pub fn split_off<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> Result<Rows> {
        let mut moved: Vec<(String, Slot)> = Vec::new();
        for id in ids {
            if let Some(s) = self.index.remove(id) {
                moved.push((id.to_string(), self.slots[s]));
                self.slots[s].batch = usize::MAX;
            }
        }
        moved.sort_by(|a, b| a.0.cmp(&b.0));
        moved.dedup_by(|a, b| a.0 == b.0);
        let mut out = Rows::default();
        if moved.is_empty() {
            return Ok(out);
        }
        let at: Vec<(usize, usize)> = moved.iter().map(|(_, s)| (s.batch, s.row)).collect();
        let batch = self.gather(&at)?;
        let times = typed::<TimestampNanosecondArray>(&batch, "event_time")?;
        out.min_time = times.iter().flatten().min();
        out.batches.push(batch);
        out.members.push((0..moved.len()).collect());
        for (row, (id, s)) in moved.into_iter().enumerate() {
            out.slots.push(Slot {
                batch: 0,
                row,
                count: s.count,
            });
            out.index.insert(id, row);
        }
        Ok(out)
    }

    /// The held events as values, by id. Each batch decodes as it is (a replaced row
    /// decodes too, and is dropped): gathering the live rows first would copy them all.
    pub fn decode(&self) -> Result<BTreeMap<String, UnifiedEvent>> {
        let mut decoded: Vec<Vec<Option<UnifiedEvent>>> = self
            .batches
            .iter()
            .map(|b| {
                Ok(events_from_batch(&HELD.unpack(b)?)?
                    .into_iter()
                    .map(Some)
                    .collect())
            })
            .collect::<Result<_>>()?;
        self.index
            .iter()
            .map(|(id, s)| {
                let Slot { batch, row, .. } = self.slots[*s];
                let e = decoded
                    .get_mut(batch)
                    .and_then(|b| b.get_mut(row))
                    .and_then(Option::take)
                    .ok_or_else(|| Error::Internal(format!("held event {id} has no row")))?;
                Ok((id.clone(), e))
            })
            .collect()
    }

    /// One batch of the rows at `(batch, row)`, in that order.
    fn gather(&self, at: &[(usize, usize)]) -> Result<RecordBatch> {
        let columns = (0..SCHEMA.fields().len())
            .map(|c| {
                let arrays: Vec<&dyn Array> =
                    self.batches.iter().map(|b| b.column(c).as_ref()).collect();
                Ok(interleave(&arrays, at)?)
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        Ok(RecordBatch::try_new(SCHEMA.clone(), columns)?)
    }

    /// Live rows of batch `b`: (slot, row), in row order.
    fn live(&self, b: usize) -> Vec<(usize, usize)> {
        let mut rows: Vec<(usize, usize)> = self.members[b]
            .iter()
            .filter(|s| self.slots[**s].batch == b)
            .map(|s| (*s, self.slots[*s].row))
            .collect();
        rows.sort_by_key(|r| r.1);
        rows.dedup();
        rows
    }

    /// Merges the last batch into the one before while it holds as many live rows;
    /// returns whether it merged any.
    fn merge_tail(&mut self) -> Result<bool> {
        let mut merged = false;
        while self.batches.len() >= 2 {
            let (a, b) = (self.batches.len() - 2, self.batches.len() - 1);
            let (la, lb) = (self.live(a), self.live(b));
            if lb.len() < la.len() {
                break;
            }
            let at: Vec<(usize, usize)> = la
                .iter()
                .map(|(_, r)| (a, *r))
                .chain(lb.iter().map(|(_, r)| (b, *r)))
                .collect();
            let batch = self.gather(&at)?;
            self.batches.truncate(a);
            self.members.truncate(a);
            let mut members = Vec::with_capacity(at.len());
            for (row, (s, _)) in la.into_iter().chain(lb).enumerate() {
                self.slots[s].batch = a;
                self.slots[s].row = row;
                members.push(s);
            }
            self.batches.push(batch);
            self.members.push(members);
            merged = true;
        }
        Ok(merged)
    }
}

/// The row to take of `rows` per event id: the highest count among duplicates, and only
/// where `held` (the count held now) is lower or absent.
fn fresh(
    batch: &RecordBatch,
    rows: &[usize],
    held: impl Fn(&str) -> Option<i64>,
) -> Result<BTreeMap<String, usize>> {
    let ids = column(batch, "event_id")
        .and_then(|c| as_strings(c).ok_or_else(|| Error::Internal("held rows: event_id".into())))?;
    let counts = typed::<Int64Array>(batch, "count")?;
    let mut keep: BTreeMap<&str, usize> = BTreeMap::new();
    for &r in rows {
        let (id, count) = (ids.value(r), count_at(counts, r));
        if held(id).is_some_and(|h| count <= h)
            || keep.get(id).is_some_and(|k| count_at(counts, *k) >= count)
        {
            continue;
        }
        keep.insert(id, r);
    }
    Ok(keep
        .into_iter()
        .map(|(id, r)| (id.to_string(), r))
        .collect())
}

/// `rows` of `batch` (the window's columns, by name) as held rows: [`SCHEMA`]'s columns,
/// [`PACKED`] packed, in buffers of their own.
fn pack_rows(batch: &RecordBatch, rows: impl Iterator<Item = usize>) -> Result<RecordBatch> {
    let picked = UInt32Array::from(rows.map(row_number).collect::<Result<Vec<u32>>>()?);
    let columns = SCHEMA
        .fields()
        .iter()
        .map(|f| {
            let taken = take(column(batch, f.name())?.as_ref(), &picked, None)?;
            let taken = HELD.pack(f.name(), &taken)?;
            Ok(if taken.data_type() == f.data_type() {
                taken
            } else {
                cast(&taken, f.data_type())?
            })
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(SCHEMA.clone(), columns)?)
}

/// The occurrence count of row `r` (1 when null).
fn count_at(counts: &Int64Array, r: usize) -> i64 {
    if counts.is_null(r) {
        1
    } else {
        counts.value(r)
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("held rows: no `{name}` column")))
}

fn typed<'a, T: Array + 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T> {
    column(batch, name)?
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| Error::Internal(format!("held rows: `{name}` of another type")))
}

#[cfg(test)]
mod tests {
    use crate::packed_text::{RAW, TRAIN_VALUES};
    use arrow::array::ArrayData;
    use tapio_schemas::{ObjectRef, Severity, events_to_batch};

    use super::*;

    fn event(id: &str, t: i64, count: i64) -> UnifiedEvent {
        let mut e = UnifiedEvent::new(
            id.into(),
            t,
            "k8s-event",
            "k8s.event",
            Severity::Warning,
            ObjectRef::new("Pod", "shop", "api-1"),
        );
        e.count = count;
        e.pod = Some("api-1".into());
        e.node = Some("n1".into());
        e.reason = Some("BackOff".into());
        e.message = Some(format!("Back-off restarting failed container app ({id})"));
        e.owner_chain = vec!["ReplicaSet/api-7f".into(), "Deployment/api".into()];
        e.attributes.insert("reporter".into(), "kubelet".into());
        e
    }

    /// `events` as the window holds them.
    fn rows(events: &[UnifiedEvent]) -> RecordBatch {
        window_rows(&events_to_batch(events)).unwrap()
    }

    /// Held rows keep messages, owner chains and attributes packed, and a story told
    /// from them reads each back as it came.
    #[test]
    fn held_rows_are_packed_and_decode_whole() {
        let events: Vec<_> = (0..TRAIN_VALUES + 500)
            .map(|i| event(&format!("p{i:05}"), i as i64, 1))
            .collect();
        let mut held = Rows::default();
        for chunk in events.chunks(1000) {
            let b = rows(chunk);
            held.add(&b, &(0..b.num_rows()).collect::<Vec<_>>())
                .unwrap();
        }
        // A table is trained by the end (this test's values alone fill a sample).
        let coded: usize = held
            .batches
            .iter()
            .map(|b| {
                let m = b.column_by_name("message").unwrap();
                assert_eq!(m.data_type(), &DataType::Binary);
                let m = arrow::array::AsArray::as_binary::<i32>(m.as_ref());
                m.iter().flatten().filter(|v| v[0] != RAW).count()
            })
            .sum();
        assert!(coded > 0);
        let decoded = held.decode().unwrap();
        assert_eq!(decoded.len(), events.len());
        for e in &events {
            assert_eq!(&decoded[&e.event_id], e);
        }
    }

    #[test]
    fn rows_added_window_by_window_decode_as_the_events_in_few_batches() {
        let mut held = HeldEvents::default();
        let mut want = BTreeMap::new();
        for w in 0..200 {
            let events: Vec<_> = (0..5)
                .map(|k| event(&format!("e{:04}", w * 5 + k), (w * 60 + k) as i64, 1))
                .collect();
            assert_eq!(held.add(&rows(&events), &[0, 1, 2, 3, 4]).unwrap(), 5);
            want.extend(events.into_iter().map(|e| (e.event_id.clone(), e)));
        }
        assert_eq!(held.len(), 1000);
        let batches = held.rows.batches.len();
        assert!(batches <= 9, "{batches} batches");
        assert_eq!(held.decode().unwrap(), want);
        assert_eq!(held.min_time(), Some(0));
    }

    /// `n` events, `f0`…: enough to be held as rows.
    fn filler(n: usize) -> (RecordBatch, Vec<usize>) {
        let events: Vec<_> = (0..n).map(|i| event(&format!("f{i:02}"), 0, 1)).collect();
        (rows(&events), (0..n).collect())
    }

    #[test]
    fn a_few_events_are_values_and_more_are_rows() {
        let mut held = HeldEvents::default();
        let (few, all) = filler(FEW);
        held.add(&few, &all).unwrap();
        assert!(held.rows.is_empty());
        held.add(&rows(&[event("a", 0, 1)]), &[0]).unwrap();
        assert!(held.few.is_empty());
        assert_eq!(held.rows.len(), FEW + 1);
        assert_eq!(held.decode().unwrap()["a"], event("a", 0, 1));
    }

    /// Values are kept in id order, a higher count replaces an event, and the vector
    /// has no spare room: most incidents hold one or two events.
    #[test]
    fn few_values_are_in_id_order_without_spare_room() {
        let mut held = HeldEvents::default();
        held.add(&rows(&[event("c", 0, 1), event("a", 1, 1)]), &[0, 1])
            .unwrap();
        held.add(&rows(&[event("b", 2, 1), event("a", 1, 3)]), &[0, 1])
            .unwrap();
        assert_eq!(held.ids().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(held.count_of("a"), Some(3));
        assert_eq!(held.few.0.capacity(), 3);
        let part = held.split_off(["b"]).unwrap();
        assert_eq!(held.ids().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(held.few.0.capacity(), 2);
        assert_eq!(part.decode().unwrap()["b"], event("b", 2, 1));
    }

    /// A window's context search returns a story's held events again: they are
    /// redeliveries, and do not count towards turning a small incident's values into
    /// rows.
    #[test]
    fn redelivered_events_keep_a_small_incident_as_values() {
        let mut held = HeldEvents::default();
        let (few, all) = filler(FEW);
        assert_eq!(held.add(&few, &all).unwrap(), FEW);
        assert_eq!(held.add(&few, &all).unwrap(), 0);
        assert!(held.rows.is_empty());
        assert_eq!(held.few.len(), FEW);
    }

    #[test]
    fn an_event_seen_again_with_a_higher_count_replaces_its_row() {
        for filled in [0, FEW] {
            let mut held = HeldEvents::default();
            let (fill, all) = filler(filled);
            held.add(&fill, &all).unwrap();
            held.add(&rows(&[event("a", 0, 1), event("b", 0, 1)]), &[0, 1])
                .unwrap();
            // A redelivery changes nothing.
            assert_eq!(held.add(&rows(&[event("a", 0, 1)]), &[0]).unwrap(), 0);
            // Of two sightings in one batch, the higher count is kept.
            let again = rows(&[event("a", 0, 3), event("a", 0, 2)]);
            assert_eq!(held.add(&again, &[0, 1]).unwrap(), 1);
            assert_eq!(held.count_of("a"), Some(3));
            assert_eq!(held.decode().unwrap()["a"].count, 3);
            assert_eq!(held.len(), filled + 2);
        }
        // As rows, a merge keeps only the live ones: `a`'s new row catches up with the
        // batch before it (one live row, `b`), and the old row of `a` is dropped.
        let mut held = Rows::default();
        held.add(&rows(&[event("a", 0, 1), event("b", 0, 1)]), &[0, 1])
            .unwrap();
        held.add(&rows(&[event("a", 0, 2)]), &[0]).unwrap();
        let kept: Vec<usize> = held.batches.iter().map(|b| b.num_rows()).collect();
        assert_eq!(kept, [2]);
    }

    #[test]
    fn split_off_and_append_move_events_between_incidents() {
        let mut held = HeldEvents::default();
        let three = rows(&[event("a", 0, 1), event("b", 5, 1), event("c", 9, 1)]);
        held.add(&three, &[0, 1, 2]).unwrap();
        let part = held.split_off(["b", "c", "not-held"]).unwrap();
        assert_eq!(held.ids().collect::<Vec<_>>(), ["a"]);
        assert_eq!(part.ids().collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!(part.min_time(), Some(5));
        assert_eq!(held.decode().unwrap().len(), 1);
        // Merging back, with another part holding `a` seen more often.
        let mut other = HeldEvents::default();
        other.add(&rows(&[event("a", 0, 4)]), &[0]).unwrap();
        held.append(part).unwrap();
        held.append(other).unwrap();
        let all = held.decode().unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(all["a"].count, 4);
        assert_eq!(all["c"], event("c", 9, 1));
        // Held as rows, moving every one out frees the batches left behind.
        let mut held = HeldEvents::default();
        let (fill, every) = filler(FEW + 1);
        held.add(&fill, &every).unwrap();
        let ids: Vec<String> = held.ids().map(String::from).collect();
        let part = held.split_off(ids.iter().map(String::as_str)).unwrap();
        assert_eq!(part.decode().unwrap().len(), FEW + 1);
        assert_eq!((held.len(), held.rows.batches.len()), (0, 0));
    }

    /// Adds the buffers of `d` and its children to `out`: (address, length).
    fn pointers(d: &ArrayData, out: &mut Vec<(usize, usize)>) {
        out.extend(d.buffers().iter().map(|b| (b.as_ptr() as usize, b.len())));
        out.extend(
            d.nulls()
                .map(|n| (n.buffer().as_ptr() as usize, n.buffer().len())),
        );
        d.child_data().iter().for_each(|c| pointers(c, out));
    }

    /// The buffers of `b`'s columns: (address, length).
    fn all(b: &RecordBatch) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        b.columns()
            .iter()
            .for_each(|c| pointers(&c.to_data(), &mut out));
        out
    }

    /// Incidents that take rows of one batch share one packing of them, and hold what
    /// each would hold alone; none keeps a slice of the shared rows, which would keep
    /// the others' rows alive.
    #[test]
    fn incidents_sharing_an_intake_hold_what_each_would_alone() {
        let (window, _) = filler(3 * FEW);
        // One incident holds rows already (its new rows merge into them), one holds a
        // few values, one holds nothing yet; their rows overlap.
        let parts: [Vec<usize>; 3] = [
            (0..FEW + 1).collect(),
            (FEW..2 * FEW + 2).collect(),
            (5..3 * FEW).step_by(2).collect(),
        ];
        let before = rows(
            &(0..=FEW)
                .map(|i| event(&format!("b{i:02}"), 0, 1))
                .collect::<Vec<_>>(),
        );
        let start = |i: usize| {
            let mut h = HeldEvents::default();
            match i {
                0 => h.add(&before, &(0..FEW + 1).collect::<Vec<_>>()).unwrap(),
                1 => h.add(&rows(&[event("x", 0, 1)]), &[0]).unwrap(),
                _ => 0,
            };
            h
        };
        let mut shared: Vec<HeldEvents> = (0..3).map(start).collect();
        let mut intake = Intake::new(&window);
        let pending: Vec<Pending> = shared
            .iter_mut()
            .zip(&parts)
            .map(|(h, rows)| match h.offer(&mut intake, rows).unwrap() {
                Offer::Pending(p) => p,
                Offer::Taken(n) => panic!("{n} taken as values"),
            })
            .collect();
        assert!(pending.iter().all(|p| p.chunk() == 0));
        let packed = intake.pack(0).unwrap();
        assert_eq!(packed.num_rows(), parts.iter().map(Vec::len).sum::<usize>());
        for (h, p) in shared.iter_mut().zip(pending) {
            h.hold(&packed, p).unwrap();
        }
        // Empty buffers all point at the same dangling address: only buffers with
        // bytes are compared.
        let bytes = |b: &RecordBatch| -> Vec<(usize, usize)> {
            all(b).into_iter().filter(|(_, n)| *n > 0).collect()
        };
        let shared_buffers = bytes(&packed);
        for (i, (h, rows)) in shared.iter().zip(&parts).enumerate() {
            let mut alone = start(i);
            alone.add(&window, rows).unwrap();
            assert_eq!(h.decode().unwrap(), alone.decode().unwrap(), "incident {i}");
            for b in &h.rows.batches {
                let kept = bytes(b)
                    .iter()
                    .filter(|(p, _)| shared_buffers.iter().any(|(s, n)| (*s..*s + n).contains(p)))
                    .count();
                assert_eq!(kept, 0, "incident {i} keeps the shared rows");
            }
        }
    }

    /// A held row keeps nothing of the window batch it came from (that batch leaves the
    /// window while the story goes on): a taken dictionary column would keep its values.
    #[test]
    fn held_rows_hold_nothing_of_the_window_batch() {
        let (window, every) = filler(FEW + 1);
        let within = |b: &RecordBatch| {
            let source = all(&window);
            all(b)
                .iter()
                .filter(|(p, _)| source.iter().any(|(s, n)| (*s..*s + n.max(&1)).contains(p)))
                .count()
        };
        let mut held = HeldEvents::default();
        held.add(&window, &every).unwrap();
        assert_eq!(within(&held.rows.batches[0]), 0);
        // The check can fail: a row taken as is shares the dictionaries.
        let taken =
            arrow::compute::take_record_batch(&window, &UInt32Array::from(vec![1])).unwrap();
        assert!(within(&taken) > 0);
    }
}
