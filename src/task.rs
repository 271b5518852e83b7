//! Uploads as tasks that can be paused and resumed (`Uploader.createUpload`), and multipart
//! uploads: create → for each part (at most `concurrency` at once) signPart → PUT of a
//! `Blob.slice()` → complete → verify, with `abort` on failure. The multipart calls go
//! through the app's backend (endpoints or callbacks, with `presign`) or are signed in the
//! browser (`src/s3_multipart.rs`, with `s3`); the flow sees only [`Ops`].
//!
//! Parts are signed just before they are sent (and again before every retry), retried on
//! their own by the classified policy ([`decide`]), and re-signed when their URL expired.
//! The part bodies are slices of the caller's `Blob`, handed to the browser as they are.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, Blob, File};

use crate::api;
use crate::bindings::{js_error, upload_result, Uploader};
use crate::error::{ErrorCode, UploadError};
use crate::flow::{self, Phase, Progress, PutDone, UploadJob, Uploaded};
use crate::hexnode::{ApiOp, Presigned};
use crate::input;
use crate::multipart::{DonePart, Ledger, MultipartSettings, Part};
use crate::opts::Opts;
use crate::platform;
use crate::presigned;
use crate::retry::{decide, Decision};
use crate::s3_error;
use crate::source::{call_callback, to_js, BackendCore, Source, Via};
use crate::transport::{self, PutFailure, PutRequest, TransportKind};

#[wasm_bindgen(typescript_custom_section)]
const TS_MULTIPART: &'static str = r#"
/** Multipart uploads (files at or above `threshold`). With `presign`, `create`, `signPart`, `complete` and
 * `abort` are required: each is a URL POSTed the same JSON (with the Uploader's `headers`/`credentials`) or a
 * callback. With `s3`, the browser signs the multipart calls itself and these five must not be given. */
export interface MultipartOptions {
  /** Bytes; files at or above go multipart. Default 100 MiB; at least 5 MiB. */ threshold?: number;
  /** Default max(8 MiB, ceil(size / 10000)); 5 MiB..5 GiB and at most 10000 parts. */ partSize?: number;
  /** Parts in flight per file, 1..16, default 4. */ concurrency?: number;
  /** Leave the parts in the store on failure instead of calling `abort`. Default false. */ leaveParts?: boolean;
  create?: string | ((r: { fileName: string; contentType: string; size: number }) => Promise<{ uploadId: string; key: string }>);
  signPart?: string | ((r: { uploadId: string; key: string; partNumber: number; size: number }) => Promise<{ url: string; headers?: Record<string, string> }>);
  complete?: string | ((r: { uploadId: string; key: string; parts: { partNumber: number; etag: string }[] }) => Promise<unknown>);
  abort?: string | ((r: { uploadId: string; key: string }) => Promise<unknown>);
  listParts?: string | ((r: { uploadId: string; key: string }) => Promise<{ partNumber: number; size: number; etag: string }[]>);
}
export interface UploaderOptions { multipart?: MultipartOptions }
/** Where an `UploadTask` is. */
export type UploadTaskState = "idle" | "running" | "paused" | "done" | "failed" | "aborted";
"#;

/// How early before its expiry a part URL counts as expired.
const EXPIRY_MARGIN_MS: u64 = 5_000;
/// How many fresh URLs one part may ask for after expiries.
const MAX_PART_REFRESHES: u32 = 3;

/// The `multipart` option of an `Uploader`, validated.
pub(crate) struct MultipartCore {
    pub settings: MultipartSettings,
    /// The backend's endpoints or callbacks; `None` with the `s3` source, which signs the
    /// multipart calls in the browser.
    endpoints: Option<Rc<Endpoints>>,
}

/// The backend's multipart endpoints or callbacks.
struct Endpoints {
    create: Via,
    sign_part: Via,
    complete: Via,
    abort: Via,
    list_parts: Option<Via>,
}

/// The endpoint fields of `opts.multipart`.
const ENDPOINT_FIELDS: [&str; 5] = ["create", "signPart", "complete", "abort", "listParts"];

fn read_via(o: &Opts<'_>, key: &str) -> Result<Option<Via>, UploadError> {
    let field = format!("multipart.{key}");
    let Some(v) = o.raw(key) else { return Ok(None) };
    if let Some(s) = v.as_string() {
        if s.trim().is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UploadError::invalid_input(&field, "must be a URL without spaces"));
        }
        return Ok(Some(Via::Url(s)));
    }
    match v.dyn_into::<Function>() {
        Ok(f) => Ok(Some(Via::Func(f))),
        Err(_) => Err(UploadError::invalid_input(&field, "must be a URL string or a function")),
    }
}

