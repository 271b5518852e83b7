//! Where presigned URLs come from, and who verifies an upload: the Hexnode API itself (with an
//! API key), the app's own backend (an endpoint or a JS callback), or a SigV4 signer inside the
//! browser (`src/s3_source.rs`, the full build). The upload flow sees only [`Source`].

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, RequestCredentials};

use crate::api::{self, JsonPost};
use crate::error::{ErrorCode, UploadError};
use crate::hexnode::{self, ApiOp, Portal, Presigned, PresignJson, Server};
use crate::limiter::RateLimiter;
use crate::opts::object;
use crate::platform::{self, Boxed};
use crate::retry::RetryPolicy;

/// The parsed answer of a verify call.
#[derive(Clone, Debug)]
pub(crate) struct Verified {
    pub file_id: Option<u64>,
    pub raw: JsValue,
}

/// The Hexnode API client's state.
pub(crate) struct HexnodeCore {
    pub portal: Portal,
    pub api_key: String,
    /// `[("Authorization", api_key)]`, kept as a slice for the request builder.
    pub auth: [(String, String); 1],
    pub verify_path: String,
    pub limiter: RefCell<RateLimiter>,
    pub retry: RetryPolicy,
    pub allow_insecure_http: bool,
    pub timeout_ms: u64,
}

/// A backend endpoint or a JS callback.
pub(crate) enum Via {
    Url(String),
    Func(Function),
}

/// The "through a backend" source. `presign` is `None` when the URLs are made in the browser
/// (`Source::S3`), which uses the rest for verify, retries and transport rules.
pub(crate) struct BackendCore {
    pub presign: Option<Via>,
    pub verify: Option<Via>,
    pub headers: Vec<(String, String)>,
    pub credentials: RequestCredentials,
    pub retry: RetryPolicy,
    pub allow_insecure_http: bool,
    pub timeout_ms: u64,
}

/// One of the ways to get a presigned URL and verify the upload.
#[derive(Clone)]
pub(crate) enum Source {
    Hexnode(Rc<HexnodeCore>),
    Backend(Rc<BackendCore>),
    /// Presigned inside the browser with SigV4 (`opts.s3`).
    #[cfg(feature = "full")]
    S3(Rc<crate::s3_source::S3Core>),
}

/// The JSON body of a presign request: `{file_name, content_type, size?}`.
fn presign_body(file_name: &str, content_type: &str, size: Option<u64>) -> JsValue {
    let size = size.map_or(JsValue::UNDEFINED, |s| JsValue::from_f64(s as f64));
    object(&[("file_name", file_name.into()), ("content_type", content_type.into()), ("size", size)])
}

/// The JSON body of a verify request: `{file_uuid}`.
fn verify_body(file_uuid: &str) -> JsValue {
    object(&[("file_uuid", file_uuid.into())])
}

fn presign_json_from(value: &JsValue) -> PresignJson {
    // Hexnode's own snake_case shape; camelCase is accepted from JS callbacks too.
    let get = |a: &str, b: &str| {
        Reflect::get(value, &JsValue::from_str(a))
            .ok()
            .and_then(|v| v.as_string())
            .or_else(|| Reflect::get(value, &JsValue::from_str(b)).ok().and_then(|v| v.as_string()))
    };
    if !value.is_object() {
        return PresignJson::default();
    }
    PresignJson {
        presigned_url: get("presigned_url", "presignedUrl"),
        file_name: get("file_name", "fileName"),
        file_uuid: get("file_uuid", "fileUuid"),
    }
}

fn verified_from(raw: JsValue) -> Verified {
    let num = |k: &str| Reflect::get(&raw, &JsValue::from_str(k)).ok().and_then(|v| v.as_f64());
    Verified { file_id: hexnode::file_id_from_verify(num("id"), num("file_id")), raw }
}

/// Calls a JS callback with one argument and awaits what it returns (a value or a promise),
/// racing the abort signal. A throw or a rejection becomes `code` with the thrown message.
pub(crate) async fn call_callback(f: &Function, arg: &JsValue, signal: Option<&AbortSignal>, code: ErrorCode, what: &str) -> Result<JsValue, UploadError> {
    platform::check_abort(signal)?;
    let returned = f.call1(&JsValue::UNDEFINED, arg).map_err(|e| callback_error(&e, code, what))?;
    let promise = Promise::resolve(&returned);
    match platform::race_abort(promise, signal).await? {
        Ok(v) => Ok(v),
        Err(e) => Err(callback_error(&e, code, what)),
    }
}

fn callback_error(e: &JsValue, code: ErrorCode, what: &str) -> UploadError {
    let (_, message) = platform::js_error_parts(e);
    let message = if message.is_empty() { "no message".to_owned() } else { message };
    UploadError::new(code, crate::text::cat(&["The ", what, " callback failed: ", &message]))
}

impl HexnodeCore {
    /// Sends one API call to `path` on the portal, with the key, the rate limiter and retries.
    pub(crate) async fn call(&self, op: ApiOp, path: &str, body: &JsValue, signal: Option<&AbortSignal>) -> Result<JsValue, UploadError> {
        let url = self.portal.endpoint(path);
        let reply = api::post_json(JsonPost {
            op,
            url: &url,
            body,
            headers: &self.auth,
            credentials: RequestCredentials::Omit,
            signal,
            timeout_ms: self.timeout_ms,
            policy: self.retry,
            limiter: Some(&self.limiter),
            secret: Some(&self.api_key),
            server: Server::Hexnode,
        })
        .await?;
        Ok(reply.json)
    }

