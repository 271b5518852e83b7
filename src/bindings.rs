//! The JS surface: `HexnodeClient`, `Uploader` and `putFile`, with their TypeScript types.
//! Thin on purpose: it reads options, calls the flow, and turns results and errors into JS.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, File, RequestCredentials};

use crate::api::DEFAULT_API_TIMEOUT_MS;
use crate::error::UploadError;
use crate::batch;
use crate::flow::{self, Phase, Progress, PutJob, UploadJob};
use crate::hexnode::{self, ApiOp, Portal, Presigned};
use crate::input;
use crate::limiter::RateLimiter;
use crate::opts::{js_error, number_array, numbers_of, object as obj, opt_num, opt_str, upload_result, Opts};
use crate::platform;
use crate::presigned;
use crate::retry::RetryPolicy;
use crate::backend::{BackendCore, Via};
use crate::source::{HexnodeCore, Source};
use crate::transport;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Hexnode's own answer to generate-presigned-upload-url. */
export type PresignJson = { presigned_url: string; file_name: string; file_uuid: string };
/** A presigned URL and what it was made for. */
export interface PresignedUpload { presignedUrl: string; fileName: string; fileUuid: string; contentType: string; /** ms since epoch */ expiresAt: number }
/** Progress of one lifecycle phase. `loaded` never goes back within a phase. */
export interface Progress { phase: "presign" | "upload" | "verify"; loaded: number; total: number }
/** Per-upload options. */
export interface UploadOptions { fileName?: string; contentType?: string; onProgress?: (p: Progress) => void; signal?: AbortSignal; transport?: "auto" | "fetch" | "xhr" }
/** The result of a PUT that the store accepted. */
export interface PutResult { status: number; etag?: string; size: number; attempts: number }
/** The answer of Verify File Upload. */
export interface VerifyResult { fileUuid: string; fileId?: number; raw: unknown }
/** A finished, verified upload. */
export interface UploadResult { fileUuid: string; fileName: string; contentType: string; size: number; etag?: string;
  verified: boolean; fileId?: number; verify?: unknown; attempts: number; durationMs: number }
/** Bounded, classified retries. `timeoutMs` limits each attempt (default: 30000 for API calls, none for PUTs). */
export interface RetryOptions { retries?: number; minDelayMs?: number; maxDelayMs?: number; timeoutMs?: number }
/** Options of `new HexnodeClient()`. */
export interface HexnodeClientOptions { portal: string; apiKey: string; verifyPath?: string;
  /** Client-side limit on API calls per window (default 30; 0 = off). */ rateLimitPerMinute?: number;
  /** The limiter's window in ms (default 60000: per minute). */ rateLimitWindowMs?: number;
  retry?: RetryOptions; allowInsecureHttp?: boolean }
/** Options of `new Uploader()`. `presign`: your backend makes the URLs (required in this build; the full build,
 * `presigned-upload/full`, can also sign them in the browser with `s3`, and send big files in parts with `multipart`). */
export interface UploaderOptions {
  presign?: string | ((req: { fileName: string; contentType: string; size: number }) => Promise<PresignJson>);
  verify?: string | ((fileUuid: string) => Promise<unknown>) | false;
  headers?: Record<string, string>; credentials?: "same-origin" | "include" | "omit"; retry?: RetryOptions; allowInsecureHttp?: boolean }
/** Options of `putFile()`. */
export interface PutFileOptions { contentType?: string; onProgress?: (p: Progress) => void; signal?: AbortSignal;
  retry?: RetryOptions; transport?: "auto" | "fetch" | "xhr"; allowInsecureHttp?: boolean }
/** A deploy-file request. At least one target list must be non-empty. */
export interface DeployFileRequest { fileIds: number[]; filePath: string; users?: number[]; usergroups?: number[]; devices?: number[]; devicegroups?: number[] }
/** Options of `uploadAll()`. */
export interface UploadAllOptions { /** 1..16, default 3 */ concurrency?: number; signal?: AbortSignal;
  onFileProgress?: (index: number, p: Progress) => void;
  onProgress?: (p: { loaded: number; total: number; done: number; failed: number; count: number }) => void }
