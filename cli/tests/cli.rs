//! The `tapio` binary as a user runs it.

use std::process::Command;

fn tapio(args: &[&str]) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/shop-incident");

#[test]
fn replay_json_is_byte_identical_and_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (a, err, ok) = tapio(&["replay", EXAMPLE, "--output", "json", "--data-dir", data]);
    assert!(ok, "{err}");
    assert_eq!(a.lines().count(), 3, "{a}");
    assert!(err.contains("0 rejected"), "{err}");
    assert!(
        err.contains("events/s"),
        "the run ends with a summary line: {err}"
    );
    let (b, err2, ok) = tapio(&["replay", EXAMPLE, "--output", "json", "--data-dir", data]);
    assert!(ok);
    assert_eq!(a, b, "same input, byte-identical output");
    assert!(err2.contains("stored 0 new rows"), "{err2}");
    for line in a.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for k in [
            "id",
            "pattern",
            "title",
            "summary",
            "severity",
            "confidence",
            "root_cause",
            "affected",
            "timeline",
            "recommendations",
            "first_seen",
            "last_seen",
            "event_ids",
        ] {
            assert!(v.get(k).is_some(), "story lacks {k}");
        }
    }

    let (csv, err, ok) = tapio(&[
        "sql",
        "--data-dir",
        data,
        "--format",
        "csv",
        "SELECT pattern, root_cause['kind'] AS kind FROM stories ORDER BY first_seen",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        csv,
        "pattern,kind\nconfig-missing,ConfigMap\ncascading-failure,StatefulSet\nnode-service-failure,Node\n"
    );
    let (table, _, ok) = tapio(&[
        "sql",
        "--data-dir",
        data,
        "SELECT count(*) AS n FROM stories",
    ]);
    assert!(ok && table.contains("| 3 |"), "{table}");
    // A query from a file: one of the examples, over the latest story.
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../queries/examples/why-related.sql"
    );
    let (json, err, ok) = tapio(&[
        "sql",
        "--data-dir",
        data,
        "--format",
        "json",
        "--file",
        example,
    ]);
    assert!(ok, "{err}");
    let row: serde_json::Value = serde_json::from_str(json.lines().next().unwrap_or("")).unwrap();
    assert_eq!(row["story"], "Node node-c: kubelet down", "{row}");
    assert_eq!(row["linked_a"], "subject", "{row}");
    assert_eq!(row["blamed"], "Node//node-c", "{row}");
    let (table, _, ok) = tapio(&[
        "sql",
        "--data-dir",
        data,
        "--file",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../queries/examples/recurring-this-month.sql"
        ),
    ]);
    assert!(ok && table.trim() == "(no rows)", "{table}");
}

#[test]
fn text_output_tells_the_story() {
    let (out, err, ok) = tapio(&["replay", EXAMPLE, "--no-store"]);
    assert!(ok, "{err}");
    for want in [
        "3 incident stories",
        "Root cause: StatefulSet shop/mysql — OOMKilled",
        "Timeline:",
        "What to do:",
        "Impact:",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}

#[test]
fn bad_input_is_named() {
    let (_, err, ok) = tapio(&["replay", "/no/such/capture", "--no-store"]);
    assert!(!ok);
    assert!(err.contains("/no/such/capture"), "{err}");
    let (_, err, ok) = tapio(&["sql", "--data-dir", "ftp://x", "SELECT 1"]);
    assert!(!ok);
    assert!(err.contains("ftp://x"), "{err}");
    let (_, err, ok) = tapio(&["sql", "--file", "/no/such/query.sql"]);
    assert!(!ok);
    assert!(err.contains("/no/such/query.sql"), "{err}");
}

/// A generated capture with one incident of each injected pattern: every incident is
/// found, with its root cause, in one story each, and the routine churn around them
/// makes no story of its own beyond the few the engine is known to tell (see the
/// README's accuracy figures).
#[test]
fn generated_incidents_are_found_with_their_root_causes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (_, err, ok) = tapio(&[
        "generate",
        "--seed",
        "11",
        "--events",
        "3000",
        "--incidents",
        "7",
        "--out",
        out,
    ]);
    assert!(ok, "{err}");
    let capture = format!("{out}/capture");
    let labels = format!("{out}/labels.json");
    let (_, err, ok) = tapio(&[
        "replay",
        &capture,
        "--labels",
        &labels,
        "--output",
        "none",
        "--no-store",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("0 rejected"), "{err}");
    assert!(err.contains("incidents detected   7/7"), "{err}");
    assert!(err.contains("root cause top-1     7/7"), "{err}");
    assert!(err.contains("incidents split      0"), "{err}");
    assert!(err.contains("F1 1.000"), "{err}");
}
