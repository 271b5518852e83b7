//! The S3-protocol listener: `s3s` + `s3s-fs` wrapped in the behaviour of a
//! real S3 bucket that browsers depend on.
//!
//! The wrapper adds, in front of `s3s`:
//! * bucket CORS as S3 applies it ([`crate::bucket_cors`]: preflight answered here; every
//!   other response that a rule allows, errors included, carries
//!   `Access-Control-Allow-Origin`, and nothing else does);
//! * S3's refusal of a request that carries both query-string auth and an
//!   `Authorization` header (`400 InvalidArgument`);
//! * draining: the request body is always read to its end before a response
//!   is sent, so a browser streaming a large body sees the `403` XML instead
//!   of a connection reset; bodies are streamed through a bounded channel,
//!   never buffered whole;
//! * an `x-amz-request-id` on every response, also put in error XML;
//! * S3's refusal of a PUT without a known length: `Transfer-Encoding` (a
//!   chunked body) is `501 NotImplemented`, no `Content-Length` is
//!   `411 MissingContentLength`.
//!
//! `s3s` itself checks SigV4 signatures (including the signed
//! `Content-Type`) and presigned URL expiry (`AccessDenied`,
//! "Request has expired").

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    HeaderName, HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION, CONTENT_LENGTH,
    CONTENT_TYPE, ORIGIN, TRANSFER_ENCODING, VARY,
};
use http::{Method, Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;

use crate::bucket_cors::Allowed;
use crate::faults::{self, Action, Echo, Effect, Target};
use crate::stats::bump;
use crate::util::{self, RespBody};
use crate::App;

/// Methods the bucket's CORS rule allows.
pub const CORS_ALLOWED_METHODS: &str = "GET, PUT, HEAD, POST, DELETE";
/// Headers the bucket's CORS rule exposes to scripts.
pub const CORS_EXPOSE_HEADERS: &str = "ETag, x-amz-request-id";
/// How long a browser may cache a preflight answer, in seconds.
pub const CORS_MAX_AGE_SECS: u32 = 3000;
/// The longest time spent draining an unwanted request body before the
/// response is sent anyway.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);
/// S3's message for a PUT with `Transfer-Encoding` (a chunked body).
pub const TRANSFER_ENCODING_MESSAGE: &str =
    "A header you provided implies functionality that is not implemented";
/// S3's message for a PUT without `Content-Length`.
pub const MISSING_LENGTH_MESSAGE: &str = "You must provide the Content-Length HTTP header.";
/// S3's message for a request with two auth mechanisms.
pub const ONE_AUTH_MESSAGE: &str =
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
     Signature query string parameter or the Authorization header should be specified";

const X_AMZ_REQUEST_ID: HeaderName = HeaderName::from_static("x-amz-request-id");
/// Error bodies larger than this are passed through without a `RequestId`.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Answers one request to the store.
pub(crate) async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<RespBody> {
    let stats = &app.stats;
    match *req.method() {
        Method::PUT => {
            bump(&stats.store_put);
            if req.headers().contains_key(AUTHORIZATION) {
                bump(&stats.store_put_with_authorization);
            }
        }
        Method::OPTIONS => bump(&stats.store_options),
        _ => bump(&stats.store_other),
    }

    let request_id = util::random_hex(8).to_ascii_uppercase();
    let origin = req
        .headers()
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut resp = if req.method() == Method::OPTIONS {
        preflight(&app, req, origin.as_deref(), &request_id).await
    } else {
        let allowed = cors_allowed(&app, origin.as_deref(), req.method().as_str(), &[]);
        let complete = req.method() == Method::POST
            && req
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|p| p.starts_with("uploadId=")));
        let fired = match (req.method() == Method::PUT || complete, app.faults.as_ref()) {
            (true, Some(faults)) => {
                let key = object_key(&app.info.bucket, req.uri().path());
                let target = if complete {
                    Target::StoreComplete { key: &key }
                } else {
                    Target::StorePut { key: &key }
                };
                let fired = faults.take(&target, stats);
                if let Some(f) = &fired {
                    faults.record(f);
                }
                fired
            }
            _ => None,
        };
        let (mut resp, cors) = match fired {
            None => (dispatch(&app, req, &request_id).await, true),
            Some(f) => (
                faulted(&app, req, &request_id, &f.action).await,
                !f.action.no_cors,
            ),
        };
        if let Some(a) = allowed.as_ref().filter(|_| cors) {
            add_cors(&mut resp, a);
        }
        resp
    };
    if !resp.headers().contains_key(X_AMZ_REQUEST_ID) {
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut().insert(X_AMZ_REQUEST_ID, v);
        }
    }
    resp
}

