//! `arclamp import DIR`: an Arc Lamp data directory (names with and without a channel, plain
//! and gzip, unsorted one-line-per-sample files, bad lines, foreign files) into a store, with
//! exact counts, graphs, idempotent re-runs, windows that already hold the service's data,
//! changed sources and the window in progress.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::arclamp::{binary, gzip, list, read_log, read_svg};

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Run `arclamp import` on `source` into the store of `dir/arclamp.toml`; the report.
fn import(dir: &Path, source: &Path, extra: &[&str]) -> Value {
    let report = dir.join("import.json");
    let output = Command::new(binary())
        .arg("import")
        .arg(source)
        .arg("--config")
        .arg(dir.join("arclamp.toml"))
        .arg("--report")
        .arg(&report)
        .args(extra)
        .output()
        .expect("run arclamp import");
    assert!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap()
}

fn counts(pairs: &[(&str, u64)]) -> std::collections::BTreeMap<String, u64> {
    pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

#[test]
fn an_arc_lamp_directory_imports_once_with_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::write(
        dir.path().join("arclamp.toml"),
        format!(
            "[storage]\npath = \"{}\"\n[render]\nmin_width = 0.0\n",
            data.display()
        ),
    )
    .unwrap();
    let old = dir.path().join("arclamp-host");
    let logs = old.join("logs");
    // One line per sample, unsorted, two bad lines (no count, count 0), CRLF on one line.
    write(
        &logs.join("hourly/2026-11-01_10.excimer.index.log"),
        b"/srv/w/index.php;B::b 1\n/srv/w/index.php;A::a 1\nno count\n\
          /srv/w/index.php;B::b 1\r\n/srv/w/index.php;A::a 0\n/srv/w/index.php;B::b 2\n",
    );
    // The same window without a channel in the name (the default channel), gzip'd: summed.
    write(
        &logs.join("hourly/2026-11-01_10.index.log.gz"),
        &gzip("/srv/w/index.php;A::a 3\n;\n"),
    );
    write(
        &logs.join("hourly/2026-11-01_10.excimer-wall.all.log"),
        b"/srv/w/api.php;Api::run 4\n",
    );
    write(
        &logs.join("daily/2026-11-01.excimer.all.log"),
        b"/srv/w/index.php;B::b 4\n/srv/w/index.php;A::a 4\n/srv/w/api.php;Api::run 4\n",
    );
    // Entry points' files of that day, as Arc Lamp kept them beside `all`: api's holds
    // exactly all's api lines (stored once: read from all), index's does not (kept).
    write(
        &logs.join("daily/2026-11-01.excimer.api.log"),
        b"/srv/w/api.php;Api::run 4\n",
    );
    write(
        &logs.join("daily/2026-11-01.excimer.index.log"),
        b"/srv/w/index.php;A::a 4\n",
    );
    write(&logs.join("hourly/README.txt"), b"not a log\n");
    write(&logs.join("weekly/2026-44.excimer.all.log"), b"x 1\n");

    let first = import(dir.path(), &old, &[]);
    assert_eq!(first["files"], 7, "{first}");
    assert_eq!(first["imported"], 6, "{first}");
    assert_eq!(first["already_imported"], 0);
    assert_eq!(first["skipped"]["unrecognized_name"], 1);
    assert_eq!(first["skipped"]["unknown_period"], 1);
    assert_eq!(first["lines"]["lines"], 6 + 2 + 1 + 3 + 1 + 1);
    assert_eq!(first["lines"]["samples"], 5 + 3 + 4 + 12 + 4 + 4);
    assert_eq!(
        first["lines"]["rejected"]["no_count"], 2,
        "'no count' and ';'"
    );
    assert_eq!(first["lines"]["rejected"]["bad_count"], 1);
    assert_eq!(first["logs_written"], 5);
    assert_eq!(first["entry_logs_stored_once"], 1, "{first}");
    assert_eq!(
        first["entry_logs_differ"].as_array().unwrap().len(),
        1,
        "{first}"
    );
    assert!(!data
        .join("logs/daily/2026-11-01.excimer.api.log.gz")
        .exists());
    assert_eq!(
        read_log(&data, "logs/daily/2026-11-01.excimer.api.log.gz"),
        counts(&[("/srv/w/api.php;Api::run", 4)])
    );
    assert_eq!(
        read_log(&data, "logs/daily/2026-11-01.excimer.index.log.gz"),
        counts(&[("/srv/w/index.php;A::a", 4)]),
        "an entry point's file that differs from all is kept as imported"
    );
    // `all`'s two graphs per window; an entry point's are drawn when asked for.
    assert_eq!(first["graphs"], 4);

    let index = read_log(&data, "logs/hourly/2026-11-01_10.excimer.index.log.gz");
    assert_eq!(
        index,
        counts(&[("/srv/w/index.php;A::a", 4), ("/srv/w/index.php;B::b", 4)])
    );
    assert_eq!(
        read_log(&data, "logs/hourly/2026-11-01_10.excimer-wall.all.log.gz"),
        counts(&[("/srv/w/api.php;Api::run", 4)])
    );
    assert_eq!(
        read_log(&data, "logs/daily/2026-11-01.excimer.all.log.gz")
            .values()
            .sum::<u64>(),
        12
    );
    let svg = read_svg(&data, "svgs/daily/2026-11-01.excimer.all.svgz");
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(data
        .join("svgs/daily/2026-11-01.excimer.all.reversed.svgz")
        .exists());
    assert!(!data
        .join("svgs/hourly/2026-11-01_10.excimer.index.svgz")
        .exists());

    // Twice: nothing is added, nothing is rewritten.
    let before =
        std::fs::read(data.join("logs/hourly/2026-11-01_10.excimer.index.log.gz")).unwrap();
    let second = import(dir.path(), &old, &[]);
    assert_eq!(second["imported"], 0, "{second}");
    assert_eq!(second["already_imported"], 6);
    assert_eq!(second["logs_written"], 0);
    assert_eq!(second["lines"]["samples"], 0);
    let after = std::fs::read(data.join("logs/hourly/2026-11-01_10.excimer.index.log.gz")).unwrap();
    assert_eq!(before, after);

    // A source that changed after its import is not merged again.
    write(
        &logs.join("hourly/2026-11-01_10.excimer-wall.all.log"),
        b"/srv/w/api.php;Api::run 4\n/srv/w/api.php;Api::run 1\n",
    );
    let changed = import(dir.path(), &old, &[]);
    assert_eq!(changed["skipped"]["changed_since_import"], 1, "{changed}");
    assert_eq!(
        read_log(&data, "logs/hourly/2026-11-01_10.excimer-wall.all.log.gz"),
        counts(&[("/srv/w/api.php;Api::run", 4)])
    );
}