/// Reads `opts.multipart` of `new Uploader()`; `None` when absent. With `signed_in_browser`
/// (the `s3` source) the endpoint fields are refused (invalid input naming the field), as the
/// browser makes those calls itself; otherwise `create`, `signPart`, `complete` and `abort`
/// are required.
pub(crate) fn read_multipart(opts: &JsValue, signed_in_browser: bool) -> Result<Option<Rc<MultipartCore>>, UploadError> {
    let o = Opts::new(opts, "opts")?;
    let Some(m) = o.object("multipart")? else { return Ok(None) };
    let m = Opts::new(&m, "multipart")?;
    let settings = MultipartSettings::new(m.number("threshold")?, m.number("partSize")?, m.number("concurrency")?, m.boolean("leaveParts")?)?;
    if signed_in_browser {
        if let Some(k) = ENDPOINT_FIELDS.iter().find(|k| m.raw(k).is_some()) {
            return Err(UploadError::invalid_input(
                &format!("multipart.{k}"),
                "is not used with s3 (the browser signs the multipart calls itself); remove it, or use presign with your backend's endpoints",
            ));
        }
        return Ok(Some(Rc::new(MultipartCore { settings, endpoints: None })));
    }
    let required = |k: &str| -> Result<Via, UploadError> {
        read_via(&m, k)?.ok_or_else(|| UploadError::invalid_input(&format!("multipart.{k}"), "is required (an endpoint URL or a callback)"))
    };
    let endpoints = Endpoints {
        create: required("create")?,
        sign_part: required("signPart")?,
        complete: required("complete")?,
        abort: required("abort")?,
        list_parts: read_via(&m, "listParts")?,
    };
    Ok(Some(Rc::new(MultipartCore { settings, endpoints: Some(Rc::new(endpoints)) })))
}

// ---- abort plumbing -----------------------------------------------------------------------

/// An abort controller that also fires when `parent` fires. Dropping it unhooks the listener
/// and aborts whatever still uses its signal.
struct Linked {
    controller: AbortController,
    parent: Option<AbortSignal>,
    forward: Option<Function>,
}

impl Linked {
    fn new(parent: Option<&AbortSignal>) -> Result<Self, UploadError> {
        let controller = AbortController::new().map_err(|_| UploadError::new(ErrorCode::Network, "AbortController is not available in this environment."))?;
        let mut forward = None;
        if let (Some(p), Some(f)) = (parent, platform::bound_method(controller.as_ref(), "abort")) {
            if p.aborted() {
                controller.abort();
            } else {
                let _ = p.add_event_listener_with_callback("abort", &f);
                forward = Some(f);
            }
        }
        Ok(Linked { controller, parent: parent.cloned(), forward })
    }

    fn signal(&self) -> AbortSignal {
        self.controller.signal()
    }
}

impl Drop for Linked {
    fn drop(&mut self) {
        if let (Some(p), Some(f)) = (self.parent.as_ref(), self.forward.as_ref()) {
            let _ = p.remove_event_listener_with_callback("abort", f);
        }
        self.controller.abort();
    }
}

// ---- backend calls ------------------------------------------------------------------------

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

