//! Which offsets may be committed: at-least-once without losing anything.
//!
//! A message's offset may be committed once everything it caused is durable: its rows
//! are in the history (a flush happened after it was received) and its events left the
//! engine's state (all older than the engine's horizon for its cluster, or the cluster's
//! capture ended), so every story they can contribute to was published. Per partition,
//! the committed offset is the first message not yet done: a restart re-reads from
//! there, and what it re-reads rebuilds exactly the state that was not yet final.

use std::collections::{BTreeMap, HashMap, VecDeque};

#[derive(Debug, Clone)]
struct Entry {
    offset: i64,
    cluster: String,
    /// Newest event time in the message (`i64::MIN` for messages without events).
    max_time: i64,
    /// Flush generation the message was received in.
    generation: u64,
}

/// Per-partition progress of one consumer.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    partitions: BTreeMap<i32, VecDeque<Entry>>,
    /// Next offset to commit per partition, once known.
    done_upto: BTreeMap<i32, i64>,
    /// Last committed per partition, so unchanged offsets are not committed again.
    committed: BTreeMap<i32, i64>,
    generation: u64,
}

impl OffsetTracker {
    /// Records a received message.
    pub fn received(&mut self, partition: i32, offset: i64, cluster: &str, max_time: i64) {
        self.partitions
            .entry(partition)
            .or_default()
            .push_back(Entry {
                offset,
                cluster: cluster.to_string(),
                max_time,
                generation: self.generation,
            });
    }

    /// Everything received so far is now durable in the history.
    pub fn flushed(&mut self) {
        self.generation += 1;
    }

    /// Forgets a partition (revoked in a rebalance: its new owner commits it).
    pub fn revoke(&mut self, partition: i32) {
        self.partitions.remove(&partition);
        self.done_upto.remove(&partition);
        self.committed.remove(&partition);
    }

    /// Messages received and not yet committable.
    pub fn pending(&self) -> usize {
        self.partitions.values().map(VecDeque::len).sum()
    }

    /// Offsets that may be committed now and were not yet: partition → next offset to
    /// read. `horizon(cluster)` is the engine's horizon for a cluster (`i64::MAX` when its
    /// capture ended, `None` when it has none yet).
    pub fn committable(&mut self, horizon: impl Fn(&str) -> Option<i64>) -> BTreeMap<i32, i64> {
        let mut cache: HashMap<String, Option<i64>> = HashMap::new();
        for (p, q) in &mut self.partitions {
            while let Some(e) = q.front() {
                if e.generation >= self.generation {
                    break;
                }
                let h = *cache
                    .entry(e.cluster.clone())
                    .or_insert_with(|| horizon(&e.cluster));
                if h.is_none_or(|h| e.max_time >= h) {
                    break;
                }
                self.done_upto.insert(*p, e.offset + 1);
                q.pop_front();
            }
        }
        let mut out = BTreeMap::new();
        for (p, o) in &self.done_upto {
            if self.committed.get(p) != Some(o) {
                out.insert(*p, *o);
            }
        }
        out
    }

    /// The broker accepted these commits.
    pub fn committed(&mut self, offsets: &BTreeMap<i32, i64>) {
        self.committed.extend(offsets);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_only_flushed_messages_behind_the_horizon() {
        let mut t = OffsetTracker::default();
        t.received(0, 10, "a", 100);
        t.received(0, 11, "a", 200);
        t.received(1, 5, "b", 50);
        // Nothing flushed yet.
        assert!(t.committable(|_| Some(i64::MAX)).is_empty());
        t.flushed();
        t.received(0, 12, "a", 10);
        // Flushed, but cluster a's horizon is 150: only offset 10 is final.
        let c = t.committable(|c| if c == "a" { Some(150) } else { None });
        assert_eq!(c, BTreeMap::from([(0, 11)]));
        t.committed(&c);
        // Same state: nothing new to commit.
        assert!(
            t.committable(|c| if c == "a" { Some(150) } else { None })
                .is_empty()
        );
        // The horizon moves past 200; offset 12 is not flushed, so it stops there.
        let c = t.committable(|_| Some(300));
        assert_eq!(c, BTreeMap::from([(0, 12), (1, 6)]));
        t.committed(&c);
        t.flushed();
        assert_eq!(t.committable(|_| Some(300)), BTreeMap::from([(0, 13)]));
        assert_eq!(t.pending(), 0);
    }

    #[test]
    fn a_message_holds_back_later_ones_in_its_partition() {
        let mut t = OffsetTracker::default();
        t.received(0, 1, "a", 500);
        t.received(0, 2, "a", 10);
        t.flushed();
        assert!(t.committable(|_| Some(100)).is_empty());
        t.revoke(0);
        assert_eq!(t.pending(), 0);
    }
}
