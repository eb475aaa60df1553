//! Raw files, `/api/index.json`, the browser and graph pages against a service that
//! aggregated real published samples: gzip negotiation both ways, conditional GET, HEAD,
//! CORS on logs, the SVG's own CSP, traversal attempts, the catalogue's counts (from the
//! checkpoint summaries), large logs streamed (decoded or as stored), damaged stored files (counted), and HTML escaping of a frame named `<script>alert(1)</script>`.

use std::io::Read;
use std::time::Duration;

use crate::arclamp::{
    http_request, publish, publish_raw, read_log, wait_until, window_total, Arclamp, Response,
};
use crate::redis_server::RedisServer;

/// The service's clock starts here, so window names are known.
pub const CLOCK: &str = "[clock]\nstart = \"2026-11-24T12:00:00Z\"\nspeed = 1.0\n";
/// The daily window the samples land in.
pub const DAY: &str = "2026-11-24";
/// The frame that must never become markup.
pub const SCRIPT_FRAME: &str = "<script>alert(1)</script>";

/// A service with one channel's samples aggregated and rendered (daily and hourly), plus
/// one stack with a hostile frame name. Returns the service and the samples in `all`.
pub fn aggregated_service(redis: &RedisServer) -> (Arclamp, u64) {
    let extra = format!(
        "{CLOCK}[aggregation]\nflush_interval = \"200ms\"\n\
         [[render.functions]]\nname = \"MediaWiki::run\"\nlabel = \"Run\"\n"
    );
    let arclamp = Arclamp::start(redis, &extra);
    let expected = publish(redis, "excimer", 400, 11, &[]);
    let hostile = format!("/w/index.php;MediaWiki::run;{SCRIPT_FRAME} 5\n");
    publish_raw(redis, "excimer", &[hostile.as_bytes()]);
    let all = expected.samples["all"] + 5;
    arclamp.wait_received("excimer", all);
    let data = arclamp.data();
    wait_until(
        "the daily log to hold every sample",
        Duration::from_secs(30),
        || {
            data.join(format!("logs/daily/{DAY}.excimer.all.meta.json"))
                .exists()
                && window_total(&data, "daily", "excimer", "all") == all
        },
    );
    // Graphs follow the last checkpoint: wait until every daily graph shows every sample
    // (then nothing changes any more: no new samples, no new render).
    wait_until(
        "the daily graphs to be rendered",
        Duration::from_secs(30),
        || {
            let path = |suffix: &str| format!("svgs/daily/{DAY}.excimer.all{suffix}.svgz");
            let complete = |suffix: &str| {
                data.join(path(suffix)).exists()
                    && crate::render_cli::frame_counts(
                        crate::arclamp::read_svg(&data, &path(suffix)).as_bytes(),
                    )
                    .get("all")
                        == Some(&all)
            };
            let modified = |suffix: &str| {
                std::fs::metadata(data.join(path(suffix)))
                    .and_then(|m| m.modified())
                    .ok()
            };
            // Function graphs are rendered after the whole-window ones, in the same job.
            complete("")
                && complete(".reversed")
                && modified(".fn-Run.reversed") >= modified(".reversed")
        },
    );
    // Trends read function totals, written per entry point after the graphs, each naming
    // the size of the `all` log it counted (older ones are not used): give every entry
    // point's up to 30 s to count the final log. Not asserted here: an entry point that
    // got no samples in the last checkpoint is not rendered again, so its totals may
    // never count the final `all` log (an open bug, issue 16 note of 2026-12-08); the
    // browser test checks what a trend page shows.
    let entries: Vec<&str> = expected.samples.keys().map(String::as_str).collect();
    let counted_final_log = || {
        let Ok(log) = std::fs::metadata(data.join(format!("logs/daily/{DAY}.excimer.all.log.gz")))
        else {
            return false;
        };
        let counted = format!("log_bytes={}", log.len());
        entries.iter().all(|entry| {
            std::fs::read(data.join(format!("logs/daily/{DAY}.excimer.{entry}.functions.gz")))
                .is_ok_and(|bytes| {
                    String::from_utf8_lossy(&gunzip(&bytes))
                        .lines()
                        .next()
                        .is_some_and(|header| header.ends_with(&counted))
                })
        })
    };
    let settle = std::time::Instant::now();
    while !counted_final_log() && settle.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    (arclamp, all)
}

