//! Text columns of the window's rows (strings, and lists and maps of strings), kept
//! FSST-compressed.
//!
//! The look-back holds every event (a million in an hour's window), and most rows are
//! read by nothing but the context search, which matches them on names and kinds and
//! returns the few that belong to an open story. Their messages, event ids, attributes
//! and owner chains are the biggest values of a row (~131, 36, 74 and 55 bytes in
//! generated captures), and each is mostly words the kubelet and controllers repeat. FSST (Boncz, Neumann, Leis: "FSST:
//! Fast Random Access String Compression", VLDB 2020) replaces up to 8-byte runs with
//! 1-byte codes from a 255-entry table trained on a sample, and decompresses one
//! value without its neighbours: a row the search returns is unpacked alone, in the
//! query, by the `unpack_*` functions this module registers ([`Unpack`]).
//!
//! Measured over the first 327,680 rows of the engine bench's 1M-event, 48k-pod input,
//! packed as the engine packs them (raw until the first table): messages 62.8 → 30.3
//! bytes a row, event ids 39.4 → 24.5, attributes 85.9 → 20.1, owner chains 48.2 → 14.0. On the first 200,000 messages of that capture's
//! `events.json` (file order), a table trained on the first 8,192 packed them 130.7 →
//! 38.7 bytes; `fsst-rs` decompressed messages at ~2 GB/s, event ids at ~1 GB/s.
//!
//! Each packed value starts with a tag byte: [`RAW`] (the bytes follow as they were: no
//! table yet, or its codes would not be shorter) or the number (1..=255) of the table
//! whose codes follow; so a value never takes more than one byte over its size. A table is trained on
//! [`TRAIN_VALUES`] distinct values: the first rows of a window can be one wording over
//! and over (thousands of "Pod created" as a cluster starts), and a table trained on
//! them escapes every other byte, doubling the text (a column that has fewer distinct
//! values is trained on what it has after [`SETTLED`] values). Distinct values are
//! sampled while there is no table, and again whenever a batch packs to more than
//! [`POOR`] of its size (the wordings changed); a new table is trained from each full
//! sample, and kept if it packs that sample. Values
//! keep the table they were packed with, so tables are never retrained in place.

use std::sync::{Arc, Mutex, RwLock};

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryBuilder, ListBuilder, MapBuilder, MapFieldNames,
    RecordBatch, StringBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{DataFusionError, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use fsst::Compressor;

use crate::{Error, Result};

/// Tag of a value stored as it was.
pub const RAW: u8 = 0;
/// Distinct values a table is trained on: ~2-3 ms of training, once per table.
pub const TRAIN_VALUES: usize = 4096;
/// A batch whose values pack to more than this share of their bytes is sampled for a
/// new table (messages pack to 0.3-0.5 of their bytes on a table that fits them).
pub const POOR: f64 = 0.7;
/// Values sampled after which a table is trained on the distinct ones seen, however
/// few: the column repeats itself, and a table of its few wordings fits it.
pub const SETTLED: usize = 8 * TRAIN_VALUES;
/// Tables a codec trains at most (the tag byte's range).
const MAX_TABLES: usize = 255;

/// The codec of one text column: its FSST tables, and the sample the next is trained on.
#[derive(Default)]
pub struct TextCodec {
    tables: RwLock<Vec<Arc<Compressor>>>,
    sample: Mutex<Sample>,
}

impl std::fmt::Debug for TextCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextCodec")
            .field("tables", &self.tables().len())
            .finish()
    }
}

