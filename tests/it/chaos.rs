//! The chaos run (issue 17): arclamp against a real Redis (AOF, fsync on every write) and a
//! real Swift for a given time, while faults are injected at random: SIGKILL and restart of
//! a replica, Redis killed and restarted, the store stopped, the store slowed down, SIGHUP
//! with a valid and with an invalid config. Producers send a known set of samples the whole
//! time; at the end every log the replicas serve is compared with what was sent.
//!
//! `#[ignore]`d, as it runs for minutes: `scripts/chaos` runs it (the optimized test build) and
//! prints the report that RELIABILITY.md keeps. Settings come from the environment:
//! `ARCLAMP_CHAOS_MODE` (`stream`, two replicas in a consumer group, `pubsub`, one
//! instance as the pub/sub Deployment runs it, or `bridge`, one instance bridging pub/sub
//! into streams), `ARCLAMP_CHAOS_SECONDS` (120),
//! `ARCLAMP_CHAOS_SEED` (from the clock), `ARCLAMP_CHAOS_RATE` (messages per second per
//! channel, 20), `ARCLAMP_CHAOS_SAMPLES` (a file of collapsed lines, gzip'd or not, sent
//! in its order; by default `arclamp publish`'s synthetic ones) and
//! `ARCLAMP_CHAOS_STANDBY=1` (pub/sub or bridge mode with a hot standby beside the
//! writer) and `ARCLAMP_CHAOS_KEEP_LOGS` (a directory the replicas' logs are copied to at
//! the end, passed or failed: a loss is explained by what the replicas logged).
//!
//! What counts: in stream mode every hourly and daily log, of every channel and entry
//! point, holds exactly what was added to the stream (lost 0, doubled 0). In pub/sub mode
//! Redis drops what is published while no one is subscribed (PUBLISH answers 0, counted
//! here as unreceived) and a killed instance loses what it held since its last checkpoint;
//! the run reports both and fails on anything else. In bridge mode a killed instance holds
//! only what it has not appended yet, and a standby forwards even that.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::arclamp::{binary, http_request, parse_log, Arclamp, TestDir};
use crate::redis_server::RedisServer;
use crate::streams::{expect_data, Expected};
use crate::swift_server::{unique_container, Api, SwiftServer};

/// The channels produced to: two, as Wikimedia's CPU and wall-clock profiles.
const CHANNELS: [&str; 2] = ["excimer", "excimer-wall"];

/// Replicas in stream mode (the pub/sub Deployment runs one instance).
const STREAM_REPLICAS: usize = 2;

/// The longest `aggregation.flush_interval` a reload sets: what a killed pub/sub instance
/// may have held and not yet checkpointed is at most this much traffic.
const LONGEST_FLUSH: Duration = Duration::from_secs(60);

/// How long the end of the run waits for every log to be served complete: a killed
/// replica's entries are claimed after `claim_after` (1 min), committed within
/// `commit_interval` (30 s), on a store that may just have come back.
const SETTLE: Duration = Duration::from_secs(420);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Stream,
    PubSub,
    /// Producers publish; instances bridge pub/sub into streams (`source = "bridge"`).
    Bridge,
}

impl Mode {
    /// Whether producers `PUBLISH` (rather than `XADD`).
    fn publishes(self) -> bool {
        self != Mode::Stream
    }
}

/// What one run does, from `ARCLAMP_CHAOS_*`.
struct Settings {
    mode: Mode,
    duration: Duration,
    seed: u64,
    rate: u32,
    samples: Option<PathBuf>,
    /// Pub/sub mode with a hot standby beside the writer (`ARCLAMP_CHAOS_STANDBY=1`).
    standby: bool,
    /// Where the replicas' logs are copied at the end (`ARCLAMP_CHAOS_KEEP_LOGS`).
    keep_logs: Option<PathBuf>,
}

impl Settings {
    fn from_env() -> Settings {
        let var = |name: &str| std::env::var(format!("ARCLAMP_CHAOS_{name}")).ok();
        let number = |name: &str, default: u64| {
            var(name).map_or(default, |v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("ARCLAMP_CHAOS_{name}={v} is not a number"))
            })
        };
        let mode = match var("MODE").as_deref() {
            None | Some("stream") => Mode::Stream,
            Some("pubsub") => Mode::PubSub,
            Some("bridge") => Mode::Bridge,
            Some(other) => {
                panic!("ARCLAMP_CHAOS_MODE={other}: expected stream, pubsub or bridge")
            }
        };
        let clock_seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Settings {
            mode,
            duration: Duration::from_secs(number("SECONDS", 120)),
            seed: number("SEED", clock_seed),
            rate: number("RATE", 20).max(1) as u32,
            samples: var("SAMPLES").filter(|v| !v.is_empty()).map(PathBuf::from),
            standby: mode.publishes() && number("STANDBY", 0) == 1,
            keep_logs: var("KEEP_LOGS")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }
}

