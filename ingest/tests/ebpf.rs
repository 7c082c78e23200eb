//! The eBPF collector on the real kernel: each test triggers a real event (a process that
//! exits non-zero, one killed by a signal, a refused TCP connect, an OOM kill confined to
//! a memory cgroup made for the test) and asserts what the probes captured.
//!
//! Needs root and a kernel with BTF. Where the kernel refuses, a test says so and skips;
//! in CI (`CI` set) a build without the eBPF objects fails instead of skipping.

use std::process::Command;
use std::time::{Duration, Instant};

use tapio_ingest::ebpf::{EbpfCollector, EbpfError, EbpfOptions};
use tapio_schemas::UnifiedEvent;

/// Starts a collector with the given probes, or says why the kernel refused and returns None.
fn start(probes: &[&str]) -> Option<EbpfCollector> {
    if let Err(why) = tapio_bpf::probes() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must build the eBPF objects: {why}"
        );
        eprintln!("SKIP: eBPF objects not built: {why}");
        return None;
    }
    let opts = EbpfOptions {
        probes: probes.iter().map(|s| s.to_string()).collect(),
        node: "test-node".into(),
        ..EbpfOptions::default()
    };
    match EbpfCollector::start(opts) {
        Ok(c) => {
            assert!(c.skipped().is_empty(), "probes skipped: {:?}", c.skipped());
            Some(c)
        }
        Err(e @ (EbpfError::Btf(_) | EbpfError::NoneLoaded(_))) => {
            eprintln!("SKIP: the kernel refused the eBPF probes: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// Waits up to 10 s for an event that `want` accepts.
async fn wait_for(
    c: &mut EbpfCollector,
    what: &str,
    mut want: impl FnMut(&UnifiedEvent) -> bool,
) -> UnifiedEvent {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, c.recv()).await {
            Ok(Some(e)) if want(&e) => return e,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("collector closed before {what}"),
            Err(_) => panic!("no {what} within 10 s; counters {:?}", c.stats()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_exit_with_code() {
    let Some(mut c) = start(&["exit"]) else {
        return;
    };
    let child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
    let pid = i64::from(child.id());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e = wait_for(&mut c, "exit event", |e| {
        e.event_type == "kernel.process_exit" && e.pid == Some(pid)
    })
    .await;
    assert_eq!(e.exit_code, Some(3));
    assert_eq!(e.signal, None);
    assert_eq!(e.comm.as_deref(), Some("sh"));
    assert_eq!(e.reason.as_deref(), Some("NonZeroExit"));
    assert_eq!(e.node.as_deref(), Some("test-node"));
    assert_eq!(e.attributes["ppid"], std::process::id().to_string());
    assert!(e.cgroup.is_some(), "the task's cgroup is captured");
    // Within a few seconds of now: the boot-time clock was converted to wall time.
    let now = jiff::Timestamp::now().as_nanosecond() as i64;
    assert!(
        (now - e.event_time).abs() < 10_000_000_000,
        "event time {}",
        e.event_time
    );
    let stats = c.shutdown().await;
    assert_eq!(stats[0].malformed, 0);
    assert_eq!(stats[0].lost, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_killed_by_signal() {
    let Some(mut c) = start(&["exit"]) else {
        return;
    };
    // A crash: the shell sends itself SIGSEGV.
    let status = Command::new("sh")
        .args(["-c", "kill -SEGV $$"])
        .status()
        .unwrap();
    assert!(!status.success());
    let e = wait_for(&mut c, "SIGSEGV exit", |e| {
        e.event_type == "kernel.process_exit"
            && e.signal == Some(11)
            && e.comm.as_deref() == Some("sh")
    })
    .await;
    assert_eq!(e.reason.as_deref(), Some("KilledBySignal"));
    assert_eq!(e.severity, tapio_schemas::Severity::Warning);
    // Stopped from outside with SIGKILL.
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = i64::from(sleeper.id());
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let e = wait_for(&mut c, "SIGKILL exit", |e| {
        e.event_type == "kernel.process_exit" && e.pid == Some(pid)
    })
    .await;
    assert_eq!(e.signal, Some(9));
    assert_eq!(e.exit_code, None);
    assert!(e.message.unwrap().contains("killed by SIGKILL"));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tcp_connect() {
    let Some(mut c) = start(&["tcp"]) else { return };
    // A free port below the ephemeral range: nothing listens on it, and the kernel cannot
    // pick it as this connect's own source port (a TCP self-connect would succeed).
    let port = (20_000..30_000)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .unwrap();
    let err = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let e = wait_for(&mut c, "refused connect", |e| {
        e.event_type == "kernel.tcp_connect_failed" && e.dst_port == Some(i32::from(port))
    })
    .await;
    assert_eq!(e.reason.as_deref(), Some("ConnectionRefused"));
    assert_eq!(e.attributes["errno"], "111");
    assert_eq!(e.dst_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(e.src_ip.as_deref(), Some("127.0.0.1"));
    assert!(e.src_port.unwrap() > 0);
    // The owner was noted when the socket entered SYN_SENT, in this process.
    assert_eq!(e.pid, Some(i64::from(std::process::id())));
    c.shutdown().await;
}

#[path = "support/memcg.rs"]
mod memcg;
use memcg::TestCgroup;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oom_kill_in_a_memory_cgroup() {
    let Some(mut c) = start(&["oom", "memcg"]) else {
        return;
    };
    let name = format!("tapio-oom-test-{}", std::process::id());
    let limit = 32 << 20;
    let cg = match TestCgroup::create(&name, limit) {
        Ok(cg) => cg,
        Err(e) => {
            eprintln!("SKIP: cannot make a memory cgroup for the OOM test: {e}");
            return;
        }
    };
    // The shell moves itself into the cgroup, then becomes `tail`, which buffers
    // /dev/zero (one endless line) until the limit kills it.
    let procs = cg.dir.join("cgroup.procs");
    let script = format!("echo $$ > {} && exec tail /dev/zero", procs.display());
    let mut child = Command::new("sh").args(["-c", &script]).spawn().unwrap();
    let pid = i64::from(child.id());
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "tail should be OOM-killed, got {status:?}"
    );

    // Two probes, two ring buffers: the kill may be read before the reclaim that preceded
    // it, so wait for both without dropping either.
    let mut pressure = None;
    let mut kill = None;
    let _ = wait_for(&mut c, "memcg reclaim and OOM kill", |e| {
        if e.event_type == "kernel.memcg_pressure"
            && e.cgroup.as_deref().is_some_and(|p| p.ends_with(&name))
        {
            pressure.get_or_insert_with(|| e.clone());
        }
        if e.event_type == "kernel.oom_kill" && e.pid == Some(pid) {
            kill.get_or_insert_with(|| e.clone());
        }
        pressure.is_some() && kill.is_some()
    })
    .await;
    let (pressure, e) = (pressure.unwrap(), kill.unwrap());
    assert_eq!(pressure.attributes["limit_kb"], (limit / 1024).to_string());
    assert_eq!(pressure.reason.as_deref(), Some("MemoryPressure"));

    assert_eq!(e.comm.as_deref(), Some("tail"));
    assert_eq!(e.attributes["constraint"], "CONSTRAINT_MEMCG");
    assert_eq!(e.attributes["limit_kb"], (limit / 1024).to_string());
    assert!(
        e.cgroup.as_deref().unwrap().ends_with(&name),
        "cgroup {:?}",
        e.cgroup
    );
    let rss_kb: u64 = e.attributes["rss_kb"].parse().unwrap();
    assert!(
        rss_kb > 16 * 1024,
        "victim rss {rss_kb} kB near the 32 MiB limit"
    );
    c.shutdown().await;
    drop(cg);
}
