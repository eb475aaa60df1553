//! Swift authentication: turns `[storage.swift]` credentials into a token and the account's
//! storage URL, with tempauth (`GET .../auth/v1.0`) or Keystone v3 (`POST .../v3/auth/tokens`).
//!
//! OpenDAL's Swift service takes a ready token, so fetching (and refetching) it is ours. A
//! [`Session`] knows when its token expires; the object-storage backend asks for a new one
//! shortly before that and whenever Swift answers 401.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::config::{SwiftAuthKind, SwiftConfig};
use crate::ops::settings::Secret;

/// A token is renewed this long before it expires, so a request never starts with a token
/// that runs out on the way.
pub const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// How long a token is assumed to live when the server does not say.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// Tokens are renewed at least this often, whatever lifetime the server announces.
pub const MAX_TRUSTED_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A token and where to use it.
#[derive(Clone)]
pub struct Session {
    /// The account's storage URL (`https://swift.example.org/v1/AUTH_test`).
    pub storage_url: String,
    /// The `X-Auth-Token` value.
    pub token: Secret,
    /// When the token should be replaced (its expiry minus a margin).
    pub renew_at: Instant,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("storage_url", &self.storage_url)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Whether the token is due for renewal.
    pub fn needs_renewal(&self) -> bool {
        Instant::now() >= self.renew_at
    }
}

/// Why no token could be had. Messages name the config keys to check, never the password.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The auth endpoint could not be reached or did not answer in time.
    #[error("cannot reach the Swift auth endpoint {url}: {reason}")]
    Unreachable {
        /// `storage.swift.auth_url`.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The credentials were refused.
    #[error("Swift auth at {url} refused the credentials of user {user:?} (HTTP {status}): check storage.swift.user and storage.swift.key{extra}")]
    Refused {
        /// `storage.swift.auth_url`.
        url: String,
        /// `storage.swift.user`.
        user: String,
        /// HTTP status.
        status: u16,
        /// More keys to check for Keystone.
        extra: &'static str,
    },
    /// The answer lacked what a token needs.
    #[error("unexpected answer from the Swift auth endpoint {url} (HTTP {status}): {reason}")]
    BadAnswer {
        /// `storage.swift.auth_url`.
        url: String,
        /// HTTP status.
        status: u16,
        /// What is missing.
        reason: String,
    },
}

/// Fetch a fresh token for `config` (whose `key` is already resolved into `key`).
pub async fn authenticate(
    client: &reqwest::Client,
    config: &SwiftConfig,
    key: &Secret,
) -> Result<Session, AuthError> {
    let kind = config.auth_kind().map_err(|e| AuthError::BadAnswer {
        url: config.auth_url.clone(),
        status: 0,
        reason: e.to_string(),
    })?;
    match kind {
        SwiftAuthKind::V1 => tempauth(client, config, key).await,
        SwiftAuthKind::KeystoneV3 => keystone_v3(client, config, key).await,
    }
}

fn unreachable(url: &str, error: reqwest::Error) -> AuthError {
    // reqwest's Display may include the URL, never headers: the key stays out.
    AuthError::Unreachable {
        url: url.to_owned(),
        reason: error.without_url().to_string(),
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn tempauth(
    client: &reqwest::Client,
    config: &SwiftConfig,
    key: &Secret,
) -> Result<Session, AuthError> {
    let url = config.auth_url.as_str();
    let started = Instant::now();
    let response = client
        .get(url)
        .header("X-Auth-User", &config.user)
        .header("X-Auth-Key", key.expose())
        .send()
        .await
        .map_err(|e| unreachable(url, e))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(AuthError::Refused {
            url: url.to_owned(),
            user: config.user.clone(),
            status: status.as_u16(),
            extra: "",
        });
    }
    let bad = |reason: &str| AuthError::BadAnswer {
        url: url.to_owned(),
        status: status.as_u16(),
        reason: reason.to_owned(),
    };
    if !status.is_success() {
        return Err(bad("expected 200 with X-Auth-Token and X-Storage-Url"));
    }
    let token = header(&response, "X-Auth-Token").ok_or_else(|| bad("no X-Auth-Token header"))?;
    let storage_url =
        header(&response, "X-Storage-Url").ok_or_else(|| bad("no X-Storage-Url header"))?;
    let lifetime = announced_lifetime(header(&response, "X-Auth-Token-Expires").as_deref());
    Ok(Session {
        storage_url: storage_url.trim_end_matches('/').to_owned(),
        token: Secret::new(token),
        renew_at: renewal_time(started, lifetime),
    })
}

/// A token's lifetime from Swift's `X-Auth-Token-Expires` header (seconds, maybe
/// fractional): [`DEFAULT_LIFETIME`] when absent or not a number of seconds.
fn announced_lifetime(header: Option<&str>) -> Duration {
    header
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_LIFETIME, |seconds| {
            Duration::try_from_secs_f64(seconds).unwrap_or(MAX_TRUSTED_LIFETIME)
        })
}

