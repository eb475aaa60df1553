//! What operators watch: `/metrics` (complete, and clean by `promtool check metrics`), the
//! Grafana dashboard (every metric it queries is exported), `/readyz` through a Redis
//! outage, and `/api/status` (the data behind `/status`).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::arclamp::{http_request, publish, publish_raw, wait_until, Arclamp, TestDir};
use crate::redis_server::RedisServer;

/// Fast timers, so checkpoints, renders and retention passes all happen within the test.
const FAST: &str = "[aggregation]\nflush_interval = \"200ms\"\n[retention]\ninterval = \"300ms\"\n";

/// Metric names (without labels) in a Prometheus exposition.
fn exported_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// Run some traffic (accepted and rejected), and wait for a checkpoint, a render and a
/// retention pass to have been reported.
fn with_traffic(redis: &RedisServer) -> Arclamp {
    let arclamp = Arclamp::start(redis, FAST);
    let expected = publish(redis, "excimer", 2_000, 7, &[]);
    publish_raw(redis, "excimer", &[b"no count here\n"]);
    arclamp.wait_received("excimer", expected.samples["all"]);
    for series in [
        "arclamp_last_checkpoint_timestamp_seconds{period=\"hourly\"}",
        "arclamp_last_render_timestamp_seconds{period=\"daily\"}",
        "arclamp_stored_files{period=\"daily\",kind=\"svgs\"}",
    ] {
        arclamp.wait_metric(series, Duration::from_secs(30), |v| v > 0.0);
    }
    arclamp
}

fn scrape(arclamp: &Arclamp) -> String {
    let (status, body) = arclamp.get("/metrics").expect("scrape");
    assert_eq!(status, 200);
    body
}

