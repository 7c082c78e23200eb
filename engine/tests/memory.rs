//! The engine's memory: the example shop incident happening again every six hours is
//! told as recurring, with the earlier occurrences as similar incidents — within one run,
//! and across runs through the Parquet history. The SQL examples in `queries/examples/`
//! answer over that history.

use std::path::PathBuf;

use arrow::array::RecordBatch;
use tapio_engine::store::{DataDir, TABLES};
use tapio_engine::{Engine, EngineConfig, memory};
use tapio_ingest::{ReplayOptions, read_paths};
use tapio_schemas::rows::to_batch;
use tapio_schemas::{
    Correlation, Relation, Story, UnifiedEvent, correlation_schema, events_to_batch, story_schema,
};

const SIX_HOURS: i64 = 6 * 3600 * 1_000_000_000;

fn shop() -> (Vec<UnifiedEvent>, Vec<Relation>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/shop-incident");
    let c = read_paths(&[path], &ReplayOptions::default()).unwrap();
    (c.events, c.relations)
}

/// The capture's events, happening again `k` times six hours later (fresh event ids).
fn again(events: &[UnifiedEvent], k: i64) -> Vec<UnifiedEvent> {
    let mut out: Vec<UnifiedEvent> = events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.event_id = format!("{}#{k}", e.event_id);
            e.event_time += k * SIX_HOURS;
            e.observed_time += k * SIX_HOURS;
            e
        })
        .collect();
    out.sort_by_key(|e| e.event_time);
    out
}

/// Stories of the occurrences `ks`, through one engine that first remembers `past`.
async fn run(ks: &[i64], past: &memory::History) -> Vec<Story> {
    run_all(ks, past).await.0
}

/// Stories, correlations and event batches of the occurrences `ks` (see [`run`]).
async fn run_all(
    ks: &[i64],
    past: &memory::History,
) -> (Vec<Story>, Vec<Correlation>, Vec<RecordBatch>) {
    let (events, relations) = shop();
    let mut engine = Engine::new(EngineConfig {
        partitions: 1,
        ..EngineConfig::default()
    })
    .await
    .unwrap();
    engine.set_topology(&relations).await.unwrap();
    engine.remember(past);
    let (mut stories, mut correlations, mut batches) = (Vec::new(), Vec::new(), Vec::new());
    for k in ks {
        for chunk in again(&events, *k).chunks(16) {
            let b = events_to_batch(chunk);
            batches.push(b.clone());
            let out = engine.push(b).await.unwrap();
            stories.extend(out.stories);
            correlations.extend(out.correlations);
        }
    }
    let out = engine.finish().await.unwrap();
    stories.extend(out.stories);
    correlations.extend(out.correlations);
    (stories, correlations, batches)
}

/// Rows of a query over the history in `data`, as JSON objects.
async fn query(data: &DataDir, sql: &str) -> Vec<serde_json::Value> {
    let ctx = tapio_engine::sql::session(data).await.unwrap();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let mut w = arrow::json::ArrayWriter::new(Vec::new());
    for b in &batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    let out = w.into_inner();
    if out.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice(&out).unwrap()
}

/// The story of occurrence `k` blaming `root` (`Kind/namespace/name`) with `pattern`.
fn find<'a>(stories: &'a [Story], k: i64, pattern: &str, root: &str) -> &'a Story {
    let start = stories.iter().map(|s| s.first_seen).min().unwrap();
    stories
        .iter()
        .find(|s| {
            let r = &s.root_cause;
            s.pattern == pattern
                && format!("{}/{}/{}", r.kind, r.namespace, r.name) == root
                && (s.first_seen - start) / SIX_HOURS == k
        })
        .unwrap_or_else(|| panic!("no {pattern} story on {root} in occurrence {k}"))
}

