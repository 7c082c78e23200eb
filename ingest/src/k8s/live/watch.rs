//! One kube-rs watcher per resource: list, then watch from the list's resourceVersion with
//! bookmarks; on `410 Gone` (or any error) the watcher backs off and relists, and the
//! relist reaches the store as `InitStart … InitDone`. Objects travel as JSON so the
//! store, the replay readers and the tests share one code path.

use std::fmt::Debug;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ResourceQuota,
    Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::events::v1::Event as EventV1;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::core::PartialObjectMeta;
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::store::{Change, Op};

/// Resources the collector watches, by the names `--k8s-resources` takes.
pub const RESOURCES: [&str; 21] = [
    "events",
    "pods",
    "nodes",
    "namespaces",
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "jobs",
    "cronjobs",
    "services",
    "endpointslices",
    "persistentvolumeclaims",
    "persistentvolumes",
    "storageclasses",
    "horizontalpodautoscalers",
    "networkpolicies",
    "ingresses",
    "resourcequotas",
    "leases",
    // Metadata only: names, labels, owners. Never data.
    "configmaps+secrets",
];

/// A client from the usual places: `KUBECONFIG` / `~/.kube/config`, or the in-cluster
/// service account.
pub async fn client() -> Result<Client, kube::Error> {
    Client::try_default().await
}

fn op_of<K>(e: Event<K>) -> (Op, Option<K>) {
    match e {
        Event::Apply(o) => (Op::Apply, Some(o)),
        Event::Delete(o) => (Op::Delete, Some(o)),
        Event::Init => (Op::InitStart, None),
        Event::InitApply(o) => (Op::InitApply, Some(o)),
        Event::InitDone => (Op::InitDone, None),
    }
}

fn config() -> watcher::Config {
    // Bookmarks keep the resourceVersion fresh on quiet resources, so a reconnect resumes
    // instead of relisting.
    watcher::Config::default().any_semantic()
}

/// Watches every `K` in the cluster, sending each change as `kind` until `tx` closes.
fn watch_full<K>(client: Client, kind: &'static str, tx: mpsc::Sender<Change>) -> JoinHandle<()>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug
        + Send
        + Sync
        + 'static,
{
    tokio::spawn(async move {
        let api: Api<K> = Api::all(client);
        let mut stream = watcher(api, config()).default_backoff().boxed();
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(ev) => {
                    let (op, obj) = op_of(ev);
                    let object = match obj.map(|o| serde_json::to_value(&o)) {
                        Some(Ok(v)) => slim(v),
                        Some(Err(e)) => {
                            warn!(kind, error = %e, "object not serializable");
                            continue;
                        }
                        None => Value::Null,
                    };
                    if op == Op::InitDone {
                        info!(kind, "Listed; watching.");
                    }
                    if tx.send(Change { kind, op, object }).await.is_err() {
                        return;
                    }
                }
                // The watcher retries on its own (with backoff); 410 Gone leads to a relist.
                Err(e) => warn!(kind, error = %e, "Watch error; retrying."),
            }
        }
    })
}

/// Drops what Tapio never reads and the API server sends with every object: field
/// managers and kubectl's copy of the last applied object (often half an object's size).
fn slim(mut v: Value) -> Value {
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
        if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    v
}

/// Watches metadata only (no data, no spec) of every `K`: for ConfigMaps and Secrets.
fn watch_meta<K>(client: Client, kind: &'static str, tx: mpsc::Sender<Change>) -> JoinHandle<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    tokio::spawn(async move {
        // `Api<PartialObjectMeta<K>>` asks the API server for metadata only.
        let api: Api<PartialObjectMeta<K>> = Api::all(client);
        let mut stream = watcher(api, config()).default_backoff().boxed();
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(ev) => {
                    let (op, obj) = op_of(ev);
                    let object = obj.map_or(Value::Null, |o| {
                        json!({"kind": kind, "metadata": serde_json::to_value(&o.metadata).unwrap_or(Value::Null)})
                    });
                    if tx.send(Change { kind, op, object }).await.is_err() {
                        return;
                    }
                }
                Err(e) => warn!(kind, error = %e, "Watch error; retrying."),
            }
        }
    })
}

/// Starts the watchers of `resources` (names from [`RESOURCES`]; empty means all).
pub(crate) fn spawn(
    client: &Client,
    resources: &[String],
    tx: &mpsc::Sender<Change>,
) -> Result<Vec<JoinHandle<()>>, String> {
    let wanted = |r: &str| resources.is_empty() || resources.iter().any(|x| x == r);
    for r in resources {
        if !RESOURCES.contains(&r.as_str()) {
            return Err(format!(
                "unknown Kubernetes resource {r:?} (known: {})",
                RESOURCES.join(", ")
            ));
        }
    }
    let c = || client.clone();
    let t = || tx.clone();
    let mut h = Vec::new();
    macro_rules! full {
        ($name:literal, $ty:ty, $kind:literal) => {
            if wanted($name) {
                h.push(watch_full::<$ty>(c(), $kind, t()));
            }
        };
    }
    full!("events", EventV1, "Event");
    full!("pods", Pod, "Pod");
    full!("nodes", Node, "Node");
    full!("namespaces", Namespace, "Namespace");
    full!("deployments", Deployment, "Deployment");
    full!("replicasets", ReplicaSet, "ReplicaSet");
    full!("statefulsets", StatefulSet, "StatefulSet");
    full!("daemonsets", DaemonSet, "DaemonSet");
    full!("jobs", Job, "Job");
    full!("cronjobs", CronJob, "CronJob");
    full!("services", Service, "Service");
    full!("endpointslices", EndpointSlice, "EndpointSlice");
    full!(
        "persistentvolumeclaims",
        PersistentVolumeClaim,
        "PersistentVolumeClaim"
    );
    full!("persistentvolumes", PersistentVolume, "PersistentVolume");
    full!("storageclasses", StorageClass, "StorageClass");
    full!(
        "horizontalpodautoscalers",
        HorizontalPodAutoscaler,
        "HorizontalPodAutoscaler"
    );
    full!("networkpolicies", NetworkPolicy, "NetworkPolicy");
    full!("ingresses", Ingress, "Ingress");
    full!("resourcequotas", ResourceQuota, "ResourceQuota");
    full!("leases", Lease, "Lease");
    if wanted("configmaps+secrets") {
        h.push(watch_meta::<ConfigMap>(c(), "ConfigMap", t()));
        h.push(watch_meta::<Secret>(c(), "Secret", t()));
    }
    Ok(h)
}
