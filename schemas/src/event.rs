//! The UnifiedEvent: one row per thing that happened, from any layer, with its
//! Kubernetes context. Collectors produce these; the engine correlates them.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, Int32Array, Int32Builder, Int64Array, Int64Builder, ListArray,
    ListBuilder, MapArray, MapBuilder, RecordBatch, StringArray, StringBuilder,
    StringDictionaryBuilder, TimestampNanosecondArray, TimestampNanosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::columns::{
    DICT, Lists, Maps, TS, dict_field, list_field, map_field, opt_i32, opt_i64, opt_str, req_str,
    req_ts, str_field, ts_field,
};
use crate::{Error, Result};

/// Version of [`event_schema`]; stored in the schema metadata under `tapio.schema_version`.
/// Bump it on any change a reader must know about.
pub const EVENT_SCHEMA_VERSION: &str = "1";

/// Metadata key that carries a schema's version.
pub const SCHEMA_VERSION_KEY: &str = "tapio.schema_version";

/// Where an event came from. Stored as its `as_str` name.
pub mod source {
    /// A Kubernetes Event object (core/v1 or events.k8s.io/v1).
    pub const K8S_EVENT: &str = "k8s-event";
    /// State read off a Kubernetes object (a Pod's container status, a Node's condition).
    pub const K8S_OBJECT: &str = "k8s-object";
    /// The kernel: eBPF or kernel log lines.
    pub const KERNEL: &str = "kernel";
    /// systemd's journal (kubelet, containerd, systemd units).
    pub const JOURNALD: &str = "journald";
    /// The CNI plugin.
    pub const CNI: &str = "cni";
    /// The container runtime (CRI).
    pub const CRI: &str = "cri";
    /// Control-plane components (apiserver, scheduler, controller-manager).
    pub const CONTROL_PLANE: &str = "control-plane";
}

/// How bad an event is, lowest first. Serialised lower-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Routine: created, started, scheduled.
    Info,
    /// Something went wrong that may recover (a probe failure, a back-off).
    Warning,
    /// A failure: a kill, a crash, a failed mount.
    Error,
    /// A failure of something many depend on (a node, a system OOM).
    Critical,
}

impl Severity {
    /// The lower-case name stored in Arrow.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    /// Parses the stored name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "error" => Severity::Error,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// A Kubernetes object reference as events carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// Kind, e.g. `Pod`, `Node`, `Deployment`.
    pub kind: String,
    /// Namespace; empty for cluster-scoped objects.
    #[serde(default)]
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl ObjectRef {
    /// A reference without a UID.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        ObjectRef {
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: None,
        }
    }

    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects: the key that
    /// joins events, topology and stories.
    pub fn key(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Kinds that are workloads: a top owner of pods, what a story about pods is about.
pub fn is_workload_kind(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment"
            | "StatefulSet"
            | "DaemonSet"
            | "Job"
            | "CronJob"
            | "ReplicaSet"
            | "ReplicationController"
    )
}

/// One event from any layer, with its Kubernetes context. Field docs double as the
/// column reference of [`event_schema`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnifiedEvent {
    /// Stable id: a Kubernetes Event's `metadata.uid`, or a hash of what makes a derived
    /// event unique, so the same input always yields the same id.
    pub event_id: String,
    /// When it happened, ns since the Unix epoch (UTC); RFC 3339 in JSON.
    #[serde(with = "crate::time::rfc3339_ns")]
    pub event_time: i64,
    /// When a collector saw it, ns since the Unix epoch (UTC); RFC 3339 in JSON.
    #[serde(with = "crate::time::rfc3339_ns")]
    pub observed_time: i64,
    /// Layer it came from: see [`source`].
    pub source: String,
    /// Dotted type, e.g. `k8s.pod.oom_killed`, `kernel.oom_kill`, `k8s.event`.
    pub event_type: String,
    /// How bad it is.
    pub severity: Severity,
    /// Cluster name (`default` when a capture does not say).
    #[serde(default)]
    pub cluster: String,
    /// The object it is about (an Event's `involvedObject`/`regarding`).
    pub object: ObjectRef,
    /// Node it happened on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Pod name (namespace is the object's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Pod UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// Container name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Container id without the runtime prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Top owner (e.g. the Deployment), in the object's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<ObjectRef>,
    /// Owners from the object up, as `Kind/name` (e.g. `ReplicaSet/web-7d4f`, `Deployment/web`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_chain: Vec<String>,
    /// Machine-readable reason (`BackOff`, `OOMKilled`, `FailedScheduling`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human message as the reporter wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How many times the reporter saw it (a Kubernetes Event's count or series count).
    #[serde(default = "one")]
    pub count: i64,
    /// Process or container exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Fatal signal number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i64>,
    /// Process command name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// cgroup path of the process or container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// Source IP of a network event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    /// Source port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_port: Option<i32>,
    /// Destination IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<String>,
    /// Destination port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<i32>,
    /// The object's labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Anything else worth keeping (`reporter`, `memory_limit`, `unit`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

