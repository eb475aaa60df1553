//! `arclamp publish --to-store`: simulated days written straight into a store, with exact
//! sample counts per window, graphs for every log, the same store on a re-run, and the
//! service's retention pruning what it filled.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::arclamp::{
    binary, config_text, free_port, list, log_exists, log_total, read_svg, wait_until, Arclamp,
};
use crate::redis_server::RedisServer;

const ENTRIES: [&str; 6] = ["all", "index", "api", "load", "rest", "RunJobs"];

/// Two simulated days at 0.1 samples/s from 2026-11-01, seed 3.
const TWO_DAYS: [&str; 8] = [
    "--days",
    "2",
    "--rate",
    "0.1",
    "--start",
    "2026-11-01",
    "--seed",
    "3",
];

/// Run `arclamp publish --to-store` with `args` on the config in `dir`; the `--expect` report.
pub fn fill(dir: &Path, args: &[&str]) -> Value {
    let report = dir.join("fill.json");
    let output = Command::new(binary())
        .args(["publish", "--to-store", "--config"])
        .arg(dir.join("arclamp.toml"))
        .args(args)
        .arg("--expect")
        .arg(&report)
        .output()
        .expect("run arclamp publish --to-store");
    assert!(
        output.status.success(),
        "publish --to-store failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("report JSON")
}

#[test]
fn two_simulated_days_give_exact_hourly_and_daily_windows_with_graphs() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    // Wide frames only (min_width 50 px): small graphs render fast, and their count and
    // validity is what this test checks.
    let extra =
        "[redis]\nurl = \"redis://127.0.0.1:6379\"\nchannels = [\"excimer\", \"excimer-wall\"]\n\
                 [render]\nworkers = 1\nmin_width = 50.0\n";
    std::fs::write(
        dir.path().join("arclamp.toml"),
        config_text(&redis, dir.path(), free_port(), extra),
    )
    .expect("config");
    let report = fill(dir.path(), &TWO_DAYS);
    let data = dir.path().join("data");

    // 0.1 samples/s: exactly 360 per hour and 8,640 per day, per channel.
    for channel in ["excimer", "excimer-wall"] {
        assert_eq!(report["samples"][channel]["all"], 17_280, "{report}");
        for day in ["2026-11-01", "2026-11-02"] {
            let daily = |entry: &str| {
                let path = format!("logs/daily/{day}.{channel}.{entry}.log.gz");
                if log_exists(&data, &path) {
                    log_total(&data, &path)
                } else {
                    0
                }
            };
            assert_eq!(daily("all"), 8_640, "{day} {channel}");
            let parts: u64 = ENTRIES[1..].iter().map(|e| daily(e)).sum();
            assert_eq!(parts, 8_640, "entry points partition all on {day}");
            for hour in 0..24 {
                let path = format!("logs/hourly/{day}_{hour:02}.{channel}.all.log.gz");
                assert_eq!(log_total(&data, &path), 360, "{path}");
            }
        }
        let index: u64 = ["2026-11-01", "2026-11-02"]
            .iter()
            .map(|day| log_total(&data, &format!("logs/daily/{day}.{channel}.index.log.gz")))
            .sum();
        assert_eq!(report["samples"][channel]["index"], index);
    }
    let logs_in = |period: &str| -> Vec<String> {
        list(&data, &format!("logs/{period}"))
            .into_iter()
            .filter(|n| n.ends_with(".log.gz"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let hourly = logs_in("hourly");
    let daily = logs_in("daily");
    // Each sample is stored once: only `all` logs are stored, entry points' are read from them.
    for log in hourly.iter().chain(&daily) {
        assert!(log.ends_with(".all.log.gz"), "{log} stored");
    }
    // A range summary is kept only where it is smaller than the log it stands for (at
    // this rate nothing is pruned, so none is).
    for period in ["hourly", "daily"] {
        for name in list(&data, &format!("logs/{period}")) {
            let Some(stem) = name.strip_suffix(".range.gz") else {
                continue;
            };
            let size = |name: &str| {
                std::fs::metadata(data.join(format!("logs/{period}/{name}"))).map(|m| m.len())
            };
            if let Ok(log) = size(&format!("{stem}.log.gz")) {
                assert!(
                    size(&name).unwrap() < log,
                    "{name} is not smaller than its log"
                );
            }
        }
    }
    assert_eq!(
        hourly.iter().filter(|n| n.ends_with(".all.log.gz")).count(),
        2 * 48
    );
    assert_eq!(report["logs"], (hourly.len() + daily.len()) as u64);
    assert_eq!(report["windows"], 2 * (48 + 2));

    // Every log has its forward and reversed graph, valid SVG.
    let svgs = [list(&data, "svgs/hourly"), list(&data, "svgs/daily")].concat();
    assert_eq!(svgs.len(), 2 * (hourly.len() + daily.len()));
    assert_eq!(report["graphs"], svgs.len() as u64);
    let svg = read_svg(
        &data,
        "svgs/daily/2026-11-02.excimer-wall.all.reversed.svgz",
    );
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
    assert!(
        svg.contains("MediaWiki - daily - 2026-11-02 - reversed"),
        "title"
    );

    // Companions (summaries of `all` and of entry points) whose window's `all` log is gone.
    let orphans = |period: &str| -> Vec<String> {
        let names = list(&data, &format!("logs/{period}"));
        names
            .iter()
            .filter(|name| {
                let mut parts = name.splitn(3, '.');
                let (window, channel) = (parts.next().unwrap(), parts.next().unwrap());
                !names.contains(&format!("{window}.{channel}.all.log.gz"))
            })
            .cloned()
            .collect()
    };
    // The service's retention prunes the filled store to its limits at start.
    let mut arclamp = Arclamp::start_in(
        dir.path(),
        &redis,
        "[periods.hourly]\nretain = 5\n[periods.daily]\nretain = 1\n[retention]\ninterval = \"1h\"\n\
         [render]\nworkers = 1\nmin_width = 50.0\n",
    );
    // Logs go first, then what belongs to them: wait for the whole pass.
    wait_until("retention to prune", Duration::from_secs(30), || {
        list(&data, "logs/hourly")
            .iter()
            .filter(|n| n.ends_with(".excimer.all.log.gz"))
            .count()
            == 5
            && orphans("hourly").is_empty()
            && orphans("daily").is_empty()
    });
    assert!(arclamp.stop(Duration::from_secs(30)).success());
    let kept: Vec<String> = list(&data, "logs/hourly")
        .into_iter()
        .filter(|n| n.ends_with(".excimer.all.log.gz"))
        .collect();
    assert_eq!(
        kept,
        (19..24)
            .map(|h| format!("2026-11-02_{h}.excimer.all.log.gz"))
            .collect::<Vec<_>>()
    );
    let daily: Vec<String> = list(&data, "logs/daily")
        .into_iter()
        .filter(|n| n.ends_with(".excimer.all.log.gz"))
        .collect();
    assert_eq!(daily, ["2026-11-02.excimer.all.log.gz"]);
    // Summaries went with their logs: none is left without its window's `all` log.
    assert_eq!(orphans("hourly"), Vec::<String>::new());
    assert_eq!(orphans("daily"), Vec::<String>::new());
    assert!(list(&data, "logs/hourly").len() < 2 * hourly.len());

    // A re-run replaces the windows (also those retention deleted): byte-identical logs,
    // not doubled counts.
    let before = std::fs::read(data.join("logs/daily/2026-11-02.excimer.all.log.gz")).unwrap();
    fill(dir.path(), &[&TWO_DAYS[..], &["--no-render"]].concat());
    let after = std::fs::read(data.join("logs/daily/2026-11-02.excimer.all.log.gz")).unwrap();
    assert_eq!(before, after);
}

/// A directory with a config for a local store of channel `excimer` (no Redis: `--to-store`
/// never connects), plus `periods`; and the store's data directory.
fn store_of_one_channel(periods: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::write(
        dir.path().join("arclamp.toml"),
        format!(
            "[redis]\nurl = \"redis://127.0.0.1:1\"\nchannels = [\"excimer\"]\n\
             [storage]\npath = \"{}\"\n{periods}",
            data.display()
        ),
    )
    .expect("config");
    (dir, data)
}

#[test]
fn windows_retention_would_delete_by_the_end_are_not_written() {
    // Two days under a config that keeps 5 hourly windows and 1 daily one: the store holds
    // what the service would keep after its first retention pass, each window exact.
    let (dir, data) =
        store_of_one_channel("[periods.hourly]\nretain = 5\n[periods.daily]\nretain = 1\n");
    let report = fill(dir.path(), &[&TWO_DAYS[..], &["--no-render"]].concat());

    let stored = |period: &str| -> Vec<String> {
        list(&data, &format!("logs/{period}"))
            .into_iter()
            .filter(|n| n.ends_with(".all.log.gz"))
            .collect()
    };
    assert_eq!(
        stored("hourly"),
        (19..24)
            .map(|h| format!("2026-11-02_{h}.excimer.all.log.gz"))
            .collect::<Vec<_>>()
    );
    assert_eq!(stored("daily"), ["2026-11-02.excimer.all.log.gz"]);
    for hour in 19..24 {
        let path = format!("logs/hourly/2026-11-02_{hour}.excimer.all.log.gz");
        assert_eq!(log_total(&data, &path), 360, "{path}");
    }
    assert_eq!(
        log_total(&data, "logs/daily/2026-11-02.excimer.all.log.gz"),
        8_640
    );
    assert_eq!(report["windows"], 5 + 1, "{report}");
    assert_eq!(report["pruned_windows"], 43 + 1, "{report}");
    // Every sample of the two days was drawn, as the service would have received them.
    assert_eq!(report["samples"]["excimer"]["all"], 17_280, "{report}");

    // The kept windows are those a store filled whole holds after retention: the same
    // samples (the generator's sequence does not depend on what is written).
    let (whole, whole_data) = store_of_one_channel("");
    fill(whole.path(), &[&TWO_DAYS[..], &["--no-render"]].concat());
    for path in [
        "logs/daily/2026-11-02.excimer.all.log.gz",
        "logs/hourly/2026-11-02_19.excimer.all.log.gz",
        "logs/hourly/2026-11-02_23.excimer.all.log.gz",
    ] {
        assert_eq!(
            std::fs::read(data.join(path)).expect("kept log"),
            std::fs::read(whole_data.join(path)).expect("log"),
            "{path}"
        );
    }
}

#[test]
fn bad_arguments_are_refused_with_a_clear_message() {
    let output = Command::new(binary())
        .args(["publish", "--to-store", "--days", "1"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--rate"));
    let output = Command::new(binary())
        .args([
            "publish",
            "--to-store",
            "--days",
            "1",
            "--rate",
            "1",
            "--start",
            "yesterday",
        ])
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("neither a date"));
}
