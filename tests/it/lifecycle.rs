//! Time, reload and failure: window rollover and retention on a fast test clock, SIGHUP
//! reloads, graphs rendered at start, checkpoints loaded at start (large or damaged), and a
//! storage outage.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::arclamp::{
    gzip, list, log_total, publish, publish_raw, read_log, read_svg, wait_only_window, wait_until,
    window_total, Arclamp, TestDir, STOP,
};
use crate::redis_server::RedisServer;

#[test]
fn windows_roll_over_on_the_clock_and_the_ended_one_is_written_and_rendered() {
    let redis = RedisServer::start();
    // 30 clock seconds per real second: the hour ends about 4 s after start.
    let mut arclamp = Arclamp::start(
        &redis,
        "[aggregation]\nflush_interval = \"1h\"\n[clock]\nstart = \"2026-01-01T00:58:00Z\"\nspeed = 30.0\n",
    );
    let started = Instant::now();
    publish_raw(&redis, "excimer", &[b"/w/index.php;Before::rollover 3"]);
    arclamp.wait_received("excimer", 3);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "too slow to publish before the rollover"
    );
    let data = arclamp.data();
    // The ended window is checkpointed and rendered without waiting for flush_interval.
    wait_until("the ended hour's log", Duration::from_secs(15), || {
        data.join("logs/hourly/2026-01-01_00.excimer.all.log.gz")
            .exists()
    });
    wait_until("the ended hour's graphs", Duration::from_secs(15), || {
        data.join("svgs/hourly/2026-01-01_00.excimer.all.svgz")
            .exists()
            && data
                .join("svgs/hourly/2026-01-01_00.excimer.all.reversed.svgz")
                .exists()
    });
    // An entry point's graphs are drawn when asked for, never stored.
    assert!(!data
        .join("svgs/hourly/2026-01-01_00.excimer.index.svgz")
        .exists());
    publish_raw(&redis, "excimer", &[b"/w/index.php;After::rollover 2"]);
    arclamp.wait_received("excimer", 5);
    assert!(arclamp.stop(STOP).success());
    assert_eq!(
        log_total(&data, "logs/hourly/2026-01-01_00.excimer.index.log.gz"),
        3
    );
    assert_eq!(
        log_total(&data, "logs/hourly/2026-01-01_01.excimer.index.log.gz"),
        2
    );
    assert_eq!(
        log_total(&data, "logs/daily/2026-01-01.excimer.all.log.gz"),
        5
    );
}

#[test]
fn retention_keeps_the_newest_windows_as_the_clock_advances() {
    let redis = RedisServer::start();
    // One-minute windows, one clock minute per real second.
    let mut arclamp = Arclamp::start(
        &redis,
        "[periods.minutely]\nformat = \"%Y-%m-%dT%H%M\"\nretain = 2\n\
         [aggregation]\nflush_interval = \"100ms\"\n[retention]\ninterval = \"300ms\"\n\
         [clock]\nstart = \"2026-01-01T00:00:00Z\"\nspeed = 60.0\n",
    );
    for i in 0..5u64 {
        publish_raw(
            &redis,
            "excimer",
            &[format!("/w/index.php;Minute::n{i} 1").as_bytes()],
        );
        arclamp.wait_received("excimer", i + 1);
        std::thread::sleep(Duration::from_millis(1100));
    }
    let data = arclamp.data();
    let windows = |entry: &str| -> Vec<String> {
        crate::arclamp::log_windows(&list(&data, "logs/minutely"), "excimer", entry)
    };
    wait_until(
        "retention to settle on 2 windows",
        Duration::from_secs(10),
        || windows("all").len() <= 2,
    );
    let kept = windows("all");
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(
        kept[1].as_str() >= "2026-01-01T0004",
        "the newest windows are kept: {kept:?}"
    );
    assert_eq!(windows("index"), kept);
    // Graphs of deleted windows went with their logs.
    wait_until("orphan graphs to go", Duration::from_secs(5), || {
        list(&data, "svgs/minutely")
            .iter()
            .all(|svg| kept.iter().any(|w| svg.starts_with(w.as_str())))
    });
    assert!(arclamp.metric("arclamp_retention_deletions_total{period=\"minutely\"}") >= 3.0);
    assert!(arclamp.stop(STOP).success());
}

