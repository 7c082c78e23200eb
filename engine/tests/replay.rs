//! End to end on the example capture: grouping of simultaneous incidents, root causes,
//! routine noise kept out, determinism, and the history in Parquet queried with SQL.

mod common;

use std::path::PathBuf;

use arrow::array::{Array, Int64Array, StringArray};
use common::*;
use tapio_engine::store::{DataDir, TABLES};
use tapio_schemas::rows::to_batch;
use tapio_schemas::{
    as_strings, correlation_schema, events_to_batch, story_schema, topology_schema,
};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/shop-incident")
}

#[test]
fn simultaneous_incidents_stay_apart_and_each_finds_its_root() {
    let stories = replay_paths(&[example()]);
    assert_eq!(
        summary(&stories),
        vec![
            "config-missing ConfigMap/payments/ledger-config-v2 ConfigMapMissing",
            "cascading-failure StatefulSet/shop/mysql OOMKilled",
            "node-service-failure Node//node-c KubeletDown",
        ]
    );
    // The cascade: database OOM → API readiness → frontend, one story, with its services.
    let cascade = &stories[1];
    assert_eq!(
        cascade.affected.services,
        vec!["shop/api", "shop/frontend", "shop/mysql"]
    );
    assert!(
        cascade.timeline.iter().any(|t| t.source == "kernel"),
        "kernel evidence in the timeline"
    );
    // The node story tells of the pods and the Service that lost the node.
    let node = &stories[2];
    assert_eq!(node.affected.pods.len(), 2);
    assert_eq!(node.affected.services, vec!["web/blog"]);
    // The rollout that started the ConfigMap incident is in its timeline.
    assert!(
        stories[0].timeline[0].text.contains("ScalingReplicaSet"),
        "{:?}",
        stories[0].timeline[0]
    );
}

#[test]
fn routine_events_of_healthy_objects_join_no_story() {
    let stories = replay_paths(&[example()]);
    let all: Vec<&String> = stories
        .iter()
        .flat_map(|s| &s.timeline)
        .map(|t| &t.text)
        .collect();
    for healthy in [
        "catalog",
        "node-exporter",
        "coredns",
        "nightly-report",
        "ledger-84b6c9d7f",
    ] {
        assert!(
            !all.iter().any(|t| t.contains(healthy)),
            "{healthy} leaked into a story"
        );
    }
}

#[test]
fn same_input_same_json() {
    let a: Vec<String> = replay_paths(&[example()])
        .iter()
        .map(|s| serde_json::to_string(s).unwrap())
        .collect();
    let b: Vec<String> = replay_paths(&[example()])
        .iter()
        .map(|s| serde_json::to_string(s).unwrap())
        .collect();
    assert_eq!(a, b);
}

#[test]
fn history_round_trips_through_parquet_and_sql() {
    let capture = tapio_ingest::read_paths(&[example()], &Default::default()).unwrap();
    let stories = replay_paths(&[example()]);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dd = DataDir::open(dir.path().to_str().unwrap()).unwrap();
        let [events_t, corr_t, topo_t, stories_t] = TABLES;
        let write = || async {
            let mut n = dd.append(&events_t, &[events_to_batch(&capture.events)]).await.unwrap();
            n += dd.append(&topo_t, &[to_batch(topology_schema(), &capture.relations).unwrap()]).await.unwrap();
            n += dd.append(&stories_t, &[to_batch(story_schema(), &stories).unwrap()]).await.unwrap();
            n += dd.append(&corr_t, &[to_batch(correlation_schema(), &Vec::<tapio_schemas::Correlation>::new()).unwrap()]).await.unwrap();
            n
        };
        let first = write().await;
        assert_eq!(first, capture.events.len() + capture.relations.len() + stories.len());
        // A second replay of the same capture adds nothing.
        assert_eq!(write().await, 0);

        let q = |sql: &'static str| {
            let dd = dd.clone();
            async move { tapio_engine::sql::query(&dd, sql).await.unwrap() }
        };
        let b = q("SELECT count(*) AS n FROM events").await;
        let n = b[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
        assert_eq!(n as usize, capture.events.len());

        let b = q("SELECT pattern, root_cause['name'] AS root FROM stories ORDER BY first_seen").await;
        let pats = as_strings(b[0].column(0)).unwrap();
        let roots = b[0].column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(pats.value(1), "cascading-failure");
        assert_eq!(roots.value(1), "mysql");

        // Stories read back equal what was written.
        let b = q("SELECT * FROM stories ORDER BY first_seen").await;
        let back: Vec<tapio_schemas::Story> = tapio_schemas::rows::from_batch(&b[0].project(&(0..b[0].num_columns() - 1).collect::<Vec<_>>()).unwrap()).unwrap();
        assert_eq!(back, stories);

        // "All events of story X": unnest the story's event ids and join.
        let b = q("SELECT count(*) FROM (SELECT unnest(event_ids) AS id FROM stories WHERE pattern = 'config-missing') s JOIN events e ON e.event_id = s.id").await;
        let n = b[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
        assert_eq!(n as usize, stories[0].event_ids.len());
    });
}

#[test]
fn cluster_info_dump_example() {
    let dump = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/cluster-info-dump");
    let stories = replay_paths(&[dump]);
    assert_eq!(
        summary(&stories),
        vec![
            "volume-failure PersistentVolumeClaim/analytics/data-clickhouse-0 StorageClassNotFound",
            "job-failure CronJob/batch/invoice-export BackoffLimitExceeded",
            "image-pull Deployment/web/storefront ImageNotFound",
        ]
    );
    // The healthy old ReplicaSet's pods and the Prometheus readiness blip are nowhere.
    let all: Vec<&String> = stories
        .iter()
        .flat_map(|s| &s.timeline)
        .map(|t| &t.text)
        .collect();
    for healthy in ["storefront-6b9f8d7c5-", "prometheus", "kube-proxy"] {
        assert!(
            !all.iter().any(|t| t.contains(healthy)),
            "{healthy} leaked into a story"
        );
    }
    // The job's three failed pods are its blast radius.
    assert_eq!(stories[1].affected.pods.len(), 3);
}
