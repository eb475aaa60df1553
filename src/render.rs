//! Flame-graph rendering (placeholder until the render branch lands).

/// Options for one flame graph.
#[derive(Debug, Clone)]
pub struct GraphOptions {
    /// Title.
    pub title: String,
    /// Minimum frame width in pixels.
    pub min_width: f64,
    /// Reversed stack order.
    pub reverse: bool,
}

/// Render failure.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No stacks.
    #[error("no stacks to render")]
    NoStacks,
    /// Inferno failed.
    #[error("render failed: {0}")]
    Failed(String),
}

/// Render to svgz.
pub fn render_svgz(stacks: &[(&[u8], u64)], _opts: &GraphOptions) -> Result<Vec<u8>, RenderError> {
    if stacks.is_empty() {
        return Err(RenderError::NoStacks);
    }
    Ok(crate::compress::gzip(
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    ))
}

/// Stacks containing the frame.
pub fn stacks_with_frame<'a>(stacks: &[(&'a [u8], u64)], function: &str) -> Vec<(&'a [u8], u64)> {
    stacks
        .iter()
        .filter(|(s, _)| s.split(|&b| b == b';').any(|f| f == function.as_bytes()))
        .copied()
        .collect()
}