#[test]
fn retention_applies_max_age_at_start_and_removes_orphan_graphs() {
    let redis = RedisServer::start();
    let test_dir = TestDir::new();
    let dir = test_dir.path();
    let logs = dir.join("data/logs/hourly");
    let svgs = dir.join("data/svgs/hourly");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::create_dir_all(&svgs).expect("mkdir");
    for window in ["2025-12-30_10", "2025-12-31_12", "2025-12-31_23"] {
        std::fs::write(
            logs.join(format!("{window}.excimer.all.log.gz")),
            gzip("a;b 1\n"),
        )
        .expect("write");
    }
    std::fs::write(svgs.join("2025-12-29_01.excimer.all.svgz"), gzip("<svg/>")).expect("write");
    std::fs::write(logs.join("unrelated.txt"), "keep me").expect("write");
    let mut arclamp = Arclamp::start_in(
        dir,
        &redis,
        "[periods.hourly]\nretain = 1000\nmax_age = \"1d\"\n[clock]\nstart = \"2026-01-01T12:30:00Z\"\n",
    );
    wait_until(
        "the old window to be deleted",
        Duration::from_secs(10),
        || !logs.join("2025-12-30_10.excimer.all.log.gz").exists(),
    );
    wait_until(
        "the orphan graph to be deleted",
        Duration::from_secs(10),
        || !svgs.join("2025-12-29_01.excimer.all.svgz").exists(),
    );
    // Ended 2025-12-31 13:00, less than a day before 2026-01-01 12:30: kept.
    assert!(logs.join("2025-12-31_12.excimer.all.log.gz").exists());
    assert!(logs.join("2025-12-31_23.excimer.all.log.gz").exists());
    assert!(logs.join("unrelated.txt").exists());
    assert!(arclamp.stop(STOP).success());
}

#[test]
fn logs_newer_than_their_graphs_are_rendered_at_start() {
    let redis = RedisServer::start();
    let test_dir = TestDir::new();
    let dir = test_dir.path();
    let logs = dir.join("data/logs/daily");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(
        logs.join("2025-12-31.excimer.all.log.gz"),
        gzip("/w/index.php;Old::window 4\n"),
    )
    .expect("write");
    // A shutdown timeout past what the clock can add (no deadline, in effect) must not
    // make the shutdown panic.
    let mut arclamp = Arclamp::start_in(
        dir,
        &redis,
        "[clock]\nstart = \"2026-01-01T12:00:00Z\"\n[service]\nshutdown_timeout = \"500000000000y\"\n",
    );
    let svgs = dir.join("data/svgs/daily");
    wait_until("start-up render", Duration::from_secs(15), || {
        svgs.join("2025-12-31.excimer.all.svgz").exists()
            && svgs.join("2025-12-31.excimer.all.reversed.svgz").exists()
    });
    assert_eq!(arclamp.metric("arclamp_stale_graphs_found_total"), 1.0);
    assert_eq!(arclamp.metric("arclamp_render_failures_total"), 0.0);
    assert!(arclamp.stop(STOP).success(), "{}", arclamp.log());
    assert!(!arclamp.log().contains("panicked"), "{}", arclamp.log());
}

