//! Text columns of the window's rows, kept FSST-compressed.
//!
//! The look-back holds every event (a million in an hour's window), and most rows are
//! read by nothing but the context search, which matches them on names and kinds and
//! returns the few that belong to an open story. Their messages and event ids are the
//! biggest strings of a row (~131 and 36 bytes in generated captures), and each is
//! mostly words the kubelet and controllers repeat. FSST (Boncz, Neumann, Leis: "FSST:
//! Fast Random Access String Compression", VLDB 2020) replaces up to 8-byte runs with
//! 1-byte codes from a 255-entry table trained on a sample, and decompresses one
//! value without its neighbours: a row the search returns is unpacked alone, in the
//! query, by the `unpack_*` functions this module registers ([`Unpack`]).
//!
//! Measured over the first 327,680 rows of the engine bench's 1M-event, 48k-pod input,
//! packed as the engine packs them (raw until the first table): messages 62.8 → 30.8
//! bytes a row, event ids 39.4 → 24.5. Over the whole million, a table trained on the
//! first 8,192 messages packed them 130.7 → 38.7 bytes; `fsst-rs` decompressed ~1-2 GB/s.
//!
//! Each packed value starts with a tag byte: [`RAW`] (the bytes follow as they were) or
//! the number (1..=255) of the table whose codes follow. A table is trained on
//! [`TRAIN_VALUES`] distinct values: the first rows of a window can be one wording over
//! and over (thousands of "Pod created" as a cluster starts), and a table trained on
//! them escapes every other byte, doubling the text. Distinct values are sampled while
//! there is no table, and again whenever a batch packs to more than [`POOR`] of its
//! size (the wordings changed); a new table is trained from each full sample. Values
//! keep the table they were packed with, so tables are never retrained in place.

use std::sync::{Arc, Mutex, RwLock};

use arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, StringArray, StringBuilder};
use arrow::datatypes::DataType;
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
/// Tables a codec trains at most (the tag byte's range).
const MAX_TABLES: usize = 255;

/// The codec of one text column: its FSST tables, and the sample the next is trained on.
#[derive(Default)]
pub struct TextCodec {
    tables: RwLock<Vec<Arc<Compressor>>>,
    /// Sorted, so that the tables (and the bytes held) are the same on every run.
    sample: Mutex<std::collections::BTreeSet<Vec<u8>>>,
}

impl std::fmt::Debug for TextCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextCodec")
            .field("tables", &self.tables().len())
            .finish()
    }
}

impl TextCodec {
    /// `strings` (Utf8) packed into Binary values of the same nulls, with the newest
    /// table (raw while there is none).
    pub fn pack(&self, strings: &dyn Array) -> Result<ArrayRef> {
        let strings = strings
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::Internal(format!("packing a {} column", strings.data_type())))?;
        if self.tables().is_empty() {
            self.learn(strings);
        }
        let table = {
            let tables = self.tables();
            tables.last().cloned().map(|t| (tables.len() as u8, t))
        };
        let offsets = strings.value_offsets();
        let text = (offsets[strings.len()] - offsets[0]) as usize;
        let mut out = BinaryBuilder::with_capacity(strings.len(), text / 2);
        let mut value = Vec::new();
        for s in strings {
            let Some(s) = s else {
                out.append_null();
                continue;
            };
            value.clear();
            match &table {
                Some((tag, t)) => {
                    value.push(*tag);
                    value.extend_from_slice(&t.compress(s.as_bytes()));
                }
                None => {
                    value.push(RAW);
                    value.extend_from_slice(s.as_bytes());
                }
            }
            out.append_value(&value);
        }
        let out = out.finish();
        if table.is_some() && out.value_data().len() as f64 > (strings.len() + text) as f64 * POOR {
            self.learn(strings);
        }
        Ok(Arc::new(out))
    }

    /// Binary values [`TextCodec::pack`] made, as the Utf8 strings they were.
    pub fn unpack(&self, packed: &dyn Array) -> Result<ArrayRef> {
        let packed = packed
            .as_binary_opt::<i32>()
            .ok_or_else(|| Error::Internal(format!("unpacking a {} column", packed.data_type())))?;
        let tables = self.tables().clone();
        let decompressors: Vec<_> = tables.iter().map(|t| t.decompressor()).collect();
        let offsets = packed.value_offsets();
        let codes = (offsets[packed.len()] - offsets[0]) as usize;
        let mut out = StringBuilder::with_capacity(packed.len(), codes * 3);
        for v in packed {
            let Some(v) = v else {
                out.append_null();
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
            let s = String::from_utf8(bytes)
                .map_err(|e| Error::Internal(format!("packed text is not UTF-8: {e}")))?;
            out.append_value(s);
        }
        Ok(Arc::new(out.finish()))
    }

    /// How many tables are trained.
    pub fn table_count(&self) -> usize {
        self.tables().len()
    }

    fn tables(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Compressor>>> {
        self.tables.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `strings`' distinct values to the sample; trains a table once it is full.
    fn learn(&self, strings: &StringArray) {
        let mut sample = self.sample.lock().unwrap_or_else(|p| p.into_inner());
        for v in strings.iter().flatten() {
            if sample.len() >= TRAIN_VALUES {
                break;
            }
            if !sample.contains(v.as_bytes()) {
                sample.insert(v.as_bytes().to_vec());
            }
        }
        if sample.len() < TRAIN_VALUES {
            return;
        }
        let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
        if tables.len() < MAX_TABLES {
            let refs: Vec<&[u8]> = sample.iter().map(Vec::as_slice).collect();
            tables.push(Arc::new(Compressor::train(&refs)));
        }
        sample.clear();
    }
}

/// `unpack_<column>(packed)`: the Utf8 value of a column the window keeps packed.
#[derive(Debug)]
pub struct Unpack {
    name: String,
    codec: Arc<TextCodec>,
    signature: Signature,
}

impl Unpack {
    /// The function that unpacks `column`'s values with `codec`.
    pub fn udf(column: &str, codec: Arc<TextCodec>) -> ScalarUDF {
        ScalarUDF::new_from_impl(Unpack {
            name: format!("unpack_{column}"),
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
        Ok(DataType::Utf8)
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
            .unpack(&packed)
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
        assert_eq!(
            codec.unpack(&early_packed).unwrap().as_string::<i32>(),
            &early
        );
        assert_eq!(codec.unpack(&packed).unwrap().as_string::<i32>(), &many);
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
        assert_eq!(codec.unpack(&old_packed).unwrap().as_string::<i32>(), &old);
        assert_eq!(codec.unpack(&first).unwrap().as_string::<i32>(), &new);
        assert_eq!(codec.unpack(&second).unwrap().as_string::<i32>(), &new);
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
        assert_eq!(codec.unpack(&packed).unwrap().as_string::<i32>(), &odd);
    }

    #[test]
    fn a_code_without_its_table_is_an_error() {
        let trained = TextCodec::default();
        let packed = trained.pack(&messages(TRAIN_VALUES * 2)).unwrap();
        assert_eq!(trained.table_count(), 1);
        let err = TextCodec::default()
            .unpack(&packed)
            .unwrap_err()
            .to_string();
        assert!(err.contains("without its table"), "{err}");
    }
}
