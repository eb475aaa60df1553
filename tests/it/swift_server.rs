//! A real OpenStack Swift all-in-one (Debian's `swift-*` packages and memcached) on free
//! loopback ports, serving the native Swift API (tempauth, user `test:tester`, key
//! `testing`) and its S3 API (s3api: access key `test:tester`, secret `testing`).
//!
//! Every instance lives in its own temporary directory (rings built for its ports, one
//! device, one replica) and its processes are stopped by [`Drop`]. They also die with the
//! test binary, however it ends (even SIGKILL): a small watchdog shell is told the pid of
//! every server it starts on its stdin, a pipe only this process holds; when the pipe
//! closes, the watchdog kills those pids and removes the directory. (A process group would
//! not do: Swift's servers call `setsid()` and leave any group they were started in.) That
//! is what lets [`SwiftServer::shared`] start one instance lazily for all the tests of a
//! run (a static is never dropped) without leaking servers after `cargo test`.
//!
//! Tests never skip when Swift is missing: they panic saying how to install it
//! (`scripts/install-deps` does).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::arclamp::free_port;

/// How long a starting Swift may take (about 7 s here, more on a loaded CI machine).
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// tempauth user and key; also the S3 access key and secret.
pub const USER: &str = "test:tester";
/// See [`USER`].
pub const KEY: &str = "testing";

/// One Swift all-in-one.
pub struct SwiftServer {
    dir: PathBuf,
    _tempdir: Option<tempfile::TempDir>,
    proxy_port: u16,
    memcached_port: u16,
    /// Held open: the watchdog kills everything when it closes.
    watchdog_stdin: Option<ChildStdin>,
    watchdog: Child,
    servers: BTreeMap<&'static str, Child>,
}

/// Which API arclamp should use on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Native Swift with tempauth.
    Swift,
    /// The S3 API (s3api middleware).
    S3,
}

static SHARED: OnceLock<SwiftServer> = OnceLock::new();
static UNIQUE: AtomicU32 = AtomicU32::new(0);

/// A container (and S3 bucket) name no other test of this run uses.
pub fn unique_container(what: &str) -> String {
    format!(
        "{what}-{}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, Ordering::Relaxed)
    )
}

