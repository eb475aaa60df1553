//! Range graphs, differential graphs and the leaderboard (`/range.svg`, `/diff.svg`,
//! `/api/top`, `arclamp top`) against the real binary, over trace logs written into its
//! storage with known contents, and the bounds on the work one request may cause.

use std::process::Command;
use std::time::Duration;

use crate::arclamp::{binary, http_request, write_log, Arclamp, Response, TestDir};
use crate::redis_server::RedisServer;

const DAY_A: &str = "2026-11-16";
const DAY_B: &str = "2026-11-17";
const SCRIPT: &str = "<script>alert(1)</script>";

/// Two days of `excimer.all`: 10 samples each.
fn write_two_days(data: &std::path::Path) {
    write_log(
        data,
        "daily",
        &format!("{DAY_A}.excimer.all.log.gz"),
        &[
            ("index.php;MediaWiki::run;Parser::parse", 6),
            (
                "index.php;MediaWiki::run;Parser::parse;{closure};ExcimerLog::formatCollapsed",
                2,
            ),
            ("api.php;ApiMain::execute;Database::query", 2),
        ],
    );
    let script_stack = format!("index.php;MediaWiki::run;{SCRIPT}");
    write_log(
        data,
        "daily",
        &format!("{DAY_B}.excimer.all.log.gz"),
        &[
            ("index.php;MediaWiki::run;Parser::parse", 2),
            (&script_stack, 4),
            ("api.php;ApiMain::execute;Database::query", 4),
        ],
    );
}

fn get(arclamp: &Arclamp, path: &str, headers: &[&str]) -> Response {
    http_request(arclamp.http_port, "GET", path, headers).expect("HTTP answer")
}

fn svg_text(response: &Response) -> String {
    let svg = arclamp::store::compress::maybe_gunzip(&response.body).expect("gzip body");
    String::from_utf8(svg.into_owned()).expect("UTF-8 SVG")
}

/// The fill of the frame whose title starts with `title_start`.
fn fill_of(svg: &str, title_start: &str) -> (u8, u8, u8) {
    let group = svg
        .split("<g>")
        .find(|g| g.contains(&format!("<title>{title_start}")))
        .unwrap_or_else(|| panic!("no frame {title_start:?} in\n{svg}"));
    let fill = group
        .split("fill=\"rgb(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("fill");
    let parts: Vec<u8> = fill.split(',').map(|p| p.trim().parse().unwrap()).collect();
    (parts[0], parts[1], parts[2])
}

#[test]
fn range_graphs_merge_windows_and_are_cached_until_an_input_changes() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(
        &redis,
        "[on_demand]\nmax_range_windows = 7\nmax_range_span = 7\n",
    );
    write_two_days(&arclamp.data());
    let url =
        format!("/range.svg?period=daily&from=2026-11-12&to={DAY_B}&channel=excimer&entry=all");

    let first = get(&arclamp, &url, &["Accept-Encoding: gzip"]);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("content-type"), Some("image/svg+xml"));
    assert_eq!(first.header("content-encoding"), Some("gzip"));
    assert_eq!(first.header("x-arclamp-cache"), Some("miss"));
    let policy = first.header("content-security-policy").expect("CSP");
    assert!(
        policy.contains("script-src 'sha256-") && policy.contains("default-src 'none'"),
        "inferno's script runs by hash, nothing else: {policy}"
    );
    assert_eq!(first.header("x-content-type-options"), Some("nosniff"));
    // Days without a log are gaps, not errors.
    assert_eq!(
        first.header("x-arclamp-windows"),
        Some(format!("{DAY_A} {DAY_B}").as_str())
    );
    let svg = svg_text(&first);
    assert!(svg.contains("Parser::parse (10 samples, 50.00%)"), "{svg}");
    assert!(svg.contains("Database::query (6 samples, 30.00%)"));
    assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; (4 samples"));
    assert!(!svg.contains(SCRIPT), "frame names must be escaped");

    let second = get(&arclamp, &url, &["Accept-Encoding: gzip"]);
    assert_eq!(second.header("x-arclamp-cache"), Some("hit"));
    assert_eq!(second.header("etag"), first.header("etag"));
    assert_eq!(second.body, first.body);
    let etag = first.header("etag").expect("etag").to_owned();
    let unchanged = get(&arclamp, &url, &[&format!("If-None-Match: {etag}")]);
    assert_eq!(unchanged.status, 304);
    assert!(unchanged.body.is_empty());
    // Without gzip in Accept-Encoding: the plain SVG.
    let plain = get(&arclamp, &url, &[]);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.text().starts_with("<?xml"), "{}", plain.text());

    // An input changes: rendered again, with a new validator.
    write_log(
        &arclamp.data(),
        "daily",
        &format!("{DAY_A}.excimer.all.log.gz"),
        &[("index.php;MediaWiki::run;Parser::parse", 30)],
    );
    let third = get(&arclamp, &url, &["Accept-Encoding: gzip"]);
    assert_eq!(third.header("x-arclamp-cache"), Some("miss"));
    assert_ne!(third.header("etag"), Some(etag.as_str()));
    assert!(svg_text(&third).contains("Parser::parse (32 samples"));

    let reversed = get(&arclamp, &format!("{url}&reversed=1"), &[]);
    assert_eq!(reversed.status, 200);
    assert!(reversed.text().contains("reversed"));

    for (path, status, message) in [
        (
            "/range.svg?period=daily&from=2026-11-10&to=2026-11-17&channel=excimer",
            400,
            "on_demand.max_range_span",
        ),
        (
            "/range.svg?period=daily&from=2026-11-17&to=2026-11-10&channel=excimer",
            400,
            "give the earlier window first",
        ),
        (
            "/range.svg?period=daily&from=2026-10-01&to=2026-10-03&channel=excimer",
            404,
            "no daily logs",
        ),
        (
            "/range.svg?period=daily&from=..%2F..&to=2026-10-03&channel=excimer",
            400,
            "not a daily window name",
        ),
        (
            "/range.svg?period=weekly&from=2026-10-01&to=2026-10-03&channel=excimer",
            404,
            "no period \"weekly\"",
        ),
        (
            "/range.svg?period=daily&from=2026-10-01&to=2026-10-03&channel=ex%2Fcimer",
            400,
            "channel=",
        ),
        (
            "/range.svg?period=daily&from=2026-10-01&to=2026-10-03",
            400,
            "missing field `channel`",
        ),
    ] {
        let response = get(&arclamp, path, &[]);
        assert_eq!(response.status, status, "{path}: {}", response.text());
        assert!(
            response.text().contains(message),
            "{path}: {:?} lacks {message:?}",
            response.text()
        );
    }
}

