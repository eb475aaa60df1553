//! `arclamp serve` end to end: a real redis-server, the real binary, load from
//! `arclamp publish`, and assertions on the files a user would open.

use std::time::Duration;

use crate::arclamp::{
    list, log_total, only_window, publish, publish_raw, read_log, read_svg, window_total, Arclamp,
    TestDir, STOP,
};
use crate::redis_server::RedisServer;

fn entries(expected: &crate::arclamp::Expected) -> Vec<(&str, u64)> {
    expected
        .samples
        .iter()
        .map(|(e, n)| (e.as_str(), *n))
        .collect()
}

/// Every entry point's hourly and daily log holds exactly what was published.
fn assert_files_match(data: &std::path::Path, channel: &str, expected: &[(&str, u64)]) {
    for period in ["hourly", "daily"] {
        for (entry, samples) in expected {
            let total = window_total(data, period, channel, entry);
            assert_eq!(total, *samples, "{period} window of {channel}.{entry}");
        }
    }
}

#[test]
fn every_published_sample_lands_in_its_hourly_and_daily_files() {
    let redis = RedisServer::start();
    let mut arclamp = Arclamp::start(&redis, "[aggregation]\nflush_interval = \"200ms\"\n");
    let expected = publish(&redis, "excimer", 3000, 7, &["--lines-per-message", "2"]);
    assert!(
        expected.samples.len() >= 6,
        "the generator should cover all entry points: {:?}",
        expected.samples
    );
    arclamp.wait_received("excimer", expected.samples["all"]);
    assert!(arclamp.stop(STOP).success());
    assert_files_match(&arclamp.data(), "excimer", &entries(&expected));
    // The entry points partition "all".
    let window = only_window(&arclamp.data(), "hourly", "excimer", "all");
    let all = read_log(
        &arclamp.data(),
        &format!("logs/hourly/{window}.excimer.all.log.gz"),
    );
    let parts: u64 = expected
        .samples
        .iter()
        .filter(|(e, _)| *e != "all")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(all.values().sum::<u64>(), parts);
    assert_eq!(expected.messages, 3000);
}

#[test]
fn sigterm_during_a_redis_outage_saves_everything_received_before_it() {
    let mut redis = RedisServer::start();
    let mut arclamp = Arclamp::start(&redis, "[aggregation]\nflush_interval = \"1h\"\n");
    let expected = publish(&redis, "excimer", 500, 6, &[]);
    arclamp.wait_received("excimer", expected.samples["all"]);
    redis.stop();
    arclamp.wait_metric("arclamp_redis_connected", Duration::from_secs(20), |v| {
        v == 0.0
    });
    // The subscriber is retrying with backoff: the shutdown must not wait for Redis.
    let status = arclamp.stop(STOP);
    assert!(
        status.success(),
        "exit status {status:?}\n{}",
        arclamp.log()
    );
    assert_files_match(&arclamp.data(), "excimer", &entries(&expected));
}

#[test]
fn sigterm_and_sigint_flush_everything_even_with_an_hour_between_checkpoints() {
    for (signal, seed) in [("TERM", 3), ("INT", 4)] {
        let redis = RedisServer::start();
        let mut arclamp = Arclamp::start(&redis, "[aggregation]\nflush_interval = \"1h\"\n");
        let expected = publish(&redis, "excimer", 1000, seed, &[]);
        arclamp.wait_received("excimer", expected.samples["all"]);
        assert!(
            list(&arclamp.data(), "logs/hourly").is_empty(),
            "nothing should be written before shutdown"
        );
        arclamp.signal(signal);
        let status = arclamp.wait_exit(STOP);
        assert!(
            status.success(),
            "SIG{signal}: exit status {status:?}\n{}",
            arclamp.log()
        );
        assert_files_match(&arclamp.data(), "excimer", &entries(&expected));
    }
}

#[test]
fn counts_carry_over_a_restart() {
    let redis = RedisServer::start();
    let mut first = Arclamp::start(&redis, "[aggregation]\nflush_interval = \"1h\"\n");
    let a = publish(&redis, "excimer", 800, 1, &[]);
    first.wait_received("excimer", a.samples["all"]);
    assert!(first.stop(STOP).success());
    let mut second = first.restart(&redis, "[aggregation]\nflush_interval = \"1h\"\n");
    let b = publish(&redis, "excimer", 500, 2, &[]);
    second.wait_received("excimer", b.samples["all"]);
    assert!(second.stop(STOP).success());
    let mut sum: Vec<(&str, u64)> = Vec::new();
    for (entry, n) in &a.samples {
        sum.push((
            entry.as_str(),
            n + b.samples.get(entry).copied().unwrap_or(0),
        ));
    }
    assert_files_match(&second.data(), "excimer", &sum);
}

