//! The one error type of the crate: a stable machine-readable [`ErrorCode`]
//! plus a human message that says what happened and what to do next.
//!
//! Every message goes through [`crate::redact::redact_text`] when the error
//! is built, so a presigned URL quoted in a message never carries its
//! signature, credential or security token. `Display` and `Debug` redact once
//! more, in case a public field was set by hand.

use std::fmt;

use crate::redact::redact_text;

/// The problem text for an option that only the full build has (`multipart`, `s3`): it names
/// the entries to import instead.
pub const FULL_BUILD_ONLY: &str = "is in the full build only: import from \"presigned-upload/full\" (or \"presigned-upload/full/web\") instead of \"presigned-upload\"";

/// The marker that [`UploadError::redact_secret`] puts in place of a secret.
pub const SECRET_MARKER: &str = "[REDACTED]";

/// What kind of failure an [`UploadError`] is. JavaScript sees
/// [`ErrorCode::as_str`], which is stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// An option or argument given by the caller is not usable.
    InvalidInput,
    /// The API refused the credentials (HTTP 401).
    Unauthorized,
    /// The API refused the request for these credentials (HTTP 403).
    Forbidden,
    /// The API asked us to slow down (HTTP 429).
    RateLimited,
    /// Getting a presigned URL failed.
    PresignFailed,
    /// The presigned URL has expired (or would before the upload starts).
    UrlExpired,
    /// The file is too large for a single presigned PUT.
    TooLarge,
    /// S3 (or the storage behind the URL) refused the PUT.
    UploadRejected,
    /// The network failed (no answer, connection reset, timeout).
    Network,
    /// The browser hid the response, most likely because of CORS.
    Cors,
    /// The caller aborted the upload.
    Aborted,
    /// Verifying the upload with the API failed.
    VerifyFailed,
    /// A server answered something that could not be understood.
    BadResponse,
    /// `deleteFiles`/`deployFile`: the API answered 408 or 5xx after the retries.
    ServerError,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::InvalidInput,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::RateLimited,
        ErrorCode::PresignFailed,
        ErrorCode::UrlExpired,
        ErrorCode::TooLarge,
        ErrorCode::UploadRejected,
        ErrorCode::Network,
        ErrorCode::Cors,
        ErrorCode::Aborted,
        ErrorCode::VerifyFailed,
        ErrorCode::BadResponse,
        ErrorCode::ServerError,
    ];

    /// The stable snake_case name JavaScript sees, e.g. `"url_expired"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::PresignFailed => "presign_failed",
            ErrorCode::UrlExpired => "url_expired",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UploadRejected => "upload_rejected",
            ErrorCode::Network => "network",
            ErrorCode::Cors => "cors",
            ErrorCode::Aborted => "aborted",
            ErrorCode::VerifyFailed => "verify_failed",
            ErrorCode::BadResponse => "bad_response",
            ErrorCode::ServerError => "server_error",
        }
    }

    /// The inverse of [`ErrorCode::as_str`].
    pub fn from_str_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// Whether an error of this code is retryable when nothing more is known:
    /// true for [`ErrorCode::Network`] and [`ErrorCode::RateLimited`].
    pub fn retryable_by_default(self) -> bool {
        matches!(self, ErrorCode::Network | ErrorCode::RateLimited)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An upload or API failure.
#[derive(Clone, PartialEq)]
pub struct UploadError {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// What happened and what to do next (redacted).
    pub message: String,
    /// The HTTP status, when a server answered.
    pub status: Option<u16>,
    /// The S3 error code (e.g. `SignatureDoesNotMatch`), when S3 sent one.
    pub s3_code: Option<String>,
    /// The request id from S3's XML or the `x-amz-request-id` header.
    pub request_id: Option<String>,
    /// Whether trying the same request again may succeed.
    pub retryable: bool,
    /// How long the server asked us to wait before trying again.
    pub retry_after_ms: Option<u64>,
}

impl UploadError {
    /// A new error. The message is passed through
    /// [`crate::redact::redact_text`]; `retryable` is true for
    /// [`ErrorCode::Network`] and [`ErrorCode::RateLimited`], false otherwise.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let message: String = message.into();
        UploadError {
            code,
            message: redact_text(&message),
            status: None,
            s3_code: None,
            request_id: None,
            retryable: code.retryable_by_default(),
            retry_after_ms: None,
        }
    }

    /// An [`ErrorCode::InvalidInput`] error with the message
    /// `"<field>: <problem>"`, e.g. `"fileIds[2]: must be a non-negative integer"`.
    pub fn invalid_input(field: &str, problem: &str) -> Self {
        UploadError::new(ErrorCode::InvalidInput, crate::text::cat(&[field, ": ", problem]))
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the S3 error code and request id (both redacted; empty or
    /// whitespace-only values count as absent).
    pub fn with_s3(mut self, s3_code: Option<String>, request_id: Option<String>) -> Self {
        self.s3_code = clean_field(s3_code);
        self.request_id = clean_field(request_id);
        self
    }

    /// Sets whether the error is retryable.
    pub fn retryable(mut self, yes: bool) -> Self {
        self.retryable = yes;
        self
    }

    /// Sets how long the server asked us to wait.
    pub fn with_retry_after_ms(mut self, ms: Option<u64>) -> Self {
        self.retry_after_ms = ms;
        self
    }

    /// Replaces every occurrence of `secret` (when it is at least 4 bytes
    /// long) in the message, S3 code and request id with `"[REDACTED]"`.
    ///
    /// Overlapping occurrences are covered too, and the result never contains
    /// `secret`: should the marker itself recreate it (a secret such as
    /// `"DACT"`), a run of a character absent from the secret is used instead.
    pub fn redact_secret(&mut self, secret: &str) {
        if secret.len() < 4 {
            return;
        }
        self.message = mask_secret(&self.message, secret);
        if let Some(code) = self.s3_code.as_mut() {
            *code = mask_secret(code, secret);
        }
        if let Some(id) = self.request_id.as_mut() {
            *id = mask_secret(id, secret);
        }
    }

    /// An [`ErrorCode::Cors`] error: the browser hid the response, most likely
    /// because of the CORS configuration of the bucket (or of the API).
    /// `context` says which request it was, e.g. `"PUT to the presigned URL"`.
    pub fn cors(context: &str) -> Self {
        UploadError::new(
            ErrorCode::Cors,
            crate::text::cat(&[
                "The ",
                context,
                " failed and the browser hid the response (no status, no body). \
                 The likely cause is the bucket's (or API's) CORS configuration, or else a network failure. \
                 The CORS rules must allow: AllowedOrigins this page's origin, AllowedMethods PUT, \
                 AllowedHeaders content-type, ExposeHeaders ETag. \
                 Check the browser console for the exact CORS message.",
            ]),
        )
    }

    /// An [`ErrorCode::Aborted`] error: "The upload was aborted."
    pub fn aborted() -> Self {
        UploadError::new(ErrorCode::Aborted, "The upload was aborted.")
    }
}

/// Redacts a free-text field and drops it when empty.
fn clean_field(value: Option<String>) -> Option<String> {
    value
        .map(|v| redact_text(v.trim()))
        .filter(|v| !v.is_empty())
}

/// Replaces every (possibly overlapping) occurrence of `secret` in `text`.
fn mask_secret(text: &str, secret: &str) -> String {
    if secret.is_empty() || !crate::text::contains(text, secret) {
        return text.to_string();
    }
    // Byte ranges covered by an occurrence, merged.
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for (i, _) in text.char_indices() {
        let hit = text.get(i..).is_some_and(|rest| rest.starts_with(secret));
        if hit {
            let end = i.saturating_add(secret.len());
            match ranges.last_mut() {
                Some(last) if i <= last.1 => last.1 = last.1.max(end),
                _ => ranges.push((i, end)),
            }
        }
    }
    let build = |marker: &str| -> String {
        let mut out = String::with_capacity(text.len());
        let mut copied = 0usize;
        for &(start, end) in &ranges {
            out.push_str(text.get(copied..start).unwrap_or(""));
            out.push_str(marker);
            copied = end;
        }
        out.push_str(text.get(copied..).unwrap_or(""));
        out
    };
    let out = build(SECRET_MARKER);
    if !crate::text::contains(&out, secret) {
        return out;
    }
    // The marker recreated the secret: use a run of a character the secret
    // lacks, which cannot take part in any occurrence.
    let filler = ['*', '#', '~', 'x', '?']
        .into_iter()
        .find(|c| !secret.chars().any(|s| s == *c))
        .unwrap_or('_');
    build(&String::from(filler).repeat(8))
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, redact_text(&self.message))?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if let Some(code) = &self.s3_code {
            write!(f, " [S3 {}]", redact_text(code))?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " request id {}", redact_text(id))?;
        }
        Ok(())
    }
}

