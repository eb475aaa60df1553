//! `[storage]`: which backend holds logs and graphs, and how to reach it. Checked by
//! [`StorageConfig::validate`] when the config is loaded, so a backend never starts with a
//! setting it cannot use.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ops::settings::{
    at_least_one, duration, invalid, positive, resolve_secret, ConfigError, Secret,
};

/// Which storage backend `[storage]` selects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// Files under `storage.path`.
    #[default]
    Local,
    /// An S3-compatible bucket (`[storage.s3]`).
    S3,
    /// An OpenStack Swift container, native API (`[storage.swift]`).
    Swift,
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `local`, `s3` or `swift`.
    pub kind: StorageKind,
    /// Root directory of `logs/` and `svgs/` (`kind = "local"`).
    pub path: PathBuf,
    /// Prefix of every object name inside the bucket or container (object storage), e.g.
    /// `arclamp/`; empty for none.
    pub prefix: String,
    /// Longest time one object-storage operation may take, retries included.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Objects asked for per listing request (object storage); listings page through all.
    pub list_page_size: usize,
    /// `[storage.s3]`
    pub s3: S3Config,
    /// `[storage.swift]`
    pub swift: SwiftConfig,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            kind: StorageKind::Local,
            path: PathBuf::from("data"),
            prefix: String::new(),
            timeout: Duration::from_secs(30),
            list_page_size: 1000,
            s3: S3Config::default(),
            swift: SwiftConfig::default(),
        }
    }
}

/// `[storage.s3]`: any S3-compatible store (AWS, Ceph RGW, MinIO, Swift's S3 API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// `https://s3.example.org`; empty for AWS's own endpoint of `region`.
    pub endpoint: String,
    /// The bucket; created when missing.
    pub bucket: String,
    /// The region requests are signed for.
    pub region: String,
    /// Access key id (or `access_key_id_file`).
    pub access_key_id: Secret,
    /// File holding the access key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id_file: Option<PathBuf>,
    /// Secret access key (or `secret_access_key_file`).
    pub secret_access_key: Secret,
    /// File holding the secret access key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key_file: Option<PathBuf>,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint: String::new(),
            bucket: String::new(),
            region: "us-east-1".into(),
            access_key_id: Secret::default(),
            access_key_id_file: None,
            secret_access_key: Secret::default(),
            secret_access_key_file: None,
        }
    }
}

/// `[storage.swift]`: OpenStack Swift's native API, with tempauth (v1) or Keystone v3.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SwiftConfig {
    /// `https://swift.example.org/auth/v1.0` (tempauth) or `https://keystone.example.org/v3`.
    pub auth_url: String,
    /// The container; created when missing.
    pub container: String,
    /// `account:user` for tempauth, the user name for Keystone.
    pub user: String,
    /// The password (or `key_file`).
    pub key: Secret,
    /// File holding the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Keystone: the user's domain (`Default` when empty).
    pub user_domain: String,
    /// Keystone: the project to scope the token to.
    pub project: String,
    /// Keystone: the project's domain (`Default` when empty).
    pub project_domain: String,
    /// Keystone: the catalog region of the object-store endpoint (any when empty).
    pub region: String,
}

/// How a Swift token is obtained, read from `storage.swift.auth_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwiftAuthKind {
    /// tempauth / swauth: `GET .../auth/v1.0`.
    V1,
    /// Keystone identity v3: `POST .../v3/auth/tokens`.
    KeystoneV3,
}

impl SwiftConfig {
    /// Which auth protocol `auth_url` speaks.
    pub fn auth_kind(&self) -> Result<SwiftAuthKind, ConfigError> {
        let url = self.auth_url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(
                "storage.swift.auth_url",
                "required: an http:// or https:// URL ending in /auth/v1.0 (tempauth) or /v3 (Keystone)",
            ));
        }
        if url.ends_with("/v3") {
            Ok(SwiftAuthKind::KeystoneV3)
        } else if url.ends_with("/v1.0") || url.ends_with("/v1") {
            Ok(SwiftAuthKind::V1)
        } else {
            Err(invalid(
                "storage.swift.auth_url",
                format!("{url:?} must end in /auth/v1.0 (tempauth) or /v3 (Keystone)"),
            ))
        }
    }

    /// The password, from `key` or `key_file`.
    pub fn resolved_key(&self) -> Result<Secret, ConfigError> {
        resolve_secret("storage.swift.key", &self.key, self.key_file.as_deref())
    }
}

impl S3Config {
    /// The access key id, from `access_key_id` or `access_key_id_file`.
    pub fn resolved_access_key_id(&self) -> Result<Secret, ConfigError> {
        resolve_secret(
            "storage.s3.access_key_id",
            &self.access_key_id,
            self.access_key_id_file.as_deref(),
        )
    }

    /// The secret access key, from `secret_access_key` or `secret_access_key_file`.
    pub fn resolved_secret_access_key(&self) -> Result<Secret, ConfigError> {
        resolve_secret(
            "storage.s3.secret_access_key",
            &self.secret_access_key,
            self.secret_access_key_file.as_deref(),
        )
    }
}

impl StorageConfig {
    /// Check the keys the selected backend needs; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.prefix.is_empty() && super::check_path(&self.prefix, true).is_err() {
            return Err(invalid(
                "storage.prefix",
                format!(
                    "{:?} must be a relative path of letters, digits, '_', '.', '-' segments, e.g. \"arclamp/\"",
                    self.prefix
                ),
            ));
        }
        positive("storage.timeout", self.timeout)?;
        at_least_one("storage.list_page_size", self.list_page_size as u64)?;
        match self.kind {
            StorageKind::Local => {
                if self.path.as_os_str().is_empty() {
                    return Err(invalid("storage.path", "required for kind = \"local\""));
                }
            }
            StorageKind::S3 => {
                let s3 = &self.s3;
                if s3.bucket.is_empty() {
                    return Err(invalid("storage.s3.bucket", "required for kind = \"s3\""));
                }
                let endpoint = &s3.endpoint;
                if !(endpoint.is_empty()
                    || endpoint.starts_with("http://")
                    || endpoint.starts_with("https://"))
                {
                    return Err(invalid(
                        "storage.s3.endpoint",
                        "must be an http:// or https:// URL (or empty for AWS)",
                    ));
                }
                if s3.region.is_empty() {
                    return Err(invalid(
                        "storage.s3.region",
                        "required (e.g. \"us-east-1\")",
                    ));
                }
                s3.resolved_access_key_id()?;
                s3.resolved_secret_access_key()?;
            }
            StorageKind::Swift => {
                let swift = &self.swift;
                let kind = swift.auth_kind()?;
                if swift.container.is_empty() {
                    return Err(invalid(
                        "storage.swift.container",
                        "required for kind = \"swift\"",
                    ));
                }
                if swift.user.is_empty() {
                    return Err(invalid(
                        "storage.swift.user",
                        "required for kind = \"swift\"",
                    ));
                }
                if kind == SwiftAuthKind::KeystoneV3 && swift.project.is_empty() {
                    return Err(invalid(
                        "storage.swift.project",
                        "required with a Keystone v3 auth_url",
                    ));
                }
                swift.resolved_key()?;
            }
        }
        Ok(())
    }
}