/// When to renew a token that lives `lifetime` from `issued`: [`RENEW_BEFORE`] ahead, or at
/// half its life for short-lived tokens. A lifetime over [`MAX_TRUSTED_LIFETIME`] (the
/// server's word, which may be anything) counts as that long.
pub fn renewal_time(issued: Instant, lifetime: Duration) -> Instant {
    let lifetime = lifetime.min(MAX_TRUSTED_LIFETIME);
    let margin = RENEW_BEFORE.min(lifetime / 2);
    issued
        .checked_add(lifetime.saturating_sub(margin))
        .unwrap_or(issued)
}

#[derive(Debug, Deserialize)]
struct KeystoneAnswer {
    token: KeystoneToken,
}

#[derive(Debug, Deserialize)]
struct KeystoneToken {
    expires_at: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    catalog: Vec<CatalogEntry>,
}

#[derive(Debug, Deserialize)]
struct CatalogEntry {
    #[serde(rename = "type")]
    service_type: String,
    #[serde(default)]
    endpoints: Vec<Endpoint>,
}

#[derive(Debug, Deserialize)]
struct Endpoint {
    interface: String,
    url: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    region_id: Option<String>,
}

/// The public object-store endpoint in a Keystone v3 catalog, in `region` when one is given.
fn object_store_url(catalog: &[CatalogEntry], region: &str) -> Option<String> {
    catalog
        .iter()
        .filter(|entry| entry.service_type == "object-store")
        .flat_map(|entry| entry.endpoints.iter())
        .filter(|endpoint| endpoint.interface == "public")
        .find(|endpoint| {
            region.is_empty()
                || endpoint.region.as_deref() == Some(region)
                || endpoint.region_id.as_deref() == Some(region)
        })
        .map(|endpoint| endpoint.url.trim_end_matches('/').to_owned())
}

fn or_default(value: &str) -> &str {
    if value.is_empty() {
        "Default"
    } else {
        value
    }
}

async fn keystone_v3(
    client: &reqwest::Client,
    config: &SwiftConfig,
    key: &Secret,
) -> Result<Session, AuthError> {
    let url = format!("{}/auth/tokens", config.auth_url.trim_end_matches('/'));
    let body = serde_json::json!({
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {
                    "name": config.user,
                    "domain": {"name": or_default(&config.user_domain)},
                    "password": key.expose(),
                }},
            },
            "scope": {"project": {
                "name": config.project,
                "domain": {"name": or_default(&config.project_domain)},
            }},
        }
    });
    let response = client
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| unreachable(&url, e))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(AuthError::Refused {
            url,
            user: config.user.clone(),
            status: status.as_u16(),
            extra: ", storage.swift.user_domain, storage.swift.project and storage.swift.project_domain",
        });
    }
    let bad = |reason: String| AuthError::BadAnswer {
        url: url.clone(),
        status: status.as_u16(),
        reason,
    };
    if !status.is_success() {
        return Err(bad("expected 201 with X-Subject-Token".into()));
    }
    let token = header(&response, "X-Subject-Token")
        .ok_or_else(|| bad("no X-Subject-Token header".into()))?;
    let answer: KeystoneAnswer = response
        .json()
        .await
        .map_err(|e| bad(format!("unreadable token JSON: {}", e.without_url())))?;
    session_from_keystone(token, answer, &config.region).map_err(bad)
}