#[test]
fn redis_restarted_twice_mid_stream_loses_nothing_published_while_subscribed() {
    let mut redis = RedisServer::start();
    let mut arclamp = Arclamp::start(&redis, "[aggregation]\nflush_interval = \"300ms\"\n[supervisor]\nbackoff_min = \"50ms\"\nbackoff_max = \"500ms\"\n");
    let mut total = 0;
    for round in 0..3u64 {
        let published = publish(&redis, "excimer", 400, 10 + round, &[]);
        total += published.samples["all"];
        arclamp.wait_received("excimer", total);
        if round < 2 {
            redis.restart();
            arclamp.wait_metric(
                "arclamp_redis_reconnects_total",
                Duration::from_secs(20),
                |v| v >= (round + 1) as f64,
            );
            arclamp.wait_subscribed();
        }
    }
    assert!(arclamp.is_running());
    assert!(arclamp.stop(STOP).success());
    assert_eq!(
        window_total(&arclamp.data(), "daily", "excimer", "all"),
        total
    );
    let log = arclamp.log();
    assert_eq!(
        log.matches("Redis unavailable").count(),
        2,
        "each outage is logged once:\n{log}"
    );
    assert_eq!(log.matches("Redis is back").count(), 2);
}

#[test]
fn a_redis_outage_at_start_is_waited_out() {
    let mut redis = RedisServer::start();
    redis.stop();
    let test_dir = TestDir::new();
    let dir = test_dir.path();
    let port = crate::arclamp::free_port();
    std::fs::write(
        dir.join("arclamp.toml"),
        crate::arclamp::config_text(
            &redis,
            dir,
            port,
            "[supervisor]\nbackoff_min = \"50ms\"\nbackoff_max = \"400ms\"\n",
        ),
    )
    .expect("config");
    let mut arclamp = Arclamp::spawn(dir, port);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        arclamp.is_running(),
        "must not exit while Redis is down:\n{}",
        arclamp.log()
    );
    assert_eq!(arclamp.metric("arclamp_redis_connected"), 0.0);
    redis.restart();
    arclamp.wait_subscribed();
    let expected = publish(&redis, "excimer", 100, 5, &[]);
    arclamp.wait_received("excimer", expected.samples["all"]);
    assert!(arclamp.stop(STOP).success());
    assert_eq!(
        arclamp.log().matches("Redis unavailable").count(),
        1,
        "{}",
        arclamp.log()
    );
}

#[test]
fn a_silent_redis_is_detected_within_ten_seconds() {
    let redis = RedisServer::start_with_config(&["enable-debug-command yes"]);
    let arclamp = Arclamp::start(&redis, "");
    // DEBUG SLEEP blocks the server without closing connections: no FIN, no answers.
    let client = redis::Client::open(redis.url()).expect("client");
    let mut connection = client.get_connection().expect("connect");
    let sleeper = std::thread::spawn(move || {
        let slept: redis::RedisResult<()> = redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg(14)
            .query(&mut connection);
        slept.expect("DEBUG SLEEP");
    });
    let started = std::time::Instant::now();
    arclamp.wait_metric("arclamp_redis_connected", Duration::from_secs(12), |v| {
        v == 0.0
    });
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    sleeper.join().expect("sleeper");
    arclamp.wait_metric("arclamp_redis_connected", Duration::from_secs(20), |v| {
        v == 1.0
    });
}

