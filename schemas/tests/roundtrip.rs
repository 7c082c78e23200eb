//! Round trips: Rust rows → RecordBatch → Rust rows must be the identity.

use proptest::prelude::*;
use tapio_schemas::rows::{from_batch, to_batch};
use tapio_schemas::*;

fn opt_s() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-z0-9./ -]{0,12}")
}

fn event() -> impl Strategy<Value = UnifiedEvent> {
    (
        (
            "[a-f0-9]{8}",
            -1_000_000_000_000i64..4_000_000_000_000_000_000i64,
            0usize..4,
        ),
        ("[A-Z][a-z]{1,8}", "[a-z-]{0,8}", "[a-z0-9-]{1,12}", opt_s()),
        (
            opt_s(),
            opt_s(),
            opt_s(),
            proptest::option::of(("[A-Z][a-z]{2,6}", "[a-z]{1,6}")),
        ),
        (
            proptest::collection::vec("[A-Za-z/-]{1,10}", 0..3),
            opt_s(),
            opt_s(),
            1i64..1000,
        ),
        (
            proptest::option::of(any::<i32>()),
            proptest::option::of(any::<i64>()),
            opt_s(),
        ),
        proptest::collection::btree_map("[a-z/.]{1,8}", "[a-z0-9]{0,8}", 0..3),
    )
        .prop_map(|(a, b, c, d, e, labels)| {
            let sev = [
                Severity::Info,
                Severity::Warning,
                Severity::Error,
                Severity::Critical,
            ][a.2];
            let mut ev = UnifiedEvent::new(
                a.0,
                a.1,
                source::KERNEL,
                "kernel.oom_kill",
                sev,
                ObjectRef {
                    kind: b.0,
                    namespace: b.1.clone(),
                    name: b.2,
                    uid: b.3,
                },
            );
            ev.node = c.0;
            ev.pod = c.1;
            ev.container_id = c.2;
            ev.workload = c.3.map(|(k, n)| ObjectRef::new(&k, &b.1, &n));
            ev.owner_chain = d.0;
            ev.reason = d.1;
            ev.message = d.2;
            ev.count = d.3;
            ev.exit_code = e.0;
            ev.pid = e.1;
            ev.comm = e.2;
            ev.attributes = labels.clone();
            ev.labels = labels;
            ev
        })
}

proptest! {
    #[test]
    fn events_round_trip(events in proptest::collection::vec(event(), 0..20)) {
        let batch = events_to_batch(&events);
        prop_assert_eq!(batch.schema(), event_schema());
        let back = events_from_batch(&batch).unwrap();
        prop_assert_eq!(back, events);
    }

    /// A slice of a batch decodes to its rows alone: lists and maps are read through
    /// the slice's offsets into the whole batch's items.
    #[test]
    fn sliced_events_round_trip(events in proptest::collection::vec(event(), 1..20), at in 0usize..20, len in 0usize..20) {
        let batch = events_to_batch(&events);
        let at = at % events.len();
        let len = len.min(events.len() - at);
        let back = events_from_batch(&batch.slice(at, len)).unwrap();
        prop_assert_eq!(back.as_slice(), &events[at..at + len]);
    }

    #[test]
    fn events_round_trip_json(events in proptest::collection::vec(event(), 1..5)) {
        for e in events {
            let line = serde_json::to_string(&e).unwrap();
            let back: UnifiedEvent = serde_json::from_str(&line).unwrap();
            prop_assert_eq!(back, e);
        }
    }

    #[test]
    fn relations_round_trip(rows in proptest::collection::vec(
        ("[a-z_]{3,10}", "[a-z]{1,8}", 0i64..4_000_000_000_000_000_000, proptest::option::of(0i64..4_000_000_000_000_000_000)), 0..10)) {
        let rows: Vec<Relation> = rows.into_iter().map(|(rel, name, from, to)| Relation {
            cluster: "c".into(), relation: rel, from_kind: "Pod".into(), from_namespace: "ns".into(),
            from_name: name.clone(), from_uid: None, to_kind: "Node".into(), to_namespace: String::new(),
            to_name: name, to_uid: Some("u".into()), detail: None, valid_from: from, valid_to: to,
        }).collect();
        let batch = to_batch(topology_schema(), &rows).unwrap();
        prop_assert_eq!(batch.num_rows(), rows.len());
        let back: Vec<Relation> = from_batch(&batch).unwrap();
        prop_assert_eq!(back, rows);
    }
}

#[test]
fn story_round_trips_through_arrow() {
    let story = Story {
        id: "abc".into(),
        pattern: "oom-killed".into(),
        title: "t".into(),
        summary: "s".into(),
        severity: Severity::Error,
        confidence: 0.9,
        state: "active".into(),
        root_cause: RootCause {
            kind: "Deployment".into(),
            namespace: "shop".into(),
            name: "mysql".into(),
            reason: "OOMKilled".into(),
            evidence: vec!["e1".into()],
        },
        affected: Affected {
            pods: vec!["shop/mysql-0".into()],
            ..Default::default()
        },
        timeline: vec![TimelineEntry {
            time: 1_700_000_000_123_456_789,
            source: "kernel".into(),
            text: "killed".into(),
            event_id: "e".into(),
        }],
        recommendations: vec!["r".into()],
        first_seen: 1_700_000_000_000_000_000,
        last_seen: 1_700_000_100_000_000_000,
        event_ids: vec!["e".into()],
        similar_incidents: vec![SimilarIncident {
            id: "older".into(),
            title: "t0".into(),
            first_seen: 1_699_990_000_000_000_000,
            similarity: 0.75,
        }],
        recurrence: Some(Recurrence {
            count: 3,
            since: 1_699_900_000_000_000_000,
            previous: 1_699_990_000_000_000_000,
            period_secs: Some(21_600),
        }),
    };
    let batch = to_batch(story_schema(), std::slice::from_ref(&story)).unwrap();
    let back: Vec<Story> = from_batch(&batch).unwrap();
    assert_eq!(back, vec![story]);
}

#[test]
fn missing_column_is_named() {
    let batch = events_to_batch(&[]);
    let projected = batch.project(&[0, 1]).unwrap();
    let err = events_from_batch(&projected).unwrap_err().to_string();
    assert!(err.contains("observed_time"), "{err}");
}

#[test]
fn correlation_link_scores_round_trip_through_arrow() {
    let scored = Correlation {
        story_id: "s".into(),
        event_id: "e".into(),
        event_time: 1_700_000_000_000_000_000,
        pattern: "oom-killed".into(),
        dimension: "subject".into(),
        score: 1.0,
        subject: "Deployment/shop/mysql".into(),
        reason: "OOMKilled".into(),
        link: Link {
            temporal: Some(0.5),
            spatial: Some(1.0),
            ownership: Some(0.8),
            dependency: Some(0.0),
            semantic: Some(0.25),
            confidence: Some(0.9),
        },
        joined: Joined {
            joined_by: Some("d".into()),
            joined_confidence: Some(0.75),
        },
    };
    let unscored = Correlation {
        event_id: "f".into(),
        link: Link::default(),
        joined: Joined::default(),
        ..scored.clone()
    };
    let rows = vec![scored, unscored];
    let batch = to_batch(correlation_schema(), &rows).unwrap();
    assert_eq!(batch.column_by_name("semantic").unwrap().null_count(), 1);
    assert_eq!(batch.column_by_name("joined_by").unwrap().null_count(), 1);
    let back: Vec<Correlation> = from_batch(&batch).unwrap();
    assert_eq!(back, rows);
}
