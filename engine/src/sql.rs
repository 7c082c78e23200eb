//! `tapio sql`: DataFusion SQL over the stored history. The tables `events`,
//! `correlations`, `topology` and `stories` are registered from the data dir with their
//! `date` partition column; a table with no data yet is empty, not missing.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::ObjectStore as _;

use crate::Result;
use crate::store::{DataDir, TABLES, schema_of};

/// A session with the history's tables and Tapio's functions registered.
pub async fn session(dir: &DataDir) -> Result<SessionContext> {
    let ctx = SessionContext::new();
    for udf in tapio_udfs::all() {
        ctx.register_udf(udf);
    }
    // Local paths use DataFusion's own file store (ours is rooted at the data dir, and
    // registering it for `file://` would re-root every absolute path).
    if dir.url.scheme() != "file" {
        ctx.register_object_store(&dir.url, dir.store.clone());
    }
    for t in TABLES {
        let schema = schema_of(t.name).expect("TABLES have schemas");
        let prefix = if dir.prefix.is_empty() {
            t.name.to_string()
        } else {
            format!("{}/{}", dir.prefix, t.name)
        };
        let has_files = dir
            .store
            .list(Some(&prefix.as_str().into()))
            .try_next()
            .await?
            .is_some();
        if has_files {
            let url = ListingTableUrl::parse(
                dir.url
                    .join(&format!("{}/", t.name))
                    .map_err(|_| crate::Error::DataDir(dir.url.to_string()))?
                    .as_str(),
            )?;
            let opts = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(vec![("date".to_string(), DataType::Utf8)]);
            let config = ListingTableConfig::new(url)
                .with_listing_options(opts)
                .with_schema(schema);
            ctx.register_table(t.name, Arc::new(ListingTable::try_new(config)?))?;
        } else {
            let mut fields: Vec<Field> =
                schema.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.push(Field::new("date", DataType::Utf8, false));
            let empty = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
            ctx.register_table(t.name, Arc::new(empty))?;
        }
    }
    Ok(ctx)
}

/// Runs one SQL statement over the history.
pub async fn query(dir: &DataDir, sql: &str) -> Result<Vec<RecordBatch>> {
    let ctx = session(dir).await?;
    Ok(ctx.sql(sql).await?.collect().await?)
}
