//! `arclamp render`: one flame graph from folded input.

/// Arguments of `arclamp render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Folded input (plain or gzip); `-` or nothing reads standard input.
    pub input: Option<std::path::PathBuf>,
}

/// Run `arclamp render`.
pub fn run(_args: RenderArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet implemented")
}
