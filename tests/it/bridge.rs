//! Bridge mode (`redis.source = "bridge"`): producers keep `PUBLISH`ing; the writer-lease
//! holder appends each message to the channel's stream at once and every replica counts
//! the streams. Killing the writer loses nothing that an instance standing by received,
//! a rolling update loses nothing and doubles nothing, a writer that missed messages while
//! resubscribing hands the lease to the instance that received them, a writer whose lease
//! was taken stands by again, and what is lost is exactly what was published while no
//! instance was subscribed (`PUBLISH` answered 0 receivers).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::arclamp::{wait_until, Arclamp, Producing, TestDir};
use crate::redis_server::RedisServer;
use crate::streams::served_log;

/// What the publisher sent, split by whether any instance was subscribed to receive it.
#[derive(Default)]
struct Sent {
    /// Stack -> count of messages at least one subscriber received.
    received: BTreeMap<String, u64>,
    /// Messages no one was subscribed to receive.
    unreceived: u64,
    /// UTC days the messages were published in (the windows to read back).
    days: std::collections::BTreeSet<String>,
}

/// Publishes a distinct stack on `excimer` every 2 ms (a bridging standby finds where the
/// old writer stopped by its last messages, so a test must not repeat them), noting
/// whether anyone received it.
fn publisher(redis: &RedisServer) -> Producing<Sent> {
    Producing::start(
        redis,
        Duration::from_millis(2),
        |con, i, sent: &mut Sent| {
            let stack = format!("/srv/mw/index.php;MediaWiki::run;Frame{i};Leaf{}", i % 7);
            sent.days
                .insert(chrono::Utc::now().format("%Y-%m-%d").to_string());
            let receivers: i64 = redis::cmd("PUBLISH")
                .arg("excimer")
                .arg(format!("{stack} 1"))
                .query(con)
                .expect("PUBLISH");
            if receivers > 0 {
                *sent.received.entry(stack).or_default() += 1;
            } else {
                sent.unreceived += 1;
            }
        },
    )
}

/// A bridge-mode instance's config: a 2 s writer lease, fast commits and claims.
pub(crate) fn bridge_config(redis: &RedisServer, storage: &Path) -> String {
    format!(
        "[redis]\nurl = \"{}\"\nchannels = [\"excimer\"]\nsource = \"bridge\"\n\
         writer_lease = \"2s\"\ncommit_interval = \"200ms\"\nclaim_after = \"1s\"\n\
         [storage]\npath = \"{}\"\n[aggregation]\nflush_interval = \"300ms\"\n\
         [render]\nworkers = 1\ninterval = \"1h\"\n",
        redis.url(),
        storage.display()
    )
}

const WRITER: &str = "arclamp_pubsub_writer";
const BUFFERED: &str = "arclamp_pubsub_standby_buffered_messages";

