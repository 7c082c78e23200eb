//! Kernel log lines → UnifiedEvents: `dmesg -T`, kern.log / `journalctl -k` (syslog
//! short and ISO formats), and journald's kernel transport.
//!
//! The OOM killer reports a kill in several lines; the one that carries the cgroup is
//! `oom-kill:constraint=CONSTRAINT_MEMCG,...,task_memcg=<path>,task=<comm>,pid=<pid>`
//! (kernel ≥ 4.19), followed by `Memory cgroup out of memory: Killed process <pid>
//! (<comm>) ...` for a container limit or `Out of memory: Killed process ...` for the
//! whole node. Older kernels say `Task in <memcg> killed as a result of limit of <memcg>`.
//! The parser keeps the constraint line per pid and emits one event at the kill.

use std::collections::HashMap;
use std::sync::LazyLock;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use regex::Regex;
use tapio_schemas::ids::stable_id;
use tapio_schemas::{ObjectRef, Severity, UnifiedEvent, source};

use crate::cgroup::parse_cgroup;

/// A line's time, host and kernel text, whichever format it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelLine<'a> {
    /// ns since the epoch.
    pub time: i64,
    /// Host, when the format names it.
    pub host: Option<&'a str>,
    /// The kernel's own text.
    pub text: &'a str,
}

static DMESG_T: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[(?:\w{3} )?(\w{3})\s+(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})\] ?(.*)$")
        .expect("static regex")
});
static SYSLOG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\w{3})\s+(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.\d+)? (\S+) kernel: (?:\[\s*\d+\.\d+\] )?(.*)$").expect("static regex")
});
static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)) (\S+) kernel: (?:\[\s*\d+\.\d+\] )?(.*)$",
    )
    .expect("static regex")
});
static RAW: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:<\d>)?\[\s*\d+\.\d+\] ").expect("static regex"));

fn month(m: &str) -> Option<i8> {
    let i = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|x| *x == m)?;
    Some(i as i8 + 1)
}

fn civil(year: i16, mon: &str, day: &str, h: &str, mi: &str, s: &str) -> Option<i64> {
    let dt = DateTime::new(
        year,
        month(mon)?,
        day.parse().ok()?,
        h.parse().ok()?,
        mi.parse().ok()?,
        s.parse().ok()?,
        0,
    )
    .ok()?;
    // dmesg -T and syslog print local time without a zone; nodes run in UTC as a rule.
    let z = dt.to_zoned(TimeZone::UTC).ok()?;
    Some(z.timestamp().as_nanosecond() as i64)
}

/// Splits a log line into time, host and text. `year` fills in formats that omit it.
/// `Err(true)` for a raw `dmesg` line (seconds since boot: no wall clock),
/// `Err(false)` for a line in no kernel format.
pub fn split_line(line: &str, year: i16) -> Result<KernelLine<'_>, bool> {
    if let Some(c) = DMESG_T.captures(line) {
        let y: i16 = c[6].parse().map_err(|_| false)?;
        let time = civil(y, &c[1], &c[2], &c[3], &c[4], &c[5]).ok_or(false)?;
        return Ok(KernelLine {
            time,
            host: None,
            text: c.get(7).map_or("", |m| m.as_str()),
        });
    }
    if let Some(c) = SYSLOG.captures(line) {
        let time = civil(year, &c[1], &c[2], &c[3], &c[4], &c[5]).ok_or(false)?;
        return Ok(KernelLine {
            time,
            host: c.get(6).map(|m| m.as_str()),
            text: c.get(7).map_or("", |m| m.as_str()),
        });
    }
    if let Some(c) = ISO.captures(line) {
        let mut t = c[1].to_string();
        // journalctl's short-iso writes +0000; RFC 3339 wants +00:00.
        if t.len() > 5 && !t.ends_with('Z') && t.as_bytes()[t.len() - 3] != b':' {
            t.insert(t.len() - 2, ':');
        }
        let time = t
            .parse::<jiff::Timestamp>()
            .map_err(|_| false)?
            .as_nanosecond() as i64;
        return Ok(KernelLine {
            time,
            host: c.get(2).map(|m| m.as_str()),
            text: c.get(3).map_or("", |m| m.as_str()),
        });
    }
    Err(RAW.is_match(line))
}

static CONSTRAINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"oom-kill:constraint=(\w+),.*?(?:oom_memcg=([^,]*),)?task_memcg=([^,]*),task=([^,]*),pid=(\d+)").expect("static regex")
});
static KILLED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(Memory cgroup out of memory|Out of memory(?: \(oom_kill_allocating_task\))?): Kill(?:ed)? process (\d+) \(([^)]*)\)(?:.*?anon-rss:(\d+)kB)?").expect("static regex")
});
static TASK_IN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^Task in (\S+) killed as a result of limit of (\S+)").expect("static regex")
});
static LIMIT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^memory: usage (\d+)kB, limit (\d+)kB").expect("static regex"));
static SEGFAULT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\S+)\[(\d+)\]: segfault at").expect("static regex"));
static HUNG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^INFO: task (\S+):(\d+) blocked for more than (\d+) seconds")
        .expect("static regex")
});

/// Turns kernel text lines into events, pairing the OOM killer's lines.
#[derive(Debug, Default)]
pub struct KernelParser {
    /// pid → (constraint, task cgroup) from the `oom-kill:` line.
    pending: HashMap<i64, (String, String)>,
    /// cgroup from an older kernel's `Task in ... killed` line, for the next kill.
    task_in: Option<String>,
    /// `memory: usage ..., limit ...` just before a kill.
    limit_kb: Option<i64>,
}