#[test]
fn range_graphs_read_range_summaries_and_fall_back_to_logs() {
    let redis = RedisServer::start();
    let test_dir = TestDir::new();
    let dir = test_dir.path();
    // Frames narrower than 24 px are not drawn, so a summary may leave out those under
    // 1/20 of that (singletons, at this rate): it is smaller than its log, so it is kept.
    let extra = "[periods.daily]\nformat = \"%Y-%m-%d\"\nretain = 30\n\
                 [on_demand]\nmax_range_windows = 7\n[render]\nmin_width = 24.0\n";
    std::fs::write(
        dir.join("arclamp.toml"),
        crate::arclamp::config_text(&redis, dir, crate::arclamp::free_port(), extra),
    )
    .expect("config");
    // Three simulated days, rendered: each log gets its graphs and its range summary.
    crate::to_store::fill(
        dir,
        &[
            "--days",
            "3",
            "--rate",
            "0.2",
            "--start",
            "2026-11-01",
            "--seed",
            "5",
        ],
    );
    let data = dir.join("data");
    let summary = |day: &str| data.join(format!("logs/daily/{day}.excimer.all.range.gz"));
    for day in ["2026-11-01", "2026-11-02", "2026-11-03"] {
        assert!(summary(day).exists(), "{day} has no range summary");
    }
    let arclamp = Arclamp::start_in(dir, &redis, extra);
    let url = "/range.svg?period=daily&from=2026-11-01&to=2026-11-03&channel=excimer&entry=all";
    let from_summaries = get(&arclamp, url, &["Accept-Encoding: gzip"]);
    assert_eq!(from_summaries.status, 200, "{}", from_summaries.text());
    assert_eq!(
        from_summaries.header("x-arclamp-range-summaries"),
        Some("3 of 3")
    );
    let reversed = get(
        &arclamp,
        &format!("{url}&reversed=1"),
        &["Accept-Encoding: gzip"],
    );
    assert_eq!(reversed.header("x-arclamp-range-summaries"), Some("3 of 3"));
    assert!(svg_text(&reversed).contains("(excimer all, reversed)"));

    // Without one summary, that window is read from its log: a summary leaves out only
    // frames far narrower than any drawn, so the graph is the same, byte for byte.
    std::fs::remove_file(summary("2026-11-02")).expect("remove summary");
    let mixed = get(&arclamp, url, &["Accept-Encoding: gzip"]);
    assert_eq!(mixed.header("x-arclamp-cache"), Some("miss"));
    assert_eq!(mixed.header("x-arclamp-range-summaries"), Some("2 of 3"));
    assert_eq!(svg_text(&mixed), svg_text(&from_summaries));
    let reversed_mixed = get(
        &arclamp,
        &format!("{url}&reversed=1"),
        &["Accept-Encoding: gzip"],
    );
    assert_eq!(svg_text(&reversed_mixed), svg_text(&reversed));

    // A log changed after its summary was written: the summary is stale and not used.
    write_log(
        &data,
        "daily",
        "2026-11-03.excimer.all.log.gz",
        // Wide enough that no graph budget merges it away, whatever the generator draws.
        &[("index.php;MediaWiki::run;Stale::summary", 9000)],
    );
    let changed = get(&arclamp, url, &["Accept-Encoding: gzip"]);
    assert_eq!(changed.header("x-arclamp-range-summaries"), Some("1 of 3"));
    let svg = svg_text(&changed);
    assert!(svg.contains("Stale::summary (9,000 samples"), "{svg}");

    // A damaged summary (newer than its log, but not a summary): that window is read from
    // its log too, and the graph is the one drawn from the logs.
    std::fs::write(summary("2026-11-01"), b"\x1f\x8b damaged").expect("damage summary");
    let damaged = get(&arclamp, url, &["Accept-Encoding: gzip"]);
    assert_eq!(damaged.status, 200, "{}", damaged.text());
    assert_eq!(damaged.header("x-arclamp-range-summaries"), Some("0 of 3"));
    assert_eq!(svg_text(&damaged), svg);
}

