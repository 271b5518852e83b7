//! The PUT itself, by `fetch` or by `XMLHttpRequest`. The body is the caller's `Blob`/`File`
//! handed to the browser as it is: it is never read into wasm memory.

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, Blob, Headers, RequestCache, RequestCredentials, RequestInit, RequestMode, XmlHttpRequest};

use crate::error::UploadError;
use crate::platform::{self, AbortLink, Boxed};

/// How the PUT is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TransportKind {
    /// `fetch`: no upload progress.
    Fetch,
    /// `XMLHttpRequest`: reports upload progress.
    Xhr,
}

/// Picks the transport: `"auto"` (or nothing) uses XHR when progress is wanted and XHR exists,
/// else fetch (which, with the Node.js entry's body hook, counts the bytes it sends).
pub(crate) fn choose(requested: Option<&str>, wants_progress: bool) -> Result<TransportKind, UploadError> {
    let xhr_exists = js_sys::Reflect::has(&js_sys::global(), &JsValue::from_str("XMLHttpRequest")).unwrap_or(false);
    match requested.unwrap_or("auto") {
        "auto" if wants_progress && xhr_exists => Ok(TransportKind::Xhr),
        "auto" | "fetch" => Ok(TransportKind::Fetch),
        "xhr" if xhr_exists => Ok(TransportKind::Xhr),
        "xhr" => Err(UploadError::invalid_input("transport", "XMLHttpRequest does not exist here; use \"fetch\" or \"auto\"")),
        _ => Err(UploadError::invalid_input("transport", "must be \"auto\", \"fetch\" or \"xhr\"")),
    }
}

/// What came back from the store (any HTTP status).
#[derive(Clone, Debug)]
pub(crate) struct PutResponse {
    pub status: u16,
    pub etag: Option<String>,
    pub request_id: Option<String>,
    pub body: String,
}

/// Why no response could be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PutFailure {
    /// The caller's signal fired.
    Aborted,
    /// The per-attempt timeout fired.
    Timeout,
    /// The browser reported a network error: a dropped connection, an unreachable host, or a
    /// response hidden by CORS. The browser does not say which.
    Failed,
}

/// One PUT attempt.
pub(crate) struct PutRequest<'a> {
    pub url: &'a str,
    pub body: &'a Blob,
    pub content_type: &'a str,
    pub progress: Option<Rc<dyn Fn(f64)>>,
    pub signal: Option<&'a AbortSignal>,
    pub timeout_ms: u64,
}

