//! A private `redis-server` per test: started on a free loopback port, with persistence
//! off and its files in a temporary directory, killed when dropped.
//!
//! Tests never skip when `redis-server` is missing: they panic saying how to install it,
//! so a green run always means the Redis paths were exercised.
//!
//! ```ignore
//! let server = RedisServer::start_with_config(&["client-output-buffer-limit pubsub 1mb 0 0"]);
//! let client = redis::Client::open(server.url())?;
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a starting server may take to answer PING (a loaded CI machine is slow).
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Fresh ports to try when another process takes the one we picked before Redis binds it.
const PORT_ATTEMPTS: usize = 5;

/// A running (or deliberately stopped) `redis-server` owned by one test.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    directives: Vec<String>,
    /// Holds the config, the log and any dump; deleted on drop, after the process is gone.
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Start a server with the default test configuration.
    ///
    /// Panics (with the server log) if `redis-server` is not installed or does not come up.
    pub fn start() -> RedisServer {
        RedisServer::start_with_config(&[])
    }

    /// Start a server with extra `redis.conf` directives, one per item, e.g.
    /// `"client-output-buffer-limit pubsub 1mb 0 0"` or `"maxmemory 10mb"`. They are kept
    /// for [`RedisServer::restart`].
    pub fn start_with_config(directives: &[&str]) -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("arclamp-redis-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory for Redis: {e}"));
        let mut server = RedisServer {
            port: 0,
            directives: directives.iter().map(|d| d.to_string()).collect(),
            dir,
            child: None,
        };
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port();
            match server.spawn_and_wait() {
                Ok(()) => return server,
                // Lost the race for the port to another process: pick another one.
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("redis-server did not start:\n{log}"),
            }
        }
        panic!("redis-server found no free port in {PORT_ATTEMPTS} attempts")
    }

    /// The loopback port the server listens on; it stays the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`, for `arclamp --redis`, configs and `redis::Client::open`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Whether the server answers PING right now.
    pub fn ping(&self) -> bool {
        ping(self.port)
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kill the server (SIGKILL, like a crash: clients see their connections reset) and wait
    /// for it to exit. Data is lost, as persistence is off. Does nothing if already stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Errors mean it already exited, which is what we want.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop the server if running, then start a fresh, empty one on the same port with the
    /// same configuration, and wait until it answers PING.
    ///
    /// Panics if the port was taken by another process in between.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(log) = self.spawn_and_wait() {
            panic!("redis-server did not restart on port {}:\n{log}", self.port);
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Start the process and wait for PONG; on failure, kill it and return its log.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let config = self.dir.path().join("redis.conf");
        std::fs::write(&config, self.config_text())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", config.display()));
        // A previous attempt's log would be mistaken for this one's.
        let _ = std::fs::remove_file(self.log_path());
        let child = Command::new("redis-server")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| match e.kind() {
                ErrorKind::NotFound => panic!(
                    "redis-server is not installed (not on PATH); the integration tests need \
                     it: install it, e.g. `apt-get install redis-server` or `brew install redis`"
                ),
                _ => panic!("cannot run redis-server: {e}"),
            });
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if self.ping() {
                return Ok(());
            }
            // Still running is Ok(None); an error from try_wait counts as gone too.
            let exited = !matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)));
            if exited || Instant::now() > deadline {
                self.stop();
                return Err(format!(
                    "{} (port {}, log below)\n{}",
                    if exited {
                        "exited early"
                    } else {
                        "no PONG in time"
                    },
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn config_text(&self) -> String {
        let mut text = format!(
            "bind 127.0.0.1\nport {port}\ndaemonize no\nsave \"\"\nappendonly no\n\
             dir {dir}\nlogfile {log}\n",
            port = self.port,
            dir = self.dir.path().display(),
            log = self.log_path().display(),
        );
        for directive in &self.directives {
            text.push_str(directive);
            text.push('\n');
        }
        text
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nobody listens on right now (the OS picks it); it may be taken again before use,
/// which [`RedisServer::start_with_config`] handles by retrying.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("cannot find a free loopback port: {e}"))
}

/// Raw RESP PING, so readiness does not depend on a client library; a loading server
/// answers `-LOADING`, which is not ready.
fn ping(port: u16) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
        let mut reply = [0; 7];
        stream.read_exact(&mut reply)?;
        Ok(&reply == b"+PONG\r\n")
    };
    attempt().unwrap_or(false)
}

#[test]
fn serves_stops_and_restarts_on_the_same_port() {
    let mut server = RedisServer::start();
    let port = server.port();
    assert!(server.ping());
    assert_eq!(server.url(), format!("redis://127.0.0.1:{port}"));
    server.stop();
    assert!(!server.ping(), "stopped server still answers");
    server.restart();
    assert_eq!(server.port(), port);
    assert!(
        server.ping(),
        "restarted server does not answer:\n{}",
        server.log()
    );
}

#[test]
fn applies_extra_config_directives_and_keeps_them_across_restarts() {
    let mut server = RedisServer::start_with_config(&["client-output-buffer-limit pubsub 1mb 0 0"]);
    let pubsub_limit = |server: &RedisServer| -> String {
        let client = redis::Client::open(server.url()).expect("valid URL");
        let mut connection = client.get_connection().expect("connects");
        let config: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("client-output-buffer-limit")
            .query(&mut connection)
            .expect("CONFIG GET works");
        config.concat()
    };
    assert!(pubsub_limit(&server).contains("pubsub 1048576 0 0"));
    server.restart();
    assert!(pubsub_limit(&server).contains("pubsub 1048576 0 0"));
    assert!(server.log().contains("Ready to accept connections"));
}