#[test]
fn a_large_checkpoint_carries_over_in_pieces_and_a_damaged_one_is_set_aside() {
    let redis = RedisServer::start();
    let test_dir = TestDir::new();
    let data = test_dir.path().join("data");
    // The daily checkpoint of a service that stopped: 180,000 distinct stacks stored
    // uncompressed (9 MB: read from storage in 3 pieces, merged in 9 chunks of text).
    let stored: String = (0..180_000)
        .map(|i| format!("/w/index.php;MediaWiki::run;Stored{i:06}::call 2\n"))
        .collect();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    encoder.write_all(stored.as_bytes()).expect("gzip");
    let daily = "logs/daily/2026-01-01.excimer.all.log.gz";
    std::fs::create_dir_all(data.join("logs/daily")).expect("mkdir");
    std::fs::write(data.join(daily), encoder.finish().expect("gzip")).expect("write");
    // The hourly one is damaged (cut short).
    let hourly = "logs/hourly/2026-01-01_12.excimer.all.log.gz";
    let whole = gzip("/w/index.php;Damaged::hour 7\n");
    let damaged = &whole[..whole.len() - 9];
    std::fs::create_dir_all(data.join("logs/hourly")).expect("mkdir");
    std::fs::write(data.join(hourly), damaged).expect("write");

    let mut arclamp = Arclamp::start_in(
        test_dir.path(),
        &redis,
        "[aggregation]\nflush_interval = \"1h\"\n[clock]\nstart = \"2026-01-01T12:00:00Z\"\n",
    );
    let published = publish(&redis, "excimer", 300, 5, &[]);
    let all = published.samples["all"];
    arclamp.wait_received("excimer", all);
    assert!(arclamp.stop(STOP).success(), "{}", arclamp.log());

    let merged = read_log(&data, daily);
    assert_eq!(merged.values().sum::<u64>(), 360_000 + all);
    assert!(merged.len() > 180_000, "{} stacks", merged.len());
    assert_eq!(
        merged.get("/w/index.php;MediaWiki::run;Stored123456::call"),
        Some(&2)
    );
    // The damaged checkpoint is kept aside as it was, and its window goes on counting.
    assert_eq!(log_total(&data, hourly), all);
    assert_eq!(
        std::fs::read(data.join(format!("{hourly}.corrupt"))).expect("the damaged copy"),
        damaged
    );
}

#[test]
fn function_graphs_are_rendered_for_all_when_a_stack_contains_the_function() {
    let redis = RedisServer::start();
    let mut arclamp = Arclamp::start(
        &redis,
        "[render]\nworkers = 1\ninterval = \"100ms\"\n\
         [[render.functions]]\nname = \"EditAction::show\"\nlabel = \"EditAction\"\n\
         [[render.functions]]\nname = \"Never::called\"\nlabel = \"Never\"\n\
         [aggregation]\nflush_interval = \"100ms\"\n",
    );
    publish_raw(&redis, "excimer", &[b"/w/index.php;MediaWiki::run;EditAction::show;Parser::parse 2\n/w/index.php;MediaWiki::run;ViewAction::show 1"]);
    arclamp.wait_received("excimer", 3);
    let data = arclamp.data();
    let window = wait_only_window(&data, "hourly", "excimer", "all", Duration::from_secs(10));
    let svg = |name: &str| data.join(format!("svgs/hourly/{window}.excimer.{name}"));
    wait_until("function graphs", Duration::from_secs(15), || {
        svg("all.fn-EditAction.svgz").exists() && svg("all.fn-EditAction.reversed.svgz").exists()
    });
    assert!(arclamp.stop(STOP).success());
    assert!(
        !svg("all.fn-Never.svgz").exists(),
        "no stack contains Never::called: no graph"
    );
    assert!(
        !svg("index.fn-EditAction.svgz").exists(),
        "function graphs are for entry all only"
    );
}

