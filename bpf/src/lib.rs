//! Tapio's eBPF programs, compiled from C at build time (see `build.rs` and the shared
//! event layout in `include/tapio.h`). The aya loader in `tapio-ingest` loads them.
//!
//! Each program is its own object with its own ring buffer (`events`) and drop counter
//! (`lost`), so a kernel that refuses one probe still runs the others.

/// One compiled eBPF object and the programs in it.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// Short name, used on the command line (`oom`, `exit`, `tcp`, `memcg`).
    pub name: &'static str,
    /// What it captures, for `--help` and logs.
    pub about: &'static str,
    /// The ELF object, aligned for parsing.
    pub object: &'static [u8],
    /// Programs in the object and where each attaches.
    pub programs: &'static [Program],
}

/// One program in an object and its attach point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// A BTF-typed tracepoint (`tp_btf`): (program, tracepoint).
    BtfTracePoint(&'static str, &'static str),
}

/// Size in bytes of one ring buffer record (`struct tapio_event`).
pub const EVENT_SIZE: usize = 496;

#[cfg(tapio_bpf)]
macro_rules! aligned_object {
    ($name:literal) => {{
        #[repr(C, align(32))]
        struct Aligned<B: ?Sized> {
            bytes: B,
        }
        const OBJ: &Aligned<[u8]> = &Aligned {
            bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".bpf.o")),
        };
        &OBJ.bytes
    }};
}

/// The probes this build carries, or why there are none.
pub fn probes() -> Result<&'static [Probe], &'static str> {
    #[cfg(tapio_bpf)]
    {
        static PROBES: [Probe; 4] = [
            Probe {
                name: "oom",
                about: "OOM kills: victim, cgroup, memcg or system-wide, limit and usage",
                object: aligned_object!("oom"),
                programs: &[
                    Program::BtfTracePoint(
                        "tapio_oom_memcg_reclaim",
                        "mm_vmscan_memcg_reclaim_begin",
                    ),
                    Program::BtfTracePoint(
                        "tapio_oom_direct_reclaim",
                        "mm_vmscan_direct_reclaim_begin",
                    ),
                    Program::BtfTracePoint("tapio_mark_victim", "mark_victim"),
                ],
            },
            Probe {
                name: "exit",
                about: "process exits with a non-zero status or a fatal signal",
                object: aligned_object!("exit"),
                programs: &[Program::BtfTracePoint(
                    "tapio_process_exit",
                    "sched_process_exit",
                )],
            },
            Probe {
                name: "tcp",
                about: "failed TCP connects, resets received, retransmits",
                object: aligned_object!("tcp"),
                programs: &[
                    Program::BtfTracePoint("tapio_sock_state", "inet_sock_set_state"),
                    Program::BtfTracePoint("tapio_receive_reset", "tcp_receive_reset"),
                    Program::BtfTracePoint("tapio_retransmit", "tcp_retransmit_skb"),
                ],
            },
            Probe {
                name: "memcg",
                about: "memory cgroups reclaiming at their limit (once a second per cgroup)",
                object: aligned_object!("memcg"),
                programs: &[Program::BtfTracePoint(
                    "tapio_memcg_reclaim",
                    "mm_vmscan_memcg_reclaim_begin",
                )],
            },
        ];
        Ok(&PROBES)
    }
    #[cfg(not(tapio_bpf))]
    {
        Err(include_str!(concat!(env!("OUT_DIR"), "/unavailable.txt")))
    }
}
