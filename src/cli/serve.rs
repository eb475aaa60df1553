//! `arclamp serve`: the service.

/// Arguments of `arclamp serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Config file.
    #[arg(long, default_value = "config/arclamp.toml")]
    pub config: std::path::PathBuf,
}

/// Run `arclamp serve`.
pub fn run(_args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet implemented")
}
