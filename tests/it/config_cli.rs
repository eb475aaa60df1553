//! `arclamp check-config` and `arclamp serve` facing bad configs: errors name the key and
//! the process exits non-zero before doing anything.

use std::path::Path;
use std::process::{Command, Output};

use crate::arclamp::binary;

/// Run `arclamp SUBCOMMAND --config FILE`, FILE holding `config(dir)` (`dir`: a scratch
/// directory for the paths a config names, removed afterwards), with `env` set.
fn run_with_config(
    subcommand: &str,
    config: impl FnOnce(&Path) -> String,
    env: &[(&str, &str)],
) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("arclamp.toml");
    std::fs::write(&path, config(dir.path())).expect("write");
    let mut command = Command::new(binary());
    command.arg(subcommand).arg("--config").arg(&path);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run arclamp")
}

/// `arclamp check-config` on `config`: (success, stdout, stderr).
fn check(config: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let output = run_with_config("check-config", |_| config.to_owned(), env);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_shipped_config_checks_and_prints_every_section() {
    let output = Command::new(binary())
        .args([
            "check-config",
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/arclamp.toml"),
        ])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    for section in [
        "[redis]",
        "[storage]",
        "[periods.hourly]",
        "[periods.daily]",
        "[aggregation]",
        "[render]",
        "[retention]",
        "[supervisor]",
        "[service]",
    ] {
        assert!(
            printed.contains(section),
            "missing {section} in:\n{printed}"
        );
    }
    assert!(printed.contains("retain = 336") && printed.contains("retain = 730"));
}

#[test]
fn environment_variables_override_the_file() {
    let (ok, printed, stderr) = check(
        "[redis]\nurl = \"redis://127.0.0.1:6379\"\n",
        &[
            ("ARCLAMP__REDIS__URL", "redis://ops:hunter2@10.1.2.3:6380"),
            ("ARCLAMP__REDIS__CHANNELS", "excimer,excimer-wall"),
            ("ARCLAMP__PERIODS__HOURLY__RETAIN", "48"),
            ("ARCLAMP__AGGREGATION__FLUSH_INTERVAL", "5s"),
        ],
    );
    assert!(ok, "{stderr}");
    assert!(
        printed.contains("redis://ops:***@10.1.2.3:6380"),
        "{printed}"
    );
    assert!(
        !printed.contains("hunter2"),
        "the password must never be printed"
    );
    assert!(
        printed.contains("channels = [\"excimer\", \"excimer-wall\"]"),
        "{printed}"
    );
    assert!(printed.contains("retain = 48"), "{printed}");
    assert!(printed.contains("flush_interval = \"5s\""), "{printed}");
}

#[test]
fn bad_configs_fail_with_the_key_named() {
    let cases = [
        ("[redis]\nchannels = [\"../etc\"]\n", "redis.channels[0]"),
        (
            "[aggregation]\nflush_intervall = \"1s\"\n",
            "flush_intervall",
        ),
        ("[aggregation]\nmax_depth = \"deep\"\n", "max_depth"),
        (
            "[periods.hourly]\nformat = \"%H\"\n",
            "periods.hourly.format",
        ),
        ("[render]\nmin_width = -1.0\n", "render.min_width"),
        ("not toml at all [", "arclamp.toml"),
    ];
    for (config, key) in cases {
        let (ok, _, stderr) = check(config, &[]);
        assert!(!ok, "{config:?} should be refused");
        assert!(
            stderr.contains(key),
            "{config:?}: the error should name {key}, got: {stderr}"
        );
    }
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let output = Command::new(binary())
        .args(["serve", "--config", "/nonexistent/arclamp.toml"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/arclamp.toml"), "{stderr}");
}

#[test]
fn serve_refuses_an_invalid_config_before_starting() {
    let output = run_with_config(
        "serve",
        |_| "[supervisor]\nbackoff_min = \"10s\"\nbackoff_max = \"1s\"\n".to_owned(),
        &[],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("supervisor.backoff_max"));
}

#[test]
fn object_storage_is_configured_from_the_environment_with_secrets_redacted() {
    let (ok, printed, stderr) = check(
        "[storage]\nkind = \"swift\"\n[storage.swift]\ncontainer = \"arclamp\"\n",
        &[
            (
                "ARCLAMP__STORAGE__SWIFT__AUTH_URL",
                "https://swift.example.org/auth/v1.0",
            ),
            ("ARCLAMP__STORAGE__SWIFT__USER", "mw:arclamp"),
            ("ARCLAMP__STORAGE__SWIFT__KEY", "Sw1ftS3cretKey"),
            ("ARCLAMP__STORAGE__PREFIX", "arclamp/"),
            ("ARCLAMP__STORAGE__S3__SECRET_ACCESS_KEY", "AlsoS3cretForS3"),
        ],
    );
    assert!(ok, "{stderr}");
    assert!(printed.contains("kind = \"swift\""), "{printed}");
    assert!(printed.contains("prefix = \"arclamp/\""), "{printed}");
    assert!(printed.contains("user = \"mw:arclamp\""), "{printed}");
    assert!(printed.contains("key = \"***\""), "{printed}");
    assert!(
        !printed.contains("Sw1ftS3cretKey") && !printed.contains("AlsoS3cretForS3"),
        "secrets must never be printed: {printed}"
    );
    let (ok, _, stderr) = check(
        "[storage]\nkind = \"s3\"\n[storage.s3]\nbucket = \"b\"\n",
        &[],
    );
    assert!(!ok);
    assert!(stderr.contains("storage.s3.access_key_id"), "{stderr}");
}

#[test]
fn serve_exits_with_a_clear_error_when_its_http_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let output = run_with_config(
        "serve",
        |dir| {
            format!(
                "[redis]\nurl = \"redis://127.0.0.1:1\"\n[storage]\npath = \"{}\"\n\
                 [http]\nlisten = \"127.0.0.1:{port}\"\n",
                dir.join("data").display()
            )
        },
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port} (http.listen)")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