#[test]
fn sighup_applies_a_valid_config_without_dropping_samples() {
    let redis = RedisServer::start();
    let other = RedisServer::start();
    let base = "[aggregation]\nflush_interval = \"1h\"\n";
    let mut arclamp = Arclamp::start(&redis, base);
    let before = publish(&redis, "excimer", 300, 1, &[]);
    arclamp.wait_received("excimer", before.samples["all"]);

    // Subscribe one more channel on the live connection.
    arclamp.rewrite_config(
        &redis,
        &format!(
            "[redis]\nurl = \"{}\"\nchannels = [\"excimer\", \"excimer-wall\"]\n{base}",
            redis.url()
        ),
    );
    arclamp.signal("HUP");
    arclamp.wait_metric(
        "arclamp_config_reloads_total{result=\"ok\"}",
        Duration::from_secs(10),
        |v| v == 1.0,
    );
    wait_until("excimer-wall subscription", Duration::from_secs(10), || {
        numsub(&redis, "excimer-wall") == 1
    });
    let wall = publish(&redis, "excimer-wall", 100, 2, &[]);
    arclamp.wait_received("excimer-wall", wall.samples["all"]);

    // Move to another Redis server: reconnects there.
    arclamp.rewrite_config(
        &other,
        &format!(
            "[redis]\nurl = \"{}\"\nchannels = [\"excimer\"]\n{base}",
            other.url()
        ),
    );
    arclamp.signal("HUP");
    arclamp.wait_metric(
        "arclamp_config_reloads_total{result=\"ok\"}",
        Duration::from_secs(10),
        |v| v == 2.0,
    );
    wait_until(
        "subscription on the new server",
        Duration::from_secs(10),
        || numsub(&other, "excimer") == 1,
    );
    assert_eq!(numsub(&redis, "excimer"), 0, "the old server is left");
    let after = publish(&other, "excimer", 200, 3, &[]);
    arclamp.wait_received("excimer", before.samples["all"] + after.samples["all"]);
    assert!(arclamp.stop(STOP).success());

    let data = arclamp.data();
    assert_eq!(
        window_total(&data, "daily", "excimer", "all"),
        before.samples["all"] + after.samples["all"]
    );
    assert_eq!(
        window_total(&data, "daily", "excimer-wall", "all"),
        wall.samples["all"]
    );
}

#[test]
fn sighup_with_an_invalid_config_keeps_the_old_one_running() {
    let redis = RedisServer::start();
    let mut arclamp = Arclamp::start(&redis, "[aggregation]\nflush_interval = \"1h\"\n");
    std::fs::write(
        arclamp.dir.join("arclamp.toml"),
        "[aggregation]\nflush_interval = \"soon\"\n",
    )
    .expect("write");
    arclamp.signal("HUP");
    arclamp.wait_metric(
        "arclamp_config_reloads_total{result=\"error\"}",
        Duration::from_secs(10),
        |v| v == 1.0,
    );
    assert!(
        arclamp.log().contains("flush_interval"),
        "the log names the bad key:\n{}",
        arclamp.log()
    );
    let expected = publish(&redis, "excimer", 200, 9, &[]);
    arclamp.wait_received("excimer", expected.samples["all"]);
    assert!(arclamp.stop(STOP).success());
    assert_eq!(
        window_total(&arclamp.data(), "hourly", "excimer", "all"),
        expected.samples["all"]
    );
}

#[test]
fn a_storage_outage_keeps_samples_in_memory_until_writes_succeed_again() {
    let redis = RedisServer::start();
    let mut arclamp = Arclamp::start(&redis, "[aggregation]\nflush_interval = \"100ms\"\n");
    publish_raw(&redis, "excimer", &[b"/w/index.php;Before::outage 2"]);
    arclamp.wait_received("excimer", 2);
    let data = arclamp.data();
    let window = wait_only_window(&data, "hourly", "excimer", "all", Duration::from_secs(10));
    let all = format!("logs/hourly/{window}.excimer.all.log.gz");
    // Root ignores permissions: break the storage by putting a file where a directory must be.
    std::fs::rename(data.join("logs"), data.join("logs.away")).expect("move logs away");
    std::fs::write(data.join("logs"), "not a directory").expect("block logs");
    publish_raw(&redis, "excimer", &[b"/w/index.php;During::outage 5"]);
    arclamp.wait_received("excimer", 7);
    arclamp.wait_metric(
        "arclamp_checkpoint_failures_total",
        Duration::from_secs(10),
        |v| v >= 1.0,
    );
    std::fs::remove_file(data.join("logs")).expect("unblock");
    std::fs::rename(data.join("logs.away"), data.join("logs")).expect("restore logs");
    wait_until("the retried checkpoint", Duration::from_secs(10), || {
        log_total(&data, &all) == 7
    });
    assert!(arclamp.stop(STOP).success());
    assert_eq!(log_total(&data, &all), 7);
}