fn assert_third_time(stories: &[Story]) {
    // Each occurrence tells the same stories as the capture once.
    assert_eq!(stories.len() % 3, 0, "{}", stories.len());
    let (pattern, root) = {
        let first = stories
            .iter()
            .min_by_key(|s| (s.first_seen, &s.id))
            .unwrap();
        let r = &first.root_cause;
        (
            first.pattern.clone(),
            format!("{}/{}/{}", r.kind, r.namespace, r.name),
        )
    };
    let (s0, s1, s2) = (
        find(stories, 0, &pattern, &root),
        find(stories, 1, &pattern, &root),
        find(stories, 2, &pattern, &root),
    );
    assert_eq!(s0.recurrence, None, "the first time is not a recurrence");
    assert_eq!(s1.recurrence.as_ref().map(|r| r.count), Some(2));
    let r = s2.recurrence.as_ref().expect("the third time recurs");
    assert_eq!(
        (r.count, r.since, r.previous),
        (3, s0.first_seen, s1.first_seen)
    );
    assert_eq!(r.period_secs, Some(6 * 3600));
    assert!(
        s2.summary.contains("Recurring: the 3rd time since"),
        "{}",
        s2.summary
    );
    assert!(s2.summary.ends_with("about every 6 h."), "{}", s2.summary);
    // The earlier occurrences are its most similar incidents, newest first.
    let similar: Vec<&str> = s2.similar_incidents.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        similar[..2],
        [s1.id.as_str(), s0.id.as_str()],
        "{similar:?}"
    );
    assert!(s2.similar_incidents[0].similarity > 0.9);
}

#[tokio::test]
async fn an_incident_every_six_hours_is_told_as_recurring() {
    let stories = run(&[0, 1, 2], &Default::default()).await;
    assert_third_time(&stories);
}

#[tokio::test]
async fn recurrence_reaches_into_the_stored_history() {
    // Two occurrences in an earlier run, stored as Parquet; the third in a new engine that
    // starts from the stored history.
    let earlier = run(&[0, 1], &Default::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path().to_str().unwrap()).unwrap();
    let stories_table = TABLES.iter().find(|t| t.name == "stories").unwrap();
    let batch = to_batch(story_schema(), &earlier).unwrap();
    data.append(stories_table, &[batch]).await.unwrap();
    let past = memory::load(&data).await.unwrap();
    assert_eq!(past.len(), earlier.len());
    // Stored with its signature, each story loads with it and without its timeline.
    for (p, sig) in &past.stories {
        let told = earlier.iter().find(|s| s.id == p.id).unwrap();
        assert_eq!(*sig, Some(memory::signature(told)), "{}", p.id);
        assert!(p.timeline.is_empty());
        assert_eq!(
            (&p.title, p.first_seen, &p.root_cause),
            (&told.title, told.first_seen, &told.root_cause)
        );
    }
    let third = run(&[2], &past).await;
    let mut all = earlier.clone();
    all.extend(third);
    assert_third_time(&all);
}

