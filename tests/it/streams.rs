//! Stream mode (`redis.source = "stream"`): entries read through a consumer group are
//! acknowledged only once committed, so killing, pausing or doubling replicas loses no
//! sample and counts none twice. Each test writes a known set of entries with ids in the
//! past (a backlog, as after an outage), so every window can be sealed at once, then
//! compares every sealed log with what was written.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::arclamp::{metric_value, read_log, wait_until, Arclamp, Producing, TestDir, STOP};
use crate::redis_server::RedisServer;

/// 2026-01-01T22:30:00Z: 3,000 entries 4 s apart span 22:30 to 01:50, four hours of two days.
const START_MS: u64 = 1_767_306_600_000;
/// Time between two entries' ids.
const STEP_MS: u64 = 4_000;

/// Config of a stream-mode replica: fast commits and claims unless `timing` sets its own
/// `commit_interval` and `claim_after`; graphs off the critical path.
fn stream_config(redis: &RedisServer, storage: &Path, timing: &str) -> String {
    let storage = format!("[storage]\npath = \"{}\"\n", storage.display());
    stream_config_on(redis, &storage, timing)
}

/// [`stream_config`] on any store (`storage` is its `[storage]` table).
fn stream_config_on(redis: &RedisServer, storage: &str, timing: &str) -> String {
    let timing = if timing.is_empty() {
        "commit_interval = \"100ms\"\nclaim_after = \"1s\""
    } else {
        timing
    };
    format!(
        "[redis]\nurl = \"{}\"\nchannels = [\"excimer\"]\nsource = \"stream\"\n{timing}\n\
         {storage}[render]\nworkers = 1\ninterval = \"1h\"\n",
        redis.url(),
    )
}

pub(crate) fn start(redis: &RedisServer, dir: &Path, storage: &Path, timing: &str) -> Arclamp {
    Arclamp::start_in(dir, redis, &stream_config(redis, storage, timing))
}

/// Start a replica that aborts at failpoint `failpoint` (`name:N`), without waiting.
fn spawn_failing(redis: &RedisServer, dir: &Path, storage: &Path, failpoint: &str) -> Arclamp {
    Arclamp::spawn_in_with_env(
        dir,
        redis,
        &stream_config(redis, storage, ""),
        &[("ARCLAMP_DEBUG_FAILPOINT", failpoint)],
    )
}

/// Start a replica that commits rarely (`timing`) and wait until it has read at least
/// `entries` entries: it then holds them read and not acknowledged.
fn start_holding(
    redis: &RedisServer,
    dir: &Path,
    storage: &Path,
    timing: &str,
    entries: f64,
) -> Arclamp {
    let replica = start(redis, dir, storage, timing);
    wait_until("the replica reading", Duration::from_secs(30), || {
        metric(&replica, READ_NEW) >= entries
    });
    replica
}

/// Entries a replica read as new (not re-read, not claimed).
const READ_NEW: &str = "arclamp_stream_entries_read_total{channel=\"excimer\",how=\"new\"}";

/// A metric of `replica`, 0 when it is not exported (yet).
fn metric(replica: &Arclamp, series: &str) -> f64 {
    replica
        .get("/metrics")
        .and_then(|(_, text)| metric_value(&text, series))
        .unwrap_or(0.0)
}

/// A producer's line for entry `i`: three entry points, a few hundred distinct stacks.
fn line(i: u64) -> String {
    let entry = ["index", "api", "load"][(i % 3) as usize];
    format!(
        "/srv/mw/{entry}.php;MediaWiki::run;Frame{};Leaf{} {}",
        i % 97,
        i % 5,
        1 + i % 3
    )
}

/// What the sealed logs must hold, per (period, window, entry).
pub(crate) type Expected = BTreeMap<(String, String, String), BTreeMap<String, u64>>;

/// XADD `count` entries with ids `STEP_MS` apart from `START_MS` (each entry one line, every
/// tenth two), and return what every log must hold.
pub(crate) fn write_backlog(
    redis: &RedisServer,
    channel: &str,
    count: u64,
    step_ms: u64,
) -> Expected {
    let mut expected = Expected::new();
    add_backlog(redis, channel, START_MS, count, step_ms, &mut expected);
    expected
}