#[test]
fn sigterm_during_a_storage_outage_exits_non_zero_and_says_what_was_lost() {
    let redis = RedisServer::start();
    let mut arclamp = Arclamp::start(
        &redis,
        "[aggregation]\nflush_interval = \"1h\"\n[service]\nshutdown_timeout = \"2s\"\n",
    );
    std::fs::create_dir_all(arclamp.data()).expect("mkdir");
    std::fs::write(arclamp.data().join("logs"), "not a directory").expect("block logs");
    publish_raw(&redis, "excimer", &[b"/w/index.php;Doomed 3"]);
    arclamp.wait_received("excimer", 3);
    let status = arclamp.stop(STOP);
    assert!(
        !status.success(),
        "must not claim success when samples were not saved"
    );
    let log = arclamp.log();
    assert!(log.contains("could not be saved"), "{log}");
    assert!(
        log.contains("samples=12"),
        "3 samples in 4 windows (hourly and daily, all and index): {log}"
    );
}

fn numsub(redis: &RedisServer, channel: &str) -> i64 {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut connection = client.get_connection().expect("connect");
    let reply: (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query(&mut connection)
        .expect("NUMSUB");
    reply.1
}

#[test]
fn actors_that_die_are_replaced_and_the_service_goes_on() {
    for actor in ["retention", "render_queue"] {
        let redis = RedisServer::start();
        // Debug builds panic once in the named actor (the test hook ARCLAMP_DEBUG_PANIC_IN).
        let mut arclamp = Arclamp::start_with_env(
            &redis,
            "[aggregation]\nflush_interval = \"100ms\"\n[retention]\ninterval = \"200ms\"\n",
            &[("ARCLAMP_DEBUG_PANIC_IN", actor)],
        );
        publish_raw(&redis, "excimer", &[b"/w/index.php;Survives::panic 2"]);
        arclamp.wait_received("excimer", 2);
        let series = format!("arclamp_actor_restarts_total{{actor=\"{actor}\"}}");
        arclamp.wait_metric(&series, Duration::from_secs(15), |v| v >= 1.0);
        assert!(
            arclamp
                .log()
                .contains(&format!("injected panic in {actor}")),
            "{}",
            arclamp.log()
        );
        // The replacement is used: samples arriving afterwards are checkpointed and rendered.
        publish_raw(&redis, "excimer", &[b"/w/index.php;After::restart 3"]);
        arclamp.wait_received("excimer", 5);
        let data = arclamp.data();
        wait_until(
            "a graph of all 5 samples after the restart",
            Duration::from_secs(15),
            || {
                list(&data, "svgs/hourly")
                    .iter()
                    .filter(|f| f.ends_with(".excimer.all.svgz"))
                    .any(|f| {
                        let svg = read_svg(&data, &format!("svgs/hourly/{f}"));
                        crate::render_cli::frame_counts(svg.as_bytes()).get("all") == Some(&5)
                    })
            },
        );
        assert!(arclamp.is_running());
        assert!(arclamp.stop(STOP).success(), "{actor}: {}", arclamp.log());
        assert_eq!(window_total(&data, "hourly", "excimer", "all"), 5);
    }
}
