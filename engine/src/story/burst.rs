//! Bursts: a surge of warnings or worse that say the same thing (one message template;
//! routine events repeat by design), counted across a story's events — each row once, or as many times as the kubelet's event
//! correlator counted it (`count`, from its first to its `last_timestamp`). The strongest
//! burst becomes a sentence of the root cause's evidence: "42 × 'Back-off restarting
//! failed container …' in 3 min across 7 objects".

use std::collections::{BTreeMap, BTreeSet};

use tapio_schemas::time::parse_rfc3339;
use tapio_schemas::{Severity, UnifiedEvent};
use tapio_udfs::msg_template::template;

/// Occurrences below which repetition is not a burst.
pub const MIN_OCCURRENCES: i64 = 10;
/// Lowest rate that is a surge: one occurrence a minute on average.
pub const MIN_PER_MINUTE: f64 = 1.0;

const MINUTE_NS: f64 = 60e9;

/// One template's surge.
#[derive(Debug, Clone, PartialEq)]
pub struct Burst {
    /// The first message that said it.
    pub example: String,
    /// Times it was said.
    pub occurrences: i64,
    /// Distinct objects that said it.
    pub objects: usize,
    /// From its first to its last occurrence.
    pub span_ns: i64,
}

impl Burst {
    /// A sentence for the evidence.
    pub fn sentence(&self) -> String {
        let mins = (self.span_ns as f64 / MINUTE_NS).round().max(1.0);
        let example: String = self.example.chars().take(120).collect();
        format!(
            "burst: {} × \"{example}\" in {mins:.0} min across {} object(s)",
            self.occurrences, self.objects
        )
    }
}

#[derive(Default)]
struct Group<'a> {
    example: Option<&'a str>,
    occurrences: i64,
    objects: BTreeSet<String>,
    first: i64,
    last: i64,
}

/// The burst with the most occurrences among `events`, if any template reached
/// [`MIN_OCCURRENCES`] at [`MIN_PER_MINUTE`] or faster.
pub fn strongest<'a>(events: impl IntoIterator<Item = &'a UnifiedEvent>) -> Option<Burst> {
    let mut groups: BTreeMap<String, Group<'a>> = BTreeMap::new();
    for e in events {
        let Some(m) = e.message.as_deref() else {
            continue;
        };
        if e.severity == Severity::Info {
            continue;
        }
        let last = e
            .attributes
            .get("last_timestamp")
            .and_then(|l| parse_rfc3339(l))
            .unwrap_or(e.event_time)
            .max(e.event_time);
        let g = groups.entry(template(m)).or_insert_with(|| Group {
            first: e.event_time,
            last,
            ..Group::default()
        });
        g.example.get_or_insert(m);
        g.occurrences += e.count.max(1);
        g.objects.insert(format!(
            "{}/{}/{}",
            e.object.kind, e.object.namespace, e.object.name
        ));
        g.first = g.first.min(e.event_time);
        g.last = g.last.max(last);
    }
    groups
        .into_values()
        .filter(|g| {
            let minutes = ((g.last - g.first) as f64 / MINUTE_NS).max(1.0);
            g.occurrences >= MIN_OCCURRENCES && g.occurrences as f64 / minutes >= MIN_PER_MINUTE
        })
        .max_by_key(|g| (g.occurrences, g.objects.len()))
        .map(|g| Burst {
            example: g.example.unwrap_or_default().to_string(),
            occurrences: g.occurrences,
            objects: g.objects.len(),
            span_ns: g.last - g.first,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn event(t: i64, pod: &str, msg: &str, count: i64, last: Option<i64>) -> UnifiedEvent {
        let mut e: UnifiedEvent = serde_json::from_value(serde_json::json!({
            "event_id": format!("{pod}-{t}"), "event_time": "2026-11-21T09:00:00Z",
            "observed_time": "2026-11-21T09:00:00Z", "source": "k8s-event",
            "event_type": "k8s.event", "severity": "warning", "cluster": "c",
            "object": {"kind": "Pod", "namespace": "shop", "name": pod},
            "count": count
        }))
        .unwrap();
        e.event_time = t * S;
        e.message = Some(msg.to_string());
        if let Some(l) = last {
            e.attributes.insert(
                "last_timestamp".into(),
                tapio_schemas::time::format_ns(l * S),
            );
        }
        e
    }

    fn backoff(pod: &str) -> String {
        format!(
            "Back-off restarting failed container app in pod {pod}_shop(0d9f2c1e-8b7a-4c3d-9e6f-5a4b3c2d1e0f)"
        )
    }

    #[test]
    fn a_surge_of_one_template_across_pods_is_a_burst() {
        // 12 pods of a Deployment back off within two minutes.
        let mut events: Vec<UnifiedEvent> = (0..12)
            .map(|i| {
                event(
                    i * 10,
                    &format!("web-7d9f8b6c5d-{i:05}"),
                    &backoff(&format!("web-7d9f8b6c5d-{i:05}")),
                    1,
                    None,
                )
            })
            .collect();
        events.push(event(5, "db-0", "Liveness probe failed: timeout", 1, None));
        // Routine events repeat by design: 20 "Started container" are no burst.
        for i in 0..20 {
            let mut e = event(i, &format!("web-{i}"), "Started container app", 1, None);
            e.severity = Severity::Info;
            events.push(e);
        }
        let b = strongest(&events).expect("a burst");
        assert_eq!((b.occurrences, b.objects), (12, 12));
        assert_eq!(b.span_ns, 110 * S);
        assert!(b.example.starts_with("Back-off restarting"), "{b:?}");
        assert!(
            b.sentence().starts_with("burst: 12 × \"Back-off"),
            "{}",
            b.sentence()
        );
        assert!(
            b.sentence().ends_with("in 2 min across 12 object(s)"),
            "{}",
            b.sentence()
        );
    }

    #[test]
    fn counted_events_weigh_as_their_count_and_slow_repeats_are_not_a_burst() {
        // One Event object the kubelet counted 30 times in 5 minutes: a burst.
        let one = [event(0, "web-0", &backoff("web-0"), 30, Some(300))];
        assert_eq!(
            strongest(&one).map(|b| (b.occurrences, b.objects)),
            Some((30, 1))
        );
        // 12 times over an hour: steady, not a surge.
        let slow = [event(0, "web-0", &backoff("web-0"), 12, Some(3600))];
        assert_eq!(strongest(&slow), None);
        // 9 times at once: too few.
        let few = [event(0, "web-0", &backoff("web-0"), 9, Some(10))];
        assert_eq!(strongest(&few), None);
    }
}
