//! `arclamp check-config`: validate and print the effective config.

/// Arguments of `arclamp check-config`.
#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// Config file.
    #[arg(long, default_value = "config/arclamp.toml")]
    pub config: std::path::PathBuf,
}

/// Run `arclamp check-config`.
pub fn run(_args: CheckConfigArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet implemented")
}
