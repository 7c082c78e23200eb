//! What changed between two versions of an object, as events: pod phase and readiness
//! transitions, container restarts with their last termination, node condition changes,
//! rollout progress and replica shortfalls, PVC phase changes. The watch gives Tapio
//! every version; the API's own Events do not report most of these.

use serde_json::Value;
use tapio_schemas::ids::stable_id;
use tapio_schemas::{ObjectRef, Severity, UnifiedEvent, source};

use crate::k8s::value::{arr_at, int_at, str_at, time_at};

struct Out<'a> {
    kind: &'a str,
    ns: &'a str,
    name: &'a str,
    cluster: &'a str,
    now: i64,
    events: Vec<UnifiedEvent>,
}

impl Out<'_> {
    fn push(
        &mut self,
        time: Option<i64>,
        ty: &str,
        sev: Severity,
        reason: &str,
        message: String,
    ) -> &mut UnifiedEvent {
        let time = time.unwrap_or(self.now);
        let obj = ObjectRef::new(self.kind, self.ns, self.name);
        let id = stable_id(&[&obj.key(), ty, reason, &time.to_string(), &message]);
        let mut e = UnifiedEvent::new(id, time, source::K8S_OBJECT, ty, sev, obj);
        e.cluster = self.cluster.to_string();
        e.reason = Some(reason.to_string());
        e.message = Some(message);
        self.events.push(e);
        self.events.last_mut().expect("just pushed")
    }
}

fn condition<'a>(v: &'a Value, ty: &str) -> Option<&'a Value> {
    arr_at(v, "status.conditions")
        .iter()
        .find(|c| str_at(c, "type") == Some(ty))
}

fn cond_time(c: &Value) -> Option<i64> {
    time_at(c, "lastTransitionTime").ok().flatten()
}

/// Events for the change from `old` (None: first sight) to `new`. First sight of an
/// object reports nothing: its state is not a change (the object-state events of replay
/// cover standing conditions).
pub fn transitions(
    kind: &str,
    old: Option<&Value>,
    new: &Value,
    cluster: &str,
    now: i64,
) -> Vec<UnifiedEvent> {
    let Some(old) = old else {
        return Vec::new();
    };
    let name = str_at(new, "metadata.name").unwrap_or("");
    let ns = str_at(new, "metadata.namespace").unwrap_or("");
    let mut out = Out {
        kind,
        ns,
        name,
        cluster,
        now,
        events: Vec::new(),
    };
    match kind {
        "Pod" => pod(&mut out, old, new),
        "Node" => node(&mut out, old, new),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => workload(&mut out, old, new),
        "PersistentVolumeClaim" => {
            let (a, b) = (str_at(old, "status.phase"), str_at(new, "status.phase"));
            if a != b
                && let Some(b) = b
            {
                let sev = if b == "Lost" {
                    Severity::Error
                } else {
                    Severity::Info
                };
                out.push(
                    None,
                    "k8s.pvc.phase_changed",
                    sev,
                    b,
                    format!("PVC {} → {b}", a.unwrap_or("?")),
                );
            }
        }
        _ => {}
    }
    out.events
}

