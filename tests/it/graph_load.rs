//! The graph-load benchmark's browser half (issue 18): opens each page of
//! `ARCLAMP_BENCH_PAGES` (one path per line) on the service at `ARCLAMP_BENCH_URL` in
//! headless Chromium, twice (cold, then warm), and prints for each the time to the page's
//! `load` event (which waits for the embedded graph), the graph's bytes and its
//! rectangles. `#[ignore]`d: `bench/graph_load.sh` prepares the store, starts the service
//! and runs it. Timing lives here, in a benchmark, never in an asserting test.

use crate::browser::Browser;

#[test]
#[ignore = "a benchmark: run by bench/graph_load.sh"]
fn graph_page_load_times() {
    let base = std::env::var("ARCLAMP_BENCH_URL").expect("ARCLAMP_BENCH_URL");
    let pages = std::env::var("ARCLAMP_BENCH_PAGES").expect("ARCLAMP_BENCH_PAGES");
    let browser = Browser::start();
    println!(
        "{:<78} {:>9} {:>9} {:>10} {:>7}",
        "page", "cold ms", "warm ms", "SVG bytes", "rects"
    );
    for page in pages.lines().map(str::trim).filter(|p| !p.is_empty()) {
        let mut times = Vec::new();
        let mut facts = (0.0, 0.0);
        for _ in 0..2 {
            browser.goto(&format!("{base}{page}"));
            let loaded = browser
                .eval("return performance.getEntriesByType('navigation')[0].loadEventEnd")
                .as_f64()
                .unwrap_or(f64::NAN);
            times.push(loaded);
            let graph = browser.eval(
                "const f = document.querySelector('iframe.graph');
                 if (!f || !f.contentDocument) return [0, 0];
                 const nav = f.contentWindow.performance.getEntriesByType('navigation')[0];
                 return [nav ? nav.decodedBodySize : 0, f.contentDocument.querySelectorAll('rect').length];",
            );
            facts = (
                graph[0].as_f64().unwrap_or(0.0),
                graph[1].as_f64().unwrap_or(0.0),
            );
        }
        println!(
            "{page:<78} {:>9.0} {:>9.0} {:>10.0} {:>7.0}",
            times[0], times[1], facts.0, facts.1
        );
    }
}
