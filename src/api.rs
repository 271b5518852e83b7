//! JSON over HTTP for the Hexnode API and the app's backend: one POST helper with timeouts,
//! abort, the client-side rate limiter and the classified retry policy.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, RequestCache, RequestCredentials, RequestInit, RequestMode};

use crate::error::{ErrorCode, UploadError};
use crate::hexnode::{classify_failure, ApiOp, Server};
use crate::limiter::RateLimiter;
use crate::platform::{self, AbortLink, Boxed};
use crate::retry::{decide, Decision, RetryPolicy};
use crate::text::{cat, num};

/// Default time one API call may take before it counts as a network failure.
pub(crate) const DEFAULT_API_TIMEOUT_MS: u64 = 30_000;

/// Added to a Hexnode API call that failed with no readable answer: the API may send no CORS
/// headers, and then only a backend can call it.
pub(crate) const HEXNODE_NO_CORS: &str = " Hexnode's API may not allow calls from other origins (it may send no CORS headers): then no page on another origin can call it, whatever the key. Call it from your backend instead and upload with `Uploader` and your backend's presign and verify endpoints (README: \"Through your backend\").";

/// A 2xx answer, its body parsed as JSON.
pub(crate) struct ApiReply {
    pub json: JsValue,
}

/// One JSON POST, with everything that shapes how it is sent and retried.
pub(crate) struct JsonPost<'a> {
    pub op: ApiOp,
    pub url: &'a str,
    pub body: &'a JsValue,
    pub headers: &'a [(String, String)],
    pub credentials: RequestCredentials,
    pub signal: Option<&'a AbortSignal>,
    pub timeout_ms: u64,
    pub policy: RetryPolicy,
    pub limiter: Option<&'a RefCell<RateLimiter>>,
    /// A value that must never appear in an error (the API key).
    pub secret: Option<&'a str>,
    /// Who answers: shapes the advice in error messages.
    pub server: Server,
}

fn what(op: ApiOp) -> &'static str {
    match op {
        ApiOp::Presign => "the presign request",
        ApiOp::Verify => "the verify request",
        ApiOp::Delete => "the delete request",
        ApiOp::Deploy => "the deploy request",
    }
}

fn origin_of(url: &str) -> &str {
    match crate::text::find(url, "://") {
        Some(i) => {
            let rest = url.get(i + 3..).unwrap_or("");
            let end = rest.find(['/', '?', '#']).map(|e| i + 3 + e).unwrap_or(url.len());
            url.get(..end).unwrap_or(url)
        }
        None => "this page's origin",
    }
}

struct RawReply {
    status: u16,
    text: String,
    retry_after: Option<String>,
}

async fn send_once(p: &JsonPost<'_>, body: &str) -> Result<RawReply, UploadError> {
    let link = AbortLink::new(p.signal, p.timeout_ms)?;
    let bad_header = |k: &str| UploadError::invalid_input(&cat(&["headers.", k]), "is not a valid HTTP header");
    let headers = Headers::new().map_err(|_| bad_header("Content-Type"))?;
    headers.set("Content-Type", "application/json").map_err(|_| bad_header("Content-Type"))?;
    headers.set("Accept", "application/json").map_err(|_| bad_header("Accept"))?;
    for (k, v) in p.headers {
        headers.set(k, v).map_err(|_| bad_header(k))?;
    }
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(body));
    init.set_mode(RequestMode::Cors);
    init.set_credentials(p.credentials);
    init.set_cache(RequestCache::NoStore);
    init.set_signal(Some(&link.signal()));
    let failed = |link: &AbortLink, during: &str| {
        if link.user_aborted() {
            UploadError::aborted()
        } else if link.fired() {
            UploadError::new(
                ErrorCode::Network,
                cat(&[what(p.op), " to ", origin_of(p.url), " timed out after ", &num(p.timeout_ms), " ms ", during, "; it will be retried if retries remain."]),
            )
        } else {
            let in_browser = platform::in_browser();
            let why = if in_browser {
                " failed before an answer could be read: the network failed, or the server's CORS does not allow this page's origin (check the browser console)."
            } else {
                " failed before an answer could be read: check the host and the port, and that the server is up."
            };
            let mut e = UploadError::new(ErrorCode::Network, cat(&[what(p.op), " to ", origin_of(p.url), why]));
            if in_browser && matches!(p.server, Server::Hexnode) {
                e.message.push_str(HEXNODE_NO_CORS);
            }
            e
        }
    };
    // Calls the global fetch through web-sys, never through a helper that assumes every
    // rejection is an `Error` (Firefox rejects an aborted fetch with a DOMException).
    let request = web_sys::Request::new_with_str_and_init(p.url, &init).map_err(|_| UploadError::invalid_input("url", "is not a URL that fetch accepts"))?;
    let response: web_sys::Response = match JsFuture::from(platform::global_fetch(&request)).await {
        Ok(r) => r.dyn_into().map_err(|_| failed(&link, ""))?,
        Err(_) => return Err(failed(&link, "")),
    };
    let status = response.status();
    let retry_after = response.headers().get("retry-after").ok().flatten();
    let text = match response.text() {
        Ok(promise) => match JsFuture::from(promise).await {
            Ok(t) => t.as_string().unwrap_or_default(),
            Err(_) => return Err(failed(&link, "while reading the answer")),
        },
        Err(_) => return Err(failed(&link, "while reading the answer")),
    };
    Ok(RawReply { status, text, retry_after })
}

