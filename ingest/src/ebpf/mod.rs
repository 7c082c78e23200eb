//! The eBPF node collector: OOM kills, bad process exits, TCP trouble and memory cgroup
//! pressure from the running kernel (programs in `bpf/`), as UnifiedEvents that carry
//! the pod and container from the task's cgroup.

mod convert;
mod loader;
mod record;

pub use convert::{Context, to_event};
pub use loader::{EbpfCollector, EbpfError, EbpfOptions, ProbeStats, node_name};
pub use record::{KernelRecord, OomConstraint, Record, RecordError, Task, TcpTrouble, decode};