impl SwiftServer {
    /// The instance shared by the tests of this run, started on first use.
    pub fn shared() -> &'static SwiftServer {
        SHARED.get_or_init(|| SwiftServer::start_with_token_life(Duration::from_secs(86400)))
    }

    /// A private instance whose tempauth tokens live `token_life`.
    pub fn start_with_token_life(token_life: Duration) -> SwiftServer {
        let tempdir = tempfile::Builder::new()
            .prefix("arclamp-swift-")
            .tempdir()
            .expect("tempdir for Swift");
        let dir = tempdir.path().to_path_buf();
        let mut watchdog = Command::new("sh")
            .arg("-c")
            // One pid per line until EOF, then kill them all and clean up.
            .arg(
                r#"trap '' TERM INT; pids=""; while read pid; do pids="$pids $pid"; done
                   kill -TERM $pids 2>/dev/null; sleep 1; kill -KILL $pids 2>/dev/null
                   rm -rf "$1""#,
            )
            .arg("watchdog")
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the Swift watchdog shell");
        let watchdog_stdin = watchdog.stdin.take();
        let mut server = SwiftServer {
            dir,
            _tempdir: Some(tempdir),
            proxy_port: 0,
            memcached_port: free_port(),
            watchdog_stdin,
            watchdog,
            servers: BTreeMap::new(),
        };
        server.configure(token_life);
        for name in ["memcached", "account", "container", "object", "proxy"] {
            server.spawn(name);
        }
        server.wait_ready();
        server
    }

    fn configure(&mut self, token_life: Duration) {
        let dir = self.dir.clone();
        std::fs::create_dir_all(dir.join("devices/d1")).expect("devices dir");
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(whoami);
        std::fs::write(
            dir.join("swift.conf"),
            "[swift-hash]\nswift_hash_path_suffix = arclamp-test\nswift_hash_path_prefix = arclamp-test\n\
             [storage-policy:0]\nname = Policy-0\ndefault = yes\n",
        )
        .expect("swift.conf");
        let common = |port: u16| {
            format!(
                "[DEFAULT]\ndevices = {devices}\nmount_check = false\nbind_ip = 127.0.0.1\n\
                 bind_port = {port}\nworkers = 0\nuser = {user}\nswift_dir = {dir}\n\
                 log_facility = LOG_LOCAL0\n",
                devices = dir.join("devices").display(),
                dir = dir.display(),
            )
        };
        for (ring, server) in [
            ("account", "account"),
            ("container", "container"),
            ("object", "object"),
        ] {
            let port = free_port();
            let builder = dir.join(format!("{ring}.builder"));
            let ring_command = |args: &[&str]| {
                let output = Command::new("swift-ring-builder")
                    .arg(&builder)
                    .args(args)
                    .current_dir(&dir)
                    .output()
                    .unwrap_or_else(|e| panic!("{}", not_installed("swift-ring-builder", e)));
                // rebalance exits 1 with a warning on a one-device ring; the ring is written.
                assert!(
                    output.status.code().is_some_and(|c| c <= 1),
                    "swift-ring-builder {args:?} failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            };
            ring_command(&["create", "6", "1", "1"]);
            ring_command(&["add", &format!("r1z1-127.0.0.1:{port}/d1"), "1"]);
            ring_command(&["rebalance"]);
            std::fs::write(
                dir.join(format!("{server}-server.conf")),
                format!(
                    "{}[pipeline:main]\npipeline = {server}-server\n[app:{server}-server]\nuse = egg:swift#{server}\n",
                    common(port)
                ),
            )
            .expect("server config");
        }
        self.proxy_port = free_port();
        let proxy = format!(
            "{common}\
             [pipeline:main]\n\
             pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server\n\
             [app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\
             [filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = {KEY} .admin\ntoken_life = {life}\n\
             [filter:s3api]\nuse = egg:swift#s3api\n\
             [filter:catch_errors]\nuse = egg:swift#catch_errors\n\
             [filter:gatekeeper]\nuse = egg:swift#gatekeeper\n\
             [filter:healthcheck]\nuse = egg:swift#healthcheck\n\
             [filter:proxy-logging]\nuse = egg:swift#proxy_logging\n\
             [filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:{memcached}\n\
             [filter:listing_formats]\nuse = egg:swift#listing_formats\n\
             [filter:bulk]\nuse = egg:swift#bulk\n\
             [filter:copy]\nuse = egg:swift#copy\n\
             [filter:slo]\nuse = egg:swift#slo\n\
             [filter:dlo]\nuse = egg:swift#dlo\n",
            common = common(self.proxy_port),
            life = token_life.as_secs().max(1),
            memcached = self.memcached_port,
        );
        std::fs::write(dir.join("proxy-server.conf"), proxy).expect("proxy config");
    }

    fn spawn(&mut self, name: &'static str) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{name}.log")))
            .expect("server log");
        let mut command = if name == "memcached" {
            let mut command = Command::new("memcached");
            command.args([
                "-l",
                "127.0.0.1",
                "-p",
                &self.memcached_port.to_string(),
                "-U",
                "0",
                "-m",
                "16",
            ]);
            // memcached refuses to run as root without naming a user.
            command.args(["-u", &whoami()]);
            command
        } else {
            let mut command = Command::new(format!("swift-{name}-server"));
            command
                .arg(self.dir.join(format!("{name}-server.conf")))
                .arg("--verbose");
            command
        };
        let child = command
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{}", not_installed(name, e)));
        if let Some(watchdog) = self.watchdog_stdin.as_mut() {
            writeln!(watchdog, "{}", child.id()).expect("tell the watchdog");
        }
        self.servers.insert(name, child);
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let ready = self.native_token().and_then(|(url, token)| {
                let container = request(
                    "PUT",
                    &format!("{url}/harness-ready"),
                    &[("X-Auth-Token", &token)],
                    b"",
                )?;
                let object = request(
                    "PUT",
                    &format!("{url}/harness-ready/probe"),
                    &[("X-Auth-Token", &token)],
                    b"ok",
                )?;
                Some(container.status / 100 == 2 && object.status == 201)
            });
            if ready == Some(true) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "Swift did not become ready in {READY_TIMEOUT:?}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every server's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for name in ["memcached", "account", "container", "object", "proxy"] {
            let log =
                std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            text.push_str(&format!("--- {name} (last lines) ---\n"));
            for line in tail.into_iter().rev() {
                text.push_str(line);
                text.push('\n');
            }
        }
        text
    }

    /// `http://127.0.0.1:PORT`: the proxy (Swift and S3 APIs).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy_port)
    }

    /// The tempauth URL.
    pub fn auth_url(&self) -> String {
        format!("{}/auth/v1.0", self.endpoint())
    }

    /// A fresh native token: (storage URL, token), or None when the proxy is down.
    pub fn native_token(&self) -> Option<(String, String)> {
        let answer = request(
            "GET",
            &self.auth_url(),
            &[("X-Auth-User", USER), ("X-Auth-Key", KEY)],
            b"",
        )?;
        if answer.status != 200 {
            return None;
        }
        Some((
            answer.header("x-storage-url")?.to_owned(),
            answer.header("x-auth-token")?.to_owned(),
        ))
    }

    /// `[storage]` for arclamp on `container` (which is also the S3 bucket) under `prefix`.
    pub fn storage_toml(&self, api: Api, container: &str, prefix: &str) -> String {
        match api {
            Api::Swift => format!(
                "[storage]\nkind = \"swift\"\nprefix = \"{prefix}\"\ntimeout = \"5s\"\n\
                 [storage.swift]\nauth_url = \"{}\"\ncontainer = \"{container}\"\nuser = \"{USER}\"\nkey = \"{KEY}\"\n",
                self.auth_url()
            ),
            Api::S3 => format!(
                "[storage]\nkind = \"s3\"\nprefix = \"{prefix}\"\ntimeout = \"5s\"\n\
                 [storage.s3]\nendpoint = \"{}\"\nbucket = \"{container}\"\nregion = \"us-east-1\"\n\
                 access_key_id = \"{USER}\"\nsecret_access_key = \"{KEY}\"\n",
                self.endpoint()
            ),
        }
    }

    /// GET an object through the native API with a raw request: its bytes, or None if
    /// missing. Panics when Swift does not answer.
    pub fn get_object(&self, container: &str, name: &str) -> Option<Vec<u8>> {
        let answer = self.object_request("GET", container, name);
        match answer.status {
            200 => Some(answer.body),
            404 => None,
            status => panic!("GET {container}/{name}: HTTP {status}"),
        }
    }

    /// PUT an object (creating the container) through the native API.
    pub fn put_object(&self, container: &str, name: &str, body: &[u8]) {
        let created = self.authorized("PUT", container, b"");
        assert!(created.status / 100 == 2, "PUT {container}: {created:?}");
        let put = self.authorized("PUT", &format!("{container}/{name}"), body);
        assert_eq!(put.status, 201, "PUT {container}/{name}");
    }

    /// A native-API request on `path` (after the storage URL) with a valid token.
    /// Tempauth hands out the token it already has while it is valid, so with short
    /// token lives it can expire before the request lands: one 401 is retried with the
    /// next token. Panics when Swift does not answer.
    fn authorized(&self, method: &str, path: &str, body: &[u8]) -> Answer {
        let mut answer = None;
        for _ in 0..3 {
            let (url, token) = self.native_token().expect("Swift answers");
            let reply = request(
                method,
                &format!("{url}/{path}"),
                &[("X-Auth-Token", &token)],
                body,
            )
            .expect("Swift answers");
            if reply.status != 401 {
                return reply;
            }
            answer = Some(reply);
            std::thread::sleep(Duration::from_millis(200));
        }
        answer.expect("three attempts")
    }

    /// HEAD an object through the native API: status and headers (lowercase names).
    pub fn head_object(&self, container: &str, name: &str) -> Answer {
        self.object_request("HEAD", container, name)
    }

    fn object_request(&self, method: &str, container: &str, name: &str) -> Answer {
        self.authorized(method, &format!("{container}/{name}"), b"")
    }

    /// Names of the objects in `container` starting with `prefix` (every page).
    pub fn list_objects(&self, container: &str, prefix: &str) -> Vec<String> {
        let mut names = Vec::new();
        loop {
            let marker = names.last().cloned().unwrap_or_default();
            let answer = self.authorized(
                "GET",
                &format!("{container}?prefix={prefix}&marker={marker}&limit=1000"),
                b"",
            );
            if answer.status == 404 {
                return names;
            }
            assert!(answer.status / 100 == 2, "listing: HTTP {}", answer.status);
            let page: Vec<String> = String::from_utf8_lossy(&answer.body)
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            if page.is_empty() {
                return names;
            }
            names.extend(page);
        }
    }

    /// Kill a server like a crash (`proxy`, `memcached`, ...). Nothing happens if stopped.
    pub fn kill(&mut self, name: &'static str) {
        if let Some(mut child) = self.servers.remove(name) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start a killed server again on the same port, and wait until Swift works.
    pub fn restart(&mut self, name: &'static str) {
        self.kill(name);
        self.spawn(name);
        self.wait_ready();
    }
}