fn get(v: &JsValue, k: &str) -> JsValue {
    if !v.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

fn get_str(v: &JsValue, a: &str, b: &str) -> Option<String> {
    get(v, a).as_string().or_else(|| get(v, b).as_string()).filter(|s| !s.trim().is_empty())
}

fn bad(what: &str, expected: &str) -> UploadError {
    UploadError::new(ErrorCode::BadResponse, format!("The multipart {what} answer is not what was expected: {expected}."))
}

/// Calls one multipart endpoint or callback. Endpoint failures keep their classification
/// (`presign_failed` for a refusal, `network`, `rate_limited`...), reworded for this step.
async fn call(core: &BackendCore, via: &Via, url_body: &JsValue, arg: &JsValue, signal: Option<&AbortSignal>, what: &str) -> Result<JsValue, UploadError> {
    match via {
        Via::Url(url) => api::post_json(core.post(ApiOp::Presign, url, url_body, signal)).await.map(|r| r.json).map_err(|mut e| {
            e.message = e.message.replace("the presign request", &format!("the multipart {what} request"));
            e
        }),
        Via::Func(f) => call_callback(f, arg, signal, ErrorCode::PresignFailed, &format!("multipart.{what}")).await,
    }
}

/// What `create` answered.
#[derive(Clone)]
struct Created {
    upload_id: String,
    key: String,
    /// The uuid in the key, when the browser made the key (`s3`).
    #[cfg_attr(not(feature = "sigv4"), allow(dead_code))]
    file_uuid: Option<String>,
}

fn id_arg(c: &Created) -> Object {
    let o = Object::new();
    set(&o, "uploadId", &c.upload_id.as_str().into());
    set(&o, "key", &c.key.as_str().into());
    o
}

/// A signed part URL and the headers to send with it.
struct SignedPart {
    url: String,
    headers: Vec<(String, String)>,
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn read_signed(v: &JsValue) -> Result<SignedPart, UploadError> {
    let url = get_str(v, "url", "presigned_url").ok_or_else(|| bad("signPart", "{ url, headers? }"))?;
    let mut headers = Vec::new();
    let h = get(v, "headers");
    if h.is_object() {
        for entry in Object::entries(h.unchecked_ref::<Object>()).iter() {
            let pair: Array = entry.unchecked_into();
            let (k, val) = (pair.get(0).as_string().unwrap_or_default(), pair.get(1).as_string());
            match val {
                Some(val) if is_token(&k) && val.bytes().all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic()) => headers.push((k, val)),
                _ => return Err(bad("signPart", "headers must be a Record<string, string> of valid HTTP headers")),
            }
        }
    } else if !h.is_undefined() && !h.is_null() {
        return Err(bad("signPart", "headers must be a Record<string, string>"));
    }
    Ok(SignedPart { url, headers })
}

fn read_listed(v: &JsValue) -> Result<Vec<DonePart>, UploadError> {
    let list = if Array::is_array(v) { v.clone() } else { get(v, "parts") };
    if !Array::is_array(&list) {
        return Err(bad("listParts", "an array of { partNumber, size, etag }"));
    }
    let mut out = Vec::new();
    for item in list.unchecked_ref::<Array>().iter() {
        let num = get(&item, "partNumber").as_f64().or_else(|| get(&item, "part_number").as_f64());
        let size = get(&item, "size").as_f64();
        let etag = get_str(&item, "etag", "ETag").unwrap_or_default();
        match (num, size) {
            (Some(n), Some(s)) if (1.0..=10_000.0).contains(&n) && n.fract() == 0.0 && s >= 0.0 && s.fract() == 0.0 && s.is_finite() => {
                out.push(DonePart { number: n as u32, size: s as u64, etag })
            }
            _ => return Err(bad("listParts", "an array of { partNumber, size, etag }")),
        }
    }
    Ok(out)
}

// ---- the multipart calls ------------------------------------------------------------------

/// Who makes the multipart calls: the app's backend (endpoints or callbacks), or the browser
/// itself with the SigV4 signer (`s3`). The part loop of [`Multi`] sees only this.
#[derive(Clone)]
enum Ops {
    Backend(Rc<BackendCore>, Rc<Endpoints>),
    #[cfg(feature = "sigv4")]
    S3(Rc<crate::s3_source::S3Core>),
}

impl Ops {
    /// The calls for `source` with `mp`; `None` when this source has no multipart calls
    /// (the Hexnode API).
    fn new(source: &Source, mp: &MultipartCore) -> Option<Ops> {
        match source {
            Source::Backend(b) => mp.endpoints.clone().map(|e| Ops::Backend(b.clone(), e)),
            #[cfg(feature = "sigv4")]
            Source::S3(s) => Some(Ops::S3(s.clone())),
            Source::Hexnode(_) => None,
        }
    }

    fn backend(&self) -> &BackendCore {
        match self {
            Ops::Backend(b, _) => b,
            #[cfg(feature = "sigv4")]
            Ops::S3(s) => &s.backend,
        }
    }

    /// The retry policy for part PUTs.
    fn retry(&self) -> crate::retry::RetryPolicy {
        self.backend().retry
    }

    /// Whether http:// part URLs to non-loopback hosts are allowed.
    fn allow_insecure_http(&self) -> bool {
        self.backend().allow_insecure_http
    }

    /// Starts the multipart upload.
    async fn create(&self, file_name: &str, content_type: &str, size: u64, signal: &AbortSignal) -> Result<Created, UploadError> {
        match self {
            Ops::Backend(b, e) => {
                #[derive(serde::Serialize)]
                struct Body<'a> {
                    file_name: &'a str,
                    content_type: &'a str,
                    size: u64,
                }
                let body = to_js(&Body { file_name, content_type, size })?;
                let arg = Object::new();
                set(&arg, "fileName", &file_name.into());
                set(&arg, "contentType", &content_type.into());
                set(&arg, "size", &JsValue::from_f64(size as f64));
                let v = call(b, &e.create, &body, &arg, Some(signal), "create").await?;
                let upload_id = get_str(&v, "uploadId", "upload_id");
                let key = get_str(&v, "key", "Key");
                let (Some(upload_id), Some(key)) = (upload_id, key) else { return Err(bad("create", "{ uploadId, key }")) };
                Ok(Created { upload_id, key, file_uuid: None })
            }
            #[cfg(feature = "sigv4")]
            Ops::S3(s) => {
                let (file_uuid, key) = s.signer.new_key(file_name)?;
                let upload_id = crate::s3_multipart::create(s, &key, content_type, Some(signal)).await?;
                Ok(Created { upload_id, key, file_uuid: Some(file_uuid) })
            }
        }
    }

    /// A URL (and headers) for one part, signed now.
    async fn sign(&self, c: &Created, part: Part, signal: &AbortSignal) -> Result<SignedPart, UploadError> {
        match self {
            Ops::Backend(b, e) => {
                let arg = id_arg(c);
                set(&arg, "partNumber", &part.number.into());
                set(&arg, "size", &JsValue::from_f64(part.size() as f64));
                let v = call(b, &e.sign_part, &arg, &arg, Some(signal), "signPart").await?;
                read_signed(&v)
            }
            #[cfg(feature = "sigv4")]
            Ops::S3(s) => {
                let (url, _) = crate::s3_multipart::sign_part(s, &c.key, &c.upload_id, part.number, Some(signal)).await?;
                Ok(SignedPart { url, headers: Vec::new() })
            }
        }
    }

    /// The parts the store holds; `None` when there is no way to ask (no `listParts`).
    async fn list(&self, c: &Created, signal: &AbortSignal) -> Result<Option<Vec<DonePart>>, UploadError> {
        match self {
            Ops::Backend(b, e) => {
                let Some(via) = &e.list_parts else { return Ok(None) };
                let arg = id_arg(c);
                let v = call(b, via, &arg, &arg, Some(signal), "listParts").await?;
                read_listed(&v).map(Some)
            }
            #[cfg(feature = "sigv4")]
            Ops::S3(s) => crate::s3_multipart::list(s, &c.key, &c.upload_id, Some(signal)).await.map(Some),
        }
    }

    /// Completes the upload with `parts`; gives the file's uuid (or key) and ETag.
    async fn complete(&self, c: &Created, parts: &[DonePart], user: Option<&AbortSignal>) -> Result<(String, Option<String>), UploadError> {
        match self {
            Ops::Backend(b, e) => {
                let list = Array::new();
                for p in parts {
                    let o = Object::new();
                    set(&o, "partNumber", &p.number.into());
                    set(&o, "etag", &p.etag.as_str().into());
                    list.push(&o);
                }
                let arg = id_arg(c);
                set(&arg, "parts", &list);
                let v = call(b, &e.complete, &arg, &arg, user, "complete").await?;
                let uuid = get_str(&v, "file_uuid", "fileUuid").unwrap_or_else(|| c.key.clone());
                Ok((uuid, get_str(&v, "etag", "ETag")))
            }
            #[cfg(feature = "sigv4")]
            Ops::S3(s) => {
                let etag = crate::s3_multipart::complete(s, &c.key, &c.upload_id, parts, user).await?;
                Ok((c.file_uuid.clone().unwrap_or_else(|| c.key.clone()), etag))
            }
        }
    }

    /// Aborts the upload in the store; a failure is ignored (the upload failed already).
    async fn abort(&self, c: &Created) {
        match self {
            Ops::Backend(b, e) => {
                let arg = id_arg(c);
                let _ = call(b, &e.abort, &arg, &arg, None, "abort").await;
            }
            #[cfg(feature = "sigv4")]
            Ops::S3(s) => {
                let _ = crate::s3_multipart::abort(s, &c.key, &c.upload_id).await;
            }
        }
    }
}

