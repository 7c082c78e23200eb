//! Tapio's own event files: JSON lines of UnifiedEvent, Parquet and Arrow IPC
//! (file or stream format) of [`tapio_schemas::event_schema`].

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::ipc::reader::{FileReader, StreamReader};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use tapio_schemas::{UnifiedEvent, events_from_batch};

use crate::error::{Error, Result};

/// True when a JSON object is a Tapio event.
pub fn is_tapio_event(v: &Value) -> bool {
    v.get("event_id").is_some() && v.get("event_type").is_some()
}

fn decode_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Decode {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Reads the batches of a Parquet file.
pub fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>> {
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| decode_err(path, e))?
        .build()
        .map_err(|e| decode_err(path, e))?;
    reader.map(|b| b.map_err(|e| decode_err(path, e))).collect()
}

/// Reads the batches of an Arrow IPC file or stream.
pub fn read_ipc(path: &Path) -> Result<Vec<RecordBatch>> {
    let mut f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut magic = [0u8; 6];
    let is_file = f.read_exact(&mut magic).is_ok() && &magic == b"ARROW1";
    f.seek(SeekFrom::Start(0)).map_err(|e| io_err(path, e))?;
    if is_file {
        let r = FileReader::try_new(f, None).map_err(|e| decode_err(path, e))?;
        r.map(|b| b.map_err(|e| decode_err(path, e))).collect()
    } else {
        let r = StreamReader::try_new(BufReader::new(f), None).map_err(|e| decode_err(path, e))?;
        r.map(|b| b.map_err(|e| decode_err(path, e))).collect()
    }
}

/// Events of Tapio batches.
pub fn events_of(path: &Path, batches: &[RecordBatch]) -> Result<Vec<UnifiedEvent>> {
    let mut out = Vec::new();
    for b in batches {
        out.extend(events_from_batch(b).map_err(|e| decode_err(path, e))?);
    }
    Ok(out)
}