fn get(arclamp: &Arclamp, target: &str, headers: &[&str]) -> Response {
    http_request(arclamp.http_port, "GET", target, headers).expect("HTTP answer")
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

#[test]
fn raw_files_negotiate_gzip_validate_and_refuse_traversal() {
    let redis = RedisServer::start();
    let (arclamp, all) = aggregated_service(&redis);
    let data = arclamp.data();
    let svg_path = format!("/svgs/daily/{DAY}.excimer.all.svgz");
    let on_disk = std::fs::read(data.join(&svg_path[1..])).unwrap();

    // gzip to a client that takes it, byte for byte what is stored.
    let gz = get(&arclamp, &svg_path, &["Accept-Encoding: gzip, deflate"]);
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("content-type"), Some("image/svg+xml"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    assert_eq!(gz.body, on_disk);
    let svg = String::from_utf8(gunzip(&gz.body)).unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"));
    // The hostile frame is text in the SVG, never an element.
    assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!svg.contains(SCRIPT_FRAME));
    // Its CSP lets exactly its own script run.
    let csp = gz.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'sha256-") && csp.contains("'unsafe-hashes'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(gz.header("x-content-type-options"), Some("nosniff"));

    // Decoded for a client that does not.
    for headers in [
        &[][..],
        &["Accept-Encoding: identity"][..],
        &["Accept-Encoding: gzip;q=0"][..],
    ] {
        let plain = get(&arclamp, &svg_path, headers);
        assert_eq!(plain.status, 200, "{headers:?}");
        assert_eq!(plain.header("content-encoding"), None, "{headers:?}");
        assert_eq!(plain.text(), svg, "{headers:?}");
        assert_ne!(plain.header("etag"), gz.header("etag"));
    }

    // Conditional GET.
    let etag = gz.header("etag").unwrap().to_owned();
    let modified = gz.header("last-modified").unwrap().to_owned();
    let same = get(
        &arclamp,
        &svg_path,
        &["Accept-Encoding: gzip", &format!("If-None-Match: {etag}")],
    );
    assert_eq!(same.status, 304);
    assert!(same.body.is_empty());
    assert_eq!(same.header("etag"), Some(etag.as_str()));
    let since = get(
        &arclamp,
        &svg_path,
        &[
            "Accept-Encoding: gzip",
            &format!("If-Modified-Since: {modified}"),
        ],
    );
    assert_eq!(since.status, 304);
    let other = get(
        &arclamp,
        &svg_path,
        &["Accept-Encoding: gzip", "If-None-Match: \"something-else\""],
    );
    assert_eq!(other.status, 200);
    assert_eq!(other.body, on_disk);

    // HEAD: headers, no body.
    let head = http_request(
        arclamp.http_port,
        "HEAD",
        &svg_path,
        &["Accept-Encoding: gzip"],
    )
    .unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    assert_eq!(
        head.header("content-length"),
        Some(on_disk.len().to_string().as_str())
    );

    // Logs: CORS for speedscope, plain text when decoded, every sample there.
    let log_path = format!("/logs/daily/{DAY}.excimer.all.log.gz");
    let log = get(&arclamp, &log_path, &[]);
    assert_eq!(log.status, 200);
    assert_eq!(log.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        log.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let total: u64 = log
        .text()
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, all);
    assert_eq!(read_log(&data, &log_path[1..]).values().sum::<u64>(), all);
    let log_gz = get(&arclamp, &log_path, &["Accept-Encoding: gzip"]);
    assert_eq!(log_gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&log_gz.body), log.body);

    // Missing and malformed names.
    assert_eq!(
        get(&arclamp, "/svgs/daily/2020-01-01.excimer.all.svgz", &[]).status,
        404
    );
    assert_eq!(get(&arclamp, "/logs/daily/passwd", &[]).status, 404);
    for target in [
        "/logs/../x",
        "/logs/../../etc/passwd",
        "/logs/hourly/..%2F..%2Fetc%2Fpasswd",
        "/logs/..%2F..%2Fetc/passwd.log.gz",
        "/logs/hourly/%2Fetc%2Fpasswd",
        "/logs/hourly/a%00b.log.gz",
        "/logs/hourly/%00",
        "/svgs/%2e%2e/x.svgz",
        "//etc/passwd",
        "/logs//etc/passwd",
        "/logs/daily/..%5C..%5Cetc%5Cpasswd",
        "/view/daily/..%2F..%2Fetc/excimer/all",
        "/view/daily/2026-11-24/..%2Fx/all",
        "/view/daily/2026-11-24/excimer/a%00",
    ] {
        let r = get(&arclamp, target, &[]);
        assert!(
            r.status == 400 || r.status == 404,
            "{target}: {} {}",
            r.status,
            r.text()
        );
        assert!(!r.text().contains("root:"), "{target}");
    }
}

