//! `arclamp render`: one flame graph from folded input, like flamegraph.pl.

use std::fs;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use flate2::bufread::MultiGzDecoder;

use crate::graphs::render::{self, GraphOptions};
use crate::store::compress::{self, GunzipError};
use crate::store::folded::{self, SortedLines};

/// Arguments of `arclamp render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Folded input: `FRAME;FRAME;... COUNT` lines, plain or gzip, aggregated or one line
    /// per sample, in any order. `-` or nothing reads standard input.
    #[arg(value_name = "INPUT")]
    pub input: Option<PathBuf>,

    /// Write the graph to OUT instead of standard output: gzip-compressed if OUT ends in
    /// `.svgz`, plain SVG otherwise. OUT is replaced whole, never left half-written.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,

    /// Reverse every stack, so leaf functions sit at the bottom (flamegraph.pl's
    /// `--reverse`); drawn in blue to tell it apart from a forward graph.
    #[arg(long)]
    pub reverse: bool,

    /// Title drawn at the top of the graph.
    #[arg(long, value_name = "T", default_value = "Flame Graph")]
    pub title: String,

    /// Only draw the stacks that contain a frame exactly equal to F, e.g.
    /// `Parser::parse` (whole frames: `Parser::parse` does not match `Parser::parseFoo`).
    #[arg(long, value_name = "F", value_parser = parse_function)]
    pub function: Option<String>,

    /// Leave out frames narrower than W pixels of a 1200-pixel-wide image (flamegraph.pl's
    /// `--minwidth`); 0 keeps every frame.
    #[arg(
        long,
        value_name = "W",
        default_value_t = 0.1,
        value_parser = parse_min_width,
        allow_negative_numbers = true
    )]
    pub min_width: f64,
}

/// Bytes read from the input (or out of the gzip decoder) at a time: large enough that
/// system calls are few, small enough to stay in cache while its lines are parsed.
const INPUT_BUFFER: usize = 256 * 1024;

/// Run `arclamp render`.
pub fn run(args: RenderArgs) -> anyhow::Result<()> {
    let source = Source::new(args.input.as_deref());
    let counted = count_stacks(&source)?;
    if counted.malformed_lines > 0 {
        eprintln!(
            "arclamp: {} malformed lines skipped in {source} (expected `FRAME;FRAME;... COUNT` \
             with a count of at least 1)",
            counted.malformed_lines
        );
    }
    if counted.is_empty() {
        bail!(
            "no flame graph written: {source} has no valid `FRAME;FRAME;... COUNT` line; \
             is it folded (collapsed) stack output?"
        );
    }
    let mut lines = counted.lines();
    if let Some(function) = &args.function {
        focus_on(&mut lines, function, &source)?;
    }

    let opts = GraphOptions {
        title: args.title,
        min_width: args.min_width,
        reverse: args.reverse,
        note: None,
        icicle: false,
    };
    match &args.output {
        Some(path) => write_graph_file(path, &lines, &opts),
        None => write_graph_stdout(&lines, &opts),
    }
}

/// Stream `source` (plain or gzip) through a [`folded::StackCounter`], so that only its
/// distinct stacks are held in memory, not the whole input.
fn count_stacks(source: &Source<'_>) -> anyhow::Result<folded::CountedStacks> {
    let mut input = BufReader::with_capacity(INPUT_BUFFER, source.open()?);
    // Read the magic bytes rather than peek at the buffer: a pipe may deliver one at a time.
    let mut magic = [0; 2];
    let mut magic_len = 0;
    while magic_len < magic.len() {
        match input.read(&mut magic[magic_len..]) {
            Ok(0) => break,
            Ok(read) => magic_len += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error).with_context(|| source.read_error()),
        }
    }
    let input = (&magic[..magic_len]).chain(input);

    let mut counter = folded::StackCounter::new();
    if compress::is_gzip(&magic[..magic_len]) {
        let decoder = MultiGzDecoder::new(input);
        match counter.read_lines(BufReader::with_capacity(INPUT_BUFFER, decoder)) {
            Ok(()) => {}
            Err(error) if is_decode_error(&error) => {
                return Err(GunzipError::from(error))
                    .with_context(|| format!("cannot decode {source}"));
            }
            Err(error) => return Err(error).with_context(|| source.read_error()),
        }
    } else {
        counter
            .read_lines(input)
            .with_context(|| source.read_error())?;
    }
    Ok(counter.finish())
}

/// True for the errors flate2 reports about the gzip data itself (corrupt or truncated),
/// as opposed to failing to read it.
fn is_decode_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
    )
}

/// Where the folded input comes from, named the way messages show it.
enum Source<'a> {
    Stdin,
    File(&'a Path),
}