    /// `generate-presigned-upload-url`.
    pub(crate) async fn presign(&self, file_name: &str, content_type: &str, signal: Option<&AbortSignal>) -> Result<Presigned, UploadError> {
        let body = presign_body(file_name, content_type, None);
        let json = self.call(ApiOp::Presign, hexnode::PRESIGN_PATH, &body, signal).await?;
        hexnode::presigned_from_json(presign_json_from(&json), file_name, content_type, platform::now_ms(), self.allow_insecure_http)
    }

    /// Verify File Upload, at the configured path.
    pub(crate) async fn verify(&self, file_uuid: &str, signal: Option<&AbortSignal>) -> Result<Verified, UploadError> {
        let body = verify_body(file_uuid);
        let json = self.call(ApiOp::Verify, &self.verify_path, &body, signal).await?;
        Ok(verified_from(json))
    }

    /// Calls an endpoint that answers `{"message": ...}`.
    pub(crate) async fn message_call(&self, op: ApiOp, path: &str, body: &JsValue, signal: Option<&AbortSignal>) -> Result<String, UploadError> {
        let json = self.call(op, path, body, signal).await?;
        let message = Reflect::get(&json, &JsValue::from_str("message")).ok().and_then(|v| v.as_string());
        hexnode::message_from_json(hexnode::MessageJson { message }, op)
    }
}

impl BackendCore {
    pub(crate) fn post<'a>(&'a self, op: ApiOp, url: &'a str, body: &'a JsValue, signal: Option<&'a AbortSignal>) -> JsonPost<'a> {
        JsonPost {
            op,
            url,
            body,
            headers: &self.headers,
            credentials: self.credentials,
            signal,
            timeout_ms: self.timeout_ms,
            policy: self.retry,
            limiter: None,
            secret: None,
            server: Server::Backend,
        }
    }

    /// Asks the backend (endpoint or callback) for a presigned URL.
    pub(crate) async fn presign(&self, file_name: &str, content_type: &str, size: u64, signal: Option<&AbortSignal>) -> Result<Presigned, UploadError> {
        let json = match &self.presign {
            None => return Err(UploadError::invalid_input("opts.presign", "is required")),
            Some(Via::Url(url)) => {
                let body = presign_body(file_name, content_type, Some(size));
                api::post_json(self.post(ApiOp::Presign, url, &body, signal)).await?.json
            }
            Some(Via::Func(f)) => {
                let arg = Object::new();
                let _ = Reflect::set(&arg, &"fileName".into(), &file_name.into());
                let _ = Reflect::set(&arg, &"contentType".into(), &content_type.into());
                let _ = Reflect::set(&arg, &"size".into(), &JsValue::from_f64(size as f64));
                call_callback(f, &arg, signal, ErrorCode::PresignFailed, "presign").await?
            }
        };
        hexnode::presigned_from_json(presign_json_from(&json), file_name, content_type, platform::now_ms(), self.allow_insecure_http)
    }

    /// Verifies through the backend; `None` when verification is turned off.
    pub(crate) async fn verify(&self, file_uuid: &str, signal: Option<&AbortSignal>) -> Result<Option<Verified>, UploadError> {
        let raw = match &self.verify {
            None => return Ok(None),
            Some(Via::Url(url)) => {
                let body = verify_body(file_uuid);
                api::post_json(self.post(ApiOp::Verify, url, &body, signal)).await?.json
            }
            Some(Via::Func(f)) => call_callback(f, &JsValue::from_str(file_uuid), signal, ErrorCode::VerifyFailed, "verify").await?,
        };
        Ok(Some(verified_from(raw)))
    }
}

impl Source {
    /// A fresh presigned URL for this file.
    pub(crate) fn presign<'a>(&'a self, file_name: &'a str, content_type: &'a str, size: u64, signal: Option<&'a AbortSignal>) -> Boxed<'a, Result<Presigned, UploadError>> {
        Box::pin(self.presign_inner(file_name, content_type, size, signal))
    }

    async fn presign_inner(&self, file_name: &str, content_type: &str, size: u64, signal: Option<&AbortSignal>) -> Result<Presigned, UploadError> {
        match self {
            Source::Hexnode(h) => h.presign(file_name, content_type, signal).await,
            Source::Backend(b) => b.presign(file_name, content_type, size, signal).await,
            #[cfg(feature = "full")]
            Source::S3(s) => s.signer.presign(file_name, content_type, signal).await,
        }
    }

    /// Verifies the upload; `None` when this source does not verify.
    pub(crate) fn verify<'a>(&'a self, file_uuid: &'a str, signal: Option<&'a AbortSignal>) -> Boxed<'a, Result<Option<Verified>, UploadError>> {
        Box::pin(self.verify_inner(file_uuid, signal))
    }

    async fn verify_inner(&self, file_uuid: &str, signal: Option<&AbortSignal>) -> Result<Option<Verified>, UploadError> {
        match self {
            Source::Hexnode(h) => h.verify(file_uuid, signal).await.map(Some),
            Source::Backend(b) => b.verify(file_uuid, signal).await,
            #[cfg(feature = "full")]
            Source::S3(s) => s.backend.verify(file_uuid, signal).await,
        }
    }

    /// The retry policy for PUTs.
    pub(crate) fn retry(&self) -> RetryPolicy {
        match self {
            Source::Hexnode(h) => h.retry,
            Source::Backend(b) => b.retry,
            #[cfg(feature = "full")]
            Source::S3(s) => s.backend.retry,
        }
    }

    /// Whether http:// presigned URLs to non-loopback hosts are allowed.
    pub(crate) fn allow_insecure_http(&self) -> bool {
        match self {
            Source::Hexnode(h) => h.allow_insecure_http,
            Source::Backend(b) => b.allow_insecure_http,
            #[cfg(feature = "full")]
            Source::S3(s) => s.backend.allow_insecure_http,
        }
    }
}