#[test]
fn diff_graphs_are_red_where_a_window_grew_and_blue_where_it_shrank() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(&redis, "");
    write_two_days(&arclamp.data());
    let base = format!("/diff.svg?period=daily&a={DAY_A}&b={DAY_B}&channel=excimer&entry=all");
    for url in [base.clone(), format!("{base}&mode=absolute")] {
        let response = get(&arclamp, &url, &[]);
        assert_eq!(response.status, 200, "{url}: {}", response.text());
        assert_eq!(response.header("content-type"), Some("image/svg+xml"));
        let svg = response.text();
        // Database::query went from 2 to 4 of 10 samples, Parser::parse from 8 to 2.
        let (r, g, b) = fill_of(&svg, "Database::query (4 samples");
        assert!(
            r == 255 && g < 255 && b < 255,
            "grew must be red: {r},{g},{b}"
        );
        let (r, g, b) = fill_of(&svg, "Parser::parse (2 samples");
        assert!(
            b == 255 && r < 255 && g < 255,
            "shrank must be blue: {r},{g},{b}"
        );
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; (4 samples"));
        assert!(!svg.contains(SCRIPT), "frame names must be escaped");
    }
    for (query, status, message) in [
        (
            format!("a={DAY_A}&b={DAY_B}&channel=excimer&mode=bogus"),
            400,
            "use share (the default) or absolute",
        ),
        (
            format!("a=2026-11-01&b={DAY_B}&channel=excimer"),
            404,
            "no log logs/daily/2026-11-01.excimer.all.log.gz",
        ),
        (
            format!("a=yesterday&b={DAY_B}&channel=excimer"),
            400,
            "not a daily window name",
        ),
        (
            format!("a={DAY_A}&b={DAY_B}&channel=excimer&entry=in-dex"),
            400,
            "entry=",
        ),
        (
            format!("a={DAY_A}&b={DAY_B}&channel=excimer&bogus=1"),
            400,
            "unknown field `bogus`",
        ),
    ] {
        let url = format!("/diff.svg?period=daily&{query}");
        let response = get(&arclamp, &url, &[]);
        assert_eq!(response.status, status, "{url}: {}", response.text());
        assert!(
            response.text().contains(message),
            "{url}: {}",
            response.text()
        );
    }
}

