//! Event-time bookkeeping: the events retained for the look-back, the watermark, and the
//! tumbling windows it closes.

use std::collections::VecDeque;

use arrow::array::{Array, BooleanArray, RecordBatch, TimestampNanosecondArray};
use arrow::compute::filter_record_batch;

use crate::{Error, Result};

/// Events kept for the look-back, oldest first.
#[derive(Debug, Default)]
pub struct Retained {
    batches: VecDeque<Held>,
    rows: usize,
    bytes: usize,
    arrivals: u64,
}

/// One retained batch with what the window bookkeeping asks of it.
#[derive(Debug)]
struct Held {
    batch: RecordBatch,
    /// Its `event_time` column, found once: the context search reads it per row found.
    times: TimestampNanosecondArray,
    /// Earliest and latest event time in the batch.
    lo: i64,
    hi: i64,
    /// Bytes of its rows (see [`slice_bytes`]).
    bytes: usize,
    /// Arrival number: 1 for the first batch pushed, and so on.
    arrival: u64,
}

impl Held {
    /// Its rows with `start <= event_time < end`, `None` when none.
    fn slice(&self, start: i64, end: i64) -> Result<Option<RecordBatch>> {
        let (b, lo, hi) = (&self.batch, self.lo, self.hi);
        if hi < start || lo >= end || start >= end {
            return Ok(None);
        }
        if lo >= start && hi < end {
            return Ok(Some(b.clone()));
        }
        let mask: BooleanArray = self
            .times
            .iter()
            .map(|v| v.map(|v| v >= start && v < end))
            .collect();
        let f = filter_record_batch(b, &mask)?;
        Ok((f.num_rows() > 0).then_some(f))
    }
}

/// What an earlier evaluation saw: the batches that had arrived by then (arrival number
/// up to `arrived`), rows with event time before `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Last arrival number then.
    pub arrived: u64,
    /// End of the window evaluated then.
    pub end: i64,
}