fn session_from_keystone(
    token: String,
    answer: KeystoneAnswer,
    region: &str,
) -> Result<Session, String> {
    let storage_url = object_store_url(&answer.token.catalog, region).ok_or_else(|| {
        format!(
            "the token's catalog has no public object-store endpoint{}: check storage.swift.project and storage.swift.region",
            if region.is_empty() { String::new() } else { format!(" in region {region:?}") }
        )
    })?;
    let lifetime = (answer.token.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    Ok(Session {
        storage_url,
        token: Secret::new(token),
        renew_at: renewal_time(Instant::now(), lifetime),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shape of a real Keystone v3 token answer (trimmed).
    const ANSWER: &str = r#"{"token": {
        "methods": ["password"],
        "expires_at": "2099-01-01T00:00:00.000000Z",
        "catalog": [
            {"type": "identity", "name": "keystone", "endpoints": [
                {"interface": "public", "region": "eqiad", "url": "https://keystone.example.org/v3"}]},
            {"type": "object-store", "name": "swift", "endpoints": [
                {"interface": "internal", "region": "eqiad", "url": "http://10.0.0.1/v1/AUTH_p"},
                {"interface": "public", "region": "codfw", "region_id": "codfw", "url": "https://codfw.example.org/v1/AUTH_p"},
                {"interface": "public", "region": "eqiad", "region_id": "eqiad", "url": "https://eqiad.example.org/v1/AUTH_p/"}]}
        ]}}"#;

    #[test]
    fn any_announced_lifetime_gives_a_renewal_within_a_day() {
        assert_eq!(
            announced_lifetime(Some(" 86399.5 ")),
            Duration::from_secs_f64(86399.5)
        );
        assert_eq!(announced_lifetime(None), DEFAULT_LIFETIME);
        assert_eq!(announced_lifetime(Some("soon")), DEFAULT_LIFETIME);
        assert_eq!(announced_lifetime(Some("-5")), DEFAULT_LIFETIME);
        let now = Instant::now();
        for header in ["1e19", "1e20", "1e300"] {
            let renew = renewal_time(now, announced_lifetime(Some(header)));
            assert!(
                renew > now && renew <= now + MAX_TRUSTED_LIFETIME,
                "{header}"
            );
        }
        assert!(renewal_time(now, Duration::MAX) <= now + MAX_TRUSTED_LIFETIME);
        // Short-lived tokens are renewed at half their life.
        assert_eq!(
            renewal_time(now, Duration::from_secs(60)),
            now + Duration::from_secs(30)
        );
    }

    #[test]
    fn the_public_object_store_endpoint_of_the_region_is_used() {
        let parse = || serde_json::from_str::<KeystoneAnswer>(ANSWER).unwrap();
        let session = session_from_keystone("tok".into(), parse(), "eqiad").unwrap();
        assert_eq!(session.storage_url, "https://eqiad.example.org/v1/AUTH_p");
        assert!(!session.needs_renewal());
        let any = session_from_keystone("tok".into(), parse(), "").unwrap();
        assert_eq!(any.storage_url, "https://codfw.example.org/v1/AUTH_p");
        let error = session_from_keystone("tok".into(), parse(), "esams").unwrap_err();
        assert!(error.contains("storage.swift.region"), "{error}");
    }

    #[test]
    fn short_lived_tokens_are_renewed_at_half_their_life() {
        let now = Instant::now();
        assert_eq!(
            renewal_time(now, Duration::from_secs(3600)),
            now + Duration::from_secs(3540)
        );
        assert_eq!(
            renewal_time(now, Duration::from_secs(10)),
            now + Duration::from_secs(5)
        );
        assert_eq!(renewal_time(now, Duration::ZERO), now);
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let session = Session {
            storage_url: "http://x/v1/AUTH_t".into(),
            token: Secret::new("AUTH_tk_secret"),
            renew_at: Instant::now(),
        };
        assert!(!format!("{session:?}").contains("AUTH_tk_secret"));
    }
}
