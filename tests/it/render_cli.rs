//! `arclamp render` as an operator runs it: files or standard input in, SVG or SVGZ out.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use quick_xml::events::Event;
use quick_xml::Reader;

use arclamp::store::compress;

const FOLDED: &str = "\
/srv/mediawiki/php-1.45.0-wmf.5/index.php;MediaWiki::run;Parser::parse 3
/srv/mediawiki/php-1.45.0-wmf.5/index.php;MediaWiki::run;OutputPage::output 2
/srv/mediawiki/php-1.45.0-wmf.5/api.php;ApiMain::execute;Parser::parse 2
";

/// Runs `arclamp render ARGS`, feeding `stdin` when given.
fn arclamp_render(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_arclamp"))
        .arg("render")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        // arclamp reads all its input before writing anything, so this cannot deadlock.
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Walks every XML event, failing on any error, and sums the samples of each frame's
/// `<title>` (`NAME (N samples, P%)`) by name.
pub fn frame_counts(svg: &[u8]) -> BTreeMap<String, u64> {
    let mut reader = Reader::from_reader(svg);
    let mut counts = BTreeMap::new();
    let mut in_title = false;
    loop {
        match reader.read_event().expect("SVG is well-formed XML") {
            Event::Eof => break,
            Event::Start(e) if e.name().as_ref() == b"title" => in_title = true,
            Event::End(e) if e.name().as_ref() == b"title" => in_title = false,
            Event::Text(t) if in_title => {
                let title = t.unescape().unwrap();
                let (name, stats) = title.rsplit_once(" (").unwrap();
                let samples = stats.split_once(' ').unwrap().0.replace(',', "");
                *counts.entry(name.to_owned()).or_default() += samples.parse::<u64>().unwrap();
            }
            _ => {}
        }
    }
    counts
}

/// Samples per frame name that a graph of `folded` must show (`all` is the root).
fn expected_counts(folded: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in folded.lines() {
        let (stack, count) = line.rsplit_once(' ').unwrap();
        let count: u64 = count.parse().unwrap();
        *counts.entry("all".to_owned()).or_default() += count;
        for frame in stack.split(';') {
            *counts.entry(frame.to_owned()).or_default() += count;
        }
    }
    counts
}

/// `folded` with every `STACK N` line written as N `STACK 1` lines, shuffled a little.
fn one_line_per_sample(folded: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in folded.lines() {
        let (stack, count) = line.rsplit_once(' ').unwrap();
        for _ in 0..count.parse::<usize>().unwrap() {
            lines.push(format!("{stack} 1\n"));
        }
    }
    lines.reverse();
    lines.concat()
}

#[test]
fn renders_a_plain_folded_file_to_svg() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.folded");
    let out = dir.path().join("graph.svg");
    std::fs::write(&input, FOLDED).unwrap();

    let output = arclamp_render(
        &[
            path_arg(&input),
            "-o",
            path_arg(&out),
            "--title",
            "Hourly index.php",
        ],
        None,
    );

    assert!(output.status.success(), "{}", stderr(&output));
    let svg = std::fs::read(&out).unwrap();
    assert!(!compress::is_gzip(&svg), "a .svg output must be plain SVG");
    assert_eq!(frame_counts(&svg), expected_counts(FOLDED));
    assert!(String::from_utf8(svg).unwrap().contains("Hourly index.php"));
}

#[test]
fn renders_gzip_one_line_per_sample_stdin_to_svgz() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("graph.svgz");
    let input = compress::gzip(one_line_per_sample(FOLDED).as_bytes());

    let output = arclamp_render(
        &["-", "-o", path_arg(&out), "--title", "Daily"],
        Some(&input),
    );

    assert!(output.status.success(), "{}", stderr(&output));
    let svgz = std::fs::read(&out).unwrap();
    assert!(compress::is_gzip(&svgz), "a .svgz output must be gzip");
    let svg = compress::maybe_gunzip(&svgz).unwrap();
    assert_eq!(frame_counts(&svg), expected_counts(FOLDED));
    assert!(String::from_utf8_lossy(&svg).contains(">Daily<"));
}

#[test]
fn writes_plain_svg_to_stdout_without_an_output_file() {
    let output = arclamp_render(&[], Some(FOLDED.as_bytes()));

    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(frame_counts(&output.stdout), expected_counts(FOLDED));
    assert!(String::from_utf8_lossy(&output.stdout).contains(">Flame Graph<"));
}

#[test]
fn reports_and_skips_malformed_lines() {
    let input = format!("not a folded line\n{FOLDED}main;foo x\n");

    let output = arclamp_render(&["-"], Some(input.as_bytes()));

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("2 malformed lines skipped"),
        "{}",
        stderr(&output)
    );
    assert_eq!(frame_counts(&output.stdout), expected_counts(FOLDED));
}

#[test]
fn function_filter_keeps_only_stacks_through_that_frame() {
    let output = arclamp_render(&["--function", "Parser::parse"], Some(FOLDED.as_bytes()));

    assert!(output.status.success(), "{}", stderr(&output));
    let counts = frame_counts(&output.stdout);
    assert_eq!(counts.get("all"), Some(&5));
    assert_eq!(counts.get("Parser::parse"), Some(&5));
    assert_eq!(counts.get("OutputPage::output"), None);
}

#[test]
fn function_that_no_stack_has_fails_with_a_hint() {
    let output = arclamp_render(&["--function", "Parser::"], Some(FOLDED.as_bytes()));

    assert!(!output.status.success());
    assert!(stderr(&output).contains("no stack"), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
}

#[test]
fn nonexistent_input_file_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such.folded");
    let out = dir.path().join("graph.svg");

    let output = arclamp_render(&[path_arg(&missing), "-o", path_arg(&out)], None);

    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("cannot read input file"), "{message}");
    assert!(message.contains("no-such.folded"), "{message}");
    assert!(!out.exists(), "no graph may be written without input");
}

#[test]
fn input_without_valid_stacks_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("graph.svgz");

    let output = arclamp_render(&["-o", path_arg(&out)], Some(b"hello\nworld\n"));

    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("2 malformed lines skipped"), "{message}");
    assert!(message.contains("no valid"), "{message}");
    assert!(!out.exists(), "no graph may be written without stacks");
}
