//! Exports for other tools: a window and a range as speedscope JSON and as pprof, every
//! sample exact, open to every origin (so speedscope.app can fetch them), revalidated with
//! their ETag, and linked from the window's page.

use std::collections::BTreeMap;
use std::io::Read;

use arclamp::graphs::export::Profile;
use prost::Message;

use crate::arclamp::{http_request, read_log, Arclamp, Response};
use crate::http_files::{aggregated_service, DAY};
use crate::redis_server::RedisServer;

fn get(arclamp: &Arclamp, target: &str, headers: &[&str]) -> Response {
    http_request(arclamp.http_port, "GET", target, headers).expect("the service answers")
}

/// The stacks and weights of a speedscope file.
fn speedscope_stacks(body: &[u8]) -> BTreeMap<String, u64> {
    speedscope_profile(body, 0)
}

/// The stacks and weights of profile `index` of a speedscope file.
fn speedscope_profile(body: &[u8], index: usize) -> BTreeMap<String, u64> {
    let json: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    assert_eq!(
        json["$schema"],
        "https://www.speedscope.app/file-format-schema.json"
    );
    let frames: Vec<&str> = json["shared"]["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(|f| f["name"].as_str().expect("frame name"))
        .collect();
    let profile = &json["profiles"][index];
    assert_eq!(profile["type"], "sampled");
    let samples = profile["samples"].as_array().expect("samples");
    let weights = profile["weights"].as_array().expect("weights");
    let mut stacks = BTreeMap::new();
    for (sample, weight) in samples.iter().zip(weights) {
        let stack: Vec<&str> = sample
            .as_array()
            .expect("frame indices")
            .iter()
            .map(|i| frames[i.as_u64().expect("index") as usize])
            .collect();
        *stacks.entry(stack.join(";")).or_default() += weight.as_u64().expect("weight");
    }
    stacks
}

/// The stacks and values of a gzip'd pprof profile (locations are leaf first).
fn pprof_stacks(body: &[u8]) -> BTreeMap<String, u64> {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut bytes)
        .expect("gzip");
    let profile = Profile::decode(bytes.as_slice()).expect("a pprof Profile");
    let string = |i: i64| profile.string_table[i as usize].as_str();
    assert_eq!(string(profile.sample_type[0].r#type), "samples");
    let name = |location: u64| {
        let location = profile.location.iter().find(|l| l.id == location).unwrap();
        let function = profile
            .function
            .iter()
            .find(|f| f.id == location.line[0].function_id)
            .unwrap();
        string(function.name)
    };
    let mut stacks = BTreeMap::new();
    for sample in &profile.sample {
        let stack: Vec<&str> = sample.location_id.iter().rev().map(|&l| name(l)).collect();
        *stacks.entry(stack.join(";")).or_default() += sample.value[0] as u64;
    }
    stacks
}

#[test]
fn a_window_and_a_range_export_every_sample_to_speedscope_and_pprof() {
    let redis = RedisServer::start();
    let (arclamp, all) = aggregated_service(&redis);
    let log = read_log(
        &arclamp.data(),
        &format!("logs/daily/{DAY}.excimer.all.log.gz"),
    );
    assert_eq!(log.values().sum::<u64>(), all);

    let speedscope = get(
        &arclamp,
        &format!("/export/daily/{DAY}.excimer.all.speedscope.json"),
        &[],
    );
    assert_eq!(speedscope.status, 200, "{}", speedscope.text());
    assert_eq!(speedscope.header("content-type"), Some("application/json"));
    assert_eq!(speedscope.header("access-control-allow-origin"), Some("*"));
    assert_eq!(speedscope_stacks(&speedscope.body), log);

    let pprof = get(
        &arclamp,
        &format!("/export/daily/{DAY}.excimer.all.pb.gz"),
        &[],
    );
    assert_eq!(pprof.status, 200, "{}", pprof.text());
    assert_eq!(pprof.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        pprof.header("content-disposition"),
        Some(format!("attachment; filename=\"{DAY}.excimer.all.pb.gz\"").as_str())
    );
    assert_eq!(pprof_stacks(&pprof.body), log);

    // Unchanged since: 304 on the ETag.
    let etag = pprof.header("etag").expect("an ETag").to_owned();
    let again = get(
        &arclamp,
        &format!("/export/daily/{DAY}.excimer.all.pb.gz"),
        &[&format!("If-None-Match: {etag}")],
    );
    assert_eq!(again.status, 304);

    // A range over the day before (no log) and the day: the same samples.
    let range = |format: &str| {
        get(
            &arclamp,
            &format!(
                "/range.{format}?period=daily&from=2026-11-23&to={DAY}&channel=excimer&entry=all"
            ),
            &[],
        )
    };
    let range_speedscope = range("speedscope.json");
    assert_eq!(range_speedscope.status, 200, "{}", range_speedscope.text());
    assert_eq!(speedscope_stacks(&range_speedscope.body), log);
    let range_pprof = range("pb.gz");
    assert_eq!(range_pprof.status, 200, "{}", range_pprof.text());
    assert_eq!(pprof_stacks(&range_pprof.body), log);

    // A diff: both windows exact, the earlier one "before" whichever order the link gave.
    let earlier = [
        ("index.php;MediaWiki::run;Parser::parse", 4u64),
        ("api.php;ApiMain::execute", 2),
    ];
    crate::arclamp::write_log(
        &arclamp.data(),
        "daily",
        "2026-11-20.excimer.all.log.gz",
        &earlier,
    );
    let diff = |format: &str| {
        get(
            &arclamp,
            &format!("/diff.{format}?period=daily&a={DAY}&b=2026-11-20&channel=excimer&entry=all"),
            &[],
        )
    };
    let both = diff("speedscope.json");
    assert_eq!(both.status, 200, "{}", both.text());
    assert_eq!(both.header("access-control-allow-origin"), Some("*"));
    let json: serde_json::Value = serde_json::from_slice(&both.body).expect("JSON");
    assert_eq!(json["profiles"][0]["name"], "2026-11-20 (before)");
    assert_eq!(json["profiles"][1]["name"], format!("{DAY} (after)"));
    let earlier_map: BTreeMap<String, u64> =
        earlier.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    assert_eq!(speedscope_profile(&both.body, 0), earlier_map);
    assert_eq!(speedscope_profile(&both.body, 1), log);
    let folded = diff("folded");
    assert_eq!(folded.status, 200, "{}", folded.text());
    let mut expected: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (stack, n) in &earlier_map {
        expected.entry(stack.clone()).or_default().0 += n;
    }
    for (stack, n) in &log {
        expected.entry(stack.clone()).or_default().1 += n;
    }
    let expected: String = expected
        .iter()
        .map(|(stack, (a, b))| format!("{stack} {a} {b}\n"))
        .collect();
    assert_eq!(folded.text(), expected);
    let page = get(
        &arclamp,
        &format!("/diff?period=daily&a=2026-11-20&b={DAY}&channel=excimer&entry=all"),
        &[],
    )
    .text()
    .replace("&#38;", "&");
    assert!(
        page.contains(&format!(
            "href=\"/diff.speedscope.json?period=daily&a=2026-11-20&b={DAY}&channel=excimer&entry=all\""
        )),
        "{page}"
    );
    assert_eq!(
        get(
            &arclamp,
            "/diff.folded?period=daily&a=2020-01-01&b=2026-11-20&channel=excimer&entry=all",
            &[]
        )
        .status,
        404
    );

    // Missing windows, other suffixes and path tricks.
    for (target, status) in [
        ("/export/daily/2020-01-01.excimer.all.pb.gz", 404),
        (
            &format!("/export/daily/{DAY}.excimer.all.log.gz") as &str,
            404,
        ),
        ("/export/daily/..%2F..%2Fetc%2Fpasswd.pb.gz", 404),
        ("/export/nope/2026-11-24.excimer.all.pb.gz", 404),
        (
            "/range.pb.gz?period=daily&from=2020-01-01&to=2020-01-02&channel=excimer",
            404,
        ),
        ("/range.pb.gz?period=daily", 400),
    ] {
        let answer = get(&arclamp, target, &[]);
        assert_eq!(answer.status, status, "{target}: {}", answer.text());
    }

    // The window's page links them, and opens the speedscope file in speedscope.app.
    let page = get(&arclamp, &format!("/view/daily/{DAY}/excimer/all"), &[]).text();
    assert!(page.contains(&format!(
        "href=\"/export/daily/{DAY}.excimer.all.speedscope.json\""
    )));
    assert!(page.contains(&format!("href=\"/export/daily/{DAY}.excimer.all.pb.gz\"")));
    // The absolute URL is the one the browser used (its Host header: `localhost` here).
    assert!(
        page.contains(&format!(
            "https://www.speedscope.app/#profileURL=http%3A%2F%2Flocalhost%2Fexport%2Fdaily%2F{DAY}.excimer.all.speedscope.json"
        )),
        "{page}"
    );
}
