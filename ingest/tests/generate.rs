//! The generator: deterministic for a seed, labels consistent with what it wrote, and a
//! capture replay reads without a single rejected record.

use std::collections::HashSet;

use tapio_ingest::generate::{Scenario, generate, write};
use tapio_ingest::{ReplayOptions, read_paths};

fn small(seed: u64) -> Scenario {
    Scenario {
        seed,
        events: 2000,
        incidents: 7,
        ..Scenario::default()
    }
}

#[test]
fn same_seed_same_capture_other_seed_other_capture() {
    let a = generate(&small(3)).unwrap();
    let b = generate(&small(3)).unwrap();
    let c = generate(&small(4)).unwrap();
    assert_eq!(a.events, b.events);
    assert_eq!(a.objects, b.objects);
    assert_eq!(a.labels, b.labels);
    assert_ne!(a.events, c.events);
}

#[test]
fn labels_name_what_was_written() {
    let g = generate(&small(5)).unwrap();
    assert_eq!(g.events.len(), 2000);
    let ids: HashSet<&str> = g
        .events
        .iter()
        .map(|e| e["metadata"]["uid"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), g.events.len(), "event uids are unique");
    let patterns: HashSet<&str> = g
        .labels
        .incidents
        .iter()
        .map(|i| i.pattern.as_str())
        .collect();
    assert_eq!(patterns.len(), 7, "every pattern once: {patterns:?}");
    let mut incident_ids = HashSet::new();
    for inc in &g.labels.incidents {
        assert!(!inc.event_ids.is_empty(), "{}", inc.id);
        for e in &inc.event_ids {
            assert!(
                ids.contains(e.as_str()),
                "{} names an unwritten event",
                inc.id
            );
            incident_ids.insert(e.as_str());
        }
    }
    for r in &g.labels.routine_event_ids {
        assert!(ids.contains(r.as_str()));
        assert!(
            !incident_ids.contains(r.as_str()),
            "routine and incident at once"
        );
    }
    assert!(g.labels.routine_event_ids.len() > 1000);
}

#[test]
fn replay_reads_the_capture_without_rejections() {
    let g = generate(&small(6)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &g).unwrap();
    let c = read_paths(&[dir.path().join("capture")], &ReplayOptions::default()).unwrap();
    assert!(c.summary.problems.is_empty(), "{:?}", c.summary.problems);
    assert_eq!(c.summary.events_read, 2000);
    assert!(
        c.summary.events_derived > 0,
        "object state gives events too"
    );
    // Every pod resolves to its Deployment through its ReplicaSet.
    assert!(
        c.events
            .iter()
            .filter(|e| e.object.kind == "Pod")
            .all(|e| e.workload.as_ref().is_some_and(|w| w.kind == "Deployment"))
    );
}

#[test]
fn a_denser_capture_does_not_make_healthy_pods_fail_their_probes_more_often() {
    // 6 pods, 30,000 routine events in an hour: 3 % of them would be ~150 readiness
    // blips per pod without the cap of one per pod per BLIP_GAP_SECS.
    let s = Scenario {
        seed: 9,
        events: 30_000,
        incidents: 0,
        namespaces: 1,
        deployments: 2,
        replicas: 3,
        span_secs: 3600,
        ..Scenario::default()
    };
    let g = generate(&s).unwrap();
    let routine: HashSet<&str> = g
        .labels
        .routine_event_ids
        .iter()
        .map(String::as_str)
        .collect();
    let mut blips = 0;
    for e in &g.events {
        if e["reason"] == "Unhealthy" && routine.contains(e["metadata"]["uid"].as_str().unwrap()) {
            blips += 1;
            let count = e["count"].as_u64().unwrap();
            let most = (s.span_secs / tapio_ingest::generate::BLIP_GAP_SECS + 1) as u64;
            assert!(
                count <= most,
                "a pod's blip Event counts {count} > {most}: {e}"
            );
        }
    }
    assert!(blips > 0, "routine blips still happen");
}

#[test]
fn a_pod_no_node_took_says_only_that_it_cannot_be_scheduled() {
    // Dense enough that every pod, the pending ones included, would be drawn for routine
    // Events many times.
    let s = Scenario {
        seed: 2,
        events: 20_000,
        incidents: 7,
        ..Scenario::default()
    };
    let g = generate(&s).unwrap();
    let pending: Vec<String> = g
        .labels
        .incidents
        .iter()
        .filter(|i| i.pattern == "unschedulable")
        .flat_map(|i| i.pods.iter().cloned())
        .collect();
    assert!(!pending.is_empty(), "the scenario has an unschedulable pod");
    for e in &g.events {
        let o = &e["involvedObject"];
        let pod = format!(
            "{}/{}",
            o["namespace"].as_str().unwrap_or(""),
            o["name"].as_str().unwrap_or("")
        );
        if pending.contains(&pod) {
            assert_eq!(e["reason"], "FailedScheduling", "{e}");
        }
    }
}