impl Drop for SwiftServer {
    fn drop(&mut self) {
        let names: Vec<&'static str> = self.servers.keys().copied().collect();
        for name in names {
            self.kill(name);
        }
        // Closing the pipe lets the watchdog finish (it has nothing left to kill).
        self.watchdog_stdin.take();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

fn whoami() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".into())
}

fn not_installed(what: &str, error: std::io::Error) -> String {
    format!(
        "cannot run {what} ({error}): the object-storage tests need OpenStack Swift and \
         memcached; install them with scripts/install-deps (Debian packages swift \
         swift-proxy swift-account swift-container swift-object memcached)"
    )
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: BTreeMap<String, String>,
    /// Body (empty for HEAD).
    pub body: Vec<u8>,
}

impl Answer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A raw HTTP/1.1 request to a loopback `http://127.0.0.1:PORT/...` URL; None when the
/// server does not answer.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Option<Answer> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port: u16 = authority.rsplit_once(':')?.1.parse().ok()?;
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        if path.is_empty() { "/" } else { path },
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = response[split + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body);
    }
    Some(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        let start = end + 2;
        if size == 0 || body.len() < start + size {
            break;
        }
        out.extend_from_slice(&body[start..start + size]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}

/// The directory of a shared or private instance (for tests that look at its files).
pub fn dir_of(server: &SwiftServer) -> &Path {
    &server.dir
}

#[test]
fn swift_serves_both_apis_and_its_processes_stop_on_drop() {
    let mut server = SwiftServer::start_with_token_life(Duration::from_secs(3600));
    let (url, token) = server.native_token().expect("tempauth answers");
    assert!(url.starts_with(&server.endpoint()));
    let put = request(
        "PUT",
        &format!("{url}/drop-test"),
        &[("X-Auth-Token", &token)],
        b"",
    )
    .expect("answer");
    assert!(put.status / 100 == 2, "{put:?}");
    let proxy_pid = server.servers["proxy"].id();
    let dir = dir_of(&server).to_path_buf();
    server.kill("proxy");
    assert!(server.native_token().is_none(), "a killed proxy answers");
    server.restart("proxy");
    assert!(server.native_token().is_some());
    let pids: Vec<u32> = server.servers.values().map(Child::id).collect();
    drop(server);
    for pid in pids.iter().chain([&proxy_pid]) {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "process {pid} still runs after drop"
        );
    }
    assert!(!dir.exists(), "the temporary directory is removed");
}
