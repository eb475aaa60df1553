//! `arclamp publish`: synthetic load into Redis.

/// Arguments of `arclamp publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// Redis URL.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
}

/// Run `arclamp publish`.
pub fn run(_args: PublishArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet implemented")
}
