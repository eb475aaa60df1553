//! The browser end to end in headless Chromium: open `/`, follow a link to a graph page,
//! see the embedded SVG's frames, zoom and search with inferno's own script (allowed by
//! the SVG's CSP hashes), and see a frame named `<script>alert(1)</script>` as text.
//! Then `/status`: its received rate rises while `arclamp publish` runs, without a reload.
//! Screenshots of each page go to `target/test-artifacts/`.

use crate::arclamp::{binary, Arclamp};
use crate::browser::Browser;
use crate::http_files::{aggregated_service, DAY, SCRIPT_FRAME};
use crate::redis_server::RedisServer;

#[test]
fn browse_to_a_graph_then_zoom_and_search_in_it() {
    let redis = RedisServer::start();
    let (arclamp, _) = aggregated_service(&redis);
    let base = format!("http://127.0.0.1:{}", arclamp.http_port);
    let browser = Browser::start();

    browser.goto(&format!("{base}/"));
    assert_eq!(
        browser.eval("return document.querySelector('h1').textContent"),
        "Flame graphs"
    );
    // The page script ran (served from /static under the strict CSP).
    assert_eq!(
        browser.eval("return document.getElementById('quick-date').value"),
        "2026-11-23"
    );
    browser.screenshot("browse");

    browser.click(&format!("a[href='/view/daily/{DAY}/excimer/all']"));
    browser.wait_for(
        "the graph page",
        &format!("return location.pathname == '/view/daily/{DAY}/excimer/all'"),
    );
    assert_eq!(
        browser.url(),
        format!("{base}/view/daily/{DAY}/excimer/all")
    );
    browser.screenshot("view");
    browser.enter_frame(0);
    browser.wait_for(
        "the SVG's frames",
        "return document.querySelectorAll('#frames > g').length > 10",
    );
    // inferno's onload handler ran: its CSP hash for `init(evt)` was accepted.
    assert_eq!(
        browser.eval("return typeof searchbtn !== 'undefined' && searchbtn !== null"),
        true
    );
    assert_eq!(
        browser.eval(
            "return Array.from(document.querySelectorAll('#frames title')).some(t => t.textContent.startsWith('all ('))"
        ),
        true,
        "the root frame is drawn"
    );

    // The hostile frame is text, and no script element came of it.
    assert_eq!(
        browser.eval(&format!(
            "return Array.from(document.querySelectorAll('#frames title')).some(t => t.textContent.startsWith({:?}))",
            SCRIPT_FRAME
        )),
        true
    );
    assert_eq!(
        browser.eval("return document.querySelectorAll('script').length"),
        1,
        "only inferno's own script"
    );
    assert_eq!(browser.dialog_text(), None, "no alert opened");

    // Click to zoom on a frame: inferno shows its "Reset Zoom" button.
    browser.click("#frames > g:nth-child(3)");
    browser.wait_for(
        "zoom",
        "return !document.getElementById('unzoom').classList.contains('hide')",
    );
    browser.click("#unzoom");

    // Search: inferno's button opens a prompt; answer it like a user.
    browser.click("#search");
    assert!(browser.dialog_text().is_some(), "the search prompt opened");
    browser.answer_prompt("MediaWiki::run");
    browser.wait_for(
        "search matches",
        "return document.getElementById('matched').textContent.startsWith('Matched:')",
    );
    browser.leave_frame();
    browser.screenshot("view-search");

    // Reversed, one click away.
    browser.click(&format!(
        "a[href='/view/daily/{DAY}/excimer/all?reversed=1']"
    ));
    browser.wait_for(
        "the reversed page",
        "return location.search == '?reversed=1'",
    );
    browser.enter_frame(0);
    browser.wait_for(
        "the reversed SVG's frames",
        "return document.querySelectorAll('#frames > g').length > 10",
    );
    browser.leave_frame();
    browser.screenshot("view-reversed");
}

