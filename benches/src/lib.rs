//! Shared helpers of Tapio's benchmarks.

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`.
pub fn process_cpu_secs() -> f64 {
    cpu_secs_in("/proc/self/stat")
}

/// CPU seconds (user + system) process `pid` has used, from `/proc/PID/stat`; 0 when it
/// is gone.
pub fn cpu_secs_of(pid: u32) -> f64 {
    cpu_secs_in(&format!("/proc/{pid}/stat"))
}

fn cpu_secs_in(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// A generated scenario of `events` events (seed 1, the generator's defaults otherwise),
/// written as a capture and read back as replay reads it.
pub fn generated_capture(events: usize) -> tapio_ingest::Capture {
    capture_of(&tapio_ingest::generate::Scenario {
        seed: 1,
        events,
        ..Default::default()
    })
}

/// The generated `scenario`, written as a capture and read back as replay reads it.
pub fn capture_of(scenario: &tapio_ingest::generate::Scenario) -> tapio_ingest::Capture {
    use tapio_ingest::generate::{generate, write};
    let g = generate(scenario).expect("scenario");
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), &g).expect("write capture");
    tapio_ingest::read_paths(
        &[dir.path().join("capture")],
        &tapio_ingest::ReplayOptions::default(),
    )
    .expect("read capture")
}
