//! The rows the window keeps for story context: every event of the look-back, in the
//! columns a story reads, copied out of the message they arrived in.
//!
//! An Arrow IPC message decodes into arrays that slice its one buffer, so holding any
//! column of a row holds every column of the message. The window holds most of the
//! engine's memory (a million events in a one-hour look-back), and routine rows are
//! read only by the context search. So it keeps the columns stories read (text, links,
//! evidence) in buffers of its own, and leaves out [`OMITTABLE_COLUMNS`] (uids, container
//! ids, cgroups, addresses, labels). Patterns read the notable rows, which keep every
//! column, and are copied out of their message too: filtering a batch keeps its
//! dictionaries, which would hold the message. Messages, event ids, owner chains and
//! attributes, the biggest values of a row, are kept packed ([`crate::packed_text`]);
//! dictionaries have 2-byte keys, a few repetitive or mostly-null columns are held as
//! dictionaries too, and a pod that is its row's object is held once
//! ([`WindowPacking`]).

use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayData, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray, UInt64Array,
    make_array,
};
use arrow::buffer::{BooleanBuffer, Buffer, MutableBuffer, NullBuffer};
use arrow::compute::kernels::cmp::eq;
use arrow::compute::kernels::zip::zip;
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_select::dictionary::garbage_collect_any_dictionary;
use tapio_schemas::{OMITTABLE_COLUMNS, event_schema};

use crate::packed_text::{NARROW_KEYS_ROWS, PackedColumns, TextCodec};
use crate::{Error, Result};

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let events = event_schema();
    let fields: Vec<_> = events
        .fields()
        .iter()
        .filter(|f| !OMITTABLE_COLUMNS.contains(&f.name().as_str()))
        .cloned()
        .collect();
    Arc::new(Schema::new_with_metadata(fields, events.metadata().clone()))
});

/// The schema of the window's rows (`window_events`): [`event_schema`] without
/// [`OMITTABLE_COLUMNS`].
pub fn window_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// Columns the window keeps packed (see [`crate::packed_text`]): the biggest strings of a
/// row, which only the rows the context search returns are unpacked for.
pub const PACKED_COLUMNS: [&str; 4] = ["event_id", "message", "owner_chain", "attributes"];

/// Columns the window holds as dictionaries (2-byte keys) although the event schema has
/// them plain: their values repeat within a batch (a workload's events come together,
/// most counts are 1) or are mostly null (exit codes, signals and pids are the kernel's
/// and the runtime's), and a plain column keeps 4-8 bytes for a null too.
pub const ENCODED_COLUMNS: [&str; 5] = ["workload_name", "count", "exit_code", "signal", "pid"];

/// The held column that says a row's pod is its object (their one name is held once, as
/// the object's; the `pod` column is null there). Pod events name the pod as both.
pub const POD_IS_OBJECT: &str = "pod_is_object";

/// How the window holds its rows (`window_events`): [`window_schema`]'s columns with
/// [`PACKED_COLUMNS`] packed, dictionaries with narrow keys ([`ENCODED_COLUMNS`] among
/// them), and a pod that is the row's object held once ([`POD_IS_OBJECT`]). Each runner
/// keeps one: its codecs are shared by packing (as rows arrive) and the query functions
/// that unpack.
#[derive(Debug)]
pub struct WindowPacking {
    packing: PackedColumns,
    /// `packing`'s schema and [`POD_IS_OBJECT`].
    schema: SchemaRef,
}

impl Default for WindowPacking {
    fn default() -> Self {
        let packing =
            PackedColumns::new(window_schema(), &PACKED_COLUMNS).with_narrow_keys(&ENCODED_COLUMNS);
        let held = packing.schema();
        let mut fields: Vec<_> = held.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new(
            POD_IS_OBJECT,
            DataType::Boolean,
            false,
        )));
        let schema = Arc::new(Schema::new_with_metadata(fields, held.metadata().clone()));
        WindowPacking { packing, schema }
    }
}

