//! Where files live in storage, and how their names read back.
//!
//! ```text
//! logs/{period}/{window}.{channel}.{entry}.log.gz
//! svgs/{period}/{window}.{channel}.{entry}[.fn-{label}][.reversed].svgz
//! ```
//!
//! These are the paths the original Arc Lamp used, so existing links keep working. Window
//! names never contain `.` (checked by [`crate::ingest::window::Period::new`]) and entry points are
//! word characters, so a name splits unambiguously even when a channel contains dots.

/// Identifies one trace log: (period, window, channel, entry point).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogKey {
    /// Period name (`hourly`).
    pub period: String,
    /// Window name (`2026-11-24_18`).
    pub window: String,
    /// Redis channel (`excimer`).
    pub channel: String,
    /// Entry point (`index`, or `all`).
    pub entry: String,
}

/// Which of a window's graphs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GraphKind {
    /// A function-focused graph's label, `None` for the whole window.
    pub function: Option<String>,
    /// Reversed stack order (leaves at the root).
    pub reversed: bool,
}

pub use crate::ingest::sample::ALL;

/// True for a name that may appear in file names and URLs as a channel or function label:
/// `[A-Za-z0-9_.-]`, not empty, not `.` or `..`. Config, URLs and stored file names are all
/// checked by this one rule.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Prefix of a period's logs: `logs/{period}/`.
pub fn logs_prefix(period: &str) -> String {
    format!("logs/{period}/")
}

/// Whether a storage path names a window's trace log (`logs/.../*.log.gz`; not a summary,
/// function totals or roll-up).
pub fn is_log_path(path: &str) -> bool {
    path.starts_with("logs/") && path.ends_with(".log.gz")
}

/// Prefix of a period's graphs: `svgs/{period}/`.
pub fn svgs_prefix(period: &str) -> String {
    format!("svgs/{period}/")
}

impl LogKey {
    /// How operational events name this window's log at `log_path` (its [`Self::log_path`]).
    pub fn event<'a>(&'a self, log_path: &'a str) -> crate::ops::events::WindowLog<'a> {
        crate::ops::events::WindowLog {
            path: log_path,
            period: &self.period,
            channel: &self.channel,
            is_all: self.entry == ALL,
        }
    }

    /// The key of this window's `all` log (the one every entry point's log is read from).
    pub fn all(&self) -> LogKey {
        LogKey {
            entry: ALL.to_owned(),
            ..self.clone()
        }
    }

    /// The trace log's storage path.
    pub fn log_path(&self) -> String {
        format!(
            "logs/{}/{}.{}.{}.log.gz",
            self.period, self.window, self.channel, self.entry
        )
    }

    /// The storage path of one of this window's graphs.
    pub fn svg_path(&self, kind: &GraphKind) -> String {
        let function = kind
            .function
            .as_ref()
            .map(|label| format!(".fn-{label}"))
            .unwrap_or_default();
        let reversed = if kind.reversed { ".reversed" } else { "" };
        format!(
            "svgs/{}/{}.{}.{}{function}{reversed}.svgz",
            self.period, self.window, self.channel, self.entry
        )
    }

    /// Read a log's file name (without directory) back into its key.
    pub fn from_log_name(period: &str, file_name: &str) -> Option<LogKey> {
        let stem = file_name.strip_suffix(".log.gz")?;
        let (window, rest) = stem.split_once('.')?;
        let (channel, entry) = rest.rsplit_once('.')?;
        let key = LogKey {
            period: period.to_owned(),
            window: window.to_owned(),
            channel: channel.to_owned(),
            entry: entry.to_owned(),
        };
        key.is_well_formed().then_some(key)
    }

    /// Read a graph's file name (without directory) back into the key of the log it was
    /// rendered from, and which graph it is.
    pub fn from_svg_name(period: &str, file_name: &str) -> Option<(LogKey, GraphKind)> {
        let stem = file_name.strip_suffix(".svgz")?;
        let (stem, reversed) = match stem.strip_suffix(".reversed") {
            Some(stem) => (stem, true),
            None => (stem, false),
        };
        let (window, rest) = stem.split_once('.')?;
        let (channel, entry, function) = match rest.rsplit_once(".all.fn-") {
            Some((channel, label)) if !label.is_empty() => (channel, ALL, Some(label.to_owned())),
            _ => {
                let (channel, entry) = rest.rsplit_once('.')?;
                (channel, entry, None)
            }
        };
        let key = LogKey {
            period: period.to_owned(),
            window: window.to_owned(),
            channel: channel.to_owned(),
            entry: entry.to_owned(),
        };
        key.is_well_formed()
            .then_some((key, GraphKind { function, reversed }))
    }

    fn is_well_formed(&self) -> bool {
        let word =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        let window = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        };
        window(&self.window) && is_safe_name(&self.channel) && word(&self.entry)
    }
}

/// The file name part of a storage path.
pub fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_are_the_same_rule_everywhere() {
        for good in ["excimer", "excimer-wall", "k8s.excimer_2", "a", "..."] {
            assert!(is_safe_name(good), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "caf\u{e9}", "x%2F", "a\\b"] {
            assert!(!is_safe_name(bad), "{bad:?}");
        }
    }

    fn key(channel: &str, entry: &str) -> LogKey {
        LogKey {
            period: "hourly".into(),
            window: "2026-11-24_18".into(),
            channel: channel.into(),
            entry: entry.into(),
        }
    }

    #[test]
    fn paths_follow_the_original_layout() {
        let k = key("excimer", "index");
        assert_eq!(
            k.log_path(),
            "logs/hourly/2026-11-24_18.excimer.index.log.gz"
        );
        assert_eq!(
            k.svg_path(&GraphKind {
                function: None,
                reversed: false
            }),
            "svgs/hourly/2026-11-24_18.excimer.index.svgz"
        );
        let f = GraphKind {
            function: Some("EditAction".into()),
            reversed: true,
        };
        assert_eq!(
            key("excimer", "all").svg_path(&f),
            "svgs/hourly/2026-11-24_18.excimer.all.fn-EditAction.reversed.svgz"
        );
    }

    #[test]
    fn names_read_back_even_with_dots_in_channels_and_labels() {
        for k in [key("excimer", "index"), key("excimer.wall-k8s", "RunJobs")] {
            assert_eq!(
                LogKey::from_log_name("hourly", file_name(&k.log_path())),
                Some(k.clone())
            );
            for kind in [
                GraphKind {
                    function: None,
                    reversed: false,
                },
                GraphKind {
                    function: None,
                    reversed: true,
                },
            ] {
                assert_eq!(
                    LogKey::from_svg_name("hourly", file_name(&k.svg_path(&kind))),
                    Some((k.clone(), kind))
                );
            }
        }
        let all = key("excimer.wall", "all");
        let kind = GraphKind {
            function: Some("Edit.Action".into()),
            reversed: true,
        };
        assert_eq!(
            LogKey::from_svg_name("hourly", file_name(&all.svg_path(&kind))),
            Some((all, kind))
        );
    }

    #[test]
    fn foreign_names_are_not_keys() {
        for name in [
            "notes.txt",
            ".tmp.x.log.gz",
            "2026.excimer.log.gz",
            "w.c.in-dex.log.gz",
            "w.c..log.gz",
            "a b.c.d.log.gz",
        ] {
            assert_eq!(LogKey::from_log_name("hourly", name), None, "{name}");
        }
    }
}