/// Sends one PUT with the chosen transport.
pub(crate) fn put(kind: TransportKind, req: PutRequest<'_>) -> Boxed<'_, Result<PutResponse, PutFailure>> {
    put_with_headers(kind, req, &[])
}

/// Sends one PUT with extra request headers (e.g. the ones a multipart `signPart` signed).
/// A `Content-Type` among them is not sent twice: put it in `req.content_type` instead.
pub(crate) fn put_with_headers<'a>(kind: TransportKind, req: PutRequest<'a>, extra: &'a [(String, String)]) -> Boxed<'a, Result<PutResponse, PutFailure>> {
    if platform::is_aborted(req.signal) {
        return Box::pin(std::future::ready(Err(PutFailure::Aborted)));
    }
    match kind {
        TransportKind::Fetch => Box::pin(put_fetch(req, extra)),
        TransportKind::Xhr => Box::pin(put_xhr(req, extra)),
    }
}

fn is_content_type(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-type")
}

async fn put_fetch(req: PutRequest<'_>, extra: &[(String, String)]) -> Result<PutResponse, PutFailure> {
    let link = AbortLink::new(req.signal, req.timeout_ms).map_err(|_| PutFailure::Failed)?;
    let headers = Headers::new().map_err(|_| PutFailure::Failed)?;
    headers.set("Content-Type", req.content_type).map_err(|_| PutFailure::Failed)?;
    for (k, v) in extra.iter().filter(|(k, _)| !is_content_type(k)) {
        headers.set(k, v).map_err(|_| PutFailure::Failed)?;
    }
    let init = RequestInit::new();
    init.set_method("PUT");
    init.set_headers(&headers);
    // Node.js: the entry's hook sets the body (counting the bytes as fetch takes them, when
    // progress is wanted: there is no XHR) and what keeps Node's fetch from holding it in memory.
    let mut _counting = None;
    match platform::body_hook() {
        Some(hook) => {
            _counting = req.progress.clone().map(progress_closure);
            let none = JsValue::NULL;
            let cb: &JsValue = _counting.as_ref().map_or(&none, |c| c.as_ref());
            hook.call3(&JsValue::UNDEFINED, &init, req.body, cb).map_err(|_| PutFailure::Failed)?;
        }
        None => init.set_body(req.body),
    }
    init.set_mode(RequestMode::Cors);
    init.set_credentials(RequestCredentials::Omit);
    init.set_cache(RequestCache::NoStore);
    init.set_signal(Some(&link.signal()));
    let request = web_sys::Request::new_with_str_and_init(req.url, &init).map_err(|_| PutFailure::Failed)?;
    let failure = |link: &AbortLink| {
        if link.user_aborted() {
            PutFailure::Aborted
        } else if link.fired() {
            PutFailure::Timeout
        } else {
            PutFailure::Failed
        }
    };
    let resp = match wasm_bindgen_futures::JsFuture::from(platform::global_fetch(&request)).await {
        Ok(r) => r,
        Err(_) => return Err(failure(&link)),
    };
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| PutFailure::Failed)?;
    let status = resp.status();
    let h = resp.headers();
    let etag = h.get("ETag").ok().flatten();
    let request_id = h.get("x-amz-request-id").ok().flatten();
    let body = if (200..300).contains(&status) {
        String::new()
    } else {
        match resp.text() {
            Ok(p) => match wasm_bindgen_futures::JsFuture::from(p).await {
                Ok(t) => t.as_string().unwrap_or_default(),
                Err(_) if link.fired() => return Err(failure(&link)),
                Err(_) => String::new(),
            },
            Err(_) => String::new(),
        }
    };
    if let Some(p) = &req.progress {
        if (200..300).contains(&status) {
            p(req.body.size());
        }
    }
    Ok(PutResponse { status, etag, request_id, body })
}

/// A JS callback that reports `event.loaded`: XHR's upload events, and the Node.js body hook's
/// `{ loaded }` (one closure type for both, so its glue is compiled once).
fn progress_closure(p: Rc<dyn Fn(f64)>) -> Closure<dyn FnMut(web_sys::ProgressEvent)> {
    Closure::new(move |e: web_sys::ProgressEvent| p(e.loaded()))
}

/// Aborts the XHR and unhooks its handlers when dropped.
struct XhrGuard {
    xhr: XmlHttpRequest,
    done: bool,
    _progress: Option<Closure<dyn FnMut(web_sys::ProgressEvent)>>,
}

impl Drop for XhrGuard {
    fn drop(&mut self) {
        self.xhr.set_onload(None);
        self.xhr.set_onerror(None);
        self.xhr.set_onabort(None);
        self.xhr.set_ontimeout(None);
        if let Ok(up) = self.xhr.upload() {
            up.set_onprogress(None);
        }
        if !self.done {
            let _ = self.xhr.abort();
        }
    }
}

