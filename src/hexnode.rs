//! The parsing half of the Hexnode MDM file-management API client: portal
//! and path validation, the presign answer, failure classification, file id
//! lists and the deploy body. The HTTP itself is done elsewhere.

use std::fmt;

use crate::error::{ErrorCode, UploadError};
use crate::presigned::{self, hostname_is_loopback, redact_url, split_url};
use crate::retry::{parse_retry_after, parse_throttle_message};
use crate::s3_error::quote_short;
use crate::text::{cat, num};

/// `POST` here to get a presigned upload URL.
pub const PRESIGN_PATH: &str = "/api/v1/filemanagement/generate-presigned-upload-url/";
/// `POST` here to verify an uploaded file.
pub const VERIFY_PATH: &str = "/api/v1/filemanagement/verify-file-upload/";
/// `POST` here to delete files.
pub const DELETE_PATH: &str = "/api/v1/filemanagement/delete-files/";
/// `POST` here to deploy a file to devices.
pub const DEPLOY_PATH: &str = "/api/v1/actions/deploy-file/";
/// The content type used when neither the caller nor the File gives one.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// How long a Hexnode presigned URL lives when the URL itself does not say
/// (180 minutes).
pub const URL_LIFETIME_MS: u64 = 180 * 60 * 1000;

/// The largest integer a JS number holds exactly (2^53).
pub const MAX_SAFE_ID: u64 = 1 << 53;

/// A validated Hexnode portal address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Portal {
    /// `scheme://host[:port]`, lowercase, no trailing slash.
    origin: String,
    /// The origin plus the base path (if any), no trailing slash.
    base: String,
}

impl Portal {
    /// Validates a portal address such as `https://acme.hexnodemdm.com`.
    ///
    /// Surrounding whitespace (from copy-paste) is trimmed, then it must be
    /// an absolute http(s) URL with a host, without query, fragment or
    /// `user:password@`, and without whitespace inside. `http` is allowed
    /// only for loopback hosts or with `allow_insecure_http`. A base path is
    /// kept (`https://host/mdm` -> endpoints under `/mdm`); trailing slashes
    /// are trimmed. Errors are invalid input naming `portal`.
    pub fn parse(portal: &str, allow_insecure_http: bool) -> Result<Self, UploadError> {
        let portal = portal.trim();
        let bad = |problem: &str| UploadError::invalid_input("portal", problem);
        let parts = split_url(portal).map_err(|problem| {
            if problem.starts_with("must be an absolute") {
                bad("must be an absolute URL such as https://acme.hexnodemdm.com")
            } else {
                bad(problem)
            }
        })?;
        if parts.has_userinfo {
            return Err(bad(
                "must not contain user:password@; the API key is passed separately",
            ));
        }
        if parts.query.is_some() || parts.fragment.is_some() {
            return Err(bad("must not contain a query (?) or fragment (#); give just the portal address such as https://acme.hexnodemdm.com"));
        }
        if parts.scheme == "http" && !allow_insecure_http && !hostname_is_loopback(&parts.hostname)
        {
            return Err(bad(
                "must use https (http is only allowed for loopback hosts or with allowInsecureHttp); the API key would travel in clear text",
            ));
        }
        if parts.path.bytes().any(|b| b == b'\\') {
            return Err(bad("must not contain a backslash"));
        }
        let origin = cat(&[&parts.scheme, "://", &parts.host]);
        let base_path = parts.path.trim_end_matches('/');
        let base = cat(&[&origin, base_path]);
        Ok(Portal { origin, base })
    }

    /// The URL of an API path, e.g. `endpoint(PRESIGN_PATH)`. A missing
    /// leading `/` is added.
    pub fn endpoint(&self, path: &str) -> String {
        if path.starts_with('/') {
            cat(&[&self.base, path])
        } else {
            cat(&[&self.base, "/", path])
        }
    }

    /// `scheme://host[:port]`, without trailing slash or base path.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The origin plus the base path, without trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }
}

/// Validates an API path option such as `verifyPath`: it must start and end
/// with `/` and contain no `?`, `#`, `\`, whitespace or control characters,
/// no empty (`//`), `.` or `..` segment. Returns it unchanged.
pub fn validate_path(field: &str, path: &str) -> Result<String, UploadError> {
    let bad = |problem: &str| UploadError::invalid_input(field, problem);
    if path.is_empty() {
        return Err(bad(
            "must not be empty; give a path such as /api/v1/filemanagement/verify-file-upload/",
        ));
    }
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(bad(
            "must start and end with / (like /api/v1/filemanagement/verify-file-upload/)",
        ));
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must not contain whitespace or control characters"));
    }
    if path.contains(['?', '#', '\\']) {
        return Err(bad("must not contain ?, # or \\ (give only the path)"));
    }
    if path.len() > 1 {
        let inner = path.get(1..path.len() - 1).unwrap_or("");
        for segment in inner.split('/') {
            match segment {
                "" => return Err(bad("must not contain an empty segment (//)")),
                "." | ".." => return Err(bad("must not contain . or .. segments")),
                _ => {}
            }
        }
    }
    Ok(path.to_string())
}

