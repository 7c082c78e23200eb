//! `tapio generate`: a seeded synthetic cluster with injected incidents, as a capture
//! replay reads plus its ground-truth labels.

use std::path::PathBuf;

use anyhow::Context;
use tapio_ingest::generate::{Scenario, generate, write};

pub fn run(s: Scenario, out: PathBuf) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let g = generate(&s).map_err(anyhow::Error::msg)?;
    write(&out, &g).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "tapio: generated {} events, {} objects, {} incidents (seed {}) in {:.1}s into {}",
        g.events.len(),
        g.objects.len(),
        g.labels.incidents.len(),
        s.seed,
        started.elapsed().as_secs_f64(),
        out.display()
    );
    eprintln!(
        "tapio: score it with: tapio replay {0}/capture --labels {0}/labels.json",
        out.display()
    );
    Ok(())
}