fn pod(out: &mut Out<'_>, old: &Value, new: &Value) {
    let (a, b) = (str_at(old, "status.phase"), str_at(new, "status.phase"));
    if a != b
        && let Some(b) = b
    {
        let sev = if b == "Failed" {
            Severity::Warning
        } else {
            Severity::Info
        };
        let reason = str_at(new, "status.reason").unwrap_or(b);
        let mut msg = format!("pod phase {} → {b}", a.unwrap_or("?"));
        if let Some(m) = str_at(new, "status.message") {
            msg.push_str(": ");
            msg.push_str(m);
        }
        out.push(None, "k8s.pod.phase_changed", sev, reason, msg);
    }
    let ready = |v: &Value| {
        condition(v, "Ready")
            .and_then(|c| str_at(c, "status"))
            .map(str::to_string)
    };
    let (ra, rb) = (ready(old), ready(new));
    if ra != rb
        && let Some(rb) = rb
    {
        let c = condition(new, "Ready");
        let (ty, reason, sev) = if rb == "True" {
            ("k8s.pod.ready", "PodReady", Severity::Info)
        } else {
            (
                "k8s.pod.not_ready",
                c.and_then(|c| str_at(c, "reason")).unwrap_or("PodNotReady"),
                // Readiness lost while running: endpoints drop this pod. Routine during
                // rollouts, so a signal only with other evidence.
                Severity::Info,
            )
        };
        let msg = c
            .and_then(|c| str_at(c, "message"))
            .map(str::to_string)
            .unwrap_or_else(|| format!("pod Ready {} → {rb}", ra.as_deref().unwrap_or("?")));
        out.push(c.and_then(cond_time), ty, sev, reason, msg);
    }
    for field in ["status.initContainerStatuses", "status.containerStatuses"] {
        for cs in arr_at(new, field) {
            let Some(cname) = str_at(cs, "name") else {
                continue;
            };
            let before = arr_at(old, field)
                .iter()
                .find(|c| str_at(c, "name") == Some(cname))
                .and_then(|c| int_at(c, "restartCount"))
                .unwrap_or(0);
            let now_count = int_at(cs, "restartCount").unwrap_or(0);
            if now_count <= before {
                continue;
            }
            let term = cs.get("lastState").and_then(|l| l.get("terminated"));
            let reason = term
                .and_then(|t| str_at(t, "reason"))
                .unwrap_or("Restarted");
            let code = term.and_then(|t| int_at(t, "exitCode"));
            let signal = term.and_then(|t| int_at(t, "signal"));
            let mut msg = format!("container {cname} restarted (restart {now_count})");
            if let Some(t) = term {
                msg.push_str(&format!(
                    ", last terminated: {reason}, exit code {}",
                    code.map_or("?".into(), |c| c.to_string())
                ));
                if let Some(m) = str_at(t, "message") {
                    msg.push_str(": ");
                    msg.push_str(m.lines().next().unwrap_or(""));
                }
            }
            let time = term.and_then(|t| time_at(t, "finishedAt").ok().flatten());
            let e = out.push(
                time,
                "k8s.container.restarted",
                Severity::Warning,
                reason,
                msg,
            );
            e.container = Some(cname.to_string());
            e.pod = Some(out_name(new));
            e.exit_code = code.map(|c| c as i32);
            e.signal = signal.map(|s| s as i32);
            e.count = now_count - before;
            if let Some(id) = str_at(cs, "containerID") {
                e.container_id = Some(crate::k8s::objects::strip_runtime(id));
            }
            if field.starts_with("status.init") {
                e.attributes.insert("init_container".into(), "true".into());
            }
        }
    }
}

fn out_name(v: &Value) -> String {
    str_at(v, "metadata.name").unwrap_or("").to_string()
}