/// splitmix64: the run's faults follow from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn between(&mut self, low: Duration, high: Duration) -> Duration {
        let span = (high - low).as_millis() as u64;
        low + Duration::from_millis(self.below(span + 1))
    }
}

/// The kinds of fault, with how often each is picked (out of the sum of the weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    KillReplica,
    RestartRedis,
    StoreOutage,
    SlowStore,
    ReloadValid,
    ReloadInvalid,
}

const FAULTS: [(Fault, u64); 6] = [
    (Fault::KillReplica, 3),
    (Fault::RestartRedis, 2),
    (Fault::StoreOutage, 2),
    (Fault::SlowStore, 2),
    (Fault::ReloadValid, 1),
    (Fault::ReloadInvalid, 1),
];

impl Fault {
    fn pick(rng: &mut Rng) -> Fault {
        let total: u64 = FAULTS.iter().map(|(_, w)| w).sum();
        let mut roll = rng.below(total);
        for (fault, weight) in FAULTS {
            if roll < weight {
                return fault;
            }
            roll -= weight;
        }
        Fault::KillReplica
    }

    fn name(self) -> &'static str {
        match self {
            Fault::KillReplica => "SIGKILL + restart",
            Fault::RestartRedis => "Redis killed + restarted",
            Fault::StoreOutage => "store stopped",
            Fault::SlowStore => "store slowed",
            Fault::ReloadValid => "SIGHUP, valid config",
            Fault::ReloadInvalid => "SIGHUP, invalid config",
        }
    }

    fn is_store(self) -> bool {
        matches!(self, Fault::StoreOutage | Fault::SlowStore)
    }
}

/// A TCP relay between arclamp and Swift that can hold back every chunk of every answer:
/// a slow store (an overloaded proxy, a congested link), not a dead one.
struct SlowProxy {
    port: u16,
    delay_ms: Arc<AtomicU64>,
}

impl SlowProxy {
    fn start(upstream: u16) -> SlowProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the relay");
        let port = listener.local_addr().expect("relay address").port();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let delay = delay.clone();
                std::thread::spawn(move || relay(client, upstream, delay));
            }
        });
        SlowProxy { port, delay_ms }
    }

    fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }
}

fn relay(client: TcpStream, upstream: u16, delay_ms: Arc<AtomicU64>) {
    // Swift stopped: the client sees its connection closed, as with a dead proxy.
    let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)) else {
        return;
    };
    let (Ok(client_reader), Ok(server_writer)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    std::thread::spawn(move || pump(client_reader, server_writer, None));
    pump(server, client, Some(delay_ms));
}

fn pump(mut from: TcpStream, mut to: TcpStream, delay_ms: Option<Arc<AtomicU64>>) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let delay = delay_ms.as_ref().map_or(0, |d| d.load(Ordering::Relaxed));
                if delay > 0 {
                    std::thread::sleep(Duration::from_millis(delay));
                }
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// What one producer sent, and what the logs must hold because of it.
#[derive(Default)]
struct Sent {
    /// What must be stored, by (period, window, entry): in stream mode the windows of the
    /// entries' ids, in pub/sub mode those of the publishing instants.
    expected: Expected,
    messages: u64,
    /// Samples Redis took (added to the stream, or delivered to a subscriber).
    samples: u64,
    /// Pub/sub: samples published while no one was subscribed (PUBLISH answered 0).
    unreceived: u64,
    /// Pub/sub: samples whose PUBLISH got no answer (the connection broke): maybe
    /// delivered, maybe not.
    in_doubt: u64,
    /// Stream: XADDs sent again with the same id after the connection broke.
    retried: u64,
    /// Pub/sub: when each delivered message was published, and its samples.
    delivered_at: Vec<(Instant, u64)>,
}

/// A producer thread on one channel, sending `rate` messages a second of 1 to 6 lines from
/// `pool` (in its order, from `offset`) until stopped.
struct Producer {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Sent>,
}

