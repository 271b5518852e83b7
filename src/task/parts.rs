//! Multipart uploads (the full build only): create → for each part (at most `concurrency` at
//! once) signPart → PUT of a `Blob.slice()` → complete → verify, with `abort` on failure. The
//! multipart calls go through the app's backend (endpoints or callbacks, with `presign`) or
//! are signed in the browser (`src/s3_multipart.rs`, with `s3`); the part loop sees only
//! [`Ops`].
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
use web_sys::{AbortSignal, Blob};

use super::Linked;
use crate::api;
use crate::opts::upload_result;
use crate::error::{ErrorCode, UploadError};
use crate::flow::{Phase, Progress, PutDone, Uploaded};
use crate::hexnode::ApiOp;
use crate::hexnode::Presigned;
use crate::multipart::{DonePart, Ledger, MultipartSettings, Part};
use crate::opts::Opts;
use crate::platform;
use crate::presigned;
use crate::retry::{decide, Decision};
use crate::s3_error;
use crate::opts::object;
use crate::backend::{call_callback, BackendCore, Via};
use crate::source::Source;
use crate::text::{cat, num};
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
    pub(super) endpoints: Option<Rc<Endpoints>>,
    /// `opts.resume`: `None` when off.
    pub(super) resume: Option<super::keep::ResumeSettings>,
}

/// The backend's multipart endpoints or callbacks.
pub(super) struct Endpoints {
    create: Via,
    sign_part: Via,
    complete: Via,
    abort: Via,
    list_parts: Option<Via>,
}

/// The endpoint fields of `opts.multipart`.
const ENDPOINT_FIELDS: [&str; 5] = ["create", "signPart", "complete", "abort", "listParts"];

pub(super) fn read_via(o: &Opts<'_>, key: &str) -> Result<Option<Via>, UploadError> {
    let field = cat(&["multipart.", key]);
    let Some(v) = o.raw(key) else { return Ok(None) };
    if let Some(s) = v.as_string() {
        if s.trim().is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UploadError::invalid_input(
                &field,
                "must be a URL without spaces",
            ));
        }
        return Ok(Some(Via::Url(s)));
    }
    match v.dyn_into::<Function>() {
        Ok(f) => Ok(Some(Via::Func(f))),
        Err(_) => Err(UploadError::invalid_input(
            &field,
            "must be a URL string or a function",
        )),
    }
}

/// Reads `opts.multipart` of `new Uploader()`; `None` when absent. With `signed_in_browser`
/// (the `s3` source) the endpoint fields are refused (invalid input naming the field), as the
/// browser makes those calls itself; otherwise `create`, `signPart`, `complete` and `abort`
/// are required.
pub(crate) fn read_multipart(
    opts: &JsValue,
    signed_in_browser: bool,
) -> Result<Option<Rc<MultipartCore>>, UploadError> {
    let o = Opts::new(opts, "opts")?;
    let Some(m) = o.object("multipart")? else {
        return Ok(None);
    };
    let resume = super::keep::read(&o)?;
    let m = Opts::new(&m, "multipart")?;
    let settings = MultipartSettings::new(
        m.number("threshold")?,
        m.number("partSize")?,
        m.number("concurrency")?,
        m.boolean("leaveParts")?,
    )?;
    if signed_in_browser {
        if let Some(k) = ENDPOINT_FIELDS.iter().find(|k| m.raw(k).is_some()) {
            return Err(UploadError::invalid_input(
                &cat(&["multipart.", k]),
                "is not used with s3 (the browser signs the multipart calls itself); remove it, or use presign with your backend's endpoints",
            ));
        }
        return Ok(Some(Rc::new(MultipartCore {
            settings,
            endpoints: None,
            resume,
        })));
    }
    let required = |k: &str| -> Result<Via, UploadError> {
        read_via(&m, k)?.ok_or_else(|| {
            UploadError::invalid_input(
                &cat(&["multipart.", k]),
                "is required (an endpoint URL or a callback)",
            )
        })
    };
    let endpoints = Endpoints {
        create: required("create")?,
        sign_part: required("signPart")?,
        complete: required("complete")?,
        abort: required("abort")?,
        list_parts: read_via(&m, "listParts")?,
    };
    Ok(Some(Rc::new(MultipartCore {
        settings,
        endpoints: Some(Rc::new(endpoints)),
        resume,
    })))
}