/// The JSON answer to a presign request. Unknown fields are ignored.
#[derive(Clone, Default)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(serde::Deserialize))]
pub struct PresignJson {
    /// The presigned PUT URL.
    #[cfg_attr(all(test, not(target_arch = "wasm32")), serde(default))]
    pub presigned_url: Option<String>,
    /// The name Hexnode stored the file under.
    #[cfg_attr(all(test, not(target_arch = "wasm32")), serde(default))]
    pub file_name: Option<String>,
    /// The file's id for the verify step.
    #[cfg_attr(all(test, not(target_arch = "wasm32")), serde(default))]
    pub file_uuid: Option<String>,
}

impl fmt::Debug for PresignJson {
    /// Like a derived `Debug`, but the URL's secrets are redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignJson")
            .field(
                "presigned_url",
                &self.presigned_url.as_deref().map(redact_url),
            )
            .field("file_name", &self.file_name)
            .field("file_uuid", &self.file_uuid)
            .finish()
    }
}

/// A usable presign answer.
#[derive(Clone, PartialEq)]
pub struct Presigned {
    /// The presigned PUT URL.
    pub url: String,
    /// The stored file name (the requested one when Hexnode did not say).
    pub file_name: String,
    /// The file's id for the verify step.
    pub file_uuid: String,
    /// The Content-Type to send with the PUT.
    pub content_type: String,
    /// When the URL expires, in ms since the epoch.
    pub expires_at_ms: u64,
}

impl fmt::Debug for Presigned {
    /// Like a derived `Debug`, but the URL's secrets are redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presigned")
            .field("url", &redact_url(&self.url))
            .field("file_name", &self.file_name)
            .field("file_uuid", &self.file_uuid)
            .field("content_type", &self.content_type)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// A non-empty (after trimming) string field.
fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// Turns the presign answer into a [`Presigned`].
///
/// [`ErrorCode::BadResponse`] when `presigned_url` or `file_uuid` is missing
/// or empty, when the URL does not parse, or when it is `http://` to a
/// non-loopback host without `allow_insecure_http` (the server, not the
/// caller, produced it). `expires_at_ms` is the URL's own expiry when it
/// states one (SigV4), else `now_ms + URL_LIFETIME_MS`; `file_name`
/// defaults to `requested_name`. Whether or not the URL signs
/// `content-type`, `content_type` is what the PUT must send.
pub fn presigned_from_json(
    json: PresignJson,
    requested_name: &str,
    content_type: &str,
    now_ms: u64,
    allow_insecure_http: bool,
) -> Result<Presigned, UploadError> {
    let missing = |field: &str| {
        UploadError::new(
            ErrorCode::BadResponse,
            cat(&["presign answer: `", field, "` is missing. The Hexnode API did not answer as expected; check the portal address, or try again later."]),
        )
    };
    let url = non_empty(json.presigned_url).ok_or_else(|| missing("presigned_url"))?;
    let file_uuid = non_empty(json.file_uuid).ok_or_else(|| missing("file_uuid"))?;
    let url = url.trim().to_string();
    let parsed = presigned::parse(&url).map_err(|e| {
        let problem = e
            .message
            .strip_prefix("presignedUrl: ")
            .unwrap_or(&e.message)
            .to_string();
        UploadError::new(
            ErrorCode::BadResponse,
            cat(&["presign answer: `presigned_url` is not a usable URL: it ", &problem]),
        )
    })?;
    if parsed.check_transport(allow_insecure_http).is_err() {
        return Err(UploadError::new(
            ErrorCode::BadResponse,
            "presign answer: `presigned_url` uses http to a non-loopback host, which would expose the file; \
             pass allowInsecureHttp only for a test server you trust.",
        ));
    }
    let expires_at_ms = parsed
        .expires_at_ms()
        .unwrap_or_else(|| now_ms.saturating_add(URL_LIFETIME_MS));
    let file_name = non_empty(json.file_name).unwrap_or_else(|| requested_name.to_string());
    Ok(Presigned {
        url,
        file_name,
        file_uuid: file_uuid.trim().to_string(),
        content_type: content_type.to_string(),
        expires_at_ms,
    })
}

/// Which API call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiOp {
    /// Getting a presigned URL.
    Presign,
    /// Verifying an upload.
    Verify,
    /// Deleting files.
    Delete,
    /// Deploying a file.
    Deploy,
}

impl ApiOp {
    /// What the call was trying to do, for messages ("get a presigned upload URL").
    pub fn describe(self) -> &'static str {
        match self {
            ApiOp::Presign => "get a presigned upload URL",
            ApiOp::Verify => "verify the upload",
            ApiOp::Delete => "delete the files",
            ApiOp::Deploy => "deploy the file",
        }
    }

    /// A short name ("presign", "verify", "delete", "deploy").
    pub fn as_str(self) -> &'static str {
        match self {
            ApiOp::Presign => "presign",
            ApiOp::Verify => "verify",
            ApiOp::Delete => "delete",
            ApiOp::Deploy => "deploy",
        }
    }
}

/// Reads the string value of `"key"` in JSON text, tolerantly: the first
/// occurrence whose value is a string (or an array starting with a string).
pub fn json_string_field(body: &str, key: &str) -> Option<String> {
    let needle = cat(&["\"", key, "\""]);
    let mut from = 0usize;
    while let Some(pos) = body.get(from..).and_then(|rest| crate::text::find(rest, &needle)) {
        let after = from + pos + needle.len();
        from = after;
        let rest = body.get(after..)?.trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let rest = rest.trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(r) => r.trim_start(),
            None => rest,
        };
        let Some(rest) = rest.strip_prefix('"') else {
            continue;
        };
        if let Some(s) = json_string_body(rest) {
            return Some(s);
        }
    }
    None
}