/// A log of two gzip members at `level`: `lines` lines of (text, count) per member. Returns
/// the stored bytes, the text and its sample total.
fn two_member_log(lines: usize, level: u32) -> (Vec<u8>, String, u64) {
    let first: String = (0..lines)
        .map(|i| format!("/w/api.php;ApiMain::execute;Module{i}::run 2\n"))
        .collect();
    let second: String = (0..lines / 3)
        .map(|i| format!("/w/index.php;MediaWiki::run;Page{i}::view 1\n"))
        .collect();
    let mut stored = Vec::new();
    for member in [&first, &second] {
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        std::io::Write::write_all(&mut encoder, member.as_bytes()).unwrap();
        stored.extend(encoder.finish().unwrap());
    }
    (
        stored,
        first + &second,
        lines as u64 * 2 + (lines / 3) as u64,
    )
}

#[test]
fn large_logs_are_streamed_decoded_or_as_stored() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(&redis, CLOCK);
    // One log small enough for the file cache but decoded in many pieces, one bigger than
    // the cache takes (stored uncompressed: 9 MB), which is read from storage in pieces.
    for (day, lines, level) in [("2026-11-20", 60_000, 1), ("2026-11-21", 180_000, 0)] {
        let (stored, text, samples) = two_member_log(lines, level);
        let relative = format!("logs/daily/{day}.excimer.all.log.gz");
        let path = arclamp.data().join(&relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &stored).unwrap();
        let url = format!("/{relative}");

        // Decoded for a client without gzip: chunked, no length known up front.
        let plain = get(&arclamp, &url, &[]);
        assert_eq!(plain.status, 200, "{day}: {}", plain.text());
        assert_eq!(plain.header("content-encoding"), None, "{day}");
        assert_eq!(plain.header("transfer-encoding"), Some("chunked"), "{day}");
        assert_eq!(plain.header("content-length"), None, "{day}");
        assert!(plain.text() == text, "{day}: the decoded log differs");
        let total: u64 = plain
            .text()
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .sum();
        assert_eq!(total, samples, "{day}");

        // As stored, with its length, for a client that takes gzip.
        let gz = get(&arclamp, &url, &["Accept-Encoding: gzip"]);
        assert_eq!(gz.status, 200, "{day}");
        assert_eq!(gz.header("content-encoding"), Some("gzip"), "{day}");
        assert_eq!(
            gz.header("content-length"),
            Some(stored.len().to_string().as_str()),
            "{day}"
        );
        assert!(gz.body == stored, "{day}: the stored bytes differ");
        assert_eq!(gz.header("access-control-allow-origin"), Some("*"));

        // Revalidation and HEAD.
        let etag = gz.header("etag").unwrap().to_owned();
        let same = get(
            &arclamp,
            &url,
            &["Accept-Encoding: gzip", &format!("If-None-Match: {etag}")],
        );
        assert_eq!(same.status, 304, "{day}");
        assert!(same.body.is_empty());
        let head =
            http_request(arclamp.http_port, "HEAD", &url, &["Accept-Encoding: gzip"]).unwrap();
        assert_eq!(head.status, 200, "{day}");
        assert!(head.body.is_empty(), "{day}");
    }

    // A damaged log, decoded for a client without gzip: the body is cut short (its status
    // is sent before the damage is found) and the failure logged and counted.
    let streamed = "arclamp_http_stream_failures_total";
    assert_eq!(arclamp.metric(streamed), 0.0);
    let (stored, text, _) = two_member_log(20_000, 1);
    let relative = "logs/daily/2026-11-22.excimer.all.log.gz";
    std::fs::write(arclamp.data().join(relative), &stored[..stored.len() / 2]).unwrap();
    let cut = http_request(arclamp.http_port, "GET", &format!("/{relative}"), &[]);
    if let Some(cut) = cut {
        assert_eq!(cut.status, 200);
        assert!(
            cut.body.len() < text.len(),
            "the damaged log was served whole"
        );
    }
    arclamp.wait_metric(streamed, Duration::from_secs(10), |v| v == 1.0);
    assert!(arclamp.log().contains(relative), "{}", arclamp.log());

    // A damaged graph cannot be served at all: a 500, logged and counted.
    let damaged = "arclamp_http_damaged_files_total";
    assert_eq!(arclamp.metric(damaged), 0.0);
    let relative = "svgs/daily/2026-11-22.excimer.all.svgz";
    std::fs::create_dir_all(arclamp.data().join("svgs/daily")).unwrap();
    std::fs::write(arclamp.data().join(relative), b"\x1f\x8b\x08\0not a graph").unwrap();
    let broken = get(
        &arclamp,
        &format!("/{relative}"),
        &["Accept-Encoding: gzip"],
    );
    assert_eq!(broken.status, 500, "{}", broken.text());
    assert!(broken.text().contains("is damaged"), "{}", broken.text());
    assert_eq!(arclamp.metric(damaged), 1.0);
    assert_eq!(arclamp.metric(streamed), 1.0);
}

