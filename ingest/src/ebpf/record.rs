//! One ring buffer record (`struct tapio_event` in `bpf/include/tapio.h`) decoded into a
//! typed [`KernelRecord`]. Pure: bytes in, values out, so it is tested without a kernel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tapio_bpf::EVENT_SIZE;

const COMM: usize = 32;
const COMM_LEN: usize = 16;
const CGROUP: usize = 48;
const CG_NAME_LEN: usize = 96;
const CG_DEPTH: usize = 4;
const PAYLOAD: usize = CGROUP + CG_NAME_LEN * CG_DEPTH;

/// A record that does not decode: wrong size or an unknown kind (a loader and object
/// from different builds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record is not `EVENT_SIZE` bytes.
    #[error("ring buffer record of {0} bytes, expected {EVENT_SIZE}")]
    Size(usize),
    /// The kind field names no known event.
    #[error("ring buffer record of unknown kind {0}")]
    Kind(u32),
}

/// Who the record is about: the task (process) and its memory cgroup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Task {
    /// Process (thread-group) id; 0 when the kernel did not know it (a reset in softirq).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Command name (at most 15 bytes, as the kernel keeps it).
    pub comm: String,
    /// Kernfs id of the cgroup.
    pub cgroup_id: u64,
    /// The cgroup path's last components, root side first, joined with `/`; starts with
    /// `/` when the whole path fit.
    pub cgroup: String,
}

/// How an OOM kill was constrained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OomConstraint {
    /// A memory cgroup hit its limit (a container or pod limit).
    Memcg,
    /// The node ran out of memory.
    System,
    /// The probe did not see the OOM start (loaded mid-kill).
    Unknown,
}

/// What the kernel reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelRecord {
    /// The OOM killer chose a victim.
    OomKill {
        /// How the OOM was constrained.
        constraint: OomConstraint,
        /// Memory cgroup limit (or node pages for a system OOM), in pages.
        limit_pages: u64,
        /// Memory cgroup usage at the kill, in pages.
        usage_pages: u64,
        /// Victim's resident pages.
        rss_pages: u64,
        /// Victim's oom_score_adj.
        oom_score_adj: i32,
    },
    /// A process exited with a non-zero status or a fatal signal.
    ProcessExit {
        /// Exit status, 0 when killed by a signal.
        exit_code: i32,
        /// Fatal signal, 0 for a normal exit.
        signal: u32,
        /// The signal dumped core.
        core_dumped: bool,
        /// Parent process id.
        ppid: u32,
    },
    /// TCP trouble on one socket.
    Tcp {
        /// What happened.
        what: TcpTrouble,
        /// Local address and port.
        src: (IpAddr, u16),
        /// Remote address and port.
        dst: (IpAddr, u16),
        /// `sk_err` for a failed connect (an errno), else 0.
        err: i32,
        /// The socket's TCP state when it happened.
        state: i32,
        /// Events of this kind on this socket folded into this one.
        suppressed: u32,
    },
    /// A memory cgroup reclaimed at its limit.
    MemcgReclaim {
        /// Usage of the cgroup holding the limit, in pages.
        usage_pages: u64,
        /// Its limit, in pages (0 when none was found within reach).
        limit_pages: u64,
        /// Reclaim rounds folded into this event.
        suppressed: u32,
        /// Levels between the task's cgroup and the one with the limit.
        level: u32,
    },
}

/// The kinds of TCP trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpTrouble {
    /// A connect that never reached ESTABLISHED.
    ConnectFailed,
    /// A reset received on an open connection.
    Reset,
    /// A retransmitted segment.
    Retransmit,
}

/// One decoded ring buffer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `CLOCK_BOOTTIME` ns when it happened.
    pub boot_ns: u64,
    /// The task it happened in (or, for TCP, the task that opened the socket).
    pub task: Task,
    /// What happened.
    pub kind: KernelRecord,
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}
fn i32_at(b: &[u8], off: usize) -> i32 {
    u32_at(b, off) as i32
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}
fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn addr(family: u16, b: &[u8]) -> IpAddr {
    if family == 10 {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[..16]);
        let v6 = Ipv6Addr::from(a);
        // A v4 peer on a dual-stack socket: report the v4 address.
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    } else {
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
}

