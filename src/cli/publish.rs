//! `arclamp publish`: synthetic load into Redis, or into a file for benchmarks.
//!
//! Messages come from [`crate::ingest::synth::Generator`], so a seed always gives the same bytes;
//! `--expect` writes down exactly what was sent ([`Expected`]) for tests to compare with
//! what the service aggregated.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use chrono::{DateTime, Utc};

use super::to_store;
use crate::ingest::synth::{Generator, Tally};
use crate::store::{compress, workload_stats};

/// Arguments of `arclamp publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// Redis server to publish to (ignored with --out).
    #[arg(long, value_name = "URL", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,

    /// Pub/sub channel to publish on (the one Excimer uses by default).
    #[arg(long, value_name = "C", default_value = "excimer")]
    pub channel: String,

    /// Add each message to the Redis Stream --channel (`XADD channel * data MESSAGE`), as
    /// stream-mode producers do, instead of publishing it.
    #[arg(long, conflicts_with = "to_store")]
    pub stream: bool,

    /// Number of messages to publish. With --stats: lines to generate (default: as many as
    /// --reference has, else 100,000).
    #[arg(long, value_name = "N", required_unless_present_any = ["to_store", "stats"])]
    pub count: Option<u64>,

    /// Most messages per second, spread evenly over each second; unlimited by default.
    /// With --to-store: average samples per second per channel (required).
    #[arg(long, value_name = "R", value_parser = parse_rate, conflicts_with = "out")]
    pub rate: Option<f64>,

    /// Fill the store of --config with --days of simulated traffic at --rate samples/s per
    /// configured channel (hourly/daily/... logs per channel and entry point, and their
    /// graphs), instead of publishing to Redis. Windows already there are replaced.
    #[arg(long, requires_all = ["days", "rate"], conflicts_with_all = ["out", "count"])]
    pub to_store: bool,

    /// Days of simulated traffic (--to-store); fractions allowed (0.25 is 6 hours).
    #[arg(long, value_name = "N", value_parser = parse_days, requires = "to_store")]
    pub days: Option<f64>,

    /// First simulated instant (--to-store): a date (2026-11-01, 00:00 UTC) or an RFC 3339
    /// time; by default --days days before today's 00:00 UTC, so that every window is over.
    #[arg(long, value_name = "DATE", value_parser = to_store::parse_start, requires = "to_store")]
    pub start: Option<DateTime<Utc>>,

    /// Config file naming the store and the periods (--to-store).
    #[arg(long, value_name = "PATH", requires = "to_store")]
    pub config: Option<PathBuf>,

    /// Leave the graphs to the service's start-up scan (--to-store).
    #[arg(long, requires = "to_store")]
    pub no_render: bool,

    /// Seed of the synthetic stacks: the same seed publishes the same messages.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,

    /// Samples per message, joined with newlines (Excimer batches several per message).
    #[arg(
        long,
        value_name = "K",
        default_value_t = 1,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub lines_per_message: u32,

    /// Write a JSON account of what was published to FILE: channel, messages, lines,
    /// samples per entry point (sums of counts) and messages no subscriber received. With
    /// --to-store: samples per channel and entry point, windows, logs, graphs and bytes.
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,

    /// Write the messages to FILE instead of publishing them.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Format of --out: `resp` is PUBLISH commands for `redis-cli --pipe`, `lines` is one
    /// sample per line (newline-terminated) for render benchmarks.
    #[arg(long, value_enum, default_value_t = OutFormat::Resp, requires = "out")]
    pub format: OutFormat,

    /// Print the statistics of the generated workload (depth, variety, sharing, line
    /// length, compression) instead of publishing it.
    #[arg(long, conflicts_with_all = ["to_store", "out", "stream"])]
    pub stats: bool,

    /// With --stats: a file of collapsed lines (plain or gzip), e.g. real samples such as
    /// ../shared/data/mediawiki/wall_samples.txt.gz, whose statistics are printed beside
    /// the generated ones with their ratio.
    #[arg(long, value_name = "FILE", requires = "stats")]
    pub reference: Option<PathBuf>,
}

/// What `--out` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    /// `PUBLISH channel message` commands in the Redis protocol (RESP arrays).
    Resp,
    /// The samples, one per line.
    Lines,
}

