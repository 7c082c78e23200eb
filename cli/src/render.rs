//! Stories for people.

use std::io::Write;

use tapio_schemas::Story;
use tapio_schemas::time::format_ns;

fn hms(ns: i64) -> String {
    let s = format_ns(ns);
    s.get(11..19).map(str::to_string).unwrap_or(s)
}

fn list(items: &[String], max: usize) -> String {
    let mut s = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        s.push_str(&format!(", … (+{})", items.len() - max));
    }
    s
}

/// Prints stories, most recent incident last.
pub fn stories(w: &mut impl Write, stories: &[Story]) -> std::io::Result<()> {
    if stories.is_empty() {
        writeln!(w, "No incidents found.")?;
        return Ok(());
    }
    writeln!(
        w,
        "{} incident stor{}\n",
        stories.len(),
        if stories.len() == 1 { "y" } else { "ies" }
    )?;
    for (i, s) in stories.iter().enumerate() {
        let day = format_ns(s.first_seen).get(..10).unwrap_or("").to_string();
        writeln!(
            w,
            "━━ {}. [{}] {}",
            i + 1,
            s.severity.as_str().to_uppercase(),
            s.title
        )?;
        writeln!(
            w,
            "   pattern {} · confidence {:.2} · {} {}–{} UTC · id {}",
            s.pattern,
            s.confidence,
            day,
            hms(s.first_seen),
            hms(s.last_seen),
            &s.id[..12.min(s.id.len())]
        )?;
        writeln!(w, "   {}", s.summary)?;
        let r = &s.root_cause;
        let ns = if r.namespace.is_empty() {
            String::new()
        } else {
            format!("{}/", r.namespace)
        };
        writeln!(
            w,
            "\n   Root cause: {} {}{} — {}",
            r.kind, ns, r.name, r.reason
        )?;
        for e in &r.evidence {
            writeln!(w, "     · {e}")?;
        }
        let a = &s.affected;
        writeln!(w, "\n   Impact:")?;
        if !a.workloads.is_empty() {
            writeln!(w, "     workloads: {}", list(&a.workloads, 6))?;
        }
        if !a.pods.is_empty() {
            writeln!(w, "     pods:      {}", list(&a.pods, 6))?;
        }
        if !a.services.is_empty() {
            writeln!(w, "     services:  {}", list(&a.services, 6))?;
        }
        if !a.nodes.is_empty() {
            writeln!(w, "     nodes:     {}", list(&a.nodes, 6))?;
        }
        writeln!(w, "\n   Timeline:")?;
        for t in &s.timeline {
            writeln!(w, "     {}  {:<11} {}", hms(t.time), t.source, t.text)?;
        }
        if !s.similar_incidents.is_empty() {
            writeln!(w, "\n   Seen before:")?;
            for p in &s.similar_incidents {
                writeln!(
                    w,
                    "     {} {} UTC  {:.0}% similar  {}  (id {})",
                    format_ns(p.first_seen).get(..10).unwrap_or(""),
                    hms(p.first_seen),
                    100.0 * p.similarity,
                    p.title,
                    &p.id[..12.min(p.id.len())]
                )?;
            }
        }
        writeln!(w, "\n   What to do:")?;
        for (n, r) in s.recommendations.iter().enumerate() {
            writeln!(w, "     {}. {r}", n + 1)?;
        }
        writeln!(w)?;
    }
    Ok(())
}
