//! Headers and methods for every response: only GET and HEAD are served (anything else is
//! 405 with `Allow`), request headers past [`MAX_HEADER_BYTES`] get 431 (a slow or huge
//! request is cut off by the server's own limits, see [`super::start`]), every response says `X-Content-Type-Options: nosniff`, and every
//! response gets the strict [`HTML_POLICY`] Content-Security-Policy unless its handler set
//! its own (SVG graphs do: see [`svg_policy`]).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The policy of pages and every other non-SVG response: scripts, styles, frames and
/// fetches only from this origin, no inline script or style, no plugins but our own SVGs,
/// forms only to this origin, and only this origin may frame us.
pub const HTML_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-src 'self'; object-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'self'";

/// `GET, HEAD`: the only methods served.
pub const ALLOWED_METHODS: &str = "GET, HEAD";

/// Most bytes of request headers (names and values) served; browsers and Prometheus send a
/// few hundred. The server reads at most 128 KiB of them before it refuses on its own.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Middleware: refuse other methods and oversized headers, then add the security headers.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, ALLOWED_METHODS))
            .content_type("text/plain; charset=utf-8")
            .body("only GET and HEAD are served here\n");
        add_security_headers(response.headers_mut());
        return Ok(req.into_response(response).map_into_right_body());
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        let mut response =
            HttpResponse::build(actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
                .content_type("text/plain; charset=utf-8")
                .body(format!(
            "request headers of {header_bytes} bytes: at most {MAX_HEADER_BYTES} are served\n"
        ));
        add_security_headers(response.headers_mut());
        return Ok(req.into_response(response).map_into_right_body());
    }
    let mut response = next.call(req).await?;
    add_security_headers(response.headers_mut());
    Ok(response.map_into_left_body())
}

fn add_security_headers(headers: &mut header::HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(HTML_POLICY),
        );
    }
}

/// `'sha256-…'`: a CSP hash source for this exact text.
pub fn hash_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The policy for one SVG graph: its own embedded scripts, styles and event-handler
/// attributes (inferno's `onload="init(evt)"`) may run, by hash, and nothing else: no
/// other script, no network access. Works on the decoded SVG text.
pub fn svg_policy(svg: &str) -> String {
    let mut scripts: Vec<String> = element_texts(svg, "script")
        .iter()
        .map(|t| hash_source(t))
        .collect();
    let handlers: Vec<String> = event_handlers(svg).iter().map(|t| hash_source(t)).collect();
    if !handlers.is_empty() {
        scripts.push("'unsafe-hashes'".to_owned());
        scripts.extend(handlers);
    }
    let styles: Vec<String> = element_texts(svg, "style")
        .iter()
        .map(|t| hash_source(t))
        .collect();
    let list = |sources: Vec<String>| {
        if sources.is_empty() {
            "'none'".to_owned()
        } else {
            sources.join(" ")
        }
    };
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'self'",
        list(scripts),
        list(styles)
    )
}

/// The text content of every `<{name}>` element: text as is, CDATA sections unwrapped
/// (what a browser hashes for CSP).
fn element_texts(svg: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}");
    let close = format!("</{name}>");
    let mut texts = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        // `<scripts>` or `<style-x>` are other elements.
        if !after.starts_with(['>', ' ', '\t', '\n', '\r', '/']) {
            rest = after;
            continue;
        }
        let Some(tag_end) = after.find('>') else {
            break;
        };
        if after[..tag_end].ends_with('/') {
            texts.push(String::new());
            rest = &after[tag_end + 1..];
            continue;
        }
        let body_and_rest = &after[tag_end + 1..];
        let Some(end) = body_and_rest.find(&close) else {
            break;
        };
        texts.push(unwrap_cdata(&body_and_rest[..end]));
        rest = &body_and_rest[end + close.len()..];
    }
    texts
}

fn unwrap_cdata(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("<![CDATA[") {
        out.push_str(&rest[..start]);
        let inner = &rest[start + "<![CDATA[".len()..];
        match inner.find("]]>") {
            Some(end) => {
                out.push_str(&inner[..end]);
                rest = &inner[end + 3..];
            }
            None => {
                out.push_str(inner);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Values of `on…="…"` attributes in the root `<svg>` start tag (inferno puts its only
/// handler there; frames use listeners added by its script).
fn event_handlers(svg: &str) -> Vec<String> {
    let Some(start) = svg.find("<svg") else {
        return Vec::new();
    };
    let tag = &svg[start..];
    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
    let mut handlers = Vec::new();
    let mut rest = tag;
    while let Some(pos) = rest.find(" on") {
        let attr = &rest[pos + 1..];
        let Some(eq) = attr.find("=\"") else { break };
        let name = &attr[..eq];
        let value_and_rest = &attr[eq + 2..];
        let Some(end) = value_and_rest.find('"') else {
            break;
        };
        if name.bytes().all(|b| b.is_ascii_alphabetic()) {
            handlers.push(value_and_rest[..end].to_owned());
        }
        rest = &value_and_rest[end..];
    }
    handlers
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVG: &str = r#"<?xml version="1.0"?><svg version="1.1" width="10" onload="init(evt)" xmlns="http://www.w3.org/2000/svg"><style type="text/css">
text { x }
</style><script type="text/ecmascript"><![CDATA[
var a = 1;]]><![CDATA[function init(evt) {}]]></script><g><title>&lt;script&gt;</title></g></svg>"#;

    #[test]
    fn script_text_is_the_cdata_content() {
        assert_eq!(
            element_texts(SVG, "script"),
            vec!["\nvar a = 1;function init(evt) {}".to_owned()]
        );
        assert_eq!(
            element_texts(SVG, "style"),
            vec!["\ntext { x }\n".to_owned()]
        );
        assert_eq!(event_handlers(SVG), vec!["init(evt)".to_owned()]);
    }

    #[test]
    fn svg_policy_allows_exactly_the_embedded_code() {
        let policy = svg_policy(SVG);
        assert!(policy.contains(&hash_source("\nvar a = 1;function init(evt) {}")));
        assert!(policy.contains(&format!("'unsafe-hashes' {}", hash_source("init(evt)"))));
        assert!(policy.contains(&format!("style-src {}", hash_source("\ntext { x }\n"))));
        assert!(!policy.contains("unsafe-inline"));
        assert_eq!(
            svg_policy("<svg></svg>"),
            "default-src 'none'; script-src 'none'; style-src 'none'; img-src data:; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
        );
    }

    #[test]
    fn known_hash() {
        // echo -n 'alert(1)' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            hash_source("alert(1)"),
            "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
        );
    }
}