fn one() -> i64 {
    1
}

impl UnifiedEvent {
    /// A new event with the required fields; the rest empty.
    pub fn new(
        event_id: String,
        event_time: i64,
        source: &str,
        event_type: &str,
        severity: Severity,
        object: ObjectRef,
    ) -> Self {
        UnifiedEvent {
            event_id,
            event_time,
            observed_time: event_time,
            source: source.to_string(),
            event_type: event_type.to_string(),
            severity,
            cluster: "default".to_string(),
            object,
            node: None,
            pod: None,
            pod_uid: None,
            container: None,
            container_id: None,
            workload: None,
            owner_chain: Vec::new(),
            reason: None,
            message: None,
            count: 1,
            exit_code: None,
            signal: None,
            pid: None,
            comm: None,
            cgroup: None,
            src_ip: None,
            src_port: None,
            dst_ip: None,
            dst_port: None,
            labels: BTreeMap::new(),
            attributes: BTreeMap::new(),
        }
    }
}

static EVENT_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let fields = vec![
        str_field("event_id", false),
        ts_field("event_time", false),
        ts_field("observed_time", false),
        dict_field("source", false),
        dict_field("event_type", false),
        dict_field("severity", false),
        dict_field("cluster", false),
        dict_field("object_kind", false),
        dict_field("object_namespace", false),
        str_field("object_name", false),
        str_field("object_uid", true),
        dict_field("node", true),
        str_field("pod", true),
        str_field("pod_uid", true),
        dict_field("container", true),
        str_field("container_id", true),
        dict_field("workload_kind", true),
        str_field("workload_name", true),
        list_field("owner_chain"),
        dict_field("reason", true),
        str_field("message", true),
        Field::new("count", DataType::Int64, false),
        Field::new("exit_code", DataType::Int32, true),
        Field::new("signal", DataType::Int32, true),
        Field::new("pid", DataType::Int64, true),
        dict_field("comm", true),
        str_field("cgroup", true),
        str_field("src_ip", true),
        Field::new("src_port", DataType::Int32, true),
        str_field("dst_ip", true),
        Field::new("dst_port", DataType::Int32, true),
        map_field("labels"),
        map_field("attributes"),
    ];
    let meta = [(
        SCHEMA_VERSION_KEY.to_string(),
        EVENT_SCHEMA_VERSION.to_string(),
    )]
    .into();
    Arc::new(Schema::new_with_metadata(fields, meta))
});

/// Columns of [`event_schema`] that [`events_from_batch`] reads as null when a batch
/// leaves them out: identifiers and process, network and label details that a story's
/// text and links do not use.
pub const OMITTABLE_COLUMNS: [&str; 9] = [
    "object_uid",
    "pod_uid",
    "container_id",
    "cgroup",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "labels",
];

/// The Arrow schema of UnifiedEvent rows (version [`EVENT_SCHEMA_VERSION`]).
///
/// Repetitive low-cardinality columns (source, type, severity, cluster, kinds,
/// namespaces, node, container, reason, comm) are dictionary-encoded; times are
/// `Timestamp(ns, "UTC")`; labels and attributes are `Map<Utf8, Utf8>`.
pub fn event_schema() -> SchemaRef {
    EVENT_SCHEMA.clone()
}