// ---- the multipart upload ------------------------------------------------------------------

/// One multipart upload in progress: what was created and which parts are finished. Kept
/// across pauses.
struct Multi {
    ops: Ops,
    /// Verifies the upload once it is complete.
    source: Source,
    mp: Rc<MultipartCore>,
    body: Blob,
    file_name: String,
    content_type: String,
    size: u64,
    plan: Vec<Part>,
    transport: TransportKind,
    put_timeout_ms: u64,
    progress: Rc<Progress>,
    created: RefCell<Option<Created>>,
    ledger: RefCell<Ledger>,
    attempts: Cell<u32>,
    /// `complete` succeeded: the upload no longer exists, never abort it.
    completed: Cell<bool>,
    /// `abort` was called (or is not to be).
    abort_sent: Cell<bool>,
}

impl Multi {
    fn emit_upload(&self) {
        let loaded = self.ledger.borrow().loaded();
        self.progress.emit(Phase::Upload, loaded as f64, self.size as f64);
    }

    async fn create(&self, signal: &AbortSignal) -> Result<Created, UploadError> {
        if let Some(c) = self.created.borrow().clone() {
            return Ok(c);
        }
        self.progress.emit(Phase::Presign, 0.0, 1.0);
        let c = self.ops.create(&self.file_name, &self.content_type, self.size, signal).await?;
        *self.created.borrow_mut() = Some(c.clone());
        self.progress.emit(Phase::Presign, 1.0, 1.0);
        Ok(c)
    }