impl WindowPacking {
    /// The schema of the rows as held.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Each packed column (its plain field) with its codec.
    pub fn codecs(&self) -> impl Iterator<Item = (&Field, &Arc<TextCodec>)> {
        self.packing.columns()
    }

    /// `batch` (of [`event_schema`]) as the window holds it, in buffers of its own; in
    /// pieces of at most [`NARROW_KEYS_ROWS`] rows, so that narrow dictionary keys always
    /// fit (batches from collectors and Kafka have 8,192 rows: one piece).
    pub fn store(&self, batch: &RecordBatch) -> Result<Vec<RecordBatch>> {
        self.pieces(batch)?
            .iter()
            .map(|p| self.store_piece(p, true))
            .collect()
    }

    /// `batch` (of [`event_schema`]) in [`window_schema`]'s columns, as they are, in the
    /// pieces [`WindowPacking::store`] packs: the window holds these while a piece is
    /// being packed ([`WindowPacking::store_piece`]), and reads them the same way.
    pub fn pieces(&self, batch: &RecordBatch) -> Result<Vec<RecordBatch>> {
        let plain = |b: &RecordBatch| select(b, window_schema(), |_, c| Ok(c.clone()));
        if batch.num_rows() <= NARROW_KEYS_ROWS {
            return Ok(vec![plain(batch)?]);
        }
        (0..batch.num_rows())
            .step_by(NARROW_KEYS_ROWS)
            .map(|start| {
                let len = NARROW_KEYS_ROWS.min(batch.num_rows() - start);
                // A copy of the piece's rows alone: a slice would hold (and
                // `owned_rows` copy) the whole batch's buffers.
                let rows = UInt64Array::from_iter_values(start as u64..(start + len) as u64);
                plain(&take_record_batch(batch, &rows)?)
            })
            .collect()
    }

    /// Whether `batch` holds rows as [`WindowPacking::store_piece`] packed them, rather
    /// than a piece still plain.
    pub fn is_packed(&self, batch: &RecordBatch) -> bool {
        batch.schema_ref().column_with_name(POD_IS_OBJECT).is_some()
    }

    /// Held rows, packed or a plain piece, as [`window_schema`]'s.
    pub fn plain(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        match self.is_packed(batch) {
            true => self.unpack(batch),
            false => Ok(batch.clone()),
        }
    }

    /// One of [`WindowPacking::pieces`] as the window holds it, in buffers of its own;
    /// on two threads if `split` and the piece is big enough.
    pub fn store_piece(&self, batch: &RecordBatch, split: bool) -> Result<RecordBatch> {
        let pack = |name: &str, c: &ArrayRef| self.packing.pack(name, c);
        let held = match !split || batch.num_rows() < TWO_THREADS_ROWS {
            true => select(batch, self.packing.schema(), pack)?,
            false => select_on_two_threads(batch, self.packing.schema(), pack)?,
        };
        let (pod, object) = pod_and_object(&held)?;
        // Null where the pod is null: false there.
        let same = eq(&pod.1, &object)?;
        let same = match same.nulls() {
            Some(n) => BooleanArray::new(same.values() & n.inner(), None),
            None => same,
        };
        let mut columns = held.columns().to_vec();
        // A new array: nulling the values would keep their bytes.
        let apart: StringArray = pod
            .1
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::Input("the `pod` column is not Utf8".into()))?
            .iter()
            .zip(same.values())
            .map(|(p, same)| p.filter(|_| !same))
            .collect();
        columns[pod.0] = Arc::new(apart);
        columns.push(Arc::new(same));
        owned_rows(&RecordBatch::try_new(self.schema(), columns)?)
    }

    /// Held rows (of [`WindowPacking::schema`]) as [`window_schema`]'s.
    pub fn unpack(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let same = batch
            .column_by_name(POD_IS_OBJECT)
            .and_then(|c| c.as_boolean_opt())
            .ok_or_else(|| Error::Internal(format!("held rows: {POD_IS_OBJECT}")))?;
        let (pod, object) = pod_and_object(batch)?;
        let mut columns = batch.columns().to_vec();
        columns.pop();
        columns[pod.0] = zip(same, &object, &pod.1)?;
        let held = RecordBatch::try_new(self.packing.schema(), columns)?;
        self.packing.unpack(&held)
    }
}

