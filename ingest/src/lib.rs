//! Tapio's collectors and replay readers. Replay turns what people capture during an
//! incident — `kubectl` dumps, `kubectl cluster-info dump` folders, `journalctl -o json`,
//! kernel logs, Tapio's own files — into UnifiedEvents and topology relations, with the
//! Kubernetes context filled in from the capture's own objects.

pub mod batch;
pub mod cgroup;
pub mod ebpf;
pub mod error;
pub mod generate;
pub mod journald;
pub mod k8s;
pub mod kafka;
pub mod kernel;
pub mod native;
pub mod replay;

pub use error::{Error, Problem, Result, Summary};
pub use replay::{Capture, ReplayOptions, read_paths};
