//! The service on object storage (a real Swift, native API and S3 API): a replaced
//! instance continues where the old one stopped, retention, and outages of the store
//! (mid-ingest, at start, during shutdown) without losing a received sample.

use std::time::{Duration, Instant};

use crate::arclamp::{
    gzip, http_request, log_windows, parse_log, publish, publish_raw, stored_log, wait_until,
    Arclamp, STOP,
};
use crate::redis_server::RedisServer;
use crate::swift_server::{unique_container, Api, SwiftServer};

/// Sum of counts in the `period` windows of `channel` and `entry` stored in
/// `container` under `prefix`, read through Swift's native API; None when not written yet.
fn object_window_total(
    server: &SwiftServer,
    container: &str,
    prefix: &str,
    period: &str,
    channel: &str,
    entry: &str,
) -> Option<u64> {
    let dir = format!("{prefix}logs/{period}/");
    let names: Vec<String> = server
        .list_objects(container, &dir)
        .into_iter()
        .filter_map(|n| n.strip_prefix(&dir).map(str::to_owned))
        .collect();
    // Summed over windows: a test that runs across the top of an hour (or midnight)
    // puts its samples in two windows, and their sum is still exact.
    let windows = log_windows(&names, channel, entry);
    if windows.is_empty() {
        return None;
    }
    let mut total = 0;
    for window in windows {
        let name = format!("{dir}{window}.{channel}.{entry}.log.gz");
        let bytes = stored_log(|path| server.get_object(container, path), &name)?;
        total += parse_log(&bytes, &name).values().sum::<u64>();
    }
    Some(total)
}

fn restart_round_trip(api: Api) {
    let server = SwiftServer::shared();
    let redis = RedisServer::start();
    let container = unique_container("restart");
    let config = format!(
        "{}[aggregation]\nflush_interval = \"1h\"\n",
        server.storage_toml(api, &container, "arclamp/")
    );
    let mut first = Arclamp::start(&redis, &config);
    let a = publish(&redis, "excimer", 600, 1, &[]);
    first.wait_received("excimer", a.samples["all"]);
    assert!(first.stop(STOP).success(), "{}", first.log());
    // A new instance (a new pod) on the same store.
    let mut second = first.restart(&redis, &config);
    let b = publish(&redis, "excimer", 400, 2, &[]);
    second.wait_received("excimer", b.samples["all"]);
    // The new instance renders the logs it found in the store (newer than any graph).
    wait_until(
        "graphs rendered into the store",
        Duration::from_secs(60),
        || {
            server
                .list_objects(&container, "arclamp/svgs/hourly/")
                .iter()
                .any(|n| n.ends_with(".excimer.all.svgz"))
        },
    );
    serves_the_store_over_http(server, &container, &second);
    assert!(second.stop(STOP).success(), "{}", second.log());
    for (entry, n) in &a.samples {
        let expected = n + b.samples.get(entry).copied().unwrap_or(0);
        for period in ["hourly", "daily"] {
            assert_eq!(
                object_window_total(server, &container, "arclamp/", period, "excimer", entry),
                Some(expected),
                "{api:?} {period} {entry}"
            );
        }
    }
    for (entry, n) in &b.samples {
        if !a.samples.contains_key(entry) {
            assert_eq!(
                object_window_total(server, &container, "arclamp/", "hourly", "excimer", entry),
                Some(*n)
            );
        }
    }
}