/** An `uploadAll()` input that is not a File: a Blob (or File) with the name and type it goes under. */
export interface UploadAllEntry { file: File | Blob; /** Required for a Blob. */ fileName?: string; contentType?: string }
/** One entry of `uploadAll()`'s result, in input order. */
export type UploadAllResult = { ok: true; result: UploadResult } | { ok: false; error: UploadError };
/** Every error code. */
export type UploadErrorCode = "invalid_input" | "unauthorized" | "forbidden" | "rate_limited" | "presign_failed" | "url_expired" | "too_large"
  | "upload_rejected" | "network" | "cors" | "aborted" | "verify_failed" | "bad_response"
  | "server_error";
/** What every promise of this package rejects with: an `Error` whose `name` is "UploadError". */
export interface UploadError extends Error { name: "UploadError"; code: UploadErrorCode; status?: number; s3Code?: string; requestId?: string; retryable: boolean; retryAfterMs?: number }
"#;

#[wasm_bindgen]
extern "C" {
    /// Options of `new HexnodeClient()`.
    #[wasm_bindgen(typescript_type = "HexnodeClientOptions")]
    pub type HexnodeClientOptions;
    /// Options of `new Uploader()`.
    #[wasm_bindgen(typescript_type = "UploaderOptions")]
    pub type UploaderOptions;
    /// Per-upload options.
    #[wasm_bindgen(typescript_type = "UploadOptions")]
    pub type UploadOptions;
    /// Options of `putFile()`.
    #[wasm_bindgen(typescript_type = "PutFileOptions")]
    pub type PutFileOptions;
    /// A deploy-file request.
    #[wasm_bindgen(typescript_type = "DeployFileRequest")]
    pub type DeployFileRequest;
    /// Options of `uploadAll()`.
    #[wasm_bindgen(typescript_type = "UploadAllOptions")]
    pub type UploadAllOptions;
}

