//! The real `arclamp` binary under test: a service process with its own config, data
//! directory and HTTP port, plus helpers to read what a user would look at (the files in
//! `data/`, `/metrics`) and to publish load with `arclamp publish --expect`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::redis_server::RedisServer;

/// How long a test waits for `arclamp` to exit after SIGTERM: longer than the default
/// `service.shutdown_timeout` (30 s) the service itself may spend finishing renders, so a
/// slow final render on a loaded machine is not mistaken for a hang.
pub const STOP: Duration = Duration::from_secs(60);

/// Path of the binary under test: `$ARCLAMP_BIN` when set (`scripts/chaos` runs a release
/// build for hours), else the one cargo built for these tests.
pub fn binary() -> &'static str {
    static BINARY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        std::env::var("ARCLAMP_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_arclamp").to_owned())
    })
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A temporary directory for one test: removed when dropped after the test passed, kept
/// (and its path printed) when the test is failing, so its log and data can be inspected.
/// Without this every run of the suite left its data directories behind in /tmp.
pub struct TestDir(PathBuf);

impl TestDir {
    /// A new empty directory under the system's temporary directory.
    pub fn new() -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix("arclamp-it-")
            .tempdir()
            .expect("tempdir")
            .keep();
        TestDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: its files are kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A running `arclamp serve`.
pub struct Arclamp {
    child: Option<Child>,
    /// The directory holding the config, the log and `data/`.
    pub dir: PathBuf,
    /// The HTTP port.
    pub http_port: u16,
    /// The directory [`Arclamp::start`] made, removed after the process (and any
    /// [`Arclamp::restart`] of it) is gone.
    owned_dir: Option<TestDir>,
}

/// Config text for a test: Redis, storage and HTTP filled in, `extra` appended (it may
/// redefine any table that the base does not set; a `[storage]` in `extra` replaces the
/// local `data/` directory).
pub fn config_text(redis: &RedisServer, dir: &Path, http_port: u16, extra: &str) -> String {
    let has = |table: &str| extra.contains(&format!("[{table}]"));
    let mut text = String::new();
    if !has("redis") {
        text.push_str(&format!(
            "[redis]\nurl = \"{}\"\nchannels = [\"excimer\"]\n",
            redis.url()
        ));
    }
    if !has("storage") {
        text.push_str(&format!(
            "[storage]\npath = \"{}\"\n",
            dir.join("data").display()
        ));
    }
    text.push_str(&format!("[http]\nlisten = \"127.0.0.1:{http_port}\"\n"));
    if !has("render") {
        text.push_str("[render]\nworkers = 1\ninterval = \"200ms\"\n");
    }
    text.push_str(extra);
    text
}

impl Arclamp {
    /// Start `arclamp serve` in a fresh temporary directory and wait until it is subscribed.
    pub fn start(redis: &RedisServer, extra: &str) -> Arclamp {
        let dir = TestDir::new();
        let mut arclamp = Arclamp::start_in(dir.path(), redis, extra);
        arclamp.owned_dir = Some(dir);
        arclamp
    }

    /// Start a new instance in this one's directory (reusing its `data/`, as a restarted
    /// instance would), after this one has exited or been killed.
    pub fn restart(mut self, redis: &RedisServer, extra: &str) -> Arclamp {
        let owned_dir = self.owned_dir.take();
        let dir = self.dir.clone();
        drop(self);
        let mut next = Arclamp::start_in(&dir, redis, extra);
        next.owned_dir = owned_dir;
        next
    }

    /// Start in `dir` (reusing its `data/`, as a restarted instance would).
    pub fn start_in(dir: &Path, redis: &RedisServer, extra: &str) -> Arclamp {
        let http_port = free_port();
        std::fs::write(
            dir.join("arclamp.toml"),
            config_text(redis, dir, http_port, extra),
        )
        .expect("write config");
        let mut arclamp = Arclamp::spawn(dir, http_port);
        arclamp.wait_subscribed();
        arclamp
    }

    /// Start in `dir` with extra environment variables, without waiting for anything.
    pub fn spawn_in_with_env(
        dir: &Path,
        redis: &RedisServer,
        extra: &str,
        env: &[(&str, &str)],
    ) -> Arclamp {
        let http_port = free_port();
        std::fs::write(
            dir.join("arclamp.toml"),
            config_text(redis, dir, http_port, extra),
        )
        .expect("write config");
        Arclamp::spawn_with_env(dir, http_port, env)
    }