    /// Sends one part: sign → PUT, retried and re-signed as the policy says.
    async fn send_part(self: Rc<Self>, c: Created, part: Part, signal: AbortSignal) -> Result<(), UploadError> {
        let policy = self.ops.retry();
        let mut retries_done = 0u32;
        let mut refreshes = 0u32;
        loop {
            platform::check_abort(Some(&signal))?;
            let signed = self.ops.sign(&c, part, &signal).await?;
            let parsed = presigned::parse(&signed.url)?;
            parsed.check_transport(self.ops.allow_insecure_http())?;
            let err = if parsed.is_expired(platform::now_ms(), EXPIRY_MARGIN_MS) {
                UploadError::new(ErrorCode::UrlExpired, format!("The signed URL of part {} expired before it could be used.", part.number))
            } else {
                self.attempts.set(self.attempts.get().saturating_add(1));
                let slice = part_blob(&self.body, part)?;
                let me = self.clone();
                let on_progress: Option<Rc<dyn Fn(f64)>> = if self.progress.wanted() {
                    Some(Rc::new(move |loaded: f64| {
                        me.ledger.borrow_mut().sending(part.number, loaded.max(0.0) as u64, part.size());
                        me.emit_upload();
                    }))
                } else {
                    None
                };
                let content_type = signed.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.clone());
                let sent = transport::put_with_headers(
                    self.transport,
                    PutRequest {
                        url: &signed.url,
                        body: &slice,
                        content_type: content_type.as_deref().unwrap_or(crate::hexnode::DEFAULT_CONTENT_TYPE),
                        progress: on_progress,
                        signal: Some(&signal),
                        timeout_ms: self.put_timeout_ms,
                    },
                    &signed.headers,
                )
                .await;
                match sent {
                    Ok(r) if (200..300).contains(&r.status) => {
                        let etag = r.etag.filter(|e| !e.trim().is_empty()).ok_or_else(|| missing_etag(part.number))?;
                        self.ledger.borrow_mut().finish(DonePart { number: part.number, size: part.size(), etag });
                        self.emit_upload();
                        return Ok(());
                    }
                    Ok(r) => s3_error::classify_put_failure(r.status, &r.body, r.request_id.as_deref()),
                    Err(PutFailure::Aborted) => {
                        self.ledger.borrow_mut().cancel(part.number);
                        return Err(UploadError::aborted());
                    }
                    Err(PutFailure::Timeout) => UploadError::new(
                        ErrorCode::Network,
                        format!("The PUT of part {} timed out after {} ms.", part.number, self.put_timeout_ms),
                    ),
                    Err(PutFailure::Failed) => network_or_cors(&signed.url, retries_done >= policy.retries).await,
                }
            };
            self.ledger.borrow_mut().cancel(part.number);
            match decide(&policy, retries_done, &err, platform::jitter()) {
                Decision::Retry { delay_ms } => {
                    platform::sleep(delay_ms, Some(&signal)).await?;
                    retries_done += 1;
                }
                Decision::Refresh if refreshes < MAX_PART_REFRESHES => refreshes += 1,
                Decision::Refresh | Decision::Fail => return Err(with_part(err, part.number)),
            }
        }
    }

    /// Sends `parts`, at most `concurrency` at once. The first real failure cancels the rest.
    async fn send_parts(self: &Rc<Self>, c: &Created, parts: Vec<Part>, signal: &AbortSignal) -> Result<(), UploadError> {
        if parts.is_empty() {
            return Ok(());
        }
        let pool = Rc::new(Linked::new(Some(signal))?);
        let queue = Rc::new(RefCell::new(parts.into_iter().collect::<VecDeque<_>>()));
        let failure: Rc<RefCell<Option<UploadError>>> = Rc::new(RefCell::new(None));
        let workers = Array::new();
        let n = self.mp.settings.concurrency.clamp(1, queue.borrow().len());
        for _ in 0..n {
            let (me, c, queue, failure, pool) = (self.clone(), c.clone(), queue.clone(), failure.clone(), pool.clone());
            workers.push(&crate::platform::spawn_promise(async move {
                loop {
                    let sig = pool.signal();
                    if sig.aborted() {
                        break;
                    }
                    let Some(part) = queue.borrow_mut().pop_front() else { break };
                    if let Err(e) = me.clone().send_part(c.clone(), part, sig).await {
                        if e.code != ErrorCode::Aborted {
                            let mut f = failure.borrow_mut();
                            if f.is_none() {
                                *f = Some(e);
                            }
                            drop(f);
                            pool.controller.abort();
                        }
                        break;
                    }
                }
                Ok(JsValue::UNDEFINED)
            }));
        }
        let _ = JsFuture::from(Promise::all(&workers)).await;
        if let Some(e) = failure.borrow_mut().take() {
            return Err(e);
        }
        if signal.aborted() || !queue.borrow().is_empty() {
            return Err(UploadError::aborted());
        }
        Ok(())
    }

    /// One run: create (first time), list (after a pause), send what is missing, complete.
    async fn run(self: &Rc<Self>, signal: &AbortSignal, user: Option<&AbortSignal>, resumed: bool) -> Result<(String, Option<String>), UploadError> {
        let c = self.create(signal).await?;
        if resumed {
            if let Some(listed) = self.ops.list(&c, signal).await? {
                let listed = with_known_etags(listed, &self.ledger.borrow().finished());
                self.ledger.borrow_mut().replace_with_listed(&self.plan, listed);
            }
        }
        self.ledger.borrow_mut().cancel_all();
        self.emit_upload();
        let missing = self.ledger.borrow().missing(&self.plan);
        self.send_parts(&c, missing, signal).await?;
        let parts = self.ledger.borrow().finished();
        if parts.len() != self.plan.len() {
            return Err(UploadError::new(ErrorCode::UploadRejected, "Some parts of the multipart upload are missing after sending them all."));
        }
        // From here on a pause no longer stops anything: only the caller's signal does.
        let done = self.ops.complete(&c, &parts, user).await?;
        self.completed.set(true);
        Ok(done)
    }

    /// Calls `abort` once (unless `leaveParts`), whatever the caller's signal says.
    async fn abort_upload(&self) {
        if self.mp.settings.leave_parts || self.completed.get() || self.abort_sent.replace(true) {
            return;
        }
        let Some(c) = self.created.borrow().clone() else { return };
        self.ops.abort(&c).await;
    }
}