/// The object key of a path-style `/bucket/key` path (the whole path for another bucket).
fn object_key(bucket: &str, path: &str) -> String {
    let rest = path.strip_prefix('/').unwrap_or(path);
    match rest.split_once('/') {
        Some((b, key)) if b == bucket => key.to_owned(),
        _ => rest.to_owned(),
    }
}

/// Answers a PUT that a fault was injected into (`--faults`): the delay first, then the
/// effect. Error answers drain the body first, as the store always does.
async fn faulted(
    app: &App,
    req: Request<Incoming>,
    request_id: &str,
    action: &Action,
) -> Response<RespBody> {
    action.delay().await;
    let echo = Echo::of(&req);
    match &action.effect {
        Effect::Proceed => dispatch(app, req, request_id).await,
        Effect::Reset { after_bytes } => faults::reset(req, *after_bytes).await,
        Effect::Status {
            status,
            retry_after,
            s3_code,
            message,
        } => {
            drain(req.into_body()).await;
            faults::store_status(
                *status,
                *retry_after,
                s3_code.as_deref(),
                message.as_deref(),
                &echo,
                request_id,
            )
        }
        Effect::Expire => {
            drain(req.into_body()).await;
            faults::expired(&echo, request_id)
        }
        Effect::BadJson(kind) => {
            drain(req.into_body()).await;
            faults::bad_json(*kind)
        }
    }
}

/// What the bucket's CORS allows a request from `origin` with `method` (and, for a
/// preflight, `headers`): the configured rules ([`crate::bucket_cors`]), or by default every
/// allowed origin with GET, PUT, HEAD, POST and DELETE and any header.
fn cors_allowed(
    app: &App,
    origin: Option<&str>,
    method: &str,
    headers: &[String],
) -> Option<Allowed> {
    let origin = origin?;
    let rules = app
        .bucket_cors
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match rules.as_ref() {
        Some(rules) => rules.allowed(origin, method, headers),
        None => (app.origins.allows(origin)
            && ["GET", "PUT", "HEAD", "POST", "DELETE"].contains(&method))
        .then(|| Allowed {
            origin: origin.to_owned(),
            methods: CORS_ALLOWED_METHODS.to_owned(),
            expose: CORS_EXPOSE_HEADERS.to_owned(),
            max_age: Some(CORS_MAX_AGE_SECS),
        }),
    }
}

/// The headers every non-preflight response to an allowed request carries.
fn add_cors(resp: &mut Response<RespBody>, allowed: &Allowed) {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&allowed.origin) {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    if let Ok(v) = HeaderValue::from_str(&allowed.expose) {
        if !allowed.expose.is_empty() {
            h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v);
        }
    }
    h.append(VARY, HeaderValue::from_static("Origin"));
}