async fn put_xhr(req: PutRequest<'_>, extra: &[(String, String)]) -> Result<PutResponse, PutFailure> {
    let xhr = XmlHttpRequest::new().map_err(|_| PutFailure::Failed)?;
    xhr.open_with_async("PUT", req.url, true).map_err(|_| PutFailure::Failed)?;
    xhr.set_request_header("Content-Type", req.content_type).map_err(|_| PutFailure::Failed)?;
    for (k, v) in extra.iter().filter(|(k, _)| !is_content_type(k)) {
        xhr.set_request_header(k, v).map_err(|_| PutFailure::Failed)?;
    }
    xhr.set_with_credentials(false);
    if req.timeout_ms > 0 {
        xhr.set_timeout(req.timeout_ms.min(u32::MAX as u64) as u32);
    }
    let progress = req.progress.clone().map(progress_closure);
    if let (Some(cb), Ok(up)) = (progress.as_ref(), xhr.upload()) {
        up.set_onprogress(Some(cb.as_ref().unchecked_ref()));
    }
    let mut guard = XhrGuard { xhr: xhr.clone(), done: false, _progress: progress };

    let mut slot = None;
    let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
    let Some((resolve, reject)) = slot else { return Err(PutFailure::Failed) };
    xhr.set_onload(Some(&resolve));
    xhr.set_onerror(Some(&reject));
    xhr.set_onabort(Some(&reject));
    xhr.set_ontimeout(Some(&reject));
    xhr.send_with_opt_blob(Some(req.body)).map_err(|_| PutFailure::Failed)?;

    let settled = match platform::race_abort(promise, req.signal).await {
        Ok(r) => r,
        Err(_) => return Err(PutFailure::Aborted),
    };
    guard.done = true;
    if let Err(ev) = settled {
        let kind = ev.dyn_ref::<web_sys::Event>().map(|e| e.type_()).unwrap_or_default();
        return Err(match kind.as_str() {
            "timeout" => PutFailure::Timeout,
            "abort" => PutFailure::Aborted,
            _ => PutFailure::Failed,
        });
    }
    let status = xhr.status().unwrap_or(0);
    if status == 0 {
        return Err(PutFailure::Failed);
    }
    let header = |n: &str| xhr.get_response_header(n).ok().flatten();
    let body = if (200..300).contains(&status) {
        String::new()
    } else {
        xhr.response_text().ok().flatten().unwrap_or_default()
    };
    Ok(PutResponse { status, etag: header("ETag"), request_id: header("x-amz-request-id"), body })
}

/// After a bare network failure: does the URL's origin answer at all? `true` means the server
/// answered, so the browser most likely hid the real response for lack of CORS headers.
///
/// First a `cors` GET of the origin: any answer, whatever its status, proves that the server is
/// up (and that its CORS lets this page read some answers). Then a `no-cors` GET, whose opaque
/// answer proves the same for servers without CORS for GET; alone it is not enough, because
/// browsers with opaque-response blocking (ORB: Chromium, Firefox) turn most opaque answers
/// (any error status, XML, JSON) into network errors, as if the server were unreachable.
pub(crate) fn origin_reachable(url: &str) -> Boxed<'_, bool> {
    Box::pin(origin_reachable_inner(url))
}

async fn origin_reachable_inner(url: &str) -> bool {
    // Outside a browser nothing hides an answer: a bare failure is the network's.
    if !platform::in_browser() {
        return false;
    }
    let origin = match crate::text::find(url, "://") {
        Some(i) => {
            let rest = url.get(i + 3..).unwrap_or("");
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            crate::text::cat(&[url.get(..i + 3).unwrap_or(""), rest.get(..end).unwrap_or(""), "/"])
        }
        None => return false,
    };
    // One 5 s budget for both probes.
    let Ok(link) = AbortLink::new(None, 5000) else { return false };
    for mode in [RequestMode::Cors, RequestMode::NoCors] {
        let init = RequestInit::new();
        init.set_method("GET");
        init.set_mode(mode);
        init.set_credentials(RequestCredentials::Omit);
        init.set_cache(RequestCache::NoStore);
        init.set_signal(Some(&link.signal()));
        let Ok(request) = web_sys::Request::new_with_str_and_init(&origin, &init) else { return false };
        if wasm_bindgen_futures::JsFuture::from(platform::global_fetch(&request)).await.is_ok() {
            return true;
        }
        if link.fired() {
            return false;
        }
    }
    false
}
