//! The upload loop, written once for every source: presign, PUT (with retries and URL refresh),
//! verify. `putFile` uses the PUT half alone.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, Blob};

use crate::error::{ErrorCode, UploadError};
use crate::hexnode::Presigned;
use crate::platform;
use crate::presigned;
use crate::retry::{decide, Decision, RetryPolicy};
use crate::s3_error;
use crate::source::{Source, Verified};
use crate::transport::{self, PutFailure, PutRequest, TransportKind};

/// How early before its expiry a URL counts as expired (clock skew, time on the wire).
const EXPIRY_MARGIN_MS: u64 = 5_000;
/// How many fresh URLs one upload may ask for after expiries.
const MAX_REFRESHES: u32 = 2;

/// The lifecycle step that progress is reported for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Presign,
    Upload,
    Verify,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Presign => "presign",
            Phase::Upload => "upload",
            Phase::Verify => "verify",
        }
    }
}

/// Receives `(phase, loaded, total)`.
pub(crate) type ProgressSink = Rc<dyn Fn(Phase, f64, f64)>;

/// The `{phase, loaded, total}` object handed to JS.
pub(crate) fn progress_object(phase: Phase, loaded: f64, total: f64) -> JsValue {
    let p = Object::new();
    let _ = Reflect::set(&p, &"phase".into(), &phase.as_str().into());
    let _ = Reflect::set(&p, &"loaded".into(), &JsValue::from_f64(loaded));
    let _ = Reflect::set(&p, &"total".into(), &JsValue::from_f64(total));
    p.into()
}

/// Reports progress to a sink, never backwards within a phase and never with an earlier phase
/// after a later one.
pub(crate) struct Progress {
    sink: Option<ProgressSink>,
    phase: Cell<Phase>,
    loaded: Cell<f64>,
}

impl Progress {
    /// Progress that goes to `sink` (or nowhere).
    pub(crate) fn new(sink: Option<ProgressSink>) -> Rc<Self> {
        Rc::new(Progress { sink, phase: Cell::new(Phase::Presign), loaded: Cell::new(-1.0) })
    }

    /// Progress that goes to a JS `onProgress(p)` callback. A throwing callback does not break
    /// the upload.
    pub(crate) fn to_js(callback: Option<Function>) -> Rc<Self> {
        Self::new(callback.map(|cb| {
            Rc::new(move |phase: Phase, loaded: f64, total: f64| {
                let _ = cb.call1(&JsValue::UNDEFINED, &progress_object(phase, loaded, total));
            }) as ProgressSink
        }))
    }

    pub(crate) fn wanted(&self) -> bool {
        self.sink.is_some()
    }

    pub(crate) fn emit(&self, phase: Phase, loaded: f64, total: f64) {
        let Some(sink) = &self.sink else { return };
        if phase < self.phase.get() {
            return;
        }
        if phase > self.phase.get() {
            self.phase.set(phase);
            self.loaded.set(-1.0);
        }
        let loaded = loaded.clamp(0.0, total.max(0.0));
        if loaded <= self.loaded.get() {
            return;
        }
        self.loaded.set(loaded);
        sink(phase, loaded, total);
    }
}

/// Everything about one PUT that stays the same across attempts.
pub(crate) struct PutJob<'a> {
    pub body: &'a Blob,
    pub content_type: &'a str,
    pub size: u64,
    pub transport: TransportKind,
    pub policy: RetryPolicy,
    pub timeout_ms: u64,
    pub signal: Option<&'a AbortSignal>,
    pub progress: Rc<Progress>,
    pub allow_insecure_http: bool,
}

/// A PUT that S3 accepted.
#[derive(Clone, Debug)]
pub(crate) struct PutDone {
    pub status: u16,
    pub etag: Option<String>,
    pub attempts: u32,
}

/// Where a fresh URL comes from when the current one expires.
pub(crate) struct Refresh<'a> {
    pub source: &'a Source,
    pub file_name: &'a str,
}

