//! The "through a backend" source (the app's own presign and verify endpoints, or JS callbacks),
//! and what every source shares: request bodies, reading presign and verify answers, calling a
//! JS callback. It depends on no other source, so `source` and `s3_source` can both build on it.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, RequestCredentials};

use crate::api::{self, JsonPost};
use crate::error::{ErrorCode, UploadError};
use crate::hexnode::{self, ApiOp, Presigned, PresignJson, Server};
use crate::opts::object;
use crate::platform;
use crate::retry::RetryPolicy;

/// The parsed answer of a verify call.
#[derive(Clone, Debug)]
pub(crate) struct Verified {
    pub file_id: Option<u64>,
    pub raw: JsValue,
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

/// The JSON body of a presign request: `{file_name, content_type, size?}`.
pub(crate) fn presign_body(file_name: &str, content_type: &str, size: Option<u64>) -> JsValue {
    let size = size.map_or(JsValue::UNDEFINED, |s| JsValue::from_f64(s as f64));
    object(&[("file_name", file_name.into()), ("content_type", content_type.into()), ("size", size)])
}

/// The JSON body of a verify request: `{file_uuid}`.
pub(crate) fn verify_body(file_uuid: &str) -> JsValue {
    object(&[("file_uuid", file_uuid.into())])
}

pub(crate) fn presign_json_from(value: &JsValue) -> PresignJson {
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

pub(crate) fn verified_from(raw: JsValue) -> Verified {
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