/// The JS promise of one exported call. Generic only in its thin entry: the body is boxed, so
/// the wrapper that turns an `UploadError` into a JS `Error` is compiled once.
fn promise<F>(fut: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue, UploadError>> + 'static,
{
    promise_boxed(Box::pin(fut))
}

fn promise_boxed(fut: crate::platform::Boxed<'static, Result<JsValue, UploadError>>) -> Promise {
    crate::platform::spawn_promise(async move { fut.await.map_err(|e| js_error(&e)) })
}


/// Retry policy and per-attempt timeout from `retry`.
fn read_retry(o: &Opts<'_>) -> Result<(RetryPolicy, Option<u64>), UploadError> {
    let Some(r) = o.object("retry")? else { return Ok((RetryPolicy::default(), None)) };
    let r = Opts::new(&r, "retry")?;
    let policy = RetryPolicy::new(r.number("retries")?, r.number("minDelayMs")?, r.number("maxDelayMs")?)?;
    let timeout = match r.number("timeoutMs")? {
        None => None,
        Some(t) if t.is_finite() && t >= 0.0 && t.fract() == 0.0 && t <= 86_400_000.0 => Some(t as u64),
        Some(_) => return Err(UploadError::invalid_input("retry.timeoutMs", "must be a whole number of milliseconds, 0 to 86400000")),
    };
    Ok((policy, timeout))
}

/// The File/Blob argument, its name (File only) and size.
fn read_body(v: &JsValue) -> Result<(Blob, Option<String>), UploadError> {
    let blob: Blob = v.clone().dyn_into().map_err(|_| UploadError::invalid_input("file", "must be a File or a Blob"))?;
    let name = v.dyn_ref::<File>().map(|f| f.name());
    Ok((blob, name))
}

/// Per-upload options, validated.
struct ReadUpload {
    file_name: Option<String>,
    content_type: Option<String>,
    on_progress: Option<js_sys::Function>,
    signal: Option<web_sys::AbortSignal>,
    transport: Option<String>,
}

fn read_upload_opts(v: &JsValue) -> Result<ReadUpload, UploadError> {
    let o = Opts::new(v, "opts")?;
    Ok(ReadUpload {
        file_name: o.string("fileName")?,
        content_type: o.string("contentType")?,
        on_progress: o.function("onProgress")?,
        signal: o.signal("signal")?,
        transport: o.string("transport")?,
    })
}


/// Validates one upload's inputs and runs the flow.
async fn run_upload(source: Source, file: JsValue, o: ReadUpload, progress: Rc<Progress>, timeout_ms: u64) -> Result<JsValue, UploadError> {
    platform::check_abort(o.signal.as_ref())?;
    let (blob, own_name) = read_body(&file)?;
    let file_name = input::resolve_file_name(o.file_name.as_deref(), own_name.as_deref())?;
    let content_type = input::resolve_content_type(o.content_type.as_deref(), &blob.type_())?;
    let size = input::check_size(blob.size())?;
    let transport = transport::choose(o.transport.as_deref(), progress.wanted())?;
    let job = UploadJob { body: &blob, file_name, content_type, size, transport, timeout_ms, signal: o.signal.as_ref(), progress };
    flow::upload(&source, job).await.map(upload_result)
}

/// `upload(file, opts)` for either class.
fn upload_promise(source: Source, file: JsValue, opts: Option<UploadOptions>, timeout_ms: u64) -> Promise {
    let opts: JsValue = opts.map(Into::into).unwrap_or(JsValue::UNDEFINED);
    promise(async move {
        let o = read_upload_opts(&opts)?;
        let progress = Progress::to_js(o.on_progress.clone());
        run_upload(source, file, o, progress, timeout_ms).await
    })
}

/// The batch's running totals, reported to `onProgress`.
struct BatchTotals {
    sizes: Vec<f64>,
    loaded: Vec<f64>,
    done: u32,
    failed: u32,
}

impl BatchTotals {
    fn report(&self, cb: &Option<js_sys::Function>) {
        if let Some(cb) = cb {
            let p = obj(&[
                ("loaded", JsValue::from_f64(self.loaded.iter().sum())),
                ("total", JsValue::from_f64(self.sizes.iter().sum())),
                ("done", self.done.into()),
                ("failed", self.failed.into()),
                ("count", (self.sizes.len() as u32).into()),
            ]);
            let _ = cb.call1(&JsValue::UNDEFINED, &p);
        }
    }
}

/// The files of a `FileList` or an array, in order.
fn read_files(v: &JsValue) -> Result<Vec<JsValue>, UploadError> {
    if js_sys::Array::is_array(v) {
        return Ok(v.unchecked_ref::<js_sys::Array>().iter().collect());
    }
    if let Some(list) = v.dyn_ref::<web_sys::FileList>() {
        return Ok((0..list.length()).filter_map(|i| list.item(i)).map(JsValue::from).collect());
    }
    Err(UploadError::invalid_input("files", "must be a FileList or an array of File / { file, fileName?, contentType? }"))
}

/// One `uploadAll` entry, read: the body, and the name and type it goes under.
type Entry = (Blob, Option<String>, Option<String>);

/// Reads entry `i` of `uploadAll`: a File, or `{ file, fileName?, contentType? }` (a Blob
/// needs `fileName`). Errors name the entry (`files[2].fileName`).
fn read_entry(v: &JsValue, i: usize) -> Result<Entry, UploadError> {
    let mut field = String::from("files[");
    field.push_str(&String::from(js_sys::Number::from(i as f64).to_string_with_radix(10).unwrap_or_else(|_| "?".into())));
    field.push(']');
    if let Some(f) = v.dyn_ref::<File>() {
        return Ok((f.clone().into(), None, None));
    }
    if v.is_instance_of::<Blob>() {
        return Err(UploadError::invalid_input(&field, "is a Blob, which has no name: pass { file: blob, fileName } instead"));
    }
    if !v.is_object() {
        return Err(UploadError::invalid_input(&field, "must be a File or { file, fileName?, contentType? }"));
    }
    let o = Opts::new(v, "entry")?;
    let sub = |key: &str| {
        let mut f = field.clone();
        f.push('.');
        f.push_str(key);
        f
    };
    let string = |key: &str| match o.raw(key) {
        None => Ok(None),
        Some(s) => s.as_string().map(Some).ok_or_else(|| UploadError::invalid_input(&sub(key), "must be a string")),
    };
    let (file_name, content_type) = (string("fileName")?, string("contentType")?);
    let file = o.raw("file").unwrap_or(JsValue::UNDEFINED);
    let Ok(blob) = file.clone().dyn_into::<Blob>() else {
        return Err(UploadError::invalid_input(&sub("file"), "must be a File or a Blob"));
    };
    if file_name.is_none() && !file.is_instance_of::<File>() {
        return Err(UploadError::invalid_input(&sub("fileName"), "is required: a Blob has no name"));
    }
    Ok((blob, file_name, content_type))
}

/// `uploadAll(files, opts)` for either class.
/// Files at or above `multipart`'s threshold go multipart, as with `upload()`.
fn upload_all_promise(
    source: Source,
    multipart: Option<Rc<crate::task::MultipartCore>>,
    files: JsValue,
    opts: Option<UploadAllOptions>,
    timeout_ms: u64,
) -> Promise {
    let opts: JsValue = opts.map(Into::into).unwrap_or(JsValue::UNDEFINED);
    promise(async move {
        let o = Opts::new(&opts, "opts")?;
        let concurrency = match o.number("concurrency")? {
            None => 3,
            Some(n) if n.fract() == 0.0 && (1.0..=16.0).contains(&n) => n as usize,
            Some(_) => return Err(UploadError::invalid_input("opts.concurrency", "must be a whole number from 1 to 16")),
        };
        let signal = o.signal("signal")?;
        let on_file = o.function("onFileProgress")?;
        let on_total = o.function("onProgress")?;
        let files: Rc<Vec<Result<Entry, UploadError>>> = Rc::new(read_files(&files)?.iter().enumerate().map(|(i, v)| read_entry(v, i)).collect());
        let sizes = files.iter().map(|f| f.as_ref().map(|(b, _, _)| b.size()).unwrap_or(0.0)).collect::<Vec<_>>();
        let totals = Rc::new(RefCell::new(BatchTotals { loaded: vec![0.0; sizes.len()], sizes, done: 0, failed: 0 }));
        let count = files.len();
        let task = {
            let (files, totals, signal, on_total) = (files.clone(), totals.clone(), signal.clone(), on_total.clone());
            move |i: usize| {
                let (file, totals, signal, on_file, on_total, source, multipart) =
                    (files[i].clone(), totals.clone(), signal.clone(), on_file.clone(), on_total.clone(), source.clone(), multipart.clone());
                async move {
                    let sink = {
                        let totals = totals.clone();
                        let on_total = on_total.clone();
                        Rc::new(move |phase: Phase, loaded: f64, total: f64| {
                            if let Some(cb) = &on_file {
                                let _ = cb.call2(&JsValue::UNDEFINED, &JsValue::from(i as u32), &flow::progress_object(phase, loaded, total));
                            }
                            if phase == Phase::Upload {
                                let mut t = totals.borrow_mut();
                                t.loaded[i] = loaded;
                                t.report(&on_total);
                            }
                        }) as flow::ProgressSink
                    };
                    let progress = Progress::new(Some(sink));
                    let r = match (file, multipart) {
                        (Err(e), _) => Err(e),
                        (Ok((file, file_name, content_type)), Some(mp)) => {
                            let input = crate::task::TaskInput { file: file.into(), file_name, content_type, transport: None, signal, progress };
                            crate::task::run(&source, Some(&mp), timeout_ms, input).await
                        }
                        (Ok((file, file_name, content_type)), None) => {
                            let o = ReadUpload { file_name, content_type, on_progress: None, signal, transport: None };
                            run_upload(source, file.into(), o, progress, timeout_ms).await
                        }
                    };
                    let mut t = totals.borrow_mut();
                    match &r {
                        Ok(_) => {
                            t.done += 1;
                            t.loaded[i] = t.sizes[i];
                        }
                        Err(_) => t.failed += 1,
                    }
                    t.report(&on_total);
                    r
                }
            }
        };
        let results = batch::run_pool(count, concurrency, signal, task).await;
        let out = js_sys::Array::new();
        for r in results {
            out.push(&match r {
                Ok(v) => obj(&[("ok", true.into()), ("result", v)]),
                Err(e) => obj(&[("ok", false.into()), ("error", js_error(&e))]),
            });
        }
        Ok(out.into())
    })
}

/// Talks to the Hexnode API directly with an API key ("by itself").
///
/// An API key in a browser is visible to anyone who opens the page: prefer [`Uploader`] with
/// your own backend in production, and use this in trusted tools and admin consoles.
#[wasm_bindgen]
pub struct HexnodeClient {
    core: Rc<HexnodeCore>,
    put_timeout_ms: u64,
}

#[wasm_bindgen]
impl HexnodeClient {
    /// Creates a client for `opts.portal` (e.g. `https://acme.hexnodemdm.com`). Throws an
    /// `UploadError` with code `invalid_input` naming the field when an option is wrong.
    #[wasm_bindgen(constructor)]
    pub fn new(opts: HexnodeClientOptions) -> Result<HexnodeClient, JsValue> {
        Self::build(opts.as_ref()).map_err(|e| js_error(&e))
    }

    fn build(v: &JsValue) -> Result<HexnodeClient, UploadError> {
        if v.is_undefined() || v.is_null() {
            return Err(UploadError::invalid_input("opts", "is required: { portal, apiKey }"));
        }
        let o = Opts::new(v, "opts")?;
        let allow_insecure_http = o.boolean("allowInsecureHttp")?.unwrap_or(false);
        let portal = Portal::parse(&o.required_string("portal")?, allow_insecure_http)?;
        let api_key = o.required_string("apiKey").map_err(|_| UploadError::invalid_input("opts.apiKey", "is required"))?;
        hexnode::check_api_key(&api_key)?;
        let verify_path = match o.string("verifyPath")? {
            Some(p) => hexnode::validate_path("opts.verifyPath", &p)?,
            None => hexnode::VERIFY_PATH.to_owned(),
        };
        let per_minute = match o.number("rateLimitPerMinute")? {
            None => 30,
            Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 100_000.0 => n as u32,
            Some(_) => return Err(UploadError::invalid_input("opts.rateLimitPerMinute", "must be a whole number from 0 (off) to 100000")),
        };
        let window_ms = match o.number("rateLimitWindowMs")? {
            None => 60_000,
            Some(n) if n.is_finite() && n >= 1.0 && n.fract() == 0.0 && n <= 3_600_000.0 => n as u64,
            Some(_) => return Err(UploadError::invalid_input("opts.rateLimitWindowMs", "must be a whole number of milliseconds from 1 to 3600000")),
        };
        let (retry, timeout) = read_retry(&o)?;
        let core = HexnodeCore {
            portal,
            auth: [("Authorization".to_owned(), api_key.clone())],
            api_key,
            verify_path,
            limiter: RefCell::new(RateLimiter::new(per_minute, window_ms)),
            retry,
            allow_insecure_http,
            timeout_ms: timeout.unwrap_or(DEFAULT_API_TIMEOUT_MS),
        };
        Ok(HexnodeClient { core: Rc::new(core), put_timeout_ms: timeout.unwrap_or(0) })
    }

    /// `POST /api/v1/filemanagement/generate-presigned-upload-url/`.
    #[wasm_bindgen(js_name = generatePresignedUploadUrl, unchecked_return_type = "Promise<PresignedUpload>")]
    #[allow(non_snake_case)]
    pub fn generate_presigned_upload_url(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] fileName: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string")] contentType: Option<js_sys::JsString>,
    ) -> Promise {
        let core = self.core.clone();
        let content_type: JsValue = contentType.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        promise(async move {
            let name = fileName.as_string().ok_or_else(|| UploadError::invalid_input("fileName", "must be a string"))?;
            let name = input::resolve_file_name(Some(&name), None)?;
            let ct = if content_type.is_undefined() || content_type.is_null() {
                None
            } else {
                Some(content_type.as_string().ok_or_else(|| UploadError::invalid_input("contentType", "must be a string"))?)
            };
            let ct = input::resolve_content_type(ct.as_deref(), "")?;
            let p = core.presign(&name, &ct, None).await?;
            Ok(presigned_js(&p))
        })
    }

    /// Verify File Upload for `fileUuid` (at `verifyPath`); resolves with the API's JSON as `raw`.
    #[wasm_bindgen(js_name = verifyFileUpload, unchecked_return_type = "Promise<VerifyResult>")]
    #[allow(non_snake_case)]
    pub fn verify_file_upload(&self, #[wasm_bindgen(unchecked_param_type = "string")] fileUuid: JsValue) -> Promise {
        let core = self.core.clone();
        promise(async move {
            let uuid = fileUuid
                .as_string()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| UploadError::invalid_input("fileUuid", "must be a non-empty string"))?;
            let v = core.verify(&uuid, None).await?;
            Ok(obj(&[("fileUuid", uuid.as_str().into()), ("fileId", opt_num(v.file_id)), ("raw", v.raw)]))
        })
    }

    /// `POST /api/v1/filemanagement/delete-files/`; resolves with `{ message }`.
    #[wasm_bindgen(js_name = deleteFiles, unchecked_return_type = "Promise<{ message: string }>")]
    #[allow(non_snake_case)]
    pub fn delete_files(&self, #[wasm_bindgen(unchecked_param_type = "number[]")] fileIds: JsValue) -> Promise {
        let core = self.core.clone();
        promise(async move {
            let ids = hexnode::validate_file_ids("fileIds", &numbers_of(&fileIds, "fileIds")?)?;
            let body = obj(&[("file_ids", number_array(&ids))]);
            let message = core.message_call(ApiOp::Delete, hexnode::DELETE_PATH, &body, None).await?;
            Ok(obj(&[("message", message.into())]))
        })
    }

    /// `POST /api/v1/actions/deploy-file/`; resolves with `{ message }`.
    #[wasm_bindgen(js_name = deployFile, unchecked_return_type = "Promise<{ message: string }>")]
    pub fn deploy_file(&self, req: DeployFileRequest) -> Promise {
        let core = self.core.clone();
        promise(async move {
            let v: &JsValue = req.as_ref();
            if v.is_undefined() || v.is_null() {
                return Err(UploadError::invalid_input("req", "is required: { fileIds, filePath, devices?, ... }"));
            }
            let o = Opts::new(v, "req")?;
            let ids = o.numbers("fileIds")?.ok_or_else(|| UploadError::invalid_input("fileIds", "is required"))?;
            let path = o.string("filePath")?.unwrap_or_default();
            let list = |k: &str| o.numbers(k).map(Option::unwrap_or_default);
            let body = hexnode::deploy_body(&ids, &path, &list("users")?, &list("usergroups")?, &list("devices")?, &list("devicegroups")?)?;
            let body = obj(&[
                ("file_ids", number_array(&body.file_ids)),
                ("file_path", body.file_path.as_str().into()),
                ("users", number_array(&body.users)),
                ("usergroups", number_array(&body.usergroups)),
                ("devices", number_array(&body.devices)),
                ("devicegroups", number_array(&body.devicegroups)),
            ]);
            let message = core.message_call(ApiOp::Deploy, hexnode::DEPLOY_PATH, &body, None).await?;
            Ok(obj(&[("message", message.into())]))
        })
    }

    /// generate → PUT → verify. Resolves only when the store accepted the file and verify passed.
    #[wasm_bindgen(unchecked_return_type = "Promise<UploadResult>")]
    pub fn upload(&self, #[wasm_bindgen(unchecked_param_type = "File | Blob")] file: JsValue, opts: Option<UploadOptions>) -> Promise {
        upload_promise(Source::Hexnode(self.core.clone()), file, opts, self.put_timeout_ms)
    }

    /// Uploads many files, at most `concurrency` (default 3) at once, sharing this client's rate
    /// limiter. Resolves with one entry per input, in input order; never rejects for one file.
    #[wasm_bindgen(js_name = uploadAll, unchecked_return_type = "Promise<UploadAllResult[]>")]
    pub fn upload_all(&self, #[wasm_bindgen(unchecked_param_type = "FileList | Array<File | UploadAllEntry>")] files: JsValue, opts: Option<UploadAllOptions>) -> Promise {
        upload_all_promise(Source::Hexnode(self.core.clone()), None, files, opts, self.put_timeout_ms)
    }
}