/// The `pod` column of held rows (with its index) and the `object_name` column.
fn pod_and_object(batch: &RecordBatch) -> Result<((usize, ArrayRef), ArrayRef)> {
    let column = |name: &str| {
        batch
            .schema()
            .index_of(name)
            .map(|i| (i, batch.column(i).clone()))
            .map_err(|_| Error::Internal(format!("held rows without `{name}`")))
    };
    Ok((column("pod")?, column("object_name")?.1))
}

/// `batch` (of [`event_schema`]) in [`window_schema`]'s columns, in a buffer of its own
/// (see [`owned_rows`]).
pub fn window_rows(batch: &RecordBatch) -> Result<RecordBatch> {
    owned_rows(&select(batch, window_schema(), |_, c| Ok(c.clone()))?)
}

/// `schema`'s columns of `batch`, each through `convert(name, column)`.
fn select(
    batch: &RecordBatch,
    schema: SchemaRef,
    convert: impl Fn(&str, &ArrayRef) -> Result<ArrayRef>,
) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            let c = batch
                .column_by_name(f.name())
                .ok_or_else(|| Error::Input(format!("batch without the `{}` column", f.name())))?;
            convert(f.name(), c)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Rows from which a batch is packed on two threads: starting a thread costs tens of
/// microseconds, more than packing a few rows (live collectors flush small batches).
const TWO_THREADS_ROWS: usize = 1024;

/// [`select`], converting the biggest column on a second thread. Packing is most of
/// what a batch costs on arrival (FSST-compressing its text, ~0.47 s of the engine's
/// 2.7 s with 1M events over 4 h) and messages are ~45 % of the text packed, while the
/// second core idles: the engine runs one DataFusion partition.
fn select_on_two_threads(
    batch: &RecordBatch,
    schema: SchemaRef,
    convert: impl Fn(&str, &ArrayRef) -> Result<ArrayRef> + Sync,
) -> Result<RecordBatch> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| Error::Input(format!("batch without the `{name}` column")))
    };
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let sizes = names
        .iter()
        // The bytes of its rows: arrays decoded from IPC share one message buffer.
        .map(|n| Ok(column(n)?.to_data().get_slice_memory_size()?))
        .collect::<Result<Vec<_>>>()?;
    let Some(big) = (0..names.len()).max_by_key(|i| sizes[*i]) else {
        return Ok(RecordBatch::try_new(schema, Vec::new())?);
    };
    let (other, columns) = std::thread::scope(|s| {
        let other = s.spawn(|| convert(names[big], column(names[big])?));
        let columns = names
            .iter()
            .enumerate()
            .map(|(i, n)| match i == big {
                true => Ok(None),
                false => convert(n, column(n)?).map(Some),
            })
            .collect::<Result<Vec<_>>>();
        (other.join(), columns)
    });
    let other =
        other.map_err(|_| Error::Internal(format!("packing `{}` panicked", names[big])))??;
    let mut columns = columns?;
    columns[big] = Some(other);
    Ok(RecordBatch::try_new(
        schema,
        columns.into_iter().flatten().collect(),
    )?)
}