/// Fills the ETag of listed parts that came without one (s3s-fs's ListParts gives none) from
/// the parts this task sent itself, when number and size match. A part the store lists
/// without an ETag that this task does not know is sent again.
fn with_known_etags(listed: Vec<DonePart>, known: &[DonePart]) -> Vec<DonePart> {
    listed
        .into_iter()
        .map(|mut p| {
            if p.etag.trim().is_empty() {
                if let Some(k) = known.iter().find(|k| k.number == p.number && k.size == p.size) {
                    p.etag = k.etag.clone();
                }
            }
            p
        })
        .collect()
}

fn part_blob(body: &Blob, part: Part) -> Result<Blob, UploadError> {
    body.slice_with_f64_and_f64(part.start as f64, part.end as f64)
        .map_err(|_| UploadError::invalid_input("file", "cannot be sliced into parts (Blob.slice failed)"))
}

fn missing_etag(number: u32) -> UploadError {
    UploadError::new(
        ErrorCode::Cors,
        format!(
            "The store accepted part {number}, but the browser hid its ETag header, which completing a multipart upload needs. \
             The bucket's CORS rule must expose it: ExposeHeaders: ETag (\"ExposeHeaders\": [\"ETag\"])."
        ),
    )
}

fn with_part(mut e: UploadError, number: u32) -> UploadError {
    if !e.message.contains("part ") {
        e.message = format!("Part {number}: {}", e.message);
    }
    e
}

async fn network_or_cors(url: &str, last: bool) -> UploadError {
    let network = UploadError::new(ErrorCode::Network, "The PUT of a part failed before any answer could be read (connection dropped or host unreachable).");
    if last && transport::origin_reachable(url).await {
        UploadError::cors("PUT of a part to its signed URL")
    } else {
        network
    }
}

// ---- tasks --------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Running,
    Paused,
    Done,
    Failed,
    Aborted,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Running => "running",
            State::Paused => "paused",
            State::Done => "done",
            State::Failed => "failed",
            State::Aborted => "aborted",
        }
    }
}

/// A single-PUT upload's inputs.
struct Single {
    source: Source,
    body: Blob,
    file_name: String,
    content_type: String,
    size: u64,
    transport: TransportKind,
    timeout_ms: u64,
    progress: Rc<Progress>,
    /// When the first run began, and the PUT once it landed: a resume after that only verifies.
    started: Cell<f64>,
    sent: RefCell<Option<Box<(Presigned, PutDone)>>>,
}

enum Work {
    Single(Single),
    Multi(Rc<Multi>),
}

struct Shared {
    work: Work,
    user: Option<AbortSignal>,
    state: Cell<State>,
    started: Cell<bool>,
    run: RefCell<Option<AbortController>>,
    wake: RefCell<Option<Function>>,
}

impl Shared {
    /// Holds the task in any state that is not final: before `start()` has run, the run
    /// waits for `resume()`.
    fn pause(&self) {
        if matches!(self.state.get(), State::Idle | State::Running) {
            self.state.set(State::Paused);
            if let Some(c) = self.run.borrow().as_ref() {
                c.abort();
            }
        }
    }

    fn wake(&self) {
        if let Some(f) = self.wake.borrow_mut().take() {
            let _ = f.call0(&JsValue::UNDEFINED);
        }
    }

    fn resume(&self) {
        if self.state.get() == State::Paused {
            self.state.set(if self.started.get() { State::Running } else { State::Idle });
            self.wake();
        }
    }

    fn abort(&self) {
        match self.state.get() {
            State::Done | State::Failed | State::Aborted => {}
            _ => {
                self.state.set(State::Aborted);
                if let Some(c) = self.run.borrow().as_ref() {
                    c.abort();
                }
                self.wake();
            }
        }
    }

    /// Waits until `resume()` or `abort()` (or the caller's signal).
    async fn wait_resume(&self) -> Result<(), UploadError> {
        while self.state.get() == State::Paused {
            let mut slot = None;
            let p = Promise::new(&mut |resolve, _| slot = Some(resolve));
            *self.wake.borrow_mut() = slot;
            platform::race_abort(p, self.user.as_ref()).await?.map_err(|_| UploadError::aborted())?;
        }
        Ok(())
    }