#[test]
fn every_rejection_reason_is_counted_and_good_lines_survive() {
    let redis = RedisServer::start();
    let mut arclamp = Arclamp::start(
        &redis,
        "[aggregation]\nmax_depth = 5\nmax_message_bytes = 400\nflush_interval = \"1h\"\n",
    );
    let huge = format!("/srv/w/index.php;{} 1", "A::b;".repeat(100));
    let messages: Vec<Vec<u8>> = vec![
        b"/srv/w/index.php;Good::one 2\nno count here\n/srv/w/api.php;Bad::count 0\n".to_vec(),
        b"/srv/w/api.php;Huge::count 4294967296\r\n  3\n/srv/w/index.php;a;b;c;d;e 1\n".to_vec(),
        b"/srv/w/index.php;Good::one 1\r\n/srv/w/index.php;a;b;c;d 1\n\n".to_vec(),
        huge.into_bytes(),
        b"\xff\xfe/srv/w/api.php;Bin\x1bary 5\n".to_vec(),
    ];
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    publish_raw(&redis, "excimer", &refs);
    arclamp.wait_received("excimer", 9);
    let rejected = |reason: &str| {
        arclamp.metric(&format!(
            "arclamp_samples_rejected_total{{channel=\"excimer\",reason=\"{reason}\"}}"
        ))
    };
    assert_eq!(rejected("no_count"), 1.0);
    assert_eq!(rejected("bad_count"), 2.0);
    assert_eq!(rejected("empty_stack"), 1.0);
    assert_eq!(rejected("too_deep"), 1.0);
    assert_eq!(rejected("too_large"), 1.0);
    assert!(arclamp.stop(STOP).success());
    let data = arclamp.data();
    let window = only_window(&data, "hourly", "excimer", "all");
    let all = read_log(&data, &format!("logs/hourly/{window}.excimer.all.log.gz"));
    let expected: std::collections::BTreeMap<String, u64> = [
        ("/srv/w/index.php;Good::one".to_owned(), 3),
        ("/srv/w/index.php;a;b;c;d".to_owned(), 1),
        ("??/srv/w/api.php;Bin?ary".to_owned(), 5),
    ]
    .into();
    assert_eq!(all, expected);
    assert_eq!(
        log_total(&data, &format!("logs/hourly/{window}.excimer.index.log.gz")),
        4
    );
    // Bytes replaced before the path do not hide the file name.
    assert_eq!(
        log_total(&data, &format!("logs/hourly/{window}.excimer.api.log.gz")),
        5
    );
}

