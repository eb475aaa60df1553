//! Health probes: `/healthz` (liveness: the actor system answers) and `/readyz`
//! (readiness: storage is reachable and writes succeed). In pub/sub mode the Redis state is
//! reported but never fails it, so a Redis outage does not take the browser off a
//! Kubernetes Service; in stream mode a replica is ready only while it consumes, so a
//! rolling update waits for the new replica to read before it stops the old one.

use actix_web::{web, HttpResponse};

use super::State;

/// `GET /healthz`: 200 while the service answers, 503 while it shuts down or not at all.
pub async fn healthz(state: web::Data<State>) -> HttpResponse {
    match state.live.ping().await {
        Some(true) => HttpResponse::Ok().content_type("text/plain").body("ok\n"),
        Some(false) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("shutting down\n"),
        None => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("actor system not answering\n"),
    }
}

/// Whether the subscriber is connected, as `arclamp_redis_connected` says.
fn redis_connected(state: &State) -> bool {
    crate::ops::exposition::parse(&state.metrics.render())
        .iter()
        .any(|s| s.name == "arclamp_redis_connected" && s.value >= 1.0)
}

/// `GET /readyz`: 200 when storage answers one small request and the last write succeeded,
/// 503 with a JSON reason otherwise (never a listing: a store holds years of objects).
pub async fn readyz(state: web::Data<State>) -> HttpResponse {
    let connected = redis_connected(&state);
    let redis = if connected {
        "connected"
    } else {
        "disconnected"
    };
    let needs_redis = state.site().await.is_ok_and(|site| site.ready_needs_redis);
    if needs_redis && !connected {
        return HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "ready": false,
            "storage": "not checked",
            "redis": "not consuming (stream mode needs Redis to be ready)",
        }));
    }
    match state.storage.check().await {
        Ok(_) => HttpResponse::Ok().json(serde_json::json!({
            "ready": true,
            "storage": "ok",
            "redis": redis,
        })),
        Err(e) => HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "ready": false,
            "storage": e.to_string(),
            "redis": redis,
        })),
    }
}