/// The HTTP side reads the object store: a graph and a log come back byte for byte as
/// stored (gzip when accepted, decoded otherwise), and the index and pages list them.
fn serves_the_store_over_http(server: &SwiftServer, container: &str, arclamp: &Arclamp) {
    let svg_name = server
        .list_objects(container, "arclamp/svgs/hourly/")
        .into_iter()
        .find(|n| n.ends_with(".excimer.all.svgz"))
        .expect("a stored graph");
    let log_name = svg_name
        .replace("arclamp/svgs/", "arclamp/logs/")
        .replace(".svgz", ".log.gz");
    let get = |path: &str, headers: &[&str]| {
        http_request(arclamp.http_port, "GET", path, headers).expect("HTTP answers")
    };
    let stored_svg = server
        .get_object(container, &svg_name)
        .expect("graph object");
    let svg_path = svg_name.trim_start_matches("arclamp");
    let served = get(svg_path, &["Accept-Encoding: gzip"]);
    assert_eq!(served.status, 200, "{svg_path}");
    assert_eq!(served.header("content-encoding"), Some("gzip"));
    assert_eq!(served.header("content-type"), Some("image/svg+xml"));
    assert!(
        served.body == stored_svg,
        "{svg_path}: not the stored bytes"
    );
    let plain = get(svg_path, &[]);
    assert_eq!(plain.status, 200);
    assert!(plain.text().contains("<svg"), "{svg_path}: not decoded");

    let stored_log = server.get_object(container, &log_name).expect("log object");
    let log_path = log_name.trim_start_matches("arclamp");
    let served = get(log_path, &["Accept-Encoding: gzip"]);
    assert_eq!(served.status, 200, "{log_path}");
    assert!(
        arclamp::store::packed::is_packed(&stored_log),
        "{log_path}: stored as a packed trace"
    );
    // Served as the gzip'd folded log the packed trace holds.
    assert_eq!(served.header("content-encoding"), Some("gzip"));
    assert_eq!(
        parse_log(&served.body, "served gzip'd"),
        parse_log(&stored_log, &log_name),
        "{log_path}: served log differs from the stored trace"
    );
    let plain = get(log_path, &[]);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(
        parse_log(&gzip(plain.text()), "served plain"),
        parse_log(&stored_log, &log_name),
        "{log_path}"
    );

    let index = get("/api/index.json?period=hourly&entry=all&kind=log", &[]);
    assert_eq!(index.status, 200, "{}", index.text());
    let index: serde_json::Value = serde_json::from_slice(&index.body).expect("JSON");
    let stored_samples: u64 = parse_log(&stored_log, &log_name).values().sum();
    let listed = index["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["channel"] == "excimer")
        .unwrap_or_else(|| panic!("the log is listed: {index}"));
    assert_eq!(listed["samples"], stored_samples, "{index}");
    let window = svg_path
        .trim_start_matches("/svgs/hourly/")
        .trim_end_matches(".excimer.all.svgz");
    let browse = get("/?period=hourly", &[]);
    assert_eq!(browse.status, 200);
    assert!(browse.text().contains(window), "the browser lists {window}");
}

#[test]
fn a_new_instance_on_s3_continues_where_the_old_one_stopped() {
    restart_round_trip(Api::S3);
}

#[test]
fn a_new_instance_on_swift_continues_where_the_old_one_stopped() {
    restart_round_trip(Api::Swift);
}

#[test]
fn retention_deletes_old_windows_and_orphan_graphs_on_object_storage() {
    let server = SwiftServer::shared();
    let redis = RedisServer::start();
    let container = unique_container("retention");
    for window in ["2025-12-30_10", "2025-12-31_12", "2025-12-31_23"] {
        server.put_object(
            &container,
            &format!("p/logs/hourly/{window}.excimer.all.log.gz"),
            &gzip("a;b 1\n"),
        );
    }
    server.put_object(
        &container,
        "p/svgs/hourly/2025-12-29_01.excimer.all.svgz",
        &gzip("<svg/>"),
    );
    // Outside the prefix: not arclamp's, never touched.
    server.put_object(
        &container,
        "logs/hourly/2025-12-01_00.excimer.all.log.gz",
        &gzip("a;b 1\n"),
    );
    let mut arclamp = Arclamp::start(
        &redis,
        &format!(
            "{}[periods.hourly]\nretain = 1000\nmax_age = \"1d\"\n[clock]\nstart = \"2026-01-01T12:30:00Z\"\n",
            server.storage_toml(Api::Swift, &container, "p/")
        ),
    );
    let names = || server.list_objects(&container, "");
    wait_until(
        "the old window and the orphan graph to be deleted",
        Duration::from_secs(20),
        || {
            let names = names();
            !names.contains(&"p/logs/hourly/2025-12-30_10.excimer.all.log.gz".to_owned())
                && !names.contains(&"p/svgs/hourly/2025-12-29_01.excimer.all.svgz".to_owned())
        },
    );
    let names = names();
    for kept in [
        "p/logs/hourly/2025-12-31_12.excimer.all.log.gz",
        "p/logs/hourly/2025-12-31_23.excimer.all.log.gz",
        "logs/hourly/2025-12-01_00.excimer.all.log.gz",
    ] {
        assert!(
            names.contains(&kept.to_owned()),
            "{kept} missing: {names:?}"
        );
    }
    assert!(arclamp.metric("arclamp_retention_deletions_total{period=\"hourly\"}") >= 2.0);
    assert!(arclamp.stop(STOP).success());
}

/// The proxy is stopped for 20 s mid-ingest: samples received meanwhile stay in memory, the
/// failure shows in /metrics and /readyz, and everything is written once it is back.
/// Config for the outage tests: Swift's native API with a storage `timeout`, checkpoints
/// every 200 ms, then `extra`.
fn swift_config(server: &SwiftServer, container: &str, timeout: &str, extra: &str) -> String {
    format!(
        "{}[aggregation]\nflush_interval = \"200ms\"\n{extra}",
        server
            .storage_toml(Api::Swift, container, "")
            .replace("timeout = \"5s\"", &format!("timeout = \"{timeout}\""))
    )
}

/// Samples in the hourly `excimer.all` window stored in `container` (no prefix).
fn hourly_all_total(server: &SwiftServer, container: &str) -> Option<u64> {
    object_window_total(server, container, "", "hourly", "excimer", "all")
}

#[test]
fn a_twenty_second_store_outage_loses_no_sample() {
    let mut server = SwiftServer::start_with_token_life(Duration::from_secs(3600));
    let redis = RedisServer::start();
    let container = unique_container("outage");
    let mut arclamp = Arclamp::start(&redis, &swift_config(&server, &container, "2s", ""));
    let total = |server: &SwiftServer| hourly_all_total(server, &container);
    let before = publish(&redis, "excimer", 300, 1, &[]);
    arclamp.wait_received("excimer", before.samples["all"]);
    wait_until("the first checkpoint", Duration::from_secs(20), || {
        total(&server) == Some(before.samples["all"])
    });
    assert_eq!(arclamp.get("/readyz").map(|r| r.0), Some(200));

    server.kill("proxy");
    let outage = Instant::now();
    let during = publish(&redis, "excimer", 300, 2, &[]);
    arclamp.wait_received("excimer", before.samples["all"] + during.samples["all"]);
    arclamp.wait_metric(
        "arclamp_storage_failures_total{operation=\"write\"}",
        Duration::from_secs(15),
        |v| v > 0.0,
    );
    let (status, body) = arclamp
        .get("/readyz")
        .expect("HTTP answers during the outage");
    assert_eq!(status, 503, "{body}");
    let reason: serde_json::Value = serde_json::from_str(&body).expect("JSON reason");
    assert_eq!(reason["ready"], false);
    assert!(
        reason["storage"]
            .as_str()
            .is_some_and(|s| s.contains("write")),
        "{body}"
    );
    assert_eq!(arclamp.metric("arclamp_storage_up"), 0.0);
    std::thread::sleep(Duration::from_secs(20).saturating_sub(outage.elapsed()));
    assert!(arclamp.is_running());
    server.restart("proxy");

    let expected = before.samples["all"] + during.samples["all"];
    wait_until(
        "every sample to be written",
        Duration::from_secs(30),
        || total(&server) == Some(expected),
    );
    wait_until("ready again", Duration::from_secs(10), || {
        arclamp.get("/readyz").map(|r| r.0) == Some(200)
    });
    assert_eq!(arclamp.metric("arclamp_storage_up"), 1.0);
    assert!(arclamp.stop(STOP).success(), "{}", arclamp.log());
    for (entry, n) in &before.samples {
        let n = n + during.samples.get(entry).copied().unwrap_or(0);
        assert_eq!(
            object_window_total(&server, &container, "", "daily", "excimer", entry),
            Some(n),
            "daily {entry}"
        );
    }
    assert!(
        !arclamp.log().contains(crate::swift_server::KEY),
        "the key must never be logged"
    );
}

/// A store that is down when an instance starts: the checkpoint it cannot load is never
/// overwritten (counts merge once it loads); then SIGTERM with the store down exits
/// non-zero saying how many samples were not saved.
#[test]
fn a_store_down_at_start_or_at_shutdown_never_loses_what_was_saved() {
    let mut server = SwiftServer::start_with_token_life(Duration::from_secs(3600));
    let redis = RedisServer::start();
    let container = unique_container("down");
    let config = swift_config(
        &server,
        &container,
        "1s",
        "[service]\nshutdown_timeout = \"3s\"\n",
    );
    let total = |server: &SwiftServer| hourly_all_total(server, &container);
    let mut first = Arclamp::start(&redis, &config);
    publish_raw(&redis, "excimer", &[b"/w/index.php;Saved::before 5"]);
    first.wait_received("excimer", 5);
    assert!(first.stop(STOP).success(), "{}", first.log());
    assert_eq!(total(&server), Some(5));

    server.kill("proxy");
    let mut second = first.restart(&redis, &config);
    publish_raw(&redis, "excimer", &[b"/w/index.php;Counted::while_down 3"]);
    second.wait_received("excimer", 3);
    second.wait_metric(
        "arclamp_checkpoint_failures_total",
        Duration::from_secs(15),
        |v| v >= 1.0,
    );
    server.restart("proxy");
    // Loaded and merged, never replaced by the 3 counted in memory.
    wait_until("the merged checkpoints", Duration::from_secs(30), || {
        ["hourly", "daily"].iter().all(|period| {
            ["all", "index"].iter().all(|entry| {
                object_window_total(&server, &container, "", period, "excimer", entry) == Some(8)
            })
        })
    });

    server.kill("proxy");
    publish_raw(&redis, "excimer", &[b"/w/index.php;Lost::at_shutdown 2"]);
    second.wait_received("excimer", 5);
    let status = second.stop(STOP);
    assert!(
        !status.success(),
        "must not claim success: {}",
        second.log()
    );
    let log = second.log();
    assert!(log.contains("could not be saved"), "{log}");
    assert!(
        log.contains("samples=8"),
        "2 samples in 4 windows (hourly and daily, all and index): {log}"
    );
    server.restart("proxy");
    assert_eq!(total(&server), Some(8), "what was saved stays saved");
}
