//! Cost of updating the correlation graph (`engine/src/graph.rs`) per signal, with 10k
//! and 100k signals already in it: what grouping signals into incidents costs a window as
//! the open incidents grow.
//!
//! The graph is filled with incidents of five signals each (a workload blamed from its
//! three pods, spread over 50 namespaces and 40 nodes), then a tenth as many signals again
//! are added in one batch, as a window adds them: four in five join a random open incident
//! through its workload or a pod, one in five starts an incident of its own. Each signal
//! carries its kubelet message (a back-off or a failed readiness probe naming its pod),
//! so the semantic score's template and MinHash are in the cost. Reported:
//! nanoseconds per added signal (median of 5 runs, each on a freshly filled graph), the
//! edges found per signal, and the incidents left open.
//!
//! Run: `cargo bench -p tapio-benches --bench graph`.

use std::time::{Duration, Instant};

use tapio_engine::incidents::Incidents;
use tapio_engine::runner::Signal;

const S: i64 = 1_000_000_000;

/// A deterministic generator (64-bit LCG): the same graph every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

fn signal(incident: usize, pod: usize, seq: usize, t: i64) -> Signal {
    let crash = seq.is_multiple_of(2);
    let ns = format!("ns-{}", incident % 50);
    let app = format!("app-{incident}");
    Signal {
        pattern: if crash { "crashloop" } else { "probe-failure" },
        event_id: format!("e-{incident}-{seq}"),
        subject_kind: "Deployment".into(),
        subject_namespace: ns.clone(),
        subject_name: app.clone(),
        reason: if crash {
            "CrashLoopBackOff".into()
        } else {
            "Unhealthy".into()
        },
        weight: 0.5,
        event_time: t,
        count: 1,
        last_seen: t,
        pod: Some(format!("{ns}/{app}-{pod}")),
        workload: Some(format!("Deployment/{ns}/{app}")),
        node: Some(format!("node-{}", (incident + pod) % 40)),
        // The kubelet's words, each naming its pod: the semantic score compares
        // templates, and signatures are cached per template.
        message: Some(if crash {
            format!(
                "Back-off restarting failed container app in pod {app}-{pod}-x7k2q_{ns}\
                 (5f0c2a1e-{incident:04x}-4e6b-9c1d-{seq:012x})"
            )
        } else {
            format!(
                "Readiness probe failed: Get \"http://10.1.{}.{}:8080/healthz\": \
                 context deadline exceeded",
                incident % 250,
                pod
            )
        }),
    }
}

/// A graph holding `n` signals (n / 5 incidents).
fn filled(n: usize) -> Incidents {
    let mut inc = Incidents::default();
    let incidents = n / 5;
    let signals: Vec<Signal> = (0..n)
        .map(|i| signal(i % incidents, i % 3, i / incidents, (i as i64) * S / 100))
        .collect();
    inc.add(signals).expect("add");
    inc
}

/// Adds `m` signals to a graph of `n`; returns the time per signal and the edges found.
fn run(n: usize, m: usize, rng: &mut Lcg) -> (Duration, f64, usize) {
    let mut inc = filled(n);
    assert_eq!(inc.graph_nodes(), n, "every filling signal is a node");
    let links_before: usize = inc.open().map(|i| i.links.len()).sum();
    let t0 = (n as i64) * S / 100;
    let incidents = n / 5;
    let batch: Vec<Signal> = (0..m)
        .map(|j| {
            let seq = 1_000 + j;
            if rng.next(5) == 0 {
                signal(incidents + j, 0, seq, t0 + j as i64 * S / 100)
            } else {
                signal(
                    rng.next(incidents),
                    rng.next(3),
                    seq,
                    t0 + j as i64 * S / 100,
                )
            }
        })
        .collect();
    let start = Instant::now();
    let added = inc.add(batch).expect("add");
    let took = start.elapsed();
    assert_eq!(added, m);
    let links: usize = inc.open().map(|i| i.links.len()).sum::<usize>() - links_before;
    (took / m as u32, links as f64 / m as f64, inc.open().count())
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    println!(
        "| signals in the graph | added | per signal (median of 5) | edges per signal | open incidents after |"
    );
    println!("|---|---|---|---|---|");
    let mut rng = Lcg(1);
    for n in [10_000, 100_000] {
        let m = n / 10;
        let mut times = Vec::new();
        let mut last = (0.0, 0);
        for _ in 0..5 {
            let (t, edges, open) = run(n, m, &mut rng);
            times.push(t);
            last = (edges, open);
        }
        times.sort();
        println!(
            "| {n} | {m} | {:.2} µs | {:.1} | {} |",
            times[2].as_secs_f64() * 1e6,
            last.0,
            last.1
        );
    }
}