/// The `--expect` file: an exact account of what was published.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Expected {
    /// The channel the messages went to.
    pub channel: String,
    /// Messages published (or written).
    pub messages: u64,
    /// Lines (one sample each) over all messages.
    pub lines: u64,
    /// Sums of the lines' counts, per entry point and in all.
    pub samples: Tally,
    /// Messages that Redis delivered to no subscriber; `null` when writing to a file.
    pub unreceived_messages: Option<u64>,
}

/// PUBLISH commands per pipeline when unpaced: enough to amortize round trips.
const PIPELINE: u64 = 256;

/// A pipeline stops growing past this many message bytes, so that many lines per message
/// do not balloon the client's and Redis's buffers.
const PIPELINE_BYTES: usize = 4 << 20;

/// Pipelines per second when paced, so that pacing looks smooth to a subscriber.
const PACED_BATCHES_PER_SECOND: f64 = 100.0;

/// Generous, as a loaded Redis (or CI machine) may stall for a while.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Run `arclamp publish`.
pub fn run(args: PublishArgs) -> anyhow::Result<()> {
    if args.to_store {
        let request = to_store::FillRequest {
            days: args.days.unwrap_or(1.0),
            rate: args.rate.unwrap_or(1.0),
            start: args.start,
            seed: args.seed,
            render: !args.no_render,
        };
        let config = args
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from("config/arclamp.toml"));
        return to_store::run(&config, &request, args.expect.as_deref());
    }
    if args.stats {
        return print_stats(&args);
    }
    let count = args.count.unwrap_or(0);
    let started = Instant::now();
    let mut messages = Messages::new(args.seed, args.lines_per_message);
    let unreceived = match &args.out {
        Some(path) => {
            write_file(path, &args, count, &mut messages)?;
            None
        }
        None => publish(&args, count, &mut messages)?,
    };
    let expected = Expected {
        channel: args.channel.clone(),
        messages: count,
        lines: messages.lines,
        samples: messages.tally,
        unreceived_messages: unreceived,
    };
    eprintln!("{}", summary(&args, &expected, started.elapsed()));
    if let Some(path) = &args.expect {
        write_expected(path, &expected)?;
    }
    Ok(())
}

/// `--stats`: generate lines and print their statistics, beside `--reference`'s.
fn print_stats(args: &PublishArgs) -> anyhow::Result<()> {
    let reference = match &args.reference {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the reference {}", path.display()))?;
            let text = compress::maybe_gunzip(&bytes)
                .with_context(|| format!("{} is damaged gzip", path.display()))?
                .into_owned();
            Some((path.display().to_string(), text))
        }
        None => None,
    };
    let reference_stats = reference.as_ref().map(|(name, text)| {
        (
            name.as_str(),
            workload_stats::measure(text.split(|&b| b == b'\n')),
        )
    });
    let count = args.count.unwrap_or_else(|| {
        reference_stats
            .as_ref()
            .map_or(100_000, |(_, stats)| stats.lines)
    });
    let mut generator = Generator::new(args.seed);
    let mut text = Vec::new();
    let mut ends = Vec::with_capacity(count as usize);
    for _ in 0..count {
        generator.next_sample(&mut text);
        ends.push(text.len());
    }
    let lines = ends.iter().scan(0, |start, &end| {
        let line = &text[*start..end];
        *start = end;
        Some(line)
    });
    let ours = workload_stats::measure(lines);
    let reference_stats = reference_stats.as_ref().map(|(name, stats)| {
        (
            std::path::Path::new(name)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(name),
            stats,
        )
    });
    print!("{}", workload_stats::side_by_side(&ours, reference_stats));
    Ok(())
}

fn parse_days(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(days) if days.is_finite() && days > 0.0 => Ok(days),
        _ => Err(format!(
            "{text:?} is not a positive number of days (e.g. 1, 30, 0.25)"
        )),
    }
}

/// Slowest `--rate`: one message every 1,000 s (slower would be no load at all).
const MIN_RATE: f64 = 0.001;

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= MIN_RATE => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a number of messages per second of at least {MIN_RATE}"
        )),
    }
}

/// Synthetic messages, and the account of what went into them.
struct Messages {
    generator: Generator,
    lines_per_message: u32,
    lines: u64,
    tally: Tally,
}