/// Wait until `replica` serves, over the days of `sent`, exactly the received messages,
/// but for at most `in_flight` of them (messages a killed lone instance had received and
/// not appended yet); none twice.
fn assert_counted_once(replica: &Arclamp, sent: &Sent, in_flight: u64) {
    let served = || {
        let mut sum: BTreeMap<String, u64> = BTreeMap::new();
        for day in &sent.days {
            let relative = format!("logs/daily/{day}.excimer.all.log.gz");
            for (stack, count) in served_log(replica, &relative).unwrap_or_default() {
                *sum.entry(stack).or_default() += count;
            }
        }
        sum
    };
    let expected: u64 = sent.received.values().sum();
    let mut last = BTreeMap::new();
    let done = (0..300).any(|_| {
        last = served();
        let within = last
            .iter()
            .all(|(s, &n)| sent.received.get(s).is_some_and(|&want| n <= want));
        let got: u64 = last.values().sum();
        if within && got + in_flight >= expected {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
        false
    });
    if !done {
        let got: u64 = last.values().sum();
        let doubled: Vec<_> = last
            .iter()
            .filter(|(s, &n)| sent.received.get(*s).is_some_and(|&want| n > want))
            .take(5)
            .collect();
        let lost = sent
            .received
            .keys()
            .filter(|s| !last.contains_key(*s))
            .count();
        panic!(
            "served {got} samples where {expected} were received: {lost} stacks lost, doubled \
             e.g. {doubled:?}\n--- log ---\n{}",
            replica.log()
        );
    }
}

#[test]
fn a_killed_writer_s_standby_appends_exactly_what_followed_its_last_append() {
    let redis = RedisServer::start();
    let shared = TestDir::new();
    let storage = shared.path().join("data");
    let config = bridge_config(&redis, &storage);
    let (dir_a, dir_b, dir_c) = (TestDir::new(), TestDir::new(), TestDir::new());
    let mut a = Arclamp::start_in(dir_a.path(), &redis, &config);
    a.wait_metric(WRITER, Duration::from_secs(10), |v| v == 1.0);
    let publisher = publisher(&redis);
    a.wait_metric(
        "arclamp_bridge_appended_total{channel=\"excimer\"}",
        Duration::from_secs(10),
        |v| v > 100.0,
    );
    let mut b = Arclamp::start_in(dir_b.path(), &redis, &config);
    b.wait_metric(BUFFERED, Duration::from_secs(10), |v| v > 100.0);

    // SIGKILL: whatever A received and had not appended yet, B has buffered.
    a.kill();
    b.wait_metric(WRITER, Duration::from_secs(20), |v| v == 1.0);
    assert_eq!(
        b.metric("arclamp_pubsub_takeover_channels_total{channel=\"excimer\",cut=\"tail\"}"),
        1.0,
        "B found where A's appends ended\n{}",
        b.log()
    );

    // A rolling update of B: C stands by, B hands over at SIGTERM.
    let mut c = Arclamp::start_in(dir_c.path(), &redis, &config);
    c.wait_metric(BUFFERED, Duration::from_secs(10), |v| v > 100.0);
    assert!(b.stop(Duration::from_secs(30)).success(), "{}", b.log());
    c.wait_metric(WRITER, Duration::from_secs(20), |v| v == 1.0);
    assert_eq!(
        c.metric("arclamp_pubsub_takeover_channels_total{channel=\"excimer\",cut=\"marker\"}"),
        1.0,
        "{}",
        c.log()
    );
    let appended = c.metric("arclamp_bridge_appended_total{channel=\"excimer\"}");
    c.wait_metric(
        "arclamp_bridge_appended_total{channel=\"excimer\"}",
        Duration::from_secs(10),
        |v| v > appended + 100.0,
    );
    let sent = publisher.stop();
    assert_eq!(sent.unreceived, 0, "an instance was subscribed throughout");
    assert_counted_once(&c, &sent, 0);
    assert!(c.stop(Duration::from_secs(30)).success(), "{}", c.log());
}

#[test]
fn a_lone_instance_loses_only_what_was_published_while_it_was_down() {
    let redis = RedisServer::start();
    let shared = TestDir::new();
    let storage = shared.path().join("data");
    let config = bridge_config(&redis, &storage);
    let dir = TestDir::new();
    let mut first = Arclamp::start_in(dir.path(), &redis, &config);
    first.wait_metric(WRITER, Duration::from_secs(10), |v| v == 1.0);
    let publisher = publisher(&redis);
    first.wait_metric(
        "arclamp_bridge_appended_total{channel=\"excimer\"}",
        Duration::from_secs(10),
        |v| v > 200.0,
    );
    first.kill();
    // Published meanwhile: lost, and PUBLISH said so (0 receivers).
    std::thread::sleep(Duration::from_millis(500));
    let mut next = Arclamp::start_in(dir.path(), &redis, &config);
    // Its old lease lapses within 2 s; meanwhile the new one buffers.
    next.wait_metric(WRITER, Duration::from_secs(20), |v| v == 1.0);
    let appended = next.metric("arclamp_bridge_appended_total{channel=\"excimer\"}");
    wait_until(
        "appending after the restart",
        Duration::from_secs(10),
        || next.metric("arclamp_bridge_appended_total{channel=\"excimer\"}") > appended + 100.0,
    );
    let sent = publisher.stop();
    assert!(
        sent.unreceived > 0,
        "messages were published while none was subscribed"
    );
    // What the killed instance had received and not appended yet: a message or two.
    assert_counted_once(&next, &sent, 20);
    assert!(
        next.stop(Duration::from_secs(30)).success(),
        "{}",
        next.log()
    );
}

/// A bridging writer that could not renew its lease in time (here paused for twice the
/// lease) finds it taken by the standby: it counts nothing outside the streams, so it
/// stands by again instead of exiting, and every message is counted once.
#[test]
fn a_bridging_writer_whose_lease_was_taken_stands_by_instead_of_exiting() {
    let redis = RedisServer::start();
    let shared = TestDir::new();
    let storage = shared.path().join("data");
    let config = bridge_config(&redis, &storage);
    let (dir_a, dir_b) = (TestDir::new(), TestDir::new());
    let mut a = Arclamp::start_in(dir_a.path(), &redis, &config);
    a.wait_metric(WRITER, Duration::from_secs(10), |v| v == 1.0);
    let publisher = publisher(&redis);
    let mut b = Arclamp::start_in(dir_b.path(), &redis, &config);
    b.wait_metric(BUFFERED, Duration::from_secs(10), |v| v > 100.0);

    a.signal("STOP");
    b.wait_metric(WRITER, Duration::from_secs(20), |v| v == 1.0);
    a.signal("CONT");
    a.wait_metric(WRITER, Duration::from_secs(10), |v| v == 0.0);
    assert_eq!(
        a.metric("arclamp_bridge_step_downs_total"),
        1.0,
        "{}",
        a.log()
    );
    a.wait_metric(BUFFERED, Duration::from_secs(10), |v| v > 100.0);
    assert!(a.is_running(), "A exited:\n{}", a.log());
    let appended = b.metric("arclamp_bridge_appended_total{channel=\"excimer\"}");
    b.wait_metric(
        "arclamp_bridge_appended_total{channel=\"excimer\"}",
        Duration::from_secs(10),
        |v| v > appended + 100.0,
    );
    let sent = publisher.stop();
    assert_eq!(sent.unreceived, 0, "an instance was subscribed throughout");
    assert_counted_once(&b, &sent, 0);
    assert!(a.is_running(), "A exited:\n{}", a.log());
    assert!(a.stop(Duration::from_secs(30)).success(), "{}", a.log());
    assert!(b.stop(Duration::from_secs(30)).success(), "{}", b.log());
}

/// The ids of the pub/sub connections Redis has, oldest first.
fn subscriptions(con: &mut redis::Connection) -> Vec<u64> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query(con)
        .expect("CLIENT LIST");
    let mut ids: Vec<u64> = list
        .lines()
        .filter_map(|line| line.strip_prefix("id=")?.split(' ').next()?.parse().ok())
        .collect();
    ids.sort_unstable();
    ids
}