#[tokio::test]
async fn a_history_stored_without_signatures_still_recurs() {
    // Stories stored by a build before signatures were: the Parquet has no such column.
    let earlier = run(&[0, 1], &Default::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let day = tapio_schemas::time::format_ns(earlier[0].first_seen)[..10].to_string();
    let part = dir.path().join(format!("stories/date={day}"));
    std::fs::create_dir_all(&part).unwrap();
    let batch = to_batch(story_schema(), &earlier).unwrap();
    let file = std::fs::File::create(part.join("part-old.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let data = DataDir::open(dir.path().to_str().unwrap()).unwrap();
    let past = memory::load(&data).await.unwrap();
    assert_eq!(past.len(), earlier.len());
    // No signature stored: the timeline's first lines are read, and sign as when told.
    for (p, sig) in &past.stories {
        let told = earlier.iter().find(|s| s.id == p.id).unwrap();
        assert_eq!(*sig, None);
        assert_eq!(memory::signature(p), memory::signature(told), "{}", p.id);
    }
    let third = run(&[2], &past).await;
    let mut all = earlier.clone();
    all.extend(third);
    assert_third_time(&all);
}

#[tokio::test]
async fn the_sql_examples_answer_over_a_recurring_history() {
    let (stories, correlations, events) = run_all(&[0, 1, 2], &Default::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::open(dir.path().to_str().unwrap()).unwrap();
    let [events_t, corr_t, _, stories_t] = TABLES;
    data.append(&events_t, &events).await.unwrap();
    let c = to_batch(correlation_schema(), &correlations).unwrap();
    data.append(&corr_t, &[c]).await.unwrap();
    let s = to_batch(story_schema(), &stories).unwrap();
    data.append(&stories_t, &[s]).await.unwrap();
    let example = |name: &str| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../queries/examples")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };

    // Every story of the capture recurs three times, six hours apart.
    let rows = query(&data, &example("recurring-this-month.sql")).await;
    assert_eq!(rows.len(), stories.len() / 3, "{rows:?}");
    for r in &rows {
        assert_eq!(r["times"], 3, "{r}");
        assert_eq!(r["every_hours"], 6.0, "{r}");
    }

    // The latest story's similar incidents: its two earlier occurrences first.
    let latest = stories
        .iter()
        .max_by_key(|s| (s.first_seen, &s.id))
        .unwrap();
    let rows = query(&data, &example("similar-to-story.sql")).await;
    let ids: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["similar_id"].as_str())
        .collect();
    let want: Vec<&str> = latest
        .similar_incidents
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert!(want.len() >= 2, "{want:?}");
    assert_eq!(ids, want, "{rows:?}");
    assert!(rows.iter().all(|r| r["story"] == latest.id.as_str()));

    // In SQL with the UDFs: each story pairs with its other occurrences.
    let rows = query(&data, &example("similar-stories-by-text.sql")).await;
    for s in &stories {
        let pairs = rows
            .iter()
            .filter(|r| r["story"] == s.title.as_str() && r["similar_story"] == s.title.as_str())
            .count();
        assert!(
            pairs >= 1,
            "{} pairs with its recurrences: {rows:?}",
            s.title
        );
    }

    // Why are the first two events of the latest story related: one row per story
    // holding both, with how each was linked.
    let rows = query(&data, &example("why-related.sql")).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r["story"], latest.title.as_str());
    for k in ["linked_a", "linked_b", "pattern_a", "pattern_b", "blamed"] {
        assert!(r[k].as_str().is_some_and(|v| !v.is_empty()), "{k}: {r}");
    }
    assert!(r["seconds_apart"].as_i64().is_some_and(|s| s >= 0), "{r}");
    for k in [
        "confidence_a",
        "confidence_b",
        "temporal_b",
        "spatial_b",
        "ownership_b",
        "dependency_b",
        "semantic_b",
    ] {
        assert!(
            r[k].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)),
            "{k}: {r}"
        );
    }
    // The first event of the latest story is a signal naming its root object.
    assert_eq!(r["linked_a"], "subject", "{r}");

    // The graph edges that joined signals are stored: each names an earlier signal of
    // the same story, with a confidence at least the threshold.
    let rows = query(
        &data,
        "SELECT c.joined_confidence AS confidence, j.event_id AS other, \
                c.event_time >= j.event_time AS earlier, j.pattern AS other_pattern \
         FROM correlations c LEFT JOIN correlations j \
           ON j.story_id = c.story_id AND j.event_id = c.joined_by \
         WHERE c.joined_by IS NOT NULL",
    )
    .await;
    assert!(!rows.is_empty(), "no signal was joined by an edge");
    for r in &rows {
        assert!(r["other"].is_string(), "{r}");
        assert_eq!(r["earlier"], true, "{r}");
        assert_ne!(r["other_pattern"], "context", "{r}");
        assert!(
            r["confidence"]
                .as_f64()
                .is_some_and(|c| c >= tapio_engine::graph::DEFAULT_THRESHOLD),
            "{r}"
        );
    }
}