/// Answers a CORS preflight like an S3 bucket with the configured CORS rules (by default:
/// GET, PUT, HEAD, POST and DELETE with any header from the allowed origins).
async fn preflight(
    app: &App,
    req: Request<Incoming>,
    origin: Option<&str>,
    request_id: &str,
) -> Response<RespBody> {
    let requested_method = req
        .headers()
        .get(ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let requested_headers = req.headers().get(ACCESS_CONTROL_REQUEST_HEADERS).cloned();
    let header_names = crate::bucket_cors::request_headers(
        requested_headers.as_ref().and_then(|v| v.to_str().ok()),
    );
    drain(req.into_body()).await;

    if origin.is_none() {
        return error_xml(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
            request_id,
        );
    }
    let allowed = requested_method
        .as_deref()
        .and_then(|m| cors_allowed(app, origin, m, &header_names));
    let Some(allowed) = allowed else {
        return error_xml(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, \
             request method / Access-Control-Request-Method or Access-Control-Request-Headers are not \
             whitelisted by the resource's CORS spec.",
            request_id,
        );
    };
    let mut resp = Response::new(util::empty());
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&allowed.origin) {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    if let Ok(v) = HeaderValue::from_str(&allowed.methods) {
        h.insert(ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    if let Some(v) = requested_headers {
        h.insert(ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    if let Some(secs) = allowed.max_age {
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(secs));
    }
    if !allowed.expose.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&allowed.expose) {
            h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v);
        }
    }
    h.insert(
        VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
        ),
    );
    resp
}

/// Escapes text for an XML element.
fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An S3 error response.
fn error_xml(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response<RespBody> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        xml_escape(code),
        xml_escape(message),
        xml_escape(request_id)
    );
    util::response(status, "application/xml", body)
}

/// True when the query string carries SigV4 (or V2) query auth.
fn has_query_auth(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            ["X-Amz-Signature", "X-Amz-Algorithm", "Signature"]
                .iter()
                .any(|n| name.eq_ignore_ascii_case(n))
        })
    })
}

/// Reads and discards a body to its end, for at most [`DRAIN_TIMEOUT`].
async fn drain(mut body: Incoming) {
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    })
    .await;
}

/// A request body fed from a channel, so that the connection's real body can
/// be drained by a separate task even after `s3s` has stopped reading.
struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    remaining: Option<u64>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(data))) => {
                if let Some(r) = &mut self.remaining {
                    *r = r.saturating_sub(data.len() as u64);
                }
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.remaining
            .map_or_else(SizeHint::default, SizeHint::with_exact)
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == Some(0)
    }
}

/// Reads the connection's body to its end, forwarding it to `tx` while the
/// receiver wants it and discarding the rest once the receiver is gone.
async fn pump(mut body: Incoming, tx: mpsc::Sender<io::Result<Bytes>>) {
    let mut tx = Some(tx);
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if let Some(sender) = &tx {
                    if sender.send(Ok(data)).await.is_err() {
                        tx = None; // s3s is done with the body: discard from now on
                    }
                }
            }
            Err(e) => {
                if let Some(sender) = &tx {
                    let _ = sender.send(Err(io::Error::other(e))).await;
                }
                return;
            }
        }
    }
}

/// Passes a request to `s3s`, draining its body and completing error XML.
async fn dispatch(app: &App, req: Request<Incoming>, request_id: &str) -> Response<RespBody> {
    if has_query_auth(req.uri().query()) && req.headers().contains_key(AUTHORIZATION) {
        drain(req.into_body()).await;
        return error_xml(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            ONE_AUTH_MESSAGE,
            request_id,
        );
    }
    if req.method() == Method::PUT {
        let refusal = if req.headers().contains_key(TRANSFER_ENCODING) {
            Some((StatusCode::NOT_IMPLEMENTED, "NotImplemented", TRANSFER_ENCODING_MESSAGE))
        } else if !req.headers().contains_key(CONTENT_LENGTH) {
            Some((StatusCode::LENGTH_REQUIRED, "MissingContentLength", MISSING_LENGTH_MESSAGE))
        } else {
            None
        };
        if let Some((status, code, message)) = refusal {
            bump(&app.stats.store_put_refused_length);
            drain(req.into_body()).await;
            return error_xml(status, code, message, request_id);
        }
    }

    let (parts, incoming) = req.into_parts();
    let remaining = http_body::Body::size_hint(&incoming).exact();
    let (tx, rx) = mpsc::channel(8);
    let pumping = tokio::spawn(pump(incoming, tx));
    let body = s3s::Body::http_body_unsync(ChannelBody { rx, remaining });
    let result = app.s3.call(Request::from_parts(parts, body)).await;

    // The s3s request (and with it the receiver) is gone now: whatever s3s
    // did not read is discarded by the pump. Wait for it so the client gets
    // to send its whole body before it sees the answer.
    let abort = pumping.abort_handle();
    if tokio::time::timeout(DRAIN_TIMEOUT, pumping).await.is_err() {
        abort.abort();
    }

    match result {
        Ok(resp) => {
            let resp = resp.map(UnsyncBoxBody::new);
            if resp.status().is_client_error() || resp.status().is_server_error() {
                with_request_id(resp, request_id).await
            } else {
                resp
            }
        }
        Err(e) => error_xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &format!("We encountered an internal error. Please try again. ({e:?})"),
            request_id,
        ),
    }
}