/// Decodes a JSON string body up to its closing quote.
fn json_string_body(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars();
    let mut pending_high: Option<u32> = None;
    while let Some(c) = chars.next() {
        let unit = match c {
            '"' => {
                if pending_high.is_some() {
                    out.push('\u{FFFD}');
                }
                return Some(out);
            }
            '\\' => match chars.next()? {
                'u' => {
                    let mut v = 0u32;
                    for _ in 0..4 {
                        v = v * 16 + chars.next()?.to_digit(16)?;
                    }
                    Some(v)
                }
                other => {
                    let decoded = match other {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        c => c,
                    };
                    if pending_high.take().is_some() {
                        out.push('\u{FFFD}');
                    }
                    out.push(decoded);
                    None
                }
            },
            c => {
                if pending_high.take().is_some() {
                    out.push('\u{FFFD}');
                }
                out.push(c);
                None
            }
        };
        if let Some(u) = unit {
            match (pending_high.take(), u) {
                (Some(high), 0xDC00..=0xDFFF) => {
                    let cp = 0x10000 + ((high - 0xD800) << 10) + (u - 0xDC00);
                    out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                }
                (prev, 0xD800..=0xDBFF) => {
                    if prev.is_some() {
                        out.push('\u{FFFD}');
                    }
                    pending_high = Some(u);
                }
                (prev, u) => {
                    if prev.is_some() {
                        out.push('\u{FFFD}');
                    }
                    out.push(char::from_u32(u).unwrap_or('\u{FFFD}'));
                }
            }
        }
    }
    None
}

/// What the server said: `detail`, `message` or `error` from a JSON body,
/// else a short plain-text body, quoted as `: "..."`; empty when nothing
/// useful.
fn server_said(body: &str) -> String {
    let from_json = ["detail", "message", "error"]
        .iter()
        .find_map(|k| json_string_field(body, k))
        .filter(|s| !s.trim().is_empty());
    let text = match from_json {
        Some(t) => t,
        None => {
            let t = body.trim();
            if t.is_empty() || t.bytes().any(|b| b == b'<') || t.chars().count() > 300 {
                return String::new();
            }
            t.to_string()
        }
    };
    let text: String = quote_short(&text)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cat(&[": \"", &text, "\""])
}

/// Classifies a failed Hexnode API call.
///
/// - 401 -> [`ErrorCode::Unauthorized`]: the API key was refused.
/// - 403 -> [`ErrorCode::Forbidden`].
/// - 429 -> [`ErrorCode::RateLimited`], retryable, waiting for the
///   `Retry-After` header, else DRF's "Expected available in N seconds".
/// - 408 and 5xx -> retryable; [`ErrorCode::PresignFailed`] (presign),
///   [`ErrorCode::VerifyFailed`] (verify), [`ErrorCode::ServerError`]
///   (delete, deploy); a `Retry-After` header is honoured.
/// - Other 4xx on delete/deploy -> [`ErrorCode::InvalidInput`] (the server
///   refused the input), naming the fields and quoting the server's `detail`.
/// - Other 4xx on presign/verify -> not retryable, `PresignFailed`/`VerifyFailed`.
/// - A status below 400 -> [`ErrorCode::BadResponse`], not retryable.
///
/// The server's `detail` / `message` (JSON) is quoted when present.
/// Always carries the status.
pub fn classify_api_failure(
    op: ApiOp,
    status: u16,
    body: &str,
    retry_after_header: Option<&str>,
    now_ms: u64,
) -> UploadError {
    classify_failure(Server::Hexnode, op, status, body, retry_after_header, now_ms)
}

/// Who answered a failed JSON call: the Hexnode API itself, or the app's own
/// backend (whose 401 means the app's session, not an API key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// The Hexnode API, called with the API key.
    Hexnode,
    /// The app's backend endpoint (`Uploader`'s `presign`/`verify` URLs).
    Backend,
}

/// Classifies a failed call to the app's backend: the same codes as
/// [`classify_api_failure`], with advice about the backend instead of the
/// API key.
pub fn classify_backend_failure(
    op: ApiOp,
    status: u16,
    body: &str,
    retry_after_header: Option<&str>,
    now_ms: u64,
) -> UploadError {
    classify_failure(Server::Backend, op, status, body, retry_after_header, now_ms)
}