/// Column-wise builder of UnifiedEvent batches: append events, then `finish`.
pub struct EventBatchBuilder {
    event_id: StringBuilder,
    event_time: TimestampNanosecondBuilder,
    observed_time: TimestampNanosecondBuilder,
    source: DICT,
    event_type: DICT,
    severity: DICT,
    cluster: DICT,
    object_kind: DICT,
    object_namespace: DICT,
    object_name: StringBuilder,
    object_uid: StringBuilder,
    node: DICT,
    pod: StringBuilder,
    pod_uid: StringBuilder,
    container: DICT,
    container_id: StringBuilder,
    workload_kind: DICT,
    workload_name: StringBuilder,
    owner_chain: ListBuilder<StringBuilder>,
    reason: DICT,
    message: StringBuilder,
    count: Int64Builder,
    exit_code: Int32Builder,
    signal: Int32Builder,
    pid: Int64Builder,
    comm: DICT,
    cgroup: StringBuilder,
    src_ip: StringBuilder,
    src_port: Int32Builder,
    dst_ip: StringBuilder,
    dst_port: Int32Builder,
    labels: MapBuilder<StringBuilder, StringBuilder>,
    attributes: MapBuilder<StringBuilder, StringBuilder>,
}

impl Default for EventBatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBatchBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        let dict = StringDictionaryBuilder::<Int32Type>::new;
        EventBatchBuilder {
            event_id: StringBuilder::new(),
            event_time: TS::new().with_timezone("UTC"),
            observed_time: TS::new().with_timezone("UTC"),
            source: dict(),
            event_type: dict(),
            severity: dict(),
            cluster: dict(),
            object_kind: dict(),
            object_namespace: dict(),
            object_name: StringBuilder::new(),
            object_uid: StringBuilder::new(),
            node: dict(),
            pod: StringBuilder::new(),
            pod_uid: StringBuilder::new(),
            container: dict(),
            container_id: StringBuilder::new(),
            workload_kind: dict(),
            workload_name: StringBuilder::new(),
            owner_chain: ListBuilder::new(StringBuilder::new()).with_field(Field::new(
                "item",
                DataType::Utf8,
                true,
            )),
            reason: dict(),
            message: StringBuilder::new(),
            count: Int64Builder::new(),
            exit_code: Int32Builder::new(),
            signal: Int32Builder::new(),
            pid: Int64Builder::new(),
            comm: dict(),
            cgroup: StringBuilder::new(),
            src_ip: StringBuilder::new(),
            src_port: Int32Builder::new(),
            dst_ip: StringBuilder::new(),
            dst_port: Int32Builder::new(),
            labels: crate::columns::map_builder(),
            attributes: crate::columns::map_builder(),
        }
    }

    /// Number of rows appended since the last `finish`.
    pub fn len(&self) -> usize {
        self.event_id.len()
    }

    /// True when no rows are pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one event.
    pub fn append(&mut self, e: &UnifiedEvent) {
        self.event_id.append_value(&e.event_id);
        self.event_time.append_value(e.event_time);
        self.observed_time.append_value(e.observed_time);
        self.source.append_value(&e.source);
        self.event_type.append_value(&e.event_type);
        self.severity.append_value(e.severity.as_str());
        self.cluster.append_value(&e.cluster);
        self.object_kind.append_value(&e.object.kind);
        self.object_namespace.append_value(&e.object.namespace);
        self.object_name.append_value(&e.object.name);
        self.object_uid.append_option(e.object.uid.as_deref());
        self.node.append_option(e.node.as_deref());
        self.pod.append_option(e.pod.as_deref());
        self.pod_uid.append_option(e.pod_uid.as_deref());
        self.container.append_option(e.container.as_deref());
        self.container_id.append_option(e.container_id.as_deref());
        self.workload_kind
            .append_option(e.workload.as_ref().map(|w| w.kind.as_str()));
        self.workload_name
            .append_option(e.workload.as_ref().map(|w| w.name.as_str()));
        for o in &e.owner_chain {
            self.owner_chain.values().append_value(o);
        }
        self.owner_chain.append(true);
        self.reason.append_option(e.reason.as_deref());
        self.message.append_option(e.message.as_deref());
        self.count.append_value(e.count);
        self.exit_code.append_option(e.exit_code);
        self.signal.append_option(e.signal);
        self.pid.append_option(e.pid);
        self.comm.append_option(e.comm.as_deref());
        self.cgroup.append_option(e.cgroup.as_deref());
        self.src_ip.append_option(e.src_ip.as_deref());
        self.src_port.append_option(e.src_port);
        self.dst_ip.append_option(e.dst_ip.as_deref());
        self.dst_port.append_option(e.dst_port);
        crate::columns::append_map(&mut self.labels, &e.labels);
        crate::columns::append_map(&mut self.attributes, &e.attributes);
    }

    /// Builds the batch of everything appended and resets the builder.
    pub fn finish(&mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.event_id.finish()),
            Arc::new(self.event_time.finish()),
            Arc::new(self.observed_time.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.event_type.finish()),
            Arc::new(self.severity.finish()),
            Arc::new(self.cluster.finish()),
            Arc::new(self.object_kind.finish()),
            Arc::new(self.object_namespace.finish()),
            Arc::new(self.object_name.finish()),
            Arc::new(self.object_uid.finish()),
            Arc::new(self.node.finish()),
            Arc::new(self.pod.finish()),
            Arc::new(self.pod_uid.finish()),
            Arc::new(self.container.finish()),
            Arc::new(self.container_id.finish()),
            Arc::new(self.workload_kind.finish()),
            Arc::new(self.workload_name.finish()),
            Arc::new(self.owner_chain.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.message.finish()),
            Arc::new(self.count.finish()),
            Arc::new(self.exit_code.finish()),
            Arc::new(self.signal.finish()),
            Arc::new(self.pid.finish()),
            Arc::new(self.comm.finish()),
            Arc::new(self.cgroup.finish()),
            Arc::new(self.src_ip.finish()),
            Arc::new(self.src_port.finish()),
            Arc::new(self.dst_ip.finish()),
            Arc::new(self.dst_port.finish()),
            Arc::new(self.labels.finish()),
            Arc::new(self.attributes.finish()),
        ];
        RecordBatch::try_new(event_schema(), columns)
            .expect("builder columns match event_schema by construction")
    }
}

