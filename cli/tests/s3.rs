//! `--data-dir s3://...` against a real S3-protocol server on 127.0.0.1: moto's server
//! (PyPI `moto[server]`, installed by `.ci/run`). Outside CI, a machine without it skips
//! with a message; in CI (CI=true) its absence fails the test.

use std::process::Command;

#[allow(dead_code)] // the Kafka broker half is for tests/kafka.rs
#[path = "support/servers.rs"]
mod servers;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/shop-incident");

fn tapio(moto: &servers::Moto, args: &[&str]) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_tapio"))
        .args(args)
        .envs(moto.env())
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

#[test]
fn history_on_s3() {
    let Some(moto) = servers::Moto::start() else {
        return;
    };
    assert!(
        moto.http("PUT", "/tapio-history")
            .unwrap()
            .starts_with("HTTP/1.1 200"),
        "bucket creation"
    );
    let dir = "s3://tapio-history/prod/cluster-a";
    let (_, err, ok) = tapio(
        &moto,
        &["replay", EXAMPLE, "--output", "none", "--data-dir", dir],
    );
    assert!(ok, "{err}");
    assert!(!err.contains("stored 0 new rows"), "{err}");
    let (_, err, ok) = tapio(
        &moto,
        &["replay", EXAMPLE, "--output", "none", "--data-dir", dir],
    );
    assert!(
        ok && err.contains("stored 0 new rows"),
        "second replay must add nothing: {err}"
    );
    let (out, err, ok) = tapio(
        &moto,
        &[
            "sql",
            "--data-dir",
            dir,
            "--format",
            "csv",
            "SELECT count(*) AS n FROM stories",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "n\n3\n");
    // The objects are where the layout says.
    let listing = moto
        .http(
            "GET",
            "/tapio-history?list-type=2&prefix=prod/cluster-a/stories/",
        )
        .unwrap();
    assert!(
        listing.contains("prod/cluster-a/stories/date=2026-11-20/part-"),
        "{listing}"
    );
}