impl Messages {
    fn new(seed: u64, lines_per_message: u32) -> Self {
        Messages {
            generator: Generator::new(seed),
            lines_per_message,
            lines: 0,
            tally: Tally::new(),
        }
    }

    /// Append the next message to `out`.
    fn next(&mut self, out: &mut Vec<u8>) {
        for line in 0..self.lines_per_message {
            if line > 0 {
                out.push(b'\n');
            }
            let produced = self.generator.next_sample(out);
            self.tally.add(produced.entry, produced.count);
        }
        self.lines += u64::from(self.lines_per_message);
    }
}

/// Publish `args.count` messages; returns how many reached no subscriber (`None` for
/// streams, which keep what nobody read yet).
fn publish(args: &PublishArgs, count: u64, messages: &mut Messages) -> anyhow::Result<Option<u64>> {
    let client = redis::Client::open(args.redis.as_str()).map_err(|e| {
        anyhow!(
            "invalid Redis URL {:?}: {e}; expected redis://HOST:PORT",
            args.redis
        )
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(publish_async(&client, args, count, messages))
}

async fn publish_async(
    client: &redis::Client,
    args: &PublishArgs,
    count: u64,
    messages: &mut Messages,
) -> anyhow::Result<Option<u64>> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| {
            anyhow!(
                "cannot connect to Redis at {}: {e}; is redis-server running?",
                args.redis
            )
        })?;
    let batch = match args.rate {
        None => PIPELINE,
        // Truncation is fine: any batch in 1..=PIPELINE keeps the average rate exact.
        Some(rate) => (rate / PACED_BATCHES_PER_SECOND).clamp(1.0, PIPELINE as f64) as u64,
    };
    let start = tokio::time::Instant::now();
    let mut pipeline = redis::pipe();
    let (mut sent, mut unreceived) = (0, 0);
    while sent < count {
        if let Some(rate) = args.rate {
            // Message i is due at i / rate: late batches go out at once and catch up.
            tokio::time::sleep_until(start + Duration::from_secs_f64(sent as f64 / rate)).await;
        }
        let size = fill_pipeline(
            &mut pipeline,
            messages,
            &args.channel,
            batch.min(count - sent),
            args.stream,
        );
        let replies: Vec<redis::Value> =
            pipeline.query_async(&mut connection).await.map_err(|e| {
                anyhow!(
                    "{} to {} failed after {sent} of {} messages: {e}",
                    if args.stream { "XADD" } else { "PUBLISH" },
                    args.redis,
                    count
                )
            })?;
        unreceived += replies
            .iter()
            .filter(|r| matches!(r, redis::Value::Int(0)))
            .count() as u64;
        sent += size;
    }
    Ok((!args.stream).then_some(unreceived))
}

/// Replace the pipeline's commands with up to `most` PUBLISH (or, for a stream, XADD)
/// commands, fewer if they reach [`PIPELINE_BYTES`]; returns how many.
fn fill_pipeline(
    pipeline: &mut redis::Pipeline,
    messages: &mut Messages,
    channel: &str,
    most: u64,
    stream: bool,
) -> u64 {
    pipeline.clear();
    let mut message = Vec::new();
    let (mut size, mut bytes) = (0, 0);
    while size < most && bytes < PIPELINE_BYTES {
        message.clear();
        messages.next(&mut message);
        bytes += message.len();
        if stream {
            pipeline
                .cmd("XADD")
                .arg(channel)
                .arg("*")
                .arg("data")
                .arg(message.as_slice());
        } else {
            pipeline.cmd("PUBLISH").arg(channel).arg(message.as_slice());
        }
        size += 1;
    }
    size
}

fn write_file(
    path: &Path,
    args: &PublishArgs,
    count: u64,
    messages: &mut Messages,
) -> anyhow::Result<()> {
    let (format, channel) = (args.format, args.channel.as_str());
    let file = File::create(path).with_context(|| {
        format!(
            "cannot create {}; does its directory exist?",
            path.display()
        )
    })?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut message = Vec::new();
    let mut write = || -> std::io::Result<()> {
        for _ in 0..count {
            message.clear();
            messages.next(&mut message);
            match format {
                OutFormat::Resp if args.stream => write_xadd_command(&mut out, channel, &message)?,
                OutFormat::Resp => write_publish_command(&mut out, channel, &message)?,
                OutFormat::Lines => {
                    out.write_all(&message)?;
                    out.write_all(b"\n")?;
                }
            }
        }
        out.flush()
    };
    write().with_context(|| format!("cannot write {}", path.display()))
}

