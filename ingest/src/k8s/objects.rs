//! Kubernetes objects → topology relations and events derived from their state.
//!
//! Object state tells what Events may not: a container whose last state is
//! `OOMKilled`, a Node whose `Ready` condition is `False`, a Pod `Pending` with
//! `PodScheduled=False`, a PVC `Pending`, a Deployment past its progress deadline. Each
//! becomes a `k8s-object` event with a stable id derived from the object and the time.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use tapio_schemas::ids::stable_id;
use tapio_schemas::{ObjectRef, Relation, Severity, UnifiedEvent, relation, source};

use super::map::{ClusterMap, PodInfo};
use super::value::{arr_at, at, int_at, map_at, str_at, time_at};

/// A Service as the map needs it.
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Selector (empty: a Service without selector, endpoints managed by hand).
    pub selector: BTreeMap<String, String>,
    /// Creation time.
    pub created: i64,
}

/// Endpoints seen for one Service.
#[derive(Debug, Clone, Default)]
pub struct EndpointState {
    /// Ready endpoints.
    pub ready: usize,
    /// Not-ready endpoints.
    pub not_ready: usize,
    /// Latest `endpoints.kubernetes.io/last-change-trigger-time`.
    pub changed: Option<i64>,
}

/// Accumulates what objects say until all input is read; `finish` then resolves the
/// relations that need several objects (selectors, dependencies, endpoints).
#[derive(Debug, Default)]
pub struct ObjectState {
    /// Cluster name given to relations and derived events.
    pub cluster: String,
    /// Pods, owners, IPs.
    pub map: ClusterMap,
    /// Relations found so far.
    pub relations: Vec<Relation>,
    /// Events derived from object state.
    pub derived: Vec<UnifiedEvent>,
    services: Vec<ServiceInfo>,
    endpoints: BTreeMap<(String, String), EndpointState>,
    policies: Vec<(String, String, BTreeMap<String, String>, i64)>,
    /// (namespace, pod, created, env values) for dependency detection.
    pod_env: Vec<(String, String, i64, Vec<String>)>,
}

type ObjResult = Result<(), (String, String)>;

fn field_err(field: &str, msg: impl Into<String>) -> (String, String) {
    (field.to_string(), msg.into())
}

fn created(v: &Value) -> Result<i64, (String, String)> {
    time_at(v, "metadata.creationTimestamp")
        .map_err(|m| field_err("metadata.creationTimestamp", m))?
        .ok_or_else(|| field_err("metadata.creationTimestamp", "missing"))
}

fn ts(v: &Value, path: &str) -> Result<Option<i64>, (String, String)> {
    time_at(v, path).map_err(|m| field_err(path, m))
}

impl ObjectState {
    /// Empty state for one cluster.
    pub fn new(cluster: &str) -> Self {
        ObjectState {
            cluster: cluster.to_string(),
            ..Default::default()
        }
    }

