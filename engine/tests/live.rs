//! Live input: processing time closes windows and idle incidents when no newer event
//! arrives to move the watermark (`Engine::tick`).

use tapio_engine::{Engine, EngineConfig};
use tapio_schemas::{ObjectRef, Severity, UnifiedEvent, events_to_batch, source};

const S: i64 = 1_000_000_000;

fn oom(at: i64, id: &str) -> UnifiedEvent {
    let mut e = UnifiedEvent::new(
        id.into(),
        at,
        source::KERNEL,
        "kernel.oom_kill",
        Severity::Error,
        ObjectRef::new("Pod", "shop", "web-7d4f9c8b5-x2k9q"),
    );
    e.workload = Some(ObjectRef::new("Deployment", "shop", "web"));
    e.pod = Some("web-7d4f9c8b5-x2k9q".into());
    e.reason = Some("OOMKill".into());
    e.message = Some("Memory cgroup out of memory: Killed process 4242 (java)".into());
    e
}

#[tokio::test]
async fn tick_closes_idle_incidents_without_new_events() {
    let cfg = EngineConfig {
        window_secs: 10,
        idle_timeout_secs: 60,
        lateness_secs: 5,
        partitions: 1,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(cfg).await.unwrap();
    let t0 = 1_795_000_000 * S;
    let out = engine
        .push(events_to_batch(&[oom(t0, "a"), oom(t0 + S, "b")]))
        .await
        .unwrap();
    assert!(out.stories.is_empty());
    // Still within the idle timeout: the incident stays open.
    let out = engine.tick(t0 + 40 * S).await.unwrap();
    assert!(out.stories.is_empty());
    assert!(
        engine.stats().windows_evaluated >= 1,
        "the window with the kills ran"
    );
    // Past it: the story comes out with no further event and no finish().
    let out = engine.tick(t0 + 120 * S).await.unwrap();
    assert_eq!(out.stories.len(), 1);
    assert_eq!(out.stories[0].pattern, "oom-killed");
    assert_eq!(out.stories[0].event_ids.len(), 2);
    // A tick behind the watermark changes nothing.
    assert!(engine.tick(t0).await.unwrap().stories.is_empty());
    assert!(engine.finish().await.unwrap().stories.is_empty());
}
