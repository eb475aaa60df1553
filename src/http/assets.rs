//! The stylesheet and scripts compiled into the binary (served at `/static/{name}` by
//! `files::asset`), and the cache-busting URLs pages link them by.
//!
//! Pages link them with a content hash in the query (`/static/arclamp.css?v=1a2b…`), so
//! they can be cached for a year: a new binary with a changed file links a new URL.

use std::sync::LazyLock;

/// One compiled-in file.
pub struct Asset {
    name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "arclamp.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../static/arclamp.css"),
    },
    Asset {
        name: "arclamp.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../static/arclamp.js"),
    },
    Asset {
        name: "status.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../static/status.js"),
    },
];

/// The URL of a compiled-in asset, with its content hash as cache buster.
pub fn url(name: &str) -> String {
    let version = ASSETS
        .iter()
        .find(|a| a.name == name)
        .map(|a| xxhash_rust::xxh3::xxh3_64(a.body.as_bytes()))
        .unwrap_or_default();
    format!("/static/{name}?v={version:016x}")
}

/// Links every page's layout needs, computed once.
#[derive(Debug, Clone)]
pub struct Links {
    /// The stylesheet.
    pub css: String,
    /// The page script.
    pub js: String,
}

/// The layout's asset links.
pub static LINKS: LazyLock<Links> = LazyLock::new(|| Links {
    css: url("arclamp.css"),
    js: url("arclamp.js"),
});

/// The compiled-in file called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}
