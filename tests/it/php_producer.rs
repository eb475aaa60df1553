//! Stream mode with a real producer: PHP profiles its own work with php-excimer and XADDs
//! each flush through phpredis (`tests/php/excimer_producer.php`, modelled on MediaWiki's
//! Excimer profiler), and arclamp must store exactly the stacks and counts the script
//! reports it sent, sanitized as the input contract says.
//!
//! Needs `php` with the excimer and redis extensions (Debian: php-cli, php-excimer,
//! php-redis, which `scripts/install-deps` installs). Like the Redis tests, the test fails
//! rather than skips when they are missing, so a green run means PHP really ran.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::arclamp::{read_log, wait_until, Arclamp};
use crate::redis_server::RedisServer;
use crate::streams::{group_pending, served_log, wait_sealed, Expected};

/// The producer script.
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/php/excimer_producer.php"
);

/// 2026-01-02T00:00:00Z. The backlog's entries are [`STEP_MS`] apart and the first
/// [`BEFORE_MIDNIGHT`] of them precede it, so they span two hours of two days.
const MIDNIGHT_MS: u64 = 1_767_312_000_000;
const STEP_MS: u64 = 100;
const BEFORE_MIDNIGHT: u64 = 20;
/// Flushes (entries) the script makes at least; more than [`BEFORE_MIDNIGHT`].
const FLUSHES: u64 = 60;

/// What the script prints: every entry as sent, and the stacks summed over them.
#[derive(Debug, serde::Deserialize)]
struct Report {
    php: String,
    excimer: String,
    entries: Vec<Entry>,
    samples: u64,
    /// Sanitized stack -> count, over every entry.
    stacks: BTreeMap<String, u64>,
}

#[derive(Debug, serde::Deserialize)]
struct Entry {
    /// `MS-SEQ`, as XADD returned it.
    id: String,
    /// The `data` field, byte for byte: one or more collapsed lines.
    data: String,
}

