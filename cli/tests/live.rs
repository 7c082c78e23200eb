//! `tapio collect` and `tapio run` on the real kernel, through the binary: events appear
//! as JSON lines, and a kernel OOM kill becomes a story. Skips (with a message) where
//! the kernel refuses eBPF; CI must have it.

use std::process::Command;
use std::time::Duration;

use tapio_schemas::{Story, UnifiedEvent};

#[path = "../../ingest/tests/support/memcg.rs"]
mod memcg;
mod support;

fn start(args: &[&str]) -> Option<std::process::Child> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tapio"));
    cmd.args(args);
    support::start_live(cmd)
}

#[test]
fn collect_prints_kernel_events_as_json_lines() {
    let Some(child) = start(&[
        "collect",
        "--collectors",
        "ebpf",
        "--probes",
        "exit",
        "--output",
        "json",
        "--duration-secs",
        "3",
        "--node",
        "node-t",
    ]) else {
        return;
    };
    let sh = Command::new("sh").args(["-c", "exit 5"]).spawn().unwrap();
    let pid = i64::from(sh.id());
    sh.wait_with_output().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let events: Vec<UnifiedEvent> = support::json_lines(out.stdout);
    let e = events
        .iter()
        .find(|e| e.pid == Some(pid))
        .unwrap_or_else(|| panic!("no event for pid {pid} in {} events", events.len()));
    assert_eq!(e.event_type, "kernel.process_exit");
    assert_eq!(e.exit_code, Some(5));
    assert_eq!(e.node.as_deref(), Some("node-t"));
}

#[test]
fn run_turns_a_kernel_oom_kill_into_a_story() {
    let name = format!("tapio-run-oom-{}", std::process::id());
    let limit = 24 << 20;
    let cg = match memcg::TestCgroup::create(&name, limit) {
        Ok(cg) => cg,
        Err(e) => {
            eprintln!("SKIP: cannot make a memory cgroup: {e}");
            return;
        }
    };
    let Some(child) = start(&[
        "run",
        "--collectors",
        "ebpf",
        "--probes",
        "oom,memcg",
        "--output",
        "json",
        "--no-store",
        "--window-secs",
        "1",
        "--idle-timeout-secs",
        "2",
        "--duration-secs",
        "8",
    ]) else {
        return;
    };
    let script = format!(
        "echo $$ > {} && exec tail /dev/zero",
        cg.dir.join("cgroup.procs").display()
    );
    let status = Command::new("sh").args(["-c", &script]).status().unwrap();
    assert!(!status.success(), "tail must be OOM-killed");
    std::thread::sleep(Duration::from_millis(100));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stories: Vec<Story> = support::json_lines(out.stdout);
    let s = stories
        .iter()
        .find(|s| s.pattern == "oom-killed" && s.root_cause.name.contains(&name))
        .unwrap_or_else(|| panic!("no OOM story for {name}: {stories:#?}"));
    assert!(
        s.timeline.iter().any(|t| t.text.contains("tail")),
        "the kill names the process: {:#?}",
        s.timeline
    );
    drop(cg);
}
