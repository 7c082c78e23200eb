//! The relationship map of a realistic two-namespace cluster (`fixtures/topology/`: a
//! storefront Deployment behind an Ingress and an HPA, an API, a MySQL StatefulSet on a
//! PVC, a ledger in another namespace that uses MySQL), and blast radius over it.

use std::path::PathBuf;

use tapio_ingest::k8s::impact::{impact, parse_target};
use tapio_ingest::{ReplayOptions, read_paths};
use tapio_schemas::{Relation, relation};

fn relations() -> Vec<Relation> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/topology");
    let c = read_paths(&[p], &ReplayOptions::default()).unwrap();
    assert!(c.summary.problems.is_empty(), "{:?}", c.summary.problems);
    c.relations
}

fn has(rels: &[Relation], rel: &str, from: &str, to: &str) -> bool {
    rels.iter().any(|r| {
        r.relation == rel
            && format!("{}/{}", r.from_kind, r.from_name) == from
            && format!("{}/{}", r.to_kind, r.to_name) == to
    })
}

#[test]
fn every_relation_kind() {
    let r = relations();
    let expect = [
        (
            relation::OWNED_BY,
            "Pod/web-7d4f9c8b5-x2k9q",
            "ReplicaSet/web-7d4f9c8b5",
        ),
        (
            relation::OWNED_BY,
            "ReplicaSet/web-7d4f9c8b5",
            "Deployment/web",
        ),
        (relation::OWNED_BY, "Pod/mysql-0", "StatefulSet/mysql"),
        (relation::RUNS_ON, "Pod/mysql-0", "Node/node-b"),
        (relation::SELECTS, "Service/web", "Pod/web-7d4f9c8b5-m4n8z"),
        (relation::SLICE_OF, "EndpointSlice/web-x8k2d", "Service/web"),
        (
            relation::ENDPOINT,
            "EndpointSlice/web-x8k2d",
            "Pod/web-7d4f9c8b5-x2k9q",
        ),
        // volume, projected volume, envFrom, env valueFrom
        (
            relation::USES_CONFIGMAP,
            "Pod/web-7d4f9c8b5-x2k9q",
            "ConfigMap/web-config",
        ),
        (
            relation::USES_CONFIGMAP,
            "Pod/api-6d8f7b9c5-x7k2p",
            "ConfigMap/api-config",
        ),
        (
            relation::USES_CONFIGMAP,
            "Pod/ledger-5b9c7d6f4-q8r7s",
            "ConfigMap/ledger-config",
        ),
        (
            relation::USES_SECRET,
            "Pod/ledger-5b9c7d6f4-q8r7s",
            "Secret/ledger-db",
        ),
        (
            relation::USES_SECRET,
            "Pod/api-6d8f7b9c5-x7k2p",
            "Secret/mysql-credentials",
        ),
        (
            relation::CLAIMS,
            "Pod/mysql-0",
            "PersistentVolumeClaim/data-mysql-0",
        ),
        (
            relation::BOUND_TO,
            "PersistentVolumeClaim/data-mysql-0",
            "PersistentVolume/pvc-3f1a",
        ),
        (
            relation::STORAGE_CLASS,
            "PersistentVolumeClaim/data-mysql-0",
            "StorageClass/fast-ssd",
        ),
        (
            relation::DEPENDS_ON,
            "Pod/web-7d4f9c8b5-x2k9q",
            "Service/api",
        ),
        (
            relation::DEPENDS_ON,
            "Pod/api-6d8f7b9c5-x7k2p",
            "Service/mysql",
        ),
        (
            relation::DEPENDS_ON,
            "Pod/ledger-5b9c7d6f4-q8r7s",
            "Service/mysql",
        ),
        (
            relation::POLICY_SELECTS,
            "NetworkPolicy/mysql-from-api",
            "Pod/mysql-0",
        ),
        (relation::ROUTES_TO, "Ingress/storefront", "Service/web"),
        (relation::ROUTES_TO, "Ingress/storefront", "Service/api"),
        (
            relation::SCALES,
            "HorizontalPodAutoscaler/web",
            "Deployment/web",
        ),
    ];
    for (rel, from, to) in expect {
        assert!(has(&r, rel, from, to), "missing {from} -{rel}-> {to}");
    }
    // The cross-namespace dependency keeps its namespaces.
    assert!(r.iter().any(|x| x.relation == relation::DEPENDS_ON
        && x.from_namespace == "payments"
        && x.to_namespace == "shop"));
}

fn names<T>(v: &[T], f: impl Fn(&T) -> String) -> Vec<String> {
    v.iter().map(f).collect()
}

#[test]
fn node_down_takes_its_pods_and_the_services_only_they_back() {
    let i = impact(&relations(), &parse_target("node/node-b").unwrap());
    assert_eq!(
        names(&i.pods, |h| h.name.clone()),
        ["mysql-0", "web-7d4f9c8b5-m4n8z"]
    );
    let svc: Vec<(String, String, usize, usize)> = i
        .services
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.state.clone(),
                s.affected_pods,
                s.total_pods,
            )
        })
        .collect();
    assert_eq!(
        svc,
        [
            ("mysql".into(), "down".into(), 1, 1),
            ("web".into(), "degraded".into(), 1, 2)
        ]
    );
    // The callers of MySQL, in both namespaces, are hit though they run elsewhere.
    assert_eq!(
        names(&i.callers, |h| format!("{}/{}", h.namespace, h.name)),
        [
            "payments/ledger-5b9c7d6f4-q8r7s",
            "shop/api-6d8f7b9c5-x7k2p"
        ]
    );
    let w = names(&i.workloads, |w| {
        format!("{} {}/{}", w.kind, w.affected_pods, w.total_pods)
    });
    assert_eq!(w, ["Deployment 1/2", "StatefulSet 1/1"]);
    assert!(i.ingresses.is_empty(), "web is degraded, not down");
}

#[test]
fn service_configmap_pvc_and_storageclass_targets() {
    let r = relations();
    let svc = impact(&r, &parse_target("service/shop/api").unwrap());
    assert_eq!(svc.services[0].state, "down");
    assert_eq!(names(&svc.ingresses, |h| h.name.clone()), ["storefront"]);
    assert_eq!(
        names(&svc.callers, |h| h.name.clone()).len(),
        2,
        "both web pods call the API"
    );

    let cm = impact(&r, &parse_target("cm/payments/ledger-config").unwrap());
    assert_eq!(
        names(&cm.pods, |h| h.name.clone()),
        ["ledger-5b9c7d6f4-q8r7s"]
    );
    assert_eq!(cm.services[0].state, "down");

    for target in [
        "pvc/shop/data-mysql-0",
        "pv/pvc-3f1a",
        "storageclass/fast-ssd",
    ] {
        let i = impact(&r, &parse_target(target).unwrap());
        assert_eq!(names(&i.pods, |h| h.name.clone()), ["mysql-0"], "{target}");
        assert_eq!(i.callers.len(), 2, "{target}: api and ledger call mysql");
    }
    let d = impact(&r, &parse_target("deployment/shop/web").unwrap());
    assert_eq!(d.pods.len(), 2);
    assert_eq!(names(&d.ingresses, |h| h.name.clone()), ["storefront"]);
}