fn presigned_js(p: &Presigned) -> JsValue {
    obj(&[
        ("presignedUrl", p.url.as_str().into()),
        ("fileName", p.file_name.as_str().into()),
        ("fileUuid", p.file_uuid.as_str().into()),
        ("contentType", p.content_type.as_str().into()),
        ("expiresAt", JsValue::from_f64(p.expires_at_ms as f64)),
    ])
}

/// Uploads through the app's own backend ("through a backend"): the backend holds the Hexnode
/// key, and the browser only ever sees presigned URLs. The safe default for production.
#[wasm_bindgen]
pub struct Uploader {
    pub(crate) source: Source,
    pub(crate) put_timeout_ms: u64,
    /// `opts.multipart`, when given (see `task.rs`).
    pub(crate) multipart: Option<Rc<crate::task::MultipartCore>>,
}

fn read_via(o: &Opts<'_>, key: &str) -> Result<Option<Via>, UploadError> {
    let Some(v) = o.raw(key) else { return Ok(None) };
    if let Some(s) = v.as_string() {
        if s.trim().is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UploadError::invalid_input(&crate::text::cat(&["opts.", key]), "must be a URL without spaces"));
        }
        return Ok(Some(Via::Url(s)));
    }
    match v.dyn_into::<js_sys::Function>() {
        Ok(f) => Ok(Some(Via::Func(f))),
        Err(_) => Err(UploadError::invalid_input(&crate::text::cat(&["opts.", key]), "must be a URL string or a function")),
    }
}

