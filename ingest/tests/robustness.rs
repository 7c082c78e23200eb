//! No input panics a reader: random text and mutated real captures, in every format
//! replay detects. Whatever is not understood is counted or named, never dropped silently.

use std::path::PathBuf;

use proptest::prelude::*;
use tapio_ingest::{ReplayOptions, read_paths};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn replay(name: &str, bytes: &[u8]) -> tapio_ingest::Capture {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    read_paths(&[p], &ReplayOptions::default()).expect("a readable file is never a hard error")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_text_in_any_format(text in "[ -~\\n\\t{}\\[\\]\":,é€]{0,400}", ext in prop::sample::select(vec!["json", "yaml", "log", "jsonl"])) {
        let c = replay(&format!("x.{ext}"), text.as_bytes());
        prop_assert!(c.summary.files == 1);
    }

    #[test]
    fn mutated_watch_stream(cut in 0usize..3000, flip in 0usize..3000, byte in any::<u8>()) {
        let mut b = fixture("watch-stream.json");
        let n = b.len();
        b[flip % n] = byte;
        b.truncate(cut % n + 1);
        let c = replay("events.json", &b);
        // Every document is an event or a named problem.
        prop_assert!(c.events.len() + c.summary.duplicates <= c.summary.records);
    }

    #[test]
    fn mutated_journal_and_yaml(cut in 0usize..2500, flip in 0usize..2500, byte in any::<u8>()) {
        for (name, ext) in [("journal.json", "json"), ("events-v1.yaml", "yaml")] {
            let mut b = fixture(name);
            let n = b.len();
            b[flip % n] = byte;
            b.truncate(cut % n + 1);
            let c = replay(&format!("f.{ext}"), &b);
            let want = format!("f.{ext}");
            for p in &c.summary.problems {
                prop_assert!(p.file.ends_with(&want));
            }
        }
    }
}

/// Regression: resynchronising after a broken document that starts with a multi-byte
/// character sliced inside the character.
#[test]
fn broken_document_starting_with_multibyte_char() {
    let text =
        "é{\"kind\": \"Event\"\n{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": []}\n";
    let c = replay("stream.json", format!("\n{text}").as_bytes());
    assert_eq!(c.summary.problems.len(), 1);
}