#[test]
fn metrics_are_complete_and_pass_promtool() {
    let redis = RedisServer::start();
    let arclamp = with_traffic(&redis);
    let text = scrape(&arclamp);
    let names = exported_names(&text);
    for required in [
        "arclamp_samples_received_total",
        "arclamp_samples_rejected_total",
        "arclamp_samples_aggregated_total",
        "arclamp_redis_connected",
        "arclamp_redis_reconnects_total",
        "arclamp_actor_restarts_total",
        "arclamp_active_aggregators",
        "arclamp_distinct_stacks",
        "arclamp_checkpoint_duration_seconds_bucket",
        "arclamp_checkpoint_failures_total",
        "arclamp_render_duration_seconds_bucket",
        "arclamp_render_failures_total",
        "arclamp_render_queue_depth",
        "arclamp_retention_deletions_total",
        "arclamp_config_reloads_total",
        "arclamp_stored_bytes",
        "arclamp_oldest_window_timestamp_seconds",
        "arclamp_newest_window_timestamp_seconds",
        "arclamp_build_info",
        // Failure counters read 0 before their first event.
        "arclamp_on_demand_failures_total",
        "arclamp_http_damaged_files_total",
        "arclamp_http_stream_failures_total",
        "arclamp_actor_restart_failures_total",
        "arclamp_stale_graph_scan_failures_total",
        "arclamp_shutdown_lost_samples_total",
        "arclamp_swift_token_renewals_total",
    ] {
        assert!(names.contains(required), "{required} missing from\n{text}");
    }
    assert!(text.contains(&format!(
        "arclamp_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    let rejected = "arclamp_samples_rejected_total{channel=\"excimer\",reason=\"no_count\"}";
    assert_eq!(arclamp.metric(rejected), 1.0);
    let stacks = arclamp.metric("arclamp_distinct_stacks{period=\"hourly\",channel=\"excimer\"}");
    assert!(stacks > 100.0, "distinct stacks {stacks}");
    // Storage use from a retention pass after the hour's `all` log was written (its
    // entry points' are not stored): bytes and times.
    arclamp.wait_metric(
        "arclamp_stored_bytes{period=\"hourly\",kind=\"logs\"}",
        Duration::from_secs(30),
        |bytes| bytes > 1000.0,
    );
    let oldest = arclamp.metric("arclamp_oldest_window_timestamp_seconds{period=\"daily\"}");
    let newest = arclamp.metric("arclamp_newest_window_timestamp_seconds{period=\"daily\"}");
    assert!(oldest > 1.7e9 && oldest == newest, "{oldest} {newest}");

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/install-deps installs it)");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let output = promtool.wait_with_output().expect("promtool");
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_metric_the_grafana_dashboard_queries_is_exported() {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/arclamp.json"),
        )
        .expect("deploy/grafana/arclamp.json"),
    )
    .expect("dashboard is JSON");
    let mut queried = BTreeSet::new();
    let panels = dashboard["panels"].as_array().expect("panels");
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("expr");
            let mut rest = expr;
            while let Some(at) = rest.find("arclamp_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                queried.insert(name);
            }
        }
    }
    assert!(queried.len() >= 20, "the dashboard queries {queried:?}");

    let redis = RedisServer::start();
    let arclamp = with_traffic(&redis);
    let mut exported = exported_names(&scrape(&arclamp));
    // The stream-mode panels' series come from a replica in stream mode, once it sealed.
    let stream_redis = RedisServer::start();
    let dir = TestDir::new();
    let storage = dir.path().join("data");
    let replica = crate::streams::start(&stream_redis, dir.path(), &storage, "");
    let expected = crate::streams::write_backlog(&stream_redis, "excimer", 500, 4_000);
    crate::streams::wait_sealed(&stream_redis, &storage, &expected, &[&replica]);
    replica.wait_metric(
        "arclamp_stream_open_windows{channel=\"excimer\"}",
        Duration::from_secs(10),
        |v| v == 0.0,
    );
    exported.extend(exported_names(&scrape(&replica)));
    // The bridge-mode panels' series come from an instance in bridge mode.
    let bridge_redis = RedisServer::start();
    let bridge_dir = TestDir::new();
    let bridge = Arclamp::start_in(
        bridge_dir.path(),
        &bridge_redis,
        &crate::bridge::bridge_config(&bridge_redis, &bridge_dir.path().join("data")),
    );
    exported.extend(exported_names(&scrape(&bridge)));
    let missing: Vec<&String> = queried
        .iter()
        .filter(|name| !exported.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics the service does not export: {missing:?}"
    );
    // Every panel named in the issue is there.
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for wanted in [
        "Samples received per second",
        "Rejected per second by reason",
        "Redis connected",
        "Actor restarts (per hour)",
        "Active aggregators",
        "Distinct stacks",
        "Checkpoint latency",
        "Render latency",
        "Render queue depth",
        "Bytes stored per period",
        "Age of the oldest window",
        "Age of the newest window",
    ] {
        assert!(
            titles.contains(&wanted),
            "no panel {wanted:?} in {titles:?}"
        );
    }
}

fn readyz(arclamp: &Arclamp) -> serde_json::Value {
    let (status, body) = arclamp.get("/readyz").expect("readyz");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("readyz JSON")
}

#[test]
fn redis_connected_follows_an_outage_while_readyz_stays_200() {
    let mut redis = RedisServer::start();
    let arclamp = Arclamp::start(&redis, "");
    assert_eq!(readyz(&arclamp)["redis"], "connected");
    redis.stop();
    arclamp.wait_metric("arclamp_redis_connected", Duration::from_secs(20), |v| {
        v == 0.0
    });
    for _ in 0..3 {
        let body = readyz(&arclamp);
        assert_eq!(body["ready"], true);
        assert_eq!(body["redis"], "disconnected");
        std::thread::sleep(Duration::from_millis(200));
    }
    redis.restart();
    arclamp.wait_metric("arclamp_redis_connected", Duration::from_secs(20), |v| {
        v == 1.0
    });
    assert_eq!(readyz(&arclamp)["redis"], "connected");
    assert_eq!(arclamp.metric("arclamp_redis_reconnects_total"), 1.0);
}

fn status(arclamp: &Arclamp) -> serde_json::Value {
    let response = http_request(arclamp.http_port, "GET", "/api/status", &[]).expect("status");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("application/json"));
    serde_json::from_slice(&response.body).expect("status JSON")
}