/// XADD `count` entries from `start_ms`, `step_ms` apart, adding them to `expected`.
fn add_backlog(
    redis: &RedisServer,
    channel: &str,
    start_ms: u64,
    count: u64,
    step_ms: u64,
    expected: &mut Expected,
) {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut con = client.get_connection().expect("connect");
    let mut pipe = redis::pipe();
    for i in 0..count {
        let ms = start_ms + i * step_ms;
        let mut data = line(i);
        if i % 10 == 0 {
            data.push('\n');
            data.push_str(&line(i + 1_000_003));
        }
        expect_data(expected, ms as i64, &data);
        pipe.cmd("XADD")
            .arg(channel)
            .arg(format!("{ms}-*"))
            .arg("data")
            .arg(data)
            .ignore();
        if i % 1000 == 999 {
            pipe.query::<()>(&mut con).expect("XADD");
            pipe = redis::pipe();
        }
    }
    if !count.is_multiple_of(1000) {
        pipe.query::<()>(&mut con).expect("XADD");
    }
}

fn redis_int(redis: &RedisServer, command: &[&str]) -> i64 {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut con = client.get_connection().expect("connect");
    let mut cmd = redis::cmd(command[0]);
    for arg in &command[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut con).expect("redis command")
}

/// Entries the group has not acknowledged.
pub(crate) fn group_pending(redis: &RedisServer) -> i64 {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut con = client.get_connection().expect("connect");
    let (count, _, _, _): (i64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
        .arg("excimer")
        .arg("arclamp")
        .query(&mut con)
        .expect("XPENDING");
    count
}

/// Wait until every window is sealed (nothing pending, nothing open) and its logs written.
pub(crate) fn wait_sealed(
    redis: &RedisServer,
    storage: &Path,
    expected: &Expected,
    replicas: &[&Arclamp],
) {
    wait_sealed_in(
        redis,
        &|relative| crate::arclamp::log_exists(storage, relative),
        expected,
        replicas,
    );
}

/// [`wait_sealed`] on any store: `exists` says whether a log (`logs/...`) is stored.
fn wait_sealed_in(
    redis: &RedisServer,
    exists: &dyn Fn(&str) -> bool,
    expected: &Expected,
    replicas: &[&Arclamp],
) {
    let logs = |replicas: &[&Arclamp]| {
        replicas
            .iter()
            .map(|r| r.log())
            .collect::<Vec<_>>()
            .join("\n--- next replica ---\n")
    };
    let all_written = || {
        redis_int(redis, &["ZCARD", "arclamp:arclamp:open:excimer"]) == 0
            && expected.keys().all(|(period, window, entry)| {
                exists(&format!("logs/{period}/{window}.excimer.{entry}.log.gz"))
            })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !all_written() {
        assert!(
            std::time::Instant::now() < deadline,
            "windows not sealed in time\n{}",
            logs(replicas)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every sealed log holds exactly what was written: nothing lost, nothing twice.
fn assert_exact(storage: &Path, expected: &Expected) {
    assert_exact_in(&|relative| read_log(storage, relative), expected);
}

/// [`assert_exact`] on any store: `read` gives a stored log's stacks and counts.
fn assert_exact_in(read: &dyn Fn(&str) -> BTreeMap<String, u64>, expected: &Expected) {
    for ((period, window, entry), stacks) in expected {
        let relative = format!("logs/{period}/{window}.excimer.{entry}.log.gz");
        let found = read(&relative);
        if &found != stacks {
            let want: u64 = stacks.values().sum();
            let got: u64 = found.values().sum();
            panic!("{relative}: {got} samples where {want} were written");
        }
    }
}

#[test]
fn a_backlog_written_before_the_first_start_lands_in_its_true_hours_exactly() {
    let redis = RedisServer::start();
    // Written before any consumer group exists: the group is created from the first entry.
    let expected = write_backlog(&redis, "excimer", 3_000, STEP_MS);
    let dir = TestDir::new();
    let storage = dir.path().join("data");
    let arclamp = start(&redis, dir.path(), &storage, "");
    wait_sealed(&redis, &storage, &expected, &[&arclamp]);
    assert_exact(&storage, &expected);
    // 22:30 to 01:30 UTC: four hours over two days, each entry in the hour of its id.
    let windows: std::collections::BTreeSet<(&str, &str)> = expected
        .keys()
        .map(|(p, w, _)| (p.as_str(), w.as_str()))
        .collect();
    assert_eq!(windows.len(), 4 + 2, "{windows:?}");
    assert_eq!(group_pending(&redis), 0);
    // Graphs are drawn for sealed windows.
    wait_until("the sealed day's graph", Duration::from_secs(30), || {
        storage
            .join("svgs/daily/2026-01-01.excimer.all.svgz")
            .exists()
    });
    // An entry point's log and graphs are not stored: they are read from `all`.
    assert!(!storage
        .join("logs/daily/2026-01-01.excimer.index.log.gz")
        .exists());
    assert!(!storage
        .join("svgs/daily/2026-01-01.excimer.index.svgz")
        .exists());
    // What every replica acknowledged is trimmed from the stream.
    wait_until("the stream trimmed", Duration::from_secs(30), || {
        redis_int(&redis, &["XLEN", "excimer"]) < 3_000
    });
}

#[test]
fn a_replica_killed_at_any_instant_and_restarted_loses_nothing_and_doubles_nothing() {
    let redis = RedisServer::start();
    // Chunks of 10,000 entries 2 s apart (5.6 hours each), 6 hours apart: each chunk is a
    // backlog of hours no earlier chunk touched, as a producer's outage would leave.
    const CHUNK: u64 = 10_000;
    const SIX_HOURS: u64 = 6 * 3600 * 1000;
    let mut expected = Expected::new();
    add_backlog(&redis, "excimer", START_MS, CHUNK, 2_000, &mut expected);
    let dir = TestDir::new();
    let storage = dir.path().join("data");
    // The worst instants on purpose: a segment written and not committed, then a commit
    // done and the process gone before anything else.
    for failpoint in ["commit.after_put:1", "commit.after_ack:1"] {
        let mut replica = spawn_failing(&redis, dir.path(), &storage, failpoint);
        let status = replica.wait_exit(Duration::from_secs(60));
        assert!(
            !status.success(),
            "{failpoint}: {status}\n{}",
            replica.log()
        );
    }
    // Then SIGKILL at seeded random instants while a new backlog drains.
    let mut seed: u64 = 0x5eed;
    for chunk in 1..=3 {
        add_backlog(
            &redis,
            "excimer",
            START_MS + chunk * SIX_HOURS,
            CHUNK,
            2_000,
            &mut expected,
        );
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let after = Duration::from_millis(50 + (seed >> 33) % 500);
        let mut replica = start(&redis, dir.path(), &storage, "");
        std::thread::sleep(after);
        replica.kill();
    }
    // Each start was a new consumer (a new process id): the last one claims what the
    // killed ones left pending, and counts it once.
    let replica = start(&redis, dir.path(), &storage, "");
    wait_sealed(&redis, &storage, &expected, &[&replica]);
    assert_exact(&storage, &expected);
    assert_eq!(group_pending(&redis), 0);
}

#[test]
fn a_killed_replica_s_entries_are_claimed_by_the_other_and_counted_once() {
    let redis = RedisServer::start();
    let expected = write_backlog(&redis, "excimer", 15_000, 2_000);
    let shared = TestDir::new();
    let storage = shared.path().join("data");
    let (dir_a, dir_b) = (TestDir::new(), TestDir::new());
    // A commits only every 10,000 entries: when it is killed, it holds thousands read and
    // not acknowledged.
    let mut a = start_holding(
        &redis,
        dir_a.path(),
        &storage,
        "commit_interval = \"30s\"\nclaim_after = \"60s\"",
        1.0,
    );
    a.kill();
    let b = start(&redis, dir_b.path(), &storage, "");
    wait_sealed(&redis, &storage, &expected, &[&b]);
    assert_exact(&storage, &expected);
    assert!(
        metric(
            &b,
            "arclamp_stream_claimed_entries_total{channel=\"excimer\"}"
        ) > 0.0,
        "B claimed nothing\n{}",
        b.log()
    );
}

#[test]
fn a_paused_replica_whose_entries_were_claimed_is_fenced_when_it_wakes() {
    let redis = RedisServer::start();
    let expected = write_backlog(&redis, "excimer", 5_000, 2_000);
    let shared = TestDir::new();
    let storage = shared.path().join("data");
    let (dir_a, dir_b) = (TestDir::new(), TestDir::new());
    // A reads all 5,000 entries and would commit them only after 8 s.
    let mut a = start_holding(
        &redis,
        dir_a.path(),
        &storage,
        "commit_interval = \"8s\"\nclaim_after = \"20s\"",
        5_000.0,
    );
    a.signal("STOP");
    // B claims A's entries once they are idle for its claim_after (1 s), fencing A.
    let b = start(&redis, dir_b.path(), &storage, "");
    wait_sealed(&redis, &storage, &expected, &[&a, &b]);
    assert_exact(&storage, &expected);
    a.signal("CONT");
    wait_until("A's late commit refused", Duration::from_secs(30), || {
        metric(&a, "arclamp_stream_commits_total{result=\"fenced\"}") >= 1.0
    });
    // A consumes again under a new epoch, and has changed nothing.
    wait_until("A back under a new epoch", Duration::from_secs(30), || {
        metric(&a, "arclamp_stream_epoch") >= 2.0
    });
    assert_exact(&storage, &expected);
    assert_eq!(group_pending(&redis), 0);
    assert!(a.stop(STOP).success(), "{}", a.log());
}

#[test]
fn publish_stream_adds_each_message_as_an_entry_with_a_data_field() {
    let redis = RedisServer::start();
    let dir = TestDir::new();
    let expect = dir.path().join("expect.json");
    let output = std::process::Command::new(crate::arclamp::binary())
        .args([
            "publish",
            "--stream",
            "--redis",
            &redis.url(),
            "--channel",
            "excimer",
        ])
        .args(["--count", "250", "--lines-per-message", "2", "--expect"])
        .arg(&expect)
        .output()
        .expect("run arclamp publish");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&expect).expect("expect file")).expect("JSON");
    assert_eq!(expected["messages"], 250);
    assert_eq!(expected["unreceived_messages"], serde_json::Value::Null);
    assert_eq!(redis_int(&redis, &["XLEN", "excimer"]), 250);
    let client = redis::Client::open(redis.url()).expect("client");
    let mut con = client.get_connection().expect("connect");
    let first: redis::Value = redis::cmd("XRANGE")
        .arg("excimer")
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query(&mut con)
        .expect("XRANGE");
    let entries = arclamp::ingest::stream::parse_entry_list(first, 0).expect("entries");
    let arclamp::ingest::stream::Body::Data(data) = &entries[0].body else {
        panic!("no data field: {entries:?}");
    };
    assert_eq!(String::from_utf8_lossy(data).lines().count(), 2);
}

#[test]
fn trimming_keeps_every_entry_another_consumer_group_still_needs() {
    let redis = RedisServer::start();
    let expected = write_backlog(&redis, "excimer", 1_000, STEP_MS);
    // Another reader of the same stream (a second deployment, a relay) that reads nothing.
    let client = redis::Client::open(redis.url()).expect("client");
    let mut con = client.get_connection().expect("connect");
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("excimer")
        .arg("other")
        .arg("0")
        .query(&mut con)
        .expect("XGROUP CREATE");
    let dir = TestDir::new();
    let storage = dir.path().join("data");
    let arclamp = start(&redis, dir.path(), &storage, "");
    wait_sealed(&redis, &storage, &expected, &[&arclamp]);
    assert_exact(&storage, &expected);
    // Several housekeeping passes later, the other group's entries are all still there.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(redis_int(&redis, &["XLEN", "excimer"]), 1_000);
}

#[test]
fn in_stream_mode_a_replica_is_ready_only_while_it_consumes() {
    let mut redis = RedisServer::start();
    let dir = TestDir::new();
    let storage = dir.path().join("data");
    let replica = start(&redis, dir.path(), &storage, "");
    let status = |replica: &Arclamp| replica.get("/readyz").map(|(status, _)| status);
    wait_until("ready", Duration::from_secs(20), || {
        status(&replica) == Some(200)
    });
    redis.stop();
    wait_until("not ready without Redis", Duration::from_secs(30), || {
        status(&replica) == Some(503)
    });
    let (_, body) = replica.get("/readyz").expect("readyz");
    assert!(body.contains("not consuming"), "{body}");
    redis.restart();
    wait_until("ready again", Duration::from_secs(30), || {
        status(&replica) == Some(200)
    });
}

#[test]
fn a_store_outage_holds_commits_back_and_loses_nothing() {
    let redis = RedisServer::start();
    let dir = TestDir::new();
    let storage = dir.path().join("data");
    std::fs::create_dir_all(&storage).expect("data dir");
    // Root ignores permissions: break the store by putting a file where segments go.
    std::fs::write(storage.join("segments"), "not a directory").expect("block segments");
    let replica = start(&redis, dir.path(), &storage, "");
    let expected = write_backlog(&redis, "excimer", 3_000, STEP_MS);
    wait_until("failed commits", Duration::from_secs(30), || {
        metric(&replica, "arclamp_stream_commits_total{result=\"failed\"}") >= 3.0
    });
    // Nothing is acknowledged while nothing is stored, and /status says so.
    assert_eq!(group_pending(&redis), 3_000);
    let group = |replica: &Arclamp| -> serde_json::Value {
        let (status, body) = replica.get("/api/status").expect("/api/status answers");
        assert_eq!(status, 200, "{body}");
        let report: serde_json::Value = serde_json::from_str(&body).expect("status JSON");
        report["stream"]["channels"][0].clone()
    };
    wait_until(
        "the group view shows the held entries",
        Duration::from_secs(10),
        || group(&replica)["pending"] == 3_000.0,
    );
    let held = group(&replica);
    assert_eq!(held["channel"], "excimer");
    assert_eq!(held["length"], 3_000.0);
    assert_eq!(held["lag"], 0.0, "every entry was read: {held}");
    assert_eq!(held["active_consumers"], 1.0, "{held}");
    let page = replica.get("/status").expect("/status").1;
    assert!(page.contains("Stream group"), "{page}");
    std::fs::remove_file(storage.join("segments")).expect("unblock");
    wait_sealed(&redis, &storage, &expected, &[&replica]);
    assert_exact(&storage, &expected);
    wait_until(
        "the group view shows nothing pending",
        Duration::from_secs(10),
        || {
            let view = group(&replica);
            view["pending"] == 0.0 && view["open_windows"] == 0.0
        },
    );
}

#[test]
fn a_redis_restart_mid_drain_with_aof_loses_nothing_and_doubles_nothing() {
    let mut redis = RedisServer::start_with_config(&["appendonly yes", "appendfsync always"]);
    let expected = write_backlog(&redis, "excimer", 20_000, 2_000);
    let dir = TestDir::new();
    let storage = dir.path().join("data");
    let replica = start(&redis, dir.path(), &storage, "");
    wait_until("the drain started", Duration::from_secs(30), || {
        metric(&replica, READ_NEW) > 0.0
    });
    // The stream, the group's pending entries and the ledger come back from the AOF; the
    // scripts do not (EVALSHA falls back to loading them again).
    redis.restart();
    wait_sealed(&redis, &storage, &expected, &[&replica]);
    assert_exact(&storage, &expected);
    assert_eq!(group_pending(&redis), 0);
}

#[test]
fn on_swift_a_killed_replica_is_replaced_without_loss_or_double_count() {
    use crate::swift_server::{unique_container, Api, SwiftServer};
    let server = SwiftServer::shared();
    let redis = RedisServer::start();
    let container = unique_container("streams");
    let storage = server.storage_toml(Api::Swift, &container, "s/");
    let expected = write_backlog(&redis, "excimer", 10_000, 2_000);
    let (dir_a, dir_b) = (TestDir::new(), TestDir::new());
    let config = stream_config_on(&redis, &storage, "");
    let mut a = Arclamp::start_in(dir_a.path(), &redis, &config);
    wait_until("A reading", Duration::from_secs(30), || {
        metric(&a, READ_NEW) > 0.0
    });
    a.kill();
    let b = Arclamp::start_in(dir_b.path(), &redis, &config);
    let object = |relative: &str| server.get_object(&container, &format!("s/{relative}"));
    let log = |relative: &str| crate::arclamp::stored_log(|path| object(path), relative);
    wait_sealed_in(
        &redis,
        &|relative| log(relative).is_some(),
        &expected,
        &[&b],
    );
    assert_exact_in(
        &|relative| crate::arclamp::parse_log(&log(relative).expect("stored"), relative),
        &expected,
    );
}

#[test]
fn entries_trimmed_before_anyone_read_them_are_counted_as_lost() {
    let redis = RedisServer::start();
    let client = redis::Client::open(redis.url()).expect("client");
    let mut con = client.get_connection().expect("connect");
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("excimer")
        .arg("arclamp")
        .arg("0")
        .arg("MKSTREAM")
        .query(&mut con)
        .expect("XGROUP CREATE");
    // A producer capping the stream at 100 entries while no replica runs: 200 of its 300
    // entries are gone before anyone reads them.
    for i in 0..300u64 {
        let _: String = redis::cmd("XADD")
            .arg("excimer")
            .arg("MAXLEN")
            .arg(100)
            .arg(format!("{}-*", START_MS + i * STEP_MS))
            .arg("data")
            .arg(line(i))
            .query(&mut con)
            .expect("XADD");
    }
    let dir = TestDir::new();
    let storage = dir.path().join("data");
    let replica = start(&redis, dir.path(), &storage, "");
    let lost = "arclamp_stream_entries_lost_total{channel=\"excimer\",why=\"unread\"}";
    wait_until("the loss counted", Duration::from_secs(30), || {
        metric(&replica, lost) >= 200.0
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(metric(&replica, lost), 200.0, "counted once, not per pass");
    assert!(replica.log().contains("stream entries lost"));
}

/// XADD `count` entries with ids from the Redis server's clock (as producers do), adding
/// them to `expected` under the windows of the ids Redis gave them.
fn add_now(redis: &RedisServer, channel: &str, first: u64, count: u64, expected: &mut Expected) {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut con = client.get_connection().expect("connect");
    for i in first..first + count {
        xadd_now(&mut con, channel, &line(i), expected);
    }
}

/// XADD `data` to `channel` with an id from the server's clock, adding what it must count
/// to `expected`.
fn xadd_now(con: &mut redis::Connection, channel: &str, data: &str, expected: &mut Expected) {
    let id: String = redis::cmd("XADD")
        .arg(channel)
        .arg("*")
        .arg("data")
        .arg(data)
        .query(con)
        .expect("XADD");
    let ms: i64 = id.split('-').next().unwrap().parse().unwrap();
    expect_data(expected, ms, data);
}

/// Add what an entry with id time `ms` and field `data` must count to `expected`: each
/// line in the hour and the day of `ms`, in `all` and in its entry point.
pub(crate) fn expect_data(expected: &mut Expected, ms: i64, data: &str) {
    let time = chrono::DateTime::from_timestamp_millis(ms).unwrap();
    let hour = time.format("%Y-%m-%d_%H").to_string();
    let day = time.format("%Y-%m-%d").to_string();
    for l in data.lines() {
        let (stack, n) = l.rsplit_once(' ').unwrap();
        let n: u64 = n.parse().unwrap();
        let entry = stack.split(';').next().unwrap();
        let entry = entry.rsplit('/').next().unwrap().trim_end_matches(".php");
        for (period, window) in [("hourly", &hour), ("daily", &day)] {
            for e in ["all", entry] {
                *expected
                    .entry((period.into(), window.clone(), e.into()))
                    .or_default()
                    .entry(stack.to_owned())
                    .or_default() += n;
            }
        }
    }
}

/// XADDs entries with `*` ids from a thread, a few hundred a second, until stopped; gives
/// back what they must count.
fn producer(redis: &RedisServer, channel: &'static str) -> Producing<Expected> {
    Producing::start(redis, Duration::from_millis(3), move |con, i, expected| {
        xadd_now(con, channel, &line(i), expected)
    })
}

/// The stacks and counts `replica` serves at `/logs/{relative}`, `None` unless 200.
pub(crate) fn served_log(replica: &Arclamp, relative: &str) -> Option<BTreeMap<String, u64>> {
    let response = crate::arclamp::http_request(
        replica.http_port,
        "GET",
        &format!("/{relative}"),
        &["Accept-Encoding: gzip"],
    )?;
    (response.status == 200).then(|| crate::arclamp::parse_log(&response.body, relative))
}

#[test]
fn every_replica_serves_the_same_live_windows_from_what_is_committed() {
    let redis = RedisServer::start();
    let shared = TestDir::new();
    let storage = shared.path().join("data");
    // Sealed windows are served from the store.
    let past = &write_backlog(&redis, "excimer", 300, STEP_MS);

    let fast_live = "[aggregation]\nflush_interval = \"300ms\"\n";
    let config = format!("{}{fast_live}", stream_config(&redis, &storage, ""));
    let (dir_a, dir_b) = (TestDir::new(), TestDir::new());
    let a = Arclamp::start_in(dir_a.path(), &redis, &config);
    let b = Arclamp::start_in(dir_b.path(), &redis, &config);
    wait_sealed(&redis, &storage, past, &[&a, &b]);
    for replica in [&a, &b] {
        for ((period, window, entry), stacks) in past {
            let relative = format!("logs/{period}/{window}.excimer.{entry}.log.gz");
            assert_eq!(served_log(replica, &relative).as_ref(), Some(stacks));
        }
    }

    // Entries of the current hour: never sealed during this test, served live.
    let mut live = Expected::new();
    for (round, count) in [(0, 400), (1, 250)] {
        add_now(&redis, "excimer", round * 10_000, count, &mut live);
        for ((period, window, entry), stacks) in &live {
            let relative = format!("logs/{period}/{window}.excimer.{entry}.log.gz");
            for replica in [&a, &b] {
                wait_until(
                    &format!("{relative} served live with every committed sample (round {round})"),
                    Duration::from_secs(30),
                    || served_log(replica, &relative).as_ref() == Some(stacks),
                );
            }
            assert!(
                !storage.join(&relative).exists(),
                "{relative} is live: nothing is written for it"
            );
        }
    }
    let ((_, hour, _), _) = live.iter().find(|((p, _, _), _)| p == "hourly").unwrap();
    for replica in [&a, &b] {
        let (status, body) = replica.get("/api/index.json?period=hourly").expect("API");
        assert_eq!(status, 200, "{body}");
        let index: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let live_marks = index["live"].as_array().expect("live windows");
        assert!(
            live_marks
                .iter()
                .any(|w| w["period"] == "hourly" && w["window"] == hour.as_str()),
            "{hour} marked live: {body}"
        );
        // Listed with its sample count, as a sealed window is.
        let all_samples: u64 = live
            .iter()
            .find(|((p, w, e), _)| p == "hourly" && w == hour && e == "all")
            .map(|(_, stacks)| stacks.values().sum())
            .unwrap();
        let items = index["items"].as_array().expect("items");
        assert!(
            items.iter().any(|item| {
                item["window"] == hour.as_str()
                    && item["entry"] == "all"
                    && item["kind"] == "log"
                    && item["live"] == true
                    && item["samples"] == all_samples
            }),
            "the live hour's log listed with {all_samples} samples: {body}"
        );
        let svg_path = format!("/svgs/hourly/{hour}.excimer.all.svgz");
        wait_until("the live graph rendered", Duration::from_secs(30), || {
            replica
                .get(&svg_path)
                .is_some_and(|(status, _)| status == 200)
        });
        let (_, svg) = replica.get(&svg_path).expect("svg");
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg_path}");
    }
}

#[test]
fn three_rolling_updates_under_load_lose_nothing_and_double_nothing() {
    let redis = RedisServer::start();
    let shared = TestDir::new();
    let storage = shared.path().join("data");
    let config = format!(
        "{}[aggregation]\nflush_interval = \"300ms\"\n",
        stream_config(&redis, &storage, "")
    );
    let dirs: Vec<TestDir> = (0..5).map(|_| TestDir::new()).collect();
    let mut replicas: std::collections::VecDeque<Arclamp> = dirs[..2]
        .iter()
        .map(|d| Arclamp::start_in(d.path(), &redis, &config))
        .collect();
    let producer = producer(&redis, "excimer");
    for dir in &dirs[2..] {
        std::thread::sleep(Duration::from_millis(700));
        // maxSurge 1, maxUnavailable 0: the new replica first, ready, then the oldest goes.
        let new = Arclamp::start_in(dir.path(), &redis, &config);
        wait_until("the new replica ready", Duration::from_secs(30), || {
            new.get("/readyz").is_some_and(|(status, _)| status == 200)
        });
        replicas.push_back(new);
        let mut old = replicas.pop_front().expect("a replica");
        assert!(old.stop(Duration::from_secs(30)).success(), "{}", old.log());
    }
    std::thread::sleep(Duration::from_millis(500));
    let expected = producer.stop();
    wait_until("every entry committed", Duration::from_secs(30), || {
        group_pending(&redis) == 0
    });
    for ((period, window, entry), stacks) in &expected {
        let relative = format!("logs/{period}/{window}.excimer.{entry}.log.gz");
        for replica in &replicas {
            wait_until(
                &format!("{relative} served exactly"),
                Duration::from_secs(30),
                || served_log(replica, &relative).as_ref() == Some(stacks),
            );
        }
    }
}
