//! Story context: an incident that builds up over several windows still tells its pods'
//! earlier history once its evidence crosses the threshold (a building incident fetches
//! only its signals' rows until then).

mod common;

use common::*;
use serde_json::json;

const NS: &str = "shop";
const POD: &str = "web-7d4f9c8b5-x2k9q";
const RS: &str = "web-7d4f9c8b5";

#[test]
fn history_before_the_threshold_is_in_the_story() {
    let mut objs = deployment(NS, "web", "7d4f9c8b5");
    objs.push(pod(NS, POD, RS, "node-a", "web", json!([]), json!([])));
    let routine = event(
        NS,
        "Pod",
        POD,
        "Pulled",
        "Successfully pulled image \"shop/web:1.4\" in 1.2s",
        "10:00:00",
        1,
        false,
    );
    let backoff = |first: &str| {
        container_event(
            NS,
            POD,
            "spec.containers{app}",
            "BackOff",
            "Back-off restarting failed container app in pod web-7d4f9c8b5-x2k9q_shop(uid)",
            first,
            1,
        )
    };
    // One back-off is half the evidence: the incident builds for four windows, then the
    // second makes it a story.
    objs.extend([routine, backoff("10:05:00"), backoff("10:09:00")]);
    let stories = replay(objs);
    assert_eq!(
        summary(&stories),
        ["crashloop Deployment/shop/web CrashLoopBackOff"]
    );
    let texts: Vec<&str> = stories[0]
        .timeline
        .iter()
        .map(|e| e.text.as_str())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("Successfully pulled")),
        "the pod's history before the threshold: {texts:?}"
    );
    assert_eq!(stories[0].timeline.len(), 3, "{texts:?}");
}