/// The classification behind [`classify_api_failure`] and
/// [`classify_backend_failure`].
pub fn classify_failure(
    server: Server,
    op: ApiOp,
    status: u16,
    body: &str,
    retry_after_header: Option<&str>,
    now_ms: u64,
) -> UploadError {
    let (name, auth_advice, path_advice) = match server {
        Server::Hexnode => (
            "Hexnode",
            "Check that apiKey is a valid API key of this portal.",
            "Check the portal address (like https://acme.hexnodemdm.com) and the API path.",
        ),
        Server::Backend => (
            "The backend",
            "Check that the user is signed in to the app and that `headers`/`credentials` carry what the backend needs.",
            "Check the `presign`/`verify` URLs given to Uploader.",
        ),
    };
    let said = server_said(body);
    let what = op.describe();
    let header_wait = retry_after_header.and_then(|h| parse_retry_after(h, now_ms));
    let failed_code = match op {
        ApiOp::Presign => ErrorCode::PresignFailed,
        ApiOp::Verify => ErrorCode::VerifyFailed,
        ApiOp::Delete | ApiOp::Deploy => ErrorCode::ServerError,
    };
    let err = match status {
        401 => UploadError::new(
            ErrorCode::Unauthorized,
            match server {
                Server::Hexnode => cat(&["Hexnode refused the API key (HTTP 401) while trying to ", what, &said, ". ", auth_advice]),
                Server::Backend => cat(&["The backend refused the request as unauthenticated (HTTP 401) while trying to ", what, &said, ". ", auth_advice]),
            },
        ),
        403 => UploadError::new(
            ErrorCode::Forbidden,
            match server {
                Server::Hexnode => cat(&["Hexnode did not allow the request to ", what, " (HTTP 403)", &said, ". Check that the API key is right, enabled, and allowed to do this."]),
                Server::Backend => cat(&["The backend did not allow the request to ", what, " (HTTP 403)", &said, "."]),
            },
        ),
        429 => {
            let wait = header_wait.or_else(|| parse_throttle_message(body));
            let when = match wait {
                Some(ms) => cat(&["wait ", &num(ms.div_ceil(1000)), " s and try again"]),
                None => "wait a moment and try again".to_string(),
            };
            UploadError::new(
                ErrorCode::RateLimited,
                cat(&[name, " is rate-limiting requests (HTTP 429) while trying to ", what, &said, "; ", &when, "."]),
            )
            .retryable(true)
            .with_retry_after_ms(wait)
        }
        408 | 500..=599 => UploadError::new(
            failed_code,
            cat(&[name, " could not ", what, " (HTTP ", &num(status.into()), ")", &said, ". This is usually temporary: try again in a moment."]),
        )
        .retryable(true)
        .with_retry_after_ms(header_wait),
        400..=499 if matches!(op, ApiOp::Delete | ApiOp::Deploy) => UploadError::new(
            ErrorCode::InvalidInput,
            cat(&[
                if op == ApiOp::Delete { "fileIds" } else { "fileIds/filePath/targets" },
                ": ",
                name,
                " refused the request to ",
                what,
                " (HTTP ",
                &num(status.into()),
                ")",
                &said,
                ". Check the file ids, file path and targets.",
            ]),
        ),
        404 => UploadError::new(
            failed_code,
            cat(&[name, " could not ", what, " (HTTP 404)", &said, ". ", path_advice]),
        ),
        400..=499 => UploadError::new(
            failed_code,
            cat(&[name, " refused the request to ", what, " (HTTP ", &num(status.into()), ")", &said, "."]),
        ),
        _ => UploadError::new(
            ErrorCode::BadResponse,
            cat(&[name, " answered HTTP ", &num(status.into()), " while trying to ", what, ", which is not a success this client understands", &said, "."]),
        ),
    };
    err.with_status(status)
}

/// A non-negative integer id from a JS number: finite, no fraction, at most
/// 2^53.
fn js_id(value: f64) -> Option<u64> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= MAX_SAFE_ID as f64 {
        Some(value as u64)
    } else {
        None
    }
}

/// The file id from a verify answer: `id` if it is a non-negative integer
/// (at most 2^53), else `file_id` if it is, else `None`.
pub fn file_id_from_verify(id: Option<f64>, file_id: Option<f64>) -> Option<u64> {
    id.and_then(js_id).or_else(|| file_id.and_then(js_id))
}

/// An answer that carries only a `message` (delete, deploy).
#[derive(Clone, Debug, Default)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(serde::Deserialize))]
pub struct MessageJson {
    /// The server's message.
    #[cfg_attr(all(test, not(target_arch = "wasm32")), serde(default))]
    pub message: Option<String>,
}

/// The `message` of a delete/deploy answer; [`ErrorCode::BadResponse`] when
/// it is missing. An empty message is returned as is.
pub fn message_from_json(json: MessageJson, op: ApiOp) -> Result<String, UploadError> {
    json.message.ok_or_else(|| {
        UploadError::new(
            ErrorCode::BadResponse,
            cat(&[
                op.as_str(),
                " answer: `message` is missing. The Hexnode API did not answer as expected; check in the portal whether the request to ",
                op.describe(),
                " took effect.",
            ]),
        )
    })
}

/// Validates a list of ids that may be empty; errors name `field[i]`.
fn id_list(field: &str, ids: &[f64]) -> Result<Vec<u64>, UploadError> {
    ids.iter()
        .enumerate()
        .map(|(i, &v)| {
            js_id(v).ok_or_else(|| {
                UploadError::invalid_input(
                    &cat(&[field, "[", &num(i as u64), "]"]),
                    "must be a non-negative integer (at most 2^53)",
                )
            })
        })
        .collect()
}

/// Validates a non-empty list of file ids, each a finite non-negative
/// integer at most 2^53. Errors are invalid input naming `field[i]` (e.g.
/// `fileIds[2]`) or `field` when the list is empty.
pub fn validate_file_ids(field: &str, ids: &[f64]) -> Result<Vec<u64>, UploadError> {
    if ids.is_empty() {
        return Err(UploadError::invalid_input(
            field,
            "must contain at least one file id",
        ));
    }
    id_list(field, ids)
}

/// The JSON body of a deploy request.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(all(test, not(target_arch = "wasm32")), derive(serde::Serialize))]
pub struct DeployBody {
    /// Files to deploy.
    pub file_ids: Vec<u64>,
    /// Where to put the file on the device.
    pub file_path: String,
    /// Target user ids.
    pub users: Vec<u64>,
    /// Target user group ids.
    pub usergroups: Vec<u64>,
    /// Target device ids.
    pub devices: Vec<u64>,
    /// Target device group ids.
    pub devicegroups: Vec<u64>,
}

