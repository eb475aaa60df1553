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