impl Seen {
    /// Where, from event time `start` on, the rows of the batch that arrived
    /// `arrival`-th begin that an evaluation which saw this did not see: all of a batch
    /// that arrived since; of an earlier one, those at or after its window's end.
    pub fn unseen_from(&self, arrival: u64, start: i64) -> i64 {
        match arrival > self.arrived {
            true => start,
            false => start.max(self.end),
        }
    }
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
        let times = times(&batch)?.clone();
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for v in times.iter().flatten() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let bytes = slice_bytes(&batch);
        self.rows += batch.num_rows();
        self.bytes += bytes;
        self.arrivals += 1;
        self.batches.push_back(Held {
            batch,
            times,
            lo,
            hi,
            bytes,
            arrival: self.arrivals,
        });
        Ok(Some((lo, hi)))
    }

    /// Rows with `start <= event_time < end`.
    pub fn range(&self, start: i64, end: i64) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        for h in &self.batches {
            out.extend(h.slice(start, end)?);
        }
        Ok(out)
    }

    /// Rows with `start <= event_time < end` that an evaluation which saw `seen` did not:
    /// those of batches that arrived since, and those of earlier batches at or after its
    /// window's end.
    pub fn range_unseen(&self, start: i64, end: i64, seen: Seen) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        for h in &self.batches {
            out.extend(h.slice(seen.unseen_from(h.arrival, start), end)?);
        }
        Ok(out)
    }

    /// What an evaluation of the window ending at `end` sees now.
    pub fn seen(&self, end: i64) -> Seen {
        Seen {
            arrived: self.arrivals,
            end,
        }
    }

    /// The earliest event time at or after `t`.
    pub fn next_time(&self, t: i64) -> Result<Option<i64>> {
        let mut best: Option<i64> = None;
        for h in &self.batches {
            if h.hi < t || best.is_some_and(|m| h.lo >= m) {
                continue;
            }
            if h.lo >= t {
                best = Some(best.map_or(h.lo, |m| m.min(h.lo)));
                continue;
            }
            for v in h.times.iter().flatten().filter(|v| *v >= t) {
                best = Some(best.map_or(v, |m| m.min(v)));
            }
        }
        Ok(best)
    }

    /// The batch that arrived `arrival`-th (see [`Retained::last_arrival`]) with its
    /// `event_time` column, while it is held.
    pub fn batch(&self, arrival: u64) -> Option<(&RecordBatch, &TimestampNanosecondArray)> {
        let h = &self.batches[self.position(arrival)?];
        Some((&h.batch, &h.times))
    }

    /// Where the batch that arrived `arrival`-th is in `batches`, while it is held.
    fn position(&self, arrival: u64) -> Option<usize> {
        let first = self.batches.front()?.arrival;
        usize::try_from(arrival.checked_sub(first)?)
            .ok()
            .filter(|i| *i < self.batches.len())
    }

    /// Puts `batch` in place of the rows of the batch that arrived `arrival`-th, the
    /// same rows held another way (the window packs a batch while it is already held:
    /// see [`crate::window_rows::WindowPacking::pieces`]). `false` if that batch is no
    /// longer held or `batch` has other rows.
    pub fn replace(&mut self, arrival: u64, batch: RecordBatch) -> Result<bool> {
        let Some(i) = self.position(arrival) else {
            return Ok(false);
        };
        let h = &mut self.batches[i];
        if batch.num_rows() != h.batch.num_rows() {
            return Ok(false);
        }
        // Its own `event_time` column: the old one may hold the message it came in.
        h.times = times(&batch)?.clone();
        let bytes = slice_bytes(&batch);
        self.bytes = self.bytes - h.bytes + bytes;
        h.bytes = bytes;
        h.batch = batch;
        Ok(true)
    }

    /// Arrival number of the last batch pushed (0 before any).
    pub fn last_arrival(&self) -> u64 {
        self.arrivals
    }

    /// Arrival number of the oldest batch held: every earlier one was evicted.
    pub fn first_arrival(&self) -> u64 {
        self.batches
            .front()
            .map_or(self.arrivals + 1, |h| h.arrival)
    }

    /// The earliest arrival that can hold rows an evaluation which saw `seen` did not
    /// (see [`Retained::range_unseen`]): the first batch that arrived since, or an
    /// earlier one with rows at or after that evaluation's end.
    pub fn first_unseen(&self, seen: Seen) -> u64 {
        self.batches
            .iter()
            .find(|h| h.hi >= seen.unseen_from(h.arrival, i64::MIN))
            .map_or(self.arrivals + 1, |h| h.arrival)
    }

    /// Drops whole batches that end before `before`.
    pub fn evict(&mut self, before: i64) {
        while let Some(h) = self.batches.front() {
            if h.hi >= before {
                break;
            }
            self.rows -= h.batch.num_rows();
            self.bytes -= h.bytes;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    fn batch(times: &[i64]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new(
                "event_time",
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                false,
            ),
            Field::new("v", DataType::Int64, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(TimestampNanosecondArray::from(times.to_vec())),
                Arc::new(Int64Array::from(times.to_vec())),
            ],
        )
        .unwrap()
    }

    fn times_of(batches: &[RecordBatch]) -> Vec<i64> {
        let mut out: Vec<i64> = batches
            .iter()
            .flat_map(|b| times(b).unwrap().values().to_vec())
            .collect();
        out.sort();
        out
    }

    /// Unseen rows: a later batch's rows (even late ones, before the last window's end),
    /// and an earlier batch's rows that lay beyond the last window then.
    #[test]
    fn unseen_rows_are_new_arrivals_and_rows_past_the_last_window() {
        let mut r = Retained::default();
        r.push(batch(&[1, 5, 12])).unwrap();
        let seen = r.seen(10);
        assert_eq!(times_of(&r.range(0, 10).unwrap()), [1, 5]);
        r.push(batch(&[3, 15])).unwrap();
        assert_eq!(times_of(&r.range_unseen(0, 20, seen).unwrap()), [3, 12, 15]);
        // Nothing new since: nothing unseen below the window's end.
        assert!(r.range_unseen(0, 20, r.seen(20)).unwrap().is_empty());
    }

    /// A held batch can be replaced by its rows held another way: its bytes are counted
    /// anew, and the rows read from the new batch. Not by other rows, nor once evicted.
    #[test]
    fn a_batch_is_replaced_by_the_same_rows_only_while_held() {
        let mut r = Retained::default();
        r.push(batch(&[1, 2, 3])).unwrap();
        r.push(batch(&[10, 11])).unwrap();
        let small = batch(&[1, 2, 3]).project(&[0]).unwrap();
        let before = r.bytes();
        assert!(r.replace(1, small.clone()).unwrap());
        assert_eq!(r.bytes(), before - 3 * 8);
        assert_eq!(r.batch(1).unwrap().0, &small);
        assert_eq!(r.rows(), 5);
        assert!(!r.replace(2, batch(&[10, 11, 12])).unwrap(), "other rows");
        r.evict(5);
        assert!(!r.replace(1, small).unwrap(), "evicted");
        assert!(!r.replace(3, batch(&[20])).unwrap(), "not arrived");
        assert_eq!(r.bytes(), 2 * 16);
    }
}