impl TextCodec {
    /// `column` packed into Binary values of the same nulls, with the newest table (raw
    /// while there is none). Utf8 values are packed as they are; lists and maps of
    /// strings are laid out as bytes first (a length-prefixed layout, see `encode`).
    pub fn pack(&self, column: &dyn Array) -> Result<ArrayRef> {
        let values = encode(column)?;
        if self.tables().is_empty() {
            self.learn(&values);
        }
        let table = {
            let tables = self.tables();
            tables.last().cloned().map(|t| (tables.len() as u8, t))
        };
        let offsets = values.value_offsets();
        let text = (offsets[values.len()] - offsets[0]) as usize;
        let mut out = BinaryBuilder::with_capacity(values.len(), text / 2);
        let mut value = Vec::new();
        for v in &values {
            let Some(v) = v else {
                out.append_null();
                continue;
            };
            value.clear();
            // A value the table does not shorten (text it was not trained on escapes
            // byte by byte, up to twice its size) is kept raw.
            let codes = table.as_ref().map(|(tag, t)| (*tag, t.compress(v)));
            match codes {
                Some((tag, codes)) if codes.len() < v.len() => {
                    value.push(tag);
                    value.extend_from_slice(&codes);
                }
                _ => {
                    value.push(RAW);
                    value.extend_from_slice(v);
                }
            }
            out.append_value(&value);
        }
        let out = out.finish();
        if table.is_some() && out.value_data().len() as f64 > (values.len() + text) as f64 * POOR {
            self.learn(&values);
        }
        Ok(Arc::new(out))
    }

    /// Binary values [`TextCodec::pack`] made, as the `as_type` values they were.
    pub fn unpack(&self, packed: &dyn Array, as_type: &DataType) -> Result<ArrayRef> {
        let packed = packed
            .as_binary_opt::<i32>()
            .ok_or_else(|| Error::Internal(format!("unpacking a {} column", packed.data_type())))?;
        let tables = self.tables().clone();
        let decompressors: Vec<_> = tables.iter().map(|t| t.decompressor()).collect();
        let offsets = packed.value_offsets();
        let codes = (offsets[packed.len()] - offsets[0]) as usize;
        let mut out = Decoded::new(as_type, packed.len(), codes * 3)?;
        for v in packed {
            let Some(v) = v else {
                out.append(None)?;
                continue;
            };
            let bytes = match v.split_first() {
                None => Vec::new(),
                Some((&RAW, rest)) => rest.to_vec(),
                Some((&tag, rest)) => match decompressors.get(tag as usize - 1) {
                    Some(d) => d.decompress(rest),
                    None => {
                        return Err(Error::Internal(format!(
                            "packed text: tag {tag} without its table"
                        )));
                    }
                },
            };
            out.append(Some(&bytes))?;
        }
        Ok(out.finish())
    }

    /// How many tables are trained.
    pub fn table_count(&self) -> usize {
        self.tables().len()
    }