impl Producer {
    fn start(
        url: String,
        channel: &'static str,
        mode: Mode,
        pool: Arc<Vec<String>>,
        offset: usize,
        rate: u32,
        seed: u64,
    ) -> Producer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut rng = Rng(seed);
            let mut sent = Sent::default();
            let client = redis::Client::open(url).expect("Redis URL");
            let mut connection = None;
            let mut next = offset;
            let interval = Duration::from_secs(1) / rate;
            let mut due = Instant::now();
            let mut last_id = (0u64, 0u64);
            while !flag.load(Ordering::Relaxed) {
                let lines = 1 + rng.below(6) as usize;
                let message: Vec<&str> = (0..lines)
                    .map(|i| pool[(next + i) % pool.len()].as_str())
                    .collect();
                next += lines;
                let message = message.join("\n");
                let samples = sample_count(&message);
                match mode {
                    Mode::Stream => {
                        let ms = now_ms().max(last_id.0);
                        last_id = if ms == last_id.0 {
                            (ms, last_id.1 + 1)
                        } else {
                            (ms, 0)
                        };
                        let id = format!("{}-{}", last_id.0, last_id.1);
                        xadd_until_taken(
                            &client,
                            &mut connection,
                            channel,
                            &id,
                            &message,
                            &mut sent,
                        );
                        expect_data(&mut sent.expected, ms as i64, &message);
                        sent.samples += samples;
                    }
                    Mode::PubSub | Mode::Bridge => {
                        let con = connect(&client, &mut connection);
                        let answer: redis::RedisResult<i64> =
                            redis::cmd("PUBLISH").arg(channel).arg(&message).query(con);
                        match answer {
                            Ok(0) => sent.unreceived += samples,
                            Ok(_) => {
                                expect_data(&mut sent.expected, now_ms() as i64, &message);
                                sent.samples += samples;
                                sent.delivered_at.push((Instant::now(), samples));
                            }
                            Err(_) => {
                                sent.in_doubt += samples;
                                connection = None;
                            }
                        }
                    }
                }
                sent.messages += 1;
                due += interval;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                } else {
                    due = now;
                }
            }
            sent
        });
        Producer { stop, thread }
    }

    fn stop(self) -> Sent {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("producer thread")
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn sample_count(message: &str) -> u64 {
    message
        .lines()
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<u64>().ok())
        .sum()
}

