//! The building blocks every component's config types share: [`ConfigError`] (which names
//! the key at fault), the duration format (`"500ms"`, `"60s"`, `"14d"`), [`Secret`] and the
//! checks that keep every message in one voice. Each component keeps its own config struct
//! next to its code (`[storage]` in `store::storage::config`, `[log]` in
//! [`crate::ops::telemetry`], ...); `crate::config` assembles them into the file.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A config that could not be loaded, naming the key at fault where there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed, or a key has the wrong type.
    #[error("{0}")]
    Load(#[from] config::ConfigError),
    /// A key has a value arclamp cannot use.
    #[error("{key}: {message}")]
    Invalid {
        /// The dotted key (`periods.hourly.format`).
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// A [`ConfigError::Invalid`] for `key`.
pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// A credential: shown as `***` by `Debug` and when the config is printed, so it never
/// reaches a log line or `check-config` output.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it to the server.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no value was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0.is_empty() { "" } else { "***" })
    }
}

/// The secret from `value`, or from the file `file` names (trailing newline removed); the
/// error names whichever key is at fault. Setting both is an error, as is setting neither.
pub fn resolve_secret(
    key: &str,
    value: &Secret,
    file: Option<&Path>,
) -> Result<Secret, ConfigError> {
    match (value.is_empty(), file) {
        (false, Some(_)) => Err(invalid(
            format!("{key}_file"),
            format!("set either {key} or {key}_file, not both"),
        )),
        (false, None) => Ok(value.clone()),
        (true, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                invalid(
                    format!("{key}_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let text = text.trim_end_matches(['\n', '\r']);
            if text.is_empty() {
                return Err(invalid(
                    format!("{key}_file"),
                    format!("{} is empty", path.display()),
                ));
            }
            Ok(Secret::new(text))
        }
        (true, None) => Err(invalid(
            key,
            format!(
                "required: set it (e.g. from the environment, ARCLAMP__{}) or name a file with {key}_file",
                key.to_ascii_uppercase().replace('.', "__")
            ),
        )),
    }
}

/// `value` must be longer than zero; the error names `key`.
pub fn positive(key: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(invalid(
            key,
            "must be longer than 0 (e.g. \"500ms\", \"60s\", \"10m\")",
        ));
    }
    Ok(())
}

/// `value` must be at least 1; the error names `key`.
pub fn at_least_one(key: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(())
}

/// Durations as humantime strings (`"100ms"`, `"60s"`, `"14d"`).
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration such as \"500ms\", \"60s\" or \"14d\": {e}"
            ))
        })
    }
}

/// Optional durations (`max_age`), as [`duration`] when present.
pub mod opt_duration {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => super::duration::serialize(d, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::duration::deserialize(deserializer).map(Some)
    }
}
