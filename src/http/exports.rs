//! Profiles for other tools: `/export/{period}/{window}.{channel}.{entry}.speedscope.json`
//! (speedscope) and `....pb.gz` (pprof) for a window, `/range.speedscope.json` and
//! `/range.pb.gz` (the query of `/range`) for windows merged, `/diff.speedscope.json` (a
//! "before" and an "after" profile) and `/diff.folded` (`STACK BEFORE AFTER`, the input of
//! differential flame graphs) for two windows compared. Every sample is exact. They
//! carry `Access-Control-Allow-Origin: *`, as `/logs/` does, so that speedscope.app (or
//! any page) can open them by URL. The conversion is [`crate::graphs::export`]; the work is
//! bounded like range graphs ([`crate::graphs::on_demand`]).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::keys;
use super::on_demand::{
    client_has, diff_request, error_text, query, range_request, DiffQuery, RangeQuery,
};
use super::State;
use crate::graphs::export::ExportFormat;
use crate::graphs::on_demand::{Exported, OnDemandError, Series};

/// `GET /export/{period}/{file}`: one window's log as a profile.
pub async fn window(
    req: HttpRequest,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (period, file) = path.into_inner();
    let result = async {
        let not_an_export = || {
            OnDemandError::NotFound(format!(
                "{file:?} is not an export: name a window's WINDOW.CHANNEL.ENTRY followed by \
                 .speedscope.json or .pb.gz"
            ))
        };
        let (stem, format) = ExportFormat::split_file_name(&file).ok_or_else(not_an_export)?;
        let key = keys::log_file(&period, &format!("{stem}.log.gz"))
            .map_err(|e| OnDemandError::NotFound(e.to_string()))?;
        let series = Series::new(&key.period, &key.channel, &key.entry)?;
        let exported = state
            .on_demand
            .get()
            .export_window(&series, &key.window, format)
            .await?;
        Ok((format, exported))
    }
    .await;
    match result {
        Ok((format, exported)) => response(&req, format, &file, exported),
        Err(e) => error_text("export", &e),
    }
}

/// `GET /range.speedscope.json`.
pub async fn range_speedscope(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    range(req, state, ExportFormat::Speedscope).await
}

/// `GET /range.pb.gz`.
pub async fn range_pprof(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    range(req, state, ExportFormat::Pprof).await
}

async fn range(req: HttpRequest, state: web::Data<State>, format: ExportFormat) -> HttpResponse {
    let result = async {
        let q: RangeQuery = query(&req)?;
        // Profiles are root first either way: `reversed` is accepted and changes nothing.
        let (series, _) = range_request(&q)?;
        let exported = state
            .on_demand
            .get()
            .export_range(&series, &q.from, &q.to, format)
            .await?;
        let file = format!(
            "{}_to_{}.{}.{}.{}",
            q.from,
            q.to,
            series.channel,
            series.entry,
            format.suffix()
        );
        Ok((file, exported))
    }
    .await;
    match result {
        Ok((file, exported)) => response(&req, format, &file, exported),
        Err(e) => error_text("export", &e),
    }
}

/// `GET /diff.speedscope.json`: windows `a` and `b` as two profiles of one file.
pub async fn diff_speedscope(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    diff(req, state, false).await
}

/// `GET /diff.folded`: windows `a` and `b` as `STACK BEFORE AFTER` lines.
pub async fn diff_folded(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    diff(req, state, true).await
}

async fn diff(req: HttpRequest, state: web::Data<State>, folded: bool) -> HttpResponse {
    let result = async {
        let q: DiffQuery = query(&req)?;
        // The mode changes how a graph scales the sides; an export holds both as they are.
        let (series, _) = diff_request(&q)?;
        state
            .on_demand
            .get()
            .export_diff(&series, &q.a, &q.b, folded)
            .await
    }
    .await;
    match result {
        Ok(exported) if folded => respond(&req, "text/plain; charset=utf-8", None, exported),
        Ok(exported) => respond(
            &req,
            ExportFormat::Speedscope.content_type(),
            None,
            exported,
        ),
        Err(e) => error_text("export", &e),
    }
}

/// The export with its validator (304 when the client has it), open to every origin.
fn response(
    req: &HttpRequest,
    format: ExportFormat,
    file: &str,
    exported: Exported,
) -> HttpResponse {
    // Names are window, channel and entry (checked); no quoting issues.
    let attachment = (format == ExportFormat::Pprof).then_some(file);
    respond(req, format.content_type(), attachment, exported)
}

/// The bytes of `exported` as `content_type`, downloaded as `attachment` when named.
fn respond(
    req: &HttpRequest,
    content_type: &str,
    attachment: Option<&str>,
    exported: Exported,
) -> HttpResponse {
    let etag = format!("\"{}\"", exported.etag);
    let unchanged = client_has(req, &etag);
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .content_type(content_type.to_owned());
    if let Some(file) = attachment {
        response.insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ));
    }
    if unchanged {
        response.finish()
    } else {
        response.body(exported.bytes)
    }
}