    async fn run_once(&self, signal: &AbortSignal, resumed: bool) -> Result<JsValue, UploadError> {
        match &self.work {
            Work::Single(s) => {
                let job = UploadJob {
                    body: &s.body,
                    file_name: s.file_name.clone(),
                    content_type: s.content_type.clone(),
                    size: s.size,
                    transport: s.transport,
                    timeout_ms: s.timeout_ms,
                    signal: Some(signal),
                    progress: s.progress.clone(),
                };
                if s.started.get() == 0.0 {
                    s.started.set(js_sys::Date::now());
                }
                let sent = s.sent.borrow().clone();
                let (presigned, put) = match sent {
                    Some(done) => *done,
                    None => {
                        let done = flow::send(&s.source, &job).await?;
                        *s.sent.borrow_mut() = Some(Box::new(done.clone()));
                        done
                    }
                };
                flow::finish(&s.source, &job, presigned, put, s.started.get()).await.map(upload_result)
            }
            Work::Multi(m) => {
                let started = js_sys::Date::now();
                let (file_uuid, etag) = m.run(signal, self.user.as_ref(), resumed).await?;
                platform::check_abort(self.user.as_ref())?;
                m.progress.emit(Phase::Verify, 0.0, 1.0);
                let verified = m.source.verify(&file_uuid, self.user.as_ref()).await.map_err(|mut e| {
                    if !matches!(e.code, ErrorCode::Aborted | ErrorCode::Unauthorized | ErrorCode::Forbidden | ErrorCode::RateLimited) {
                        e.code = ErrorCode::VerifyFailed;
                        e.message = format!("The file was sent, but verifying it failed: {}", e.message);
                    }
                    e
                })?;
                m.progress.emit(Phase::Verify, 1.0, 1.0);
                Ok(upload_result(Uploaded {
                    presigned: Presigned {
                        url: String::new(),
                        file_name: m.file_name.clone(),
                        file_uuid,
                        content_type: m.content_type.clone(),
                        expires_at_ms: 0,
                    },
                    size: m.size,
                    put: PutDone { status: 200, etag, attempts: m.attempts.get() },
                    verified,
                    duration_ms: js_sys::Date::now() - started,
                }))
            }
        }
    }

    /// Runs the task to its end, through pauses and resumes.
    async fn start(self: Rc<Self>) -> Result<JsValue, UploadError> {
        if self.started.replace(true) {
            return Err(UploadError::invalid_input("start", "was already called on this task"));
        }
        if self.state.get() == State::Aborted {
            return Err(UploadError::aborted());
        }
        if self.state.get() == State::Idle {
            self.state.set(State::Running);
        }
        let mut resumed = false;
        let result = loop {
            // A pause before the first run (or between runs) holds until `resume()`.
            if let Err(e) = self.wait_resume().await {
                break Err(e);
            }
            if self.state.get() == State::Aborted || platform::is_aborted(self.user.as_ref()) {
                break Err(UploadError::aborted());
            }
            let link = match Linked::new(self.user.as_ref()) {
                Ok(l) => l,
                Err(e) => break Err(e),
            };
            *self.run.borrow_mut() = Some(link.controller.clone());
            let r = self.run_once(&link.signal(), resumed).await;
            *self.run.borrow_mut() = None;
            drop(link);
            match r {
                Ok(v) => break Ok(v),
                Err(e) if e.code == ErrorCode::Aborted && self.state.get() == State::Paused => {
                    if let Work::Multi(m) = &self.work {
                        m.ledger.borrow_mut().cancel_all();
                    }
                    resumed = true;
                }
                Err(e) if self.state.get() == State::Aborted => break Err(if e.code == ErrorCode::Aborted { e } else { UploadError::aborted() }),
                Err(e) => break Err(e),
            }
        };
        match &result {
            Ok(_) => self.state.set(State::Done),
            Err(e) => {
                if let Work::Multi(m) = &self.work {
                    m.abort_upload().await;
                }
                self.state.set(if e.code == ErrorCode::Aborted { State::Aborted } else { State::Failed });
            }
        }
        result
    }
}

/// An upload that can be paused and resumed: made by `Uploader.createUpload(file, opts)`.
///
/// `start()` resolves with the `UploadResult` once the file is uploaded (through any number
/// of pauses). `pause()` stops sending new parts and cancels the ones in flight (their bytes
/// are not counted as done); `resume()` sends only what is missing (asking `listParts` when
/// configured). A file below the multipart threshold is one PUT: pause cancels it and resume
/// sends it again. `abort()` ends the task: `start()` rejects with `aborted`, and a multipart
/// upload is aborted in the store (unless `leaveParts`).
#[wasm_bindgen]
pub struct UploadTask {
    shared: Rc<Shared>,
}

#[wasm_bindgen]
impl UploadTask {
    /// Starts the upload; resolves when it is done. Call it once.
    #[wasm_bindgen(unchecked_return_type = "Promise<UploadResult>")]
    pub fn start(&self) -> Promise {
        let shared = self.shared.clone();
        crate::platform::spawn_promise(async move { shared.start().await.map_err(|e| js_error(&e)) })
    }

    /// Stops sending: in-flight part PUTs are cancelled. Called before or right after
    /// `start()`, nothing is sent until `resume()`. No effect once the task has ended.
    pub fn pause(&self) {
        self.shared.pause();
    }

    /// Continues a paused upload, sending only the parts still missing. No effect unless paused.
    pub fn resume(&self) {
        self.shared.resume();
    }

