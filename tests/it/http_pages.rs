//! The HTTP side's pages and the rules every response follows: only GET and HEAD, security
//! headers on everything, compiled-in assets, typed URL keys (traversal refused), and
//! HTML escaping of anything that came from samples or URLs.

use crate::arclamp::{http_request, Arclamp, Response};
use crate::redis_server::RedisServer;

fn get(arclamp: &Arclamp, target: &str) -> Response {
    http_request(arclamp.http_port, "GET", target, &[]).expect("HTTP answer")
}

fn assert_secure_headers(response: &Response, what: &str) {
    assert_eq!(
        response.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    let csp = response
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
}

#[test]
fn only_get_and_head_are_served_and_every_response_has_the_security_headers() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(&redis, "");
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        for target in ["/", "/metrics", "/static/arclamp.css", "/nowhere"] {
            let r = http_request(arclamp.http_port, method, target, &["Content-Length: 0"])
                .expect("HTTP answer");
            assert_eq!(r.status, 405, "{method} {target}");
            assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method} {target}");
            assert_secure_headers(&r, &format!("{method} {target}"));
        }
    }
    for target in ["/metrics", "/healthz", "/readyz", "/nowhere"] {
        assert_secure_headers(&get(&arclamp, target), target);
    }
    let missing = get(&arclamp, "/nowhere/%3Cscript%3Ealert(1)%3C/script%3E");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let text = missing.text();
    assert!(text.contains("<nav>"), "{text}");
    assert!(!text.contains("<script>alert"), "{text}");
}

#[test]
fn assets_are_compiled_in_and_cached_for_long() {
    let redis = RedisServer::start();
    let arclamp = Arclamp::start(&redis, "");
    let page = get(&arclamp, "/nowhere").text();
    let css_link = page
        .split("href=\"")
        .find_map(|s| {
            s.split('"')
                .next()
                .filter(|u| u.starts_with("/static/arclamp.css?v="))
        })
        .unwrap_or_else(|| panic!("no stylesheet link in {page}"));
    let css = get(&arclamp, css_link);
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css
        .header("cache-control")
        .unwrap_or("")
        .contains("max-age=31536000"));
    assert!(css.text().contains("header.site"));
    let js = get(&arclamp, "/static/arclamp.js");
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let head = http_request(arclamp.http_port, "HEAD", "/static/arclamp.css", &[]).unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length").map(str::to_owned),
        Some(css.body.len().to_string())
    );
    assert_eq!(get(&arclamp, "/static/passwd").status, 404);
    assert_eq!(get(&arclamp, "/static/..%2Farclamp.toml").status, 404);
}