/// Decodes one record.
pub fn decode(b: &[u8]) -> Result<Record, RecordError> {
    if b.len() != EVENT_SIZE {
        return Err(RecordError::Size(b.len()));
    }
    let mut names: Vec<String> = (0..CG_DEPTH)
        .map(|i| c_str(&b[CGROUP + i * CG_NAME_LEN..CGROUP + (i + 1) * CG_NAME_LEN]))
        .take_while(|s| !s.is_empty())
        .collect();
    let whole = names.len() < CG_DEPTH;
    names.reverse();
    let mut cgroup = names.join("/");
    if whole || cgroup.is_empty() {
        cgroup.insert(0, '/');
    }
    let task = Task {
        pid: u32_at(b, 20),
        tid: u32_at(b, 24),
        comm: c_str(&b[COMM..COMM + COMM_LEN]),
        cgroup_id: u64_at(b, 8),
        cgroup,
    };
    let p = PAYLOAD;
    let tcp = |what| {
        let family = u16_at(b, p);
        KernelRecord::Tcp {
            what,
            src: (addr(family, &b[p + 8..p + 24]), u16_at(b, p + 2)),
            dst: (addr(family, &b[p + 24..p + 40]), u16_at(b, p + 4)),
            state: i32_at(b, p + 40),
            err: i32_at(b, p + 48),
            suppressed: u32_at(b, p + 52),
        }
    };
    let kind = match u32_at(b, 16) {
        1 => KernelRecord::OomKill {
            limit_pages: u64_at(b, p),
            usage_pages: u64_at(b, p + 8),
            rss_pages: u64_at(b, p + 16),
            constraint: match u32_at(b, p + 24) {
                1 => OomConstraint::Memcg,
                2 => OomConstraint::System,
                _ => OomConstraint::Unknown,
            },
            oom_score_adj: i32_at(b, p + 28),
        },
        2 => KernelRecord::ProcessExit {
            exit_code: i32_at(b, p),
            signal: u32_at(b, p + 4),
            core_dumped: u32_at(b, p + 8) != 0,
            ppid: u32_at(b, p + 12),
        },
        3 => tcp(TcpTrouble::ConnectFailed),
        4 => tcp(TcpTrouble::Reset),
        5 => tcp(TcpTrouble::Retransmit),
        6 => KernelRecord::MemcgReclaim {
            usage_pages: u64_at(b, p),
            limit_pages: u64_at(b, p + 8),
            suppressed: u32_at(b, p + 16),
            level: u32_at(b, p + 20),
        },
        k => return Err(RecordError::Kind(k)),
    };
    Ok(Record {
        boot_ns: u64_at(b, 0),
        task,
        kind,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a record the way the C side lays it out.
    pub(crate) fn raw(kind: u32, pid: u32, comm: &str, cgroup_leaf_first: &[&str]) -> Vec<u8> {
        let mut b = vec![0u8; EVENT_SIZE];
        b[0..8].copy_from_slice(&5_000_000_000u64.to_le_bytes());
        b[8..16].copy_from_slice(&77u64.to_le_bytes());
        b[16..20].copy_from_slice(&kind.to_le_bytes());
        b[20..24].copy_from_slice(&pid.to_le_bytes());
        b[24..28].copy_from_slice(&(pid + 1).to_le_bytes());
        b[COMM..COMM + comm.len()].copy_from_slice(comm.as_bytes());
        for (i, n) in cgroup_leaf_first.iter().enumerate() {
            let at = CGROUP + i * CG_NAME_LEN;
            b[at..at + n.len()].copy_from_slice(n.as_bytes());
        }
        b
    }

    #[test]
    fn oom_kill_in_a_pod() {
        let mut b = raw(
            1,
            4242,
            "java",
            &[
                "cri-containerd-4c8a.scope",
                "kubepods-burstable-pod8e2a1b7c_3d4e.slice",
                "kubepods-burstable.slice",
                "kubepods.slice",
            ],
        );
        b[PAYLOAD..PAYLOAD + 8].copy_from_slice(&8192u64.to_le_bytes());
        b[PAYLOAD + 8..PAYLOAD + 16].copy_from_slice(&8190u64.to_le_bytes());
        b[PAYLOAD + 16..PAYLOAD + 24].copy_from_slice(&8000u64.to_le_bytes());
        b[PAYLOAD + 24..PAYLOAD + 28].copy_from_slice(&1u32.to_le_bytes());
        b[PAYLOAD + 28..PAYLOAD + 32].copy_from_slice(&(-998i32).to_le_bytes());
        let r = decode(&b).unwrap();
        assert_eq!(r.boot_ns, 5_000_000_000);
        assert_eq!(r.task.pid, 4242);
        assert_eq!(r.task.tid, 4243);
        assert_eq!(r.task.comm, "java");
        assert_eq!(r.task.cgroup_id, 77);
        // Four components filled: a suffix of the path, no leading slash.
        assert_eq!(
            r.task.cgroup,
            "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8e2a1b7c_3d4e.slice/cri-containerd-4c8a.scope"
        );
        assert_eq!(
            r.kind,
            KernelRecord::OomKill {
                constraint: OomConstraint::Memcg,
                limit_pages: 8192,
                usage_pages: 8190,
                rss_pages: 8000,
                oom_score_adj: -998
            }
        );
    }

    #[test]
    fn exit_and_short_cgroup_path() {
        let mut b = raw(2, 10, "sh", &["user-0.slice", "user.slice"]);
        b[PAYLOAD + 4..PAYLOAD + 8].copy_from_slice(&11u32.to_le_bytes());
        b[PAYLOAD + 8..PAYLOAD + 12].copy_from_slice(&1u32.to_le_bytes());
        b[PAYLOAD + 12..PAYLOAD + 16].copy_from_slice(&1u32.to_le_bytes());
        let r = decode(&b).unwrap();
        assert_eq!(r.task.cgroup, "/user.slice/user-0.slice");
        assert_eq!(
            r.kind,
            KernelRecord::ProcessExit {
                exit_code: 0,
                signal: 11,
                core_dumped: true,
                ppid: 1
            }
        );
        assert_eq!(decode(&raw(2, 1, "init", &[])).unwrap().task.cgroup, "/");
    }

    #[test]
    fn tcp_v4_and_mapped_v6() {
        let mut b = raw(3, 99, "curl", &[]);
        b[PAYLOAD..PAYLOAD + 2].copy_from_slice(&2u16.to_le_bytes());
        b[PAYLOAD + 2..PAYLOAD + 4].copy_from_slice(&40000u16.to_le_bytes());
        b[PAYLOAD + 4..PAYLOAD + 6].copy_from_slice(&8080u16.to_le_bytes());
        b[PAYLOAD + 8..PAYLOAD + 12].copy_from_slice(&[10, 0, 0, 7]);
        b[PAYLOAD + 24..PAYLOAD + 28].copy_from_slice(&[10, 96, 0, 12]);
        b[PAYLOAD + 40..PAYLOAD + 44].copy_from_slice(&2i32.to_le_bytes());
        b[PAYLOAD + 48..PAYLOAD + 52].copy_from_slice(&111i32.to_le_bytes());
        let r = decode(&b).unwrap();
        assert_eq!(
            r.kind,
            KernelRecord::Tcp {
                what: TcpTrouble::ConnectFailed,
                src: ("10.0.0.7".parse().unwrap(), 40000),
                dst: ("10.96.0.12".parse().unwrap(), 8080),
                err: 111,
                state: 2,
                suppressed: 0
            }
        );
        b[PAYLOAD..PAYLOAD + 2].copy_from_slice(&10u16.to_le_bytes());
        let mapped: Ipv6Addr = "::ffff:10.96.0.12".parse().unwrap();
        b[PAYLOAD + 24..PAYLOAD + 40].copy_from_slice(&mapped.octets());
        let r = decode(&b).unwrap();
        let KernelRecord::Tcp { dst, .. } = r.kind else {
            panic!("tcp")
        };
        assert_eq!(dst.0, "10.96.0.12".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn bad_records_are_errors_not_panics() {
        assert_eq!(decode(&[0u8; 10]), Err(RecordError::Size(10)));
        assert_eq!(decode(&raw(42, 1, "x", &[])), Err(RecordError::Kind(42)));
    }
}
