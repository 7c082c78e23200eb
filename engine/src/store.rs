//! History as Parquet through object_store: `<data-dir>/<table>/date=YYYY-MM-DD/part-<hash>.parquet`,
//! appended across runs. Rows whose key is already stored in their date partition are
//! not written again, so replaying the same capture twice does not double anything.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow::compute::{concat_batches, filter_record_batch};

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use tapio_schemas::ids::stable_id;
use tapio_schemas::{as_strings, correlation_schema, event_schema, topology_schema};
use url::Url;

use crate::{Error, Result};

/// A table of the history: its name, schema, the time column that picks the date
/// partition, and the columns whose values identify a row.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// Table (and folder) name.
    pub name: &'static str,
    /// Time column for the date partition.
    pub time: &'static str,
    /// Key columns.
    pub key: &'static [&'static str],
}

/// The four tables Tapio keeps.
pub const TABLES: [Table; 4] = [
    Table {
        name: "events",
        time: "event_time",
        key: &["event_id"],
    },
    Table {
        name: "correlations",
        time: "event_time",
        key: &["story_id", "event_id", "pattern"],
    },
    Table {
        name: "topology",
        time: "valid_from",
        key: &[
            "cluster",
            "relation",
            "from_kind",
            "from_namespace",
            "from_name",
            "to_kind",
            "to_namespace",
            "to_name",
            "detail",
        ],
    },
    Table {
        name: "stories",
        time: "first_seen",
        key: &["id"],
    },
];

/// A table's schema.
pub fn schema_of(name: &str) -> Option<arrow::datatypes::SchemaRef> {
    Some(match name {
        "events" => event_schema(),
        "correlations" => correlation_schema(),
        "topology" => topology_schema(),
        "stories" => crate::memory::stored_story_schema(),
        _ => return None,
    })
}

/// Where history lives.
#[derive(Debug, Clone)]
pub struct DataDir {
    /// The object store.
    pub store: Arc<dyn ObjectStore>,
    /// Base URL for DataFusion (`file:///abs/path/` or `s3://bucket/prefix/`).
    pub url: Url,
    /// Prefix inside the store.
    pub prefix: String,
}

impl DataDir {
    /// Opens a data dir: a local path, `file://` URL or `s3://bucket/prefix` (credentials
    /// and region from the usual `AWS_*` environment). Local folders are created.
    pub fn open(spec: &str) -> Result<Self> {
        if let Some(rest) = spec.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::DataDir(spec.into()));
            }
            let store = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()?;
            let prefix = prefix.trim_matches('/').to_string();
            let url = Url::parse(&format!(
                "s3://{bucket}/{}",
                if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{prefix}/")
                }
            ))
            .map_err(|_| Error::DataDir(spec.into()))?;
            return Ok(DataDir {
                store: Arc::new(store),
                url,
                prefix,
            });
        }
        let path = match spec.strip_prefix("file://") {
            Some(p) => std::path::PathBuf::from(p),
            None if spec.contains("://") => return Err(Error::DataDir(spec.into())),
            None => std::path::PathBuf::from(spec),
        };
        std::fs::create_dir_all(&path)
            .map_err(|e| Error::Input(format!("data dir {}: {e}", path.display())))?;
        let abs = std::fs::canonicalize(&path)
            .map_err(|e| Error::Input(format!("data dir {}: {e}", path.display())))?;
        let store = LocalFileSystem::new_with_prefix(&abs)?;
        let url = Url::from_directory_path(&abs).map_err(|_| Error::DataDir(spec.into()))?;
        Ok(DataDir {
            store: Arc::new(store),
            url,
            prefix: String::new(),
        })
    }

    fn path(&self, rel: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rel)
        } else {
            Path::from(format!("{}/{rel}", self.prefix))
        }
    }

    /// Appends rows of `table`, skipping rows whose key is already stored. Returns rows
    /// written.
    pub async fn append(&self, table: &Table, batches: &[RecordBatch]) -> Result<usize> {
        let schema = schema_of(table.name)
            .ok_or_else(|| Error::Internal(format!("no table {}", table.name)))?;
        // Stories are stored with their signatures (see `memory::SIGNATURE_COLUMN`).
        let non_empty: Vec<RecordBatch> = batches
            .iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| match table.name {
                "stories" => crate::memory::with_signatures(b),
                _ => Ok(b.clone()),
            })
            .collect::<Result<_>>()?;
        if non_empty.is_empty() {
            return Ok(0);
        }
        let all = concat_batches(&schema, &non_empty)?;
        let keys = row_keys(&all, table.key)?;
        let times = all
            .column_by_name(table.time)
            .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
            .ok_or_else(|| {
                Error::Internal(format!("{}: no time column {}", table.name, table.time))
            })?;
        let mut by_date: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in 0..all.num_rows() {
            let t = if times.is_null(i) { 0 } else { times.value(i) };
            let day = tapio_schemas::time::format_ns(t)
                .get(..10)
                .unwrap_or("1970-01-01")
                .to_string();
            by_date.entry(day).or_default().push(i);
        }
        let mut written = 0;
        for (date, rows) in by_date {
            let dir = format!("{}/date={date}", table.name);
            let mut existing = self.stored_keys(&dir, table.key).await?;
            let mut mask = vec![false; all.num_rows()];
            let mut ids = Vec::new();
            for i in rows {
                if existing.insert(keys[i].clone()) {
                    mask[i] = true;
                    ids.push(keys[i].as_str());
                }
            }
            if ids.is_empty() {
                continue;
            }
            let part = filter_record_batch(&all, &BooleanArray::from(mask))?;
            let name = stable_id(&ids);
            let bytes = encode(&part)?;
            self.store
                .put(
                    &self.path(&format!("{dir}/part-{name}.parquet")),
                    PutPayload::from(bytes),
                )
                .await?;
            written += part.num_rows();
        }
        Ok(written)
    }

    async fn stored_keys(&self, dir: &str, key: &[&str]) -> Result<HashSet<String>> {
        let mut out = HashSet::new();
        let files: Vec<_> = self.store.list(Some(&self.path(dir))).try_collect().await?;
        for f in files {
            if !f.location.as_ref().ends_with(".parquet") {
                continue;
            }
            let bytes = self.store.get(&f.location).await?.bytes().await?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()?;
            for b in reader {
                out.extend(row_keys(&b?, key)?);
            }
        }
        Ok(out)
    }
}

fn row_keys(batch: &RecordBatch, key: &[&str]) -> Result<Vec<String>> {
    let cols: Vec<StringArray> = key
        .iter()
        .map(|k| {
            batch
                .column_by_name(k)
                .and_then(as_strings)
                .ok_or_else(|| Error::Internal(format!("key column {k}")))
        })
        .collect::<Result<_>>()?;
    Ok((0..batch.num_rows())
        .map(|i| {
            let parts: Vec<&str> = cols
                .iter()
                .map(|c| if c.is_null(i) { "\u{0}" } else { c.value(i) })
                .collect();
            parts.join("\u{1f}")
        })
        .collect())
}

fn encode(batch: &RecordBatch) -> Result<Vec<u8>> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
    w.write(batch)?;
    w.close()?;
    Ok(buf)
}