#[test]
fn the_status_page_shows_the_received_rate_rise_without_a_reload() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(&redis, "");
    let browser = Browser::start();
    browser.goto(&format!("http://127.0.0.1:{}/status", arclamp.http_port));
    browser.wait_for(
        "the first report",
        "return document.getElementById('updated').textContent.startsWith('updated');",
    );
    // A marker that a reload would wipe.
    browser.eval("window.arclampSamePage = 'yes'; return null;");
    let url = redis.url();
    let publisher = std::thread::spawn(move || {
        std::process::Command::new(binary())
            .args(["publish", "--redis", &url, "--channel", "excimer"])
            .args(["--count", "30000", "--rate", "3000"])
            .output()
            .expect("run arclamp publish")
    });
    browser.wait_for(
        "a received rate above 100 samples/s",
        "return Number(document.getElementById('received-rate').getAttribute('data-value')) > 100;",
    );
    assert_eq!(
        browser.eval("return window.arclampSamePage || 'reloaded';"),
        serde_json::json!("yes"),
        "the rate must update without a page reload"
    );
    let rows = browser.eval("return document.querySelectorAll('#channels tr').length;");
    assert_eq!(rows, serde_json::json!(1));
    browser.screenshot("status");
    let output = publisher.join().expect("publisher thread");
    assert!(output.status.success());
}

#[test]
fn a_graph_of_forty_thousand_frames_draws_under_the_budget_and_still_zooms_and_searches() {
    use crate::arclamp::{http_request, wait_until, write_log, TestDir};
    use crate::http_files::CLOCK;
    use std::time::Duration;
    let redis = RedisServer::start();
    let dir = TestDir::new();
    // 10,000 one-sample stacks in 40 modules, each with a tail of four frames of its own,
    // and 20 hot stacks of 50 samples: 11,000 samples, so that flamegraph.pl's 0.1 px
    // draws every frame, 40,062 of them.
    let leaves: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                "/w/index.php;MediaWiki::run;Module{};A{i:05};B{i:05};C{i:05};D{i:05}",
                i % 40
            )
        })
        .collect();
    let hot: Vec<String> = (0..20)
        .map(|i| format!("/w/index.php;MediaWiki::run;Hot{i:03}"))
        .collect();
    let mut stacks: Vec<(&str, u64)> = leaves.iter().map(|s| (s.as_str(), 1)).collect();
    stacks.extend(hot.iter().map(|s| (s.as_str(), 50)));
    write_log(
        &dir.path().join("data"),
        "daily",
        "2026-11-23.excimer.all.log.gz",
        &stacks,
    );
    let arclamp = Arclamp::start_in(dir.path(), &redis, CLOCK);
    // The start-up scan draws the graphs of logs that have none.
    let graph = dir
        .path()
        .join("data/svgs/daily/2026-11-23.excimer.all.svgz");
    wait_until("the graph drawn", Duration::from_secs(60), || {
        graph.exists()
    });

    let svg = http_request(
        arclamp.http_port,
        "GET",
        "/svgs/daily/2026-11-23.excimer.all.svgz",
        &[],
    )
    .expect("the graph");
    assert_eq!(svg.status, 200, "{}", svg.text());
    // Asked without `Accept-Encoding: gzip`, the service sends the SVG decoded.
    let text = svg.text();
    assert!(text.len() <= 5_000_000, "{} bytes of SVG", text.len());
    let rects = text.matches("<rect").count();
    assert!(rects <= 30_000, "{rects} rectangles");
    assert!(
        text.contains("Frames under 2 samples (of 11000) are merged into their parent to keep the graph fast: 62 of 40062 frames drawn"),
        "the graph says what it leaves out"
    );

    let browser = Browser::start();
    browser.goto(&format!(
        "http://127.0.0.1:{}/view/daily/2026-11-23/excimer/all",
        arclamp.http_port
    ));
    browser.enter_frame(0);
    browser.wait_for(
        "the SVG's frames",
        "return document.querySelectorAll('#frames > g').length > 10",
    );
    // The root, index.php, MediaWiki::run, the 40 modules and the 20 hot leaves.
    assert_eq!(
        browser.eval("return document.querySelectorAll('#frames > g').length"),
        63
    );
    browser.click("#frames > g:nth-child(3)");
    browser.wait_for(
        "zoom",
        "return !document.getElementById('unzoom').classList.contains('hide')",
    );
    browser.click("#unzoom");
    browser.click("#search");
    browser.answer_prompt("Hot0");
    browser.wait_for(
        "search matches",
        "return document.getElementById('matched').textContent.startsWith('Matched:')",
    );
    browser.leave_frame();
    browser.screenshot("view-over-budget");
}

/// Links that are files, not pages: fetched from the page rather than opened.
const FILE_LINKS: [&str; 10] = [
    "/svgs/",
    "/logs/",
    "/export/",
    "/static/",
    "/api/",
    "/range.svg",
    "/diff.svg",
    "/range.speedscope.json",
    "/range.pb.gz",
    "/metrics",
];

