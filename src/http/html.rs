//! Rendering pages: the shared [`Layout`] every template extends (`templates/base.html`:
//! title, navigation, asset links), turning a template into a response, and the error
//! type handlers return ([`PageError`]), rendered as an HTML error page.
//!
//! Templates are compiled into the binary by askama, which escapes every `{{ value }}`
//! for HTML: text from samples or URLs never becomes markup.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use super::assets::LINKS;

/// Which navigation entry a page belongs to (marked current in the nav bar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `/` and graph pages.
    Browse,
    /// `/status`.
    Status,
    /// `/top`.
    Top,
    /// Anything else (error pages).
    None,
}

/// What `templates/base.html` reads: every page template has a `layout` field.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The page title (also the `<h1>` unless the page writes its own).
    pub title: String,
    /// The current navigation entry.
    pub section: Section,
    /// Stylesheet URL.
    pub css: &'static str,
    /// Script URL.
    pub js: &'static str,
}

impl Layout {
    /// The layout of a page titled `title` in `section`.
    pub fn new(title: impl Into<String>, section: Section) -> Self {
        Layout {
            title: title.into(),
            section,
            css: &LINKS.css,
            js: &LINKS.js,
        }
    }
}

impl Layout {
    /// Whether the navigation entry `name` (`browse`, `status`, `top`) is this page's.
    pub fn current(&self, name: &str) -> bool {
        let section = match self.section {
            Section::Browse => "browse",
            Section::Status => "status",
            Section::Top => "top",
            Section::None => "",
        };
        section == name
    }
}

/// Render `page` as a `200 text/html` response.
pub fn page<T: Template>(page: &T) -> Result<HttpResponse, PageError> {
    render(StatusCode::OK, page)
}

/// Render `page` as an HTML response with `status`.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Result<HttpResponse, PageError> {
    let body = page
        .render()
        .map_err(|e| PageError::Internal(format!("page template failed: {e}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// Why a page cannot be shown; rendered as an HTML error page with the matching status.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The URL names something malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The URL names nothing that exists (404).
    #[error("{0}")]
    NotFound(String),
    /// A part of the service is not answering (503).
    #[error("{0}")]
    Unavailable(&'static str),
    /// Storage failed (503).
    #[error("storage is not answering: {0}")]
    Storage(#[from] crate::store::storage::StorageError),
    /// A bug (500).
    #[error("{0}")]
    Internal(String),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    message: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::Unavailable(_) | PageError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = self.to_string();
        let title = status.canonical_reason().unwrap_or("Error");
        let page = ErrorPage {
            layout: Layout::new(format!("{} {title}", status.as_u16()), Section::None),
            message: &message,
        };
        render(status, &page).unwrap_or_else(|_| {
            HttpResponse::build(status)
                .content_type("text/plain; charset=utf-8")
                .body(message)
        })
    }
}

/// The 404 for URLs no route matches: a page, or JSON under `/api/`.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    PageError::NotFound(format!("nothing is served at {}", req.path())).response_for(&req)
}

impl PageError {
    /// This error as `req` expects it: `{"error": "..."}` for the JSON API (`/api/...`,
    /// whose clients parse JSON even from a 400), the HTML error page everywhere else.
    pub fn response_for(&self, req: &HttpRequest) -> HttpResponse {
        if req.path().starts_with("/api/") {
            self.json_response()
        } else {
            self.error_response()
        }
    }

    /// This error as the JSON API answers it: its status, body `{"error": "..."}`.
    pub fn json_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "error": self.to_string() }))
    }
}

/// Whether a checkbox-style query flag (`reversed=1`) is set: present, not empty, not `0`.
pub fn is_on(flag: Option<&str>) -> bool {
    flag.is_some_and(|value| !value.is_empty() && value != "0")
}