/// `batch` copied into one buffer of its own, so that the message it came from can be
/// freed: a filtered batch still holds its message through the dictionaries it shares.
/// Dictionaries keep only the values their rows use: the notable rows of a message are a
/// few hundred of its 8,192, and its dictionaries' values (a node, reason or container
/// name for every row) would otherwise come along. One allocation per batch, like the
/// message it replaces: held rows live long and leave in arrival order, and small
/// buffers left among freed messages fragment the heap.
pub fn owned_rows(batch: &RecordBatch) -> Result<RecordBatch> {
    let columns: Vec<ArrayData> = batch
        .columns()
        .iter()
        .map(|c| match c.as_any_dictionary_opt() {
            Some(d) => Ok(garbage_collect_any_dictionary(d)?.to_data()),
            None => Ok(c.to_data()),
        })
        .collect::<Result<_>>()?;
    let mut bytes = MutableBuffer::new(columns.iter().map(size_of).sum());
    let mut at = Vec::new();
    for c in &columns {
        append(c, &mut bytes, &mut at);
    }
    let bytes: Buffer = bytes.into();
    let mut at = at.into_iter();
    let columns = columns
        .iter()
        .map(|c| Ok(make_array(rebuild(c, &bytes, &mut at)?) as ArrayRef))
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// Where each buffer is kept: the buffers are 64-byte aligned, as Arrow allocates them.
const ALIGN: usize = 64;

fn padded(len: usize) -> usize {
    len.div_ceil(ALIGN) * ALIGN
}

/// Bytes of `data`'s buffers (its null buffer, children and dictionary too), padded.
fn size_of(data: &ArrayData) -> usize {
    data.buffers()
        .iter()
        .map(|b| padded(b.len()))
        .sum::<usize>()
        + data.nulls().map_or(0, |n| padded(n.buffer().len()))
        + data.child_data().iter().map(size_of).sum::<usize>()
}

/// Copies `data`'s buffers into `bytes`, noting each one's (offset, length) in `at`.
fn append(data: &ArrayData, bytes: &mut MutableBuffer, at: &mut Vec<(usize, usize)>) {
    let mut put = |b: &Buffer| {
        at.push((bytes.len(), b.len()));
        bytes.extend_from_slice(b.as_slice());
        bytes.resize(padded(bytes.len()), 0);
    };
    if let Some(n) = data.nulls() {
        put(n.buffer());
    }
    data.buffers().iter().for_each(&mut put);
    for c in data.child_data() {
        append(c, bytes, at);
    }
}

/// `data` again, its buffers slices of `bytes` at the places [`append`] noted.
fn rebuild(
    data: &ArrayData,
    bytes: &Buffer,
    at: &mut impl Iterator<Item = (usize, usize)>,
) -> Result<ArrayData> {
    let mut next = || {
        at.next()
            .map(|(offset, len)| bytes.slice_with_length(offset, len))
            .ok_or_else(|| Error::Internal("window rows: buffer count".into()))
    };
    let nulls = match data.nulls() {
        Some(n) => Some(NullBuffer::new(BooleanBuffer::new(
            next()?,
            n.offset(),
            n.len(),
        ))),
        None => None,
    };
    let buffers = data
        .buffers()
        .iter()
        .map(|_| next())
        .collect::<Result<Vec<_>>>()?;
    let children = data
        .child_data()
        .iter()
        .map(|c| rebuild(c, bytes, at))
        .collect::<Result<Vec<_>>>()?;
    Ok(ArrayData::builder(data.data_type().clone())
        .len(data.len())
        .offset(data.offset())
        .buffers(buffers)
        .child_data(children)
        .nulls(nulls)
        .build()?)
}

#[cfg(test)]
mod tests {
    use tapio_schemas::{UnifiedEvent, events_from_batch, events_to_batch, wire};

    use super::*;

    fn event(i: usize) -> UnifiedEvent {
        let mut e: UnifiedEvent = serde_json::from_value(serde_json::json!({
            "event_id": format!("e{i}"), "event_time": "2026-11-21T09:00:00Z",
            "observed_time": "2026-11-21T09:00:01Z", "source": "k8s-event",
            "event_type": "k8s.pod.oom_killed", "severity": "critical", "cluster": "c",
            "object": {"kind": "Pod", "namespace": "shop", "name": format!("api-{i}"), "uid": "u1"},
        }))
        .unwrap();
        e.pod = Some(format!("api-{i}"));
        e.pod_uid = Some("pu".into());
        e.container_id = Some("containerd://abc".into());
        e.owner_chain = vec!["ReplicaSet/api-7f".into(), "Deployment/api".into()];
        e.message = Some(format!("Container app OOMKilled {i}"));
        e.labels.insert("app".into(), "api".into());
        e.attributes.insert("memory_limit".into(), "256Mi".into());
        e.src_ip = Some("10.0.0.1".into());
        e
    }

    /// `e` as the window keeps it: without the omitted columns `event` sets.
    fn as_kept(mut e: UnifiedEvent) -> UnifiedEvent {
        e.object.uid = None;
        e.pod_uid = None;
        e.container_id = None;
        e.src_ip = None;
        e.labels.clear();
        e
    }

    /// A window row reads back as the event it came from, less the omitted columns;
    /// and it holds none of the IPC message it was decoded from.
    #[test]
    fn window_rows_keep_what_stories_read_in_buffers_of_their_own() {
        let events: Vec<_> = (0..50).map(event).collect();
        let (message, decoded) = through_ipc(&events);
        let rows = window_rows(&decoded).unwrap();
        assert_eq!(rows.schema(), window_schema());
        assert_eq!(
            rows.num_columns(),
            event_schema().fields().len() - OMITTABLE_COLUMNS.len()
        );
        let back = events_from_batch(&rows).unwrap();
        for (want, got) in events.into_iter().zip(back) {
            assert_eq!(got, as_kept(want));
        }
        assert_eq!(
            in_message(&rows, &message),
            0,
            "buffers still in the message"
        );
        // The decoded batch itself points into it: the check can fail.
        assert!(in_message(&decoded, &message) > 0);
    }

    /// Filtered rows hold their message through the dictionaries they share with it;
    /// their owned copy does not, holds the same rows, and only the dictionary values
    /// they use.
    #[test]
    fn owned_rows_of_a_filtered_batch_leave_the_message() {
        let events: Vec<_> = (0..50)
            .map(|i| {
                let mut e = event(i);
                e.node = Some(format!("node-{i}"));
                e
            })
            .collect();
        let (message, decoded) = through_ipc(&events);
        let mask: arrow::array::BooleanArray = (0..50).map(|i| Some(i % 3 == 0)).collect();
        let filtered = arrow::compute::filter_record_batch(&decoded, &mask).unwrap();
        assert!(
            in_message(&filtered, &message) > 0,
            "dictionaries are shared"
        );
        let owned = owned_rows(&filtered).unwrap();
        assert_eq!(in_message(&owned, &message), 0);
        assert_eq!(owned, filtered);
        let nodes = |b: &RecordBatch| {
            b.column_by_name("node")
                .unwrap()
                .as_any_dictionary()
                .values()
                .len()
        };
        assert_eq!((nodes(&filtered), nodes(&owned)), (50, 17));
    }

    /// `events` as an IPC message, and the batch decoded from it.
    fn through_ipc(events: &[UnifiedEvent]) -> (Buffer, RecordBatch) {
        let bytes = wire::encode_ipc(&event_schema(), &[events_to_batch(events)]).unwrap();
        let message = Buffer::from_vec(bytes);
        let decoded = wire::decode_ipc(message.clone()).unwrap().1.remove(0);
        (message, decoded)
    }

    /// How many of `batch`'s buffers lie in `message`.
    fn in_message(batch: &RecordBatch, message: &Buffer) -> usize {
        fn pointers(d: &ArrayData, out: &mut Vec<usize>) {
            out.extend(d.buffers().iter().map(|b| b.as_ptr() as usize));
            out.extend(d.nulls().map(|n| n.buffer().as_ptr() as usize));
            d.child_data().iter().for_each(|c| pointers(c, out));
        }
        let range = message.as_ptr() as usize..message.as_ptr() as usize + message.len();
        let mut ptrs = Vec::new();
        for c in batch.columns() {
            pointers(&c.to_data(), &mut ptrs);
        }
        ptrs.iter().filter(|p| range.contains(p)).count()
    }

    /// The window's dictionaries have 2-byte keys. A batch with more rows than they can
    /// number is held in pieces, and every row reads back as it was: the first piece's
    /// keys fit as they are, the second's index a dictionary too big for them and are
    /// built again.
    #[test]
    fn big_batches_are_held_in_pieces_whose_keys_fit() {
        let packing = WindowPacking::default();
        let n = NARROW_KEYS_ROWS + 5000;
        let events: Vec<_> = (0..n)
            .map(|i| {
                let mut e = event(i);
                e.node = Some(format!("node-{i}"));
                e.count = 1 + (i % 4) as i64;
                e.exit_code = i.is_multiple_of(7).then_some(137);
                e.signal = i.is_multiple_of(7).then_some(9);
                e.pid = (i % 3 == 1).then_some(i as i64);
                e
            })
            .collect();
        let pieces = packing.store(&events_to_batch(&events)).unwrap();
        let rows: Vec<usize> = pieces.iter().map(|p| p.num_rows()).collect();
        assert_eq!(rows, [NARROW_KEYS_ROWS, 5000]);
        for p in &pieces {
            assert_eq!(p.schema(), packing.schema());
            assert_eq!(
                p.column_by_name("node").unwrap().data_type(),
                &arrow::datatypes::DataType::Dictionary(
                    Box::new(crate::packed_text::NARROW_KEY),
                    Box::new(arrow::datatypes::DataType::Utf8)
                )
            );
        }
        let back: Vec<UnifiedEvent> = pieces
            .iter()
            .flat_map(|p| events_from_batch(&packing.unpack(p).unwrap()).unwrap())
            .collect();
        assert_eq!(back.len(), n);
        for (got, want) in back.into_iter().zip(events) {
            assert_eq!(got, as_kept(want));
        }
    }

    /// A pod that is the row's object is held once (as the object), a pod that is not
    /// is held as it is, and both read back as they arrived.
    #[test]
    fn a_pod_that_is_the_object_is_held_once() {
        let packing = WindowPacking::default();
        let mut events: Vec<_> = (0..10).map(event).collect();
        events[3].pod = Some("other".into());
        events[5].pod = None;
        let held = packing.store(&events_to_batch(&events)).unwrap().remove(0);
        let pod = held.column_by_name("pod").unwrap().as_string::<i32>();
        assert_eq!(pod.value_data(), b"other");
        let same = held.column_by_name(POD_IS_OBJECT).unwrap().as_boolean();
        let same: Vec<bool> = same.iter().map(|s| s.unwrap()).collect();
        let want: Vec<bool> = (0..10).map(|i| i != 3 && i != 5).collect();
        assert_eq!(same, want);
        let back = events_from_batch(&packing.unpack(&held).unwrap()).unwrap();
        let pods = |es: &[UnifiedEvent]| -> Vec<_> {
            es.iter()
                .map(|e| (e.pod.clone(), e.object.name.clone()))
                .collect()
        };
        assert_eq!(pods(&back), pods(&events));
    }

    /// A batch is held plain while it is packed: its pieces are those the window packs,
    /// and read the same, packed or not (the context search reads either).
    #[test]
    fn plain_pieces_read_as_their_packed_rows() {
        let packing = WindowPacking::default();
        let n = NARROW_KEYS_ROWS + 100;
        let events: Vec<_> = (0..n)
            .map(|i| {
                let mut e = event(i);
                e.pod = (i % 4 != 0).then(|| format!("api-{}", i % 9));
                e
            })
            .collect();
        let batch = events_to_batch(&events);
        let pieces = packing.pieces(&batch).unwrap();
        let stored = packing.store(&batch).unwrap();
        assert_eq!(pieces.len(), stored.len());
        for (plain, packed) in pieces.iter().zip(&stored) {
            assert!(!packing.is_packed(plain));
            assert!(packing.is_packed(packed));
            assert_eq!(plain.schema(), window_schema());
            let unpacked = packing.plain(packed).unwrap();
            assert_eq!(packing.plain(plain).unwrap(), unpacked);
            assert_eq!(packing.store_piece(plain, false).unwrap(), *packed);
        }
    }

    #[test]
    fn a_batch_without_a_needed_column_is_an_input_error() {
        let b = events_to_batch(&[event(1)]);
        let b = b.project(&[0, 1]).unwrap();
        let err = window_rows(&b).unwrap_err().to_string();
        assert!(err.contains("`observed_time`"), "{err}");
    }
}
