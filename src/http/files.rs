//! Raw files at the original site's paths: `/svgs/{period}/{file}.svgz` and
//! `/logs/{period}/{file}.log.gz`, read through the storage trait.
//!
//! Served gzip-encoded (`Content-Encoding: gzip`) to clients that accept it and decoded
//! otherwise, with ETag / Last-Modified and `304` for conditional GETs. Logs carry
//! `Access-Control-Allow-Origin: *` (speedscope loads them by URL); graphs carry a
//! Content-Security-Policy that lets exactly their own embedded script run.

use std::sync::Arc;
use std::time::SystemTime;

use actix_web::http::header::{self, HttpDate};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

use super::file_cache::CachedFile;
use super::html::PageError;
use super::negotiate::{accepts_gzip, etag, not_modified};
use super::{keys, security, State};
use crate::compress;

/// Which kind of stored file a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Svg,
    Log,
}

/// `GET /svgs/{period}/{file}`.
pub async fn svg(
    req: HttpRequest,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (key, kind) = keys::svg_file(&path.0, &path.1)?;
    serve(&req, &state, key.svg_path(&kind), FileKind::Svg).await
}

/// `GET /logs/{period}/{file}`.
pub async fn log(
    req: HttpRequest,
    state: web::Data<State>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let key = keys::log_file(&path.0, &path.1)?;
    serve(&req, &state, key.log_path(), FileKind::Log).await
}

fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn serve(
    req: &HttpRequest,
    state: &State,
    path: String,
    kind: FileKind,
) -> Result<HttpResponse, PageError> {
    let missing = || {
        PageError::NotFound(format!(
            "{path} does not exist (or was deleted by retention)"
        ))
    };
    let info = state.storage.stat(&path).await?.ok_or_else(missing)?;
    let file = match state.files.get(&info) {
        Some(file) => file,
        None => {
            let bytes = state.storage.get(&path).await?.ok_or_else(missing)?;
            let policy = match kind {
                FileKind::Svg => Some(svg_policy(bytes.clone()).await?),
                FileKind::Log => None,
            };
            let file = CachedFile {
                info: info.clone(),
                bytes,
                policy,
            };
            state.files.insert(file.clone());
            file
        }
    };
    let stored_gzip = compress::is_gzip(&file.bytes);
    let send_gzip = stored_gzip && accepts_gzip(header_str(req, header::ACCEPT_ENCODING));
    let tag = etag(&file.info, send_gzip || !stored_gzip);
    let since = header_str(req, header::IF_MODIFIED_SINCE)
        .and_then(|s| s.parse::<HttpDate>().ok())
        .map(SystemTime::from);
    let unchanged = not_modified(
        header_str(req, header::IF_NONE_MATCH),
        since,
        &tag,
        file.info.modified,
    );
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, tag.clone()))
        .insert_header((
            header::LAST_MODIFIED,
            HttpDate::from(file.info.modified).to_string(),
        ))
        .insert_header((header::VARY, "Accept-Encoding"))
        // Live windows are rewritten often: always revalidate (cheap, thanks to the ETag).
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    match kind {
        FileKind::Svg => {
            response.content_type("image/svg+xml");
            if let Some(policy) = &file.policy {
                response.insert_header((header::CONTENT_SECURITY_POLICY, policy.as_ref()));
            }
        }
        FileKind::Log => {
            response
                .content_type("text/plain; charset=utf-8")
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
        }
    }
    if unchanged {
        return Ok(response.finish());
    }
    if send_gzip {
        response.insert_header((header::CONTENT_ENCODING, "gzip"));
        return Ok(response.body(file.bytes));
    }
    if !stored_gzip {
        return Ok(response.body(file.bytes));
    }
    Ok(response.streaming(gunzip_stream(file.bytes)))
}

/// Decoded text goes out in pieces of this size.
const DECODED_PIECE: usize = 256 * 1024;

/// The decoded text of gzip `bytes` as a response body, decoded on a blocking thread a
/// couple of pieces ahead of the client. A daily log is gigabytes of text: a client that
/// does not accept gzip (wget, for one) must not make the service hold all of it, nor
/// decode faster than it reads. A damaged file ends the body early (the client sees a
/// truncated chunked response).
fn gunzip_stream(bytes: Bytes) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let (pieces, receiver) = tokio::sync::mpsc::channel(2);
    actix_web::rt::task::spawn_blocking(move || {
        for piece in compress::gunzip_chunks(bytes, DECODED_PIECE) {
            let piece = piece.map_err(|e| {
                tracing::warn!(error = %e, "a stored file being served does not decompress");
                std::io::Error::other(e)
            });
            // The client went away: stop decoding.
            if pieces.blocking_send(piece).is_err() {
                break;
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        let piece = receiver.recv().await?;
        Some((piece, receiver))
    })
}

/// Decode a (graph's) gzip off the HTTP worker thread.
async fn gunzip(bytes: Bytes) -> Result<Bytes, PageError> {
    web::block(move || {
        compress::maybe_gunzip(&bytes).map(|decoded| Bytes::from(decoded.into_owned()))
    })
    .await
    .map_err(|e| PageError::Internal(format!("decoding worker failed: {e}")))?
    .map_err(|e| PageError::Internal(format!("stored file is damaged: {e}")))
}

/// The CSP of one graph, from its decoded text.
async fn svg_policy(bytes: Bytes) -> Result<Arc<str>, PageError> {
    let decoded = gunzip(bytes).await?;
    Ok(Arc::from(security::svg_policy(&String::from_utf8_lossy(
        &decoded,
    ))))
}