fn url_expired(detail: &str) -> UploadError {
    UploadError::new(
        ErrorCode::UrlExpired,
        format!("The presigned URL has expired{detail}. Ask for a new one (presigned URLs live a limited time) and upload again."),
    )
}

/// PUTs the body to `current.url`, retrying as the policy says and asking `refresh` for a new
/// URL when the current one has expired. On success `current` holds the URL that worked.
pub(crate) async fn put_loop(job: &PutJob<'_>, current: &mut Presigned, refresh: Option<Refresh<'_>>) -> Result<PutDone, UploadError> {
    let mut attempts = 0u32;
    let mut retries_done = 0u32;
    let mut refreshes = 0u32;
    // Whether the store's answer to an earlier attempt could be read: then its CORS is fine,
    // and a later bare failure is the network's.
    let mut answered = false;
    let total = job.size as f64;
    loop {
        platform::check_abort(job.signal)?;
        let parsed = presigned::parse(&current.url)?;
        parsed.check_transport(job.allow_insecure_http)?;
        let expired_before_send = parsed.is_expired(platform::now_ms(), EXPIRY_MARGIN_MS)
            || (current.expires_at_ms > 0 && platform::now_ms() + EXPIRY_MARGIN_MS >= current.expires_at_ms);
        let err = if expired_before_send {
            url_expired(" before it could be used")
        } else {
            attempts += 1;
            let progress = job.progress.clone();
            let on_progress: Option<Rc<dyn Fn(f64)>> = if job.progress.wanted() {
                Some(Rc::new(move |loaded: f64| progress.emit(Phase::Upload, loaded, total)))
            } else {
                None
            };
            job.progress.emit(Phase::Upload, 0.0, total);
            let sent = transport::put(
                job.transport,
                PutRequest {
                    url: &current.url,
                    body: job.body,
                    content_type: job.content_type,
                    progress: on_progress,
                    signal: job.signal,
                    timeout_ms: job.timeout_ms,
                },
            )
            .await;
            match sent {
                Ok(r) if (200..300).contains(&r.status) => {
                    job.progress.emit(Phase::Upload, total, total);
                    return Ok(PutDone { status: r.status, etag: r.etag, attempts });
                }
                Ok(r) => {
                    answered = true;
                    s3_error::classify_put_failure(r.status, &r.body, r.request_id.as_deref())
                }
                Err(PutFailure::Aborted) => return Err(UploadError::aborted()),
                Err(PutFailure::Timeout) => UploadError::new(
                    ErrorCode::Network,
                    format!("The PUT to the store timed out after {} ms.", job.timeout_ms),
                ),
                Err(PutFailure::Failed) => network_or_cors(&current.url, retries_done >= job.policy.retries && !answered).await,
            }
        };
        match decide(&job.policy, retries_done, &err, platform::jitter()) {
            Decision::Retry { delay_ms } => {
                platform::sleep(delay_ms, job.signal).await?;
                retries_done += 1;
            }
            Decision::Refresh => {
                let Some(r) = refresh.as_ref() else {
                    return Err(err);
                };
                if refreshes >= MAX_REFRESHES {
                    return Err(err);
                }
                refreshes += 1;
                *current = r.source.presign(r.file_name, job.content_type, job.size, job.signal).await.map_err(|e| {
                    if e.code == ErrorCode::Aborted {
                        e
                    } else {
                        url_expired(&format!(", and no fresh one could be had ({})", e.message))
                    }
                })?;
            }
            Decision::Fail => return Err(err),
        }
    }
}

/// A bare network failure of the PUT. While retries remain it is a retryable `network` error;
/// on the last attempt (`probe`: and when no earlier answer of the store could be read) a probe
/// of the origin tells a reachable store (the browser hid its answer: most likely CORS) from an
/// unreachable one.
async fn network_or_cors(url: &str, probe: bool) -> UploadError {
    let network = UploadError::new(
        ErrorCode::Network,
        "The PUT to the store failed before any answer could be read (connection dropped or host unreachable).",
    );
    if !probe {
        return network;
    }
    if transport::origin_reachable(url).await {
        UploadError::cors("PUT to the presigned URL")
    } else {
        UploadError::new(ErrorCode::Network, NO_ANSWER)
    }
}

