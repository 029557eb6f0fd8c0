//! The board explorer page and the HTTP/1.1 side of the server
//! (`spec/board.md` §11).
//!
//! The page's three files are built by `crates/board/web/build.mjs` into
//! `crates/board/web/dist/` and embedded here, so the binary serves them
//! with nothing loaded from anywhere else. [`WebLayer`] answers `GET` and
//! `HEAD` of exactly `/`, `/index.html`, `/app.js` and `/app.css` with a
//! strict Content-Security-Policy; every other request goes on to the gRPC
//! routes (gRPC over HTTP/2 and gRPC-Web over HTTP/1.1 through tonic-web).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tonic::body::Body;
use tower::{Layer, Service};

/// `dist/index.html`.
const INDEX_HTML: &[u8] = include_bytes!("../web/dist/index.html");
/// `dist/app.js`.
const APP_JS: &[u8] = include_bytes!("../web/dist/app.js");
/// `dist/app.css`.
const APP_CSS: &[u8] = include_bytes!("../web/dist/app.css");

/// The Content-Security-Policy of every page response: the page may load
/// only its own script and style and talk only to its own origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self'; \
img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; \
base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// The embedded file served at `path`, with its content type.
pub fn asset(path: &str) -> Option<(&'static [u8], &'static str)> {
    match path {
        "/" | "/index.html" => Some((INDEX_HTML, "text/html; charset=utf-8")),
        "/app.js" => Some((APP_JS, "text/javascript; charset=utf-8")),
        "/app.css" => Some((APP_CSS, "text/css; charset=utf-8")),
        _ => None,
    }
}

fn asset_response(body: &'static [u8], content_type: &'static str, head: bool) -> Response<Body> {
    let mut r = Response::new(if head {
        Body::empty()
    } else {
        Body::new(http_body_util::Full::new(bytes::Bytes::from_static(body)))
    });
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

fn is_grpc(req: &Request<Body>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// Serves the page in front of the gRPC routes (or, disabled, passes
/// everything on).
#[derive(Debug, Clone, Copy)]
pub struct WebLayer {
    enabled: bool,
}

impl WebLayer {
    /// A layer that serves the page if `enabled`.
    pub fn new(enabled: bool) -> Self {
        WebLayer { enabled }
    }
}

impl<S> Layer<S> for WebLayer {
    type Service = WebService<S>;
    fn layer(&self, inner: S) -> WebService<S> {
        WebService {
            inner,
            enabled: self.enabled,
        }
    }
}

/// The service of [`WebLayer`].
#[derive(Debug, Clone)]
pub struct WebService<S> {
    inner: S,
    enabled: bool,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ResBody> Service<Request<Body>> for WebService<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<tonic::codegen::StdError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let method = req.method().clone();
        if self.enabled && !is_grpc(&req) && (method == Method::GET || method == Method::HEAD) {
            let response = match asset(req.uri().path()) {
                Some((body, ty)) => asset_response(body, ty, method == Method::HEAD),
                None => {
                    let mut r = Response::new(Body::new(http_body_util::Full::new(
                        bytes::Bytes::from_static(b"not found\n"),
                    )));
                    *r.status_mut() = StatusCode::NOT_FOUND;
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; charset=utf-8"),
                    );
                    r
                }
            };
            return Box::pin(async move { Ok(response) });
        }
        let fut = self.inner.call(req);
        Box::pin(async move { Ok(fut.await?.map(Body::new)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_embedded_with_types() {
        let (html, ty) = asset("/").expect("index");
        assert!(ty.starts_with("text/html"));
        assert!(!html.is_empty());
        assert_eq!(asset("/index.html").map(|a| a.0.len()), Some(html.len()));
        assert!(asset("/app.js").is_some_and(|(_, t)| t.starts_with("text/javascript")));
        assert!(asset("/app.css").is_some_and(|(_, t)| t.starts_with("text/css")));
        assert!(asset("/../Cargo.toml").is_none());
        assert!(asset("/tallyboard.v1.Board/GetCheckpoint").is_none());
    }
}
