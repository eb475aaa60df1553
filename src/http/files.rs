//! Raw files at the original site's paths: `/svgs/{period}/{file}.svgz` and
//! `/logs/{period}/{file}.log.gz`, read through the storage trait.
//!
//! Served gzip-encoded (`Content-Encoding: gzip`) to clients that accept it and decoded
//! otherwise (a log stored as a packed trace is served as the folded log it holds, gzip'd
//! as it is made), with ETag / Last-Modified and `304` for conditional GETs. Logs carry
//! `Access-Control-Allow-Origin: *` (speedscope loads them by URL); graphs carry a
//! Content-Security-Policy that lets exactly their own embedded script run. The compiled-in
//! stylesheet and scripts ([`super::assets`]) are served here too, at `/static/{name}`.

use std::sync::Arc;
use std::time::SystemTime;

use actix_web::http::header::{self, HttpDate};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

use futures_util::StreamExt;

use super::file_cache::{CachedFile, FileCache};
use super::html::PageError;
use super::negotiate::{etag, not_modified, request_accepts_gzip};
use super::{keys, security, stream_body, State};
use crate::ops::events;
use crate::store::storage::ByteStream;
use crate::store::{compress, packed};

/// `GET /static/{name}`: a compiled-in asset, cacheable for a year (its URL carries its hash).
pub async fn asset(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    let Some(asset) = super::assets::find(name.as_str()) else {
        return super::html::not_found(req).await;
    };
    HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(asset.body)
}

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
    let stored = match state.files.get(&info) {
        Some(file) => Stored::Whole(file),
        // A big log (a day's is a gigabyte) is passed on as storage reads it.
        None if kind == FileKind::Log && !FileCache::keeps(info.size) => {
            let mut stream = state.storage.get_stream(&path).await?.ok_or_else(missing)?;
            // Its first piece says whether it is stored as gzip.
            let first = stream.pieces.next().await.transpose()?.unwrap_or_default();
            Stored::Streamed {
                size: stream.size,
                first,
                rest: stream.pieces,
            }
        }
        None => {
            let bytes = state.storage.get(&path).await?.ok_or_else(missing)?;
            let policy = match kind {
                FileKind::Svg => Some(svg_policy(&path, bytes.clone()).await?),
                FileKind::Log => None,
            };
            let file = CachedFile {
                info: info.clone(),
                bytes,
                policy,
            };
            state.files.insert(file.clone());
            Stored::Whole(file)
        }
    };
    let stored_gzip = compress::is_gzip(stored.head());
    // A packed trace is never sent as stored: it becomes the folded log it holds.
    let stored_packed = packed::is_packed(stored.head());
    let send_gzip = (stored_gzip || stored_packed) && request_accepts_gzip(req.headers());
    let tag = etag(&info, send_gzip || !(stored_gzip || stored_packed));
    let since = header_str(req, header::IF_MODIFIED_SINCE)
        .and_then(|s| s.parse::<HttpDate>().ok())
        .map(SystemTime::from);
    let unchanged = not_modified(
        header_str(req, header::IF_NONE_MATCH),
        since,
        &tag,
        info.modified,
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
            HttpDate::from(info.modified).to_string(),
        ))
        .insert_header((header::VARY, "Accept-Encoding"))
        // Live windows are rewritten often: always revalidate (cheap, thanks to the ETag).
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    match kind {
        FileKind::Svg => {
            response.content_type("image/svg+xml");
            if let Some(policy) = stored.policy() {
                response.insert_header((header::CONTENT_SECURITY_POLICY, policy));
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
    }
    let decode = (stored_gzip && !send_gzip) || stored_packed;
    Ok(match stored {
        Stored::Whole(file) if !decode => response.body(file.bytes),
        Stored::Streamed { size, .. } if !decode => response
            .no_chunking(size)
            .streaming(stream_body::passthrough(path, stored.into_pieces())),
        stored => response.streaming(stream_body::gunzip(
            path,
            stored.into_pieces(),
            stored_packed && send_gzip,
        )),
    })
}

/// A stored file about to be served: whole (small enough for the file cache), or as
/// storage reads it (a big log), its first piece already read.
enum Stored {
    Whole(CachedFile),
    Streamed {
        size: u64,
        first: Bytes,
        rest: ByteStream,
    },
}

impl Stored {
    /// The file's first bytes (enough to tell gzip).
    fn head(&self) -> &[u8] {
        match self {
            Stored::Whole(file) => &file.bytes,
            Stored::Streamed { first, .. } => first,
        }
    }

    /// A graph's Content-Security-Policy.
    fn policy(&self) -> Option<&str> {
        match self {
            Stored::Whole(file) => file.policy.as_deref(),
            Stored::Streamed { .. } => None,
        }
    }

    /// All of the file's bytes, in order, as a stream.
    fn into_pieces(self) -> ByteStream {
        let (first, rest): (Bytes, ByteStream) = match self {
            Stored::Whole(file) => (file.bytes, Box::pin(futures_util::stream::empty())),
            Stored::Streamed { first, rest, .. } => (first, rest),
        };
        Box::pin(futures_util::stream::once(async move { Ok(first) }).chain(rest))
    }
}

/// Decode a (graph's, stored at `path`) gzip off the HTTP worker thread.
async fn gunzip(path: &str, bytes: Bytes) -> Result<Bytes, PageError> {
    web::block(move || {
        compress::maybe_gunzip(&bytes).map(|decoded| Bytes::from(decoded.into_owned()))
    })
    .await
    .map_err(|e| PageError::Internal(format!("decoding worker failed: {e}")))?
    .map_err(|e| {
        let error = e.to_string();
        events::served_file_damaged(path, &error);
        PageError::Internal(format!("stored file {path} is damaged: {error}"))
    })
}

/// The CSP of one graph (stored at `path`), from its decoded text.
async fn svg_policy(path: &str, bytes: Bytes) -> Result<Arc<str>, PageError> {
    let decoded = gunzip(path, bytes).await?;
    Ok(Arc::from(security::svg_policy(&String::from_utf8_lossy(
        &decoded,
    ))))
}