#[test]
fn diff_graphs_are_drawn_from_range_summaries_when_both_windows_have_one() {
    let redis = RedisServer::start();
    let test_dir = TestDir::new();
    let dir = test_dir.path();
    let data = dir.join("data");
    // Enough samples that the colour scale (40,000) is far above a summary's error; a tail
    // of single samples that a summary folds into a few fillers (each under 1/20 of the
    // narrowest frame drawn), so it is smaller than its log and kept.
    let noise: Vec<String> = (0..500u64)
        .map(|i| {
            format!(
                "load.php;Noise::x{:016x}",
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            )
        })
        .collect();
    let with_noise = |stacks: &[(&'static str, u64)]| -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> = stacks.iter().map(|(s, n)| (s.to_string(), *n)).collect();
        all.extend(noise.iter().map(|s| (s.clone(), 1)));
        all.sort();
        all
    };
    for (day, stacks) in [
        (
            DAY_A,
            with_noise(&[
                ("index.php;MediaWiki::run;Parser::parse", 60_000),
                ("index.php;MediaWiki::run;Parser::parse;{closure}", 20_000),
                ("api.php;ApiMain::execute;Database::query", 20_000),
            ]),
        ),
        (
            DAY_B,
            with_noise(&[
                ("index.php;MediaWiki::run;Parser::parse", 20_000),
                ("index.php;MediaWiki::run;Hooks::run", 40_000),
                ("api.php;ApiMain::execute;Database::query", 40_000),
            ]),
        ),
    ] {
        let stacks: Vec<(&str, u64)> = stacks.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        write_log(
            &data,
            "daily",
            &format!("{day}.excimer.all.log.gz"),
            &stacks,
        );
    }
    // The start-up scan draws both windows, writing their range summaries.
    let arclamp = Arclamp::start_in(dir, &redis, "[render]\nmin_width = 24.0\n");
    let summary = |day: &str| data.join(format!("logs/daily/{day}.excimer.all.range.gz"));
    crate::arclamp::wait_until("range summaries", Duration::from_secs(30), || {
        summary(DAY_A).exists() && summary(DAY_B).exists()
    });
    let url = format!("/diff.svg?period=daily&a={DAY_B}&b={DAY_A}&channel=excimer&entry=all");
    let from_summaries = get(&arclamp, &url, &[]);
    assert_eq!(from_summaries.status, 200, "{}", from_summaries.text());
    assert_eq!(
        from_summaries.header("x-arclamp-range-summaries"),
        Some("2 of 2")
    );
    assert_eq!(from_summaries.header("x-arclamp-cache"), Some("miss"));
    let svg = from_summaries.text();
    let (r, g, b) = fill_of(&svg, "Database::query (40,000 samples");
    assert!(r == 255 && g < 255 && b < 255, "grew: {r},{g},{b}");
    let (r, g, b) = fill_of(&svg, "Parser::parse (20,000 samples");
    assert!(b == 255 && r < 255 && g < 255, "shrank: {r},{g},{b}");
    assert_eq!(
        get(&arclamp, &url, &[]).header("x-arclamp-cache"),
        Some("hit")
    );
    // Without summaries the logs are read: a summary leaves out only frames far narrower
    // than any drawn, so the graph is the same, byte for byte (a new input, so not the
    // cache).
    for day in [DAY_A, DAY_B] {
        std::fs::remove_file(summary(day)).expect("remove summary");
    }
    let from_logs = get(&arclamp, &url, &[]);
    assert_eq!(
        from_logs.header("x-arclamp-range-summaries"),
        Some("0 of 2")
    );
    assert_eq!(from_logs.header("x-arclamp-cache"), Some("miss"));
    assert_eq!(from_logs.text(), svg);
}

fn api_top(arclamp: &Arclamp, query: &str) -> (u16, serde_json::Value) {
    let response = get(arclamp, &format!("/api/top?{query}"), &[]);
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{}",
        response.text()
    );
    let value = serde_json::from_slice(&response.body).expect("JSON body");
    (response.status, value)
}