/// Panic, saying what to install, unless `php` runs with both extensions.
fn require_php() {
    let install = "PHP with the excimer and redis extensions is needed (Debian: php-cli, \
                   php-excimer, php-redis): run scripts/install-deps";
    let output = Command::new("php")
        .args([
            "-r",
            "echo extension_loaded('excimer') && extension_loaded('redis') ? 'yes' : 'no';",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| match e.kind() {
            ErrorKind::NotFound => panic!("`php` is not installed. {install}"),
            _ => panic!("cannot run php: {e}"),
        });
    assert!(
        output.status.success() && output.stdout == b"yes",
        "{install}\nphp said: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Run the script against `redis` (stream `excimer`, a 1 ms wall-clock period, 5 samples
/// per flush) with `args` added, and return its report.
fn run_producer(redis: &RedisServer, args: &[String]) -> Report {
    let output = Command::new("php")
        .arg(SCRIPT)
        .arg(format!("--port={}", redis.port()))
        .args(["--stream=excimer", "--event=real", "--period=0.001"])
        .arg("--max-samples=5")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run php");
    assert!(
        output.status.success(),
        "excimer_producer.php failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "excimer_producer.php printed no report ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The entry point arclamp tags a stack with: the first frame's file name `NAME.php`,
/// NAME made of letters, digits and `_`.
fn entry_point(stack: &str) -> Option<&str> {
    let first = stack.split(';').next()?;
    let name = first.rsplit('/').next()?.strip_suffix(".php")?;
    let word = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    word.then_some(name)
}

/// What arclamp must store for `entries`: each line with the bytes outside printable ASCII
/// turned into `?`, counted in the hour and the day of its entry's id, in `all` and in its
/// entry point. Worked out here from the input contract, not with arclamp's own parser, so
/// that a change on either side shows.
fn expected_logs(entries: &[Entry]) -> Expected {
    let mut expected = Expected::new();
    for entry in entries {
        let (ms, _) = entry.id.split_once('-').expect("an id is MS-SEQ");
        let time =
            chrono::DateTime::from_timestamp_millis(ms.parse().expect("id ms")).expect("id time");
        let windows = [
            ("hourly", time.format("%Y-%m-%d_%H").to_string()),
            ("daily", time.format("%Y-%m-%d").to_string()),
        ];
        for line in entry.data.as_bytes().split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            let line: String = line
                .iter()
                .map(|&b| {
                    if (0x20..=0x7e).contains(&b) {
                        b as char
                    } else {
                        '?'
                    }
                })
                .collect();
            let (stack, count) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("a line without a count: {line:?}"));
            let stack = stack.trim_end_matches(' ');
            let count: u64 = count.parse().expect("count");
            for (period, window) in &windows {
                for e in std::iter::once("all").chain(entry_point(stack)) {
                    *expected
                        .entry((period.to_string(), window.clone(), e.to_owned()))
                        .or_default()
                        .entry(stack.to_owned())
                        .or_default() += count;
                }
            }
        }
    }
    expected
}

#[test]
fn excimer_samples_xadded_by_php_land_in_the_sealed_logs_exactly() {
    require_php();
    let redis = RedisServer::start();
    // A backlog in hours already over, written before arclamp starts: a window is sealed
    // only once it has ended, so entries with `*` ids (now) would not be visible before
    // the hour ends. Only the ids are chosen; the lines are Excimer's and the XADDs
    // phpredis's. Written in full first because a replica that had drained the stream
    // could seal those past hours while more past entries were still being added, which a
    // producer using `*` ids never does.
    let backlog = run_producer(
        &redis,
        &[
            format!("--flushes={FLUSHES}"),
            format!("--id-start-ms={}", MIDNIGHT_MS - BEFORE_MIDNIGHT * STEP_MS),
            format!("--id-step-ms={STEP_MS}"),
        ],
    );
    let context = format!("PHP {}, excimer {}", backlog.php, backlog.excimer);
    assert!(
        backlog.entries.len() as u64 > BEFORE_MIDNIGHT,
        "{context}: {} entries, too few to reach past midnight",
        backlog.entries.len()
    );
    let expected = expected_logs(&backlog.entries);
    let windows: BTreeSet<(&str, &str)> = expected
        .keys()
        .map(|(p, w, _)| (p.as_str(), w.as_str()))
        .collect();
    assert_eq!(
        windows,
        BTreeSet::from([
            ("daily", "2026-01-01"),
            ("daily", "2026-01-02"),
            ("hourly", "2026-01-01_23"),
            ("hourly", "2026-01-02_00"),
        ]),
        "{context}"
    );
    // The script's own sums (PHP's sanitizing) agree with the ones worked out here.
    let mut all = BTreeMap::<String, u64>::new();
    for ((period, _, entry), stacks) in &expected {
        if period == "hourly" && entry == "all" {
            for (stack, count) in stacks {
                *all.entry(stack.clone()).or_default() += count;
            }
        }
    }
    assert_eq!(all, backlog.stacks, "{context}");
    assert_eq!(all.values().sum::<u64>(), backlog.samples, "{context}");
    // Real Excimer output: the entry point first, as MediaWiki ensures, and the frame with
    // a non-ASCII name sanitized.
    assert!(
        all.keys()
            .all(|s| entry_point(s) == Some("excimer_producer")),
        "{context}: a stack without the entry point: {all:#?}"
    );
    assert!(
        all.keys()
            .any(|s| s.contains("LanguageConverter::translit??rer")),
        "{context}: no sanitized frame in {all:#?}"
    );

    let config = format!(
        "[redis]\nurl = \"{}\"\nchannels = [\"excimer\"]\nsource = \"stream\"\n\
         commit_interval = \"100ms\"\nclaim_after = \"1s\"\n\
         [aggregation]\nflush_interval = \"300ms\"\n\
         [render]\nworkers = 1\ninterval = \"1h\"\n",
        redis.url()
    );
    let arclamp = Arclamp::start(&redis, &config);
    let data = arclamp.data();
    wait_sealed(&redis, &data, &expected, &[&arclamp]);
    for ((period, window, entry), stacks) in &expected {
        let relative = format!("logs/{period}/{window}.excimer.{entry}.log.gz");
        assert_eq!(&read_log(&data, &relative), stacks, "{context}: {relative}");
    }
    let received = "arclamp_samples_received_total{channel=\"excimer\"}";
    assert_eq!(arclamp.metric(received), backlog.samples as f64);

    // Then live, as in production: `*` ids while the replica consumes. Their hour is not
    // over, so nothing is sealed yet: every sample must be received, every entry committed
    // (acknowledged), and the live windows served with exactly what PHP sent.
    let live = run_producer(&redis, &["--duration=1".to_owned()]);
    assert!(!live.entries.is_empty(), "{context}: no live entries");
    arclamp.wait_metric(received, Duration::from_secs(60), |v| {
        v == (backlog.samples + live.samples) as f64
    });
    wait_until("live entries committed", Duration::from_secs(30), || {
        group_pending(&redis) == 0
    });
    // Their windows are not sealed, so nothing but these entries is in them.
    for ((period, window, entry), stacks) in &expected_logs(&live.entries) {
        let relative = format!("logs/{period}/{window}.excimer.{entry}.log.gz");
        wait_until(
            &format!("{context}: {relative} served live exactly"),
            Duration::from_secs(30),
            || served_log(&arclamp, &relative).as_ref() == Some(stacks),
        );
    }
    let metrics = arclamp.get("/metrics").expect("metrics").1;
    let rejected: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("arclamp_samples_rejected_total{") && !l.ends_with(" 0"))
        .collect();
    assert!(rejected.is_empty(), "{context}: rejected {rejected:?}");
}
