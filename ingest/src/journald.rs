//! `journalctl -o json` entries → UnifiedEvents: systemd's reports on units (kubelet,
//! containerd, crio, docker failing, restarting, starting), kubelet and containerd
//! error lines, and kernel messages (`_TRANSPORT=kernel`), which go to the kernel parser.
//!
//! Routine lines (info-level kubelet chatter, other units' output) are counted as
//! unmatched, not turned into events.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;
use tapio_schemas::ids::stable_id;
use tapio_schemas::{ObjectRef, Severity, UnifiedEvent, source};

use crate::kernel::{KernelLine, KernelParser};

/// What one journald entry became.
pub enum Entry {
    /// An event.
    Event(Box<UnifiedEvent>),
    /// A routine line.
    Unmatched,
}

static UNIT_EXIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\S+\.service): Main process exited, code=(\w+), status=(\d+)/(\w+)")
        .expect("static regex")
});
static UNIT_FAILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\S+\.service): Failed with result '([^']+)'").expect("static regex")
});
static UNIT_START_FAILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^Failed to start (\S+?)(?:\.service)?(?: - .*|\.)?$").expect("static regex")
});
static UNIT_RESTART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\S+\.service): Scheduled restart job, restart counter is at (\d+)")
        .expect("static regex")
});
static KLOG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([EWF])\d{4} [\d:.]+\s+\d+ [^\]]+\] (.*)$").expect("static regex")
});
static KV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(pod|podUID|containerName|containerID|err)="((?:[^"\\]|\\.)*)""#)
        .expect("static regex")
});
static LOGRUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"level=(error|fatal|warning) msg="((?:[^"\\]|\\.)*)""#).expect("static regex")
});

fn field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// MESSAGE is a string, or an array of bytes when it is not valid UTF-8.
fn message(v: &Value) -> Option<String> {
    match v.get("MESSAGE")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(bytes) => {
            let b: Vec<u8> = bytes
                .iter()
                .filter_map(|x| x.as_u64().map(|n| n as u8))
                .collect();
            Some(String::from_utf8_lossy(&b).into_owned())
        }
        _ => None,
    }
}

/// True when a JSON object looks like a journald entry.
pub fn is_journald(v: &Value) -> bool {
    v.get("__REALTIME_TIMESTAMP").is_some() && v.get("MESSAGE").is_some()
}