#[test]
fn index_pages_and_escaping() {
    let redis = RedisServer::start();
    let (arclamp, all) = aggregated_service(&redis);

    // The API: every file, sample counts from the summaries, live windows.
    let index = get(&arclamp, "/api/index.json", &[]);
    assert_eq!(index.status, 200);
    assert_eq!(index.header("content-type"), Some("application/json"));
    let answer: serde_json::Value = serde_json::from_slice(&index.body).unwrap();
    let items = answer["items"].as_array().unwrap();
    assert_eq!(answer["total"].as_u64(), Some(items.len() as u64));
    let daily_log = items
        .iter()
        .find(|i| i["url"] == format!("/logs/daily/{DAY}.excimer.all.log.gz"))
        .expect("daily log listed");
    assert_eq!(daily_log["kind"], "log");
    assert_eq!(daily_log["samples"].as_u64(), Some(all));
    assert!(daily_log["stacks"].as_u64().unwrap() > 1);
    assert_eq!(daily_log["live"], true);
    let daily_graphs: Vec<_> = items
        .iter()
        .filter(|i| i["period"] == "daily" && i["entry"] == "all" && i["kind"] == "graph")
        .collect();
    // forward, reversed, and the Run function graph in both directions.
    assert_eq!(daily_graphs.len(), 4, "{daily_graphs:?}");
    assert!(daily_graphs
        .iter()
        .any(|g| g["function"] == "Run" && g["reversed"] == true && g["samples"].is_null()));
    assert!(daily_graphs
        .iter()
        .any(|g| g["function"].is_null() && g["samples"].as_u64() == Some(all)));
    let live = answer["live"].as_array().unwrap();
    assert!(live
        .iter()
        .any(|l| l["period"] == "daily" && l["window"] == DAY && l["last_checkpoint"].is_string()));

    let filtered = get(
        &arclamp,
        &format!("/api/index.json?period=daily&entry=all&kind=log&from={DAY}&to={DAY}"),
        &[],
    );
    let filtered: serde_json::Value = serde_json::from_slice(&filtered.body).unwrap();
    assert_eq!(filtered["total"], 1, "{filtered}");
    let none = get(
        &arclamp,
        "/api/index.json?period=daily&from=2026-11-25",
        &[],
    );
    let none: serde_json::Value = serde_json::from_slice(&none.body).unwrap();
    assert_eq!(none["total"], 0);
    let page = get(&arclamp, "/api/index.json?limit=2&offset=1", &[]);
    let page: serde_json::Value = serde_json::from_slice(&page.body).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0], items[1]);
    assert_eq!(
        get(&arclamp, "/api/index.json?period=weekly", &[]).status,
        404
    );
    assert_eq!(
        get(&arclamp, "/api/index.json?from=2026-11-24", &[]).status,
        400
    );
    assert_eq!(
        get(&arclamp, "/api/index.json?period=daily&from=yesterday", &[]).status,
        400
    );
    let bad = get(&arclamp, "/api/index.json?limit=0", &[]);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("content-type"), Some("application/json"));
    let bad: serde_json::Value = serde_json::from_slice(&bad.body).unwrap();
    assert_eq!(bad["error"], "limit must be between 1 and 10000");
    // Every API error is JSON, also those actix-web raises before the handler runs (a
    // query string that does not parse) and a path no API route matches.
    for (url, status, says) in [
        ("/api/index.json?bogus=1", 400, "unknown field `bogus`"),
        ("/api/index.json?limit=many", 400, "invalid digit"),
        (
            "/api/nothing-here.json",
            404,
            "nothing is served at /api/nothing-here.json",
        ),
    ] {
        let answer = get(&arclamp, url, &[]);
        assert_eq!(answer.status, status, "{url}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/json"),
            "{url}"
        );
        let error: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        let message = error["error"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{url}: {message}");
    }
    // Pages keep their HTML error page.
    let page = get(&arclamp, "/?bogus=1", &[]);
    assert_eq!(page.status, 400);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));

    // The browser: the daily window, live, with its links and counts.
    let browse = get(&arclamp, "/", &[]);
    assert_eq!(browse.status, 200);
    assert_eq!(
        browse.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = browse.text();
    for expected in [
        "action=\"/go\"".to_owned(),
        "value=\"2026-11-23\"".to_owned(), // yesterday by the service's clock
        "<span class=\"live\">live</span>".to_owned(),
        format!("href=\"/view/daily/{DAY}/excimer/all\""),
        format!("href=\"/view/daily/{DAY}/excimer/all?reversed=1\""),
        format!("href=\"/view/daily/{DAY}/excimer/all?fn=Run\""),
        format!("href=\"/logs/daily/{DAY}.excimer.all.log.gz\""),
        format!("<td class=\"num\">{all}</td>"),
        "option value=\"fn:Run\"".to_owned(),
    ] {
        assert!(html.contains(&expected), "{expected} missing from {html}");
    }
    let hourly = get(&arclamp, "/?period=hourly&entry=index", &[]).text();
    assert!(
        // Hourly graphs may still be rendering; the log is there.
        hourly.contains("/logs/hourly/2026-11-24_12.excimer.index.log.gz"),
        "{hourly}"
    );
    assert!(
        !hourly.contains("/view/hourly/2026-11-24_12/excimer/all"),
        "{hourly}"
    );
    let jumped = get(&arclamp, "/?period=daily&date=2026-11-20", &[]).text();
    assert!(!jumped.contains(&format!("/view/daily/{DAY}/")), "{jumped}");
    assert_eq!(get(&arclamp, "/?period=weekly", &[]).status, 404);
    assert_eq!(get(&arclamp, "/?date=tomorrow", &[]).status, 400);

    // The quick form.
    let go = get(
        &arclamp,
        &format!("/go?date={DAY}&hour=&channel=excimer&graph=all&reversed=1"),
        &[],
    );
    assert_eq!(go.status, 303);
    assert_eq!(
        go.header("location"),
        Some(format!("/view/daily/{DAY}/excimer/all?reversed=1").as_str())
    );
    let go = get(
        &arclamp,
        &format!("/go?date={DAY}&hour=12&channel=excimer&graph=fn:Run"),
        &[],
    );
    assert_eq!(
        go.header("location"),
        Some("/view/hourly/2026-11-24_12/excimer/all?fn=Run")
    );
    assert_eq!(
        get(&arclamp, "/go?date=2026-11-24&channel=..&graph=all", &[]).status,
        400
    );
    // chrono's last date (`+262142-12-31`) used to overflow the window's end and kill the
    // worker; now it gets a clear refusal (its window name has a `+`).
    let last_day = chrono::NaiveDate::MAX.format("%Y-%m-%d").to_string();
    for hour in ["", "23"] {
        let go = get(
            &arclamp,
            &format!(
                "/go?date={}&hour={hour}&channel=excimer&graph=all",
                last_day.replace('+', "%2B")
            ),
            &[],
        );
        assert_eq!(go.status, 400, "hour={hour}");
        assert!(go.text().contains("invalid window"), "{}", go.text());
    }

    // A graph page.
    let view = get(&arclamp, &format!("/view/daily/{DAY}/excimer/all"), &[]);
    assert_eq!(view.status, 200);
    // askama writes `&` in attributes as `&#38;`.
    let html = view.text().replace("&#38;", "&");
    for expected in [
        format!("<iframe class=\"graph\" src=\"/svgs/daily/{DAY}.excimer.all.svgz\""),
        format!("href=\"/view/daily/{DAY}/excimer/all?reversed=1\""),
        format!("href=\"/logs/daily/{DAY}.excimer.all.log.gz\""),
        // The window a week earlier is not stored: no link to a diff that would 404,
        // but the compare form offers it, for the reader to change.
        "<input type=\"text\" name=\"b\" value=\"2026-11-17\">".to_string(),
        format!("href=\"/view/daily/{DAY}/excimer/all?fn=Run\""),
        format!("{all} samples"),
    ] {
        assert!(html.contains(&expected), "{expected} missing from {html}");
    }
    assert!(
        !html.contains("href=\"/diff?"),
        "a diff link to an unstored window: {html}"
    );
    let csp = view.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    // The icicle layout: the same window drawn root on top, on request.
    let icicle_view = format!("/view/daily/{DAY}/excimer/all?layout=icicle");
    assert!(
        html.contains(&format!(
            "href=\"{icicle_view}\">icicle layout (root on top)</a>"
        )),
        "{html}"
    );
    let page = get(&arclamp, &icicle_view, &[])
        .text()
        .replace("&#38;", "&");
    let icicle_svg =
        format!("/range.svg?period=daily&from={DAY}&to={DAY}&channel=excimer&entry=all&icicle=1");
    assert!(
        page.contains(&format!(
            "<iframe class=\"graph icicle\" src=\"{icicle_svg}\""
        )),
        "{page}"
    );
    let rect_ys = |svg: &str| -> (u32, u32) {
        // (the root frame's y, the largest y of any frame)
        let y_of = |rect: &str| -> u32 {
            rect.split(" y=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .and_then(|y| y.parse().ok())
                .expect("rect y")
        };
        let root = svg.split("<title>all (").nth(1).expect("root frame");
        let root_y = y_of(root.split("<rect").nth(1).expect("root rect"));
        let frames = svg.split("<svg id=\"frames\"").nth(1).expect("frames");
        let max_y = frames
            .split("<rect")
            .skip(1)
            .map(y_of)
            .max()
            .expect("rects");
        (root_y, max_y)
    };
    let icicle = get(&arclamp, &icicle_svg, &[]);
    assert_eq!(icicle.status, 200, "{}", icicle.text());
    let (root_y, deepest_y) = rect_ys(&icicle.text());
    assert!(
        root_y < deepest_y,
        "an icicle's root is on top: {root_y} vs {deepest_y}"
    );
    let flame = get(
        &arclamp,
        &format!("/svgs/daily/{DAY}.excimer.all.svgz"),
        &[],
    );
    let flame = arclamp::store::compress::maybe_gunzip(&flame.body)
        .expect("gzip")
        .into_owned();
    let (root_y, deepest_y) = rect_ys(&String::from_utf8(flame).expect("UTF-8"));
    assert_eq!(root_y, deepest_y, "a flame graph's root is at the bottom");
    assert_eq!(get(&arclamp, &format!("{icicle_view}x"), &[]).status, 400);

    let function = get(
        &arclamp,
        &format!("/view/daily/{DAY}/excimer/all?fn=Run&reversed=1"),
        &[],
    )
    .text();
    assert!(
        function.contains(&format!(
            "src=\"/svgs/daily/{DAY}.excimer.all.fn-Run.reversed.svgz\""
        )),
        "{function}"
    );
    assert_eq!(
        get(&arclamp, "/view/daily/2026-11-23/excimer/all", &[]).status,
        404
    );
    assert_eq!(
        get(&arclamp, "/view/weekly/2026-11-23/excimer/all", &[]).status,
        404
    );
    assert_eq!(
        get(&arclamp, "/view/daily/2026-13-45/excimer/all", &[]).status,
        400
    );
    assert_eq!(
        get(
            &arclamp,
            &format!("/view/daily/{DAY}/excimer/index?fn=Run"),
            &[]
        )
        .status,
        400
    );

    // Text from URLs is escaped in pages.
    let hostile = get(
        &arclamp,
        "/view/daily/2026-11-24/excimer/all?fn=%3Cscript%3Ealert(1)%3C/script%3E",
        &[],
    );
    assert_eq!(hostile.status, 400);
    assert!(!hostile.text().contains(SCRIPT_FRAME), "{}", hostile.text());
    assert!(
        hostile.text().contains("&#60;script&#62;alert(1)"),
        "{}",
        hostile.text()
    );
}

#[test]
fn logs_stored_packed_or_gzip_d_are_served_and_exported_as_the_same_folded_log() {
    let redis = RedisServer::start();
    let (arclamp, _) = aggregated_service(&redis);
    let data = arclamp.data();
    let log = format!("/logs/daily/{DAY}.excimer.api.log.gz");
    let export = format!("/export/daily/{DAY}.excimer.api.speedscope.json");
    let stored = data.join(&log[1..]);
    // An entry point's log is read from `all` (stored packed), not stored.
    assert!(!stored.exists());
    let all = std::fs::read(data.join(format!("logs/daily/{DAY}.excimer.all.log.gz"))).unwrap();
    assert!(
        arclamp::store::packed::is_packed(&all),
        "logs are written packed"
    );
    let trace = crate::arclamp::stored_log(|p| std::fs::read(data.join(p)).ok(), &log[1..])
        .expect("derived from all");
    // The index lists it, as made from `all` (no bytes of its own), with its samples.
    let index = get(
        &arclamp,
        "/api/index.json?period=daily&entry=api&kind=log",
        &[],
    );
    let index: serde_json::Value = serde_json::from_slice(&index.body).expect("JSON");
    let item = &index["items"][0];
    assert_eq!(item["url"], log.as_str(), "{index}");
    assert_eq!(
        (&item["stored"], &item["bytes"]),
        (&false.into(), &0.into()),
        "{index}"
    );
    assert!(item["samples"].as_u64() > Some(0), "{index}");
    let text = arclamp::store::packed::to_folded(&trace).unwrap();

    let gz = get(&arclamp, &log, &["Accept-Encoding: gzip"]);
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&gz.body), text, "gzip'd folded log, line for line");
    let plain = get(&arclamp, &log, &[]);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, text);
    assert_ne!(plain.header("etag"), gz.header("etag"));
    assert!(text.len() > 1000, "the window has samples");
    let exported = get(&arclamp, &export, &[]).text();

    // The same log as an earlier release wrote it (gzip'd folded text) reads the same.
    let old_format = crate::arclamp::gzip(&text);
    assert!(
        old_format.len() > trace.len(),
        "the packed trace is the smaller"
    );
    std::fs::write(&stored, &old_format).unwrap();
    let gz = get(&arclamp, &log, &["Accept-Encoding: gzip"]);
    let old_tag = format!("\"{:x}-", old_format.len());
    assert!(
        gz.header("etag").is_some_and(|t| t.starts_with(&old_tag)),
        "served from the gzip'd object: {:?}",
        gz.header("etag")
    );
    assert_eq!(gz.body, old_format, "a gzip'd log is sent as stored");
    assert_eq!(get(&arclamp, &log, &[]).body, text);
    assert_eq!(get(&arclamp, &export, &[]).text(), exported);

    // A damaged trace: the response is cut short, the service stays up.
    std::fs::write(&stored, &trace[..trace.len() - 5]).unwrap();
    let damaged = http_request(arclamp.http_port, "GET", &log, &[]);
    assert!(
        damaged.is_none_or(|r| r.status != 200 || r.body != text),
        "a damaged trace is never served as a whole log"
    );
    assert_eq!(get(&arclamp, "/healthz", &[]).status, 200);
}
