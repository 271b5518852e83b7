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
use crate::backend::Verified;
use crate::source::Source;
use crate::text::{cat, num};
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
        // Not f64::clamp: its panic message formats floats (kilobytes of .wasm).
        let loaded = loaded.max(0.0).min(total.max(0.0));
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
        cat(&["The presigned URL has expired", detail, ". Ask for a new one (presigned URLs live a limited time) and upload again."]),
    )
}

/// PUTs the body to `current.url`, retrying as the policy says and asking `refresh` for a new
/// URL when the current one has expired. On success `current` holds the URL that worked.
pub(crate) async fn put_loop(job: &PutJob<'_>, current: &mut Presigned, refresh: Option<Refresh<'_>>) -> Result<PutDone, UploadError> {
    put_checked(job, current, refresh).await.map(|(done, _)| done)
}

/// [`put_loop`], and the source's verify answer when the loop had to ask for it: before a
/// refresh that follows an attempt whose outcome is unknown (a bare failure or a timeout: the
/// PUT may have landed, only its answer was lost), the source is asked whether the object at
/// the current URL's uuid is there. If it is, the upload ends with that URL and no second PUT
/// goes to a fresh key (which would leave the first object an orphan).
async fn put_checked(job: &PutJob<'_>, current: &mut Presigned, refresh: Option<Refresh<'_>>) -> Result<(PutDone, Option<Verified>), UploadError> {
    let mut attempts = 0u32;
    let mut retries_done = 0u32;
    let mut refreshes = 0u32;
    // Whether the store's answer to an earlier attempt could be read: then its CORS is fine,
    // and a later bare failure is the network's.
    let mut answered = false;
    // Whether an attempt to the current URL ended without an answer: the object may be stored.
    let mut maybe_landed = false;
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
                    return Ok((PutDone { status: r.status, etag: r.etag, attempts }, None));
                }
                Ok(r) => {
                    answered = true;
                    s3_error::classify_put_failure(r.status, &r.body, r.request_id.as_deref())
                }
                Err(PutFailure::Aborted) => return Err(UploadError::aborted()),
                Err(PutFailure::Timeout) => {
                    maybe_landed = true;
                    UploadError::new(
                        ErrorCode::Network,
                        cat(&["The PUT to the store timed out after ", &num(job.timeout_ms), " ms."]),
                    )
                }
                Err(PutFailure::Failed) => {
                    maybe_landed = true;
                    network_or_cors(&current.url, retries_done >= job.policy.retries && !answered).await
                }
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
                if maybe_landed {
                    if let Some(v) = landed(r.source, &current.file_uuid, job.signal).await? {
                        job.progress.emit(Phase::Upload, total, total);
                        // No answer of the store was read: no status, no ETag.
                        return Ok((PutDone { status: 0, etag: None, attempts }, Some(v)));
                    }
                    maybe_landed = false;
                }
                if refreshes >= MAX_REFRESHES {
                    return Err(err);
                }
                refreshes += 1;
                *current = r.source.presign(r.file_name, job.content_type, job.size, job.signal).await.map_err(|e| {
                    if e.code == ErrorCode::Aborted {
                        e
                    } else {
                        url_expired(&cat(&[", and no fresh one could be had (", &e.message, ")"]))
                    }
                })?;
            }
            Decision::Fail => return Err(err),
        }
    }
}

/// Asks the source whether the upload of `file_uuid` landed although no answer to its PUT was
/// read: `Some` (verified: use it), `None` (it did not land, or this source cannot tell: no
/// verify; then a refresh may leave an orphan, see the README). A verify that gets no
/// definite answer (network, 5xx, throttling after its retries, a bad answer) fails the upload
/// rather than risk a second object.
async fn landed(source: &Source, file_uuid: &str, signal: Option<&AbortSignal>) -> Result<Option<Verified>, UploadError> {
    if file_uuid.is_empty() {
        return Ok(None);
    }
    match source.verify(file_uuid, signal).await {
        Ok(v) => Ok(v),
        // The verifier answered that this upload is not there (Hexnode: 400 "not uploaded yet").
        Err(e) if e.code == ErrorCode::VerifyFailed && !e.retryable => Ok(None),
        Err(e) if e.code == ErrorCode::Aborted => Err(e),
        Err(mut e) => {
            if !matches!(e.code, ErrorCode::Unauthorized | ErrorCode::Forbidden | ErrorCode::RateLimited) {
                e.code = ErrorCode::VerifyFailed;
            }
            let mut m = String::from(
                "The PUT's answer was lost and then its URL expired; checking whether the file had landed failed, so it was not sent again to a new key: ",
            );
            m.push_str(&e.message);
            e.message = m;
            Err(e)
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
        "The PUT to the store failed before any answer could be read: check the URL's host and port, and that the store is up.",
    );
    // Outside a browser nothing hides an answer: a bare failure is the network's (host, port).
    if !probe || !platform::in_browser() {
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
    let (presigned, put, checked) = send(source, &job).await?;
    finish(source, &job, presigned, put, checked, started).await
}

/// presign → PUT: the first half of [`upload`]. Gives the URL that worked, the PUT's outcome, and
/// the verify answer when one was already needed to learn that a PUT whose answer was lost landed.
pub(crate) async fn send(source: &Source, job: &UploadJob<'_>) -> Result<(Presigned, PutDone, Option<Verified>), UploadError> {
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
    let (put, checked) = put_checked(&put_job, &mut presigned, Some(Refresh { source, file_name: &job.file_name })).await?;
    Ok((presigned, put, checked))
}

/// verify: the second half of [`upload`], for a file whose PUT landed (`started`: when the
/// upload began, for `durationMs`). `checked`: the verify that [`send`] already got, when it had
/// to ask whether a PUT whose answer was lost had landed.
pub(crate) async fn finish(
    source: &Source,
    job: &UploadJob<'_>,
    presigned: Presigned,
    put: PutDone,
    checked: Option<Verified>,
    started: f64,
) -> Result<Uploaded, UploadError> {
    platform::check_abort(job.signal)?;
    job.progress.emit(Phase::Verify, 0.0, 1.0);
    let verified = match checked {
        Some(v) => Some(v),
        None => source.verify(&presigned.file_uuid, job.signal).await.map_err(verify_error)?,
    };
    job.progress.emit(Phase::Verify, 1.0, 1.0);
    Ok(Uploaded { presigned, size: job.size, put, verified, duration_ms: js_sys::Date::now() - started })
}

/// A failure in the verify step is `verify_failed` unless it says something more useful
/// (aborted, unauthorized, forbidden, rate limited).
pub(crate) fn verify_error(mut e: UploadError) -> UploadError {
    match e.code {
        ErrorCode::Aborted | ErrorCode::Unauthorized | ErrorCode::Forbidden | ErrorCode::RateLimited | ErrorCode::VerifyFailed => e,
        _ => {
            e.message = cat(&["The file was sent, but verifying it failed: ", &e.message]);
            e.code = ErrorCode::VerifyFailed;
            e
        }
    }
}