// ---- backend calls ------------------------------------------------------------------------

pub(super) fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

pub(super) fn get(v: &JsValue, k: &str) -> JsValue {
    if !v.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

pub(super) fn get_str(v: &JsValue, a: &str, b: &str) -> Option<String> {
    get(v, a)
        .as_string()
        .or_else(|| get(v, b).as_string())
        .filter(|s| !s.trim().is_empty())
}

pub(super) fn bad(what: &str, expected: &str) -> UploadError {
    UploadError::new(
        ErrorCode::BadResponse,
        cat(&["The multipart ", what, " answer is not what was expected: ", expected, "."]),
    )
}

/// Calls one multipart endpoint or callback. Endpoint failures keep their classification
/// (`presign_failed` for a refusal, `network`, `rate_limited`...), reworded for this step.
pub(super) async fn call(
    core: &BackendCore,
    via: &Via,
    url_body: &JsValue,
    arg: &JsValue,
    signal: Option<&AbortSignal>,
    what: &str,
) -> Result<JsValue, UploadError> {
    match via {
        Via::Url(url) => api::post_json(core.post(ApiOp::Presign, url, url_body, signal))
            .await
            .map(|r| r.json)
            .map_err(|mut e| {
                if let Some((a, b)) = crate::text::split_once(&e.message, "the presign request") {
                    e.message = cat(&[a, "the multipart ", what, " request", b]);
                }
                e
            }),
        Via::Func(f) => {
            call_callback(
                f,
                arg,
                signal,
                ErrorCode::PresignFailed,
                &cat(&["multipart.", what]),
            )
            .await
        }
    }
}

/// What `create` answered.
#[derive(Clone)]
pub(super) struct Created {
    pub(super) upload_id: String,
    pub(super) key: String,
    /// The uuid in the key, when the browser made the key (`s3`).
    #[cfg_attr(not(feature = "full"), allow(dead_code))]
    pub(super) file_uuid: Option<String>,
}

pub(super) fn id_arg(c: &Created) -> Object {
    let o = Object::new();
    set(&o, "uploadId", &c.upload_id.as_str().into());
    set(&o, "key", &c.key.as_str().into());
    o
}

/// A signed part URL and the headers to send with it.
pub(super) struct SignedPart {
    url: String,
    headers: Vec<(String, String)>,
}

pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub(super) fn read_signed(v: &JsValue) -> Result<SignedPart, UploadError> {
    let url =
        get_str(v, "url", "presigned_url").ok_or_else(|| bad("signPart", "{ url, headers? }"))?;
    let mut headers = Vec::new();
    let h = get(v, "headers");
    if h.is_object() {
        for entry in Object::entries(h.unchecked_ref::<Object>()).iter() {
            let pair: Array = entry.unchecked_into();
            let (k, val) = (
                pair.get(0).as_string().unwrap_or_default(),
                pair.get(1).as_string(),
            );
            match val {
                Some(val)
                    if is_token(&k)
                        && val
                            .bytes()
                            .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic()) =>
                {
                    headers.push((k, val))
                }
                _ => {
                    return Err(bad(
                        "signPart",
                        "headers must be a Record<string, string> of valid HTTP headers",
                    ))
                }
            }
        }
    } else if !h.is_undefined() && !h.is_null() {
        return Err(bad("signPart", "headers must be a Record<string, string>"));
    }
    Ok(SignedPart { url, headers })
}

