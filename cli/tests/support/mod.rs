//! Starting the `tapio` binary for live tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Spawns `cmd` (a `tapio` command) and waits until it says its eBPF probes are attached,
/// then keeps echoing its stderr. `None`, with the reason printed, when the eBPF collector
/// cannot run here; in CI (`CI` set) that fails instead.
pub fn start_live(mut cmd: Command) -> Option<Child> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if err.read_line(&mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            assert!(
                std::env::var("CI").is_err(),
                "the live collectors must run in CI; tapio exited {status}"
            );
            eprintln!("SKIP: live collectors unavailable here ({status})");
            return None;
        }
        eprint!("{line}");
        if line.contains("eBPF probes attached") {
            break;
        }
    }
    // Keep draining stderr so the child never blocks on it.
    std::thread::spawn(move || {
        let mut s = String::new();
        while err.read_line(&mut s).unwrap_or(0) > 0 {
            eprint!("{s}");
            s.clear();
        }
    });
    Some(child)
}
