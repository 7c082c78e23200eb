//! A memory-limited cgroup for a test, made under the test's own memory cgroup (cgroup v1
//! `memory` hierarchy or v2) and removed on drop. Shared by the eBPF tests of `ingest`
//! and the live CLI tests (`#[path]`-included).

#![allow(dead_code)]

use std::path::PathBuf;

/// A memory cgroup for one test, removed on drop (v1 `memory` hierarchy or v2).
pub struct TestCgroup {
    /// The cgroup directory; write a pid to `cgroup.procs` in it to move a process in.
    pub dir: PathBuf,
    /// Directories made for it, outermost first (removed innermost first).
    made: Vec<PathBuf>,
}

impl TestCgroup {
    /// Makes `name` (a name or a relative path) with a memory limit and no swap.
    pub fn create(name: &str, limit_bytes: u64) -> Result<Self, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
        let v1 = own
            .lines()
            .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()));
        let (dir, limit_file) = match v1 {
            Some(p) if PathBuf::from("/sys/fs/cgroup/memory").is_dir() => (
                PathBuf::from(format!("/sys/fs/cgroup/memory{p}")).join(name),
                "memory.limit_in_bytes",
            ),
            _ => {
                let controllers = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
                    .map_err(|e| format!("no cgroup v1 memory hierarchy and no v2: {e}"))?;
                if !controllers.split_whitespace().any(|c| c == "memory") {
                    return Err("no memory controller on cgroup v1 or v2".into());
                }
                let p = own
                    .lines()
                    .find_map(|l| l.strip_prefix("0::"))
                    .ok_or("no cgroup v2 path in /proc/self/cgroup")?;
                (
                    PathBuf::from(format!("/sys/fs/cgroup{p}")).join(name),
                    "memory.max",
                )
            }
        };
        // `name` may be a path (a kubepods-like layout); make each level.
        let mut made = Vec::new();
        let mut at = dir.clone();
        while !at.exists() {
            made.push(at.clone());
            if !at.pop() {
                break;
            }
        }
        made.reverse();
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let cg = TestCgroup { dir, made };
        std::fs::write(cg.dir.join(limit_file), limit_bytes.to_string())
            .map_err(|e| format!("{limit_file}: {e}"))?;
        // No swap escape: the allocation must hit the limit.
        let _ = std::fs::write(cg.dir.join("memory.swappiness"), "0");
        let _ = std::fs::write(
            cg.dir.join("memory.memsw.limit_in_bytes"),
            limit_bytes.to_string(),
        );
        let _ = std::fs::write(cg.dir.join("memory.swap.max"), "0");
        Ok(cg)
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for d in self.made.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}