/// Reads one entry. `Err` names the field that made it unusable.
pub fn read_entry(v: &Value, kernel: &mut KernelParser) -> Result<Entry, (String, String)> {
    let ts = field(v, "__REALTIME_TIMESTAMP")
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| {
            (
                "__REALTIME_TIMESTAMP".to_string(),
                "not microseconds since the epoch".to_string(),
            )
        })?;
    let time = ts.checked_mul(1000).ok_or_else(|| {
        (
            "__REALTIME_TIMESTAMP".to_string(),
            "out of range".to_string(),
        )
    })?;
    let msg =
        message(v).ok_or_else(|| ("MESSAGE".to_string(), "neither text nor bytes".to_string()))?;
    let host = field(v, "_HOSTNAME");
    if field(v, "_TRANSPORT") == Some("kernel") {
        let line = KernelLine {
            time,
            host,
            text: &msg,
        };
        return Ok(match kernel.parse(&line, host) {
            Some(e) => Entry::Event(Box::new(e)),
            None => Entry::Unmatched,
        });
    }
    let ident = field(v, "SYSLOG_IDENTIFIER").unwrap_or("");
    let unit = field(v, "UNIT").or(field(v, "_SYSTEMD_UNIT")).unwrap_or("");
    let node = || ObjectRef::new("Node", "", host.unwrap_or(""));
    let new = |ty: &str, sev: Severity, reason: &str, unit: &str| {
        let mut e = UnifiedEvent::new(
            stable_id(&["journald", host.unwrap_or(""), &time.to_string(), &msg]),
            time,
            source::JOURNALD,
            ty,
            sev,
            node(),
        );
        e.node = host.map(str::to_string);
        e.reason = Some(reason.to_string());
        e.message = Some(msg.clone());
        if !unit.is_empty() {
            e.attributes.insert("unit".into(), unit.to_string());
        }
        e.pid = field(v, "_PID").and_then(|p| p.parse().ok());
        e.comm = field(v, "_COMM").map(str::to_string);
        e
    };
    if ident == "systemd" || field(v, "_PID") == Some("1") {
        if let Some(c) = UNIT_EXIT.captures(&msg) {
            let mut e = new("systemd.unit.exited", Severity::Error, "UnitExited", &c[1]);
            if &c[2] == "exited" {
                e.exit_code = c[3].parse().ok();
            } else {
                e.signal = c[3].parse().ok();
            }
            return Ok(Entry::Event(Box::new(e)));
        }
        if let Some(c) = UNIT_FAILED.captures(&msg) {
            return Ok(Entry::Event(Box::new(new(
                "systemd.unit.failed",
                Severity::Error,
                "UnitFailed",
                &c[1],
            ))));
        }
        if let Some(c) = UNIT_RESTART.captures(&msg) {
            let mut e = new(
                "systemd.unit.restarting",
                Severity::Warning,
                "UnitRestarting",
                &c[1],
            );
            e.attributes
                .insert("restart_counter".into(), c[2].to_string());
            return Ok(Entry::Event(Box::new(e)));
        }
        if let Some(c) = UNIT_START_FAILED.captures(&msg) {
            let u = if unit.is_empty() {
                format!("{}.service", &c[1])
            } else {
                unit.to_string()
            };
            return Ok(Entry::Event(Box::new(new(
                "systemd.unit.failed",
                Severity::Error,
                "UnitStartFailed",
                &u,
            ))));
        }
        return Ok(Entry::Unmatched);
    }
    let is_kubelet = ident == "kubelet" || unit == "kubelet.service";
    let is_runtime = matches!(ident, "containerd" | "crio" | "dockerd")
        || matches!(
            unit,
            "containerd.service" | "crio.service" | "docker.service"
        );
    if is_kubelet && let Some(c) = KLOG.captures(&msg) {
        if &c[1] == "W" {
            return Ok(Entry::Unmatched);
        }
        let mut e = new("kubelet.error", Severity::Error, "KubeletError", unit);
        for kv in KV.captures_iter(&c[2]) {
            let val = kv[2].replace("\\\"", "\"");
            match &kv[1] {
                "pod" => {
                    if let Some((ns, name)) = val.split_once('/') {
                        e.object = ObjectRef::new("Pod", ns, name);
                        e.pod = Some(name.to_string());
                    }
                }
                "podUID" => e.pod_uid = Some(val),
                "containerName" => e.container = Some(val),
                "containerID" => e.container_id = Some(crate::k8s::objects::strip_runtime(&val)),
                _ => {}
            }
        }
        return Ok(Entry::Event(Box::new(e)));
    }
    if is_runtime && let Some(c) = LOGRUS.captures(&msg) {
        if &c[1] == "warning" {
            return Ok(Entry::Unmatched);
        }
        let mut e = new("cri.error", Severity::Error, "RuntimeError", unit);
        e.source = source::CRI.to_string();
        e.message = Some(c[2].replace("\\\"", "\""));
        return Ok(Entry::Event(Box::new(e)));
    }
    Ok(Entry::Unmatched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Option<UnifiedEvent> {
        match read_entry(&v, &mut KernelParser::default()).unwrap() {
            Entry::Event(e) => Some(*e),
            Entry::Unmatched => None,
        }
    }

    #[test]
    fn kubelet_unit_failure() {
        let e = read(
            json!({"__REALTIME_TIMESTAMP": "1732250000000000", "_HOSTNAME": "node-a",
            "SYSLOG_IDENTIFIER": "systemd", "_PID": "1", "UNIT": "kubelet.service",
            "MESSAGE": "kubelet.service: Main process exited, code=exited, status=1/FAILURE"}),
        )
        .unwrap();
        assert_eq!(e.event_type, "systemd.unit.exited");
        assert_eq!(e.exit_code, Some(1));
        assert_eq!(e.attributes["unit"], "kubelet.service");
        assert_eq!(e.node.as_deref(), Some("node-a"));
    }

    #[test]
    fn kubelet_klog_error_names_pod() {
        let e = read(json!({"__REALTIME_TIMESTAMP": "1732250000000000", "_HOSTNAME": "node-a",
            "SYSLOG_IDENTIFIER": "kubelet", "_SYSTEMD_UNIT": "kubelet.service",
            "MESSAGE": "E1122 04:33:20.000000    1234 pod_workers.go:1298] \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" for \\\"app\\\" with CrashLoopBackOff\" pod=\"shop/web-1\" podUID=\"p1\""})).unwrap();
        assert_eq!(e.event_type, "kubelet.error");
        assert_eq!(e.object, ObjectRef::new("Pod", "shop", "web-1"));
        assert_eq!(e.pod_uid.as_deref(), Some("p1"));
    }

    #[test]
    fn routine_and_binary_messages() {
        assert!(
            read(
                json!({"__REALTIME_TIMESTAMP": "1", "SYSLOG_IDENTIFIER": "kubelet",
            "MESSAGE": "I1122 04:33:20.000000    1234 kubelet.go:1] \"SyncLoop ADD\""})
            )
            .is_none()
        );
        assert!(read(json!({"__REALTIME_TIMESTAMP": "1", "SYSLOG_IDENTIFIER": "sshd", "MESSAGE": [104, 105]})).is_none());
        let err = read_entry(
            &json!({"__REALTIME_TIMESTAMP": "soon", "MESSAGE": "x"}),
            &mut KernelParser::default(),
        )
        .err()
        .unwrap();
        assert_eq!(err.0, "__REALTIME_TIMESTAMP");
    }
}
