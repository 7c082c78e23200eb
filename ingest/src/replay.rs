//! Replay: paths in, a [`Capture`] out. Files are recognised by extension and content;
//! structured files are read before text logs so that year-less log lines (syslog,
//! `journalctl -k`) can take their year from the capture.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tapio_schemas::{Relation, UnifiedEvent};
use tracing::{debug, warn};

use crate::error::{Error, Problem, Result, Summary};
use crate::journald::{self, Entry};
use crate::k8s::event::read_event;
use crate::k8s::objects::ObjectState;
use crate::kernel::{KernelParser, split_line};
use crate::native;

/// Options for a replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Cluster name given to objects and events that do not name one.
    pub cluster: String,
    /// Year for log formats that omit it; by default the year of the capture's latest
    /// structured event, else of the log file's modification time.
    pub year: Option<i16>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            cluster: "default".into(),
            year: None,
        }
    }
}

/// What a replay read: events in event-time order (ties by id), relations, and counts.
#[derive(Debug, Default)]
pub struct Capture {
    /// UnifiedEvents, enriched, deduplicated by id, sorted by (event_time, event_id).
    pub events: Vec<UnifiedEvent>,
    /// Topology relations, sorted.
    pub relations: Vec<Relation>,
    /// What was read, derived and rejected.
    pub summary: Summary,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Format {
    Parquet,
    Ipc,
    Json,
    Yaml,
    Text,
}

fn format_of(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_string_lossy().to_lowercase();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    Some(match ext.as_str() {
        "parquet" => Format::Parquet,
        "arrow" | "arrows" | "ipc" | "feather" => Format::Ipc,
        "json" | "jsonl" | "ndjson" => Format::Json,
        "yaml" | "yml" => Format::Yaml,
        "log" | "txt" | "" => Format::Text,
        _ if name.starts_with("kern.log")
            || name.starts_with("dmesg")
            || name.starts_with("messages")
            || name.starts_with("syslog") =>
        {
            Format::Text
        }
        _ => return None,
    })
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::Io {
        path: path.into(),
        source: e,
    })?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::Io {
                path: path.into(),
                source: e,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            collect_files(&e, out)?;
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

struct Reader {
    objects: ObjectState,
    events: Vec<UnifiedEvent>,
    summary: Summary,
}

impl Reader {
    fn problem(
        &mut self,
        file: &Path,
        line: Option<usize>,
        field: Option<String>,
        message: String,
    ) {
        let p = Problem {
            file: file.to_path_buf(),
            line,
            field,
            message,
        };
        warn!(problem = %p, "Rejected input record.");
        self.summary.problems.push(p);
    }

    /// One JSON or YAML document: a Kubernetes object or List, a journald entry, or a
    /// Tapio event.
    fn value(&mut self, file: &Path, line: usize, v: Value, kernel: &mut KernelParser) {
        if let Some(items) = v.get("items").and_then(Value::as_array).filter(|_| {
            v.get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List"))
        }) {
            // Items of a typed List (`PodList`) may omit their kind.
            let item_kind = v["kind"]
                .as_str()
                .unwrap_or("")
                .trim_end_matches("List")
                .to_string();
            for item in items {
                self.object(file, line, item, &item_kind);
            }
            return;
        }
        if journald::is_journald(&v) {
            self.summary.records += 1;
            match journald::read_entry(&v, kernel) {
                Ok(Entry::Event(e)) => {
                    self.summary.events_read += 1;
                    self.events.push(*e);
                }
                Ok(Entry::Unmatched) => self.summary.unmatched_lines += 1,
                Err((f, m)) => self.problem(file, Some(line), Some(f), m),
            }
            return;
        }
        if native::is_tapio_event(&v) {
            self.summary.records += 1;
            match serde_json::from_value::<UnifiedEvent>(v) {
                Ok(e) => {
                    self.summary.events_read += 1;
                    self.events.push(e);
                }
                Err(e) => self.problem(file, Some(line), None, format!("not a Tapio event: {e}")),
            }
            return;
        }
        self.object(file, line, &v, "");
    }

    fn object(&mut self, file: &Path, line: usize, v: &Value, default_kind: &str) {
        self.summary.records += 1;
        let kind = v
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or(default_kind)
            .to_string();
        if kind.is_empty() {
            self.problem(
                file,
                Some(line),
                Some("kind".into()),
                "not a Kubernetes object, journald entry or Tapio event".into(),
            );
            return;
        }
        if kind == "Event" {
            match read_event(v) {
                Ok(e) => {
                    self.summary.events_read += 1;
                    self.events.push(e);
                }
                Err((f, m)) => self.problem(
                    file,
                    Some(line),
                    Some(f),
                    format!("Event {}: {m}", name_of(v)),
                ),
            }
            return;
        }
        let before = self.objects.derived.len();
        match self.objects.add(&kind, v) {
            Ok(true) => {}
            Ok(false) => *self.summary.skipped_kinds.entry(kind).or_default() += 1,
            Err((f, m)) => {
                self.objects.derived.truncate(before);
                self.problem(
                    file,
                    Some(line),
                    Some(f),
                    format!("{kind} {}: {m}", name_of(v)),
                );
            }
        }
    }

    fn json_file(&mut self, path: &Path, text: &str) {
        let mut kernel = KernelParser::default();
        // JSON lines: every non-empty line parses alone (journald, Tapio events,
        // `kubectl get -o json -w` with compact output). Otherwise a stream of
        // (pretty-printed) documents: a List, an object, or `kubectl get -w` output.
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        if serde_json::from_str::<Value>(first).is_ok_and(|v| v.is_object()) {
            for (i, l) in text.lines().enumerate() {
                if l.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(l) {
                    Ok(v) => self.value(path, i + 1, v, &mut kernel),
                    Err(e) => {
                        self.summary.records += 1;
                        self.problem(path, Some(i + 1), None, format!("invalid JSON: {e}"));
                    }
                }
            }
            return;
        }
        let mut offset = 0;
        while offset < text.len() {
            let rest = &text[offset..];
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            match stream.next() {
                None => break,
                Some(Ok(v)) => {
                    let line = line_of(text, offset + leading_ws(rest));
                    offset += stream.byte_offset();
                    self.value(path, line, v, &mut kernel);
                }
                Some(Err(e)) => {
                    let start = offset + leading_ws(rest);
                    self.summary.records += 1;
                    let line = line_of(text, offset) + e.line().saturating_sub(1);
                    self.problem(path, Some(line), None, format!("invalid JSON: {e}"));
                    // Resynchronise at the next document: a line starting with `{`.
                    let next_char = text[start..].chars().next().map_or(1, char::len_utf8);
                    match text[start + next_char..].find("\n{") {
                        Some(p) => offset = start + next_char + p + 1,
                        None => break,
                    }
                }
            }
        }
    }

    fn yaml_file(&mut self, path: &Path, text: &str) {
        let mut kernel = KernelParser::default();
        let mut line = 1;
        for doc in split_yaml_docs(text) {
            let start = line;
            line += doc.matches('\n').count() + 1;
            if doc.trim().is_empty()
                || doc
                    .lines()
                    .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
            {
                continue;
            }
            match serde_yaml_ng::from_str::<Value>(doc) {
                Ok(Value::Null) => {}
                Ok(v) => self.value(path, start, v, &mut kernel),
                Err(e) => {
                    self.summary.records += 1;
                    let l = e.location().map(|l| start + l.line() - 1).unwrap_or(start);
                    self.problem(path, Some(l), None, format!("invalid YAML: {e}"));
                }
            }
        }
    }

    fn text_file(&mut self, path: &Path, text: &str, year: i16) {
        let mut kernel = KernelParser::default();
        let (mut matched, mut raw) = (0usize, 0usize);
        for l in text.lines() {
            match split_line(l, year) {
                Ok(kl) => {
                    matched += 1;
                    self.summary.records += 1;
                    match kernel.parse(&kl, kl.host) {
                        Some(e) => {
                            self.summary.events_read += 1;
                            self.events.push(e);
                        }
                        None => self.summary.unmatched_lines += 1,
                    }
                }
                Err(true) => raw += 1,
                Err(false) => {}
            }
        }
        if raw > 0 {
            self.problem(path, None, None, format!("{raw} lines of raw dmesg (seconds since boot, no wall-clock time): capture with `dmesg -T` or `journalctl -k`"));
        }
        if matched == 0 && raw == 0 {
            *self
                .summary
                .skipped_files
                .entry("no kernel log lines".into())
                .or_default() += 1;
        }
    }
}

fn name_of(v: &Value) -> String {
    let ns = v
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = v
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    }
}

fn leading_ws(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}

/// Splits multi-document YAML at `---` lines, keeping line counts.
fn split_yaml_docs(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    for l in text.split_inclusive('\n') {
        if l.trim_end() == "---" || l.starts_with("--- ") {
            docs.push(&text[start..pos]);
            start = pos + l.len();
        }
        pos += l.len();
    }
    docs.push(&text[start..]);
    docs
}

/// Reads every file under the given paths into one capture.
pub fn read_paths(paths: &[PathBuf], opts: &ReplayOptions) -> Result<Capture> {
    let mut files = Vec::new();
    for p in paths {
        collect_files(p, &mut files)?;
    }
    let mut typed: Vec<(Format, PathBuf)> = Vec::new();
    let mut r = Reader {
        objects: ObjectState::new(&opts.cluster),
        events: Vec::new(),
        summary: Summary::default(),
    };
    for f in files {
        // `kubectl cluster-info dump` writes each container's log as <ns>/<pod>/logs.txt.
        if f.file_name().is_some_and(|n| n == "logs.txt") {
            *r.summary
                .skipped_files
                .entry("container logs (not read yet)".into())
                .or_default() += 1;
            continue;
        }
        match format_of(&f) {
            Some(fmt) => typed.push((fmt, f)),
            None => {
                *r.summary
                    .skipped_files
                    .entry("unknown format".into())
                    .or_default() += 1
            }
        }
    }
    typed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    for (fmt, path) in &typed {
        r.summary.files += 1;
        debug!(path = %path.display(), "Reading.");
        match fmt {
            Format::Parquet | Format::Ipc => {
                let batches = if *fmt == Format::Parquet {
                    native::read_parquet(path)
                } else {
                    native::read_ipc(path)
                };
                match batches.and_then(|b| native::events_of(path, &b)) {
                    Ok(ev) => {
                        r.summary.records += ev.len();
                        r.summary.events_read += ev.len();
                        r.events.extend(ev);
                    }
                    Err(e) => r.problem(path, None, None, e.to_string()),
                }
            }
            Format::Json | Format::Yaml | Format::Text => {
                let text = match std::fs::read(path) {
                    Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                    Err(e) => {
                        r.problem(path, None, None, format!("cannot read: {e}"));
                        continue;
                    }
                };
                match fmt {
                    Format::Json => r.json_file(path, &text),
                    Format::Yaml => r.yaml_file(path, &text),
                    _ => {
                        let year = opts
                            .year
                            .unwrap_or_else(|| year_hint(&r.events, &r.objects.derived, path));
                        r.text_file(path, &text, year)
                    }
                }
            }
        }
    }
    r.objects.finish();
    // Counted here so that events derived from several objects (a Service left without
    // endpoints) count too.
    r.summary.events_derived = r.objects.derived.len();
    let mut events = std::mem::take(&mut r.events);
    events.append(&mut r.objects.derived);
    for e in &mut events {
        // Every reader but Tapio's own files leaves the cluster at its default: the
        // capture's cluster is the one named for it.
        if e.cluster == "default" {
            e.cluster = opts.cluster.clone();
        }
        r.objects.map.enrich(e);
    }
    let before = events.len();
    let events = dedupe(events);
    r.summary.duplicates = before - events.len();
    let mut relations = std::mem::take(&mut r.objects.relations);
    relations.sort();
    relations.dedup();
    r.summary.relations = relations.len();
    Ok(Capture {
        events,
        relations,
        summary: r.summary,
    })
}

/// Keeps one row per event id: the latest update (highest count, then latest time), as
/// a watch stream repeats an Event each time its count is bumped.
fn dedupe(mut events: Vec<UnifiedEvent>) -> Vec<UnifiedEvent> {
    let mut best: HashMap<String, usize> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        match best.get(&e.event_id) {
            Some(&j) if (events[j].count, events[j].event_time) >= (e.count, e.event_time) => {}
            _ => {
                best.insert(e.event_id.clone(), i);
            }
        }
    }
    let mut keep = vec![false; events.len()];
    for &i in best.values() {
        keep[i] = true;
    }
    let mut i = 0;
    events.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    events.sort_by(|a, b| {
        a.event_time
            .cmp(&b.event_time)
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
    events
}

fn year_hint(events: &[UnifiedEvent], derived: &[UnifiedEvent], path: &Path) -> i16 {
    let latest = events.iter().chain(derived).map(|e| e.event_time).max();
    let ns = latest.or_else(|| {
        let m = std::fs::metadata(path).ok()?.modified().ok()?;
        let d = m.duration_since(std::time::UNIX_EPOCH).ok()?;
        Some(d.as_nanos() as i64)
    });
    ns.and_then(|n| jiff::Timestamp::from_nanosecond(n as i128).ok())
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).year())
        .unwrap_or(1970)
}
