//! From a closed incident to a story: the root cause, the blast radius, the timeline, a
//! narrative, and what to do.

pub mod burst;
pub mod edges;
mod recommend;
pub mod text;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tapio_schemas::{
    Affected, Correlation, Joined, Link, RootCause, Severity, Story, TimelineEntry, UnifiedEvent,
};

use crate::Result;
use crate::incidents::Incident;
use crate::patterns::{CASCADE, pattern};
use crate::runner::Signal;

/// The chosen root cause.
#[derive(Debug, Clone)]
pub struct Root {
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Reason.
    pub reason: String,
    /// Pattern that blamed it.
    pub pattern: &'static str,
}

/// Services that select each pod (`ns/pod` → `ns/service`, sorted, no repeats), from the
/// topology. A `Vec` rather than a set: most pods have one or two services, and a set's
/// first node has 11 slots of 24 bytes. With 48k pods, vectors in both maps took the
/// live heap after the topology from 58 to 43 MiB.
pub type ServicesByPod = HashMap<String, Vec<String>>;

/// Pods that use each ConfigMap, Secret or PVC (`Kind/ns/name` → `ns/pod`, sorted, no
/// repeats).
pub type PodsByObject = HashMap<String, Vec<String>>;

/// Timeline entries kept in a story; the rest are counted in the summary.
const TIMELINE_CAP: usize = 40;

struct Candidate<'a> {
    key: String,
    signals: Vec<&'a Signal>,
    priority: u8,
    weight: f64,
    first: i64,
}

/// The most specific pattern among a subject's signals that has, on its own, the
/// evidence a story needs (`threshold`); if none has, the most specific of all. A weak
/// hint (a probe that failed twice) beside a conclusive failure (a crash loop) does not
/// name the story, however specific its pattern.
fn subject_priority(own: &[&Signal], threshold: f64) -> Option<u8> {
    let mut by_pattern: BTreeMap<u8, f64> = BTreeMap::new();
    for s in own {
        if let Some(p) = pattern(s.pattern) {
            *by_pattern.entry(p.priority).or_default() += s.weight;
        }
    }
    by_pattern
        .iter()
        .rev()
        .find(|(_, w)| **w >= threshold)
        .or_else(|| by_pattern.iter().next_back())
        .map(|(p, _)| *p)
}