/// Builds a [`DeployBody`]. Invalid input: `fileIds` empty or an element
/// not an id; `filePath` empty or with control characters; an element of a
/// target list not an id (`devices[1]`); all four target lists empty.
pub fn deploy_body(
    file_ids: &[f64],
    file_path: &str,
    users: &[f64],
    usergroups: &[f64],
    devices: &[f64],
    devicegroups: &[f64],
) -> Result<DeployBody, UploadError> {
    let file_ids = validate_file_ids("fileIds", file_ids)?;
    if file_path.is_empty() {
        return Err(UploadError::invalid_input(
            "filePath",
            "must not be empty; give the folder on the device, such as /sdcard/Download",
        ));
    }
    if file_path.chars().any(char::is_control) {
        return Err(UploadError::invalid_input(
            "filePath",
            "must not contain control characters",
        ));
    }
    let body = DeployBody {
        file_ids,
        file_path: file_path.to_string(),
        users: id_list("users", users)?,
        usergroups: id_list("usergroups", usergroups)?,
        devices: id_list("devices", devices)?,
        devicegroups: id_list("devicegroups", devicegroups)?,
    };
    if body.users.is_empty()
        && body.usergroups.is_empty()
        && body.devices.is_empty()
        && body.devicegroups.is_empty()
    {
        return Err(UploadError::invalid_input(
            "users/usergroups/devices/devicegroups",
            "at least one target list must be non-empty",
        ));
    }
    Ok(body)
}

