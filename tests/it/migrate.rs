//! `arclamp migrate`: a store whose logs an earlier release wrote (gzip'd folded text) is
//! rewritten as packed traces, each one holding exactly the stacks and counts it held;
//! a second run changes nothing; a damaged log is reported and left alone; logs written
//! recently are left to the service; entry points' logs that their window's `all` log
//! holds are deleted (read from `all` from then on), one that differs is kept.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::arclamp::{binary, gzip, list, read_log};
use crate::to_store::fill;

/// Every window log under `data/logs/{period}`, by relative path.
fn logs(data: &Path) -> Vec<String> {
    ["hourly", "daily"]
        .iter()
        .flat_map(|period| {
            list(data, &format!("logs/{period}"))
                .into_iter()
                .filter(|name| name.ends_with(".log.gz"))
                .map(move |name| format!("logs/{period}/{name}"))
        })
        .collect()
}

fn migrate(dir: &Path, args: &[&str]) -> (bool, String, serde_json::Value) {
    let report = dir.join("migrate.json");
    let _ = std::fs::remove_file(&report);
    let output = Command::new(binary())
        .args(["migrate", "--config"])
        .arg(dir.join("arclamp.toml"))
        .args(args)
        .arg("--report")
        .arg(&report)
        .output()
        .expect("run arclamp migrate");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = std::fs::read(&report)
        .map(|bytes| serde_json::from_slice(&bytes).expect("report JSON"))
        .unwrap_or(serde_json::Value::Null);
    (output.status.success(), stderr, json)
}

#[test]
fn a_store_of_gzip_d_logs_is_migrated_to_packed_traces_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::write(
        dir.path().join("arclamp.toml"),
        format!(
            "[redis]\nchannels = [\"excimer\"]\n[storage]\npath = \"{}\"\n",
            data.display()
        ),
    )
    .unwrap();
    fill(
        dir.path(),
        &[
            "--days",
            "0.25",
            "--rate",
            "2",
            "--start",
            "2026-11-01",
            "--seed",
            "5",
            "--no-render",
        ],
    );
    // The store as an earlier release wrote it: every log gzip'd folded text, each entry
    // point's log stored beside `all`.
    for log in logs(&data) {
        let mut entries: BTreeMap<String, String> = BTreeMap::new();
        for (stack, n) in read_log(&data, &log) {
            if let Some(entry) = arclamp::ingest::sample::entry_point(stack.as_bytes()) {
                entries
                    .entry(entry.to_owned())
                    .or_default()
                    .push_str(&format!("{stack} {n}\n"));
            }
        }
        for (entry, mut text) in entries {
            let path = log.replace(".all.log.gz", &format!(".{entry}.log.gz"));
            if path == DIFFERS {
                // As an import of Arc Lamp files that did not agree.
                text.push_str("zzz;not_in_all 1\n");
            }
            std::fs::write(data.join(path), gzip(text)).unwrap();
        }
    }
    let mut expected: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for log in logs(&data) {
        let stacks = read_log(&data, &log);
        let text: String = stacks.iter().map(|(s, n)| format!("{s} {n}\n")).collect();
        std::fs::write(data.join(&log), gzip(text)).unwrap();
        expected.insert(log, stacks);
    }
    assert!(expected.len() >= 10, "{} logs", expected.len());
    assert!(expected.contains_key(DIFFERS));
    let all_logs = expected
        .keys()
        .filter(|l| l.ends_with(".all.log.gz"))
        .count();
    let entry_logs = expected.len() - all_logs;
    let damaged = "logs/daily/2026-11-01.excimer.api.log.gz";
    let good_api = std::fs::read(data.join(damaged)).unwrap();
    std::fs::write(data.join(damaged), &good_api[..good_api.len() / 2]).unwrap();

    // Just written: a running service may own them, so the default leaves them alone.
    let (ok, stderr, report) = migrate(dir.path(), &[]);
    assert!(ok, "{stderr}");
    assert_eq!(report["converted"], 0, "{stderr}");
    assert_eq!(report["too_recent"], expected.len(), "{stderr}");

    let (ok, stderr, report) = migrate(dir.path(), &["--min-age", "0s"]);
    assert!(!ok, "a damaged log fails the run: {stderr}");
    assert!(stderr.contains(damaged), "{stderr}");
    assert_eq!(report["converted"], expected.len() - 1, "{stderr}");
    assert!(report["bytes_after"].as_u64() < report["bytes_before"].as_u64());
    // Each sample stored once: entry points' logs equal to `all`'s lines are deleted.
    assert_eq!(report["entry_logs_derived"], entry_logs - 2, "{stderr}");
    assert_eq!(
        report["entry_logs_kept"].as_array().unwrap().len(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("1 differ from all (kept)"), "{stderr}");
    for (log, stacks) in &expected {
        let stored = std::fs::read(data.join(log));
        if log == damaged {
            assert_eq!(
                stored.unwrap(),
                &good_api[..good_api.len() / 2],
                "left as it was"
            );
            continue;
        }
        if log.ends_with(".all.log.gz") || log == DIFFERS {
            assert!(
                arclamp::store::packed::is_packed(&stored.unwrap()),
                "{log} packed"
            );
        } else {
            assert!(stored.is_err(), "{log} is read from all, not stored");
            let meta = log.replace(".log.gz", ".meta.json");
            assert!(data.join(meta).exists(), "{log} has its summary");
        }
        assert_eq!(
            &read_log(&data, log),
            stacks,
            "{log}: same stacks and counts"
        );
    }

    // Mended, then run again: only that log is left to convert; then nothing is.
    std::fs::write(data.join(damaged), &good_api).unwrap();
    let (ok, stderr, report) = migrate(dir.path(), &["--min-age", "0s"]);
    assert!(ok, "{stderr}");
    assert_eq!(report["converted"], 1);
    assert_eq!(report["already_packed"], all_logs + 1);
    assert_eq!(report["entry_logs_derived"], 1);
    assert!(!data.join(damaged).exists());
    assert_eq!(&read_log(&data, damaged), &expected[damaged]);
    let (ok, stderr, report) = migrate(dir.path(), &["--min-age", "0s"]);
    assert!(ok, "{stderr}");
    assert_eq!(report["converted"], 0);
    assert_eq!(report["already_packed"], all_logs + 1);
    assert_eq!(report["entry_logs_derived"], 0);
    assert_eq!(report["entry_logs_kept"].as_array().unwrap().len(), 1);
}

/// An entry point's log that does not hold what `all` holds for it.
const DIFFERS: &str = "logs/hourly/2026-11-01_01.excimer.index.log.gz";
