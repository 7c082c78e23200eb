//! Scoring stories against labels: grouping, splits, and Events that belong to two
//! incidents (the kubelet's correlator bumps the count of an Event it already wrote).

use tapio_ingest::generate::score::score;
use tapio_ingest::generate::{IncidentLabel, Labels};
use tapio_schemas::Story;

fn story(id: &str, kind: &str, name: &str, events: &[&str]) -> Story {
    serde_json::from_value(serde_json::json!({
        "id": id, "pattern": "crashloop", "title": "t", "summary": "s", "severity": "error",
        "confidence": 0.9, "state": "resolved",
        "root_cause": {"kind": kind, "namespace": "ns", "name": name, "reason": "r", "evidence": []},
        "affected": {"pods": [], "workloads": [], "services": [], "nodes": []},
        "timeline": [], "recommendations": [],
        "first_seen": "2026-11-20T08:00:00Z", "last_seen": "2026-11-20T08:10:00Z",
        "event_ids": events,
    }))
    .unwrap()
}

fn incident(id: &str, kind: &str, name: &str, events: &[&str]) -> IncidentLabel {
    IncidentLabel {
        id: id.into(),
        pattern: "crashloop".into(),
        root: [kind.into(), "ns".into(), name.into()],
        event_ids: events.iter().map(|e| e.to_string()).collect(),
        pods: vec![],
        start: "2026-11-20T08:00:00Z".into(),
        end: "2026-11-20T08:10:00Z".into(),
    }
}

fn labels(incidents: Vec<IncidentLabel>) -> Labels {
    Labels {
        seed: 1,
        incidents,
        routine_event_ids: vec!["r1".into()],
        warning_events: 10,
    }
}

#[test]
fn an_event_of_two_incidents_in_both_stories_is_no_split() {
    let l = labels(vec![
        incident("a", "Deployment", "web", &["a1", "a2", "shared"]),
        incident("b", "Node", "n1", &["b1", "b2", "shared"]),
    ]);
    let stories = [
        story("s1", "Deployment", "web", &["a1", "a2", "shared"]),
        story("s2", "Node", "n1", &["b1", "b2", "shared"]),
    ];
    let sc = score(&l, &stories);
    assert_eq!((sc.detected, sc.root_top1, sc.split), (2, 2, 0));
    assert_eq!(sc.f1, 1.0);
    assert_eq!(sc.routine_leaked, 0);
}

#[test]
fn merged_and_split_incidents_are_penalised() {
    let l = labels(vec![
        incident("a", "Deployment", "web", &["a1", "a2", "a3"]),
        incident("b", "Node", "n1", &["b1", "b2"]),
    ]);
    // One story holds both incidents and a routine event.
    let merged = [story(
        "s",
        "Deployment",
        "web",
        &["a1", "a2", "a3", "b1", "b2", "r1"],
    )];
    let sc = score(&l, &merged);
    assert_eq!((sc.detected, sc.root_top1, sc.split), (2, 1, 0));
    assert!(sc.precision < 0.5, "{sc:?}");
    assert_eq!(sc.recall, 1.0);
    assert_eq!(sc.routine_leaked, 1);
    // Incident a told as two stories.
    let split = [
        story("s1", "Deployment", "web", &["a1", "a2"]),
        story("s2", "Deployment", "web", &["a3"]),
        story("s3", "Node", "n1", &["b1", "b2"]),
    ];
    let sc = score(&l, &split);
    assert_eq!(sc.split, 1);
    assert!(sc.recall < 1.0 && sc.precision == 1.0, "{sc:?}");
}

#[test]
fn a_node_down_twice_on_the_same_event_objects_is_one_right_story() {
    // The second outage bumped the count of every Event of the first: both incidents are
    // labelled with the same objects, which a dump holds once.
    let events = ["n", "p1", "p2", "p3"];
    let l = labels(vec![
        incident("first", "Node", "n1", &events),
        incident("second", "Node", "n1", &events),
    ]);
    let sc = score(&l, &[story("s", "Node", "n1", &events)]);
    assert_eq!((sc.detected, sc.root_top1, sc.split), (2, 2, 0));
    assert_eq!((sc.precision, sc.recall, sc.f1), (1.0, 1.0, 1.0));
}

#[test]
fn one_shared_event_does_not_make_two_incidents_one() {
    let l = labels(vec![
        incident("a", "Deployment", "web", &["a1", "a2", "shared"]),
        incident("b", "Node", "n1", &["b1", "b2", "shared"]),
    ]);
    let merged = [story(
        "s",
        "Node",
        "n1",
        &["a1", "a2", "b1", "b2", "shared"],
    )];
    let sc = score(&l, &merged);
    // 10 pairs grouped; 6 belong together (3 in each incident); a×b pairs do not.
    assert_eq!(sc.recall, 1.0);
    assert_eq!(sc.precision, 0.6);
}