/// Close pub/sub connections the way Redis does when it drops a client: `which` is
/// `oldest` (subscribed the longest) or `all`, once both instances are subscribed.
/// Returns how many were closed.
fn drop_subscriptions(redis: &RedisServer, which: &str) -> usize {
    let client = redis::Client::open(redis.url()).expect("Redis URL");
    let mut con = client.get_connection().expect("Redis answers");
    wait_until("both instances subscribed", Duration::from_secs(20), || {
        subscriptions(&mut con).len() == 2
    });
    // Each has received the writer's last appends since (an instance that subscribed in
    // the middle of them holds only their end: README, bridge mode, limits).
    std::thread::sleep(Duration::from_millis(300));
    let killed: i64 = match which {
        "oldest" => redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(subscriptions(&mut con)[0])
            .query(&mut con),
        // One command: both end at the same moment, as when Redis restarts.
        _ => redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("pubsub")
            .query(&mut con),
    }
    .expect("CLIENT KILL");
    killed as usize
}

/// A writer whose subscription drops receives nothing until it resubscribes, while a
/// standby that stayed (or got) subscribed receives everything: the writer holds what it
/// gets after resubscribing, learns that the standby has been subscribed longer, and hands
/// it the lease; the standby forwards what follows the writer's last append, the messages
/// the writer missed included. A writer that resubscribed first goes on. Through four
/// drops (one instance's connection, then every connection as when Redis restarts, each
/// way round), every message someone received is counted once.
#[test]
fn a_writer_that_missed_messages_while_resubscribing_lets_the_instance_that_got_them_write() {
    let redis = RedisServer::start();
    let shared = TestDir::new();
    let storage = shared.path().join("data");
    // A resubscribes a second after a drop (about 500 messages it misses), B in 100 ms.
    let backoff = |min: &str| {
        format!(
            "{}[supervisor]\nbackoff_min = \"{min}\"\nbackoff_max = \"{min}\"\n",
            bridge_config(&redis, &storage)
        )
    };
    let (dir_a, dir_b) = (TestDir::new(), TestDir::new());
    let a = Arclamp::start_in(dir_a.path(), &redis, &backoff("1s"));
    a.wait_metric(WRITER, Duration::from_secs(10), |v| v == 1.0);
    let publisher = publisher(&redis);
    let b = Arclamp::start_in(dir_b.path(), &redis, &backoff("100ms"));
    b.wait_metric(BUFFERED, Duration::from_secs(10), |v| v > 100.0);
    let step_downs = |x: &Arclamp| x.metric("arclamp_bridge_step_downs_total");
    let tail_cuts = |x: &Arclamp| {
        x.metric("arclamp_pubsub_takeover_channels_total{channel=\"excimer\",cut=\"tail\"}")
    };
    let appended = |x: &Arclamp| x.metric("arclamp_bridge_appended_total{channel=\"excimer\"}");
    let keeps_appending = |x: &Arclamp| {
        let before = appended(x);
        wait_until("appends", Duration::from_secs(20), || {
            appended(x) > before + 200.0
        });
    };
    let logs = |a: &Arclamp, b: &Arclamp| format!("--- A ---\n{}\n--- B ---\n{}", a.log(), b.log());

    let writes = |writer: &Arclamp, other: &Arclamp| {
        wait_until("one writer", Duration::from_secs(30), || {
            writer.metric(WRITER) == 1.0 && other.metric(WRITER) == 0.0
        });
        keeps_appending(writer);
    };

    // 1. A's connection drops; B receives what A misses. A steps down, B takes over from
    // A's last append.
    assert_eq!(drop_subscriptions(&redis, "oldest"), 1);
    writes(&b, &a);
    assert_eq!(step_downs(&a), 1.0, "{}", logs(&a, &b));
    assert_eq!(
        tail_cuts(&b),
        1.0,
        "B cut at A's last append\n{}",
        logs(&a, &b)
    );

    // 2. Every connection drops; B resubscribes first: B writes.
    assert_eq!(drop_subscriptions(&redis, "all"), 2);
    writes(&b, &a);
    assert!(b.metric("arclamp_bridge_suspensions_total") >= 1.0);

    // 3. B's connection drops (the oldest now): A has been subscribed longer: A writes.
    assert_eq!(drop_subscriptions(&redis, "oldest"), 1);
    writes(&a, &b);
    assert!(step_downs(&b) >= 1.0, "{}", logs(&a, &b));

    // 4. Every connection drops; the standby B resubscribes first and receives for 900 ms
    // what A does not: A steps down to it.
    let a_step_downs = step_downs(&a);
    assert_eq!(drop_subscriptions(&redis, "all"), 2);
    writes(&b, &a);
    assert!(step_downs(&a) > a_step_downs, "{}", logs(&a, &b));

    let sent = publisher.stop();
    assert!(
        sent.unreceived > 0,
        "messages were published while no one was subscribed"
    );
    assert_eq!(a.metric(WRITER) + b.metric(WRITER), 1.0, "{}", logs(&a, &b));
    assert_counted_once(&b, &sent, 0);
    for mut x in [a, b] {
        assert!(x.stop(Duration::from_secs(30)).success(), "{}", x.log());
    }
}
