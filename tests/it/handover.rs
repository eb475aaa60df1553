//! Pub/sub mode, one writer at a time: an instance started beside the writer (a rolling
//! update) stands by, buffering, and takes over exactly where the old writer stopped when
//! that one hands over at SIGTERM: no sample lost, none counted twice, no window
//! overwritten.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::arclamp::{list, read_log, Arclamp, Producing, TestDir};
use crate::redis_server::RedisServer;

/// Publishes numbered samples on `channel`, about 500 messages a second, each one
/// collapsed line of count 1 or 2, until stopped; hands back what it sent.
fn publisher(redis: &RedisServer, channel: &'static str) -> Producing<BTreeMap<String, u64>> {
    Producing::start(
        redis,
        Duration::from_millis(2),
        move |con, i, sent: &mut BTreeMap<String, u64>| {
            let stack = format!(
                "/srv/mw/index.php;MediaWiki::run;Frame{};Leaf{}",
                i % 41,
                i % 7
            );
            let count = 1 + i % 2;
            let _: i64 = redis::cmd("PUBLISH")
                .arg(channel)
                .arg(format!("{stack} {count}"))
                .query(con)
                .expect("PUBLISH");
            *sent.entry(stack).or_default() += count;
        },
    )
}

/// Every stack and its count summed over all of a period's `all` logs of `excimer` (the
/// test may cross an hour or a day).
fn stored(storage: &Path, period: &str) -> BTreeMap<String, u64> {
    let mut sum = BTreeMap::new();
    for name in list(storage, &format!("logs/{period}")) {
        if name.ends_with(".excimer.all.log.gz") {
            for (stack, count) in read_log(storage, &format!("logs/{period}/{name}")) {
                *sum.entry(stack).or_default() += count;
            }
        }
    }
    sum
}

const WRITER: &str = "arclamp_pubsub_writer";
const RECEIVED: &str = "arclamp_samples_received_total{channel=\"excimer\"}";

#[test]
fn a_rolling_update_hands_over_without_losing_or_doubling_a_sample() {
    let redis = RedisServer::start();
    let shared = TestDir::new();
    let storage = shared.path().join("data");
    let config = format!(
        "[storage]\npath = \"{}\"\n[aggregation]\nflush_interval = \"500ms\"\n",
        storage.display()
    );
    let (dir_a, dir_b) = (TestDir::new(), TestDir::new());
    let mut old = Arclamp::start_in(dir_a.path(), &redis, &config);
    old.wait_metric(WRITER, Duration::from_secs(10), |v| v == 1.0);
    let publisher = publisher(&redis, "excimer");
    old.wait_metric(RECEIVED, Duration::from_secs(10), |v| v > 0.0);

    // The new instance beside the old one: subscribed, buffering, counting nothing.
    let mut new = Arclamp::start_in(dir_b.path(), &redis, &config);
    new.wait_metric(
        "arclamp_pubsub_standby_buffered_messages",
        Duration::from_secs(10),
        |v| v > 50.0,
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(new.metric(WRITER), 0.0, "{}", new.log());
    assert_eq!(new.metric(RECEIVED), 0.0, "a standby counts nothing");

    // Kubernetes now stops the old one; the new one takes over at its marker.
    assert!(old.stop(Duration::from_secs(30)).success(), "{}", old.log());
    assert!(
        old.log()
            .contains("every channel counted up to this instance's handover marker"),
        "{}",
        old.log()
    );
    new.wait_metric(WRITER, Duration::from_secs(20), |v| v == 1.0);
    assert_eq!(
        new.metric("arclamp_pubsub_takeovers_total{handover=\"yes\"}"),
        1.0,
        "{}",
        new.log()
    );
    let counted_before = new.metric(RECEIVED);
    new.wait_metric(RECEIVED, Duration::from_secs(10), |v| v > counted_before);
    let sent = publisher.stop();
    assert!(new.stop(Duration::from_secs(30)).success(), "{}", new.log());

    let total: u64 = sent.values().sum();
    for period in ["hourly", "daily"] {
        let got = stored(&storage, period);
        let got_total: u64 = got.values().sum();
        assert_eq!(
            got_total, total,
            "{period}: {got_total} samples stored where {total} were published"
        );
        assert_eq!(got, sent, "{period}: every stack exactly once");
    }
}

#[test]
fn an_instance_started_when_the_writer_is_gone_counts_from_its_start() {
    let redis = RedisServer::start();
    let shared = TestDir::new();
    let storage = shared.path().join("data");
    let config = format!(
        "[storage]\npath = \"{}\"\n[aggregation]\nflush_interval = \"500ms\"\n\
         [redis]\nurl = \"{}\"\nchannels = [\"excimer\"]\nwriter_lease = \"2s\"\n",
        storage.display(),
        redis.url()
    );
    let dir = TestDir::new();
    let mut first = Arclamp::start_in(dir.path(), &redis, &config);
    first.wait_metric(WRITER, Duration::from_secs(10), |v| v == 1.0);
    // Killed: its lease stays until it lapses. The next instance waits for it, buffering.
    first.kill();
    let mut next = Arclamp::start_in(dir.path(), &redis, &config);
    // Subscribed, standing by while the lease lapses: what arrives meanwhile is kept.
    let publisher = publisher(&redis, "excimer");
    next.wait_metric(WRITER, Duration::from_secs(20), |v| v == 1.0);
    assert_eq!(
        next.metric("arclamp_pubsub_takeovers_total{handover=\"no\"}"),
        1.0
    );
    let counted = next.metric(RECEIVED);
    next.wait_metric(RECEIVED, Duration::from_secs(10), |v| v > counted);
    let sent = publisher.stop();
    let total: u64 = sent.values().sum();
    next.wait_metric(RECEIVED, Duration::from_secs(20), |v| v == total as f64);
    assert!(next.stop(Duration::from_secs(30)).success());
    assert_eq!(
        stored(&storage, "daily"),
        sent,
        "what was published while the lease lapsed is counted"
    );
}
