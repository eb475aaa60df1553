//! A real headless Chromium driven over WebDriver, for tests that look at pages the way a
//! user does. [`Browser::start`] starts Debian's `chromedriver` on a free loopback port
//! with a fresh profile, opens a session, and stops both when dropped (also when the test
//! fails). The methods are synchronous wrappers over `fantoccini` so tests stay plain.

use std::future::Future;
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;

use crate::arclamp::free_port;

/// Chromium flags for a quiet, isolated, headless run.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
];

/// A headless Chromium session.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// Where screenshots go: `target/test-artifacts/` (of the target dir in use).
pub fn artifacts_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp
        .parent()
        .map_or_else(|| tmp.clone(), |target| target.to_path_buf())
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create test-artifacts");
    dir
}

impl Browser {
    /// Start chromedriver and a Chromium session (installed by scripts/install-deps).
    pub fn start() -> Browser {
        let port = free_port();
        let profile = tempfile::Builder::new()
            .prefix("arclamp-chromium-")
            .tempdir()
            .expect("profile dir");
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so Drop can stop Chromium's processes with it.
            .process_group(0)
            .spawn()
            .expect("start chromedriver (Debian package chromium-driver; scripts/install-deps installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), "chrome".into());
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
        );
        let mut browser = Browser {
            runtime,
            client: None,
            driver,
            _profile: profile,
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = browser
            .runtime
            .block_on(
                ClientBuilder::new(connector)
                    .capabilities(capabilities)
                    .connect(&format!("http://127.0.0.1:{port}")),
            )
            .expect("open a Chromium session");
        browser.client = Some(client);
        browser
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("session open")
    }

    /// Run a WebDriver future to completion.
    pub fn run<T>(&self, future: impl Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    /// Open `url` and wait for it to load.
    pub fn goto(&self, url: &str) {
        self.run(self.client().goto(url))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.run(self.client().current_url())
            .expect("current URL")
            .to_string()
    }

    /// Click the first element matching `css`.
    pub fn click(&self, css: &str) {
        let client = self.client();
        self.run(async { client.find(Locator::Css(css)).await?.click().await })
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Run `script` (a function body; `return` its value) in the current frame.
    pub fn eval(&self, script: &str) -> Value {
        self.run(self.client().execute(script, Vec::new()))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Poll `script` until it returns `true`.
    pub fn wait_for(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.eval(script) != Value::Bool(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Switch into the page's `index`th frame (`iframe`).
    pub fn enter_frame(&self, index: u16) {
        self.run(self.client().enter_frame(index))
            .expect("enter frame");
    }

    /// Switch back to the enclosing page.
    pub fn leave_frame(&self) {
        self.run(self.client().enter_parent_frame())
            .expect("leave frame");
    }

    /// The text of the open `prompt()`/`alert()`, if one is open.
    pub fn dialog_text(&self) -> Option<String> {
        self.run(self.client().get_alert_text()).ok()
    }

    /// Answer the open `prompt()` with `text` and accept it.
    pub fn answer_prompt(&self, text: &str) {
        let client = self.client();
        self.run(async {
            client.send_alert_text(text).await?;
            client.accept_alert().await
        })
        .expect("answer the prompt");
    }

    /// Save a PNG screenshot as `target/test-artifacts/{name}.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.run(self.client().screenshot()).expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        let path = artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), client.close()).await
            });
        }
        // SAFETY: signals our own child's process group (chromedriver and the Chromium it
        // started); no memory is shared.
        unsafe {
            libc::kill(-(self.driver.id() as i32), libc::SIGKILL);
        }
        let _ = self.driver.wait();
    }
}