/// The `<Code>` of an S3 error XML body.
fn error_code(xml: &str) -> Option<&str> {
    let start = xml.find("<Code>")? + "<Code>".len();
    let len = xml[start..].find("</Code>")?;
    Some(&xml[start..start + len])
}

/// Real S3's message for common error codes (s3s leaves some out).
fn default_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method."
        }
        "AccessDenied" => "Access Denied",
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "InvalidAccessKeyId" | "NotSignedUp" => {
            "The AWS Access Key Id you provided does not exist in our records."
        }
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        _ => return None,
    })
}

/// Puts a default `<Message>` and a `<RequestId>` into an S3 error XML body that lacks one.
async fn with_request_id(resp: Response<RespBody>, request_id: &str) -> Response<RespBody> {
    let is_xml = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("xml"));
    let small = http_body::Body::size_hint(resp.body())
        .upper()
        .is_some_and(|n| n <= MAX_ERROR_BODY);
    if !is_xml || !small {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(collected) = body.collect().await else {
        return error_xml(
            parts.status,
            "InternalError",
            "could not render the error",
            request_id,
        );
    };
    let bytes = collected.to_bytes();
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if text.contains("</Error>") {
        if !text.contains("<Message>") {
            if let Some(msg) = error_code(&text).and_then(default_message) {
                text = text.replacen("</Code>", &format!("</Code><Message>{msg}</Message>"), 1);
            }
        }
        if !text.contains("<RequestId>") {
            let id = format!("<RequestId>{}</RequestId></Error>", xml_escape(request_id));
            text = text.replacen("</Error>", &id, 1);
        }
    }
    let body = Bytes::from(text);
    parts.headers.remove(CONTENT_LENGTH);
    if let Ok(v) = HeaderValue::from_str(&body.len().to_string()) {
        parts.headers.insert(CONTENT_LENGTH, v);
    }
    Response::from_parts(parts, util::full(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_auth_detection() {
        assert!(has_query_auth(Some(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab"
        )));
        assert!(has_query_auth(Some("a=1&x-amz-signature=ab")));
        assert!(has_query_auth(Some(
            "AWSAccessKeyId=a&Signature=b&Expires=1"
        )));
        assert!(!has_query_auth(Some("uploads")));
        assert!(!has_query_auth(None));
    }

    #[test]
    fn object_keys_of_paths() {
        assert_eq!(object_key("uploads", "/uploads/abc-1"), "abc-1");
        assert_eq!(object_key("uploads", "/uploads/a/b"), "a/b");
        assert_eq!(object_key("uploads", "/other/k"), "other/k");
        assert_eq!(object_key("uploads", "/"), "");
    }

    #[test]
    fn error_code_extraction() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code></Error>";
        assert_eq!(error_code(xml), Some("SignatureDoesNotMatch"));
        assert_eq!(error_code("<Error></Error>"), None);
        assert!(default_message("SignatureDoesNotMatch").is_some());
    }

    #[test]
    fn error_xml_shape() {
        let r = error_xml(StatusCode::BAD_REQUEST, "InvalidArgument", "a<b", "ID1");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/xml");
    }
}