#[test]
fn every_link_of_every_page_answers_200_in_the_browser() {
    use std::collections::{BTreeSet, VecDeque};
    let redis = RedisServer::start();
    let (arclamp, _) = aggregated_service(&redis);
    let base = format!("http://127.0.0.1:{}", arclamp.http_port);
    let browser = Browser::start();
    let mut queue = VecDeque::from(["/".to_owned()]);
    let mut seen = BTreeSet::from(["/".to_owned()]);
    let mut failures = Vec::new();
    let (mut pages, mut files, mut trends) = (0, 0, 0);
    while let Some(target) = queue.pop_front() {
        assert!(seen.len() < 3000, "the crawl does not end: {seen:?}");
        if FILE_LINKS.iter().any(|prefix| target.starts_with(prefix)) {
            files += 1;
            let status = browser.eval(&format!("return fetch({target:?}).then(r => r.status)"));
            if status != 200 {
                failures.push(format!("{target}: {status}"));
            }
            continue;
        }
        pages += 1;
        if target.starts_with("/trend?") {
            trends += 1;
        }
        browser.goto(&format!("{base}{target}"));
        let status =
            browser.eval("return performance.getEntriesByType('navigation')[0].responseStatus");
        if status != 200 {
            failures.push(format!("{target}: {status}"));
            continue;
        }
        if target.starts_with("/trend?") {
            // A trend draws its chart; its links are the same trend over other spans.
            let drawn = browser.eval(
                "return document.querySelector('svg.trend polyline, svg.trend circle') !== null",
            );
            if drawn != serde_json::Value::Bool(true) {
                let text = browser.eval("return document.body.innerText.slice(0, 300)");
                failures.push(format!("{target}: no chart drawn: {text}"));
            }
            continue;
        }
        let links = browser
            .eval("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)");
        for link in links.as_array().expect("hrefs") {
            let link = link.as_str().expect("href");
            // Other sites (speedscope.app) are not crawled: tests stay on loopback.
            let Some(path) = link.strip_prefix(&base) else {
                continue;
            };
            let path = path.split('#').next().unwrap_or_default().to_owned();
            if !path.is_empty() && seen.insert(path.clone()) {
                queue.push_back(path);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} links failed:\n{}",
        failures.len(),
        seen.len(),
        failures.join("\n")
    );
    // The crawl reached the graph pages and their files.
    assert!(pages >= 20 && files >= 20, "{pages} pages, {files} files");
    // ... and, through each window's top functions, their trends (an SVG chart).
    assert!(trends >= 1, "no trend page reached");
    eprintln!("crawled {pages} pages and {files} files");
}

#[test]
fn a_deep_graph_opens_on_its_root_and_entry_points() {
    use crate::arclamp::{wait_until, write_log, TestDir};
    use crate::http_files::CLOCK;
    use std::time::Duration;
    let redis = RedisServer::start();
    let dir = TestDir::new();
    // 90 frames deep: about 1,500 pixels of graph, taller than the page's graph frame.
    let deep: Vec<String> = (0..90).map(|i| format!("Frame{i:02}")).collect();
    let deep = format!("/w/index.php;{}", deep.join(";"));
    write_log(
        &dir.path().join("data"),
        "daily",
        "2026-11-23.excimer.all.log.gz",
        &[(&deep, 5), ("/w/api.php;ApiMain::execute", 3)],
    );
    let arclamp = Arclamp::start_in(dir.path(), &redis, CLOCK);
    let graph = dir
        .path()
        .join("data/svgs/daily/2026-11-23.excimer.all.svgz");
    wait_until("the graph drawn", Duration::from_secs(60), || {
        graph.exists()
    });
    let browser = Browser::start();
    browser.goto(&format!(
        "http://127.0.0.1:{}/view/daily/2026-11-23/excimer/all",
        arclamp.http_port
    ));
    // The root frame ("all") is within the graph frame's view, without scrolling by hand.
    browser.wait_for(
        "the root in view",
        "const f = document.querySelector('iframe.graph');
         const d = f.contentDocument;
         if (!d || d.readyState !== 'complete') return false;
         const root = Array.from(d.querySelectorAll('#frames > g'))
             .find(g => g.querySelector('title').textContent.startsWith('all ('));
         if (!root) return false;
         const box = root.querySelector('rect').getBoundingClientRect();
         return f.contentWindow.scrollY > 0 && box.top >= 0 && box.bottom <= f.clientHeight;",
    );
    browser.screenshot("view-deep");
}
