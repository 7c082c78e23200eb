//! Event-time bookkeeping: the events retained for the look-back, the watermark, and the
//! tumbling windows it closes.

use std::collections::VecDeque;

use arrow::array::{Array, BooleanArray, RecordBatch, TimestampNanosecondArray};
use arrow::compute::filter_record_batch;

use crate::{Error, Result};

/// Events kept for the look-back, oldest first.
#[derive(Debug, Default)]
pub struct Retained {
    batches: VecDeque<(RecordBatch, i64, i64, usize)>,
    rows: usize,
    bytes: usize,
}

/// Bytes of the rows a batch holds. Arrays decoded from IPC are slices of one message
/// buffer, so their buffers' capacity would count that buffer once per column.
fn slice_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0))
        .sum()
}

fn times(batch: &RecordBatch) -> Result<&TimestampNanosecondArray> {
    batch
        .column_by_name("event_time")
        .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
        .ok_or_else(|| Error::Input("batch without a timestamp `event_time` column".into()))
}

impl Retained {
    /// Adds a batch; returns its (min, max) event time, `None` when empty.
    pub fn push(&mut self, batch: RecordBatch) -> Result<Option<(i64, i64)>> {
        if batch.num_rows() == 0 {
            return Ok(None);
        }
        let t = times(&batch)?;
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for v in t.iter().flatten() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let bytes = slice_bytes(&batch);
        self.rows += batch.num_rows();
        self.bytes += bytes;
        self.batches.push_back((batch, lo, hi, bytes));
        Ok(Some((lo, hi)))
    }

    /// Rows with `start <= event_time < end`.
    pub fn range(&self, start: i64, end: i64) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        for (b, lo, hi, _) in &self.batches {
            if *hi < start || *lo >= end {
                continue;
            }
            if *lo >= start && *hi < end {
                out.push(b.clone());
                continue;
            }
            let t = times(b)?;
            let mask: BooleanArray = t.iter().map(|v| v.map(|v| v >= start && v < end)).collect();
            let f = filter_record_batch(b, &mask)?;
            if f.num_rows() > 0 {
                out.push(f);
            }
        }
        Ok(out)
    }

    /// The earliest event time at or after `t`.
    pub fn next_time(&self, t: i64) -> Result<Option<i64>> {
        let mut best: Option<i64> = None;
        for (b, lo, hi, _) in &self.batches {
            if *hi < t || best.is_some_and(|m| *lo >= m) {
                continue;
            }
            if *lo >= t {
                best = Some(best.map_or(*lo, |m| m.min(*lo)));
                continue;
            }
            for v in times(b)?.iter().flatten().filter(|v| *v >= t) {
                best = Some(best.map_or(v, |m| m.min(v)));
            }
        }
        Ok(best)
    }

    /// Drops whole batches that end before `before`.
    pub fn evict(&mut self, before: i64) {
        while let Some((b, _, hi, bytes)) = self.batches.front() {
            if *hi >= before {
                break;
            }
            self.rows -= b.num_rows();
            self.bytes -= bytes;
            self.batches.pop_front();
        }
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes of Arrow data held (the rows' slices, not the buffers they share).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Start of the tumbling window of `size` ns that holds `t`.
pub fn window_start(t: i64, size: i64) -> i64 {
    t.div_euclid(size) * size
}
