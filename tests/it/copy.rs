//! `arclamp copy --from CONFIG --to CONFIG`: every object copied and verified, a re-run
//! copies nothing, a damaged destination object is copied again.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::arclamp::binary;
use crate::to_store::fill;

fn copy(from: &Path, to: &Path, report: &Path) -> (bool, Value, String) {
    let output = Command::new(binary())
        .args(["copy", "--from"])
        .arg(from)
        .arg("--to")
        .arg(to)
        .arg("--report")
        .arg(report)
        .output()
        .expect("run arclamp copy");
    let value = std::fs::read(report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    (
        output.status.success(),
        value,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every file under `root`, relative, sorted.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

/// A local store in `source/data` (config `source/arclamp.toml`) filled with `days` of
/// simulated traffic from 2026-10-01: the fill report and the files written.
fn filled_local_store(source: &Path, days: &str) -> (Value, Vec<PathBuf>) {
    std::fs::create_dir_all(source).unwrap();
    std::fs::write(
        source.join("arclamp.toml"),
        format!(
            "[storage]\npath = \"{}\"\n[render]\nmin_width = 50.0\n",
            source.join("data").display()
        ),
    )
    .unwrap();
    let filled = fill(
        source,
        &["--days", days, "--rate", "0.05", "--start", "2026-10-01"],
    );
    (filled, files(&source.join("data")))
}

#[test]
fn a_local_store_copies_to_another_verified_and_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let (source, target) = (dir.path().join("source"), dir.path().join("target"));
    let to = dir.path().join("to.toml");
    std::fs::write(&to, format!("[storage]\npath = \"{}\"\n", target.display())).unwrap();
    let (filled, objects) = filled_local_store(&source, "1");
    // Each `all` log, its summaries and its two graphs, each entry point's summaries; the
    // roll-ups.
    assert!(
        objects.len() as u64
            > filled["logs"].as_u64().unwrap() * 4 + filled["rollups"].as_u64().unwrap()
    );

    let report = dir.path().join("copy.json");
    let (ok, first, stderr) = copy(&source.join("arclamp.toml"), &to, &report);
    assert!(ok, "{stderr}");
    assert_eq!(first["objects"], objects.len() as u64, "{first}");
    assert_eq!(first["copied"], objects.len() as u64);
    assert_eq!(first["already_present"], 0);
    assert_eq!(first["logs_verified"], filled["logs"]);
    // Every sample is in the hourly and in the daily `all` logs (entry points' logs are
    // read from them, not stored).
    assert_eq!(
        first["samples_verified"],
        2 * filled["samples"]["excimer"]["all"].as_u64().unwrap()
    );
    assert_eq!(files(&target), objects);
    for object in &objects {
        assert_eq!(
            std::fs::read(source.join("data").join(object)).unwrap(),
            std::fs::read(target.join(object)).unwrap(),
            "{}",
            object.display()
        );
    }

    // Again: nothing to copy.
    let (ok, second, stderr) = copy(&source.join("arclamp.toml"), &to, &report);
    assert!(ok, "{stderr}");
    assert_eq!(second["copied"], 0, "{second}");
    assert_eq!(second["already_present"], objects.len() as u64);

    // A truncated destination log is copied again.
    let damaged = target.join("logs/daily/2026-10-01.excimer.all.log.gz");
    let bytes = std::fs::read(&damaged).unwrap();
    std::fs::write(&damaged, &bytes[..bytes.len() / 2]).unwrap();
    let (ok, third, stderr) = copy(&source.join("arclamp.toml"), &to, &report);
    assert!(ok, "{stderr}");
    assert_eq!(third["copied"], 1, "{third}");
    assert_eq!(std::fs::read(&damaged).unwrap(), bytes);

    // Copying a store onto itself is refused.
    let (ok, _, stderr) = copy(&to, &to, &report);
    assert!(!ok);
    assert!(stderr.contains("same store"), "{stderr}");
}

#[test]
fn a_local_store_copies_to_swift_and_back_through_the_s3_api() {
    use crate::swift_server::{unique_container, Api, SwiftServer};
    let server = SwiftServer::shared();
    let container = unique_container("copy");
    let dir = tempfile::tempdir().unwrap();
    let (source, back) = (dir.path().join("source"), dir.path().join("back"));
    let (_, objects) = filled_local_store(&source, "0.25");
    let swift = dir.path().join("swift.toml");
    std::fs::write(
        &swift,
        server.storage_toml(Api::Swift, &container, "arclamp"),
    )
    .unwrap();
    let report = dir.path().join("copy.json");

    // Local disk -> Swift (native API), verified, then nothing left to copy.
    let (ok, first, stderr) = copy(&source.join("arclamp.toml"), &swift, &report);
    assert!(ok, "{stderr}");
    assert_eq!(first["copied"], objects.len() as u64, "{first}");
    assert_eq!(first["mismatches"], serde_json::json!([]));
    let mut stored = server.list_objects(&container, "arclamp/");
    stored.sort();
    let expected: Vec<String> = objects
        .iter()
        .map(|p| format!("arclamp/{}", p.display()))
        .collect();
    assert_eq!(stored, expected);
    let log = "logs/daily/2026-10-01.excimer.all.log.gz";
    assert_eq!(
        server.get_object(&container, &format!("arclamp/{log}")),
        Some(std::fs::read(source.join("data").join(log)).unwrap())
    );
    let (ok, second, stderr) = copy(&source.join("arclamp.toml"), &swift, &report);
    assert!(ok, "{stderr}");
    assert_eq!(second["copied"], 0, "{second}");
    assert_eq!(second["already_present"], objects.len() as u64);

    // The same objects read back through the S3 API into another local store.
    let s3 = dir.path().join("s3.toml");
    std::fs::write(&s3, server.storage_toml(Api::S3, &container, "arclamp")).unwrap();
    let to_back = dir.path().join("back.toml");
    std::fs::write(
        &to_back,
        format!("[storage]\npath = \"{}\"\n", back.display()),
    )
    .unwrap();
    let (ok, third, stderr) = copy(&s3, &to_back, &report);
    assert!(ok, "{stderr}");
    assert_eq!(third["copied"], objects.len() as u64, "{third}");
    assert_eq!(files(&back), objects);
    for object in &objects {
        assert_eq!(
            std::fs::read(source.join("data").join(object)).unwrap(),
            std::fs::read(back.join(object)).unwrap(),
            "{}",
            object.display()
        );
    }
}
