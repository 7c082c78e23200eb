//! Serde rows ⇄ RecordBatch for the lower-volume tables (topology, correlations,
//! stories): arrow-json's decoder builds columns straight from `Serialize` values, and
//! its writer reads them back, so each table's Rust type is its single definition.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::json::ReaderBuilder;
use arrow::json::writer::{JsonArray, WriterBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Result;

/// Builds one batch of `schema` from rows.
pub fn to_batch<T: Serialize>(schema: SchemaRef, rows: &[T]) -> Result<RecordBatch> {
    // The JSON decoder has no dictionary support: decode top-level dictionary columns
    // as plain strings, then cast them.
    let plain: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Dictionary(_, v) => f.as_ref().clone().with_data_type(v.as_ref().clone()),
            _ => f.as_ref().clone(),
        })
        .collect();
    let plain = Arc::new(Schema::new(plain));
    let mut decoder = ReaderBuilder::new(plain.clone())
        .with_batch_size(rows.len().max(1))
        .build_decoder()?;
    decoder.serialize(rows)?;
    let Some(batch) = decoder.flush()? else {
        return Ok(RecordBatch::new_empty(schema));
    };
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| cast(c, f.data_type()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Reads rows back out of a batch (through JSON, so extra columns are ignored).
pub fn from_batch<T: DeserializeOwned>(batch: &RecordBatch) -> Result<Vec<T>> {
    let mut buf = Vec::new();
    let mut w = WriterBuilder::new()
        .with_explicit_nulls(false)
        .build::<_, JsonArray>(&mut buf);
    w.write(batch)?;
    w.finish()?;
    drop(w);
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&buf).map_err(|e| crate::Error::Field {
        field: "row",
        row: e.line(),
        message: e.to_string(),
    })
}
