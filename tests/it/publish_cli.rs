//! `arclamp publish` end to end: the real binary against a real `redis-server`, checked by
//! an independent subscriber that re-derives every entry point with `arclamp::ingest::sample`.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arclamp::cli::publish::Expected;
use arclamp::ingest::sample::{for_each_line, parse_line, Limits};
use arclamp::ingest::synth::{EntryPoint, Tally};

use crate::redis_server::RedisServer;

/// Published after the run: everything the publisher sent is delivered before it, because
/// Redis handles PUBLISH commands one at a time.
const END: &[u8] = b"__end_of_test__";

fn arclamp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arclamp"))
        .args(args)
        .output()
        .expect("the arclamp binary runs")
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "arclamp failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read_expected(path: &Path) -> Expected {
    let text = std::fs::read_to_string(path).expect("--expect file written");
    serde_json::from_str(&text).expect("--expect file is an Expected")
}

/// Subscribes to `channel`, then collects payloads until [`END`].
struct Subscriber {
    messages: std::thread::JoinHandle<Vec<Vec<u8>>>,
}

impl Subscriber {
    /// Returns once the subscription is confirmed, so nothing published later is missed.
    fn start(url: &str, channel: &str) -> Subscriber {
        let client = redis::Client::open(url).expect("valid URL");
        let channel = channel.to_owned();
        let (subscribed, confirmation) = mpsc::channel();
        let messages = std::thread::spawn(move || {
            let mut connection = client.get_connection().expect("subscriber connects");
            let mut pubsub = connection.as_pubsub();
            pubsub.subscribe(&channel).expect("subscribes");
            pubsub
                .set_read_timeout(Some(Duration::from_secs(30)))
                .expect("sets a timeout");
            subscribed.send(()).expect("test thread waits");
            let mut messages = Vec::new();
            loop {
                let message = pubsub.get_message().expect("a message before the timeout");
                let payload = message.get_payload_bytes().to_vec();
                if payload == END {
                    return messages;
                }
                messages.push(payload);
            }
        });
        confirmation
            .recv_timeout(Duration::from_secs(30))
            .expect("subscription confirmed");
        Subscriber { messages }
    }

    fn finish(self, url: &str, channel: &str) -> Vec<Vec<u8>> {
        let client = redis::Client::open(url).expect("valid URL");
        let mut connection = client.get_connection().expect("connects");
        let _: u64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(END)
            .query(&mut connection)
            .expect("publishes the end marker");
        self.messages.join().expect("subscriber thread succeeds")
    }
}

/// Lines and per-entry samples of `messages`, parsed the way the service parses them.
fn tally<'a>(messages: impl IntoIterator<Item = &'a [u8]>) -> (u64, Tally) {
    let (mut lines, mut tally) = (0, Tally::new());
    for message in messages {
        for_each_line(message, &Limits::default(), &mut Vec::new(), |line| {
            let sample = parse_line(line, &Limits::default()).expect("line parses");
            let entry = sample
                .entry
                .and_then(EntryPoint::from_name)
                .expect("a known entry point");
            tally.add(entry, sample.count);
            lines += 1;
        })
        .expect("message not too large");
    }
    (lines, tally)
}

/// The messages of a `--format resp` file, checking every command is
/// `PUBLISH channel message`.
fn parse_resp(mut resp: &[u8], channel: &str) -> Vec<Vec<u8>> {
    fn take_line<'a>(resp: &mut &'a [u8]) -> &'a [u8] {
        let end = resp
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("CRLF-terminated header");
        let line = &resp[..end];
        *resp = &resp[end + 2..];
        line
    }
    fn take_bulk(resp: &mut &[u8]) -> Vec<u8> {
        let header = take_line(resp);
        let len: usize = std::str::from_utf8(&header[1..])
            .ok()
            .and_then(|n| n.parse().ok())
            .expect("bulk length");
        assert_eq!(header[0], b'$');
        let bulk = resp[..len].to_vec();
        assert_eq!(&resp[len..len + 2], b"\r\n");
        *resp = &resp[len + 2..];
        bulk
    }
    let mut messages = Vec::new();
    while !resp.is_empty() {
        assert_eq!(take_line(&mut resp), b"*3");
        assert_eq!(take_bulk(&mut resp), b"PUBLISH");
        assert_eq!(take_bulk(&mut resp), channel.as_bytes());
        messages.push(take_bulk(&mut resp));
    }
    messages
}