impl KernelParser {
    /// Parses one line's text; returns an event when the line completes one.
    pub fn parse(&mut self, line: &KernelLine<'_>, node: Option<&str>) -> Option<UnifiedEvent> {
        let text = line.text.trim_end();
        if let Some(c) = LIMIT.captures(text) {
            self.limit_kb = c[2].parse().ok();
            return None;
        }
        if let Some(c) = CONSTRAINT.captures(text) {
            let pid: i64 = c[5].parse().ok()?;
            self.pending
                .insert(pid, (c[1].to_string(), c[3].to_string()));
            return None;
        }
        if let Some(c) = TASK_IN.captures(text) {
            self.task_in = Some(c[1].to_string());
            return None;
        }
        let node_obj = || ObjectRef::new("Node", "", node.unwrap_or(""));
        let mut e = if let Some(c) = KILLED.captures(text) {
            let pid: i64 = c[2].parse().ok()?;
            let comm = c[3].to_string();
            let (constraint, cgroup) = match self.pending.remove(&pid) {
                Some((k, cg)) => (k, Some(cg)),
                None if c[1].starts_with("Memory cgroup") => {
                    ("CONSTRAINT_MEMCG".to_string(), self.task_in.take())
                }
                None => ("CONSTRAINT_NONE".to_string(), self.task_in.take()),
            };
            let memcg = constraint == "CONSTRAINT_MEMCG";
            let (ty, sev, reason) = if memcg {
                ("kernel.oom_kill", Severity::Error, "OOMKill")
            } else {
                ("kernel.system_oom", Severity::Critical, "SystemOOM")
            };
            let mut e = UnifiedEvent::new(
                String::new(),
                line.time,
                source::KERNEL,
                ty,
                sev,
                node_obj(),
            );
            e.reason = Some(reason.into());
            e.pid = Some(pid);
            e.comm = Some(comm);
            e.attributes.insert("constraint".into(), constraint);
            if let Some(kb) = c.get(4) {
                e.attributes
                    .insert("anon_rss_kb".into(), kb.as_str().into());
            }
            if let Some(l) = self.limit_kb.take() {
                e.attributes.insert("limit_kb".into(), l.to_string());
            }
            if let Some(cg) = cgroup {
                if let Some(id) = parse_cgroup(&cg) {
                    e.pod_uid = Some(id.pod_uid);
                    e.container_id = id.container_id;
                }
                e.cgroup = Some(cg);
            }
            e
        } else if let Some(c) = SEGFAULT.captures(text) {
            let mut e = UnifiedEvent::new(
                String::new(),
                line.time,
                source::KERNEL,
                "kernel.segfault",
                Severity::Warning,
                node_obj(),
            );
            e.reason = Some("Segfault".into());
            e.comm = Some(c[1].to_string());
            e.pid = c[2].parse().ok();
            e.signal = Some(11);
            e
        } else if let Some(c) = HUNG.captures(text) {
            let mut e = UnifiedEvent::new(
                String::new(),
                line.time,
                source::KERNEL,
                "kernel.hung_task",
                Severity::Warning,
                node_obj(),
            );
            e.reason = Some("HungTask".into());
            e.comm = Some(c[1].to_string());
            e.pid = c[2].parse().ok();
            e
        } else if text.contains("nf_conntrack: table full") {
            let mut e = UnifiedEvent::new(
                String::new(),
                line.time,
                source::KERNEL,
                "kernel.conntrack_full",
                Severity::Error,
                node_obj(),
            );
            e.reason = Some("ConntrackTableFull".into());
            e
        } else if text.contains("I/O error, dev ")
            || text.contains("EXT4-fs error")
            || text.contains("XFS (") && text.contains("metadata I/O error")
        {
            let mut e = UnifiedEvent::new(
                String::new(),
                line.time,
                source::KERNEL,
                "kernel.io_error",
                Severity::Error,
                node_obj(),
            );
            e.reason = Some("IOError".into());
            e
        } else {
            return None;
        };
        e.message = Some(text.to_string());
        e.node = node.map(str::to_string);
        if node.is_none() {
            e.object = ObjectRef::default();
        }
        e.event_id = stable_id(&["kernel", node.unwrap_or(""), &line.time.to_string(), text]);
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_oom_from_kern_log() {
        let lines = [
            "Nov 22 04:31:02 node-a kernel: [1234.5] java invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=984",
            "Nov 22 04:31:02 node-a kernel: [1234.5] memory: usage 524288kB, limit 524288kB, failcnt 512",
            "Nov 22 04:31:02 node-a kernel: [1234.6] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=cri-containerd-aa.scope,mems_allowed=0,oom_memcg=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8e2a1b7c_3d4e_4f5a_9b6c_7d8e9f0a1b2c.slice,task_memcg=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8e2a1b7c_3d4e_4f5a_9b6c_7d8e9f0a1b2c.slice/cri-containerd-4c8a4f2f0e7d9b1a3c5e7f9012345678abcdef0123456789abcdef0123456789.scope,task=java,pid=4242,uid=0",
            "Nov 22 04:31:02 node-a kernel: [1234.6] Memory cgroup out of memory: Killed process 4242 (java) total-vm:4194304kB, anon-rss:520000kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1100kB oom_score_adj:984",
        ];
        let mut p = KernelParser::default();
        let mut out = Vec::new();
        for l in lines {
            let kl = split_line(l, 2026).unwrap();
            out.extend(p.parse(&kl, kl.host));
        }
        assert_eq!(out.len(), 1);
        let e = &out[0];
        assert_eq!(e.event_type, "kernel.oom_kill");
        assert_eq!(e.pid, Some(4242));
        assert_eq!(e.comm.as_deref(), Some("java"));
        assert_eq!(
            e.pod_uid.as_deref(),
            Some("8e2a1b7c-3d4e-4f5a-9b6c-7d8e9f0a1b2c")
        );
        assert_eq!(e.node.as_deref(), Some("node-a"));
        assert_eq!(e.attributes["limit_kb"], "524288");
        assert_eq!(
            e.event_time,
            tapio_schemas::time::parse_rfc3339("2026-11-22T04:31:02Z").unwrap()
        );
    }

    #[test]
    fn system_oom_from_dmesg_t() {
        let mut p = KernelParser::default();
        let l = split_line("[Sun Nov 22 04:31:02 2026] Out of memory: Killed process 999 (stress) total-vm:1kB, anon-rss:8000000kB, file-rss:0kB", 1970).unwrap();
        let e = p.parse(&l, Some("node-b")).unwrap();
        assert_eq!(e.event_type, "kernel.system_oom");
        assert_eq!(e.attributes["constraint"], "CONSTRAINT_NONE");
    }

    #[test]
    fn formats() {
        assert!(split_line("2026-11-22T04:31:02.123456+0000 node-a kernel: hello", 1970).is_ok());
        assert!(
            split_line(
                "2026-11-22T04:31:02+00:00 node-a kernel: [ 1.0] hello",
                1970
            )
            .is_ok()
        );
        assert_eq!(split_line("[  123.456] hello", 1970), Err(true));
        assert_eq!(split_line("hello", 1970), Err(false));
        assert_eq!(
            split_line("Nov 22 04:31:02 node-a systemd[1]: Started x.", 2026),
            Err(false)
        );
    }
}