#[test]
fn the_status_api_reports_what_the_metrics_and_the_supervisor_say() {
    let redis = RedisServer::start();
    let arclamp = with_traffic(&redis);
    let report = status(&arclamp);
    assert_eq!(report["redis_connected"], true);
    let channel = &report["channels"][0];
    assert_eq!(channel["channel"], "excimer");
    assert_eq!(
        channel["samples_received"].as_f64(),
        Some(arclamp.metric("arclamp_samples_received_total{channel=\"excimer\"}"))
    );
    assert_eq!(channel["rejected"]["no_count"], 1.0);
    let periods: Vec<&str> = report["periods"]
        .as_array()
        .expect("periods")
        .iter()
        .map(|p| p["period"].as_str().unwrap())
        .collect();
    assert_eq!(periods, vec!["daily", "hourly"]);
    let hourly = &report["periods"][1];
    assert!(hourly["active_aggregators"].as_f64().unwrap() >= 1.0);
    assert!(hourly["distinct_stacks"].as_f64().unwrap() > 100.0);
    assert!(hourly["last_checkpoint"].as_f64().unwrap() > 1.7e9);
    assert!(hourly["log_bytes"].as_f64().unwrap() > 1000.0);
    assert_eq!(report["actor_restarts"]["subscriber"], 0.0);
    let overview = &report["overview"];
    assert_eq!(overview["channels"], serde_json::json!(["excimer"]));
    assert_eq!(overview["config_generation"], 1);
    assert!(overview["last_reload"].is_null());

    // A reload that changes nothing is applied; a broken file is refused and reported.
    let digest = overview["config_digest"].clone();
    arclamp.signal("HUP");
    wait_until("the reload", Duration::from_secs(10), || {
        status(&arclamp)["overview"]["config_generation"] == 2
    });
    let report = status(&arclamp);
    assert_eq!(report["overview"]["config_digest"], digest);
    assert!(report["overview"]["last_reload"]["error"].is_null());
    assert_eq!(report["config_reloads"]["ok"], 1.0);
    std::fs::write(arclamp.dir.join("arclamp.toml"), "[redis]\nurll = 1\n").expect("write");
    arclamp.signal("HUP");
    wait_until("the refused reload", Duration::from_secs(10), || {
        status(&arclamp)["config_reloads"]["error"] == 1.0
    });
    let report = status(&arclamp);
    assert_eq!(report["overview"]["config_generation"], 2);
    let error = report["overview"]["last_reload"]["error"].as_str().unwrap();
    assert!(error.contains("urll"), "{error}");
}

#[test]
fn the_status_page_is_served_with_its_script() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(&redis, "");
    let page = http_request(arclamp.http_port, "GET", "/status", &[]).expect("status page");
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let text = page.text();
    assert!(text.contains("data-status-url=\"/api/status\""), "{text}");
    assert!(
        text.contains("id=\"redis-state\" class=\"ok\">connected"),
        "{text}"
    );
    let script = text
        .split("<script src=\"")
        .filter_map(|s| s.split('"').next())
        .find(|src| src.starts_with("/static/status.js?v="))
        .expect("status.js linked");
    let js = http_request(arclamp.http_port, "GET", script, &[]).expect("status.js");
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(js.text().contains("/api/status") || js.text().contains("data-status-url"));
}

#[test]
fn stored_bytes_follow_a_store_that_fills_after_start_within_a_minute() {
    // The first retention pass runs at start, on an empty store; the next one would come
    // after `retention.interval` (10 minutes by default). Usage is refreshed meanwhile.
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(&redis, "");
    let logs = "arclamp_stored_bytes{period=\"daily\",kind=\"logs\"}";
    crate::arclamp::write_log(
        &arclamp.data(),
        "daily",
        "2026-11-24.excimer.all.log.gz",
        &[("index.php;MediaWiki::run;Parser::parse", 12)],
    );
    let size = std::fs::metadata(
        arclamp
            .data()
            .join("logs/daily/2026-11-24.excimer.all.log.gz"),
    )
    .expect("log written")
    .len() as f64;
    let seen = arclamp.wait_metric(logs, Duration::from_secs(90), |v| v >= size);
    assert!(seen >= size, "stored bytes {seen}, the log alone is {size}");
}