    /// Start with extra environment variables, and wait until subscribed.
    pub fn start_with_env(redis: &RedisServer, extra: &str, env: &[(&str, &str)]) -> Arclamp {
        let dir = TestDir::new();
        let http_port = free_port();
        std::fs::write(
            dir.path().join("arclamp.toml"),
            config_text(redis, dir.path(), http_port, extra),
        )
        .expect("write config");
        let mut arclamp = Arclamp::spawn_with_env(dir.path(), http_port, env);
        arclamp.owned_dir = Some(dir);
        arclamp.wait_subscribed();
        arclamp
    }

    /// Start without waiting for Redis (for tests where Redis is down).
    pub fn spawn(dir: &Path, http_port: u16) -> Arclamp {
        Arclamp::spawn_with_env(dir, http_port, &[])
    }

    fn spawn_with_env(dir: &Path, http_port: u16, env: &[(&str, &str)]) -> Arclamp {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("arclamp.log"))
            .expect("log file");
        let child = Command::new(binary())
            .args(["serve", "--config"])
            .arg(dir.join("arclamp.toml"))
            .env("RUST_LOG", "info,arclamp=debug")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start arclamp serve");
        Arclamp {
            child: Some(child),
            dir: dir.to_path_buf(),
            http_port,
            owned_dir: None,
        }
    }