impl<'a> Source<'a> {
    fn new(input: Option<&'a Path>) -> Self {
        match input {
            None => Source::Stdin,
            Some(path) if path.as_os_str() == "-" => Source::Stdin,
            Some(path) => Source::File(path),
        }
    }

    fn open(&self) -> anyhow::Result<Box<dyn Read + 'a>> {
        match self {
            Source::Stdin => Ok(Box::new(io::stdin().lock())),
            Source::File(path) => match fs::File::open(path) {
                Ok(file) => Ok(Box::new(file)),
                Err(error) => Err(error).with_context(|| self.read_error()),
            },
        }
    }

    fn read_error(&self) -> String {
        match self {
            Source::Stdin => "cannot read folded input from standard input".to_owned(),
            Source::File(path) => format!(
                "cannot read input file {}; check the path, or pass `-` to read standard input",
                path.display()
            ),
        }
    }
}

impl std::fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Stdin => f.write_str("standard input"),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Keep the lines through `function`, or fail saying none are (an empty graph helps
/// nobody).
fn focus_on(
    lines: &mut SortedLines<'_>,
    function: &str,
    source: &Source<'_>,
) -> anyhow::Result<()> {
    render::retain_lines_with_frame(lines, function);
    if lines.is_empty() {
        bail!(
            "no flame graph written: no stack in {source} has a frame `{function}`; frames \
             match whole and exactly, e.g. `Parser::parse`, not `Parser::` or `parse`"
        );
    }
    Ok(())
}

fn write_graph_file(
    path: &Path,
    lines: &SortedLines<'_>,
    opts: &GraphOptions,
) -> anyhow::Result<()> {
    let graph = if is_svgz(path) {
        render::render_lines_svgz(lines, opts)
    } else {
        render::render_lines_svg(lines, opts)
    }
    .context("cannot render the flame graph")?;
    write_replacing(path, &graph)
}

fn write_graph_stdout(lines: &SortedLines<'_>, opts: &GraphOptions) -> anyhow::Result<()> {
    let svg = render::render_lines_svg(lines, opts).context("cannot render the flame graph")?;
    let mut stdout = io::stdout().lock();
    match stdout.write_all(&svg).and_then(|()| stdout.flush()) {
        // The reader went away (`| head`): nothing left to do, and nothing wrong with us.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("cannot write the flame graph to standard output"),
    }
}

fn is_svgz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("svgz"))
}

/// Write `bytes` to a temporary file beside `path`, then rename it over `path`, so whoever
/// serves or opens the graph sees the old file or the new one, never half of one. No fsync:
/// this is a one-shot command whose output can be regenerated, not a checkpoint.
fn write_replacing(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let Some(file_name) = path.file_name() else {
        bail!("output path {} does not name a file", path.display());
    };
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = dir.join(temp_name);

    let result = fs::write(&temp, bytes).and_then(|()| fs::rename(&temp, path));
    if let Err(error) = result {
        // Best effort: the write or the rename already failed, and that is what to report.
        let _ = fs::remove_file(&temp);
        return Err(error).with_context(|| {
            format!(
                "cannot write {}; check that {} exists and is writable",
                path.display(),
                dir.display()
            )
        });
    }
    Ok(())
}

fn parse_function(value: &str) -> Result<String, String> {
    if value.is_empty() || value.contains(';') {
        return Err("a frame name, non-empty and without `;` (e.g. `Parser::parse`)".to_owned());
    }
    Ok(value.to_owned())
}

fn parse_min_width(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(pixels) if pixels.is_finite() && pixels >= 0.0 => Ok(pixels),
        _ => Err("a number of pixels, 0 or more (e.g. 0.1)".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svgz_is_chosen_by_extension_only() {
        assert!(is_svgz(Path::new("out.svgz")));
        assert!(is_svgz(Path::new("dir/OUT.SVGZ")));
        assert!(!is_svgz(Path::new("out.svg")));
        assert!(!is_svgz(Path::new("svgz")));
    }

    #[test]
    fn write_replacing_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("graph.svg");
        fs::write(&path, b"old").unwrap();
        write_replacing(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_replacing_into_a_missing_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("graph.svg");
        let message = format!("{:#}", write_replacing(&path, b"x").unwrap_err());
        assert!(message.contains("exists and is writable"), "{message}");
    }

    #[test]
    fn arguments_are_validated_before_reading_input() {
        assert!(parse_min_width("0").is_ok());
        assert!(parse_min_width("-1").is_err());
        assert!(parse_min_width("NaN").is_err());
        assert!(parse_function("Parser::parse").is_ok());
        assert!(parse_function("").is_err());
        assert!(parse_function("a;b").is_err());
    }
}