fn rows(answer: &serde_json::Value) -> Vec<(String, u64, f64)> {
    answer["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["function"].as_str().unwrap().to_owned(),
                r["samples"].as_u64().unwrap(),
                r["percent"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_leaderboard_skips_configured_frames_and_the_cli_agrees_with_the_api() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(&redis, "[top]\nskip = [\"ExcimerLog::*\", \"{closure}\"]\n");
    write_two_days(&arclamp.data());

    let (status, a) = api_top(
        &arclamp,
        &format!("period=daily&window={DAY_A}&channel=excimer&entry=all"),
    );
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["total_samples"], 10);
    assert_eq!(
        rows(&a),
        vec![
            ("Parser::parse".to_owned(), 8, 80.0),
            ("Database::query".to_owned(), 2, 20.0)
        ]
    );
    let (_, b) = api_top(
        &arclamp,
        &format!("period=daily&window={DAY_B}&channel=excimer&grep=%5E%5B%3CD%5D&limit=1"),
    );
    assert_eq!(b["matching_functions"], 2);
    assert_eq!(b["matching_samples"], 8);
    assert_eq!(rows(&b), vec![(SCRIPT.to_owned(), 4, 40.0)]);

    // The CLI reads the same storage with the same config.
    let output = Command::new(binary())
        .args(["top", "--period", "daily", "--window", DAY_B, "--json"])
        .args(["--grep", "^[<D]", "--limit", "1", "--config"])
        .arg(arclamp.dir.join("arclamp.toml"))
        .output()
        .expect("run arclamp top");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cli: serde_json::Value = serde_json::from_slice(&output.stdout).expect("CLI JSON");
    assert_eq!(cli, b);
    let output = Command::new(binary())
        .args(["top", "--period", "daily", "--window", DAY_A, "--config"])
        .arg(arclamp.dir.join("arclamp.toml"))
        .output()
        .expect("run arclamp top");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("10 samples, 2 functions"), "{table}");
    assert!(
        table.contains("         8  80.00%  Parser::parse"),
        "{table}"
    );

    let long_grep = "a".repeat(3000);
    for (query, status, message) in [
        (
            format!("period=daily&window={DAY_A}&channel=excimer&limit=5000"),
            400,
            "limit must be between 1 and 1000",
        ),
        (
            format!("period=daily&window={DAY_A}&channel=excimer&grep=("),
            400,
            "grep:",
        ),
        (
            format!("period=daily&window={DAY_A}&channel=excimer&grep={long_grep}"),
            400,
            "longer than the 2048 allowed",
        ),
        (
            "period=daily&window=2026-01-01&channel=excimer".to_owned(),
            404,
            "no log",
        ),
        (
            "period=daily&window=2026-01-01_05&channel=excimer".to_owned(),
            400,
            "not a daily window name",
        ),
    ] {
        let (got, body) = api_top(&arclamp, &query);
        assert_eq!(got, status, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(message),
            "{query}: {body}"
        );
    }
    // The client's errors are only answered; a damaged stored log is the service's: a 500,
    // logged and counted once per request, by kind.
    let failures = |kind: &str| {
        format!("arclamp_on_demand_failures_total{{kind=\"{kind}\",reason=\"damaged_log\"}}")
    };
    let damaged_day = "2026-11-18";
    assert_eq!(arclamp.metric(&failures("top")), 0.0);
    let damaged = arclamp
        .data()
        .join(format!("logs/daily/{damaged_day}.excimer.all.log.gz"));
    std::fs::write(&damaged, b"\x1f\x8b\x08\0damaged beyond its header").expect("damage a log");
    let (got, body) = api_top(
        &arclamp,
        &format!("period=daily&window={damaged_day}&channel=excimer"),
    );
    assert_eq!(got, 500, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not a readable trace log"),
        "{body}"
    );
    assert_eq!(arclamp.metric(&failures("top")), 1.0);
    let range = get(
        &arclamp,
        &format!("/range.svg?period=daily&from={DAY_B}&to={damaged_day}&channel=excimer"),
        &[],
    );
    assert_eq!(range.status, 500, "{}", range.text());
    assert_eq!(arclamp.metric(&failures("range")), 1.0);
    assert_eq!(arclamp.metric(&failures("top")), 1.0);
    assert!(
        arclamp.log().contains("on-demand request failed"),
        "{}",
        arclamp.log()
    );
    std::fs::remove_file(&damaged).expect("remove the damaged log");
    let output = Command::new(binary())
        .args([
            "top",
            "--period",
            "daily",
            "--window",
            "2026-01-01",
            "--config",
        ])
        .arg(arclamp.dir.join("arclamp.toml"))
        .output()
        .expect("run arclamp top");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no log"));

    // SIGHUP applies a new `[top]` and `[on_demand]` to the running service.
    arclamp.rewrite_config(
        &redis,
        "[top]\nskip = [\"{closure}\"]\n[on_demand]\nmax_range_windows = 1\n",
    );
    arclamp.signal("HUP");
    arclamp.wait_metric(
        "arclamp_config_reloads_total{result=\"ok\"}",
        Duration::from_secs(10),
        |v| v == 1.0,
    );
    let (_, a) = api_top(
        &arclamp,
        &format!("period=daily&window={DAY_A}&channel=excimer&entry=all"),
    );
    assert_eq!(
        rows(&a),
        vec![
            ("Parser::parse".to_owned(), 6, 60.0),
            ("Database::query".to_owned(), 2, 20.0),
            ("ExcimerLog::formatCollapsed".to_owned(), 2, 20.0)
        ]
    );
    let range = get(
        &arclamp,
        &format!("/range.svg?period=daily&from={DAY_A}&to={DAY_B}&channel=excimer"),
        &[],
    );
    assert_eq!(range.status, 400, "{}", range.text());
    assert!(
        range.text().contains("max_range_windows"),
        "{}",
        range.text()
    );
}

#[test]
fn renders_beyond_the_concurrency_limit_and_the_queue_get_503_and_a_retry_hint() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start_with_env(
        &redis,
        "[on_demand]\nmax_concurrent_renders = 1\nmax_queued = 0\n",
        &[("ARCLAMP_DEBUG_ON_DEMAND_DELAY_MS", "2000")],
    );
    write_two_days(&arclamp.data());
    let port = arclamp.http_port;
    let slow = std::thread::spawn(move || {
        http_request(
            port,
            "GET",
            &format!("/range.svg?period=daily&from={DAY_A}&to={DAY_B}&channel=excimer"),
            &[],
        )
        .expect("answer")
    });
    std::thread::sleep(Duration::from_millis(500));
    let diff = format!("/diff.svg?period=daily&a={DAY_A}&b={DAY_B}&channel=excimer");
    let refused = get(&arclamp, &diff, &[]);
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(refused.header("retry-after"), Some("2"));
    assert!(refused.text().contains("on_demand.max_concurrent_renders"));
    let (status, body) = api_top(
        &arclamp,
        &format!("period=daily&window={DAY_A}&channel=excimer"),
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(slow.join().expect("slow request").status, 200);
    assert_eq!(get(&arclamp, &diff, &[]).status, 200);
}