/// The in-browser signer's source from `opts.s3`, with the rest of the options in `backend`.
#[cfg(feature = "full")]
fn s3_source(s3: &JsValue, backend: BackendCore) -> Result<Source, UploadError> {
    let signer = crate::s3_source::S3Signer::read(s3, backend.allow_insecure_http)?;
    Ok(Source::S3(Rc::new(crate::s3_source::S3Core { signer, backend })))
}

/// The core build has no in-browser signer.
#[cfg(not(feature = "full"))]
fn s3_source(_: &JsValue, _: BackendCore) -> Result<Source, UploadError> {
    Err(UploadError::invalid_input("opts.s3", crate::error::FULL_BUILD_ONLY))
}

#[wasm_bindgen]
impl Uploader {
    /// Creates an uploader. `presign` is your backend's endpoint (POSTed `{file_name, content_type,
    /// size}`, answering Hexnode's `{presigned_url, file_name, file_uuid}`) or an async callback;
    /// or, instead of `presign`, `s3` presigns inside the browser with credentials from a callback
    /// (key `{keyPrefix}{uuid}/{fileName}`, no verify unless `verify` is given).
    #[wasm_bindgen(constructor)]
    pub fn new(opts: UploaderOptions) -> Result<Uploader, JsValue> {
        Self::build(opts.as_ref()).map_err(|e| js_error(&e))
    }