/// The last attempt's bare failure when no answer of the store was ever readable and its origin
/// did not answer a probe: browsers (opaque-response blocking) show an unreachable store and a
/// bucket whose CORS has no rule for this page the same way, so the message names both.
const NO_ANSWER: &str = "The PUT to the presigned URL failed on every attempt before any answer could be read, and the store's origin did not answer a probe either. \
The browser shows an unreachable store and a bucket whose CORS has no rule for this page's origin the same way; on a first setup the bucket's CORS is the likely cause. \
The bucket's CORS rules must allow: AllowedOrigins this page's origin, AllowedMethods PUT, AllowedHeaders content-type, ExposeHeaders ETag (the browser console shows the exact CORS message). \
Otherwise check the network and the URL's host.";

/// What `upload()` gives back.
pub(crate) struct Uploaded {
    pub presigned: Presigned,
    pub size: u64,
    pub put: PutDone,
    pub verified: Option<Verified>,
    pub duration_ms: f64,
}

/// The per-upload inputs, already validated.
pub(crate) struct UploadJob<'a> {
    pub body: &'a Blob,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    pub transport: TransportKind,
    pub timeout_ms: u64,
    pub signal: Option<&'a AbortSignal>,
    pub progress: Rc<Progress>,
}

/// presign → PUT → verify. Resolves only when S3 answered 2xx and verification (if any) passed.
pub(crate) async fn upload(source: &Source, job: UploadJob<'_>) -> Result<Uploaded, UploadError> {
    let started = js_sys::Date::now();
    let (presigned, put) = send(source, &job).await?;
    finish(source, &job, presigned, put, started).await
}

/// presign → PUT: the first half of [`upload`]. Gives the URL that worked and the PUT's outcome.
pub(crate) async fn send(source: &Source, job: &UploadJob<'_>) -> Result<(Presigned, PutDone), UploadError> {
    job.progress.emit(Phase::Presign, 0.0, 1.0);
    let mut presigned = source.presign(&job.file_name, &job.content_type, job.size, job.signal).await?;
    job.progress.emit(Phase::Presign, 1.0, 1.0);
    let put_job = PutJob {
        body: job.body,
        content_type: &job.content_type,
        size: job.size,
        transport: job.transport,
        policy: source.retry(),
        timeout_ms: job.timeout_ms,
        signal: job.signal,
        progress: job.progress.clone(),
        allow_insecure_http: source.allow_insecure_http(),
    };
    let put = put_loop(&put_job, &mut presigned, Some(Refresh { source, file_name: &job.file_name })).await?;
    Ok((presigned, put))
}

/// verify: the second half of [`upload`], for a file whose PUT landed (`started`: when the
/// upload began, for `durationMs`).
pub(crate) async fn finish(source: &Source, job: &UploadJob<'_>, presigned: Presigned, put: PutDone, started: f64) -> Result<Uploaded, UploadError> {
    platform::check_abort(job.signal)?;
    job.progress.emit(Phase::Verify, 0.0, 1.0);
    let verified = source.verify(&presigned.file_uuid, job.signal).await.map_err(verify_error)?;
    job.progress.emit(Phase::Verify, 1.0, 1.0);
    Ok(Uploaded { presigned, size: job.size, put, verified, duration_ms: js_sys::Date::now() - started })
}

/// A failure in the verify step is `verify_failed` unless it says something more useful
/// (aborted, unauthorized, forbidden, rate limited).
fn verify_error(mut e: UploadError) -> UploadError {
    match e.code {
        ErrorCode::Aborted | ErrorCode::Unauthorized | ErrorCode::Forbidden | ErrorCode::RateLimited | ErrorCode::VerifyFailed => e,
        _ => {
            e.message = format!("The file was sent, but verifying it failed: {}", e.message);
            e.code = ErrorCode::VerifyFailed;
            e
        }
    }
}