/// Checks an API key before it goes into a header: invalid input naming
/// `apiKey` when it is empty or contains whitespace, control or non-ASCII
/// characters. The message never contains the key.
pub fn check_api_key(key: &str) -> Result<(), UploadError> {
    if key.is_empty() {
        return Err(UploadError::invalid_input(
            "apiKey",
            "must not be empty; pass your Hexnode API key",
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UploadError::invalid_input(
            "apiKey",
            "must be printable ASCII without spaces or line breaks (it is sent in a header); check for a stray space or newline from copy-paste",
        ));
    }
    Ok(())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    const SIGNED: &str = "https://bucket.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2Fx&X-Amz-Date=20240101T000000Z&X-Amz-Expires=600&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=abcdef012345";

    fn json(url: Option<&str>, name: Option<&str>, uuid: Option<&str>) -> PresignJson {
        PresignJson {
            presigned_url: url.map(String::from),
            file_name: name.map(String::from),
            file_uuid: uuid.map(String::from),
        }
    }

    #[test]
    fn backend_failures_give_backend_advice_not_api_key_advice() {
        let e = classify_backend_failure(ApiOp::Presign, 401, r#"{"detail":"session expired"}"#, None, 0);
        assert_eq!(e.code, ErrorCode::Unauthorized);
        assert!(e.message.contains("The backend"), "{}", e.message);
        assert!(e.message.contains("session expired"));
        assert!(!e.message.contains("apiKey"));
        let e = classify_backend_failure(ApiOp::Verify, 404, "", None, 0);
        assert_eq!(e.code, ErrorCode::VerifyFailed);
        assert!(e.message.contains("Uploader"), "{}", e.message);
        let e = classify_api_failure(ApiOp::Verify, 404, "", None, 0);
        assert!(e.message.contains("portal address"), "{}", e.message);
    }

    #[test]
    fn portal_trims_trailing_slash_and_builds_endpoints() {
        let p = Portal::parse("https://Acme.HexnodeMDM.com/", false).unwrap();
        assert_eq!(p.origin(), "https://acme.hexnodemdm.com");
        assert_eq!(
            p.endpoint(PRESIGN_PATH),
            "https://acme.hexnodemdm.com/api/v1/filemanagement/generate-presigned-upload-url/"
        );
        assert_eq!(p.endpoint("x/"), "https://acme.hexnodemdm.com/x/");
    }

    #[test]
    fn portal_keeps_a_base_path_and_port() {
        let p = Portal::parse("  https://mdm.example.com:8443/hexnode//  ", false).unwrap();
        assert_eq!(p.origin(), "https://mdm.example.com:8443");
        assert_eq!(p.base(), "https://mdm.example.com:8443/hexnode");
        assert_eq!(
            p.endpoint(VERIFY_PATH),
            "https://mdm.example.com:8443/hexnode/api/v1/filemanagement/verify-file-upload/"
        );
    }

    #[test]
    fn portal_refuses_non_urls_queries_fragments_and_credentials() {
        for (input, needle) in [
            ("", "must not be empty"),
            ("   ", "must not be empty"),
            (
                "acme.hexnodemdm.com",
                "absolute URL such as https://acme.hexnodemdm.com",
            ),
            ("ftp://acme.hexnodemdm.com", "absolute"),
            ("https://acme.hexnodemdm.com/?a=b", "query"),
            ("https://acme.hexnodemdm.com/#x", "fragment"),
            ("https://u:p@acme.hexnodemdm.com", "user:password"),
            ("https://acme hexnodemdm.com", "whitespace"),
            ("https://", "no host"),
            ("https://acme.hexnodemdm.com:99999", "port"),
        ] {
            let e = Portal::parse(input, false).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{input}");
            assert!(e.message.starts_with("portal: "), "{}", e.message);
            assert!(e.message.contains(needle), "{input}: {}", e.message);
        }
    }

    #[test]
    fn portal_over_http_needs_loopback_or_allow_insecure_http() {
        let e = Portal::parse("http://acme.hexnodemdm.com", false).unwrap_err();
        assert!(e.message.contains("allowInsecureHttp"));
        assert!(Portal::parse("http://acme.hexnodemdm.com", true).is_ok());
        assert_eq!(
            Portal::parse("http://127.0.0.1:8080", false)
                .unwrap()
                .origin(),
            "http://127.0.0.1:8080"
        );
        assert!(Portal::parse("http://localhost:8080/", false).is_ok());
    }

    #[test]
    fn validate_path_accepts_api_paths_and_refuses_traversal() {
        assert_eq!(
            validate_path("verifyPath", VERIFY_PATH).unwrap(),
            VERIFY_PATH
        );
        assert!(validate_path("verifyPath", "/").is_ok());
        for (path, needle) in [
            ("", "must not be empty"),
            ("api/v1/", "start and end"),
            ("/api/v1", "start and end"),
            ("/api/../v1/", ".."),
            ("/api/./v1/", "."),
            ("/api//v1/", "empty segment"),
            ("//", "empty segment"),
            ("/api/v1/?x=1/", "?"),
            ("/api/#/", "#"),
            ("/api\\v1/", "\\"),
            ("/api v1/", "whitespace"),
            ("/api\u{0}/", "control"),
        ] {
            let e = validate_path("verifyPath", path).unwrap_err();
            assert!(
                e.message.starts_with("verifyPath: "),
                "{path}: {}",
                e.message
            );
            assert!(e.message.contains(needle), "{path}: {}", e.message);
        }
    }

    #[test]
    fn presign_answer_with_sigv4_url_uses_the_urls_own_expiry() {
        let p = presigned_from_json(
            json(Some(SIGNED), Some("stored.bin"), Some("u-1")),
            "req.bin",
            "text/plain",
            0,
            false,
        )
        .unwrap();
        assert_eq!(p.url, SIGNED);
        assert_eq!(p.file_name, "stored.bin");
        assert_eq!(p.file_uuid, "u-1");
        assert_eq!(p.content_type, "text/plain");
        assert_eq!(p.expires_at_ms, 1_704_067_200_000 + 600_000);
    }

    #[test]
    fn presign_answer_without_expiry_lives_180_minutes_and_keeps_the_requested_name() {
        let p = presigned_from_json(
            json(Some("https://h/k"), None, Some("u")),
            "req.bin",
            DEFAULT_CONTENT_TYPE,
            1000,
            false,
        )
        .unwrap();
        assert_eq!(p.expires_at_ms, 1000 + URL_LIFETIME_MS);
        assert_eq!(p.file_name, "req.bin");
        let p = presigned_from_json(
            json(Some("https://h/k"), Some(" "), Some("u")),
            "req.bin",
            "a/b",
            u64::MAX,
            false,
        )
        .unwrap();
        assert_eq!(p.expires_at_ms, u64::MAX);
        assert_eq!(p.file_name, "req.bin");
    }

    #[test]
    fn presign_answer_missing_fields_is_a_bad_response_naming_the_field() {
        let e = presigned_from_json(json(None, None, Some("u")), "n", "t", 0, false).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadResponse);
        assert!(
            e.message
                .starts_with("presign answer: `presigned_url` is missing"),
            "{}",
            e.message
        );
        let e =
            presigned_from_json(json(Some(""), None, Some("u")), "n", "t", 0, false).unwrap_err();
        assert!(e.message.contains("`presigned_url` is missing"));
        let e = presigned_from_json(json(Some(SIGNED), None, Some("")), "n", "t", 0, false)
            .unwrap_err();
        assert!(
            e.message
                .starts_with("presign answer: `file_uuid` is missing"),
            "{}",
            e.message
        );
    }

    #[test]
    fn presign_answer_with_unusable_url_is_a_bad_response() {
        let e = presigned_from_json(json(Some("not a url"), None, Some("u")), "n", "t", 0, false)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::BadResponse);
        assert!(e.message.contains("not a usable URL"), "{}", e.message);
        let e = presigned_from_json(
            json(Some("http://bucket.example.com/k"), None, Some("u")),
            "n",
            "t",
            0,
            false,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::BadResponse);
        assert!(e.message.contains("allowInsecureHttp"));
        assert!(presigned_from_json(
            json(Some("http://bucket.example.com/k"), None, Some("u")),
            "n",
            "t",
            0,
            true
        )
        .is_ok());
    }

    #[test]
    fn presign_json_ignores_unknown_fields_and_debug_redacts_the_url() {
        let j: PresignJson = serde_json::from_str(&format!(
            "{{\"presigned_url\":\"{SIGNED}\",\"file_uuid\":\"u\",\"extra\":[1,2]}}"
        ))
        .unwrap();
        assert_eq!(j.file_name, None);
        let dbg = format!("{j:?}");
        assert!(!dbg.contains("abcdef012345"), "{dbg}");
        let p = presigned_from_json(j, "n", "t", 0, false).unwrap();
        assert!(!format!("{p:?}").contains("abcdef012345"));
        let empty: PresignJson = serde_json::from_str("{}").unwrap();
        assert!(empty.presigned_url.is_none());
    }

    #[test]
    fn unauthorized_and_forbidden_quote_the_detail() {
        let e = classify_api_failure(
            ApiOp::Presign,
            401,
            r#"{"detail":"Invalid token."}"#,
            None,
            0,
        );
        assert_eq!(e.code, ErrorCode::Unauthorized);
        assert_eq!(e.status, Some(401));
        assert!(!e.retryable);
        assert!(e.message.contains("refused the API key"));
        assert!(e.message.contains("\"Invalid token.\""), "{}", e.message);
        let e = classify_api_failure(
            ApiOp::Deploy,
            403,
            r#"{"message":"no permission"}"#,
            None,
            0,
        );
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert!(e.message.contains("no permission"));
    }

    #[test]
    fn rate_limit_waits_for_retry_after_header_then_throttle_message() {
        let body = r#"{"detail":"Request was throttled. Expected available in 12 seconds."}"#;
        let e = classify_api_failure(ApiOp::Verify, 429, body, Some("3"), 0);
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert!(e.retryable);
        assert_eq!(e.retry_after_ms, Some(3000));
        let e = classify_api_failure(ApiOp::Verify, 429, body, None, 0);
        assert_eq!(e.retry_after_ms, Some(12_000));
        assert!(e.message.contains("wait 12 s"), "{}", e.message);
        let e = classify_api_failure(ApiOp::Verify, 429, "", Some("garbage"), 0);
        assert_eq!(e.retry_after_ms, None);
    }

    #[test]
    fn server_errors_are_retryable_with_a_code_per_operation() {
        for (op, code) in [
            (ApiOp::Presign, ErrorCode::PresignFailed),
            (ApiOp::Verify, ErrorCode::VerifyFailed),
            (ApiOp::Delete, ErrorCode::ServerError),
            (ApiOp::Deploy, ErrorCode::ServerError),
        ] {
            for status in [408, 500, 502, 503, 504, 599] {
                let e = classify_api_failure(op, status, "<html>oops</html>", Some("7"), 0);
                assert_eq!(e.code, code, "{op:?} {status}");
                assert!(e.retryable);
                assert_eq!(e.status, Some(status));
                assert_eq!(e.retry_after_ms, Some(7000));
                assert!(!e.message.contains("<html>"));
            }
        }
    }

    #[test]
    fn bad_request_on_delete_or_deploy_is_invalid_input_quoting_the_detail() {
        for op in [ApiOp::Delete, ApiOp::Deploy] {
            let e = classify_api_failure(
                op,
                400,
                r#"{"detail": ["file_ids: 99 does not exist"]}"#,
                None,
                0,
            );
            assert_eq!(e.code, ErrorCode::InvalidInput);
            assert!(!e.retryable);
            assert!(e.message.contains("99 does not exist"), "{}", e.message);
            assert!(e.message.starts_with("fileIds"), "names the field: {}", e.message);
            assert_eq!(e.status, Some(400));
        }
    }

    /// Each row of the README's error table that an API status can reach, pinned for every
    /// operation and every error status: no 4xx or 5xx is ever `bad_response`.
    #[test]
    fn every_error_status_gets_the_code_the_readme_table_names() {
        for op in [ApiOp::Presign, ApiOp::Verify, ApiOp::Delete, ApiOp::Deploy] {
            for server in [Server::Hexnode, Server::Backend] {
                for status in 400..=599u16 {
                    let e = classify_failure(server, op, status, "", None, 0);
                    let want = match (status, op) {
                        (401, _) => ErrorCode::Unauthorized,
                        (403, _) => ErrorCode::Forbidden,
                        (429, _) => ErrorCode::RateLimited,
                        (408 | 500..=599, ApiOp::Presign) => ErrorCode::PresignFailed,
                        (408 | 500..=599, ApiOp::Verify) => ErrorCode::VerifyFailed,
                        (408 | 500..=599, _) => ErrorCode::ServerError,
                        (_, ApiOp::Presign) => ErrorCode::PresignFailed,
                        (_, ApiOp::Verify) => ErrorCode::VerifyFailed,
                        (_, _) => ErrorCode::InvalidInput,
                    };
                    assert_eq!(e.code, want, "{server:?} {op:?} {status}");
                    assert_eq!(e.status, Some(status));
                    assert_eq!(e.retryable, matches!(status, 408 | 429 | 500..=599), "{op:?} {status}");
                    if want == ErrorCode::InvalidInput {
                        assert!(e.message.starts_with("fileIds"), "names the field: {}", e.message);
                    }
                }
            }
        }
    }

    #[test]
    fn other_client_errors_on_presign_and_verify_are_not_retryable() {
        let e = classify_api_failure(ApiOp::Presign, 400, "bad file name", None, 0);
        assert_eq!(e.code, ErrorCode::PresignFailed);
        assert!(!e.retryable);
        assert!(e.message.contains("\"bad file name\""));
        let e = classify_api_failure(ApiOp::Verify, 404, "", None, 0);
        assert_eq!(e.code, ErrorCode::VerifyFailed);
        assert!(e.message.contains("portal address"));
        let e = classify_api_failure(ApiOp::Delete, 404, "", None, 0);
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(!e.retryable);
    }

    #[test]
    fn non_error_status_is_a_bad_response() {
        for status in [0, 200, 204, 302] {
            let e = classify_api_failure(ApiOp::Presign, status, "", None, 0);
            assert_eq!(e.code, ErrorCode::BadResponse, "{status}");
            assert!(!e.retryable);
            assert_eq!(e.status, Some(status));
        }
    }

    #[test]
    fn api_failure_messages_never_quote_presigned_secrets() {
        let body = format!("{{\"detail\":\"could not sign {SIGNED}\"}}");
        let e = classify_api_failure(ApiOp::Presign, 500, &body, None, 0);
        assert!(!e.message.contains("abcdef012345"));
    }

    #[test]
    fn json_string_field_decodes_escapes_and_skips_non_string_values() {
        assert_eq!(
            json_string_field(
                r#"{"detail": 5, "x": {"detail" : "a\"b\\c\nd\u00e9\ud83d\ude00"}}"#,
                "detail"
            )
            .as_deref(),
            Some("a\"b\\c\nd\u{e9}\u{1F600}")
        );
        assert_eq!(
            json_string_field(r#"{"detail":"\ud800x"}"#, "detail").as_deref(),
            Some("\u{FFFD}x")
        );
        assert_eq!(
            json_string_field(r#"{"detail":"unterminated"#, "detail"),
            None
        );
        assert_eq!(json_string_field(r#"{"detail":"\u12"}"#, "detail"), None);
        assert_eq!(json_string_field("", "detail"), None);
    }

    #[test]
    fn verify_file_id_comes_from_id_or_file_id() {
        assert_eq!(file_id_from_verify(Some(42.0), Some(7.0)), Some(42));
        assert_eq!(file_id_from_verify(None, Some(7.0)), Some(7));
        assert_eq!(file_id_from_verify(Some(-1.0), Some(7.0)), Some(7));
        assert_eq!(file_id_from_verify(Some(1.5), None), None);
        assert_eq!(
            file_id_from_verify(Some(f64::NAN), Some(f64::INFINITY)),
            None
        );
        assert_eq!(
            file_id_from_verify(Some(9_007_199_254_740_992.0), None),
            Some(MAX_SAFE_ID)
        );
        assert_eq!(file_id_from_verify(Some(1e300), None), None);
        assert_eq!(file_id_from_verify(None, None), None);
    }

    #[test]
    fn message_answer_needs_a_message() {
        assert_eq!(
            message_from_json(
                MessageJson {
                    message: Some("done".into())
                },
                ApiOp::Delete
            )
            .unwrap(),
            "done"
        );
        let e = message_from_json(MessageJson::default(), ApiOp::Deploy).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadResponse);
        assert!(
            e.message.starts_with("deploy answer: `message` is missing"),
            "{}",
            e.message
        );
    }

    #[test]
    fn file_ids_must_be_non_empty_non_negative_integers() {
        assert_eq!(
            validate_file_ids("fileIds", &[1.0, 0.0, 9_007_199_254_740_992.0]).unwrap(),
            vec![1, 0, MAX_SAFE_ID]
        );
        let e = validate_file_ids("fileIds", &[]).unwrap_err();
        assert!(e.message.starts_with("fileIds: "), "{}", e.message);
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 9_007_199_254_740_994.0] {
            let e = validate_file_ids("fileIds", &[3.0, 4.0, bad]).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput);
            assert!(
                e.message
                    .starts_with("fileIds[2]: must be a non-negative integer"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn deploy_body_serializes_with_hexnode_field_names() {
        let b = deploy_body(&[5.0], "/sdcard/Download", &[], &[], &[7.0, 8.0], &[]).unwrap();
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"file_ids":[5],"file_path":"/sdcard/Download","users":[],"usergroups":[],"devices":[7,8],"devicegroups":[]})
        );
    }

    #[test]
    fn deploy_body_refuses_bad_path_bad_targets_and_no_targets() {
        let e = deploy_body(&[1.0], "", &[1.0], &[], &[], &[]).unwrap_err();
        assert!(e.message.starts_with("filePath: must not be empty"));
        let e = deploy_body(&[1.0], "/a\nb", &[1.0], &[], &[], &[]).unwrap_err();
        assert!(e.message.starts_with("filePath: "));
        let e = deploy_body(&[1.0], "/a", &[], &[], &[1.0, -2.0], &[]).unwrap_err();
        assert!(e.message.starts_with("devices[1]: "), "{}", e.message);
        let e = deploy_body(&[1.0], "/a", &[], &[], &[], &[]).unwrap_err();
        assert_eq!(
            e.message,
            "users/usergroups/devices/devicegroups: at least one target list must be non-empty"
        );
        let e = deploy_body(&[], "/a", &[1.0], &[], &[], &[]).unwrap_err();
        assert!(e.message.starts_with("fileIds: "));
        for (u, ug, d, dg) in [(1.0, -1.0, 1.0, 1.0), (1.0, 1.0, 1.0, 0.5)] {
            assert!(deploy_body(&[1.0], "/a", &[u], &[ug], &[d], &[dg]).is_err());
        }
    }

    #[test]
    fn api_key_with_whitespace_or_non_ascii_is_refused_without_echoing_it() {
        assert!(check_api_key("abcDEF123-_.~").is_ok());
        for key in [
            "",
            "abc def",
            "abcdef\n",
            "\tabcdef",
            "abcdéf",
            "abc\u{0}def",
            "abc\u{7f}def",
        ] {
            let e = check_api_key(key).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput);
            assert!(e.message.starts_with("apiKey: "), "{}", e.message);
            if key.trim().len() >= 4 {
                assert!(!e.message.contains(key.trim()), "{}", e.message);
            }
        }
    }
}