#[test]
fn windows_holding_service_data_are_kept_unless_told_and_never_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::write(
        dir.path().join("arclamp.toml"),
        format!("[storage]\npath = \"{}\"\n", data.display()),
    )
    .unwrap();
    // The service already wrote this window (it ran beside the old host for a while).
    write(
        &data.join("logs/hourly/2026-11-01_11.excimer.all.log.gz"),
        &gzip("/srv/w/index.php;Live::x 7\n"),
    );
    let old = dir.path().join("old");
    write(
        &old.join("logs/hourly/2026-11-01_11.excimer.all.log"),
        b"/srv/w/index.php;Old::y 2\n/srv/w/index.php;Live::x 1\n",
    );
    // The hour in progress belongs to the running service.
    let now = chrono::Utc::now().format("%Y-%m-%d_%H").to_string();
    write(
        &old.join(format!("logs/hourly/{now}.excimer.all.log")),
        b"/srv/w/index.php;Now::z 1\n",
    );

    let skipped = import(dir.path(), &old, &["--no-render"]);
    assert_eq!(skipped["skipped"]["existing_data"], 1, "{skipped}");
    assert_eq!(skipped["skipped"]["current_window"], 1);
    assert_eq!(skipped["imported"], 0);
    assert_eq!(
        read_log(&data, "logs/hourly/2026-11-01_11.excimer.all.log.gz"),
        counts(&[("/srv/w/index.php;Live::x", 7)])
    );
    assert!(!data
        .join(format!("logs/hourly/{now}.excimer.all.log.gz"))
        .exists());

    let merged = import(dir.path(), &old, &["--no-render", "--on-existing", "merge"]);
    assert_eq!(merged["imported"], 1, "{merged}");
    let expected = counts(&[
        ("/srv/w/index.php;Live::x", 8),
        ("/srv/w/index.php;Old::y", 2),
    ]);
    assert_eq!(
        read_log(&data, "logs/hourly/2026-11-01_11.excimer.all.log.gz"),
        expected
    );
    // Merging again finds the source in the manifest: still 8 and 2.
    let again = import(dir.path(), &old, &["--no-render", "--on-existing", "merge"]);
    assert_eq!(again["already_imported"], 1, "{again}");
    assert_eq!(
        read_log(&data, "logs/hourly/2026-11-01_11.excimer.all.log.gz"),
        expected
    );
    assert_eq!(
        list(&data, "imports/hourly"),
        ["2026-11-01_11.excimer.all.json"]
    );

    // --include-current imports the hour in progress (the service is not running here).
    let current = import(dir.path(), &old, &["--no-render", "--include-current"]);
    assert_eq!(current["imported"], 1, "{current}");
    assert_eq!(
        read_log(&data, &format!("logs/hourly/{now}.excimer.all.log.gz")),
        counts(&[("/srv/w/index.php;Now::z", 1)])
    );
}