impl fmt::Debug for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadError")
            .field("code", &self.code)
            .field("message", &redact_text(&self.message))
            .field("status", &self.status)
            .field("s3_code", &self.s3_code.as_deref().map(redact_text))
            .field("request_id", &self.request_id.as_deref().map(redact_text))
            .field("retryable", &self.retryable)
            .field("retry_after_ms", &self.retry_after_ms)
            .finish()
    }
}

impl std::error::Error for UploadError {}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_snake_case_name_that_round_trips() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "duplicate name {name}");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert_eq!(ErrorCode::from_str_name(name), Some(code));
            assert_eq!(code.to_string(), name);
        }
        assert_eq!(ErrorCode::from_str_name("nope"), None);
        assert_eq!(ErrorCode::UrlExpired.as_str(), "url_expired");
    }

    #[test]
    fn only_network_and_rate_limited_are_retryable_by_default() {
        for code in ErrorCode::ALL {
            let e = UploadError::new(code, "x");
            let expected = matches!(code, ErrorCode::Network | ErrorCode::RateLimited);
            assert_eq!(e.retryable, expected, "{code}");
        }
    }

    #[test]
    fn invalid_input_message_names_field_then_problem() {
        let e = UploadError::invalid_input("fileIds[2]", "must be a non-negative integer");
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert_eq!(e.message, "fileIds[2]: must be a non-negative integer");
        assert!(!e.retryable);
    }

    #[test]
    fn display_appends_status_s3_code_and_request_id_when_present() {
        let e = UploadError::new(ErrorCode::UploadRejected, "S3 refused it.")
            .with_status(403)
            .with_s3(Some("AccessDenied".into()), Some("ABC123".into()));
        assert_eq!(
            e.to_string(),
            "upload_rejected: S3 refused it. (HTTP 403) [S3 AccessDenied] request id ABC123"
        );
        let plain = UploadError::aborted();
        assert_eq!(plain.to_string(), "aborted: The upload was aborted.");
    }

    #[test]
    fn message_quoting_a_presigned_url_is_redacted_at_construction() {
        let e = UploadError::new(
            ErrorCode::Network,
            "PUT https://b.s3.amazonaws.com/k?X-Amz-Signature=deadbeefcafe&X-Amz-Date=20130524T000000Z failed",
        );
        assert!(!e.message.contains("deadbeefcafe"));
        assert!(e.message.contains("X-Amz-Date=20130524T000000Z"));
    }

    #[test]
    fn debug_and_display_never_show_a_secret_set_by_hand() {
        let mut e = UploadError::new(ErrorCode::Network, "x");
        e.message = "see ?X-Amz-Signature=sekritsekrit".into();
        e.s3_code = Some("X-Amz-Credential=AKIAEXAMPLE".into());
        e.request_id = Some("X-Amz-Security-Token=tokentoken".into());
        let dbg = format!("{e:?}");
        let disp = e.to_string();
        for s in ["sekritsekrit", "AKIAEXAMPLE", "tokentoken"] {
            assert!(!dbg.contains(s), "{dbg}");
            assert!(!disp.contains(s), "{disp}");
        }
        assert!(dbg.contains("retryable"));
    }

    #[test]
    fn redact_secret_replaces_api_key_everywhere() {
        let mut e = UploadError::new(ErrorCode::Unauthorized, "key abcd1234 refused (abcd1234)")
            .with_s3(Some("Xabcd1234".into()), Some("abcd1234".into()));
        e.redact_secret("abcd1234");
        assert_eq!(e.message, "key [REDACTED] refused ([REDACTED])");
        assert_eq!(e.s3_code.as_deref(), Some("X[REDACTED]"));
        assert_eq!(e.request_id.as_deref(), Some("[REDACTED]"));
    }

    #[test]
    fn redact_secret_ignores_secrets_shorter_than_four_bytes() {
        let mut e = UploadError::new(ErrorCode::Unauthorized, "abc abc");
        e.redact_secret("abc");
        assert_eq!(e.message, "abc abc");
    }

    #[test]
    fn redact_secret_covers_overlapping_occurrences_and_marker_lookalikes() {
        let mut e = UploadError::new(ErrorCode::Unauthorized, "ababab");
        e.redact_secret("abab");
        assert!(!e.message.contains("abab"));
        let mut e = UploadError::new(ErrorCode::Unauthorized, "x DACT y");
        e.redact_secret("DACT");
        assert!(!e.message.contains("DACT"), "{}", e.message);
        let mut e = UploadError::new(ErrorCode::Unauthorized, "D]abab");
        e.redact_secret("D]ab");
        assert!(!e.message.contains("D]ab"), "{}", e.message);
    }

    #[test]
    fn cors_message_names_context_and_every_rule_to_allow() {
        let e = UploadError::cors("PUT to the presigned URL");
        assert_eq!(e.code, ErrorCode::Cors);
        assert!(!e.retryable);
        for needle in [
            "PUT to the presigned URL",
            "hid the response",
            "CORS",
            "AllowedOrigins",
            "AllowedMethods PUT",
            "AllowedHeaders content-type",
            "ExposeHeaders ETag",
        ] {
            assert!(
                e.message.contains(needle),
                "missing {needle}: {}",
                e.message
            );
        }
    }

    #[test]
    fn aborted_is_not_retryable() {
        let e = UploadError::aborted();
        assert_eq!(e.code, ErrorCode::Aborted);
        assert_eq!(e.message, "The upload was aborted.");
        assert!(!e.retryable);
    }

    #[test]
    fn builders_set_their_fields_and_empty_s3_fields_count_as_absent() {
        let e = UploadError::new(ErrorCode::BadResponse, "m")
            .retryable(true)
            .with_retry_after_ms(Some(1500))
            .with_s3(Some("  ".into()), None);
        assert!(e.retryable);
        assert_eq!(e.retry_after_ms, Some(1500));
        assert_eq!(e.s3_code, None);
        assert_eq!(e.request_id, None);
    }

    #[test]
    fn upload_error_is_a_std_error() {
        fn takes(_: &dyn std::error::Error) {}
        takes(&UploadError::aborted());
    }
}
