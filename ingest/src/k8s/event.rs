//! Kubernetes Event objects (core/v1 and events.k8s.io/v1) → UnifiedEvents.
//!
//! Both API shapes are read: core/v1 carries `involvedObject`, `message`,
//! `firstTimestamp`/`lastTimestamp`/`count`; events.k8s.io/v1 (and newer components
//! writing core/v1) carry `regarding`, `note`, `eventTime` and `series`, with the old
//! fields empty or under `deprecated*`.

use serde_json::Value;
use tapio_schemas::{ObjectRef, Severity, UnifiedEvent, source};

use super::value::{int_at, str_at, time_at};

/// Reads one Event object. `Err` names the field that made it unusable.
pub fn read_event(v: &Value) -> Result<UnifiedEvent, (String, String)> {
    let uid = str_at(v, "metadata.uid")
        .ok_or_else(|| ("metadata.uid".to_string(), "missing".to_string()))?;
    let regarding = v
        .get("involvedObject")
        .filter(|o| o.is_object())
        .or_else(|| v.get("regarding").filter(|o| o.is_object()))
        .ok_or_else(|| {
            (
                "involvedObject".to_string(),
                "missing (nor `regarding`)".to_string(),
            )
        })?;
    let kind = str_at(regarding, "kind")
        .ok_or_else(|| ("involvedObject.kind".to_string(), "missing".to_string()))?;
    let name = str_at(regarding, "name")
        .ok_or_else(|| ("involvedObject.name".to_string(), "missing".to_string()))?;
    let namespace = str_at(regarding, "namespace")
        .or_else(|| str_at(v, "metadata.namespace"))
        .unwrap_or("");
    // Cluster-scoped objects (Nodes) must not pick up the Event's own namespace.
    let namespace = if matches!(
        kind,
        "Node" | "PersistentVolume" | "StorageClass" | "Namespace"
    ) {
        ""
    } else {
        namespace
    };

    let t = |path: &str| time_at(v, path).map_err(|m| (path.to_string(), m));
    let last = t("lastTimestamp")?
        .or(t("series.lastObservedTime")?)
        .or(t("deprecatedLastTimestamp")?);
    let first = t("firstTimestamp")?
        .or(t("eventTime")?)
        .or(t("deprecatedFirstTimestamp")?);
    let created = t("metadata.creationTimestamp")?;
    // An Event stands for a series of occurrences: its time is the first one (so causes
    // precede effects), the last is kept as an attribute.
    let event_time = first.or(last).or(created).ok_or_else(|| {
        (
            "lastTimestamp".to_string(),
            "no time: lastTimestamp, eventTime, series.lastObservedTime, firstTimestamp and metadata.creationTimestamp are all empty".to_string(),
        )
    })?;
    let count = int_at(v, "count")
        .or_else(|| int_at(v, "series.count"))
        .or_else(|| int_at(v, "deprecatedCount"))
        .filter(|c| *c > 0)
        .unwrap_or(1);

    let reason = str_at(v, "reason").map(str::to_string);
    let message = str_at(v, "message")
        .or_else(|| str_at(v, "note"))
        .map(|m| m.trim().to_string());
    let warning = str_at(v, "type") == Some("Warning");
    let severity = severity_of(kind, reason.as_deref(), message.as_deref(), warning);

    let mut obj = ObjectRef::new(kind, namespace, name);
    obj.uid = str_at(regarding, "uid").map(str::to_string);
    let mut e = UnifiedEvent::new(
        uid.to_string(),
        event_time,
        source::K8S_EVENT,
        "k8s.event",
        severity,
        obj,
    );
    e.observed_time = created.unwrap_or(event_time).max(event_time);
    e.reason = reason;
    e.message = message;
    e.count = count;
    if let Some(fp) = str_at(regarding, "fieldPath") {
        e.container = container_of_field_path(fp);
        if fp.starts_with("spec.initContainers") {
            e.attributes.insert("init_container".into(), "true".into());
        }
    }
    if kind == "Pod" {
        e.pod = Some(name.to_string());
        e.pod_uid = e.object.uid.clone();
    }
    if kind == "Node" {
        e.node = Some(name.to_string());
    } else if let Some(host) =
        str_at(v, "source.host").or_else(|| str_at(v, "deprecatedSource.host"))
    {
        e.node = Some(host.to_string());
    }
    let reporter = str_at(v, "source.component")
        .or_else(|| str_at(v, "reportingComponent"))
        .or_else(|| str_at(v, "reportingController"))
        .or_else(|| str_at(v, "deprecatedSource.component"));
    if let Some(r) = reporter {
        e.attributes.insert("reporter".into(), r.to_string());
    }
    if let Some(l) = last.filter(|l| *l > event_time) {
        e.attributes
            .insert("last_timestamp".into(), tapio_schemas::time::format_ns(l));
    }
    if let Some(c) = str_at(v, "metadata.annotations.tapio/cluster") {
        e.cluster = c.to_string();
    }
    Ok(e)
}