#[test]
fn a_burst_of_range_requests_is_queued_up_to_its_bound_and_the_rest_refused_at_once() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start_with_env(
        &redis,
        "[on_demand]\nmax_concurrent_renders = 1\nmax_queued = 2\ncache_megabytes = 0\n",
        &[("ARCLAMP_DEBUG_ON_DEMAND_DELAY_MS", "1000")],
    );
    write_two_days(&arclamp.data());
    let port = arclamp.http_port;
    let started = std::time::Instant::now();
    let requests: Vec<_> = (0..12)
        .map(|i| {
            std::thread::spawn(move || {
                let reversed = if i % 2 == 0 { "&reversed=1" } else { "" };
                let target = format!(
                    "/range.svg?period=daily&from={DAY_A}&to={DAY_B}&channel=excimer{reversed}"
                );
                let response = http_request(port, "GET", &target, &[]).expect("answer");
                (response, started.elapsed())
            })
        })
        .collect();
    let answers: Vec<_> = requests
        .into_iter()
        .map(|r| r.join().expect("request thread"))
        .collect();
    let served = answers.iter().filter(|(r, _)| r.status == 200).count();
    let refused: Vec<_> = answers.iter().filter(|(r, _)| r.status == 503).collect();
    // One computing, two waiting: three served one after the other, nine refused.
    assert_eq!(
        (served, refused.len()),
        (3, 9),
        "{:?}",
        answers.iter().map(|(r, _)| r.status).collect::<Vec<_>>()
    );
    for (response, after) in refused {
        assert_eq!(response.header("retry-after"), Some("2"));
        assert!(
            *after < Duration::from_millis(900),
            "refused at once, not after waiting: {after:?}"
        );
    }
    // The service is still there.
    assert_eq!(get(&arclamp, "/healthz", &[]).status, 200);
}

#[test]
fn pages_embed_the_graphs_link_each_side_and_escape_frames() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(
        &redis,
        "[on_demand]\nmax_range_windows = 7\nmax_range_span = 7\n",
    );
    write_two_days(&arclamp.data());
    let html = |path: &str, status: u16| -> String {
        let response = get(&arclamp, path, &[]);
        assert_eq!(response.status, status, "{path}: {}", response.text());
        assert_eq!(
            response.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        let policy = response.header("content-security-policy").expect("CSP");
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        response.text()
    };

    // The diff page names the earlier window "before", whichever order the link gave.
    for (a, b) in [(DAY_A, DAY_B), (DAY_B, DAY_A)] {
        let page = html(
            &format!("/diff?period=daily&a={a}&b={b}&channel=excimer&entry=all"),
            200,
        );
        assert!(
            page.contains(&format!(
                "src=\"/diff.svg?period=daily&#38;a={DAY_A}&#38;b={DAY_B}&#38;channel=excimer&#38;entry=all&#38;mode=share\""
            )) || page.contains(&format!(
                "src=\"/diff.svg?period=daily&amp;a={DAY_A}&amp;b={DAY_B}&amp;channel=excimer&amp;entry=all&amp;mode=share\""
            )),
            "{page}"
        );
        assert!(page.contains(&format!("href=\"/view/daily/{DAY_A}/excimer/all\"")));
        assert!(page.contains(&format!("href=\"/view/daily/{DAY_B}/excimer/all\"")));
    }
    html(
        "/diff?period=daily&a=2026-13-01&b=2026-11-17&channel=excimer",
        400,
    );

    let page = html(
        &format!("/range?period=daily&from={DAY_A}&to={DAY_B}&channel=excimer&reversed=1"),
        200,
    );
    assert!(page.contains("/range.svg?period=daily"), "{page}");
    assert!(page.contains("2 windows"), "{page}");
    html(
        "/range?period=daily&from=2026-11-01&to=2026-11-17&channel=excimer",
        400,
    );

    // The leaderboard page shows frames as text.
    let page = html(
        &format!("/top?period=daily&window={DAY_B}&channel=excimer&entry=all"),
        200,
    );
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            || page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{page}"
    );
    assert!(!page.contains(SCRIPT), "frame names must be escaped");
    assert!(page.contains("40.00"), "{page}");
    let page = html("/top", 200);
    assert!(page.contains("<form"), "{page}");
    let page = html(
        &format!("/top?period=daily&window={DAY_B}&channel=excimer&limit=abc"),
        400,
    );
    assert!(page.contains("is not a number"), "{page}");
    let page = html(
        &format!("/top?period=daily&window={DAY_B}&channel=excimer&grep=%3Cscript%3E("),
        400,
    );
    assert!(
        !page.contains("<script>("),
        "the grep value is escaped: {page}"
    );
}