    fn build(v: &JsValue) -> Result<Uploader, UploadError> {
        if v.is_undefined() || v.is_null() {
            return Err(UploadError::invalid_input("opts", "is required: { presign } or { s3 }"));
        }
        let o = Opts::new(v, "opts")?;
        let presign = read_via(&o, "presign")?;
        let s3 = o.object("s3")?;
        match (&presign, &s3) {
            (Some(_), Some(_)) => {
                return Err(UploadError::invalid_input("opts", "give presign (your backend makes the URLs) or s3 (the browser signs them), not both"))
            }
            (None, None) => return Err(UploadError::invalid_input("opts.presign", "is required (or opts.s3, to presign in the browser)")),
            _ => {}
        }
        let verify = match o.raw("verify") {
            Some(v) if v.as_bool() == Some(false) => None,
            _ => read_via(&o, "verify")?,
        };
        let credentials = match o.string("credentials")?.as_deref() {
            None | Some("same-origin") => RequestCredentials::SameOrigin,
            Some("include") => RequestCredentials::Include,
            Some("omit") => RequestCredentials::Omit,
            Some(_) => return Err(UploadError::invalid_input("opts.credentials", "must be \"same-origin\", \"include\" or \"omit\"")),
        };
        let headers = o.string_map("headers")?;
        let (retry, timeout) = read_retry(&o)?;
        let core = BackendCore {
            presign,
            verify,
            headers,
            credentials,
            retry,
            allow_insecure_http: o.boolean("allowInsecureHttp")?.unwrap_or(false),
            timeout_ms: timeout.unwrap_or(DEFAULT_API_TIMEOUT_MS),
        };
        let signed_in_browser = s3.is_some();
        let source = match s3 {
            Some(s3) => s3_source(&s3, core)?,
            None => Source::Backend(Rc::new(core)),
        };
        let multipart = crate::task::read_multipart(v, signed_in_browser)?;
        Ok(Uploader { source, put_timeout_ms: timeout.unwrap_or(0), multipart })
    }