/// `spec.containers{app}` → `app`.
fn container_of_field_path(fp: &str) -> Option<String> {
    let start = fp.find('{')? + 1;
    let end = fp[start..].find('}')? + start;
    Some(fp[start..end].to_string())
}

/// Severity of an Event: the API only says Normal or Warning; reasons that mean a kill,
/// a lost node or a failed volume are raised.
fn severity_of(kind: &str, reason: Option<&str>, message: Option<&str>, warning: bool) -> Severity {
    match reason.unwrap_or("") {
        "NodeNotReady" | "SystemOOM" | "NodeHasInsufficientMemory" if kind == "Node" => {
            Severity::Critical
        }
        "OOMKilling"
        | "Evicted"
        | "FailedMount"
        | "FailedAttachVolume"
        | "FailedCreatePodSandBox"
        | "BackoffLimitExceeded"
        | "DeadlineExceeded"
        | "ProvisioningFailed"
        | "FailedCreate"
        | "TaintManagerEviction" => Severity::Error,
        "NodeNotReady"
        | "EvictionThresholdMet"
        | "NodeHasDiskPressure"
        | "NodeHasMemoryPressure" => Severity::Warning,
        // kubelet types a restart for a failed probe Normal; it is a kill.
        "Killing"
            if message.is_some_and(|m| {
                m.contains("failed liveness probe") || m.contains("failed startup probe")
            }) =>
        {
            Severity::Warning
        }
        _ if warning => Severity::Warning,
        _ => Severity::Info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn core_v1_event() {
        let v = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web-1.17a", "namespace": "shop", "uid": "u1",
                         "creationTimestamp": "2024-05-01T10:00:00Z"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-1", "uid": "p1",
                               "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "message": "Back-off restarting failed container app in pod web-1_shop(p1)",
            "source": {"component": "kubelet", "host": "node-a"},
            "firstTimestamp": "2024-05-01T10:00:00Z", "lastTimestamp": "2024-05-01T10:05:00Z",
            "count": 7, "type": "Warning"
        });
        let e = read_event(&v).unwrap();
        assert_eq!(e.event_id, "u1");
        assert_eq!(e.container.as_deref(), Some("app"));
        assert_eq!(e.node.as_deref(), Some("node-a"));
        assert_eq!(e.count, 7);
        assert_eq!(e.severity, Severity::Warning);
        // An Event's time is its first occurrence; the last is kept.
        assert_eq!(
            e.event_time,
            tapio_schemas::time::parse_rfc3339("2024-05-01T10:00:00Z").unwrap()
        );
        assert_eq!(e.attributes["last_timestamp"], "2024-05-01T10:05:00Z");
    }

    #[test]
    fn events_k8s_io_v1_with_series() {
        let v = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "x", "namespace": "shop", "uid": "u2"},
            "regarding": {"kind": "Pod", "namespace": "shop", "name": "db-0"},
            "reason": "Unhealthy", "note": "Readiness probe failed: connection refused",
            "reportingController": "kubelet", "reportingInstance": "node-b",
            "eventTime": "2024-05-01T10:00:00.123456Z",
            "series": {"count": 4, "lastObservedTime": "2024-05-01T10:02:00.000000Z"},
            "type": "Warning"
        });
        let e = read_event(&v).unwrap();
        assert_eq!(e.count, 4);
        assert_eq!(
            e.message.as_deref(),
            Some("Readiness probe failed: connection refused")
        );
        assert_eq!(
            e.event_time,
            tapio_schemas::time::parse_rfc3339("2024-05-01T10:00:00.123456Z").unwrap()
        );
        assert_eq!(e.attributes["last_timestamp"], "2024-05-01T10:02:00Z");
    }

    #[test]
    fn bad_time_names_the_field() {
        let v = json!({"metadata": {"uid": "u"}, "involvedObject": {"kind": "Pod", "name": "p"},
                       "lastTimestamp": "yesterday"});
        let (field, msg) = read_event(&v).unwrap_err();
        assert_eq!(field, "lastTimestamp");
        assert!(msg.contains("yesterday"));
    }
}
