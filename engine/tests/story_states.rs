//! Story states and the horizon, over the example capture fed in small batches: each
//! story goes active once, before it resolves, and nothing published after a horizon was
//! reported reaches back before it (what makes committing input up to it safe).

use std::collections::BTreeMap;
use std::path::PathBuf;

use tapio_engine::engine::state;
use tapio_engine::{Engine, EngineConfig};
use tapio_ingest::{ReplayOptions, read_paths};
use tapio_schemas::events_to_batch;

#[test]
fn stories_go_active_then_resolved_and_never_reach_behind_the_horizon() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/shop-incident");
    let capture = read_paths(&[path], &ReplayOptions::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut engine = Engine::new(EngineConfig {
            partitions: 1,
            // Short enough that incidents resolve while the capture still streams: the
            // node's story ends at 10:08:06, minutes before the capture's events do.
            window_secs: 10,
            idle_timeout_secs: 120,
            lookback_secs: 120,
            ..EngineConfig::default()
        })
        .await
        .unwrap();
        engine.set_topology(&capture.relations).await.unwrap();
        assert_eq!(engine.horizon(), None, "no window closed yet");
        // id → states in publication order.
        let mut states: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut horizon = i64::MIN;
        let mut resolved_mid_stream = 0;
        let mut events: Vec<_> = capture.events.clone();
        events.sort_by_key(|e| e.event_time);
        let n = events.len();
        for (i, chunk) in events.chunks(4).enumerate() {
            let out = engine.push(events_to_batch(chunk)).await.unwrap();
            if (i + 1) * 4 < n {
                resolved_mid_stream += out.stories.len();
            }
            for s in out.activated.iter().chain(out.stories.iter()) {
                assert!(
                    s.first_seen >= horizon,
                    "story {} starts at {} behind the horizon {horizon}",
                    s.id,
                    s.first_seen
                );
                states
                    .entry(s.id.clone())
                    .or_default()
                    .push(s.state.clone());
            }
            if let Some(h) = engine.horizon() {
                assert!(h >= horizon, "the horizon never moves back");
                horizon = h;
            }
        }
        for s in engine.finish().await.unwrap().stories {
            states
                .entry(s.id.clone())
                .or_default()
                .push(s.state.clone());
        }
        assert!(horizon > i64::MIN, "windows closed and evicted");
        assert!(
            resolved_mid_stream > 0,
            "some incidents resolved while streaming"
        );
        assert!(states.len() >= 3, "{states:?}");
        for (id, st) in &states {
            assert_eq!(
                st,
                &[state::ACTIVE.to_string(), state::RESOLVED.to_string()],
                "story {id}"
            );
        }
    });
}
