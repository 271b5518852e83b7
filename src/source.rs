//! Where presigned URLs come from, and who verifies an upload: the Hexnode API itself (with an
//! API key), the app's own backend (an endpoint or a JS callback), or a SigV4 signer inside the
//! browser (`src/s3_source.rs`, the full build). The upload flow sees only [`Source`].

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, RequestCredentials};

use crate::api::{self, JsonPost};
use crate::backend::{presign_body, presign_json_from, verified_from, verify_body, BackendCore, Verified};
use crate::error::UploadError;
use crate::hexnode::{self, ApiOp, Portal, Presigned, Server};
use crate::limiter::RateLimiter;
use crate::platform::{self, Boxed};
use crate::retry::RetryPolicy;

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

/// One of the ways to get a presigned URL and verify the upload.
#[derive(Clone)]
pub(crate) enum Source {
    Hexnode(Rc<HexnodeCore>),
    Backend(Rc<BackendCore>),
    /// Presigned inside the browser with SigV4 (`opts.s3`).
    #[cfg(feature = "full")]
    S3(Rc<crate::s3_source::S3Core>),
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