    /// presign (through the backend) → PUT → verify (if configured).
    #[wasm_bindgen(unchecked_return_type = "Promise<UploadResult>")]
    pub fn upload(&self, #[wasm_bindgen(unchecked_param_type = "File | Blob")] file: JsValue, opts: Option<UploadOptions>) -> Promise {
        if self.multipart.is_some() {
            return crate::task::start_now(&self.source, self.multipart.as_ref(), self.put_timeout_ms, file, opts.map(Into::into).unwrap_or(JsValue::UNDEFINED));
        }
        upload_promise(self.source.clone(), file, opts, self.put_timeout_ms)
    }

    /// Uploads many files, at most `concurrency` (default 3) at once. Resolves with one entry per
    /// input, in input order; never rejects for one file.
    #[wasm_bindgen(js_name = uploadAll, unchecked_return_type = "Promise<UploadAllResult[]>")]
    pub fn upload_all(&self, #[wasm_bindgen(unchecked_param_type = "FileList | Array<File | UploadAllEntry>")] files: JsValue, opts: Option<UploadAllOptions>) -> Promise {
        upload_all_promise(self.source.clone(), self.multipart.clone(), files, opts, self.put_timeout_ms)
    }
}

/// PUTs `body` to a presigned URL you already have, with progress, abort and bounded retries.
/// `contentType` defaults to the File's type, else `application/octet-stream`, and must equal
/// the one that was presigned.
#[wasm_bindgen(js_name = putFile, unchecked_return_type = "Promise<PutResult>")]
#[allow(non_snake_case)]
pub fn put_file(
    #[wasm_bindgen(unchecked_param_type = "string")] presignedUrl: JsValue,
    #[wasm_bindgen(unchecked_param_type = "File | Blob")] body: JsValue,
    opts: Option<PutFileOptions>,
) -> Promise {
    let opts: JsValue = opts.map(Into::into).unwrap_or(JsValue::UNDEFINED);
    promise(async move {
        let url = presignedUrl.as_string().ok_or_else(|| UploadError::invalid_input("presignedUrl", "must be a string"))?;
        let o = Opts::new(&opts, "opts")?;
        let (blob, _) = read_body(&body)?;
        let content_type = input::resolve_content_type(o.string("contentType")?.as_deref(), &blob.type_())?;
        let size = input::check_size(blob.size())?;
        let on_progress = o.function("onProgress")?;
        let signal = o.signal("signal")?;
        platform::check_abort(signal.as_ref())?;
        let transport = transport::choose(o.string("transport")?.as_deref(), on_progress.is_some())?;
        let (policy, timeout) = read_retry(&o)?;
        let allow_insecure_http = o.boolean("allowInsecureHttp")?.unwrap_or(false);
        let parsed = presigned::parse(&url)?;
        parsed.check_transport(allow_insecure_http)?;
        let mut current = Presigned {
            expires_at_ms: parsed.expires_at_ms().unwrap_or(0),
            url,
            file_name: String::new(),
            file_uuid: String::new(),
            content_type: content_type.clone(),
        };
        let progress = Progress::to_js(on_progress);
        let job = PutJob {
            body: &blob,
            content_type: &content_type,
            size,
            transport,
            policy,
            timeout_ms: timeout.unwrap_or(0),
            signal: signal.as_ref(),
            progress: progress.clone(),
            allow_insecure_http,
        };
        let done = flow::put_loop(&job, &mut current, None).await?;
        Ok(obj(&[
            ("status", JsValue::from_f64(done.status as f64)),
            ("etag", opt_str(&done.etag)),
            ("size", JsValue::from_f64(size as f64)),
            ("attempts", JsValue::from_f64(done.attempts as f64)),
        ]))
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
        opts: Option<UploadOptions>,
    ) -> Result<crate::task::UploadTask, JsValue> {
        let opts: JsValue = opts.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        crate::task::prepare(&self.source, self.multipart.as_ref(), self.put_timeout_ms, &file, &opts).map_err(|e| js_error(&e))
    }
}

#[cfg(feature = "full")]
#[wasm_bindgen]
impl Uploader {
    /// The multipart uploads a reload interrupted (or that failed with `leaveParts`), from this
    /// Uploader's source, and not running in this page: select the same files again (`upload` or
    /// `createUpload`) to resume them. Empty when resume is off or IndexedDB is not usable. Records
    /// older than `resume.maxAgeMs` are aborted and dropped.
    #[wasm_bindgen(js_name = pendingUploads, unchecked_return_type = "Promise<PendingUpload[]>")]
    pub fn pending_uploads(&self) -> Promise {
        crate::task::keep::pending_uploads(&self.source, self.multipart.as_ref())
    }

    /// Aborts the pending upload `id` (from `pendingUploads()`) in the store and forgets it.
    /// Resolves with whether there was such an upload.
    #[wasm_bindgen(js_name = discardPending, unchecked_return_type = "Promise<boolean>")]
    pub fn discard_pending(&self, #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue) -> Promise {
        crate::task::keep::discard_pending(&self.source, self.multipart.as_ref(), id)
    }
}