/// Sends the POST, retrying as the policy says, and parses a 2xx answer as JSON.
pub(crate) fn post_json(p: JsonPost<'_>) -> Boxed<'_, Result<ApiReply, UploadError>> {
    Box::pin(post_json_inner(p))
}

async fn post_json_inner(p: JsonPost<'_>) -> Result<ApiReply, UploadError> {
    let body = js_sys::JSON::stringify(p.body)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| UploadError::invalid_input("body", "cannot be written as JSON"))?;
    let mut retries_done = 0u32;
    loop {
        platform::check_abort(p.signal)?;
        if let Some(l) = p.limiter {
            let wait = l.borrow_mut().reserve(platform::now_ms());
            platform::sleep(wait, p.signal).await?;
        }
        let mut err = match Box::pin(send_once(&p, &body)).await {
            Ok(r) if (200..300).contains(&r.status) => match parse_json(p.op, p.url, &r.text, p.secret) {
                Ok(reply) => return Ok(reply),
                Err(e) => e,
            },
            Ok(r) => {
                let e = classify_failure(p.server, p.op, r.status, &r.text, r.retry_after.as_deref(), platform::now_ms());
                if e.code == ErrorCode::RateLimited {
                    if let (Some(l), Some(ms)) = (p.limiter, e.retry_after_ms) {
                        l.borrow_mut().penalize(platform::now_ms(), ms);
                    }
                }
                e
            }
            Err(e) => e,
        };
        if let Some(s) = p.secret {
            err.redact_secret(s);
        }
        if err.code == ErrorCode::Aborted {
            return Err(err);
        }
        match decide(&p.policy, retries_done, &err, platform::jitter()) {
            Decision::Retry { delay_ms } => {
                platform::sleep(delay_ms, p.signal).await?;
                retries_done += 1;
            }
            Decision::Refresh | Decision::Fail => return Err(err),
        }
    }
}

/// A 2xx answer's JSON. Presign, delete and deploy promise an object; verify's contract is
/// not published, so any JSON counts, and an empty body (204) is `null`.
fn parse_json(op: ApiOp, url: &str, text: &str, secret: Option<&str>) -> Result<ApiReply, UploadError> {
    let verify = op == ApiOp::Verify;
    if verify && text.trim().is_empty() {
        return Ok(ApiReply { json: JsValue::NULL });
    }
    let parsed = js_sys::JSON::parse(text);
    let well_formed = match parsed {
        Ok(json) if json.is_object() || verify => return Ok(ApiReply { json }),
        Ok(_) => true,
        Err(_) => false,
    };
    let start = text.trim_start().as_bytes().first().copied();
    // JSON cut off on the wire is transient (retried like a network error); an HTML page or JSON
    // of the wrong shape will come back the same on a retry: it fails at once.
    let (code, said): (ErrorCode, &str) = match start {
        Some(b'{' | b'[') if !well_formed => (
            ErrorCode::Network,
            " answered 2xx, but its JSON was cut off (the connection dropped mid-answer?); it is retried if retries remain.",
        ),
        Some(b'<') => (
            ErrorCode::BadResponse,
            " answered 2xx with an HTML page: a proxy or a login page? JSON was expected: check the URL, and that nothing between this page and the server answers in its place.",
        ),
        _ if well_formed => (ErrorCode::BadResponse, " answered 2xx with JSON, but not the object expected. Check the URL."),
        _ => (ErrorCode::BadResponse, " answered 2xx with something that is not JSON. Check the URL."),
    };
    let mut m = String::from("The");
    m.push_str(what(op).strip_prefix("the").unwrap_or(what(op)));
    m.push_str(" to ");
    m.push_str(origin_of(url));
    m.push_str(said);
    let mut e = UploadError::new(code, m);
    if let Some(s) = secret {
        e.redact_secret(s);
    }
    Err(e)
}
