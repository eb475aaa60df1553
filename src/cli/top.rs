//! `arclamp top`: the leaderboard of functions most often on CPU in one stored window,
//! read through the same storage and code as `/api/top` (so both show the same numbers).

use std::path::PathBuf;

use anyhow::Context as _;

use crate::config::Config;
use crate::graphs::on_demand::{OnDemand, Series};

/// Arguments of `arclamp top`.
#[derive(Debug, clap::Args)]
pub struct TopArgs {
    /// Period name (`hourly`, `daily`, ...).
    #[arg(long)]
    pub period: String,
    /// Window name (`2026-11-24`, `2026-11-24_18`, ...).
    #[arg(long)]
    pub window: String,
    /// Channel (default: the first configured one).
    #[arg(long)]
    pub channel: Option<String>,
    /// Entry point.
    #[arg(long, default_value = crate::store::layout::ALL)]
    pub entry: String,
    /// Only functions matching this regular expression.
    #[arg(long)]
    pub grep: Option<String>,
    /// Most rows.
    #[arg(long, default_value_t = crate::graphs::top::DEFAULT_LIMIT)]
    pub limit: usize,
    /// Print JSON, exactly what `/api/top` answers.
    #[arg(long)]
    pub json: bool,
    /// Config file (storage location and `[top] skip`).
    #[arg(long, default_value = "config/arclamp.toml")]
    pub config: PathBuf,
}

/// Print the leaderboard.
pub fn run(args: TopArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)
        .with_context(|| format!("invalid config {}", args.config.display()))?;
    let channel = match args.channel {
        Some(channel) => channel,
        None => config
            .redis
            .channels
            .first()
            .cloned()
            .context("no channel given (--channel) and none configured")?,
    };
    let on_demand = OnDemand::new(config.on_demand_settings()?, super::open_storage(&config)?)?;
    let series = Series::new(&args.period, &channel, &args.entry)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")?;
    let report =
        runtime.block_on(on_demand.top_report(&series, &args.window, args.grep, args.limit))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let board = &report.board;
    println!(
        "{} {} {}.{}: {} samples, {} functions{}",
        report.period,
        report.window,
        report.channel,
        report.entry,
        board.total_samples,
        board.functions,
        match &report.grep {
            Some(grep) => format!(
                ", {} matching /{grep}/ ({} samples)",
                board.matching_functions, board.matching_samples
            ),
            None => String::new(),
        }
    );
    println!("{:>10} {:>7}  function", "samples", "%");
    for row in &board.rows {
        println!(
            "{:>10} {:>6.2}%  {}",
            row.samples, row.percent, row.function
        );
    }
    Ok(())
}