    fn tables(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Compressor>>> {
        self.tables.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds distinct `values` to the sample; trains a table once it holds
    /// [`TRAIN_VALUES`] of them, or once [`SETTLED`] values went by without filling it
    /// (a column with few distinct values, such as the owner chains of a small cluster).
    fn learn(&self, values: &BinaryArray) {
        let mut sample = self.sample.lock().unwrap_or_else(|p| p.into_inner());
        for v in values.iter().flatten() {
            if sample.values.len() >= TRAIN_VALUES {
                break;
            }
            sample.seen += 1;
            if !sample.values.contains(v) {
                sample.values.insert(v.to_vec());
            }
        }
        if sample.values.len() < TRAIN_VALUES && sample.seen < SETTLED {
            return;
        }
        let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
        if tables.len() < MAX_TABLES {
            let refs: Vec<&[u8]> = sample.values.iter().map(Vec::as_slice).collect();
            let table = Compressor::train(&refs);
            // A table that does not pack its own sample (a handful of short values) would
            // pack nothing: it is not kept, and sampling starts over.
            let text: usize = refs.iter().map(|v| v.len()).sum();
            let codes: usize = refs.iter().map(|v| table.compress(v).len()).sum();
            if (codes as f64) < text as f64 * POOR {
                tables.push(Arc::new(table));
            }
        }
        *sample = Sample::default();
    }
}

/// Distinct values sampled for the next table, and how many values went by meanwhile.
#[derive(Default)]
struct Sample {
    /// Sorted, so that the tables (and the bytes held) are the same on every run.
    values: std::collections::BTreeSet<Vec<u8>>,
    seen: usize,
}

/// The bytes packed for each value of `column`: a string's own bytes; for a list of
/// strings, each item as a [`put`] length (0 for a null item, else its length + 1) and
/// its bytes; for a map of strings, each key as a length and its bytes, then its value
/// like a list item. Exact for any text (no separator to escape), and what [`Decoded`]
/// reads back.
fn encode(column: &dyn Array) -> Result<BinaryArray> {
    let unsupported = || Error::Internal(format!("packing a {} column", column.data_type()));
    let strings = |a: &ArrayRef| a.as_string_opt::<i32>().cloned().ok_or_else(unsupported);
    match column.data_type() {
        DataType::Utf8 => {
            let s = column.as_string_opt::<i32>().ok_or_else(unsupported)?;
            Ok(BinaryArray::from(s.clone()))
        }
        DataType::List(_) => {
            let list = column.as_list_opt::<i32>().ok_or_else(unsupported)?;
            let items = strings(list.values())?;
            Ok(encode_entries(
                list.value_offsets(),
                |i| list.is_null(i),
                |v, j| {
                    put_item(v, items.is_valid(j).then(|| items.value(j)));
                },
            ))
        }
        DataType::Map(..) => {
            let map = column.as_map_opt().ok_or_else(unsupported)?;
            let (keys, values) = (strings(map.keys())?, strings(map.values())?);
            Ok(encode_entries(
                map.value_offsets(),
                |i| map.is_null(i),
                |v, j| {
                    put(v, keys.value(j).len());
                    v.extend_from_slice(keys.value(j).as_bytes());
                    put_item(v, values.is_valid(j).then(|| values.value(j)));
                },
            ))
        }
        _ => Err(unsupported()),
    }
}

/// One value per window of `offsets`: null where `null(i)`, else its entries `j` as
/// `entry` writes them.
fn encode_entries(
    offsets: &[i32],
    null: impl Fn(usize) -> bool,
    mut entry: impl FnMut(&mut Vec<u8>, usize),
) -> BinaryArray {
    let rows = offsets.len().saturating_sub(1);
    let mut out = BinaryBuilder::with_capacity(rows, rows * 32);
    let mut v = Vec::new();
    for (i, w) in offsets.windows(2).enumerate() {
        if null(i) {
            out.append_null();
            continue;
        }
        v.clear();
        for j in w[0] as usize..w[1] as usize {
            entry(&mut v, j);
        }
        out.append_value(&v);
    }
    out.finish()
}

/// Appends `n` as a LEB128 varint: one byte for lengths under 128.
fn put(v: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        v.push((n as u8) | 0x80);
        n >>= 7;
    }
    v.push(n as u8);
}

/// Appends an optional string: 0 for none, else its length + 1 and its bytes.
fn put_item(v: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => put(v, 0),
        Some(s) => {
            put(v, s.len() + 1);
            v.extend_from_slice(s.as_bytes());
        }
    }
}

/// Reads a varint [`put`] wrote at `*at`, moving past it.
fn take(v: &[u8], at: &mut usize) -> Result<usize> {
    let mut n = 0usize;
    for shift in (0..64).step_by(7) {
        let b = *v
            .get(*at)
            .ok_or_else(|| Error::Internal("packed value: a length runs past its end".into()))?;
        *at += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(Error::Internal(
        "packed value: a length of over 64 bits".into(),
    ))
}

/// Reads `len` bytes at `*at` as a string, moving past them.
fn take_str<'a>(v: &'a [u8], at: &mut usize, len: usize) -> Result<&'a str> {
    let bytes = v
        .get(*at..*at + len)
        .ok_or_else(|| Error::Internal("packed value: a string runs past its end".into()))?;
    *at += len;
    std::str::from_utf8(bytes)
        .map_err(|e| Error::Internal(format!("packed text is not UTF-8: {e}")))
}

/// Reads an optional string [`put_item`] wrote.
fn take_item<'a>(v: &'a [u8], at: &mut usize) -> Result<Option<&'a str>> {
    match take(v, at)? {
        0 => Ok(None),
        n => take_str(v, at, n - 1).map(Some),
    }
}

/// The unpacked column being built, of the type it had before [`encode`].
enum Decoded {
    Utf8(StringBuilder),
    List(ListBuilder<StringBuilder>),
    Map(MapBuilder<StringBuilder, StringBuilder>),
}