/// Chooses the root: the subject no cascade points away from, then the most specific
/// pattern with enough evidence of its own ([`subject_priority`]), then the most
/// evidence, then the earliest.
fn choose_root(signals: &[Signal], threshold: f64) -> Option<(Root, Vec<&Signal>, bool)> {
    let mut by_subject: BTreeMap<String, Vec<&Signal>> = BTreeMap::new();
    for s in signals {
        by_subject.entry(s.subject_key()).or_default().push(s);
    }
    // Downstream workloads: the workloads whose events a cascade blamed on another.
    let downstream: BTreeSet<&str> = signals
        .iter()
        .filter(|s| s.pattern == CASCADE)
        .filter_map(|s| s.workload.as_deref())
        .collect();
    let cascade = !downstream.is_empty();
    let mut cands: Vec<Candidate> = by_subject
        .into_iter()
        .filter_map(|(key, sigs)| {
            let own: Vec<&Signal> = sigs
                .iter()
                .copied()
                .filter(|s| s.pattern != CASCADE)
                .collect();
            let priority = subject_priority(&own, threshold)?;
            Some(Candidate {
                weight: own.iter().map(|s| s.weight).sum(),
                first: own.iter().map(|s| s.event_time).min().unwrap_or(i64::MAX),
                key,
                signals: own,
                priority,
            })
        })
        .collect();
    if cands.is_empty() {
        return None;
    }
    let upstream_only: Vec<&Candidate> = cands
        .iter()
        .filter(|c| !downstream.contains(c.key.as_str()))
        .collect();
    let pool: Vec<&Candidate> = if upstream_only.is_empty() {
        cands.iter().collect()
    } else {
        upstream_only
    };
    let best = pool
        .into_iter()
        .max_by(|a, b| {
            (
                a.priority,
                a.weight,
                std::cmp::Reverse(a.first),
                std::cmp::Reverse(&a.key),
            )
                .partial_cmp(&(
                    b.priority,
                    b.weight,
                    std::cmp::Reverse(b.first),
                    std::cmp::Reverse(&b.key),
                ))
                .unwrap_or(std::cmp::Ordering::Equal)
        })?
        .key
        .clone();
    let idx = cands.iter().position(|c| c.key == best)?;
    let c = cands.swap_remove(idx);
    // The reason of the most specific pattern's signals with the most evidence.
    let top = c
        .signals
        .iter()
        .filter(|s| pattern(s.pattern).is_some_and(|p| p.priority == c.priority));
    // reason → (evidence, first seen)
    let mut reasons: BTreeMap<&str, (f64, i64)> = BTreeMap::new();
    let mut pat = "";
    for s in top {
        let r = reasons
            .entry(s.reason.as_str())
            .or_insert((0.0, s.event_time));
        r.0 += s.weight;
        r.1 = r.1.min(s.event_time);
        pat = s.pattern;
    }
    // Priorities are unique, so `top` is one pattern's signals.
    let generic = pattern(pat).map(|p| p.generic).unwrap_or("");
    let reason = reasons
        .iter()
        .max_by(|a, b| {
            (*a.0 != generic)
                .cmp(&(*b.0 != generic))
                .then_with(|| a.1.0.total_cmp(&b.1.0))
                .then_with(|| b.1.1.cmp(&a.1.1))
                .then_with(|| b.0.cmp(a.0))
        })
        .map(|(r, _)| r.to_string())
        .unwrap_or_default();
    let first = &c.signals[0];
    let root = Root {
        kind: first.subject_kind.clone(),
        namespace: first.subject_namespace.clone(),
        name: first.subject_name.clone(),
        reason,
        pattern: pattern(pat).map(|p| p.id).unwrap_or(first.pattern),
    };
    Some((root, c.signals, cascade))
}

fn human_reason(r: &str) -> String {
    // `ReadinessProbeFailed` → `readiness probe failed`; keep all-caps words (`OOMKilled`).
    if r.chars().filter(|c| c.is_uppercase()).count() > r.len() / 2 || r.starts_with("OOM") {
        return r.to_string();
    }
    let mut out = String::new();
    for (i, ch) in r.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(ch.to_lowercase());
    }
    out
}

fn title(
    pattern: &str,
    root: &Root,
    downstream: &[String],
    workloads: &BTreeSet<String>,
) -> String {
    let users = workloads
        .iter()
        .map(|w| {
            w.split_once('/')
                .map(|(k, rest)| format!("{k} {rest}"))
                .unwrap_or_else(|| w.clone())
        })
        .collect::<Vec<_>>();
    let users = if users.is_empty() {
        "pods".to_string()
    } else {
        format!("pods of {}", users.join(", "))
    };
    let obj = text::object(&root.kind, &root.namespace, &root.name);
    let why = human_reason(&root.reason);
    match pattern {
        "cascading-failure" => format!("{obj} {} → {} failing", root.reason, downstream.join(", ")),
        "crashloop" => format!("{obj} is crash-looping"),
        "oom-killed" => format!("{obj} is being OOM-killed"),
        "image-pull" => format!("{obj} cannot pull its image ({why})"),
        "config-missing" if root.reason.ends_with("KeyMissing") => {
            format!("{obj} lacks a key; {users} cannot start")
        }
        "config-missing" => format!("{obj} is missing; {users} cannot start"),
        "container-create-error" => format!("{obj} cannot create its containers ({why})"),
        "probe-failure" => format!("{obj} is failing its health probes ({why})"),
        "init-failure" => format!("Init containers of {obj} are failing"),
        "unschedulable" => format!("Pods of {obj} cannot be scheduled ({why})"),
        "volume-failure" => format!("Storage for {obj} is failing ({why})"),
        "node-pressure-eviction" => format!("{obj} is evicting pods ({why})"),
        "node-not-ready" => format!("{obj} is NotReady ({why})"),
        "node-service-failure" => format!("{obj}: {why}"),
        "pod-network-failure" => format!("Pod networking is failing on {obj} ({why})"),
        "dns-failure" => format!("DNS resolution is failing ({why}): {obj}"),
        "service-no-endpoints" => format!("{obj} leaves its Service without endpoints ({why})"),
        "network-policy-block" => format!("{obj} is blocking traffic"),
        "rollout-stuck" => format!("Rollout of {obj} is stuck ({why})"),
        "replicaset-create-failure" => format!("Pods cannot be created: {why} ({obj})"),
        "job-failure" => format!("{obj} failed ({why})"),
        "system-oom" => format!("{obj} ran out of memory (system OOM)"),
        _ => format!("{obj}: {why}"),
    }
}