    /// Rewrite the config file (for SIGHUP tests).
    pub fn rewrite_config(&self, redis: &RedisServer, extra: &str) {
        std::fs::write(
            self.dir.join("arclamp.toml"),
            config_text(redis, &self.dir, self.http_port, extra),
        )
        .expect("write config");
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Everything the service logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("arclamp.log")).unwrap_or_default()
    }

    /// GET a path on the HTTP port: (status, body).
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.http_port, path)
    }

    /// The value of one metric series, e.g. `arclamp_samples_received_total{channel="excimer"}`;
    /// 0 when the series does not exist yet.
    pub fn metric(&self, series: &str) -> f64 {
        let Some((200, body)) = self.get("/metrics") else {
            return f64::NAN;
        };
        metric_value(&body, series).unwrap_or(0.0)
    }

    /// Wait until `series` satisfies `check`, panicking with the log after `timeout`.
    pub fn wait_metric(&self, series: &str, timeout: Duration, check: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.metric(series);
            if check(value) {
                return value;
            }
            if Instant::now() > deadline {
                panic!("{series} = {value} did not reach the expected value in {timeout:?}\n--- arclamp log ---\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until the subscriber is connected.
    pub fn wait_subscribed(&mut self) {
        self.wait_metric("arclamp_redis_connected", Duration::from_secs(20), |v| {
            v == 1.0
        });
    }

    /// Wait until `samples` samples have been received on `channel`.
    pub fn wait_received(&self, channel: &str, samples: u64) {
        let series = format!("arclamp_samples_received_total{{channel=\"{channel}\"}}");
        self.wait_metric(&series, Duration::from_secs(60), |v| v >= samples as f64);
    }

    /// Send a signal (`TERM`, `INT`, `HUP`).
    pub fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// SIGKILL (a node crash, an OOM kill) and reap the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("wait");
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// SIGTERM and wait for the exit (at most `timeout`).
    pub fn stop(&mut self, timeout: Duration) -> ExitStatus {
        self.signal("TERM");
        self.wait_exit(timeout)
    }

    /// Wait for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                self.child = None;
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "arclamp did not exit within {timeout:?}\n--- log ---\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Arclamp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Only now, with the process gone, may `owned_dir` remove the directory.
        self.owned_dir.take();
    }
}

/// A response as read off the wire by [`http_request`].
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes as sent (still gzip when `Content-Encoding: gzip`), de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request over loopback with extra header lines (`"Accept-Encoding: gzip"`),
/// the target sent exactly as given (no normalisation, so traversal attempts reach the
/// server as written).
pub fn http_request(port: u16, method: &str, target: &str, headers: &[&str]) -> Option<Response> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let body = &response[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked && method != "HEAD" {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Some(Response {
        status,
        headers,
        body,
    })
}

/// A minimal HTTP/1.1 GET over loopback: status and body text.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let response = http_request(port, "GET", path, &[])?;
    let text = response.text();
    Some((response.status, text))
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let Some(size) = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
        else {
            break;
        };
        let rest = &body[line_end + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        body = rest[size..].strip_prefix(b"\r\n").unwrap_or(&rest[size..]);
    }
    out
}

/// The value of `series` (name with labels, exactly as exported) in Prometheus text.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// What `arclamp publish --expect` reports.
#[derive(Debug, serde::Deserialize)]
pub struct Expected {
    /// Messages published.
    pub messages: u64,
    /// Samples (sum of counts) by entry point, including `all`.
    pub samples: BTreeMap<String, u64>,
    /// PUBLISH calls no subscriber received.
    pub unreceived_messages: Option<u64>,
}

/// Run `arclamp publish` against `redis` and return what it published.
pub fn publish(
    redis: &RedisServer,
    channel: &str,
    count: u64,
    seed: u64,
    extra: &[&str],
) -> Expected {
    let dir = tempfile::tempdir().expect("tempdir");
    let expect = dir.path().join("expect.json");
    let output = Command::new(binary())
        .args([
            "publish",
            "--redis",
            &redis.url(),
            "--channel",
            channel,
            "--count",
            &count.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .args(extra)
        .arg("--expect")
        .arg(&expect)
        .output()
        .expect("run arclamp publish");
    assert!(
        output.status.success(),
        "publish failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected: Expected =
        serde_json::from_slice(&std::fs::read(&expect).expect("expect file")).expect("expect JSON");
    assert_eq!(
        expected.unreceived_messages,
        Some(0),
        "some messages reached no subscriber"
    );
    expected
}

/// Publish raw messages with a plain Redis client.
pub fn publish_raw(redis: &RedisServer, channel: &str, messages: &[&[u8]]) {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut connection = client.get_connection().expect("connect");
    for message in messages {
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(*message)
            .query(&mut connection)
            .expect("PUBLISH");
        assert_eq!(receivers, 1, "arclamp is not subscribed to {channel}");
    }
}

/// The stacks and counts in a trace log (`logs/...log.gz` under `data`).
pub fn read_log(data: &Path, relative: &str) -> BTreeMap<String, u64> {
    let bytes = stored_log(|path| std::fs::read(data.join(path)).ok(), relative)
        .unwrap_or_else(|| panic!("{relative}: no such log in {}", data.display()));
    parse_log(&bytes, relative)
}

/// The bytes of the trace log at `relative` (`.../{window}.{channel}.{entry}.log.gz`) in a
/// store whose objects `get` reads, as the service reads it: stored, or, for an entry
/// point whose summary is stored beside its window's `all` log, the lines of `all` it
/// names (each sample is stored once, in `all`). `None` when there is no such log.
pub fn stored_log(get: impl Fn(&str) -> Option<Vec<u8>>, relative: &str) -> Option<Vec<u8>> {
    if let Some(bytes) = get(relative) {
        return Some(bytes);
    }
    let stem = relative.strip_suffix(".log.gz")?;
    let (window_channel, entry) = stem.rsplit_once('.')?;
    if entry == "all" {
        return None;
    }
    get(&format!("{stem}.meta.json"))?;
    let all = get(&format!("{window_channel}.all.log.gz"))?;
    let logs = arclamp::store::seal::entry_logs(&all, |e| e == entry, |w| w.finish())
        .unwrap_or_else(|e| panic!("{window_channel}.all.log.gz does not decode: {e}"));
    logs.into_iter().next().map(|(_, log)| log.bytes)
}

/// Whether the trace log at `relative` exists under `data` (stored, or an entry point's
/// summary and its window's `all` log are, see [`stored_log`]), without reading it.
pub fn log_exists(data: &Path, relative: &str) -> bool {
    if data.join(relative).exists() {
        return true;
    }
    let Some((window_channel, entry)) = relative
        .strip_suffix(".log.gz")
        .and_then(|stem| stem.rsplit_once('.'))
    else {
        return false;
    };
    entry != "all"
        && data
            .join(format!("{window_channel}.{entry}.meta.json"))
            .exists()
        && data.join(format!("{window_channel}.all.log.gz")).exists()
}

/// The window names of the logs of `channel`/`entry` among the file names `names` of one
/// period's directory (stored logs, or an entry point's summaries beside an `all` log).
pub fn log_windows(names: &[String], channel: &str, entry: &str) -> Vec<String> {
    let log = format!(".{channel}.{entry}.log.gz");
    let meta = format!(".{channel}.{entry}.meta.json");
    let all = |window: &str| names.contains(&format!("{window}.{channel}.all.log.gz"));
    let mut windows: Vec<String> = names
        .iter()
        .filter_map(|name| {
            name.strip_suffix(&log).or_else(|| {
                name.strip_suffix(&meta)
                    .filter(|window| entry != "all" && all(window))
            })
        })
        .filter(|w| !w.contains('.') && !w.contains('/'))
        .map(str::to_owned)
        .collect();
    windows.sort();
    windows.dedup();
    windows
}

/// The stacks and counts in the bytes of a trace log named `relative` (for messages),
/// checking it is a trace log (gzip'd folded text as served, or a packed trace as stored)
/// with sorted, unique lines.
pub fn parse_log(bytes: &[u8], relative: &str) -> BTreeMap<String, u64> {
    assert!(
        arclamp::store::compress::is_gzip(bytes) || arclamp::store::packed::is_packed(bytes),
        "{relative} is neither gzip nor a packed trace"
    );
    let text = arclamp::store::compress::maybe_gunzip(bytes)
        .unwrap_or_else(|e| panic!("{relative} does not decode: {e}"));
    let text = String::from_utf8(text.into_owned())
        .unwrap_or_else(|e| panic!("{relative} is not UTF-8: {e}"));
    let mut counts = BTreeMap::new();
    let mut previous: Option<String> = None;
    for line in text.lines() {
        let (stack, count) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("{relative}: malformed line {line:?}"));
        if let Some(previous) = &previous {
            assert!(
                previous.as_bytes() < stack.as_bytes(),
                "{relative}: lines not sorted or not unique at {stack:?}"
            );
        }
        previous = Some(stack.to_owned());
        counts.insert(stack.to_owned(), count.parse().expect("count"));
    }
    counts
}

/// Load sent to Redis from a thread while a test does something else: `step(con, i, sent)`
/// for i = 0, 1, ... with `pause` between steps, until [`Producing::stop`], which hands
/// back what the steps recorded in `sent`.
pub struct Producing<T> {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<T>,
}

impl<T: Default + Send + 'static> Producing<T> {
    /// Start stepping on a connection of its own to `redis`.
    pub fn start(
        redis: &RedisServer,
        pause: Duration,
        mut step: impl FnMut(&mut redis::Connection, u64, &mut T) + Send + 'static,
    ) -> Producing<T> {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let client = redis::Client::open(redis.url()).expect("client");
        let thread = std::thread::spawn(move || {
            let mut con = client.get_connection().expect("connect");
            let mut sent = T::default();
            let mut i = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                step(&mut con, i, &mut sent);
                i += 1;
                std::thread::sleep(pause);
            }
            sent
        });
        Producing { stop, thread }
    }

    /// Stop after the current step; what the steps recorded.
    pub fn stop(self) -> T {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("producing thread")
    }
}

/// `bytes` gzip'd, as arclamp and Arc Lamp store logs.
pub fn gzip(bytes: impl AsRef<[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes.as_ref()).expect("gzip");
    encoder.finish().expect("gzip")
}

/// Sum of counts in a trace log.
pub fn log_total(data: &Path, relative: &str) -> u64 {
    read_log(data, relative).values().sum()
}

/// Files under `data/{sub}` (relative names), sorted.
pub fn list(data: &Path, sub: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.join(sub))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Wait (at most `timeout`) for the first log of `channel`/`entry` in `period`, then return
/// its window as [`only_window`] does. Entry points checkpoint independently, so another
/// entry's log appearing first says nothing about this one.
pub fn wait_only_window(
    data: &Path,
    period: &str,
    channel: &str,
    entry: &str,
    timeout: Duration,
) -> String {
    wait_until(
        &format!("a {period} log of {channel}.{entry}"),
        timeout,
        || !log_windows(&list(data, &format!("logs/{period}")), channel, entry).is_empty(),
    );
    only_window(data, period, channel, entry)
}

/// The single window name in `logs/{period}` for `channel` and `entry`.
pub fn only_window(data: &Path, period: &str, channel: &str, entry: &str) -> String {
    let windows = log_windows(&list(data, &format!("logs/{period}")), channel, entry);
    assert_eq!(
        windows.len(),
        1,
        "expected one {period} window for {channel}.{entry}, found {windows:?}"
    );
    windows[0].clone()
}

/// The decompressed SVG of a stored graph.
pub fn read_svg(data: &std::path::Path, relative: &str) -> String {
    let bytes = std::fs::read(data.join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    let svg = arclamp::store::compress::maybe_gunzip(&bytes).expect("svgz is gzip");
    assert!(
        arclamp::store::compress::is_gzip(&bytes),
        "{relative} must be gzip-compressed"
    );
    String::from_utf8(svg.into_owned()).expect("SVG is UTF-8")
}

/// Sum of counts in the single `period` window of `channel` and `entry`.
pub fn window_total(data: &Path, period: &str, channel: &str, entry: &str) -> u64 {
    let window = only_window(data, period, channel, entry);
    log_total(
        data,
        &format!("logs/{period}/{window}.{channel}.{entry}.log.gz"),
    )
}

/// Poll `check` until it holds, panicking after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Write a trace log (sorted, gzip'd) at `logs/{period}/{window}.{channel}.{entry}.log.gz`.
pub fn write_log(data: &Path, period: &str, name: &str, stacks: &[(&str, u64)]) {
    let mut lines: Vec<String> = stacks.iter().map(|(s, c)| format!("{s} {c}\n")).collect();
    lines.sort();
    let dir = data.join("logs").join(period);
    std::fs::create_dir_all(&dir).expect("logs dir");
    std::fs::write(
        dir.join(name),
        arclamp::store::compress::gzip(lines.concat().as_bytes()),
    )
    .expect("write log");
}