/// The connection, opened again (retrying until Redis answers) when there is none.
fn connect<'a>(
    client: &redis::Client,
    connection: &'a mut Option<redis::Connection>,
) -> &'a mut redis::Connection {
    let deadline = Instant::now() + SETTLE;
    while connection.is_none() {
        match client.get_connection_with_timeout(Duration::from_secs(1)) {
            Ok(con) => {
                let _ = con.set_read_timeout(Some(Duration::from_secs(10)));
                *connection = Some(con);
            }
            Err(error) => {
                assert!(Instant::now() < deadline, "Redis unreachable: {error}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    connection.as_mut().expect("connected")
}

/// XADD with an explicit id until Redis has it. When the connection breaks before the
/// answer, the same id is sent again: "equal or smaller than the top item" then means
/// the first attempt landed (one producer per stream, ids only growing), so nothing is
/// added twice and nothing is missed.
fn xadd_until_taken(
    client: &redis::Client,
    connection: &mut Option<redis::Connection>,
    channel: &str,
    id: &str,
    message: &str,
    sent: &mut Sent,
) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let con = connect(client, connection);
        let answer: redis::RedisResult<String> = redis::cmd("XADD")
            .arg(channel)
            .arg(id)
            .arg("data")
            .arg(message)
            .query(con);
        match answer {
            Ok(_) => return,
            Err(error) if error.to_string().contains("equal or smaller") => return,
            Err(error) => {
                assert!(Instant::now() < deadline, "XADD {id} failed: {error}");
                *connection = None;
                sent.retried += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// The lines producers send: `ARCLAMP_CHAOS_SAMPLES` when given (each line checked, so that
/// the comparison is on text the service stores unchanged), else synthetic ones.
fn sample_pool(settings: &Settings, dir: &Path) -> (Vec<String>, String) {
    let (path, source) = match &settings.samples {
        Some(path) => (path.clone(), path.display().to_string()),
        None => {
            let path = dir.join("pool.txt");
            let status = std::process::Command::new(binary())
                .args(["publish", "--format", "lines", "--count", "20000", "--out"])
                .arg(&path)
                .args(["--seed", &settings.seed.to_string()])
                .status()
                .expect("run arclamp publish");
            assert!(status.success(), "arclamp publish --out failed");
            (path, "arclamp publish (synthetic)".to_owned())
        }
    };
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("cannot read the samples {}: {e}", path.display()));
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let pool: Vec<String> = BufReader::new(reader)
        .lines()
        .map_while(Result::ok)
        .filter(|line| {
            line.bytes().all(|b| (0x20..0x7f).contains(&b))
                && line
                    .rsplit_once(' ')
                    .is_some_and(|(stack, n)| !stack.is_empty() && n.parse::<u32>().is_ok())
        })
        .collect();
    assert!(
        !pool.is_empty(),
        "no usable sample line in {}",
        path.display()
    );
    (pool, source)
}

/// One replica (or the pub/sub instance): its directory outlives the processes.
struct Replica {
    dir: TestDir,
    process: Arclamp,
}

/// Everything a run starts, and the faults it is in.
struct Run {
    settings: Settings,
    redis: RedisServer,
    swift: SwiftServer,
    proxy: SlowProxy,
    storage: String,
    replicas: Vec<Replica>,
    /// Which of the two valid configs a valid reload switches to next.
    reload_flip: bool,
    started: Instant,
    /// Faults injected, by kind.
    faults: BTreeMap<Fault, u32>,
    /// Exits no fault caused, with the end of their log.
    unexpected_exits: Vec<String>,
    /// When each SIGKILL of a pub/sub instance happened.
    kills: Vec<Instant>,
}

impl Run {
    fn start(settings: Settings) -> Run {
        let redis = RedisServer::start_with_config(&["appendonly yes", "appendfsync always"]);
        let swift = SwiftServer::start_with_token_life(Duration::from_secs(86_400));
        let upstream: u16 = swift
            .endpoint()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("Swift port");
        let proxy = SlowProxy::start(upstream);
        let storage = swift
            .storage_toml(Api::Swift, &unique_container("chaos"), "chaos")
            .replace(
                &swift.endpoint(),
                &format!("http://127.0.0.1:{}", proxy.port),
            );
        let mut run = Run {
            settings,
            redis,
            swift,
            proxy,
            storage,
            replicas: Vec::new(),
            reload_flip: false,
            started: Instant::now(),
            faults: BTreeMap::new(),
            unexpected_exits: Vec::new(),
            kills: Vec::new(),
        };
        let count = match run.settings.mode {
            Mode::Stream => STREAM_REPLICAS,
            // The writer, and with a standby a second instance under the writer lease.
            Mode::PubSub | Mode::Bridge => 1 + usize::from(run.settings.standby),
        };
        for _ in 0..count {
            let dir = TestDir::new();
            let process = Arclamp::start_in(dir.path(), &run.redis, &run.config(false));
            run.replicas.push(Replica { dir, process });
        }
        run
    }

    /// A replica's config; `flip` picks the second of the two valid variants.
    fn config(&self, flip: bool) -> String {
        let channels = CHANNELS.map(|c| format!("\"{c}\"")).join(", ");
        let source = match self.settings.mode {
            Mode::Stream => "stream",
            Mode::PubSub => "pubsub",
            Mode::Bridge => "bridge",
        };
        let (flush, render) = if flip { ("30s", "20m") } else { ("60s", "1h") };
        format!(
            "[redis]\nurl = \"{}\"\nchannels = [{channels}]\nsource = \"{source}\"\n\
             {}[render]\nworkers = 1\ninterval = \"{render}\"\n\
             [aggregation]\nflush_interval = \"{flush}\"\n",
            self.redis.url(),
            self.storage,
        )
    }

    fn note(&self, what: &str) {
        eprintln!(
            "[chaos {:>6.1}s] {what}",
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Restart any replica that exited although no fault asked it to.
    fn check_alive(&mut self) {
        for i in 0..self.replicas.len() {
            if self.replicas[i].process.is_running() {
                continue;
            }
            let log = self.replicas[i].process.log();
            let tail: String = log
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            self.note(&format!("replica {i} exited on its own; restarting it"));
            self.unexpected_exits.push(tail);
            self.respawn(i);
        }
    }

    fn respawn(&mut self, i: usize) {
        let config = self.config(self.reload_flip);
        let replica = &mut self.replicas[i];
        replica.process = Arclamp::spawn_in_with_env(replica.dir.path(), &self.redis, &config, &[]);
    }

    /// Inject `fault`; store faults are started here and ended by [`Run::end_store_fault`].
    fn inject(&mut self, fault: Fault, rng: &mut Rng) -> Option<Instant> {
        *self.faults.entry(fault).or_default() += 1;
        let i = rng.below(self.replicas.len() as u64) as usize;
        match fault {
            Fault::KillReplica => {
                let down = rng.between(Duration::ZERO, Duration::from_secs(5));
                self.note(&format!("SIGKILL replica {i}, restart in {down:?}"));
                self.replicas[i].process.kill();
                self.kills.push(Instant::now());
                std::thread::sleep(down);
                self.respawn(i);
                None
            }
            Fault::RestartRedis => {
                let down = rng.between(Duration::from_secs(1), Duration::from_secs(8));
                self.note(&format!("Redis killed, back in {down:?}"));
                self.redis.stop();
                std::thread::sleep(down);
                self.redis.restart();
                None
            }
            Fault::StoreOutage => {
                let length = rng.between(Duration::from_secs(5), Duration::from_secs(60));
                self.note(&format!("Swift proxy stopped for {length:?}"));
                self.swift.kill("proxy");
                Some(Instant::now() + length)
            }
            Fault::SlowStore => {
                let length = rng.between(Duration::from_secs(10), Duration::from_secs(60));
                let delay = rng.between(Duration::from_millis(200), Duration::from_secs(3));
                self.note(&format!(
                    "store slowed ({delay:?} per chunk) for {length:?}"
                ));
                self.proxy.set_delay(delay);
                Some(Instant::now() + length)
            }
            Fault::ReloadValid => {
                self.reload_flip = !self.reload_flip;
                self.note(&format!("SIGHUP replica {i} with a valid config"));
                let config = self.config(self.reload_flip);
                let replica = &self.replicas[i].process;
                replica.rewrite_config(&self.redis, &config);
                replica.signal("HUP");
                None
            }
            Fault::ReloadInvalid => {
                self.note(&format!("SIGHUP replica {i} with an invalid config"));
                let config = self.config(self.reload_flip);
                let replica = &self.replicas[i].process;
                let path = replica.dir.join("arclamp.toml");
                std::fs::write(&path, "[aggregation]\nflush_interval = \"soon\"\n")
                    .expect("write the invalid config");
                replica.signal("HUP");
                // Left in place a moment, then mended before anything may restart it.
                std::thread::sleep(Duration::from_secs(2));
                replica.rewrite_config(&self.redis, &config);
                None
            }
        }
    }

    fn end_store_fault(&mut self, fault: Fault) {
        match fault {
            Fault::StoreOutage => {
                self.note("Swift proxy started again");
                self.swift.restart("proxy");
            }
            Fault::SlowStore => {
                self.note("store at full speed again");
                self.proxy.set_delay(Duration::ZERO);
            }
            _ => {}
        }
    }

    /// Run the faults until the run's time is up.
    fn inject_faults(&mut self) {
        let mut rng = Rng(self.settings.seed);
        let end = self.started + self.settings.duration;
        let mut next =
            Instant::now() + rng.between(Duration::from_secs(5), Duration::from_secs(15));
        let mut store_fault: Option<(Fault, Instant)> = None;
        while Instant::now() < end {
            if let Some((fault, until)) = store_fault {
                if Instant::now() >= until {
                    self.end_store_fault(fault);
                    store_fault = None;
                }
            }
            if Instant::now() >= next {
                let mut fault = Fault::pick(&mut rng);
                // One store fault at a time; another kind meanwhile.
                while store_fault.is_some() && fault.is_store() {
                    fault = Fault::pick(&mut rng);
                }
                if let Some(until) = self.inject(fault, &mut rng) {
                    store_fault = Some((fault, until));
                }
                next =
                    Instant::now() + rng.between(Duration::from_secs(5), Duration::from_secs(30));
            }
            self.check_alive();
            std::thread::sleep(Duration::from_millis(200));
        }
        if let Some((fault, _)) = store_fault {
            self.end_store_fault(fault);
        }
        self.check_alive();
    }
}

/// Samples missing from `stored` and samples in it more often than in `expected`.
fn lost_and_doubled(
    expected: &BTreeMap<String, u64>,
    stored: &BTreeMap<String, u64>,
) -> (u64, u64) {
    let mut lost = 0;
    let mut doubled = 0;
    for (stack, &want) in expected {
        let got = stored.get(stack).copied().unwrap_or(0);
        lost += want.saturating_sub(got);
        doubled += got.saturating_sub(want);
    }
    for (stack, &got) in stored {
        if !expected.contains_key(stack) {
            doubled += got;
        }
    }
    (lost, doubled)
}

/// The stacks a replica serves at `/logs/...`: empty when there is no such window.
fn served(replica: &Arclamp, relative: &str) -> Option<BTreeMap<String, u64>> {
    let response = http_request(
        replica.http_port,
        "GET",
        &format!("/{relative}"),
        &["Accept-Encoding: gzip"],
    )?;
    match response.status {
        200 => Some(parse_log(&response.body, relative)),
        404 => Some(BTreeMap::new()),
        _ => None,
    }
}

/// Stacks and their sample counts, as in a log.
type Stacks = BTreeMap<String, u64>;

/// Per channel and (period, window, entry): what was sent.
type Sends = BTreeMap<&'static str, Expected>;

/// Lost and doubled samples over every log `replica` serves for `sends`, or None when it
/// does not answer. In pub/sub mode samples are compared per (period, entry) over all
/// windows, as a sample published at an hour's end may be counted in the next hour.
fn compare(replica: &Arclamp, sends: &Sends, mode: Mode) -> Option<Totals> {
    let mut totals = Totals::default();
    for (channel, expected) in sends {
        // Pub/sub: (sent, stored) per (period, entry), summed over the windows.
        let mut by_entry: BTreeMap<(String, String), (Stacks, Stacks)> = BTreeMap::new();
        let mut windows: BTreeMap<(String, String), ()> = BTreeMap::new();
        for (period, window, entry) in expected.keys() {
            windows.insert((period.clone(), window.clone()), ());
            by_entry.entry((period.clone(), entry.clone())).or_default();
        }
        if mode.publishes() {
            let extra: Vec<(String, String)> = windows
                .keys()
                .flat_map(|(period, window)| neighbours(period, window))
                .collect();
            for key in extra {
                windows.insert(key, ());
            }
        }
        for ((period, window), ()) in &windows {
            for ((p, entry), (want, got)) in by_entry.iter_mut() {
                if p != period {
                    continue;
                }
                let relative = format!("logs/{period}/{window}.{channel}.{entry}.log.gz");
                let stored = served(replica, &relative)?;
                let sent = expected
                    .get(&(period.clone(), window.clone(), entry.clone()))
                    .cloned()
                    .unwrap_or_default();
                match mode {
                    Mode::Stream => {
                        let (lost, doubled) = lost_and_doubled(&sent, &stored);
                        totals.add(period, entry, lost, doubled, &relative);
                    }
                    Mode::PubSub | Mode::Bridge => {
                        for (stack, n) in sent {
                            *want.entry(stack).or_default() += n;
                        }
                        for (stack, n) in stored {
                            *got.entry(stack).or_default() += n;
                        }
                    }
                }
            }
        }
        if mode.publishes() {
            for ((period, entry), (want, got)) in &by_entry {
                let (lost, doubled) = lost_and_doubled(want, got);
                totals.add(
                    period,
                    entry,
                    lost,
                    doubled,
                    &format!("{period} {channel}.{entry}"),
                );
            }
        }
    }
    Some(totals)
}

/// The hour (or day) before and after a window, for samples counted across a boundary.
fn neighbours(period: &str, window: &str) -> Vec<(String, String)> {
    let (format, step) = match period {
        "hourly" => ("%Y-%m-%d_%H", chrono::Duration::hours(1)),
        _ => ("%Y-%m-%d", chrono::Duration::days(1)),
    };
    let parsed = if period == "hourly" {
        chrono::NaiveDateTime::parse_from_str(&format!("{window}:00"), "%Y-%m-%d_%H:%M").ok()
    } else {
        chrono::NaiveDate::parse_from_str(window, format)
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    };
    parsed
        .map(|t| {
            [t - step, t + step]
                .iter()
                .map(|n| (period.to_owned(), n.format(format).to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Lost and doubled samples: in the `all` logs of the daily windows (every sample once),
/// and the logs (of any period and entry point) that differ at all.
#[derive(Default, Debug)]
struct Totals {
    lost: u64,
    doubled: u64,
    wrong_logs: Vec<String>,
}

impl Totals {
    fn add(&mut self, period: &str, entry: &str, lost: u64, doubled: u64, what: &str) {
        if period == "daily" && entry == "all" {
            self.lost += lost;
            self.doubled += doubled;
        }
        if lost + doubled > 0 {
            self.wrong_logs
                .push(format!("{what}: {lost} lost, {doubled} doubled"));
        }
    }
}

#[test]
#[ignore = "minutes long: run by scripts/chaos"]
fn chaos_run() {
    let settings = Settings::from_env();
    let work = TestDir::new();
    let (pool, source) = sample_pool(&settings, work.path());
    let pool = Arc::new(pool);
    let mode = settings.mode;
    let seed = settings.seed;
    let duration = settings.duration;
    let rate = settings.rate;
    let settings_standby = settings.standby;
    let mode_label = if settings_standby {
        format!("{mode:?} + standby")
    } else {
        format!("{mode:?}")
    };
    eprintln!(
        "chaos run: {mode_label} mode, {duration:?}, seed {seed}, {rate} messages/s per channel, samples from {source} ({} lines)",
        pool.len()
    );
    let mut run = Run::start(settings);
    run.note("replicas started; producers start");
    let producers: Vec<(&'static str, Producer)> = CHANNELS
        .iter()
        .enumerate()
        .map(|(i, &channel)| {
            let offset = i * pool.len() / CHANNELS.len();
            let producer = Producer::start(
                run.redis.url(),
                channel,
                mode,
                pool.clone(),
                offset,
                rate,
                seed ^ (i as u64 + 1),
            );
            (channel, producer)
        })
        .collect();
    run.inject_faults();
    let sent: Vec<(&'static str, Sent)> = producers
        .into_iter()
        .map(|(channel, producer)| (channel, producer.stop()))
        .collect();
    run.note("producers stopped");
    let sends: Sends = sent
        .iter()
        .map(|(channel, s)| (*channel, s.expected.clone()))
        .collect();
    let samples: u64 = sent.iter().map(|(_, s)| s.samples).sum();
    let unreceived: u64 = sent.iter().map(|(_, s)| s.unreceived).sum();
    let in_doubt: u64 = sent.iter().map(|(_, s)| s.in_doubt).sum();
    let retried: u64 = sent.iter().map(|(_, s)| s.retried).sum();
    let messages: u64 = sent.iter().map(|(_, s)| s.messages).sum();

    let totals = match mode {
        Mode::Bridge => {
            // The streams' backlog is counted within a claim and a commit; then what the
            // replicas serve stops changing (what was lost stays lost).
            let started = Instant::now();
            let mut last: Option<(u64, u64, usize)> = None;
            let mut stable = 0;
            loop {
                run.check_alive();
                let totals = compare(&run.replicas[0].process, &sends, mode);
                let key = totals
                    .as_ref()
                    .map(|t| (t.lost, t.doubled, t.wrong_logs.len()));
                stable = if key.is_some() && key == last {
                    stable + 1
                } else {
                    0
                };
                last = key;
                let settled = totals.as_ref().is_some_and(|t| t.wrong_logs.is_empty());
                let waited = started.elapsed() > Duration::from_secs(100) && stable >= 4;
                if settled || waited || started.elapsed() > SETTLE {
                    run.note(&format!(
                        "{} after the producers stopped",
                        if settled { "settled" } else { "stable" }
                    ));
                    break totals.unwrap_or_default();
                }
                std::thread::sleep(Duration::from_secs(5));
            }
        }
        Mode::Stream => {
            // Every replica serves the same, complete logs once the group has caught up.
            let deadline = Instant::now() + SETTLE;
            loop {
                run.check_alive();
                let results: Vec<Option<Totals>> = run
                    .replicas
                    .iter()
                    .map(|r| compare(&r.process, &sends, mode))
                    .collect();
                let settled = results
                    .iter()
                    .all(|t| t.as_ref().is_some_and(|t| t.wrong_logs.is_empty()));
                if settled || Instant::now() > deadline {
                    run.note(&format!(
                        "{} after the producers stopped",
                        if settled { "settled" } else { "NOT settled" }
                    ));
                    break results
                        .into_iter()
                        .flatten()
                        .max_by_key(|t| t.lost + t.doubled + t.wrong_logs.len() as u64)
                        .unwrap_or_default();
                }
                std::thread::sleep(Duration::from_secs(5));
            }
        }
        Mode::PubSub => {
            // A graceful stop checkpoints everything; a fresh instance then serves it.
            for replica in &mut run.replicas {
                assert!(
                    replica.process.stop(Duration::from_secs(120)).success(),
                    "the pub/sub instance did not stop cleanly:\n{}",
                    replica.process.log()
                );
            }
            let reader =
                Arclamp::start_in(run.replicas[0].dir.path(), &run.redis, &run.config(false));
            let totals = compare(&reader, &sends, mode).expect("the instance answers");
            drop(reader);
            totals
        }
    };
    // What a killed pub/sub instance may have held since its last checkpoint: the traffic
    // of the longest flush interval before each kill. A bridging instance holds only what
    // it has not appended yet: the last second or so.
    let held_for = match mode {
        Mode::Bridge => Duration::from_secs(1),
        _ => LONGEST_FLUSH,
    };
    let at_risk: u64 = sent
        .iter()
        .flat_map(|(_, s)| s.delivered_at.iter())
        .filter(|(at, _)| {
            run.kills
                .iter()
                .any(|kill| *at <= *kill && *kill - *at <= held_for + Duration::from_secs(1))
        })
        .map(|(_, n)| n)
        .sum();

    let faults: Vec<String> = run
        .faults
        .iter()
        .map(|(fault, n)| format!("{} {n}", fault.name()))
        .collect();
    let day = chrono::Utc::now().format("%Y-%m-%d");
    eprintln!("\n=== chaos report ===");
    eprintln!("| date | mode | duration | seed | faults | messages | samples taken by Redis | lost | doubled | pub/sub: unreceived / in doubt / at risk | XADD retried | unexpected exits |");
    eprintln!(
        "| {day} | {mode_label} | {} s | {seed} | {} | {messages} | {samples} | {} | {} | {} | {retried} | {} |",
        duration.as_secs(),
        faults.join(", "),
        totals.lost,
        totals.doubled,
        if mode.publishes() {
            format!("{unreceived} / {in_doubt} / {at_risk}")
        } else {
            "-".to_owned()
        },
        run.unexpected_exits.len(),
    );
    eprintln!("samples from {source}");
    for wrong in &totals.wrong_logs {
        eprintln!("  differs: {wrong}");
    }
    for exit in &run.unexpected_exits {
        eprintln!("--- unexpected exit ---\n{exit}");
    }
    if let Some(keep) = &run.settings.keep_logs {
        std::fs::create_dir_all(keep).expect("the directory for the replicas' logs");
        for (i, replica) in run.replicas.iter().enumerate() {
            let to = keep.join(format!("replica-{i}.log"));
            std::fs::copy(replica.dir.path().join("arclamp.log"), &to)
                .expect("copy a replica's log");
            eprintln!("replica {i}'s log: {}", to.display());
        }
    }

    assert!(
        run.unexpected_exits.is_empty(),
        "replicas exited without a fault"
    );
    match mode {
        Mode::Stream => assert!(
            totals.wrong_logs.is_empty(),
            "stream mode lost or doubled samples: {:?}",
            totals.wrong_logs
        ),
        Mode::Bridge => {
            // A PUBLISH whose answer was lost may still have been delivered; a killed lone
            // instance loses what it had received and not appended.
            assert!(
                totals.doubled <= in_doubt,
                "bridge mode counted {} samples twice (only {in_doubt} were in doubt)",
                totals.doubled
            );
            assert!(
                totals.lost <= at_risk,
                "bridge mode lost {} samples, more than the {at_risk} delivered just before a kill",
                totals.lost
            );
        }
        Mode::PubSub if settings_standby => {
            // A standby taking over from a killed writer counts all it buffered: what the
            // writer had checkpointed of it counts twice, at most a flush interval.
            assert!(
                totals.doubled <= in_doubt + at_risk,
                "pub/sub with a standby counted {} samples twice (only {} were in doubt or held by a killed writer)",
                totals.doubled,
                in_doubt + at_risk
            );
            assert!(
                totals.lost <= at_risk,
                "pub/sub lost {} samples, more than the {at_risk} a killed instance may have held",
                totals.lost
            );
        }
        Mode::PubSub => {
            // A PUBLISH whose answer was lost may still have been delivered.
            assert!(
                totals.doubled <= in_doubt,
                "pub/sub counted {} samples twice (only {in_doubt} were in doubt)",
                totals.doubled
            );
            assert!(
                totals.lost <= at_risk,
                "pub/sub lost {} samples, more than the {at_risk} a killed instance may have held",
                totals.lost
            );
        }
    }
}