#[test]
fn sample_every_keeps_every_nth_message() {
    let redis = RedisServer::start();
    let mut arclamp = Arclamp::start(
        &redis,
        "[aggregation]\nsample_every = 3\nflush_interval = \"1h\"\n",
    );
    let messages: Vec<Vec<u8>> = (0..10)
        .map(|i| format!("/srv/w/index.php;F::n{i} 1").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    publish_raw(&redis, "excimer", &refs);
    arclamp.wait_metric(
        "arclamp_messages_received_total{channel=\"excimer\"}",
        Duration::from_secs(10),
        |v| v == 10.0,
    );
    assert_eq!(
        arclamp.metric("arclamp_messages_sampled_out_total{channel=\"excimer\"}"),
        6.0
    );
    assert!(arclamp.stop(STOP).success());
    let window = only_window(&arclamp.data(), "hourly", "excimer", "all");
    let kept: Vec<String> = read_log(
        &arclamp.data(),
        &format!("logs/hourly/{window}.excimer.all.log.gz"),
    )
    .into_keys()
    .collect();
    assert_eq!(
        kept,
        vec![
            "/srv/w/index.php;F::n0",
            "/srv/w/index.php;F::n3",
            "/srv/w/index.php;F::n6",
            "/srv/w/index.php;F::n9"
        ]
    );
}

#[test]
fn entry_points_beyond_the_limit_count_in_all_only() {
    let redis = RedisServer::start();
    let mut arclamp = Arclamp::start(
        &redis,
        "[aggregation]\nmax_entry_points = 2\nflush_interval = \"1h\"\n",
    );
    publish_raw(
        &redis,
        "excimer",
        &[b"/w/index.php;A 1\n/w/api.php;B 1\n/w/load.php;C 1\n/w/index.php;D 1\n"],
    );
    arclamp.wait_received("excimer", 4);
    assert_eq!(
        arclamp.metric("arclamp_entry_overflow_total{channel=\"excimer\"}"),
        1.0
    );
    assert!(arclamp.stop(STOP).success());
    let files = list(&arclamp.data(), "logs/daily");
    for (entry, windows) in [("all", 1), ("index", 1), ("api", 1), ("load", 0)] {
        let found = crate::arclamp::log_windows(&files, "excimer", entry);
        assert_eq!(found.len(), windows, "{entry}: {files:?}");
    }
    assert_eq!(window_total(&arclamp.data(), "daily", "excimer", "all"), 4);
}

#[test]
fn several_channels_are_kept_apart() {
    let redis = RedisServer::start();
    let mut arclamp = Arclamp::start(
        &redis,
        &format!(
            "[redis]\nurl = \"{}\"\nchannels = [\"excimer\", \"excimer-wall\"]\n",
            redis.url()
        ),
    );
    let cpu = publish(&redis, "excimer", 300, 1, &[]);
    let wall = publish(&redis, "excimer-wall", 200, 2, &[]);
    arclamp.wait_received("excimer", cpu.samples["all"]);
    arclamp.wait_received("excimer-wall", wall.samples["all"]);
    assert!(arclamp.stop(STOP).success());
    assert_files_match(&arclamp.data(), "excimer", &entries(&cpu));
    assert_files_match(&arclamp.data(), "excimer-wall", &entries(&wall));
}

#[test]
fn graphs_are_valid_svg_titled_by_window_with_the_log_counts_and_escaped_frames() {
    let redis = RedisServer::start();
    let mut arclamp = Arclamp::start(
        &redis,
        "[aggregation]\nflush_interval = \"100ms\"\n[render]\nworkers = 1\ninterval = \"100ms\"\ntitle = \"Test Wiki\"\n",
    );
    let expected = publish(&redis, "excimer", 500, 21, &[]);
    publish_raw(
        &redis,
        "excimer",
        &[b"/srv/w/index.php;MediaWiki::run;<script>alert(1)</script>;A&B 4"],
    );
    let total = expected.samples["all"] + 4;
    arclamp.wait_received("excimer", total);
    let data = arclamp.data();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (window, svg_path) = loop {
        // Graphs follow checkpoints: wait until the graph shows every sample received.
        let rendered = list(&data, "logs/hourly")
            .iter()
            .find(|f| f.ends_with(".excimer.all.log.gz"))
            .map(|f| {
                let window = f.trim_end_matches(".excimer.all.log.gz").to_owned();
                let svg_path = format!("svgs/hourly/{window}.excimer.all.svgz");
                (window, svg_path)
            });
        if let Some((window, svg_path)) = rendered {
            let reversed = svg_path.replace(".svgz", ".reversed.svgz");
            let complete = |path: &str| {
                data.join(path).exists()
                    && crate::render_cli::frame_counts(read_svg(&data, path).as_bytes()).get("all")
                        == Some(&total)
            };
            if complete(&svg_path) && complete(&reversed) {
                break (window, svg_path);
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no graph with all {total} samples\n{}",
            arclamp.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(arclamp.stop(STOP).success());
    let log = read_log(&data, &format!("logs/hourly/{window}.excimer.all.log.gz"));
    assert_eq!(log.values().sum::<u64>(), total);
    for (file, suffix) in [
        (svg_path.clone(), ""),
        (
            format!("svgs/hourly/{window}.excimer.all.reversed.svgz"),
            " - reversed",
        ),
    ] {
        let svg = read_svg(&data, &file);
        let title = format!("Test Wiki - hourly - {}{suffix}", window.replace('_', " "));
        assert!(svg.contains(&title), "{file}: title {title:?} missing");
        let counts = crate::render_cli::frame_counts(svg.as_bytes());
        assert_eq!(
            counts["all"], total,
            "{file}: the root frame counts every sample of the log"
        );
        assert!(
            svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{file}: the frame must appear escaped"
        );
        assert!(
            !svg.contains("<script>alert"),
            "{file}: raw script from a frame name"
        );
        assert!(svg.contains("A&amp;B"));
    }
}

#[test]
fn rendering_a_large_window_never_stalls_the_subscriber() {
    // Redis drops a pub/sub client as soon as 1 MB waits in its output buffer: any stall of
    // the subscriber while graphs render would cost a disconnection and samples.
    let redis = RedisServer::start_with_config(&["client-output-buffer-limit pubsub 1mb 0 0"]);
    let mut arclamp = Arclamp::start(
        &redis,
        "[aggregation]\nflush_interval = \"100ms\"\n[render]\nworkers = 1\ninterval = \"100ms\"\n",
    );
    // A large window: about 55,000 samples (150 MB of realistic stacks, ~20,000 distinct).
    let big = publish(
        &redis,
        "excimer",
        5_000,
        31,
        &["--lines-per-message", "10", "--rate", "2500"],
    );
    arclamp.wait_received("excimer", big.samples["all"]);
    // Send more load while the renderer pool is busy with that window's graphs.
    arclamp.wait_metric(
        "arclamp_render_queue_depth",
        Duration::from_secs(20),
        |depth| depth >= 1.0,
    );
    let during = publish(&redis, "excimer", 4_000, 32, &["--rate", "2000"]);
    let total = big.samples["all"] + during.samples["all"];
    arclamp.wait_received("excimer", total);
    assert_eq!(
        arclamp.metric("arclamp_redis_reconnects_total"),
        0.0,
        "Redis disconnected the subscriber:\n{}",
        redis.log()
    );
    assert_eq!(arclamp.metric("arclamp_redis_connected"), 1.0);
    assert!(arclamp.stop(STOP).success());
    assert_eq!(
        window_total(&arclamp.data(), "daily", "excimer", "all"),
        total
    );
}
