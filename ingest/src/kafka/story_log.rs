//! What the stories topic already holds, so a story is published once per state even
//! when its events are delivered again (a restart, a rebalance, a producer retry).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::message::Message;
use tapio_schemas::Story;

use super::log::Tail;
use super::{KafkaConfig, Result};

fn rank(state: &str) -> u8 {
    match state {
        "resolved" => 2,
        "active" => 1,
        _ => 0,
    }
}

#[derive(Debug, Default)]
struct Seen {
    /// Story id → (furthest state, last seen).
    stories: HashMap<String, (u8, i64)>,
    /// Event id → ids of stories that hold it.
    events: HashMap<String, Vec<String>>,
    /// Messages that were not stories.
    unreadable: u64,
}

impl Seen {
    fn record(&mut self, s: &Story) {
        let r = rank(&s.state);
        let e = self.stories.entry(s.id.clone()).or_insert((0, s.last_seen));
        e.0 = e.0.max(r);
        e.1 = e.1.max(s.last_seen);
        for ev in &s.event_ids {
            let ids = self.events.entry(ev.clone()).or_default();
            if !ids.contains(&s.id) {
                ids.push(s.id.clone());
            }
        }
    }

    fn published(&self, s: &Story) -> bool {
        let r = rank(&s.state);
        if self.stories.get(&s.id).is_some_and(|(have, _)| *have >= r) {
            return true;
        }
        // A fragment of a story already out (its events re-read after a restart, with the
        // start of the incident before the re-read point): published if every event is
        // in one story that got at least this far.
        let mut common: Option<HashSet<&String>> = None;
        for ev in &s.event_ids {
            let Some(ids) = self.events.get(ev) else {
                return false;
            };
            let here: HashSet<&String> = ids
                .iter()
                .filter(|id| self.stories.get(*id).is_some_and(|(have, _)| *have >= r))
                .collect();
            let next: HashSet<&String> = match common {
                None => here,
                Some(c) => c.intersection(&here).copied().collect(),
            };
            if next.is_empty() {
                return false;
            }
            common = Some(next);
        }
        common.is_some()
    }
}

/// Whether a message of the stories topic is a fence (not a story, not unreadable).
fn is_fence(m: &impl Message) -> bool {
    use rdkafka::message::Headers;
    m.headers().is_some_and(|h| {
        h.iter().any(|h| {
            h.key == tapio_schemas::wire::HEADER_KIND
                && h.value == Some(tapio_schemas::wire::KIND_FENCE.as_bytes())
        })
    })
}

/// A reader of the stories topic (every partition, from the start) and the set of
/// story states it holds.
pub struct StoryLog {
    seen: Arc<Mutex<Seen>>,
    tail: Tail,
}

impl StoryLog {
    /// Starts reading the stories topic in the background.
    pub async fn start(cfg: &KafkaConfig) -> Result<Self> {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        let tail = Tail::start(cfg, &cfg.stories_topic, move |m| {
            if is_fence(m) {
                return;
            }
            let story: Option<Story> = m.payload().and_then(|p| serde_json::from_slice(p).ok());
            if let Ok(mut seen) = s.lock() {
                match story {
                    Some(st) => seen.record(&st),
                    None => seen.unreadable += 1,
                }
            }
        })
        .await?;
        Ok(StoryLog { seen, tail })
    }

    /// Waits until the message at `offset` of `partition` has been read (see
    /// [`tapio_schemas::wire::KIND_FENCE`]).
    pub async fn reached(&self, partition: i32, offset: i64, timeout: Duration) -> Result<()> {
        self.tail.reached(partition, offset, timeout).await
    }

    /// Waits until everything the topic held when called has been read.
    pub async fn catch_up(&self, timeout: Duration) -> Result<()> {
        self.tail.catch_up(timeout).await
    }

    /// Whether this story, in this state (or further), is already on the topic.
    pub fn published(&self, story: &Story) -> bool {
        self.seen.lock().is_ok_and(|s| s.published(story))
    }

    /// Notes a story this instance just published (before it is read back).
    pub fn record(&self, story: &Story) {
        if let Ok(mut s) = self.seen.lock() {
            s.record(story);
        }
    }

    /// Forgets stories last seen before `t` (bounded memory: their events can no longer
    /// be re-read into an open incident).
    pub fn forget_before(&self, t: i64) {
        if let Ok(mut s) = self.seen.lock() {
            let old: HashSet<String> = s
                .stories
                .iter()
                .filter(|(_, (_, last))| *last < t)
                .map(|(id, _)| id.clone())
                .collect();
            if old.is_empty() {
                return;
            }
            s.stories.retain(|id, _| !old.contains(id));
            s.events.retain(|_, ids| {
                ids.retain(|id| !old.contains(id));
                !ids.is_empty()
            });
        }
    }

    /// Messages on the topic that were not stories.
    pub fn unreadable(&self) -> u64 {
        self.seen.lock().map(|s| s.unreadable).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn story(id: &str, state: &str, events: &[&str]) -> Story {
        let mut s: Story = serde_json::from_value(serde_json::json!({
            "id": id, "pattern": "p", "title": "", "summary": "", "severity": "warning",
            "confidence": 1.0, "state": state,
            "root_cause": {"kind": "", "namespace": "", "name": "", "reason": "", "evidence": []},
            "affected": {"pods": [], "workloads": [], "services": [], "nodes": []},
            "timeline": [], "recommendations": [],
            "first_seen": "2026-01-01T00:00:00Z", "last_seen": "2026-01-01T00:00:00Z",
            "event_ids": []
        }))
        .unwrap();
        s.event_ids = events.iter().map(|e| e.to_string()).collect();
        s
    }

    #[test]
    fn a_state_is_published_once_and_fragments_are_recognised() {
        let mut seen = Seen::default();
        let a = story("a", "active", &["e1", "e2"]);
        assert!(!seen.published(&a));
        seen.record(&a);
        assert!(seen.published(&a));
        // Resolved is a new state of the same story.
        let r = story("a", "resolved", &["e1", "e2", "e3"]);
        assert!(!seen.published(&r));
        seen.record(&r);
        // A re-read tail of story a, under another id: a fragment, already out.
        assert!(seen.published(&story("b", "resolved", &["e2", "e3"])));
        // A story with an event no published story holds is new.
        assert!(!seen.published(&story("b", "resolved", &["e3", "e4"])));
        // Active again after resolved: not published again.
        assert!(seen.published(&story("a", "active", &["e1"])));
    }
}
