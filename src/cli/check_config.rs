//! `arclamp check-config`: validate and print the effective config.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::config::Config;

/// Arguments of `arclamp check-config`.
#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// Config file (TOML); `ARCLAMP__*` environment variables override its keys.
    #[arg(long, default_value = "config/arclamp.toml")]
    pub config: PathBuf,
}

/// Validate the config; print it (secrets redacted) or the first error, naming the key.
pub fn run(args: CheckConfigArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)
        .with_context(|| format!("invalid config {}", args.config.display()))?;
    print!("{}", config.to_redacted_toml());
    Ok(())
}
