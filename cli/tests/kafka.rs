//! Arrow over Kafka, end to end, against a real broker (tansu) started by the test:
//! `tapio replay --sink` publishes captures, `tapio run --source` consumes them in a
//! consumer group, and a plain Kafka consumer reads the stories topic. The stories must
//! equal what `tapio replay` tells for the same captures — once each, through an engine
//! killed mid-stream, a broker restart and two instances sharing the partitions.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::Value;
use tapio_ingest::kafka::{KafkaConfig, Publisher, StoryLog, admin};
use tapio_schemas::{Story, wire};

#[path = "support/servers.rs"]
mod servers;
#[allow(dead_code)] // json_lines is for the other live tests
mod support;
use servers::{Moto, Tansu};

const SHOP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/shop-incident");
const INFRA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/cluster-info-dump");
const TAPIO: &str = env!("CARGO_BIN_EXE_tapio");
/// The engine settings `tapio replay` uses, so both tell the same stories.
const ENGINE: [&str; 4] = ["--window-secs", "60", "--idle-timeout-secs", "900"];

/// What `tapio replay` tells for a capture: story id → story.
fn replay(capture: &str, cluster: &str) -> BTreeMap<String, Value> {
    let out = Command::new(TAPIO)
        .args([
            "replay",
            capture,
            "--output",
            "json",
            "--no-store",
            "--cluster",
            cluster,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["id"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

/// `tapio replay CAPTURE --sink kafka://…`.
fn publish(broker: &Tansu, capture: &str, cluster: &str, extra: &[&str]) {
    let out = Command::new(TAPIO)
        .args([
            "replay",
            capture,
            "--cluster",
            cluster,
            "--sink",
            &broker.url(),
        ])
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("published"), "{err}");
}

/// `tapio run --source kafka://…` in the background, history in `data`.
fn consume(broker: &Tansu, data: &std::path::Path, extra: &[&str]) -> Child {
    Command::new(TAPIO)
        .args([
            "run",
            "--source",
            &broker.url(),
            "--output",
            "json",
            "--commit-secs",
            "1",
        ])
        .args(["--data-dir", data.to_str().unwrap()])
        .args(ENGINE)
        .args(extra)
        .env("TAPIO_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// SIGTERM, then the run's stderr once it drained and exited.
fn stop(mut child: Child) -> String {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            assert!(status.success(), "tapio run failed: {err}");
            return err;
        }
        assert!(
            Instant::now() < deadline,
            "tapio run did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One message of the stories topic, as a plain consumer sees it.
#[derive(Debug, Clone)]
struct StoryMessage {
    /// (partition, offset), for the failure messages.
    at: (i32, i64),
    key: String,
    state_header: String,
    story: Value,
}

/// A plain consumer (no group) of every partition of `topic`, from the start.
fn reader(broker: &Tansu, topic: &str, deadline: Instant) -> BaseConsumer {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "test-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    let parts = loop {
        let md = c.fetch_metadata(Some(topic), Duration::from_secs(5));
        if let Ok(md) = md
            && let Some(t) = md.topics().first()
            && !t.partitions().is_empty()
        {
            break t.partitions().len();
        }
        assert!(Instant::now() < deadline, "no topic {topic}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    c
}

/// Reads the stories topic from the start with a plain consumer (no group) until `done`
/// holds for what was read, or the timeout.
fn read_stories(
    broker: &Tansu,
    timeout: Duration,
    done: impl Fn(&[StoryMessage]) -> bool,
) -> Vec<StoryMessage> {
    let deadline = Instant::now() + timeout;
    let c = reader(broker, "tapio.stories", deadline);
    let mut out = Vec::new();
    while !done(&out) && Instant::now() < deadline {
        let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else {
            continue;
        };
        // One record per offset, as any consumer that tracks offsets reads a topic. After
        // a restart tansu has handed this reader the same offset twice (partition 0,
        // offset 2, the same story): one record, not a duplicate send.
        let at = (m.partition(), m.offset());
        if out.iter().any(|o: &StoryMessage| o.at == at) {
            continue;
        }
        // A consumer skips what it does not know: fences after a failed send (docs/kafka.md).
        let kind = m
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == "tapio.kind"))
            .and_then(|h| h.value);
        if kind != Some(b"story".as_slice()) {
            continue;
        }
        let state_header = m
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == "tapio.state"))
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        out.push(StoryMessage {
            at,
            key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
            state_header,
            story: serde_json::from_slice(m.payload().unwrap()).unwrap(),
        });
    }
    out
}

fn resolved(msgs: &[StoryMessage]) -> Vec<&Value> {
    msgs.iter()
        .filter(|m| m.story["state"] == "resolved")
        .map(|m| &m.story)
        .collect()
}

/// Every story of `expected` is on the topic resolved exactly once, equal to replay's,
/// and no (story, state) pair is there twice.
fn assert_same_stories(msgs: &[StoryMessage], expected: &BTreeMap<String, Value>) {
    let mut pairs = BTreeSet::new();
    for m in msgs {
        assert_eq!(m.key, m.story["id"].as_str().unwrap(), "keyed by story id");
        assert_eq!(m.state_header, m.story["state"].as_str().unwrap());
        assert!(
            pairs.insert((m.key.clone(), m.state_header.clone())),
            "{} published twice as {}: {:?}",
            m.key,
            m.state_header,
            msgs.iter()
                .map(|m| (m.at, &m.key[..8], &m.state_header))
                .collect::<Vec<_>>()
        );
    }
    let got: BTreeMap<String, Value> = resolved(msgs)
        .into_iter()
        .map(|s| (s["id"].as_str().unwrap().to_string(), s.clone()))
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the stories replay tells; only on the topic: {:#?}; only in replay: {:#?}",
        got.iter()
            .filter(|(k, _)| !expected.contains_key(*k))
            .collect::<Vec<_>>(),
        expected
            .iter()
            .filter(|(k, _)| !got.contains_key(*k))
            .collect::<Vec<_>>()
    );
    for (id, want) in expected {
        assert_eq!(&got[id], want, "story {id} differs from replay's");
    }
}

/// The first row of a query over the history, as numbers.
fn sql_numbers(data: &std::path::Path, query: &str) -> Vec<u64> {
    let dir = data.to_str().unwrap();
    let out = Command::new(TAPIO)
        .args(["sql", "--data-dir", dir, "--format", "csv", query])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    s.lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect()
}

/// Rows of the events table in the history, and how many distinct event ids.
fn event_rows(data: &std::path::Path) -> (u64, u64) {
    let q = "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events";
    let v = sql_numbers(data, q);
    (v[0], v[1])
}

fn replay_events(capture: &str) -> u64 {
    let out = Command::new(TAPIO)
        .args(["replay", capture, "--output", "none", "--no-store"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = err
        .lines()
        .find(|l| l.contains("events →"))
        .unwrap()
        .to_string();
    line.trim_start_matches("tapio: ")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn stories_through_kafka_equal_replay() {
    let Some(broker) = Tansu::memory() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let expected = replay(SHOP, "shop");
    assert_eq!(expected.len(), 3);
    publish(&broker, SHOP, "shop", &[]);
    let run = consume(&broker, dir.path(), &[]);
    let msgs = read_stories(&broker, Duration::from_secs(90), |m| {
        resolved(m).len() >= expected.len()
    });
    let err = stop(run);
    eprintln!("tapio run's stderr:\n{err}");
    assert_same_stories(&msgs, &expected);
    // Each story was announced active before it resolved.
    for id in expected.keys() {
        let states: Vec<&str> = msgs
            .iter()
            .filter(|m| &m.key == id)
            .map(|m| m.state_header.as_str())
            .collect();
        assert_eq!(states, ["active", "resolved"], "{id}");
    }
    assert!(err.contains("65 events"), "{err}");
    let (rows, distinct) = event_rows(dir.path());
    assert_eq!((rows, distinct), (65, 65));
    // The topology the stories were told against is in the history as well.
    let topo = sql_numbers(
        dir.path(),
        "SELECT count(*) FROM topology WHERE cluster = 'shop'",
    );
    assert!(topo[0] > 0, "topology rows");
    // Each events message names the topology snapshot sent before it: the shop cluster's.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (events, topology) = (
        reader(&broker, "tapio.events", deadline),
        reader(&broker, "tapio.topology", deadline),
    );
    let header = |m: &rdkafka::message::BorrowedMessage<'_>, key: &str| {
        m.headers()
            .and_then(|h| h.iter().find(|h| h.key == key))
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    let mut named = BTreeSet::new();
    while named.is_empty() && Instant::now() < deadline {
        let Some(Ok(m)) = events.poll(Duration::from_millis(100)) else {
            continue;
        };
        if header(&m, wire::HEADER_KIND).as_deref() == Some(wire::KIND_EVENTS) {
            let at = header(&m, wire::HEADER_TOPOLOGY).expect("a tapio.topology header");
            named.insert(wire::parse_topology_position(&at).expect("PARTITION:OFFSET"));
        }
    }
    let mut snapshots = BTreeMap::new();
    while snapshots.is_empty() && Instant::now() < deadline {
        if let Some(Ok(m)) = topology.poll(Duration::from_millis(100)) {
            snapshots.insert((m.partition(), m.offset()), m.key().map(<[u8]>::to_vec));
        }
    }
    let at = named.first().expect("an events message");
    assert_eq!(
        snapshots.get(at),
        Some(&Some(b"shop".to_vec())),
        "{named:?} names the shop snapshot of {snapshots:?}"
    );
}

/// A story send can fail after the broker stored it. The publisher then learns from the
/// topic itself whether it is there: it writes a fence and reads up to it, so the story is
/// not sent twice, and the fence is neither a story nor unreadable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_story_stored_by_a_failed_send_is_not_sent_again() {
    let Some(broker) = Tansu::memory() else {
        return;
    };
    let k = KafkaConfig::parse(&broker.url()).unwrap();
    admin::ensure_topics(&k).await.unwrap();
    let p = Publisher::new(&k).unwrap();
    let log = StoryLog::start(&k).await.unwrap();
    let stories: Vec<Story> = replay(SHOP, "shop")
        .into_values()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    let (stored, new) = (&stories[0], &stories[1]);
    // What a send that failed after the broker stored it leaves behind: the story on the
    // topic, and a publisher that does not know.
    p.send_story(stored).await.unwrap();
    p.read_past_fence(&stored.id, &log).await.unwrap();
    assert!(log.published(stored));
    assert!(!log.published(new));
    assert_eq!(log.unreadable(), 0, "a fence is not an unreadable story");
    assert!(
        !p.send_story_once(stored, &log, 3).await.unwrap(),
        "sent again"
    );
    assert!(p.send_story_once(new, &log, 3).await.unwrap());
    // Both sends were acknowledged: whatever the topic holds is readable within seconds.
    let msgs = tokio::task::spawn_blocking(move || {
        read_stories(&broker, Duration::from_secs(5), |m| m.len() > 2)
    })
    .await
    .unwrap();
    let keys: BTreeSet<&str> = msgs.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(msgs.len(), 2, "{keys:?}");
    assert_eq!(keys, BTreeSet::from([stored.id.as_str(), new.id.as_str()]));
}

#[test]
fn a_node_agent_sends_kernel_events_as_arrow() {
    let Some(broker) = Tansu::memory() else {
        return;
    };
    let mut cmd = Command::new(TAPIO);
    cmd.args([
        "run",
        "--collectors",
        "ebpf",
        "--probes",
        "exit",
        "--cluster",
        "node-agent",
    ])
    .args(["--sink", &broker.url()]);
    let Some(agent) = support::start_live(cmd) else {
        return;
    };
    let status = Command::new("sh").args(["-c", "exit 3"]).status().unwrap();
    assert_eq!(status.code(), Some(3));
    let pid = agent.id().to_string();
    // SIGTERM: the agent drains its batcher into the topic before it exits.
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = agent.wait_with_output().unwrap();
    assert!(out.status.success(), "the agent exited {}", out.status);
    // A plain consumer of the events topic: Arrow IPC values, keyed by the cluster.
    let deadline = Instant::now() + Duration::from_secs(30);
    let c = reader(&broker, "tapio.events", deadline);
    let mut found = false;
    while !found && Instant::now() < deadline {
        let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else {
            continue;
        };
        assert_eq!(m.key(), Some(&b"node-agent"[..]));
        let kind = m
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == wire::HEADER_KIND))
            .and_then(|h| h.value);
        assert_eq!(kind, Some(wire::KIND_EVENTS.as_bytes()));
        let (_, batches) = wire::decode_ipc(m.payload().unwrap().to_vec()).unwrap();
        for b in &batches {
            found |= tapio_schemas::events_from_batch(b)
                .unwrap()
                .iter()
                .any(|e| {
                    e.event_type == "kernel.process_exit"
                        && e.comm.as_deref() == Some("sh")
                        && e.exit_code == Some(3)
                        && e.cluster == "node-agent"
                });
        }
    }
    assert!(found, "the exit of `sh -c 'exit 3'` on the events topic");
}

#[test]
fn engine_killed_mid_stream_and_a_producer_retry_double_nothing() {
    let Some(broker) = Tansu::memory() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut expected = replay(SHOP, "shop");
    expected.extend(replay(INFRA, "infra"));
    // Static membership: the restarted instance takes its partitions back at once (tansu,
    // like a broker with a long session timeout, keeps a killed member's partitions).
    let member = ["--kafka-option", "group.instance.id=tapio-0"];
    publish(&broker, SHOP, "shop", &[]);
    let mut run = consume(&broker, dir.path(), &member);
    // Killed (no drain, no final commit) as soon as its first story is out.
    read_stories(&broker, Duration::from_secs(90), |m| !m.is_empty());
    run.kill().unwrap();
    run.wait().unwrap();
    // Meanwhile a producer retried: the same capture again, then a new one.
    publish(&broker, SHOP, "shop", &[]);
    publish(&broker, INFRA, "infra", &[]);
    let run = consume(&broker, dir.path(), &member);
    let msgs = read_stories(&broker, Duration::from_secs(120), |m| {
        resolved(m).len() >= expected.len()
    });
    // Give a duplicate, if one were coming, the time to arrive.
    std::thread::sleep(Duration::from_secs(3));
    let err = stop(run);
    eprintln!("tapio run's stderr:\n{err}");
    let msgs = read_stories(&broker, Duration::from_secs(10), |m| m.len() >= msgs.len());
    assert_same_stories(&msgs, &expected);
    let skipped: u64 = err
        .split([',', ';'])
        .find_map(|p| p.trim().strip_suffix(" already on the topic"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary: {err}"));
    assert!(
        skipped > 0,
        "the re-read capture's stories were recognised: {err}"
    );
    let (rows, distinct) = event_rows(dir.path());
    let want = replay_events(SHOP) + replay_events(INFRA);
    assert_eq!(
        (rows, distinct),
        (want, want),
        "every event once in the history"
    );
}

#[test]
fn broker_restarted_mid_stream() {
    let Some(moto) = Moto::start() else {
        return;
    };
    let Some(mut broker) = Tansu::on_s3(&moto, "tansu") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut expected = replay(SHOP, "shop");
    expected.extend(replay(INFRA, "infra"));
    let run = consume(&broker, dir.path(), &[]);
    publish(&broker, SHOP, "shop", &[]);
    read_stories(&broker, Duration::from_secs(90), |m| !m.is_empty());
    broker.restart();
    // The consumer reconnects by itself; the second capture goes through the new broker.
    publish(&broker, INFRA, "infra", &[]);
    let msgs = read_stories(&broker, Duration::from_secs(120), |m| {
        resolved(m).len() >= expected.len()
    });
    let err = stop(run);
    eprintln!("tapio run's stderr:\n{err}");
    assert_same_stories(&msgs, &expected);
    let (rows, distinct) = event_rows(dir.path());
    let want = replay_events(SHOP) + replay_events(INFRA);
    assert_eq!((rows, distinct), (want, want), "{err}");
}

#[test]
fn two_instances_in_a_group_tell_the_same_stories_as_one() {
    let Some(broker) = Tansu::memory() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut expected = replay(SHOP, "shop");
    expected.extend(replay(INFRA, "infra"));
    // Two partitions; librdkafka's default partitioner puts key "shop" on 0 and "infra"
    // on 1 (CRC32 of the key), so each instance gets one cluster.
    let parts = ["--partitions", "2"];
    let a = consume(&broker, dir.path(), &parts);
    let b = consume(&broker, dir.path(), &parts);
    // Both members joined before the data arrives (the group settles in a few seconds).
    std::thread::sleep(Duration::from_secs(8));
    publish(&broker, SHOP, "shop", &parts);
    publish(&broker, INFRA, "infra", &parts);
    let msgs = read_stories(&broker, Duration::from_secs(120), |m| {
        resolved(m).len() >= expected.len()
    });
    let (ea, eb) = (stop(a), stop(b));
    eprintln!("tapio runs' stderr:\n{ea}\n{eb}");
    assert_same_stories(&msgs, &expected);
    for err in [&ea, &eb] {
        assert!(
            !err.contains("tapio: 0 messages"),
            "both instances took a partition:\n{ea}\n{eb}"
        );
    }
}