/// `XADD channel * data message` as a RESP array of bulk strings.
fn write_xadd_command(out: &mut impl Write, channel: &str, message: &[u8]) -> std::io::Result<()> {
    write!(out, "*5\r\n$4\r\nXADD\r\n${}\r\n", channel.len())?;
    out.write_all(channel.as_bytes())?;
    write!(out, "\r\n$1\r\n*\r\n$4\r\ndata\r\n${}\r\n", message.len())?;
    out.write_all(message)?;
    out.write_all(b"\r\n")
}

/// `PUBLISH channel message` as a RESP array of bulk strings, as `redis-cli --pipe` reads.
fn write_publish_command(
    out: &mut impl Write,
    channel: &str,
    message: &[u8],
) -> std::io::Result<()> {
    write!(out, "*3\r\n$7\r\nPUBLISH\r\n${}\r\n", channel.len())?;
    out.write_all(channel.as_bytes())?;
    write!(out, "\r\n${}\r\n", message.len())?;
    out.write_all(message)?;
    out.write_all(b"\r\n")
}

fn write_expected(path: &Path, expected: &Expected) -> anyhow::Result<()> {
    super::write_json_report(path, expected)
}

fn summary(args: &PublishArgs, expected: &Expected, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    let per_second = expected.messages as f64 / seconds.max(1e-9);
    let what = format!(
        "{} messages ({} lines, {} samples)",
        expected.messages,
        expected.lines,
        expected.samples.all()
    );
    let timing = format!("in {seconds:.3} s ({per_second:.0} messages/s)");
    match (&args.out, expected.unreceived_messages) {
        (None, Some(unreceived)) => format!(
            "arclamp publish: published {what} on channel {} at {} {timing}; \
             {unreceived} reached no subscriber",
            args.channel, args.redis
        ),
        (out, _) => {
            let path = out.as_deref().unwrap_or(Path::new("-"));
            format!(
                "arclamp publish: wrote {what} to {} {timing}",
                path.display()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_too_small_to_schedule_are_refused() {
        assert_eq!(parse_rate("2.5"), Ok(2.5));
        assert_eq!(parse_rate("0.001"), Ok(0.001));
        for bad in ["1e-320", "0", "-3", "inf", "nan", "fast"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn messages_join_lines_with_newlines_and_account_for_them() {
        let mut messages = Messages::new(1, 3);
        let mut out = Vec::new();
        messages.next(&mut out);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 2);
        assert!(!out.ends_with(b"\n"));
        assert_eq!(messages.lines, 3);
        assert!((3..=9).contains(&messages.tally.all()));
    }

    #[test]
    fn pipelines_stop_at_their_command_or_byte_budget() {
        let mut pipeline = redis::pipe();
        let size = fill_pipeline(&mut pipeline, &mut Messages::new(1, 1), "excimer", 5, false);
        assert_eq!((size, pipeline.len()), (5, 5));
        // Messages of 4,000 lines are about 3.5 MB: the second one passes the budget.
        let mut big = Messages::new(1, 4_000);
        let size = fill_pipeline(&mut pipeline, &mut big, "excimer", PIPELINE, false);
        assert_eq!((size, pipeline.len()), (2, 2));
        assert_eq!(big.lines, 8_000);
    }

    #[test]
    fn publish_commands_are_resp_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        write_publish_command(&mut out, "excimer", b"a;b 1\nc 2").expect("writes to a Vec");
        assert_eq!(
            out,
            b"*3\r\n$7\r\nPUBLISH\r\n$7\r\nexcimer\r\n$9\r\na;b 1\nc 2\r\n".to_vec()
        );
    }

    #[test]
    fn rate_must_be_positive_and_finite() {
        assert_eq!(parse_rate("2.5"), Ok(2.5));
        for bad in ["0", "-1", "inf", "NaN", "fast"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