fn node(out: &mut Out<'_>, old: &Value, new: &Value) {
    for c in arr_at(new, "status.conditions") {
        let (Some(ty), Some(status)) = (str_at(c, "type"), str_at(c, "status")) else {
            continue;
        };
        let before = condition(old, ty).and_then(|c| str_at(c, "status"));
        if before == Some(status) {
            continue;
        }
        let bad = if ty == "Ready" {
            status != "True"
        } else {
            status == "True"
        };
        let sev = if bad {
            Severity::Warning
        } else {
            Severity::Info
        };
        let reason = str_at(c, "reason").unwrap_or(ty);
        let msg = format!(
            "node condition {ty} {} → {status}{}",
            before.unwrap_or("?"),
            str_at(c, "message")
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
        out.push(cond_time(c), "k8s.node.condition_changed", sev, reason, msg)
            .attributes
            .insert("condition".into(), ty.into());
    }
}

/// Desired and ready replicas of a workload.
fn replicas(kind: &str, v: &Value) -> (i64, i64) {
    if kind == "DaemonSet" {
        (
            int_at(v, "status.desiredNumberScheduled").unwrap_or(0),
            int_at(v, "status.numberReady").unwrap_or(0),
        )
    } else {
        (
            int_at(v, "spec.replicas").unwrap_or(1),
            int_at(v, "status.readyReplicas").unwrap_or(0),
        )
    }
}

fn workload(out: &mut Out<'_>, old: &Value, new: &Value) {
    let reason = |v: &Value| {
        condition(v, "Progressing")
            .and_then(|c| str_at(c, "reason"))
            .map(str::to_string)
    };
    let (pa, pb) = (reason(old), reason(new));
    if pa != pb
        && let Some(pb) = pb
    {
        let c = condition(new, "Progressing");
        let sev = if pb == "ProgressDeadlineExceeded" {
            Severity::Warning
        } else {
            Severity::Info
        };
        let msg = c
            .and_then(|c| str_at(c, "message"))
            .unwrap_or("rollout progressing")
            .to_string();
        out.push(
            c.and_then(cond_time),
            "k8s.workload.rollout_progress",
            sev,
            &pb,
            msg,
        );
    }
    let (da, ra) = replicas(out.kind, old);
    let (db, rb) = replicas(out.kind, new);
    let short_before = ra < da;
    let short_now = rb < db;
    if short_now && (!short_before || rb < ra) {
        out.push(
            None,
            "k8s.workload.replicas_unavailable",
            Severity::Warning,
            "ReplicasUnavailable",
            format!("{rb} of {db} replicas ready"),
        );
    } else if short_before && !short_now {
        out.push(
            None,
            "k8s.workload.replicas_ready",
            Severity::Info,
            "ReplicasReady",
            format!("{rb} of {db} replicas ready"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_795_000_000_000_000_000;

    fn pod(phase: &str, ready: &str, restarts: i64, last: Value) -> Value {
        json!({"metadata": {"name": "web-1", "namespace": "shop"},
               "status": {"phase": phase,
                          "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": "2026-11-20T10:00:00Z"}],
                          "containerStatuses": [{"name": "app", "restartCount": restarts,
                              "containerID": "containerd://abc", "lastState": last}]}})
    }

    #[test]
    fn first_sight_is_not_a_change() {
        assert!(
            transitions("Pod", None, &pod("Running", "True", 0, json!({})), "c", NOW).is_empty()
        );
    }

    #[test]
    fn restart_with_its_last_termination() {
        let old = pod("Running", "True", 2, json!({}));
        let new = pod(
            "Running",
            "True",
            3,
            json!({"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-11-20T10:01:00Z"}}),
        );
        let ev = transitions("Pod", Some(&old), &new, "c", NOW);
        assert_eq!(ev.len(), 1);
        let e = &ev[0];
        assert_eq!(e.event_type, "k8s.container.restarted");
        assert_eq!(e.reason.as_deref(), Some("OOMKilled"));
        assert_eq!(e.exit_code, Some(137));
        assert_eq!(e.container.as_deref(), Some("app"));
        assert_eq!(e.container_id.as_deref(), Some("abc"));
        let finished: jiff::Timestamp = "2026-11-20T10:01:00Z".parse().unwrap();
        assert_eq!(
            e.event_time,
            finished.as_nanosecond() as i64,
            "time of the termination"
        );
        assert!(e.message.as_deref().unwrap().contains("exit code 137"));
        // The same change seen again (a redelivered watch event) has the same id.
        assert_eq!(
            transitions("Pod", Some(&old), &new, "c", NOW)[0].event_id,
            e.event_id
        );
    }

    #[test]
    fn phase_and_readiness_transitions() {
        let old = pod("Running", "True", 0, json!({}));
        let new = pod("Failed", "False", 0, json!({}));
        let ev = transitions("Pod", Some(&old), &new, "c", NOW);
        let types: Vec<&str> = ev.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types, ["k8s.pod.phase_changed", "k8s.pod.not_ready"]);
        assert_eq!(ev[0].severity, Severity::Warning);
        let back = transitions("Pod", Some(&new), &old, "c", NOW);
        assert_eq!(back[1].event_type, "k8s.pod.ready");
    }

    #[test]
    fn node_conditions() {
        let n = |ready: &str, mem: &str| {
            json!({"metadata": {"name": "node-a"}, "status": {"conditions": [
                {"type": "Ready", "status": ready, "reason": if ready == "True" {"KubeletReady"} else {"NodeStatusUnknown"}},
                {"type": "MemoryPressure", "status": mem, "reason": "KubeletHasInsufficientMemory"}]}})
        };
        let ev = transitions(
            "Node",
            Some(&n("True", "False")),
            &n("Unknown", "True"),
            "c",
            NOW,
        );
        assert_eq!(ev.len(), 2);
        assert!(ev.iter().all(|e| e.severity == Severity::Warning));
        assert_eq!(ev[0].reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(ev[1].attributes["condition"], "MemoryPressure");
        assert!(
            transitions(
                "Node",
                Some(&n("True", "False")),
                &n("True", "False"),
                "c",
                NOW
            )
            .is_empty()
        );
    }

    #[test]
    fn rollout_and_replicas() {
        let d = |ready: i64, reason: &str| {
            json!({"metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 3},
                   "status": {"readyReplicas": ready, "conditions": [{"type": "Progressing", "status": "True", "reason": reason, "message": "ReplicaSet \"web-7d4f\" is progressing."}]}})
        };
        let ev = transitions(
            "Deployment",
            Some(&d(3, "NewReplicaSetAvailable")),
            &d(1, "ReplicaSetUpdated"),
            "c",
            NOW,
        );
        let types: Vec<&str> = ev.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "k8s.workload.rollout_progress",
                "k8s.workload.replicas_unavailable"
            ]
        );
        let ev = transitions(
            "Deployment",
            Some(&d(1, "ReplicaSetUpdated")),
            &d(3, "NewReplicaSetAvailable"),
            "c",
            NOW,
        );
        assert_eq!(ev[1].event_type, "k8s.workload.replicas_ready");
    }

    #[test]
    fn pvc_phase() {
        let p = |phase: &str| json!({"metadata": {"name": "data", "namespace": "shop"}, "status": {"phase": phase}});
        let ev = transitions(
            "PersistentVolumeClaim",
            Some(&p("Pending")),
            &p("Bound"),
            "c",
            NOW,
        );
        assert_eq!(ev[0].reason.as_deref(), Some("Bound"));
        assert_eq!(ev[0].severity, Severity::Info);
    }
}