/// Builds one batch from a slice of events.
pub fn events_to_batch(events: &[UnifiedEvent]) -> RecordBatch {
    let mut b = EventBatchBuilder::new();
    for e in events {
        b.append(e);
    }
    b.finish()
}

/// Reads events back from a batch of [`event_schema`] (columns found by name, so a
/// batch read from Parquet or IPC with extra columns still reads). A missing or
/// mistyped required column is an error naming it. The columns in
/// [`OMITTABLE_COLUMNS`] may be absent and read as null (labels as empty): a projection
/// that leaves them out (the engine's window, see `tapio_engine::window_rows`) reads back.
pub fn events_from_batch(batch: &RecordBatch) -> Result<Vec<UnifiedEvent>> {
    let c = Columns(batch);
    let ids = c.str("event_id")?;
    let event_time = c.ts("event_time")?;
    let observed_time = c.ts("observed_time")?;
    let (source, event_type, severity, cluster) = (
        c.any("source")?,
        c.any("event_type")?,
        c.any("severity")?,
        c.any("cluster")?,
    );
    let (kind, ns, name, uid) = (
        c.any("object_kind")?,
        c.any("object_namespace")?,
        c.any("object_name")?,
        c.omittable(Columns::any, "object_uid")?,
    );
    let col = |n: &'static str| c.any(n);
    let (node, pod, pod_uid, container, container_id) = (
        col("node")?,
        col("pod")?,
        c.omittable(Columns::any, "pod_uid")?,
        col("container")?,
        c.omittable(Columns::any, "container_id")?,
    );
    let (wk, wn) = (col("workload_kind")?, col("workload_name")?);
    let owner_chain = Lists::of(c.typed::<ListArray>("owner_chain")?);
    let (reason, message) = (col("reason")?, col("message")?);
    let count = c.typed::<Int64Array>("count")?;
    let exit_code = c.typed::<Int32Array>("exit_code")?;
    let signal = c.typed::<Int32Array>("signal")?;
    let pid = c.typed::<Int64Array>("pid")?;
    let comm = col("comm")?;
    let (cgroup, src_ip, dst_ip) = (
        c.omittable(Columns::any, "cgroup")?,
        c.omittable(Columns::any, "src_ip")?,
        c.omittable(Columns::any, "dst_ip")?,
    );
    let src_port = c.omittable(Columns::typed::<Int32Array>, "src_port")?;
    let dst_port = c.omittable(Columns::typed::<Int32Array>, "dst_port")?;
    let labels = c
        .omittable(Columns::typed::<MapArray>, "labels")?
        .map(Maps::of);
    let attributes = Maps::of(c.typed::<MapArray>("attributes")?);

    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let sev = req_str(&severity, i, "severity")?;
        let workload = match (opt_str(&wk, i), opt_str(&wn, i)) {
            (Some(k), Some(n)) => Some(ObjectRef::new(
                &k,
                &req_str(&ns, i, "object_namespace")?,
                &n,
            )),
            _ => None,
        };
        out.push(UnifiedEvent {
            event_id: ids.value(i).to_string(),
            event_time: req_ts(event_time, i, "event_time")?,
            observed_time: req_ts(observed_time, i, "observed_time")?,
            source: req_str(&source, i, "source")?,
            event_type: req_str(&event_type, i, "event_type")?,
            severity: Severity::parse(&sev).ok_or_else(|| Error::Field {
                field: "severity",
                row: i,
                message: format!("unknown severity {sev:?}"),
            })?,
            cluster: req_str(&cluster, i, "cluster")?,
            object: ObjectRef {
                kind: req_str(&kind, i, "object_kind")?,
                namespace: req_str(&ns, i, "object_namespace")?,
                name: req_str(&name, i, "object_name")?,
                uid: uid.as_ref().and_then(|a| opt_str(a, i)),
            },
            node: opt_str(&node, i),
            pod: opt_str(&pod, i),
            pod_uid: pod_uid.as_ref().and_then(|a| opt_str(a, i)),
            container: opt_str(&container, i),
            container_id: container_id.as_ref().and_then(|a| opt_str(a, i)),
            workload,
            owner_chain: owner_chain.get(i),
            reason: opt_str(&reason, i),
            message: opt_str(&message, i),
            count: if count.is_null(i) { 1 } else { count.value(i) },
            exit_code: opt_i32(exit_code, i),
            signal: opt_i32(signal, i),
            pid: opt_i64(pid, i),
            comm: opt_str(&comm, i),
            cgroup: cgroup.as_ref().and_then(|a| opt_str(a, i)),
            src_ip: src_ip.as_ref().and_then(|a| opt_str(a, i)),
            src_port: src_port.and_then(|a| opt_i32(a, i)),
            dst_ip: dst_ip.as_ref().and_then(|a| opt_str(a, i)),
            dst_port: dst_port.and_then(|a| opt_i32(a, i)),
            labels: labels.as_ref().map(|a| a.get(i)).unwrap_or_default(),
            attributes: attributes.get(i),
        });
    }
    Ok(out)
}