#[test]
fn a_subscriber_receives_exactly_what_the_expect_file_says() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let expect = dir.path().join("expect.json");
    let subscriber = Subscriber::start(&server.url(), "excimer");
    let output = arclamp(&[
        "publish",
        "--redis",
        &server.url(),
        "--count",
        "500",
        "--lines-per-message",
        "3",
        "--seed",
        "7",
        "--expect",
        expect.to_str().expect("UTF-8 path"),
    ]);
    assert_success(&output);
    let received = subscriber.finish(&server.url(), "excimer");

    let expected = read_expected(&expect);
    let (lines, samples) = tally(received.iter().map(Vec::as_slice));
    assert_eq!(received.len(), 500);
    assert!(received
        .iter()
        .all(|m| m.split(|&b| b == b'\n').count() == 3));
    assert_eq!(
        expected,
        Expected {
            channel: "excimer".to_owned(),
            messages: 500,
            lines,
            samples,
            unreceived_messages: Some(0),
        }
    );
    assert_eq!(lines, 1_500);
    // Every entry point shows up in 1,500 samples (the rarest has 5%).
    assert!(EntryPoint::ALL.iter().all(|&e| samples.get(e) > 0));
    let summary = String::from_utf8_lossy(&output.stderr);
    assert!(summary.contains("published 500 messages"), "{summary}");
    assert!(summary.contains("messages/s"), "{summary}");

    // The same seed written as RESP is byte for byte what was published.
    let resp = dir.path().join("out.resp");
    let resp_arg = resp.to_str().expect("UTF-8 path");
    let args = ["publish", "--count", "500", "--lines-per-message", "3"];
    assert_success(&arclamp(
        &[&args[..], &["--seed", "7", "--out", resp_arg]].concat(),
    ));
    let resp = std::fs::read(&resp).expect("resp written");
    assert_eq!(parse_resp(&resp, "excimer"), received);
}

#[test]
fn the_expect_file_has_the_documented_shape() {
    let dir = tempfile::tempdir().expect("temp dir");
    let expect = dir.path().join("expect.json");
    let out = dir.path().join("out.resp");
    assert_success(&arclamp(&[
        "publish",
        "--count",
        "10",
        "--out",
        out.to_str().expect("UTF-8 path"),
        "--expect",
        expect.to_str().expect("UTF-8 path"),
    ]));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&expect).expect("written")).expect("JSON");
    assert_eq!(json["channel"], "excimer");
    assert_eq!(json["messages"], 10);
    assert_eq!(json["lines"], 10);
    assert!(json["unreceived_messages"].is_null());
    let samples = json["samples"].as_object().expect("samples object");
    let keys: Vec<&str> = samples.keys().map(String::as_str).collect();
    let mut wanted = vec!["all", "index", "api", "load", "rest", "RunJobs"];
    wanted.sort_unstable();
    let mut keys = keys.clone();
    keys.sort_unstable();
    assert_eq!(keys, wanted);
}

#[test]
fn messages_without_subscribers_are_counted_as_unreceived() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let expect = dir.path().join("expect.json");
    let output = arclamp(&[
        "publish",
        "--redis",
        &server.url(),
        "--channel",
        "nobody-listens",
        "--count",
        "20",
        "--expect",
        expect.to_str().expect("UTF-8 path"),
    ]);
    assert_success(&output);
    let expected = read_expected(&expect);
    assert_eq!(expected.channel, "nobody-listens");
    assert_eq!(expected.unreceived_messages, Some(20));
    let summary = String::from_utf8_lossy(&output.stderr);
    assert!(summary.contains("20 reached no subscriber"), "{summary}");
}