    /// Ends the upload: `start()` rejects with `aborted`. No effect once it has ended.
    pub fn abort(&self) {
        self.shared.abort();
    }

    /// `"idle"`, `"running"`, `"paused"`, `"done"`, `"failed"` or `"aborted"`.
    #[wasm_bindgen(getter, unchecked_return_type = "UploadTaskState")]
    pub fn state(&self) -> String {
        self.shared.state.get().as_str().to_owned()
    }
}

/// One upload's inputs, however they were read (`createUpload` options or a batch entry).
pub(crate) struct TaskInput {
    pub file: JsValue,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub transport: Option<String>,
    pub signal: Option<AbortSignal>,
    pub progress: Rc<Progress>,
}

/// Reads and validates `createUpload(file, opts)`'s arguments into a task.
fn prepare(up: &Uploader, file: &JsValue, opts: &JsValue) -> Result<UploadTask, UploadError> {
    let o = Opts::new(opts, "opts")?;
    let input = TaskInput {
        file: file.clone(),
        file_name: o.string("fileName")?,
        content_type: o.string("contentType")?,
        transport: o.string("transport")?,
        signal: o.signal("signal")?,
        progress: Progress::to_js(o.function("onProgress")?),
    };
    build(&up.source, up.multipart.as_ref(), up.put_timeout_ms, input)
}

/// Runs one upload as a task: multipart when `multipart` is configured and the file reaches
/// its threshold, else the single-PUT flow. Used by `uploadAll`.
pub(crate) async fn run(source: &Source, multipart: Option<&Rc<MultipartCore>>, put_timeout_ms: u64, input: TaskInput) -> Result<JsValue, UploadError> {
    let task = build(source, multipart, put_timeout_ms, input)?;
    task.shared.clone().start().await
}

/// Validates one upload's inputs into a task.
fn build(source: &Source, multipart: Option<&Rc<MultipartCore>>, put_timeout_ms: u64, input: TaskInput) -> Result<UploadTask, UploadError> {
    let TaskInput { file, file_name, content_type, transport, signal: user, progress } = input;
    let blob: Blob = file.clone().dyn_into().map_err(|_| UploadError::invalid_input("file", "must be a File or a Blob"))?;
    let own_name = file.dyn_ref::<File>().map(|f| f.name());
    let file_name = input::resolve_file_name(file_name.as_deref(), own_name.as_deref())?;
    let content_type = input::resolve_content_type(content_type.as_deref(), &blob.type_())?;
    let transport = transport::choose(transport.as_deref(), progress.wanted())?;
    let raw = blob.size();
    let exact = raw.is_finite() && raw >= 0.0 && raw.fract() == 0.0;
    let multi = match multipart {
        Some(mp) if exact && mp.settings.applies_to(raw as u64) => Ops::new(source, mp).map(|ops| (mp.clone(), ops)),
        _ => None,
    };
    let work = match multi {
        Some((mp, ops)) => {
            let size = raw as u64;
            let part_size = mp.settings.part_size_for(size)?;
            Work::Multi(Rc::new(Multi {
                plan: crate::multipart::plan(size, part_size),
                ops,
                source: source.clone(),
                mp,
                body: blob,
                file_name,
                content_type,
                size,
                transport,
                put_timeout_ms,
                progress,
                created: RefCell::new(None),
                ledger: RefCell::new(Ledger::new()),
                attempts: Cell::new(0),
                completed: Cell::new(false),
                abort_sent: Cell::new(false),
            }))
        }
        None => Work::Single(Single {
            size: input::check_size(raw)?,
            source: source.clone(),
            body: blob,
            file_name,
            content_type,
            transport,
            timeout_ms: put_timeout_ms,
            progress,
            started: Cell::new(0.0),
            sent: RefCell::new(None),
        }),
    };
    Ok(UploadTask {
        shared: Rc::new(Shared {
            work,
            user,
            state: Cell::new(State::Idle),
            started: Cell::new(false),
            run: RefCell::new(None),
            wake: RefCell::new(None),
        }),
    })
}

/// `Uploader.upload()` when `multipart` is configured: a task, started at once.
pub(crate) fn upload_promise(up: &Uploader, file: JsValue, opts: JsValue) -> Promise {
    let task = prepare(up, &file, &opts);
    crate::platform::spawn_promise(async move {
        let task = task.map_err(|e| js_error(&e))?;
        task.shared.clone().start().await.map_err(|e| js_error(&e))
    })
}

#[wasm_bindgen]
impl Uploader {
    /// Creates an upload task for `file` that can be started, paused, resumed and aborted.
    /// Throws an `UploadError` (`invalid_input`, `too_large`) when an argument is wrong.
    #[wasm_bindgen(js_name = createUpload)]
    pub fn create_upload(
        &self,
        #[wasm_bindgen(unchecked_param_type = "File | Blob")] file: JsValue,
        opts: Option<crate::bindings::UploadOptions>,
    ) -> Result<UploadTask, JsValue> {
        let opts: JsValue = opts.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        prepare(self, &file, &opts).map_err(|e| js_error(&e))
    }
}