    /// Reads one object of a kind Tapio uses. `Ok(false)` for kinds it does not use.
    pub fn add(&mut self, kind: &str, v: &Value) -> Result<bool, (String, String)> {
        let name =
            str_at(v, "metadata.name").ok_or_else(|| field_err("metadata.name", "missing"))?;
        let ns = str_at(v, "metadata.namespace").unwrap_or("");
        match kind {
            "Pod" => self.pod(v, ns, name)?,
            "Node" => self.node(v, name)?,
            "Deployment"
            | "ReplicaSet"
            | "StatefulSet"
            | "DaemonSet"
            | "Job"
            | "CronJob"
            | "ReplicationController" => self.workload(kind, v, ns, name)?,
            "Service" => {
                let mut ips: Vec<&str> = arr_at(v, "spec.clusterIPs")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                ips.extend(str_at(v, "spec.clusterIP"));
                for ip in ips.into_iter().filter(|ip| *ip != "None" && !ip.is_empty()) {
                    self.map.add_service_ip(ip, ns, name);
                }
                self.services.push(ServiceInfo {
                    namespace: ns.into(),
                    name: name.into(),
                    selector: map_at(v, "spec.selector"),
                    created: created(v)?,
                });
            }
            "EndpointSlice" => self.endpoint_slice(v, ns, name)?,
            "Endpoints" => self.endpoints(v, ns, name)?,
            "PersistentVolumeClaim" => self.pvc(v, ns, name)?,
            "NetworkPolicy" => {
                let sel = map_at(v, "spec.podSelector.matchLabels");
                self.policies
                    .push((ns.into(), name.into(), sel, created(v)?));
            }
            "Ingress" => self.ingress(v, ns, name)?,
            "HorizontalPodAutoscaler" => {
                let valid = (created(v)?, ts(v, "metadata.deletionTimestamp")?);
                if let (Some(k), Some(n)) = (
                    str_at(v, "spec.scaleTargetRef.kind"),
                    str_at(v, "spec.scaleTargetRef.name"),
                ) {
                    let uid = str_at(v, "metadata.uid");
                    self.rel(
                        relation::SCALES,
                        ("HorizontalPodAutoscaler", ns, name),
                        (k, ns, n),
                        uid,
                        None,
                        valid,
                    );
                }
            }
            // Existence is all Tapio needs of these; Secret data is never read.
            "PersistentVolume" | "ConfigMap" | "Secret" | "Namespace" | "StorageClass"
            | "ResourceQuota" | "Lease" => {
                self.owner_relations(v, kind, ns, name)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn rel(
        &mut self,
        rel: &str,
        from: (&str, &str, &str),
        to: (&str, &str, &str),
        from_uid: Option<&str>,
        detail: Option<String>,
        valid: (i64, Option<i64>),
    ) {
        self.relations.push(Relation {
            cluster: self.cluster.clone(),
            relation: rel.into(),
            from_kind: from.0.into(),
            from_namespace: from.1.into(),
            from_name: from.2.into(),
            from_uid: from_uid.map(str::to_string),
            to_kind: to.0.into(),
            to_namespace: to.1.into(),
            to_name: to.2.into(),
            to_uid: None,
            detail,
            valid_from: valid.0,
            valid_to: valid.1,
        });
    }

    fn owner_relations(&mut self, v: &Value, kind: &str, ns: &str, name: &str) -> ObjResult {
        let from = created(v)?;
        let to = ts(v, "metadata.deletionTimestamp")?;
        for o in arr_at(v, "metadata.ownerReferences") {
            let (Some(ok), Some(on)) = (str_at(o, "kind"), str_at(o, "name")) else {
                return Err(field_err(
                    "metadata.ownerReferences",
                    "an owner without kind or name",
                ));
            };
            let controller = o
                .get("controller")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if controller || arr_at(v, "metadata.ownerReferences").len() == 1 {
                self.map.add_owner(kind, ns, name, ok, on);
            }
            let uid = str_at(v, "metadata.uid");
            self.rel(
                relation::OWNED_BY,
                (kind, ns, name),
                (ok, ns, on),
                uid,
                None,
                (from, to),
            );
        }
        Ok(())
    }

    /// Ingress → each Service its rules and default backend send traffic to.
    fn ingress(&mut self, v: &Value, ns: &str, name: &str) -> ObjResult {
        let valid = (created(v)?, ts(v, "metadata.deletionTimestamp")?);
        let mut targets: Vec<String> = Vec::new();
        targets.extend(str_at(v, "spec.defaultBackend.service.name").map(str::to_string));
        for rule in arr_at(v, "spec.rules") {
            for path in arr_at(rule, "http.paths") {
                targets.extend(str_at(path, "backend.service.name").map(str::to_string));
            }
        }
        targets.sort();
        targets.dedup();
        let uid = str_at(v, "metadata.uid");
        for svc in &targets {
            self.rel(
                relation::ROUTES_TO,
                ("Ingress", ns, name),
                ("Service", ns, svc),
                uid,
                None,
                valid,
            );
        }
        Ok(())
    }

    fn derive(
        &mut self,
        obj: ObjectRef,
        time: i64,
        ty: &str,
        sev: Severity,
        reason: &str,
        message: Option<&str>,
    ) -> &mut UnifiedEvent {
        let key = obj.key();
        let id = stable_id(&[&key, ty, reason, &time.to_string()]);
        let mut e = UnifiedEvent::new(id, time, source::K8S_OBJECT, ty, sev, obj);
        e.reason = Some(reason.to_string());
        e.message = message.map(str::to_string);
        e.cluster = self.cluster.clone();
        self.derived.push(e);
        self.derived.last_mut().expect("just pushed")
    }

    fn pod(&mut self, v: &Value, ns: &str, name: &str) -> ObjResult {
        let created = created(v)?;
        let deleted = ts(v, "metadata.deletionTimestamp")?;
        self.owner_relations(v, "Pod", ns, name)?;
        let uid = str_at(v, "metadata.uid").unwrap_or("").to_string();
        let node = str_at(v, "spec.nodeName").map(str::to_string);
        let mut info = PodInfo {
            namespace: ns.into(),
            name: name.into(),
            uid: uid.clone(),
            node: node.clone(),
            labels: map_at(v, "metadata.labels"),
            ..Default::default()
        };
        if let Some(o) = arr_at(v, "metadata.ownerReferences")
            .iter()
            .find(|o| {
                o.get("controller")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            })
            .or(arr_at(v, "metadata.ownerReferences").first())
        {
            info.owner = Some((
                str_at(o, "kind").unwrap_or_default().into(),
                str_at(o, "name").unwrap_or_default().into(),
            ));
        }
        for ip in arr_at(v, "status.podIPs") {
            if let Some(s) = str_at(ip, "ip") {
                info.ips.push(s.into());
            }
        }
        if info.ips.is_empty()
            && let Some(ip) = str_at(v, "status.podIP")
        {
            info.ips.push(ip.into());
        }
        let uid_opt = (!uid.is_empty()).then_some(uid.as_str());
        let valid = (created, deleted);
        if let Some(n) = &node {
            self.rel(
                relation::RUNS_ON,
                ("Pod", ns, name),
                ("Node", "", n),
                uid_opt,
                None,
                valid,
            );
        }
        // Volumes: ConfigMaps, Secrets (names only), PVCs, projected sources.
        for vol in arr_at(v, "spec.volumes") {
            let vname = str_at(vol, "name").map(str::to_string);
            if let Some(cm) = str_at(vol, "configMap.name") {
                self.rel(
                    relation::USES_CONFIGMAP,
                    ("Pod", ns, name),
                    ("ConfigMap", ns, cm),
                    uid_opt,
                    vname.clone(),
                    valid,
                );
            }
            if let Some(s) = str_at(vol, "secret.secretName") {
                self.rel(
                    relation::USES_SECRET,
                    ("Pod", ns, name),
                    ("Secret", ns, s),
                    uid_opt,
                    vname.clone(),
                    valid,
                );
            }
            if let Some(c) = str_at(vol, "persistentVolumeClaim.claimName") {
                self.rel(
                    relation::CLAIMS,
                    ("Pod", ns, name),
                    ("PersistentVolumeClaim", ns, c),
                    uid_opt,
                    vname.clone(),
                    valid,
                );
            }
            for src in arr_at(vol, "projected.sources") {
                if let Some(cm) = str_at(src, "configMap.name") {
                    self.rel(
                        relation::USES_CONFIGMAP,
                        ("Pod", ns, name),
                        ("ConfigMap", ns, cm),
                        uid_opt,
                        vname.clone(),
                        valid,
                    );
                }
                if let Some(s) = str_at(src, "secret.name") {
                    self.rel(
                        relation::USES_SECRET,
                        ("Pod", ns, name),
                        ("Secret", ns, s),
                        uid_opt,
                        vname.clone(),
                        valid,
                    );
                }
            }
        }
        let mut env_values = Vec::new();
        for list in ["spec.containers", "spec.initContainers"] {
            for c in arr_at(v, list) {
                let cname = str_at(c, "name").unwrap_or_default();
                if let Some(mem) = str_at(c, "resources.limits.memory") {
                    info.memory_limits.insert(cname.into(), mem.into());
                }
                for ef in arr_at(c, "envFrom") {
                    if let Some(cm) = str_at(ef, "configMapRef.name") {
                        self.rel(
                            relation::USES_CONFIGMAP,
                            ("Pod", ns, name),
                            ("ConfigMap", ns, cm),
                            uid_opt,
                            Some(format!("envFrom:{cname}")),
                            valid,
                        );
                    }
                    if let Some(s) = str_at(ef, "secretRef.name") {
                        self.rel(
                            relation::USES_SECRET,
                            ("Pod", ns, name),
                            ("Secret", ns, s),
                            uid_opt,
                            Some(format!("envFrom:{cname}")),
                            valid,
                        );
                    }
                }
                for env in arr_at(c, "env") {
                    let var = str_at(env, "name").unwrap_or_default();
                    if let Some(cm) = str_at(env, "valueFrom.configMapKeyRef.name") {
                        self.rel(
                            relation::USES_CONFIGMAP,
                            ("Pod", ns, name),
                            ("ConfigMap", ns, cm),
                            uid_opt,
                            Some(format!("env:{var}")),
                            valid,
                        );
                    }
                    if let Some(s) = str_at(env, "valueFrom.secretKeyRef.name") {
                        self.rel(
                            relation::USES_SECRET,
                            ("Pod", ns, name),
                            ("Secret", ns, s),
                            uid_opt,
                            Some(format!("env:{var}")),
                            valid,
                        );
                    }
                    if let Some(val) = str_at(env, "value") {
                        env_values.push(val.to_string());
                    }
                }
            }
        }
        self.pod_env
            .push((ns.into(), name.into(), created, env_values));

        // State → events.
        let pod_obj = || ObjectRef {
            kind: "Pod".into(),
            namespace: ns.into(),
            name: name.into(),
            uid: uid_opt.map(str::to_string),
        };
        let with_pod = |e: &mut UnifiedEvent| {
            e.pod = Some(name.to_string());
            e.pod_uid = uid_opt.map(str::to_string);
            e.node = node.clone();
        };
        with_pod(self.derive(
            pod_obj(),
            created,
            "k8s.pod.created",
            Severity::Info,
            "Created",
            Some("Pod created"),
        ));
        for cond in arr_at(v, "status.conditions") {
            if str_at(cond, "type") == Some("PodScheduled")
                && str_at(cond, "status") == Some("False")
            {
                let t = ts(cond, "lastTransitionTime")?.unwrap_or(created);
                let reason = str_at(cond, "reason").unwrap_or("Unschedulable");
                let msg = str_at(cond, "message");
                with_pod(self.derive(
                    pod_obj(),
                    t,
                    "k8s.pod.unschedulable",
                    Severity::Warning,
                    reason,
                    msg,
                ));
            }
        }
        let ready_time = arr_at(v, "status.conditions")
            .iter()
            .find(|c| str_at(c, "type") == Some("Ready"))
            .and_then(|c| time_at(c, "lastTransitionTime").ok().flatten());
        if str_at(v, "status.reason") == Some("Evicted") {
            let t = ready_time.unwrap_or(created);
            let msg = str_at(v, "status.message");
            with_pod(self.derive(
                pod_obj(),
                t,
                "k8s.pod.evicted",
                Severity::Error,
                "Evicted",
                msg,
            ));
        }
        for (list, init) in [
            ("status.containerStatuses", false),
            ("status.initContainerStatuses", true),
        ] {
            for cs in arr_at(v, list) {
                let cname = str_at(cs, "name").unwrap_or_default().to_string();
                let cid = str_at(cs, "containerID").map(strip_runtime);
                if let Some(id) = &cid {
                    info.containers.insert(id.clone(), cname.clone());
                }
                let restarts = int_at(cs, "restartCount").unwrap_or(0);
                for state in ["lastState.terminated", "state.terminated"] {
                    let Some(term) = at(cs, state).filter(|t| t.is_object()) else {
                        continue;
                    };
                    let exit = int_at(term, "exitCode").unwrap_or(0) as i32;
                    let reason = str_at(term, "reason").unwrap_or("Error");
                    if exit == 0 && reason == "Completed" {
                        continue;
                    }
                    let path = format!("{list}[{cname}].{state}.finishedAt");
                    let t = time_at(term, "finishedAt")
                        .map_err(|m| field_err(&path, m))?
                        .unwrap_or(created);
                    let ty = if reason == "OOMKilled" {
                        "k8s.pod.oom_killed"
                    } else {
                        "k8s.container.terminated"
                    };
                    let msg = str_at(term, "message")
                        .map(str::to_string)
                        .unwrap_or_else(|| {
                            format!("container {cname} terminated: {reason}, exit code {exit}")
                        });
                    let term_cid = str_at(term, "containerID")
                        .map(strip_runtime)
                        .or(cid.clone());
                    let signal = int_at(term, "signal").map(|s| s as i32);
                    let e = self.derive(pod_obj(), t, ty, Severity::Error, reason, Some(&msg));
                    with_pod(e);
                    e.container = Some(cname.clone());
                    e.container_id = term_cid;
                    e.exit_code = Some(exit);
                    e.signal = signal.or((exit > 128).then_some(exit - 128));
                    e.attributes
                        .insert("restart_count".into(), restarts.to_string());
                    if init {
                        e.attributes.insert("init_container".into(), "true".into());
                    }
                }
                if let Some(w) = at(cs, "state.waiting").filter(|w| w.is_object()) {
                    let reason = str_at(w, "reason").unwrap_or("");
                    if matches!(reason, "" | "ContainerCreating" | "PodInitializing") {
                        continue;
                    }
                    let last_finished = time_at(cs, "lastState.terminated.finishedAt")
                        .ok()
                        .flatten();
                    let t = last_finished
                        .into_iter()
                        .chain(ready_time)
                        .max()
                        .unwrap_or(created);
                    let msg = str_at(w, "message").map(str::to_string);
                    let e = self.derive(
                        pod_obj(),
                        t,
                        "k8s.container.waiting",
                        Severity::Warning,
                        reason,
                        msg.as_deref(),
                    );
                    with_pod(e);
                    e.container = Some(cname.clone());
                    e.container_id = cid.clone();
                    e.attributes
                        .insert("restart_count".into(), restarts.to_string());
                    if init {
                        e.attributes.insert("init_container".into(), "true".into());
                    }
                }
            }
        }
        self.map.add_pod(info);
        Ok(())
    }

    fn node(&mut self, v: &Value, name: &str) -> ObjResult {
        let created = created(v)?;
        self.map.add_node(name, map_at(v, "metadata.labels"));
        let obj = || ObjectRef {
            kind: "Node".into(),
            namespace: String::new(),
            name: name.into(),
            uid: str_at(v, "metadata.uid").map(str::to_string),
        };
        for cond in arr_at(v, "status.conditions") {
            let ty = str_at(cond, "type").unwrap_or_default();
            let status = str_at(cond, "status").unwrap_or_default();
            let t = ts(cond, "lastTransitionTime")?.unwrap_or(created);
            let msg = str_at(cond, "message");
            let (event_type, sev, reason) = match (ty, status) {
                ("Ready", "False" | "Unknown") => (
                    "k8s.node.not_ready",
                    Severity::Critical,
                    str_at(cond, "reason").unwrap_or("NodeNotReady"),
                ),
                ("MemoryPressure" | "DiskPressure" | "PIDPressure", "True") => {
                    ("k8s.node.pressure", Severity::Warning, ty)
                }
                ("NetworkUnavailable", "True") => (
                    "k8s.node.network_unavailable",
                    Severity::Error,
                    str_at(cond, "reason").unwrap_or("NetworkUnavailable"),
                ),
                _ => continue,
            };
            let e = self.derive(obj(), t, event_type, sev, reason, msg);
            e.node = Some(name.to_string());
            e.attributes
                .insert("condition".into(), format!("{ty}={status}"));
        }
        Ok(())
    }

    fn workload(&mut self, kind: &str, v: &Value, ns: &str, name: &str) -> ObjResult {
        self.owner_relations(v, kind, ns, name)?;
        let created = created(v)?;
        let obj = || ObjectRef {
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
            uid: str_at(v, "metadata.uid").map(str::to_string),
        };
        for cond in arr_at(v, "status.conditions") {
            let ty = str_at(cond, "type").unwrap_or_default();
            let status = str_at(cond, "status").unwrap_or_default();
            let reason = str_at(cond, "reason").unwrap_or_default();
            let t = ts(cond, "lastTransitionTime")?
                .or(ts(cond, "lastUpdateTime")?)
                .unwrap_or(created);
            let msg = str_at(cond, "message");
            let (event_type, sev) = match (kind, ty, status) {
                (_, "Progressing", "False") => ("k8s.deployment.rollout_stuck", Severity::Error),
                (_, "ReplicaFailure", "True") => ("k8s.workload.replica_failure", Severity::Error),
                ("Job", "Failed", "True") => ("k8s.job.failed", Severity::Error),
                _ => continue,
            };
            let reason = if reason.is_empty() { ty } else { reason };
            self.derive(obj(), t, event_type, sev, reason, msg);
        }
        Ok(())
    }

    fn pvc(&mut self, v: &Value, ns: &str, name: &str) -> ObjResult {
        let created = created(v)?;
        let valid = (created, ts(v, "metadata.deletionTimestamp")?);
        let uid = str_at(v, "metadata.uid");
        if let Some(pv) = str_at(v, "spec.volumeName") {
            self.rel(
                relation::BOUND_TO,
                ("PersistentVolumeClaim", ns, name),
                ("PersistentVolume", "", pv),
                uid,
                None,
                valid,
            );
        }
        if let Some(sc) = str_at(v, "spec.storageClassName") {
            self.rel(
                relation::STORAGE_CLASS,
                ("PersistentVolumeClaim", ns, name),
                ("StorageClass", "", sc),
                uid,
                None,
                valid,
            );
        }
        let phase = str_at(v, "status.phase").unwrap_or_default();
        if matches!(phase, "Pending" | "Lost") {
            let ty = if phase == "Pending" {
                "k8s.pvc.pending"
            } else {
                "k8s.pvc.lost"
            };
            let obj = ObjectRef {
                kind: "PersistentVolumeClaim".into(),
                namespace: ns.into(),
                name: name.into(),
                uid: uid.map(str::to_string),
            };
            let msg = format!("PersistentVolumeClaim is {phase}");
            self.derive(obj, created, ty, Severity::Warning, phase, Some(&msg));
        }
        Ok(())
    }

    fn endpoint_slice(&mut self, v: &Value, ns: &str, name: &str) -> ObjResult {
        let created = created(v)?;
        // Label keys contain dots, so no dotted-path lookup here.
        let Some(svc) = at(v, "metadata.labels")
            .and_then(|l| l.get("kubernetes.io/service-name"))
            .and_then(Value::as_str)
        else {
            return Ok(());
        };
        let valid = (created, ts(v, "metadata.deletionTimestamp")?);
        self.rel(
            relation::SLICE_OF,
            ("EndpointSlice", ns, name),
            ("Service", ns, svc),
            None,
            None,
            valid,
        );
        let state = self.endpoints.entry((ns.into(), svc.into())).or_default();
        for ep in arr_at(v, "endpoints") {
            // A nil `ready` means ready (API contract).
            let ready = at(ep, "conditions.ready")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            if ready {
                state.ready += 1
            } else {
                state.not_ready += 1
            }
        }
        state.changed = state.changed.max(changed_at(v));
        for ep in arr_at(v, "endpoints") {
            let ready = at(ep, "conditions.ready")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            if str_at(ep, "targetRef.kind") == Some("Pod")
                && let Some(pod) = str_at(ep, "targetRef.name")
            {
                let detail = Some(if ready { "ready" } else { "not-ready" }.to_string());
                self.rel(
                    relation::ENDPOINT,
                    ("EndpointSlice", ns, name),
                    ("Pod", ns, pod),
                    None,
                    detail,
                    valid,
                );
            }
        }
        Ok(())
    }

    fn endpoints(&mut self, v: &Value, ns: &str, name: &str) -> ObjResult {
        let created = created(v)?;
        let valid = (created, None);
        self.rel(
            relation::SLICE_OF,
            ("Endpoints", ns, name),
            ("Service", ns, name),
            None,
            None,
            valid,
        );
        let mut found = Vec::new();
        for subset in arr_at(v, "subsets") {
            for (list, ready) in [("addresses", true), ("notReadyAddresses", false)] {
                for a in arr_at(subset, list) {
                    found.push((ready, str_at(a, "targetRef.name").map(str::to_string)));
                }
            }
        }
        // EndpointSlices, when the capture has them, are the source of truth.
        let state = self.endpoints.entry((ns.into(), name.into())).or_default();
        if state.ready + state.not_ready == 0 {
            for (ready, _) in &found {
                if *ready {
                    state.ready += 1
                } else {
                    state.not_ready += 1
                }
            }
        }
        state.changed = state.changed.max(changed_at(v));
        for (ready, pod) in found {
            if let Some(pod) = pod {
                let detail = Some(if ready { "ready" } else { "not-ready" }.to_string());
                self.rel(
                    relation::ENDPOINT,
                    ("Endpoints", ns, name),
                    ("Pod", ns, &pod),
                    None,
                    detail,
                    valid,
                );
            }
        }
        Ok(())
    }

    /// Resolves what needs every object: Service selectors, NetworkPolicy selectors,
    /// dependencies named in environment variables, Services left without endpoints.
    pub fn finish(&mut self) {
        let services = std::mem::take(&mut self.services);
        let pods: Vec<PodInfo> = self.map.pods().to_vec();
        let mut selected: Vec<(String, String, String)> = Vec::new();
        // Selectors only match within a namespace: index pods by it, so the cost is
        // services × pods-per-namespace, not services × pods.
        let mut by_ns: HashMap<&str, Vec<&PodInfo>> = HashMap::new();
        for p in &pods {
            by_ns.entry(p.namespace.as_str()).or_default().push(p);
        }
        let in_ns = |ns: &str| by_ns.get(ns).map(Vec::as_slice).unwrap_or(&[]);
        for s in &services {
            if s.selector.is_empty() {
                continue;
            }
            for p in in_ns(&s.namespace)
                .iter()
                .filter(|p| selects(&s.selector, &p.labels))
            {
                selected.push((p.namespace.clone(), p.name.clone(), s.name.clone()));
                self.rel(
                    relation::SELECTS,
                    ("Service", &s.namespace, &s.name),
                    ("Pod", &p.namespace, &p.name),
                    None,
                    None,
                    (s.created, None),
                );
            }
            if let Some(ep) = self
                .endpoints
                .get(&(s.namespace.clone(), s.name.clone()))
                .cloned()
                && ep.ready == 0
            {
                let matched = in_ns(&s.namespace)
                    .iter()
                    .filter(|p| selects(&s.selector, &p.labels))
                    .count();
                let msg = format!(
                    "Service has no ready endpoints ({} not ready; selector matches {matched} pods)",
                    ep.not_ready
                );
                let reason = if matched == 0 {
                    "SelectorMatchesNoPods"
                } else {
                    "NoReadyEndpoints"
                };
                let obj = ObjectRef::new("Service", &s.namespace, &s.name);
                let t = ep.changed.unwrap_or(s.created);
                let e = self.derive(
                    obj,
                    t,
                    "k8s.service.no_endpoints",
                    Severity::Error,
                    reason,
                    Some(&msg),
                );
                e.attributes
                    .insert("selector".into(), fmt_selector(&s.selector));
            }
        }
        // Dependencies: an env value naming a Service (`mysql`, `mysql.shop`,
        // `mysql.shop.svc`, `mysql.shop.svc.cluster.local`, optionally with a port or URL).
        let env = std::mem::take(&mut self.pod_env);
        // Services by name: a value can only name a Service whose name is its host's
        // first label.
        let mut by_name: HashMap<&str, Vec<&ServiceInfo>> = HashMap::new();
        for s in &services {
            by_name.entry(s.name.as_str()).or_default().push(s);
        }
        for (ns, pod, created, values) in &env {
            let mut seen = std::collections::BTreeSet::new();
            for val in values {
                let first_label = host_of(val).split('.').next().unwrap_or("");
                for s in by_name.get(first_label).into_iter().flatten() {
                    if names_service(val, &s.name, &s.namespace, s.namespace == *ns)
                        && seen.insert((s.namespace.clone(), s.name.clone()))
                    {
                        self.rel(
                            relation::DEPENDS_ON,
                            ("Pod", ns, pod),
                            ("Service", &s.namespace, &s.name),
                            None,
                            Some(val.clone()),
                            (*created, None),
                        );
                    }
                }
            }
        }
        for (ns, pod, svc) in selected {
            self.map.add_pod_service(&ns, &pod, &svc);
        }
        let policies = std::mem::take(&mut self.policies);
        for (ns, name, sel, created) in &policies {
            for p in in_ns(ns).iter().filter(|p| selects(sel, &p.labels)) {
                self.rel(
                    relation::POLICY_SELECTS,
                    ("NetworkPolicy", ns, name),
                    ("Pod", ns, &p.name),
                    None,
                    None,
                    (*created, None),
                );
            }
        }
        self.services = services;
    }
}

fn changed_at(v: &Value) -> Option<i64> {
    at(v, "metadata.annotations")
        .and_then(|a| a.get("endpoints.kubernetes.io/last-change-trigger-time"))
        .and_then(Value::as_str)
        .and_then(tapio_schemas::time::parse_rfc3339)
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn fmt_selector(sel: &BTreeMap<String, String>) -> String {
    sel.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// True when `value` names the Service as a host: the whole value, or a host part of a
/// URL or `host:port`. The bare name resolves only from the Service's own namespace.
fn names_service(value: &str, svc: &str, ns: &str, same_ns: bool) -> bool {
    let fq = [
        if same_ns {
            svc.to_string()
        } else {
            format!("{svc}.{ns}")
        },
        format!("{svc}.{ns}"),
        format!("{svc}.{ns}.svc"),
        format!("{svc}.{ns}.svc.cluster.local"),
    ];
    let host = host_of(value);
    fq.iter().any(|f| f == host)
}

/// The host part of a value: the whole value, or the host of a URL or `host:port`.
fn host_of(value: &str) -> &str {
    let host = value
        .split("://")
        .last()
        .unwrap_or(value)
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    host.split(':').next().unwrap_or(host)
}

/// `containerd://abc` → `abc`.
pub fn strip_runtime(id: &str) -> String {
    id.split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(id)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_in_env() {
        assert!(names_service("mysql", "mysql", "shop", true));
        assert!(!names_service("mysql", "mysql", "shop", false));
        assert!(names_service(
            "mysql.shop.svc.cluster.local:3306",
            "mysql",
            "shop",
            false
        ));
        assert!(names_service(
            "mysql://mysql.shop:3306/orders",
            "mysql",
            "shop",
            false
        ));
        assert!(names_service(
            "http://user:pw@api:8080/v1",
            "api",
            "shop",
            true
        ));
        assert!(!names_service("mysql-backup", "mysql", "shop", true));
        assert!(!names_service("true", "mysql", "shop", true));
    }
}