impl Decoded {
    fn new(as_type: &DataType, rows: usize, bytes: usize) -> Result<Self> {
        Ok(match as_type {
            DataType::Utf8 => Decoded::Utf8(StringBuilder::with_capacity(rows, bytes)),
            DataType::List(item) => Decoded::List(
                ListBuilder::with_capacity(StringBuilder::new(), rows).with_field(item.clone()),
            ),
            DataType::Map(entries, _) => {
                let DataType::Struct(fields) = entries.data_type() else {
                    return Err(Error::Internal(format!("unpacking to {as_type}")));
                };
                let names = MapFieldNames {
                    entry: entries.name().clone(),
                    key: fields[0].name().clone(),
                    value: fields[1].name().clone(),
                };
                Decoded::Map(
                    MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new())
                        .with_values_field(fields[1].clone()),
                )
            }
            other => return Err(Error::Internal(format!("unpacking to {other}"))),
        })
    }

    fn append(&mut self, bytes: Option<&[u8]>) -> Result<()> {
        let Some(v) = bytes else {
            match self {
                Decoded::Utf8(b) => b.append_null(),
                Decoded::List(b) => b.append_null(),
                Decoded::Map(b) => b.append(false)?,
            }
            return Ok(());
        };
        let at = &mut 0;
        match self {
            Decoded::Utf8(b) => b.append_value(take_str(v, at, v.len())?),
            Decoded::List(b) => {
                while *at < v.len() {
                    b.values().append_option(take_item(v, at)?);
                }
                b.append(true);
            }
            Decoded::Map(b) => {
                while *at < v.len() {
                    let len = take(v, at)?;
                    b.keys().append_value(take_str(v, at, len)?);
                    b.values().append_option(take_item(v, at)?);
                }
                b.append(true)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> ArrayRef {
        match self {
            Decoded::Utf8(mut b) => Arc::new(b.finish()),
            Decoded::List(mut b) => Arc::new(b.finish()),
            Decoded::Map(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Some columns of a schema kept packed, each with a codec of its own (and, if asked,
/// dictionaries with narrow keys): the schema as held, and the conversions between it
/// and the plain one. The window keeps one
/// ([`crate::window_rows`]), and so do the incidents' held rows
/// ([`crate::held_events`]).
#[derive(Debug)]
pub struct PackedColumns {
    plain: SchemaRef,
    packed: SchemaRef,
    /// By field of `plain`: the codec of a packed column.
    codecs: Vec<Option<Arc<TextCodec>>>,
}

/// The dictionary key type of a [`PackedColumns::with_narrow_keys`] schema: 2 bytes a
/// row rather than the event schema's 4, for the window's 11 dictionary columns. A
/// batch of at most [`NARROW_KEYS_ROWS`] rows always fits it.
pub const NARROW_KEY: DataType = DataType::Int16;

/// Rows a batch held with narrow keys may have: each dictionary then has at most as
/// many values in use as [`NARROW_KEY`] can number.
pub const NARROW_KEYS_ROWS: usize = i16::MAX as usize;

impl PackedColumns {
    /// `columns` of `plain` packed (as Binary), each with a new codec.
    pub fn new(plain: SchemaRef, columns: &[&str]) -> Self {
        let codecs: Vec<Option<Arc<TextCodec>>> = plain
            .fields()
            .iter()
            .map(|f| columns.contains(&f.name().as_str()).then(Default::default))
            .collect();
        let fields: Vec<Field> = plain
            .fields()
            .iter()
            .zip(&codecs)
            .map(|(f, c)| match c {
                Some(_) => f.as_ref().clone().with_data_type(DataType::Binary),
                None => f.as_ref().clone(),
            })
            .collect();
        let packed = Arc::new(Schema::new_with_metadata(fields, plain.metadata().clone()));
        PackedColumns {
            plain,
            packed,
            codecs,
        }
    }

    /// The same, holding dictionary columns with [`NARROW_KEY`]s, and the string
    /// columns named in `encode` as such dictionaries too (columns whose values repeat
    /// within a batch): for batches of at most [`NARROW_KEYS_ROWS`] rows (see
    /// [`PackedColumns::pack`]).
    pub fn with_narrow_keys(self, encode: &[&str]) -> Self {
        let narrow = |v: &DataType| DataType::Dictionary(Box::new(NARROW_KEY), Box::new(v.clone()));
        let fields: Vec<Field> = self
            .packed
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Dictionary(_, v) => f.as_ref().clone().with_data_type(narrow(v)),
                t if encode.contains(&f.name().as_str()) => {
                    f.as_ref().clone().with_data_type(narrow(t))
                }
                _ => f.as_ref().clone(),
            })
            .collect();
        let packed = Arc::new(Schema::new_with_metadata(
            fields,
            self.packed.metadata().clone(),
        ));
        PackedColumns { packed, ..self }
    }

    /// The schema as held: the plain one with the packed columns as Binary (and
    /// dictionary keys narrowed, see [`PackedColumns::with_narrow_keys`]).
    pub fn schema(&self) -> SchemaRef {
        self.packed.clone()
    }

    /// Each packed column (its plain field) with its codec.
    pub fn columns(&self) -> impl Iterator<Item = (&Field, &Arc<TextCodec>)> {
        self.plain
            .fields()
            .iter()
            .zip(&self.codecs)
            .filter_map(|(f, c)| c.as_ref().map(|c| (f.as_ref(), c)))
    }

    /// Column `name` as held: packed if it is a packed column, its dictionary keys
    /// narrowed if the held type says so, else as it is. A column to narrow of more
    /// than [`NARROW_KEYS_ROWS`] rows may not fit: an error.
    pub fn pack(&self, name: &str, column: &ArrayRef) -> Result<ArrayRef> {
        let Ok(i) = self.plain.index_of(name) else {
            return Ok(column.clone());
        };
        if let Some(codec) = &self.codecs[i] {
            return codec.pack(column.as_ref());
        }
        let held = self.packed.field(i).data_type();
        match held == column.data_type() {
            true => Ok(column.clone()),
            false => narrow(column, held),
        }
    }

    /// `batch` (of [`PackedColumns::schema`]) with its packed columns unpacked.
    pub fn unpack(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let columns = self
            .plain
            .fields()
            .iter()
            .zip(&self.codecs)
            .zip(batch.columns())
            .map(|((f, codec), c)| match codec {
                Some(codec) => codec.unpack(c, f.data_type()),
                None if c.data_type() != f.data_type() => Ok(cast(c, f.data_type())?),
                None => Ok(c.clone()),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(self.plain.clone(), columns)?)
    }
}

/// `column` (a dictionary, or its values) as the dictionary type `to`, whose keys are
/// narrower. A dictionary's keys are cast as they are when they fit; when they do not
/// (the dictionary has more values than `to` numbers, as a batch sliced from a bigger
/// one has), the dictionary is built again from the values the rows use.
fn narrow(column: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    if let Ok(narrowed) = cast(column, to) {
        return Ok(narrowed);
    }
    let DataType::Dictionary(_, values) = to else {
        return Err(Error::Internal(format!(
            "narrowing to {to}, not a dictionary"
        )));
    };
    Ok(cast(&cast(column, values)?, to)?)
}

/// `unpack_<column>(packed)`: the value of a column the window keeps packed, of the type it had.
#[derive(Debug)]
pub struct Unpack {
    name: String,
    /// The column's type before it was packed: what the function returns.
    as_type: DataType,
    codec: Arc<TextCodec>,
    signature: Signature,
}

impl Unpack {
    /// The function that unpacks `column`'s values (of `as_type` before packing) with
    /// `codec`.
    pub fn udf(column: &str, as_type: DataType, codec: Arc<TextCodec>) -> ScalarUDF {
        ScalarUDF::new_from_impl(Unpack {
            name: format!("unpack_{column}"),
            as_type,
            codec,
            signature: Signature::exact(vec![DataType::Binary], Volatility::Immutable),
        })
    }
}

impl PartialEq for Unpack {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.codec, &other.codec)
    }
}

impl Eq for Unpack {}

impl std::hash::Hash for Unpack {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for Unpack {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(self.as_type.clone())
    }
    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.name);
        };
        let packed = arg.to_array(args.number_rows)?;
        let strings = self
            .codec
            .unpack(&packed, &self.as_type)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(ColumnarValue::Array(strings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    fn messages(n: usize) -> StringArray {
        (0..n)
            .map(|i| match i % 4 {
                0 => Some(format!(
                    "Successfully assigned shop/web-{i:x}-7d9f to node-{}",
                    i % 7
                )),
                1 => Some("Readiness probe failed: HTTP probe failed with statuscode: 503".into()),
                2 => None,
                _ => Some(format!(
                    "Back-off restarting failed container app in pod web-{i}"
                )),
            })
            .collect()
    }

    #[test]
    fn values_come_back_as_they_were_before_and_after_training() {
        let codec = TextCodec::default();
        let early = messages(100);
        let early_packed = codec.pack(&early).unwrap();
        assert_eq!(codec.table_count(), 0, "100 values do not train");
        assert_eq!(early_packed.as_binary::<i32>().value(0)[0], RAW);

        let many = messages(TRAIN_VALUES * 2);
        let packed = codec.pack(&many).unwrap();
        assert_eq!(codec.table_count(), 1, "the sample filled up and trained");
        assert_eq!(packed.as_binary::<i32>().value(0)[0], 1);
        assert_eq!(packed.null_count(), many.null_count());
        // Trained on these words, the codes are far smaller than the text.
        let raw = many.value_data().len();
        let codes = packed.as_binary::<i32>().value_data().len();
        assert!(
            (codes as f64) < raw as f64 * POOR,
            "{codes} bytes of codes for {raw} of text"
        );

        // Raw values packed before the table still read back, beside coded ones.
        assert_eq!(&strings(&codec, &early_packed), &early);
        assert_eq!(&strings(&codec, &packed), &many);
    }

    /// `packed` unpacked as the strings they were.
    fn strings(codec: &TextCodec, packed: &ArrayRef) -> StringArray {
        codec
            .unpack(packed, &DataType::Utf8)
            .unwrap()
            .as_string::<i32>()
            .clone()
    }

    fn bytes(a: &ArrayRef) -> usize {
        a.as_binary::<i32>().value_data().len()
    }

    /// A cluster starting up says "Pod created" thousands of times: no table is trained
    /// on that alone, and the one trained once wordings vary packs what follows.
    #[test]
    fn a_burst_of_one_wording_does_not_train_the_table() {
        let codec = TextCodec::default();
        let burst: StringArray = (0..20_000).map(|_| Some("Pod created")).collect();
        codec.pack(&burst).unwrap();
        assert_eq!(codec.table_count(), 0);
        let varied = messages(TRAIN_VALUES * 2);
        let packed = codec.pack(&varied).unwrap();
        assert_eq!(codec.table_count(), 1);
        assert!((bytes(&packed) as f64) < varied.value_data().len() as f64 * POOR);
    }

    /// A burst of one wording longer than [`SETTLED`] trains no table: a table of one
    /// short value does not even pack its own sample.
    #[test]
    fn a_table_that_packs_nothing_is_not_kept() {
        let codec = TextCodec::default();
        let burst: StringArray = (0..SETTLED * 2).map(|_| Some("Pod created")).collect();
        let packed = codec.pack(&burst).unwrap();
        assert_eq!(codec.table_count(), 0);
        assert_eq!(bytes(&packed), burst.value_data().len() + burst.len());
    }

    /// A column with few distinct values (the owner chains of a small cluster) is
    /// trained on them once enough values went by, and packs well.
    #[test]
    fn few_distinct_values_train_once_settled() {
        let codec = TextCodec::default();
        let chains: StringArray = (0..SETTLED / 4)
            .map(|i| {
                Some(format!(
                    "ReplicaSet/app-{}-5d4fa0744>Deployment/app-{}",
                    i % 300,
                    i % 300
                ))
            })
            .collect();
        for _ in 0..3 {
            codec.pack(&chains).unwrap();
            assert_eq!(codec.table_count(), 0);
        }
        codec.pack(&chains).unwrap();
        assert_eq!(
            codec.table_count(),
            1,
            "trained on 300 values after {SETTLED}"
        );
        let packed = codec.pack(&chains).unwrap();
        assert!((bytes(&packed) as f64) < chains.value_data().len() as f64 * POOR);
        assert_eq!(&strings(&codec, &packed), &chains);
    }

    /// When the wordings change so that the table no longer fits, a new table is
    /// trained from the new values; values packed with the old one still read back.
    #[test]
    fn changed_wordings_train_a_new_table() {
        let codec = TextCodec::default();
        let old = messages(TRAIN_VALUES * 2);
        let old_packed = codec.pack(&old).unwrap();
        let new: StringArray = (0..TRAIN_VALUES * 2)
            .map(|i| {
                Some(format!(
                    "MountVolume.SetUp failed for volume \"pvc-{i:08x}\" : rpc error: code = DeadlineExceeded desc = context deadline exceeded"
                ))
            })
            .collect();
        let first = codec.pack(&new).unwrap();
        // What the old table does not shorten is kept raw: at most a tag byte over.
        assert!(bytes(&first) <= new.value_data().len() + new.len());
        assert_eq!(
            codec.table_count(),
            2,
            "the poor batch was sampled and trained"
        );
        let second = codec.pack(&new).unwrap();
        assert!(
            bytes(&second) * 2 < bytes(&first),
            "{} bytes with the new table, {} with the old",
            bytes(&second),
            bytes(&first)
        );
        assert_eq!(second.as_binary::<i32>().value(0)[0], 2);
        assert_eq!(&strings(&codec, &old_packed), &old);
        assert_eq!(&strings(&codec, &first), &new);
        assert_eq!(&strings(&codec, &second), &new);
    }

    /// Lists and maps of strings come back exactly: empty ones, null items and values,
    /// empty strings, and text holding any byte a separator could have been.
    #[test]
    fn lists_and_maps_round_trip() {
        use arrow::array::{MapBuilder, MapFieldNames};
        let item = Arc::new(arrow::datatypes::Field::new("item", DataType::Utf8, true));
        let mut lists = ListBuilder::new(StringBuilder::new()).with_field(item);
        let names = MapFieldNames {
            entry: "entries".into(),
            key: "keys".into(),
            value: "values".into(),
        };
        let mut maps = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new());
        for i in 0..(TRAIN_VALUES * 5) {
            match i % 4 {
                0 => {
                    lists.append(true);
                    maps.append(true).unwrap();
                }
                1 => {
                    lists.values().append_value(format!("ReplicaSet/web-{i:x}"));
                    lists.values().append_value("Deployment/web");
                    lists.append(true);
                    maps.keys().append_value("reporter");
                    maps.values().append_value("kubelet");
                    maps.keys().append_value(format!("first_timestamp{i}"));
                    maps.values().append_null();
                    maps.append(true).unwrap();
                }
                2 => {
                    lists.values().append_null();
                    lists.values().append_value("");
                    lists.append(true);
                    maps.keys().append_value("");
                    maps.values().append_value("");
                    maps.append(true).unwrap();
                }
                _ => {
                    lists.values().append_value("a\u{1f}b\u{0}c\u{80}ü");
                    lists.append(true);
                    maps.keys().append_value("k\u{1e}");
                    maps.values().append_value("v\u{1f}\n");
                    maps.append(true).unwrap();
                }
            }
        }
        for column in [
            Arc::new(lists.finish()) as ArrayRef,
            Arc::new(maps.finish()),
        ] {
            let codec = TextCodec::default();
            let packed = codec.pack(&column).unwrap();
            assert_eq!(codec.table_count(), 1);
            let back = codec.unpack(&packed, column.data_type()).unwrap();
            assert_eq!(back.data_type(), column.data_type());
            assert_eq!(&back, &column);
        }
    }

    #[test]
    fn text_unlike_the_sample_still_round_trips() {
        let codec = TextCodec::default();
        codec.pack(&messages(TRAIN_VALUES * 2)).unwrap();
        assert_eq!(codec.table_count(), 1);
        let odd: StringArray = vec![
            Some("ünïcödé ✓ 日本語 — no symbol of the table fits"),
            Some(""),
            Some("x"),
        ]
        .into_iter()
        .collect();
        let packed = codec.pack(&odd).unwrap();
        assert_eq!(&strings(&codec, &packed), &odd);
    }

    #[test]
    fn a_code_without_its_table_is_an_error() {
        let trained = TextCodec::default();
        let packed = trained.pack(&messages(TRAIN_VALUES * 2)).unwrap();
        assert_eq!(trained.table_count(), 1);
        let err = TextCodec::default()
            .unpack(&packed, &DataType::Utf8)
            .unwrap_err()
            .to_string();
        assert!(err.contains("without its table"), "{err}");
    }
}