/// Samples in the graph: its root frame's count (`all (N samples, 100%)`).
fn root_samples(svg: &str) -> u64 {
    let title = svg
        .split("<title>")
        .find(|t| t.starts_with("all ("))
        .unwrap_or_else(|| panic!("no root frame in {svg}"));
    title["all (".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no count in {title}"))
}

#[test]
fn long_ranges_read_rollups_of_blocks_of_windows_and_never_stale_ones() {
    let redis = RedisServer::start();
    let test_dir = TestDir::new();
    let dir = test_dir.path();
    // 20 windows are longer than max_range_windows (12): the range needs roll-ups of 8.
    // Wide frames only (100 px): at this rate a window's summary (which may leave out
    // frames under 5 px) is smaller than its log, so every window has one.
    let extra = "[periods.daily]\nformat = \"%Y-%m-%d\"\nretain = 800\n\
                 [on_demand]\nmax_range_windows = 12\n[render]\nmin_width = 100.0\n";
    std::fs::write(
        dir.join("arclamp.toml"),
        crate::arclamp::config_text(&redis, dir, crate::arclamp::free_port(), extra),
    )
    .expect("config");
    // 2026-01-27 is day 20,480 since 1970-01-01: it starts a block of 8 (and of 64).
    let report = crate::to_store::fill(
        dir,
        &[
            "--days",
            "20",
            "--rate",
            "0.02",
            "--start",
            "2026-01-27",
            "--seed",
            "7",
        ],
    );
    let logs = dir.join("data/logs/daily");
    let rollups = |entry: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&logs)
            .expect("logs dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(&format!(".excimer.{entry}.rollup")))
            .collect();
        names.sort();
        names
    };
    // Every block that is over gets its roll-up, also those only partly filled (their
    // other windows have no log): three of 8 and one of 64 per series.
    let all_rollups = rollups("all");
    let kinds: Vec<&str> = all_rollups
        .iter()
        .map(|n| &n[..n.rfind('.').and_then(|e| n[..e].rfind('.')).expect("name")])
        .collect();
    assert_eq!(
        kinds,
        [
            "2026-01-27.excimer.all.rollup64",
            "2026-01-27.excimer.all.rollup8",
            "2026-02-04.excimer.all.rollup8",
            "2026-02-12.excimer.all.rollup8"
        ]
    );
    assert_eq!(report["rollups"].as_u64(), Some(4 * 6), "{report}");
    let samples: u64 = std::fs::read_dir(&logs)
        .expect("logs dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".excimer.all.log.gz"))
        .map(|p| {
            let bytes = std::fs::read(&p).expect("log");
            crate::arclamp::parse_log(&bytes, &p.to_string_lossy())
                .values()
                .sum::<u64>()
        })
        .sum();
    assert!(samples > 20_000, "{samples}");

    let arclamp = Arclamp::start_in(dir, &redis, extra);
    let url = "/range.svg?period=daily&from=2026-01-27&to=2026-02-15&channel=excimer&entry=all";
    let graph = get(&arclamp, url, &["Accept-Encoding: gzip"]);
    assert_eq!(graph.status, 200, "{}", graph.text());
    assert_eq!(graph.header("x-arclamp-range-rollups"), Some("16 of 20"));
    assert_eq!(graph.header("x-arclamp-range-summaries"), Some("20 of 20"));
    let svg = svg_text(&graph);
    // Roll-ups keep every sample: only narrow frames are merged into their parents.
    assert_eq!(root_samples(&svg), samples);
    assert!(
        svg.contains("20 windows, 16 of them from 2 roll-ups")
            && svg.contains("are merged into their parent"),
        "the graph does not say what it was drawn from: {svg}"
    );
    let reversed = get(
        &arclamp,
        &format!("{url}&reversed=1"),
        &["Accept-Encoding: gzip"],
    );
    assert_eq!(reversed.status, 200, "{}", reversed.text());
    assert_eq!(root_samples(&svg_text(&reversed)), samples);
    // The view page of the last window offers the whole stored history, which answers.
    let view = get(&arclamp, "/view/daily/2026-02-15/excimer/all", &[]).text();
    let history = "/range?period=daily&from=2026-01-27&to=2026-02-15&channel=excimer&entry=all";
    assert!(
        view.replace("&#38;", "&").contains(&format!(
            "<a href=\"{history}\">merge all 20 windows since 2026-01-27</a>"
        )),
        "{view}"
    );
    assert_eq!(get(&arclamp, history, &[]).status, 200);

    // Trends: the top function of one day, followed over the 20 days, agrees with every
    // day's leaderboard.
    let top = |window: &str| -> serde_json::Value {
        let answer = get(
            &arclamp,
            &format!("/api/top?period=daily&window={window}&channel=excimer&entry=all&limit=1000"),
            &[],
        );
        assert_eq!(answer.status, 200, "{}", answer.text());
        serde_json::from_slice(&answer.body).expect("top JSON")
    };
    let function = top("2026-02-10")["rows"][0]["function"]
        .as_str()
        .expect("a top function")
        .to_owned();
    let trend_query = format!(
        "period=daily&channel=excimer&entry=all&function={}&from=2026-01-27&to=2026-02-15",
        function
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            })
            .collect::<String>()
    );
    let trend = get(&arclamp, &format!("/api/trend.json?{trend_query}"), &[]);
    assert_eq!(trend.status, 200, "{}", trend.text());
    let trend: serde_json::Value = serde_json::from_slice(&trend.body).expect("trend JSON");
    let points = trend["points"].as_array().expect("points");
    assert_eq!(points.len(), 20, "{trend}");
    assert_eq!(trend["without_totals"], 0);
    for point in points {
        let board = top(point["window"].as_str().expect("window"));
        let row = board["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["function"] == function.as_str())
            .map_or(0, |r| r["samples"].as_u64().expect("samples"));
        assert_eq!(point["samples"].as_u64(), Some(row), "{point}");
        assert_eq!(point["total"], board["total_samples"], "{point}");
    }
    let page = get(&arclamp, &format!("/trend?{trend_query}"), &[]);
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("<polyline"), "{}", page.text());
    let top_page = get(
        &arclamp,
        "/top?period=daily&window=2026-02-10&channel=excimer&entry=all",
        &[],
    )
    .text();
    assert!(
        top_page.contains("/trend?period=daily&#38;channel=excimer"),
        "{top_page}"
    );
    for bad in [
        "period=daily&channel=excimer&function=&from=2026-01-27&to=2026-02-15",
        "period=daily&channel=excimer&function=a%3Bb&from=2026-01-27&to=2026-02-15",
        "period=daily&channel=excimer&function=f&from=2026-02-15&to=2026-01-27",
    ] {
        let refused = get(&arclamp, &format!("/api/trend.json?{bad}"), &[]);
        assert_eq!(refused.status, 400, "{bad}: {}", refused.text());
    }

    // 64 windows (20 of them with logs): one roll-up of 64, built from those of 8.
    let long = "/range.svg?period=daily&from=2026-01-27&to=2026-03-31&channel=excimer&entry=all";
    let graph = get(&arclamp, long, &["Accept-Encoding: gzip"]);
    assert_eq!(graph.status, 200, "{}", graph.text());
    assert_eq!(graph.header("x-arclamp-range-rollups"), Some("20 of 20"));
    assert_eq!(root_samples(&svg_text(&graph)), samples);

    // A log of the first block changes: its roll-up no longer matches and is not read;
    // that block's windows are read one by one (12 windows on their own).
    write_log(
        &dir.join("data"),
        "daily",
        "2026-01-29.excimer.all.log.gz",
        &[("index.php;MediaWiki::run;Changed::later", 4_000)],
    );
    let changed = get(&arclamp, url, &["Accept-Encoding: gzip"]);
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(changed.header("x-arclamp-range-rollups"), Some("8 of 20"));
    assert!(svg_text(&changed).contains("Changed::later (4,000 samples"));
    // The changed window's function totals were counted from its old log: a gap.
    let trend = get(&arclamp, &format!("/api/trend.json?{trend_query}"), &[]);
    let trend: serde_json::Value = serde_json::from_slice(&trend.body).expect("trend JSON");
    assert_eq!(trend["without_totals"], 1, "{trend}");
    assert_eq!(
        trend["points"][2]["samples"],
        serde_json::Value::Null,
        "{trend}"
    );
    let changed = get(&arclamp, long, &["Accept-Encoding: gzip"]);
    assert_eq!(changed.header("x-arclamp-range-rollups"), Some("12 of 20"));

    // Without roll-ups, 20 windows on their own are more than allowed: a clear 400.
    for name in rollups("all") {
        std::fs::remove_file(logs.join(name)).expect("remove roll-up");
    }
    let refused = get(&arclamp, url, &[]);
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(
        refused.text().contains("on_demand.max_range_windows (12)"),
        "{}",
        refused.text()
    );

    // The retention pass builds them again, the changed block from its current logs.
    drop(arclamp);
    let arclamp = Arclamp::start_in(dir, &redis, extra);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while rollups("all").len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "no roll-ups rebuilt: {:?}",
            rollups("all")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let rebuilt = get(&arclamp, url, &["Accept-Encoding: gzip"]);
    assert_eq!(rebuilt.status, 200, "{}", rebuilt.text());
    assert_eq!(rebuilt.header("x-arclamp-range-rollups"), Some("16 of 20"));
    assert!(svg_text(&rebuilt).contains("Changed::later (4,000 samples"));
    assert!(arclamp.metric("arclamp_rollups_built_total{period=\"daily\"}") >= 2.0);
}

#[test]
fn a_long_range_finds_every_window_when_names_do_not_sort_by_time() {
    // Day first: "20-01-2026" lies between "15-01-2026" and "18-03-2026" in time but does
    // not share their common start "1".
    let redis = RedisServer::start();
    let extra = "[periods.daily]\nformat = \"%d-%m-%Y\"\nretain = 800\n";
    let arclamp = Arclamp::start(&redis, extra);
    for (day, samples) in [("15-01-2026", 3), ("20-01-2026", 5), ("18-03-2026", 7)] {
        write_log(
            &arclamp.data(),
            "daily",
            &format!("{day}.excimer.all.log.gz"),
            &[("index.php;MediaWiki::run;Parser::parse", samples)],
        );
    }
    let range = get(
        &arclamp,
        "/range.svg?period=daily&from=15-01-2026&to=18-03-2026&channel=excimer&entry=all",
        &["Accept-Encoding: gzip"],
    );
    assert_eq!(range.status, 200, "{}", range.text());
    assert_eq!(
        range.header("x-arclamp-windows"),
        Some("15-01-2026 20-01-2026 18-03-2026")
    );
    assert_eq!(root_samples(&svg_text(&range)), 15);
}
