//! Topology: time-versioned relations between Kubernetes objects, the map the engine
//! joins events against ("which pods does this Service route to, at 10:02?").

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::columns::{dict_type, ts_type};
use crate::event::SCHEMA_VERSION_KEY;

/// Relation names (`from` → `to`).
pub mod relation {
    /// Pod → ReplicaSet, ReplicaSet → Deployment, Job → CronJob, ... (ownerReferences).
    pub const OWNED_BY: &str = "owned_by";
    /// Pod → Node it is scheduled on.
    pub const RUNS_ON: &str = "runs_on";
    /// Service → Pod its selector matches.
    pub const SELECTS: &str = "selects";
    /// EndpointSlice (or Endpoints) → Service it belongs to.
    pub const SLICE_OF: &str = "slice_of";
    /// EndpointSlice/Endpoints → Pod listed as an endpoint; `detail` is `ready` or `not-ready`.
    pub const ENDPOINT: &str = "endpoint";
    /// Pod → ConfigMap it uses (volume, envFrom, env valueFrom, projected).
    pub const USES_CONFIGMAP: &str = "uses_configmap";
    /// Pod → Secret it uses (metadata only).
    pub const USES_SECRET: &str = "uses_secret";
    /// Pod → PersistentVolumeClaim it mounts.
    pub const CLAIMS: &str = "claims";
    /// PersistentVolumeClaim → PersistentVolume it is bound to.
    pub const BOUND_TO: &str = "bound_to";
    /// PersistentVolumeClaim → StorageClass it asks for.
    pub const STORAGE_CLASS: &str = "storage_class";
    /// Pod → Service its environment names (e.g. `DB_HOST=mysql.shop`): an application
    /// dependency that lets a cascade be traced.
    pub const DEPENDS_ON: &str = "depends_on";
    /// NetworkPolicy → Pod it selects.
    pub const POLICY_SELECTS: &str = "policy_selects";
    /// Ingress → Service a rule (or the default backend) sends traffic to.
    pub const ROUTES_TO: &str = "routes_to";
    /// HorizontalPodAutoscaler → the workload it scales (`scaleTargetRef`).
    pub const SCALES: &str = "scales";
}

/// One relation between two objects, valid over `[valid_from, valid_to)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Relation {
    /// Cluster name.
    pub cluster: String,
    /// Relation name, see [`relation`].
    pub relation: String,
    /// Kind of the `from` object.
    pub from_kind: String,
    /// Namespace of the `from` object (empty when cluster-scoped).
    pub from_namespace: String,
    /// Name of the `from` object.
    pub from_name: String,
    /// UID of the `from` object, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_uid: Option<String>,
    /// Kind of the `to` object.
    pub to_kind: String,
    /// Namespace of the `to` object (empty when cluster-scoped).
    pub to_namespace: String,
    /// Name of the `to` object.
    pub to_name: String,
    /// UID of the `to` object, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_uid: Option<String>,
    /// Extra detail: a volume or env var name, endpoint readiness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Start of validity, ns since the epoch (the `from` object's creation, or the first
    /// time the relation was seen).
    #[serde(with = "crate::time::rfc3339_ns")]
    pub valid_from: i64,
    /// End of validity (deletion), `None` while current.
    #[serde(
        default,
        with = "crate::time::rfc3339_ns_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub valid_to: Option<i64>,
}

/// Version of [`topology_schema`].
pub const TOPOLOGY_SCHEMA_VERSION: &str = "1";

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let d = |n: &str, null: bool| Field::new(n, dict_type(), null);
    let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    Arc::new(Schema::new_with_metadata(
        vec![
            d("cluster", false),
            d("relation", false),
            d("from_kind", false),
            d("from_namespace", false),
            s("from_name", false),
            s("from_uid", true),
            d("to_kind", false),
            d("to_namespace", false),
            s("to_name", false),
            s("to_uid", true),
            s("detail", true),
            Field::new("valid_from", ts_type(), false),
            Field::new("valid_to", ts_type(), true),
        ],
        [(
            SCHEMA_VERSION_KEY.to_string(),
            TOPOLOGY_SCHEMA_VERSION.to_string(),
        )]
        .into(),
    ))
});

/// Arrow schema of [`Relation`] rows.
pub fn topology_schema() -> SchemaRef {
    SCHEMA.clone()
}