fn short_time(ns: i64) -> String {
    let s = tapio_schemas::time::format_ns(ns);
    // 2024-05-01T10:02:03Z → 10:02:03
    s.get(11..19).map(str::to_string).unwrap_or(s)
}

/// Builds the story and its correlations; `None` when the evidence is below `threshold`.
/// Fails only when the incident's held rows do not decode (a bug).
pub fn assemble(
    inc: &Incident,
    services: &ServicesByPod,
    users: &PodsByObject,
    threshold: f64,
) -> Result<Option<(Story, Vec<Correlation>)>> {
    build(inc, services, users, threshold, true)
}

/// Builds the story alone, as [`assemble`] does: for a story going active, whose
/// correlations are written when it resolves. Scoring each event's link to the root (a
/// masked template and a MinHash per event) was most of the cost of activating a story
/// of a thousand events.
pub fn assemble_story(
    inc: &Incident,
    services: &ServicesByPod,
    users: &PodsByObject,
    threshold: f64,
) -> Result<Option<Story>> {
    Ok(build(inc, services, users, threshold, false)?.map(|(s, _)| s))
}

fn build(
    inc: &Incident,
    services: &ServicesByPod,
    users: &PodsByObject,
    threshold: f64,
    correlations: bool,
) -> Result<Option<(Story, Vec<Correlation>)>> {
    if inc.weight() < threshold {
        return Ok(None);
    }
    let Some((root, root_signals, cascade)) = choose_root(&inc.signals, threshold) else {
        return Ok(None);
    };
    let held = inc.events.decode()?;
    let root_key = format!("{}/{}/{}", root.kind, root.namespace, root.name);

    // Blast radius.
    let mut pods = BTreeSet::new();
    let mut workloads = BTreeSet::new();
    let mut nodes = BTreeSet::new();
    let mut svcs = BTreeSet::new();
    for s in &inc.signals {
        if let Some(p) = &s.pod {
            pods.insert(p.clone());
            if let Some(ss) = services.get(p) {
                svcs.extend(ss.iter().cloned());
            }
        }
        if let Some(w) = &s.workload {
            workloads.insert(w.clone());
        }
        if let Some(n) = &s.node {
            nodes.insert(n.clone());
        }
        if s.subject_kind == "Node" {
            nodes.insert(s.subject_name.clone());
        }
        if tapio_schemas::is_workload_kind(&s.subject_kind) {
            workloads.insert(s.subject_key());
        }
    }
    for e in held.values() {
        if e.event_type == "k8s.service.no_endpoints" {
            svcs.insert(format!("{}/{}", e.object.namespace, e.object.name));
        }
    }
    // Every pod that uses a missing ConfigMap or Secret, or a failing claim, is in the
    // blast radius, reported yet or not.
    if let Some(ps) = users.get(&root_key) {
        for p in ps {
            pods.insert(p.clone());
            if let Some(ss) = services.get(p) {
                svcs.extend(ss.iter().cloned());
            }
        }
    }
    // A node's story tells of the pods that lost it.
    if root.kind == "Node" {
        for e in held.values() {
            if e.node.as_deref() == Some(root.name.as_str())
                && let Some(p) = &e.pod
                && e.severity >= Severity::Warning
            {
                pods.insert(format!("{}/{}", e.object.namespace, p));
            }
        }
    }

    // Timeline.
    let mut events: Vec<&UnifiedEvent> = held.values().collect();
    events.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    let first_pod = inc.signals.iter().find_map(|s| s.pod.clone());
    let signal_ids: BTreeSet<&str> = inc.signals.iter().map(|s| s.event_id.as_str()).collect();
    let mut shown: Vec<&UnifiedEvent> = events.clone();
    if shown.len() > TIMELINE_CAP {
        // Keep the evidence, the failures, and the whole arc of the first failing pod;
        // routine steps of the other pods say the same again.
        shown.retain(|e| {
            signal_ids.contains(e.event_id.as_str())
                || e.severity >= Severity::Warning
                || e.pod.is_none()
                || first_pod.as_deref()
                    == Some(
                        format!("{}/{}", e.object.namespace, e.pod.as_deref().unwrap_or(""))
                            .as_str(),
                    )
        });
    }
    if shown.len() > TIMELINE_CAP {
        // Still too long: the start of the arc and its latest state.
        let tail = shown.split_off(shown.len() - TIMELINE_CAP / 2);
        shown.truncate(TIMELINE_CAP / 2);
        shown.extend(tail);
    }
    let omitted_timeline = events.len() - shown.len();
    let timeline: Vec<TimelineEntry> = shown
        .iter()
        .map(|e| TimelineEntry {
            time: e.event_time,
            source: e.source.clone(),
            text: text::describe(e),
            event_id: e.event_id.clone(),
        })
        .collect();

    // Downstream chain for cascades: the workloads that failed because of the root.
    let downstream: Vec<String> = if cascade {
        let mut d: BTreeSet<String> = inc
            .signals
            .iter()
            .filter(|s| s.pattern == CASCADE)
            .filter_map(|s| s.workload.clone())
            .filter(|w| *w != root_key)
            .collect();
        for s in &inc.signals {
            if s.subject_key() != root_key && tapio_schemas::is_workload_kind(&s.subject_kind) {
                d.insert(s.subject_key());
            }
        }
        d.into_iter()
            .map(|w| w.split('/').skip(1).collect::<Vec<_>>().join("/"))
            .collect()
    } else {
        Vec::new()
    };
    let story_pattern = if cascade && !downstream.is_empty() {
        CASCADE
    } else {
        root.pattern
    };

    // Confidence: evidence for the root, corroboration across layers, competition.
    let root_weight: f64 = root_signals.iter().map(|s| s.weight).sum();
    let layers: BTreeSet<&str> = root_signals
        .iter()
        .filter_map(|s| held.get(&s.event_id))
        .map(|e| e.source.as_str())
        .collect();
    let root_priority = pattern(root.pattern).map(|p| p.priority).unwrap_or(0);
    let rivals = inc
        .signals
        .iter()
        .filter(|s| s.subject_key() != root_key && s.pattern != CASCADE)
        .filter(|s| pattern(s.pattern).is_some_and(|p| p.priority == root_priority))
        .count();
    let mut confidence = 1.0 - (-root_weight).exp();
    if layers.len() >= 2 {
        confidence += 0.1;
    }
    if rivals > 0 {
        confidence -= 0.15;
    }
    let confidence = (confidence.clamp(0.05, 0.99) * 100.0).round() / 100.0;

    // Evidence sentences.
    let mut evidence = Vec::new();
    let mut by_reason: BTreeMap<(&str, &str), Vec<&Signal>> = BTreeMap::new();
    for s in &root_signals {
        by_reason
            .entry((s.pattern, s.reason.as_str()))
            .or_default()
            .push(s);
    }
    // The reason that decided the root first, then the rest.
    let mut groups: Vec<_> = by_reason.iter().collect();
    groups.sort_by_key(|((_, reason), _)| *reason != root.reason.as_str());
    for ((pat, reason), sigs) in groups {
        let pods_n: BTreeSet<&str> = sigs.iter().filter_map(|s| s.pod.as_deref()).collect();
        let in_pods = if pods_n.is_empty() {
            String::new()
        } else {
            format!(" in {} pod(s)", pods_n.len())
        };
        evidence.push(format!(
            "{} {reason} signal(s) from pattern {pat}{in_pods}, first at {}",
            sigs.len(),
            tapio_schemas::time::format_ns(sigs.iter().map(|s| s.event_time).min().unwrap_or(0))
        ));
        let mut seen_templates = BTreeSet::new();
        for s in sigs {
            if let Some(m) = held.get(&s.event_id).and_then(|e| e.message.as_deref())
                && seen_templates.insert(tapio_udfs::msg_template::template(m))
                && seen_templates.len() <= 2
            {
                evidence.push(format!("\"{}\"", m.chars().take(200).collect::<String>()));
            }
        }
    }
    // A surge of events saying one thing is evidence of its own.
    if let Some(b) = burst::strongest(held.values()) {
        evidence.push(b.sentence());
    }
    if layers.len() >= 2 {
        evidence.push(format!(
            "corroborated by {} layers: {}",
            layers.len(),
            layers.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }

    let severity = inc
        .signals
        .iter()
        .filter_map(|s| held.get(&s.event_id))
        .map(|e| e.severity)
        .max()
        .unwrap_or(Severity::Error)
        .max(Severity::Error);
    let first_seen = events
        .first()
        .map(|e| e.event_time)
        .unwrap_or(inc.first)
        .min(inc.first);
    let last_seen = events
        .iter()
        .map(|e| {
            e.attributes
                .get("last_timestamp")
                .and_then(|l| tapio_schemas::time::parse_rfc3339(l))
                .unwrap_or(e.event_time)
        })
        .max()
        .unwrap_or(inc.last)
        .max(inc.last);

    let obj = text::object(&root.kind, &root.namespace, &root.name);
    let mut summary = format!("Root cause: {obj} — {}.", human_reason(&root.reason));
    if cascade && !downstream.is_empty() {
        summary.push_str(&format!(" It cascaded to {}.", downstream.join(" → ")));
    }
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("1 {w}")
        } else {
            format!("{n} {w}s")
        }
    };
    summary.push_str(&format!(
        " {} affected{}{}{}.",
        plural(pods.len(), "pod"),
        if workloads.is_empty() {
            String::new()
        } else {
            format!(" in {}", plural(workloads.len(), "workload"))
        },
        if svcs.is_empty() {
            String::new()
        } else {
            format!(
                ", {} ({})",
                plural(svcs.len(), "service"),
                svcs.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        },
        if nodes.is_empty() {
            String::new()
        } else {
            format!(", on {}", plural(nodes.len(), "node"))
        },
    ));
    summary.push_str(&format!(
        " From {} to {} UTC, {} events.",
        short_time(first_seen),
        short_time(last_seen),
        events.len()
    ));
    if omitted_timeline > 0 {
        summary.push_str(&format!(" The timeline shows {} of them.", timeline.len()));
    }

    let memory_limit = held
        .values()
        .find_map(|e| e.attributes.get("memory_limit").cloned());
    let recommendations = recommend::recommend(
        story_pattern,
        &root,
        first_pod.as_deref(),
        memory_limit.as_deref(),
    );

    let affected = Affected {
        pods: pods.into_iter().collect(),
        workloads: workloads.into_iter().collect(),
        services: svcs.into_iter().collect(),
        nodes: nodes.into_iter().collect(),
    };
    let story = Story {
        id: inc.id.clone(),
        pattern: story_pattern.to_string(),
        title: title(
            story_pattern,
            &root,
            &downstream,
            &affected
                .workloads
                .iter()
                .filter(|w| **w != root_key)
                .cloned()
                .collect(),
        ),
        summary,
        severity,
        confidence,
        state: "active".into(),
        root_cause: RootCause {
            kind: root.kind.clone(),
            namespace: root.namespace.clone(),
            name: root.name.clone(),
            reason: root.reason.clone(),
            evidence,
        },
        affected,
        timeline,
        recommendations,
        first_seen,
        last_seen,
        event_ids: events.iter().map(|e| e.event_id.clone()).collect(),
        // Filled from the engine's memory as the story is published.
        similar_incidents: Vec::new(),
        recurrence: None,
    };

    if !correlations {
        return Ok(Some((story, Vec::new())));
    }
    // Correlations: why each event is in the story.
    let root_pods: BTreeSet<&str> = root_signals
        .iter()
        .filter_map(|s| s.pod.as_deref())
        .collect();
    // Each event's link to the root's first event, in five dimensions.
    let root_event = root_signals
        .first()
        .and_then(|s| held.get(&s.event_id))
        .map(edges::Root::new);
    let link = |id: &str, cascade: bool| -> Link {
        match (held.get(id), &root_event) {
            (Some(e), Some(r)) => {
                let l = r.score(e, cascade);
                Link {
                    temporal: Some(l.temporal),
                    spatial: Some(l.spatial),
                    ownership: Some(l.ownership),
                    dependency: Some(l.dependency),
                    semantic: Some(l.semantic),
                    confidence: Some(l.confidence),
                }
            }
            _ => Link::default(),
        }
    };
    // The graph edge that joined each signal: its strongest to an earlier signal (a
    // signal's edges are recorded strongest first).
    let mut first_link: HashMap<&str, &crate::graph::GraphEdge> = HashMap::default();
    for l in &inc.links {
        first_link.entry(l.from.as_str()).or_insert(l);
    }
    let joined = |id: &str| -> Joined {
        first_link
            .get(id)
            .map(|l| Joined {
                joined_by: Some(l.to.clone()),
                joined_confidence: Some(l.edge.confidence),
            })
            .unwrap_or_default()
    };
    let mut corr: Vec<Correlation> = Vec::new();
    for s in &inc.signals {
        let dimension = if s.pattern == CASCADE {
            "cascade"
        } else if s.subject_key() == root_key {
            "subject"
        } else if s.pod.as_deref().is_some_and(|p| root_pods.contains(p)) {
            "pod"
        } else {
            "workload"
        };
        corr.push(Correlation {
            story_id: inc.id.clone(),
            event_id: s.event_id.clone(),
            event_time: s.event_time,
            pattern: s.pattern.to_string(),
            dimension: dimension.into(),
            score: s.weight,
            subject: s.subject_key(),
            reason: s.reason.clone(),
            link: link(&s.event_id, s.pattern == CASCADE),
            joined: joined(&s.event_id),
        });
    }
    for e in &events {
        if !signal_ids.contains(e.event_id.as_str()) {
            corr.push(Correlation {
                story_id: inc.id.clone(),
                event_id: e.event_id.clone(),
                event_time: e.event_time,
                pattern: "context".into(),
                dimension: "context".into(),
                score: 0.0,
                subject: root_key.clone(),
                reason: e.reason.clone().unwrap_or_default(),
                link: link(&e.event_id, false),
                joined: Joined::default(),
            });
        }
    }
    corr.sort_by(|a, b| {
        (a.event_time, &a.event_id, &a.pattern).cmp(&(b.event_time, &b.event_id, &b.pattern))
    });
    Ok(Some((story, corr)))
}