#[test]
fn out_files_in_both_formats_match_the_expect_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = |name: &str| dir.path().join(name);
    let arg = |name: &str| path(name).to_str().expect("UTF-8 path").to_owned();
    let run = |format: &str, out: &str, expect: &str| {
        assert_success(&arclamp(&[
            "publish",
            "--count",
            "300",
            "--lines-per-message",
            "4",
            "--seed",
            "11",
            "--channel",
            "bench",
            "--out",
            &arg(out),
            "--format",
            format,
            "--expect",
            &arg(expect),
        ]));
        read_expected(&path(expect))
    };
    let from_resp = run("resp", "out.resp", "resp.json");
    let from_lines = run("lines", "out.lines", "lines.json");
    assert_eq!(from_resp, from_lines);
    assert_eq!((from_resp.messages, from_resp.lines), (300, 1_200));
    assert_eq!(from_resp.unreceived_messages, None);

    let resp = std::fs::read(path("out.resp")).expect("resp written");
    let messages = parse_resp(&resp, "bench");
    assert_eq!(messages.len(), 300);
    assert_eq!(
        tally(messages.iter().map(Vec::as_slice)),
        (1_200, from_resp.samples)
    );

    let lines = std::fs::read(path("out.lines")).expect("lines written");
    assert!(lines.ends_with(b"\n"));
    assert_eq!(lines.iter().filter(|&&b| b == b'\n').count(), 1_200);
    // Split first: the whole file is larger than a message may be.
    assert_eq!(
        tally(lines.split_inclusive(|&b| b == b'\n')),
        (1_200, from_lines.samples)
    );
    // The lines file is the messages, split into their lines.
    let joined: Vec<u8> = messages
        .iter()
        .flat_map(|m| [&m[..], b"\n"].concat())
        .collect();
    assert_eq!(lines, joined);
}

#[test]
fn redis_cli_pipe_accepts_the_resp_file() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out.resp");
    assert_success(&arclamp(&[
        "publish",
        "--count",
        "50",
        "--out",
        out.to_str().expect("UTF-8 path"),
    ]));
    let file = std::fs::File::open(&out).expect("resp written");
    let piped = Command::new("redis-cli")
        .args(["-p", &server.port().to_string(), "--pipe"])
        .stdin(file)
        .output()
        .expect("redis-cli (installed with redis-server) runs");
    let report = String::from_utf8_lossy(&piped.stdout);
    assert!(piped.status.success(), "{report}");
    assert!(report.contains("errors: 0, replies: 50"), "{report}");
}

#[test]
fn rate_spreads_messages_over_time() {
    let server = RedisServer::start();
    let started = Instant::now();
    let output = arclamp(&[
        "publish",
        "--redis",
        &server.url(),
        "--count",
        "21",
        "--rate",
        "100",
    ]);
    assert_success(&output);
    // Message 20 is due 200 ms after message 0; the upper bound only catches "no pacing
    // at all" mistakes like sleeping a second per batch, so it is loose for slow machines.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[test]
fn an_unreachable_redis_is_reported_with_a_hint() {
    let mut server = RedisServer::start();
    server.stop();
    let output = arclamp(&["publish", "--redis", &server.url(), "--count", "1"]);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("cannot connect to Redis at"), "{error}");
    assert!(error.contains("is redis-server running?"), "{error}");
}

#[test]
fn stats_measure_a_reference_file_as_they_measure_the_generator() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lines = dir.path().join("reference.lines");
    let lines_arg = lines.to_str().expect("UTF-8 path");
    // The reference is the generator's own output with the same seed: every statistic
    // must come out the same on both sides, ratio 1.00.
    assert_success(&arclamp(&[
        "publish", "--count", "2000", "--seed", "3", "--out", lines_arg, "--format", "lines",
    ]));
    let gzipped = dir.path().join("reference.txt.gz");
    std::fs::write(
        &gzipped,
        arclamp::store::compress::gzip(&std::fs::read(&lines).expect("lines written")),
    )
    .expect("write gzip reference");
    let output = arclamp(&[
        "publish",
        "--stats",
        "--seed",
        "3",
        "--reference",
        gzipped.to_str().expect("UTF-8 path"),
    ]);
    assert_success(&output);
    let table = String::from_utf8(output.stdout).expect("UTF-8 table");
    let rows: Vec<&str> = table
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("samples per entry point"))
        .collect();
    assert!(rows.len() >= 15, "{table}");
    let lines_row = rows
        .iter()
        .find(|r| r.starts_with("lines "))
        .expect("lines row");
    // --count defaults to the reference's number of lines.
    assert_eq!(
        lines_row.split_whitespace().collect::<Vec<_>>(),
        ["lines", "2000", "2000", "1.00"],
        "{table}"
    );
    for row in rows
        .iter()
        .filter(|r| !r.starts_with("lines ") && !r.starts_with("samples "))
    {
        assert!(row.ends_with("1.00  ok"), "{row} in\n{table}");
    }
    assert!(table.contains("reference.txt.gz: "), "{table}");

    // A reference that cannot be read is named in a clear error.
    let missing = dir.path().join("missing.txt.gz");
    let output = arclamp(&[
        "publish",
        "--stats",
        "--reference",
        missing.to_str().expect("UTF-8 path"),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read the reference") && stderr.contains("missing.txt.gz"),
        "{stderr}"
    );
}
