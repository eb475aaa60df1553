//! HTTP negotiation for stored files, as plain functions: whether the client takes gzip,
//! entity tags, and whether a conditional GET can be answered `304 Not Modified`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{HeaderMap, ACCEPT_ENCODING};

use crate::store::storage::ObjectInfo;

/// Whether an `Accept-Encoding` value accepts gzip (`gzip`, `x-gzip` or `*` with a
/// non-zero quality). No header means identity only: a client that says nothing may not
/// understand gzip, so it gets the decoded bytes.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(value) = accept_encoding else {
        return false;
    };
    let mut star = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim().eq_ignore_ascii_case("q")).then(|| v.trim().parse::<f32>().ok())?
            })
            .unwrap_or(1.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => return quality > 0.0,
            "*" => star = Some(quality > 0.0),
            _ => {}
        }
    }
    star.unwrap_or(false)
}

/// Whether a request's `Accept-Encoding` headers (all of them, as one list) accept gzip:
/// [`accepts_gzip`] for a request. Every response that may be gzip'd asks this.
pub fn request_accepts_gzip(headers: &HeaderMap) -> bool {
    let values: Vec<&str> = headers
        .get_all(ACCEPT_ENCODING)
        .filter_map(|value| value.to_str().ok())
        .collect();
    accepts_gzip((!values.is_empty()).then(|| values.join(",")).as_deref())
}

/// A strong entity tag for one representation of a stored object: its size and
/// modification time, with `-gz` or `-id` for the gzip and the decoded representation.
pub fn etag(info: &ObjectInfo, gzip: bool) -> String {
    let nanos = info
        .modified
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let representation = if gzip { "gz" } else { "id" };
    format!("\"{:x}-{nanos:x}-{representation}\"", info.size)
}

/// Whether the client's copy is current: `If-None-Match` (any listed tag equal, or `*`)
/// decides when present; otherwise `If-Modified-Since` (at whole-second precision, as
/// HTTP dates are).
pub fn not_modified(
    if_none_match: Option<&str>,
    if_modified_since: Option<SystemTime>,
    etag: &str,
    modified: SystemTime,
) -> bool {
    if let Some(tags) = if_none_match {
        let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
        let ours = bare(etag);
        return tags.split(',').any(|t| t.trim() == "*" || bare(t) == ours);
    }
    match if_modified_since {
        Some(since) => whole_seconds(modified) <= whole_seconds(since),
        None => false,
    }
}

/// A time truncated to whole seconds (HTTP dates have no fractions).
pub fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(secs: u64) -> ObjectInfo {
        ObjectInfo {
            path: "x".into(),
            size: 10,
            modified: UNIX_EPOCH + Duration::from_millis(secs * 1000 + 250),
        }
    }

    #[test]
    fn gzip_acceptance() {
        assert!(accepts_gzip(Some("gzip, deflate, br")));
        assert!(accepts_gzip(Some("br;q=1.0, gzip;q=0.8")));
        assert!(accepts_gzip(Some("*")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("*;q=0")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(Some("br, *;q=0")));
        assert!(!accepts_gzip(None));
        assert!(accepts_gzip(Some("x-gzip")));
        // An explicit refusal of gzip wins over `*`.
        assert!(!accepts_gzip(Some("gzip;q=0, *")));
    }

    #[test]
    fn every_accept_encoding_header_of_a_request_counts() {
        use actix_web::http::header::HeaderValue;
        let mut headers = HeaderMap::new();
        assert!(!request_accepts_gzip(&headers));
        headers.append(ACCEPT_ENCODING, HeaderValue::from_static("br"));
        assert!(!request_accepts_gzip(&headers));
        headers.append(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        assert!(request_accepts_gzip(&headers));
    }

    #[test]
    fn etags_differ_per_representation_and_version() {
        assert_ne!(etag(&info(1), true), etag(&info(1), false));
        assert_ne!(etag(&info(1), true), etag(&info(2), true));
    }

    #[test]
    fn conditional_get() {
        let i = info(100);
        let tag = etag(&i, true);
        assert!(not_modified(Some(&tag), None, &tag, i.modified));
        assert!(not_modified(
            Some(&format!("\"a\", W/{tag}")),
            None,
            &tag,
            i.modified
        ));
        assert!(not_modified(Some("*"), None, &tag, i.modified));
        assert!(!not_modified(
            Some("\"other\""),
            Some(i.modified),
            &tag,
            i.modified
        ));
        let since = UNIX_EPOCH + Duration::from_secs(100);
        assert!(not_modified(None, Some(since), &tag, i.modified));
        assert!(!not_modified(
            None,
            Some(since - Duration::from_secs(1)),
            &tag,
            i.modified
        ));
        assert!(!not_modified(None, None, &tag, i.modified));
    }
}
