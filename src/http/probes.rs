//! Health probes: `/healthz` (liveness: the actor system answers) and `/readyz`
//! (readiness: storage is reachable).

use actix_web::{web, HttpResponse};

use super::State;
use crate::actors::supervisor::Ping;

/// `GET /healthz`: 200 while the supervisor answers, 503 while it shuts down or not at all.
pub async fn healthz(state: web::Data<State>) -> HttpResponse {
    match state.supervisor.send(Ping).await {
        Ok(true) => HttpResponse::Ok().content_type("text/plain").body("ok\n"),
        Ok(false) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("shutting down\n"),
        Err(_) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("actor system not answering\n"),
    }
}

/// `GET /readyz`: 200 when storage answers, 503 with a JSON reason otherwise.
pub async fn readyz(state: web::Data<State>) -> HttpResponse {
    match state.storage.list("logs/").await {
        Ok(_) => HttpResponse::Ok().json(serde_json::json!({"ready": true, "storage": "ok"})),
        Err(e) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"ready": false, "storage": e.to_string()})),
    }
}
