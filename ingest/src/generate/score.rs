//! Accuracy of stories against a generated capture's labels.

use std::collections::{HashMap, HashSet};
use std::fmt;

use tapio_schemas::Story;

use super::Labels;

/// How well stories match the ground truth.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Score {
    /// Injected incidents.
    pub incidents: usize,
    /// Incidents some story holds events of.
    pub detected: usize,
    /// Detected incidents whose best story (most of its events) names its root cause.
    pub root_top1: usize,
    /// Detected incidents whose best story names its pattern.
    pub pattern_right: usize,
    /// Incidents whose events went to more than one story.
    pub split: usize,
    /// Pairwise grouping over distinct labelled incident events (two belong together when
    /// an incident labels both, see [`pair_counts`]): precision, recall, F1.
    pub precision: f64,
    /// Recall of same-incident pairs.
    pub recall: f64,
    /// Harmonic mean.
    pub f1: f64,
    /// Routine Events of untouched objects in some story, and routine Events in all.
    pub routine_leaked: usize,
    /// Routine Events written.
    pub routine: usize,
    /// Stories told.
    pub stories: usize,
    /// 1 - stories / warning Events.
    pub noise_reduction: f64,
}

/// Scores `stories` (final, resolved) against `labels`.
pub fn score(labels: &Labels, stories: &[Story]) -> Score {
    // Event id → the stories that hold it.
    let mut holder: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in stories.iter().enumerate() {
        for e in &s.event_ids {
            holder.entry(e.as_str()).or_default().push(i);
        }
    }
    let mut sc = Score {
        incidents: labels.incidents.len(),
        stories: stories.len(),
        routine: labels.routine_event_ids.len(),
        ..Score::default()
    };
    // Which story holds each incident: the one with most of its events. An Event object
    // the kubelet's correlator reused in two incidents (its count bumped) is labelled in
    // both and may rightly sit in both stories.
    for inc in &labels.incidents {
        let mut held: HashMap<usize, usize> = HashMap::new();
        for e in &inc.event_ids {
            for s in holder.get(e.as_str()).into_iter().flatten() {
                *held.entry(*s).or_default() += 1;
            }
        }
        let main = held
            .iter()
            .max_by_key(|(s, c)| (**c, std::cmp::Reverse(**s)))
            .map(|(s, _)| *s);
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for e in &inc.event_ids {
            let st = holder
                .get(e.as_str())
                .and_then(|v| v.iter().find(|s| Some(**s) == main).or(v.first()).copied());
            if let Some(s) = st {
                *counts.entry(s).or_default() += 1;
            }
        }
        if counts.is_empty() {
            continue;
        }
        sc.detected += 1;
        if counts.len() > 1 {
            sc.split += 1;
        }
        let best = counts
            .iter()
            .max_by_key(|(s, c)| (**c, std::cmp::Reverse(**s)))
            .map(|(s, _)| &stories[*s]);
        if let Some(b) = best {
            let r = &b.root_cause;
            if [r.kind.as_str(), r.namespace.as_str(), r.name.as_str()]
                == [
                    inc.root[0].as_str(),
                    inc.root[1].as_str(),
                    inc.root[2].as_str(),
                ]
            {
                sc.root_top1 += 1;
            }
            if b.pattern == inc.pattern {
                sc.pattern_right += 1;
            }
        }
    }
    let (tp, same_story, same_inc) = pair_counts(labels, &holder);
    sc.precision = if same_story == 0 {
        1.0
    } else {
        tp as f64 / same_story as f64
    };
    sc.recall = if same_inc == 0 {
        1.0
    } else {
        tp as f64 / same_inc as f64
    };
    sc.f1 = if sc.precision + sc.recall == 0.0 {
        0.0
    } else {
        2.0 * sc.precision * sc.recall / (sc.precision + sc.recall)
    };
    let routine: HashSet<&str> = labels
        .routine_event_ids
        .iter()
        .map(String::as_str)
        .collect();
    sc.routine_leaked = routine.iter().filter(|e| holder.contains_key(*e)).count();
    sc.noise_reduction = if labels.warning_events == 0 {
        0.0
    } else {
        1.0 - stories.len() as f64 / labels.warning_events as f64
    };
    sc
}

/// Pairwise grouping over distinct labelled events, for labels that may overlap: two
/// events belong together when some incident labels both, and are grouped together when
/// some story holds both. Returns (pairs both, pairs grouped, pairs belonging).
///
/// An Event object reused by the kubelet's correlator in two incidents is one row: it
/// cannot sit apart from itself, so it relates the two incidents' events and a story
/// holding both is right, not a merge. Events with the same incidents and the same
/// stories are counted as one group, so the cost is quadratic in groups (about one per
/// incident), not in events.
fn pair_counts(labels: &Labels, holder: &HashMap<&str, Vec<usize>>) -> (u64, u64, u64) {
    let mut incidents_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (n, inc) in labels.incidents.iter().enumerate() {
        for e in &inc.event_ids {
            let v = incidents_of.entry(e.as_str()).or_default();
            if !v.contains(&n) {
                v.push(n);
            }
        }
    }
    let mut groups: HashMap<(Vec<usize>, Vec<usize>), u64> = HashMap::new();
    for (e, mut incs) in incidents_of {
        incs.sort_unstable();
        let mut held = holder.get(e).cloned().unwrap_or_default();
        held.sort_unstable();
        held.dedup();
        *groups.entry((incs, held)).or_default() += 1;
    }
    let groups: Vec<_> = groups.into_iter().collect();
    let meet = |a: &[usize], b: &[usize]| a.iter().any(|x| b.contains(x));
    let (mut tp, mut same_story, mut same_inc) = (0u64, 0u64, 0u64);
    for i in 0..groups.len() {
        let ((inc_a, st_a), n_a) = &groups[i];
        for (j, ((inc_b, st_b), n_b)) in groups.iter().enumerate().skip(i) {
            let pairs = if i == j {
                n_a * (n_a - 1) / 2
            } else {
                n_a * n_b
            };
            let grouped = meet(st_a, st_b);
            let belong = meet(inc_a, inc_b);
            tp += pairs * u64::from(grouped && belong);
            same_story += pairs * u64::from(grouped);
            same_inc += pairs * u64::from(belong);
        }
    }
    (tp, same_story, same_inc)
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |a: usize, b: usize| {
            if b == 0 {
                0.0
            } else {
                100.0 * a as f64 / b as f64
            }
        };
        writeln!(
            f,
            "incidents detected   {}/{} ({:.1} %)",
            self.detected,
            self.incidents,
            pct(self.detected, self.incidents)
        )?;
        writeln!(
            f,
            "root cause top-1     {}/{} ({:.1} %)",
            self.root_top1,
            self.incidents,
            pct(self.root_top1, self.incidents)
        )?;
        writeln!(
            f,
            "pattern right        {}/{} ({:.1} %)",
            self.pattern_right,
            self.incidents,
            pct(self.pattern_right, self.incidents)
        )?;
        writeln!(f, "incidents split      {}", self.split)?;
        writeln!(
            f,
            "grouping             precision {:.3} recall {:.3} F1 {:.3}",
            self.precision, self.recall, self.f1
        )?;
        writeln!(
            f,
            "routine events leaked {}/{}",
            self.routine_leaked, self.routine
        )?;
        write!(
            f,
            "noise reduction      {:.3} ({} stories)",
            self.noise_reduction, self.stories
        )
    }
}