/// Named, typed access to a batch's columns with errors that name the column.
struct Columns<'a>(&'a RecordBatch);

impl<'a> Columns<'a> {
    /// A string column, dictionary-encoded or plain, as a plain `StringArray`.
    fn any(&self, name: &'static str) -> Result<StringArray> {
        let col = self
            .0
            .column_by_name(name)
            .ok_or(Error::MissingColumn(name))?;
        crate::columns::as_strings(col).ok_or(Error::ColumnType(name))
    }
    fn typed<T: Array + 'static>(&self, name: &'static str) -> Result<&'a T> {
        self.0
            .column_by_name(name)
            .ok_or(Error::MissingColumn(name))?
            .as_any()
            .downcast_ref::<T>()
            .ok_or(Error::ColumnType(name))
    }
    /// A column of [`OMITTABLE_COLUMNS`] read with `read`: `None` when the batch leaves
    /// it out.
    fn omittable<T>(
        &self,
        read: impl Fn(&Self, &'static str) -> Result<T>,
        name: &'static str,
    ) -> Result<Option<T>> {
        debug_assert!(OMITTABLE_COLUMNS.contains(&name));
        if self.0.column_by_name(name).is_none() {
            return Ok(None);
        }
        read(self, name).map(Some)
    }
    fn str(&self, name: &'static str) -> Result<&'a StringArray> {
        self.typed::<StringArray>(name)
    }
    fn ts(&self, name: &'static str) -> Result<&'a TimestampNanosecondArray> {
        self.typed::<TimestampNanosecondArray>(name)
    }
}