pub(super) fn read_listed(v: &JsValue) -> Result<Vec<DonePart>, UploadError> {
    let list = if Array::is_array(v) {
        v.clone()
    } else {
        get(v, "parts")
    };
    if !Array::is_array(&list) {
        return Err(bad("listParts", "an array of { partNumber, size, etag }"));
    }
    let mut out = Vec::new();
    for item in list.unchecked_ref::<Array>().iter() {
        let num = get(&item, "partNumber")
            .as_f64()
            .or_else(|| get(&item, "part_number").as_f64());
        let size = get(&item, "size").as_f64();
        let etag = get_str(&item, "etag", "ETag").unwrap_or_default();
        match (num, size) {
            (Some(n), Some(s))
                if (1.0..=10_000.0).contains(&n)
                    && n.fract() == 0.0
                    && s >= 0.0
                    && s.fract() == 0.0
                    && s.is_finite() =>
            {
                out.push(DonePart {
                    number: n as u32,
                    size: s as u64,
                    etag,
                })
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
pub(super) enum Ops {
    Backend(Rc<BackendCore>, Rc<Endpoints>),
    #[cfg(feature = "full")]
    S3(Rc<crate::s3_source::S3Core>),
}

impl Ops {
    /// The calls for `source` with `mp`; `None` when this source has no multipart calls
    /// (the Hexnode API).
    pub(super) fn new(source: &Source, mp: &MultipartCore) -> Option<Ops> {
        match source {
            Source::Backend(b) => mp.endpoints.clone().map(|e| Ops::Backend(b.clone(), e)),
            #[cfg(feature = "full")]
            Source::S3(s) => Some(Ops::S3(s.clone())),
            Source::Hexnode(_) => None,
        }
    }

    /// The source's identity a resume record is matched by: the backend's `create` endpoint
    /// (or "callbacks"), or the bucket's address.
    pub(super) fn identity(&self) -> String {
        match self {
            Ops::Backend(_, e) => match &e.create {
                Via::Url(u) => cat(&["backend ", u]),
                Via::Func(_) => "backend callbacks".into(),
            },
            #[cfg(feature = "full")]
            Ops::S3(s) => cat(&["s3 ", &s.signer.identity()]),
        }
    }

    pub(super) fn backend(&self) -> &BackendCore {
        match self {
            Ops::Backend(b, _) => b,
            #[cfg(feature = "full")]
            Ops::S3(s) => &s.backend,
        }
    }

    /// The retry policy for part PUTs.
    pub(super) fn retry(&self) -> crate::retry::RetryPolicy {
        self.backend().retry
    }

    /// Whether http:// part URLs to non-loopback hosts are allowed.
    pub(super) fn allow_insecure_http(&self) -> bool {
        self.backend().allow_insecure_http
    }

    /// Starts the multipart upload.
    pub(super) async fn create(
        &self,
        file_name: &str,
        content_type: &str,
        size: u64,
        signal: &AbortSignal,
    ) -> Result<Created, UploadError> {
        match self {
            Ops::Backend(b, e) => {
                let body = object(&[
                    ("file_name", file_name.into()),
                    ("content_type", content_type.into()),
                    ("size", JsValue::from_f64(size as f64)),
                ]);
                let arg = Object::new();
                set(&arg, "fileName", &file_name.into());
                set(&arg, "contentType", &content_type.into());
                set(&arg, "size", &JsValue::from_f64(size as f64));
                let v = call(b, &e.create, &body, &arg, Some(signal), "create").await?;
                let upload_id = get_str(&v, "uploadId", "upload_id");
                let key = get_str(&v, "key", "Key");
                let (Some(upload_id), Some(key)) = (upload_id, key) else {
                    return Err(bad("create", "{ uploadId, key }"));
                };
                Ok(Created {
                    upload_id,
                    key,
                    file_uuid: None,
                })
            }
            #[cfg(feature = "full")]
            Ops::S3(s) => {
                let (file_uuid, key) = s.signer.new_key(file_name)?;
                let upload_id =
                    crate::s3_multipart::create(s, &key, content_type, Some(signal)).await?;
                Ok(Created {
                    upload_id,
                    key,
                    file_uuid: Some(file_uuid),
                })
            }
        }
    }

    /// A URL (and headers) for one part, signed now.
    pub(super) async fn sign(
        &self,
        c: &Created,
        part: Part,
        signal: &AbortSignal,
    ) -> Result<SignedPart, UploadError> {
        match self {
            Ops::Backend(b, e) => {
                let arg = id_arg(c);
                set(&arg, "partNumber", &part.number.into());
                set(&arg, "size", &JsValue::from_f64(part.size() as f64));
                let v = call(b, &e.sign_part, &arg, &arg, Some(signal), "signPart").await?;
                read_signed(&v)
            }
            #[cfg(feature = "full")]
            Ops::S3(s) => {
                let (url, _) = crate::s3_multipart::sign_part(
                    s,
                    &c.key,
                    &c.upload_id,
                    part.number,
                    Some(signal),
                )
                .await?;
                Ok(SignedPart {
                    url,
                    headers: Vec::new(),
                })
            }
        }
    }

    /// The parts the store holds; `None` when there is no way to ask (no `listParts`).
    pub(super) async fn list(
        &self,
        c: &Created,
        signal: &AbortSignal,
    ) -> Result<Option<Vec<DonePart>>, UploadError> {
        match self {
            Ops::Backend(b, e) => {
                let Some(via) = &e.list_parts else {
                    return Ok(None);
                };
                let arg = id_arg(c);
                let v = call(b, via, &arg, &arg, Some(signal), "listParts").await?;
                read_listed(&v).map(Some)
            }
            #[cfg(feature = "full")]
            Ops::S3(s) => crate::s3_multipart::list(s, &c.key, &c.upload_id, Some(signal))
                .await
                .map(Some),
        }
    }

    /// Completes the upload with `parts`; gives the file's uuid (or key) and ETag.
    pub(super) async fn complete(
        &self,
        c: &Created,
        parts: &[DonePart],
        user: Option<&AbortSignal>,
    ) -> Result<(String, Option<String>), UploadError> {
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
            #[cfg(feature = "full")]
            Ops::S3(s) => {
                let etag =
                    crate::s3_multipart::complete(s, &c.key, &c.upload_id, parts, user).await?;
                Ok((c.file_uuid.clone().unwrap_or_else(|| c.key.clone()), etag))
            }
        }
    }

    /// Aborts the upload in the store; a failure is ignored (the upload failed already).
    pub(super) async fn abort(&self, c: &Created) {
        match self {
            Ops::Backend(b, e) => {
                let arg = id_arg(c);
                let _ = call(b, &e.abort, &arg, &arg, None, "abort").await;
            }
            #[cfg(feature = "full")]
            Ops::S3(s) => {
                let _ = crate::s3_multipart::abort(s, &c.key, &c.upload_id).await;
            }
        }
    }
}

// ---- the multipart upload ------------------------------------------------------------------

/// One multipart upload in progress: what was created and which parts are finished. Kept
/// across pauses.
pub(super) struct Multi {
    pub(super) ops: Ops,
    /// Verifies the upload once it is complete.
    pub(super) source: Source,
    pub(super) mp: Rc<MultipartCore>,
    pub(super) body: Blob,
    pub(super) file_name: String,
    pub(super) content_type: String,
    pub(super) size: u64,
    pub(super) plan: Vec<Part>,
    pub(super) transport: TransportKind,
    pub(super) put_timeout_ms: u64,
    pub(super) progress: Rc<Progress>,
    pub(super) created: RefCell<Option<Created>>,
    pub(super) ledger: RefCell<Ledger>,
    pub(super) attempts: Cell<u32>,
    /// `complete` succeeded: the upload no longer exists, never abort it.
    pub(super) completed: Cell<bool>,
    /// `abort` was called (or is not to be).
    pub(super) abort_sent: Cell<bool>,
    /// Resume after a reload: `None` when off or not a `File`.
    pub(super) keep: Option<super::keep::Keep>,
}

impl Multi {
    pub(super) fn emit_upload(&self) {
        let loaded = self.ledger.borrow().loaded();
        self.progress
            .emit(Phase::Upload, loaded as f64, self.size as f64);
    }

    pub(super) async fn create(&self, signal: &AbortSignal) -> Result<Created, UploadError> {
        if let Some(c) = self.created.borrow().clone() {
            return Ok(c);
        }
        if let Some(c) = self.restore(signal).await? {
            return Ok(c);
        }
        self.progress.emit(Phase::Presign, 0.0, 1.0);
        let c = self
            .ops
            .create(&self.file_name, &self.content_type, self.size, signal)
            .await?;
        *self.created.borrow_mut() = Some(c.clone());
        self.keep_created(&c);
        self.progress.emit(Phase::Presign, 1.0, 1.0);
        Ok(c)
    }

    /// Sends one part: sign → PUT, retried and re-signed as the policy says.
    pub(super) async fn send_part(
        self: Rc<Self>,
        c: Created,
        part: Part,
        signal: AbortSignal,
    ) -> Result<(), UploadError> {
        let policy = self.ops.retry();
        let mut retries_done = 0u32;
        let mut refreshes = 0u32;
        loop {
            platform::check_abort(Some(&signal))?;
            let signed = self.ops.sign(&c, part, &signal).await?;
            let parsed = presigned::parse(&signed.url)?;
            parsed.check_transport(self.ops.allow_insecure_http())?;
            let err = if parsed.is_expired(platform::now_ms(), EXPIRY_MARGIN_MS) {
                UploadError::new(
                    ErrorCode::UrlExpired,
                    cat(&["The signed URL of part ", &num(part.number.into()), " expired before it could be used."]),
                )
            } else {
                self.attempts.set(self.attempts.get().saturating_add(1));
                let slice = part_blob(&self.body, part)?;
                let me = self.clone();
                let on_progress: Option<Rc<dyn Fn(f64)>> = if self.progress.wanted() {
                    Some(Rc::new(move |loaded: f64| {
                        me.ledger.borrow_mut().sending(
                            part.number,
                            loaded.max(0.0) as u64,
                            part.size(),
                        );
                        me.emit_upload();
                    }))
                } else {
                    None
                };
                let content_type = signed
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.clone());
                let sent = transport::put_with_headers(
                    self.transport,
                    PutRequest {
                        url: &signed.url,
                        body: &slice,
                        content_type: content_type
                            .as_deref()
                            .unwrap_or(crate::hexnode::DEFAULT_CONTENT_TYPE),
                        progress: on_progress,
                        signal: Some(&signal),
                        timeout_ms: self.put_timeout_ms,
                    },
                    &signed.headers,
                )
                .await;
                match sent {
                    Ok(r) if (200..300).contains(&r.status) => {
                        let etag = r
                            .etag
                            .filter(|e| !e.trim().is_empty())
                            .ok_or_else(|| missing_etag(part.number))?;
                        let done = DonePart {
                            number: part.number,
                            size: part.size(),
                            etag,
                        };
                        self.keep_part(&done);
                        self.ledger.borrow_mut().finish(done);
                        self.emit_upload();
                        return Ok(());
                    }
                    Ok(r) => {
                        s3_error::classify_put_failure(r.status, &r.body, r.request_id.as_deref())
                    }
                    Err(PutFailure::Aborted) => {
                        self.ledger.borrow_mut().cancel(part.number);
                        return Err(UploadError::aborted());
                    }
                    Err(PutFailure::Timeout) => UploadError::new(
                        ErrorCode::Network,
                        cat(&["The PUT of part ", &num(part.number.into()), " timed out after ", &num(self.put_timeout_ms), " ms."]),
                    ),
                    Err(PutFailure::Failed) => {
                        network_or_cors(&signed.url, retries_done >= policy.retries).await
                    }
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
    pub(super) async fn send_parts(
        self: &Rc<Self>,
        c: &Created,
        parts: Vec<Part>,
        signal: &AbortSignal,
    ) -> Result<(), UploadError> {
        if parts.is_empty() {
            return Ok(());
        }
        let pool = Rc::new(Linked::new(Some(signal))?);
        let queue = Rc::new(RefCell::new(parts.into_iter().collect::<VecDeque<_>>()));
        let failure: Rc<RefCell<Option<UploadError>>> = Rc::new(RefCell::new(None));
        let workers = Array::new();
        let n = self.mp.settings.concurrency.clamp(1, queue.borrow().len());
        for _ in 0..n {
            let (me, c, queue, failure, pool) = (
                self.clone(),
                c.clone(),
                queue.clone(),
                failure.clone(),
                pool.clone(),
            );
            workers.push(&crate::platform::spawn_promise(async move {
                loop {
                    let sig = pool.signal();
                    if sig.aborted() {
                        break;
                    }
                    let Some(part) = queue.borrow_mut().pop_front() else {
                        break;
                    };
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
    pub(super) async fn run(
        self: &Rc<Self>,
        signal: &AbortSignal,
        user: Option<&AbortSignal>,
        resumed: bool,
    ) -> Result<(String, Option<String>), UploadError> {
        let c = self.create(signal).await?;
        if let Some(done) = self.resumed_done() {
            return Ok(done);
        }
        if resumed {
            if let Some(listed) = self.ops.list(&c, signal).await? {
                let listed = with_known_etags(listed, &self.ledger.borrow().finished());
                self.ledger
                    .borrow_mut()
                    .replace_with_listed(&self.plan, listed);
            }
        }
        self.ledger.borrow_mut().cancel_all();
        self.emit_upload();
        let missing = self.ledger.borrow().missing(&self.plan);
        self.send_parts(&c, missing, signal).await?;
        let parts = self.ledger.borrow().finished();
        if parts.len() != self.plan.len() {
            return Err(UploadError::new(
                ErrorCode::UploadRejected,
                "Some parts of the multipart upload are missing after sending them all.",
            ));
        }
        // From here on a pause no longer stops anything: only the caller's signal does.
        let done = self.ops.complete(&c, &parts, user).await?;
        self.completed.set(true);
        self.keep_completed(&done);
        Ok(done)
    }

    /// Calls `abort` once (unless `leaveParts`), whatever the caller's signal says.
    pub(super) async fn abort_upload(&self) {
        if self.mp.settings.leave_parts || self.completed.get() || self.abort_sent.replace(true) {
            return;
        }
        let Some(c) = self.created.borrow().clone() else {
            return;
        };
        self.ops.abort(&c).await;
    }
}

/// Fills the ETag of listed parts that came without one (s3s-fs's ListParts gives none) from
/// the parts this task sent itself, when number and size match. A part the store lists
/// without an ETag that this task does not know is sent again.
pub(super) fn with_known_etags(listed: Vec<DonePart>, known: &[DonePart]) -> Vec<DonePart> {
    listed
        .into_iter()
        .map(|mut p| {
            if p.etag.trim().is_empty() {
                if let Some(k) = known
                    .iter()
                    .find(|k| k.number == p.number && k.size == p.size)
                {
                    p.etag = k.etag.clone();
                }
            }
            p
        })
        .collect()
}

pub(super) fn part_blob(body: &Blob, part: Part) -> Result<Blob, UploadError> {
    body.slice_with_f64_and_f64(part.start as f64, part.end as f64)
        .map_err(|_| {
            UploadError::invalid_input("file", "cannot be sliced into parts (Blob.slice failed)")
        })
}

pub(super) fn missing_etag(number: u32) -> UploadError {
    UploadError::new(
        ErrorCode::Cors,
        cat(&[
            "The store accepted part ",
            &num(number.into()),
            ", but the browser hid its ETag header, which completing a multipart upload needs. \
             The bucket's CORS rule must expose it: ExposeHeaders: ETag (\"ExposeHeaders\": [\"ETag\"]).",
        ]),
    )
}

pub(super) fn with_part(mut e: UploadError, number: u32) -> UploadError {
    if !crate::text::contains(&e.message, "part ") {
        e.message = cat(&["Part ", &num(number.into()), ": ", &e.message]);
    }
    e
}

pub(super) async fn network_or_cors(url: &str, last: bool) -> UploadError {
    let network = UploadError::new(ErrorCode::Network, "The PUT of a part failed before any answer could be read (connection dropped or host unreachable).");
    if last && transport::origin_reachable(url).await {
        UploadError::cors("PUT of a part to its signed URL")
    } else {
        network
    }
}

impl Multi {
    /// The multipart upload of `blob`, when `multipart` is configured, the file reaches its
    /// threshold and the source has multipart calls (the Hexnode API has none).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn for_file(
        source: &Source,
        multipart: Option<&Rc<MultipartCore>>,
        blob: &Blob,
        file_name: &str,
        content_type: &str,
        transport: TransportKind,
        put_timeout_ms: u64,
        progress: &Rc<Progress>,
    ) -> Result<Option<Rc<Multi>>, UploadError> {
        let raw = blob.size();
        let exact = raw.is_finite() && raw >= 0.0 && raw.fract() == 0.0;
        let Some(mp) = multipart.filter(|mp| exact && mp.settings.applies_to(raw as u64)) else {
            return Ok(None);
        };
        let Some(ops) = Ops::new(source, mp) else {
            return Ok(None);
        };
        let size = raw as u64;
        let part_size = mp.settings.part_size_for(size)?;
        let keep = super::keep::Keep::new(mp, &ops, blob);
        Ok(Some(Rc::new(Multi {
            keep,
            plan: crate::multipart::plan(size, part_size),
            ops,
            source: source.clone(),
            mp: mp.clone(),
            body: blob.clone(),
            file_name: file_name.to_owned(),
            content_type: content_type.to_owned(),
            size,
            transport,
            put_timeout_ms,
            progress: progress.clone(),
            created: RefCell::new(None),
            ledger: RefCell::new(Ledger::new()),
            attempts: Cell::new(0),
            completed: Cell::new(false),
            abort_sent: Cell::new(false),
        })))
    }

    /// One run of the task (see [`Multi::run`]), then verify: the `UploadResult`.
    pub(super) async fn run_verified(
        self: &Rc<Self>,
        signal: &AbortSignal,
        user: Option<&AbortSignal>,
        resumed: bool,
    ) -> Result<JsValue, UploadError> {
        let m = self;
        let started = js_sys::Date::now();
        let (file_uuid, etag) = m.run(signal, user, resumed).await?;
        platform::check_abort(user)?;
        m.progress.emit(Phase::Verify, 0.0, 1.0);
        let verified = m
            .source
            .verify(&file_uuid, user)
            .await
            .map_err(crate::flow::verify_error)?;
        m.progress.emit(Phase::Verify, 1.0, 1.0);
        m.keep_forget();
        Ok(upload_result(Uploaded {
            presigned: Presigned {
                url: String::new(),
                file_name: m.file_name.clone(),
                file_uuid,
                content_type: m.content_type.clone(),
                expires_at_ms: 0,
            },
            size: m.size,
            put: PutDone {
                status: 200,
                etag,
                attempts: m.attempts.get(),
            },
            verified,
            duration_ms: js_sys::Date::now() - started,
        }))
    }
}
