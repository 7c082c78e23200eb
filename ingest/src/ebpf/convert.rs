//! Kernel records → UnifiedEvents, in the same shape the kernel-log reader gives the same
//! facts (`kernel.oom_kill` with `constraint`, `limit_kb`, ...), so the patterns and the
//! cluster map treat both alike. Pod and container come from the cgroup path.

use tapio_schemas::ids::stable_id;
use tapio_schemas::{ObjectRef, Severity, UnifiedEvent, source};

use super::record::{KernelRecord, OomConstraint, Record, TcpTrouble};
use crate::cgroup::parse_cgroup;

/// What turns kernel time into wall time and says where the events come from.
#[derive(Debug, Clone)]
pub struct Context {
    /// Node name (`spec.nodeName` of the node this runs on).
    pub node: String,
    /// Cluster name.
    pub cluster: String,
    /// Wall clock minus `CLOCK_BOOTTIME`, ns.
    pub boot_to_wall_ns: i64,
    /// Bytes per page.
    pub page_size: u64,
}

fn signal_name(sig: u32) -> String {
    let name = match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// Signals that mean the program crashed rather than was stopped.
fn is_crash_signal(sig: u32) -> bool {
    matches!(sig, 4 | 6 | 7 | 8 | 11 | 31)
}

fn errno_reason(err: i32) -> (&'static str, &'static str) {
    match err {
        111 => ("ConnectionRefused", "connection refused"),
        110 => ("ConnectionTimedOut", "connection timed out"),
        113 => ("HostUnreachable", "no route to host"),
        101 => ("NetworkUnreachable", "network is unreachable"),
        104 => ("ConnectionReset", "connection reset by peer"),
        _ => ("ConnectFailed", "connect failed"),
    }
}

/// The UnifiedEvent for one record.
pub fn to_event(r: &Record, ctx: &Context) -> UnifiedEvent {
    let time = ctx.boot_to_wall_ns.saturating_add(r.boot_ns as i64);
    let kb = |pages: u64| (pages.saturating_mul(ctx.page_size) / 1024).to_string();
    let t = &r.task;
    let (ty, sev, reason, message) = match &r.kind {
        KernelRecord::OomKill {
            constraint,
            limit_pages,
            usage_pages,
            rss_pages,
            ..
        } => {
            let rss = kb(*rss_pages);
            match constraint {
                OomConstraint::System => (
                    "kernel.system_oom",
                    Severity::Critical,
                    "SystemOOM",
                    format!(
                        "Out of memory: Killed process {} ({}) rss {rss}kB",
                        t.pid, t.comm
                    ),
                ),
                _ => (
                    "kernel.oom_kill",
                    Severity::Error,
                    "OOMKill",
                    format!(
                        "Memory cgroup out of memory: Killed process {} ({}) rss {rss}kB, usage {}kB, limit {}kB",
                        t.pid,
                        t.comm,
                        kb(*usage_pages),
                        kb(*limit_pages)
                    ),
                ),
            }
        }
        KernelRecord::ProcessExit {
            exit_code,
            signal,
            core_dumped,
            ..
        } => {
            if *signal != 0 {
                let core = if *core_dumped { " (core dumped)" } else { "" };
                let sev = if is_crash_signal(*signal) {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                (
                    "kernel.process_exit",
                    sev,
                    "KilledBySignal",
                    format!(
                        "process {} ({}) killed by {}{core}",
                        t.pid,
                        t.comm,
                        signal_name(*signal)
                    ),
                )
            } else {
                (
                    "kernel.process_exit",
                    Severity::Info,
                    "NonZeroExit",
                    format!(
                        "process {} ({}) exited with code {exit_code}",
                        t.pid, t.comm
                    ),
                )
            }
        }
        KernelRecord::Tcp {
            what,
            src,
            dst,
            err,
            ..
        } => match what {
            TcpTrouble::ConnectFailed => {
                let (reason, text) = errno_reason(*err);
                (
                    "kernel.tcp_connect_failed",
                    Severity::Warning,
                    reason,
                    format!(
                        "connect from {}:{} to {}:{} failed: {text}",
                        src.0, src.1, dst.0, dst.1
                    ),
                )
            }
            TcpTrouble::Reset => (
                "kernel.tcp_reset",
                Severity::Info,
                "ConnectionReset",
                format!(
                    "connection {}:{} -> {}:{} reset by peer",
                    src.0, src.1, dst.0, dst.1
                ),
            ),
            TcpTrouble::Retransmit => (
                "kernel.tcp_retransmit",
                Severity::Info,
                "TCPRetransmit",
                format!("retransmitting {}:{} -> {}:{}", src.0, src.1, dst.0, dst.1),
            ),
        },
        KernelRecord::MemcgReclaim {
            usage_pages,
            limit_pages,
            ..
        } => (
            "kernel.memcg_pressure",
            Severity::Info,
            "MemoryPressure",
            format!(
                "memory cgroup at its limit, reclaiming: usage {}kB, limit {}kB",
                kb(*usage_pages),
                kb(*limit_pages),
            ),
        ),
    };
    let mut e = UnifiedEvent::new(
        stable_id(&[
            "ebpf",
            &ctx.node,
            &time.to_string(),
            ty,
            &t.pid.to_string(),
            &t.tid.to_string(),
            &message,
        ]),
        time,
        source::KERNEL,
        ty,
        sev,
        ObjectRef::new("Node", "", &ctx.node),
    );
    e.cluster = ctx.cluster.clone();
    e.node = Some(ctx.node.clone());
    e.reason = Some(reason.to_string());
    e.message = Some(message);
    e.attributes.insert("collector".into(), "ebpf".into());
    if t.pid != 0 {
        e.pid = Some(i64::from(t.pid));
        e.comm = Some(t.comm.clone());
    }
    if t.cgroup_id != 0 {
        e.cgroup = Some(t.cgroup.clone());
        if let Some(id) = parse_cgroup(&t.cgroup) {
            e.pod_uid = Some(id.pod_uid);
            e.container_id = id.container_id;
        }
    }
    match &r.kind {
        KernelRecord::OomKill {
            constraint,
            limit_pages,
            usage_pages,
            rss_pages,
            oom_score_adj,
        } => {
            let c = match constraint {
                OomConstraint::Memcg => "CONSTRAINT_MEMCG",
                OomConstraint::System => "CONSTRAINT_NONE",
                OomConstraint::Unknown => "unknown",
            };
            e.attributes.insert("constraint".into(), c.into());
            e.attributes.insert("limit_kb".into(), kb(*limit_pages));
            e.attributes.insert("rss_kb".into(), kb(*rss_pages));
            if *constraint == OomConstraint::Memcg {
                e.attributes.insert("usage_kb".into(), kb(*usage_pages));
            }
            e.attributes
                .insert("oom_score_adj".into(), oom_score_adj.to_string());
            e.signal = Some(9);
        }
        KernelRecord::ProcessExit {
            exit_code,
            signal,
            core_dumped,
            ppid,
        } => {
            if *signal != 0 {
                e.signal = Some(*signal as i32);
            } else {
                e.exit_code = Some(*exit_code);
            }
            if *core_dumped {
                e.attributes.insert("core_dumped".into(), "true".into());
            }
            e.attributes.insert("ppid".into(), ppid.to_string());
        }
        KernelRecord::Tcp {
            src,
            dst,
            err,
            suppressed,
            ..
        } => {
            e.src_ip = Some(src.0.to_string());
            e.src_port = Some(i32::from(src.1));
            e.dst_ip = Some(dst.0.to_string());
            e.dst_port = Some(i32::from(dst.1));
            e.count = i64::from(*suppressed) + 1;
            if *err != 0 {
                e.attributes.insert("errno".into(), err.to_string());
            }
        }
        KernelRecord::MemcgReclaim {
            usage_pages,
            limit_pages,
            suppressed,
            level,
        } => {
            e.count = i64::from(*suppressed) + 1;
            e.attributes.insert("usage_kb".into(), kb(*usage_pages));
            e.attributes.insert("limit_kb".into(), kb(*limit_pages));
            e.attributes.insert("limit_level".into(), level.to_string());
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebpf::record::{Task, decode, tests::raw};

    fn ctx() -> Context {
        Context {
            node: "node-a".into(),
            cluster: "prod".into(),
            boot_to_wall_ns: 1_790_000_000_000_000_000,
            page_size: 4096,
        }
    }

    #[test]
    fn memcg_oom_names_the_pod_and_container() {
        let id = "4c8a4f2f0e7d9b1a3c5e7f9012345678abcdef0123456789abcdef0123456789";
        let leaf = format!("cri-containerd-{id}.scope");
        let mut b = raw(
            1,
            4242,
            "java",
            &[
                &leaf,
                "kubepods-burstable-pod8e2a1b7c_3d4e_4f5a_9b6c_7d8e9f0a1b2c.slice",
                "kubepods-burstable.slice",
                "kubepods.slice",
            ],
        );
        let p = 48 + 96 * 4;
        b[p..p + 8].copy_from_slice(&131072u64.to_le_bytes());
        b[p + 24..p + 28].copy_from_slice(&1u32.to_le_bytes());
        let e = to_event(&decode(&b).unwrap(), &ctx());
        assert_eq!(e.event_type, "kernel.oom_kill");
        assert_eq!(e.reason.as_deref(), Some("OOMKill"));
        assert_eq!(
            e.pod_uid.as_deref(),
            Some("8e2a1b7c-3d4e-4f5a-9b6c-7d8e9f0a1b2c")
        );
        assert_eq!(e.container_id.as_deref(), Some(id));
        assert_eq!(e.attributes["limit_kb"], "524288");
        assert_eq!(e.attributes["constraint"], "CONSTRAINT_MEMCG");
        assert_eq!(e.event_time, 1_790_000_005_000_000_000);
        assert_eq!(e.node.as_deref(), Some("node-a"));
        assert_eq!(e.cluster, "prod");
        // Same record, same id: replays and redeliveries dedupe.
        assert_eq!(e.event_id, to_event(&decode(&b).unwrap(), &ctx()).event_id);
    }

    #[test]
    fn exits_by_signal_and_code() {
        let r = Record {
            boot_ns: 1,
            task: Task {
                pid: 7,
                tid: 7,
                comm: "app".into(),
                cgroup_id: 0,
                cgroup: "/".into(),
            },
            kind: KernelRecord::ProcessExit {
                exit_code: 0,
                signal: 11,
                core_dumped: false,
                ppid: 1,
            },
        };
        let e = to_event(&r, &ctx());
        assert_eq!(e.signal, Some(11));
        assert_eq!(e.severity, Severity::Warning);
        assert_eq!(
            e.message.as_deref(),
            Some("process 7 (app) killed by SIGSEGV")
        );
        assert_eq!(e.cgroup, None);
        let r = Record {
            kind: KernelRecord::ProcessExit {
                exit_code: 3,
                signal: 0,
                core_dumped: false,
                ppid: 1,
            },
            ..r
        };
        let e = to_event(&r, &ctx());
        assert_eq!((e.exit_code, e.signal), (Some(3), None));
        assert_eq!(e.severity, Severity::Info);
    }

    #[test]
    fn refused_connect() {
        let r = Record {
            boot_ns: 1,
            task: Task::default(),
            kind: KernelRecord::Tcp {
                what: TcpTrouble::ConnectFailed,
                src: ("10.0.0.7".parse().unwrap(), 40000),
                dst: ("10.96.0.12".parse().unwrap(), 80),
                err: 111,
                state: 2,
                suppressed: 0,
            },
        };
        let e = to_event(&r, &ctx());
        assert_eq!(e.reason.as_deref(), Some("ConnectionRefused"));
        assert_eq!(e.dst_ip.as_deref(), Some("10.96.0.12"));
        assert_eq!(e.dst_port, Some(80));
        assert_eq!(e.pid, None, "no owner known: no pid claimed");
    }
}
