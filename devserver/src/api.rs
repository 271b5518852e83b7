//! The Hexnode-compatible file-management API (its own port).
//!
//! Routes (the trailing `/` is required, as on Hexnode):
//! * `POST /api/v1/filemanagement/generate-presigned-upload-url/`
//! * `POST /api/v1/filemanagement/verify-file-upload/`
//! * `POST /api/v1/filemanagement/delete-files/`
//! * `POST /api/v1/actions/deploy-file/`
//!
//! Every call needs `Authorization: <api key>` (the raw key, no scheme).
//! Errors are `{"detail": "..."}` with 400/401/404/405/429; a field error's
//! detail starts with the field name.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, ALLOW,
    AUTHORIZATION, ORIGIN, RETRY_AFTER, VARY,
};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Map, Value};

use crate::faults::{self, Applied, Target};
use crate::stats::bump;
use crate::util::{self, detail, BoxError, RespBody};
use crate::{App, Upload, MAX_URL_EXPIRY_SECS};

/// Path of the presign endpoint.
pub const PRESIGN_PATH: &str = "/api/v1/filemanagement/generate-presigned-upload-url/";
/// Path of the verify endpoint.
pub const VERIFY_PATH: &str = "/api/v1/filemanagement/verify-file-upload/";
/// Path of the delete endpoint.
pub const DELETE_PATH: &str = "/api/v1/filemanagement/delete-files/";
/// Path of the deploy endpoint.
pub const DEPLOY_PATH: &str = "/api/v1/actions/deploy-file/";
/// Methods the API's CORS preflight allows.
pub const CORS_ALLOWED_METHODS: &str = "POST, GET, OPTIONS";
/// Largest JSON body the API reads.
pub const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Presign,
    Verify,
    Delete,
    Deploy,
}

/// A failed call: status and `detail` text.
struct ApiError(StatusCode, String);

type ApiResult<T> = Result<T, ApiError>;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

/// Answers one API request.
pub(crate) async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<RespBody> {
    let is_preflight = req.method() == Method::OPTIONS;
    if app.api_no_cors && is_preflight {
        // A server that knows nothing of CORS: it says what the resource supports, and no
        // browser on another origin may go on to send the call.
        return without_cors(CORS_ALLOWED_METHODS);
    }
    let allowed_origin = if app.api_no_cors {
        None
    } else {
        app.origins.of_request(&req)
    };
    let path = req.uri().path().to_owned();
    let endpoint = endpoint_of(&path);
    if let (Some(e), false) = (endpoint, is_preflight) {
        let stats = &app.stats;
        bump(match e {
            Endpoint::Presign => &stats.api_presign,
            Endpoint::Verify => &stats.api_verify,
            Endpoint::Delete => &stats.api_delete,
            Endpoint::Deploy => &stats.api_deploy,
        });
    }
    let fired = match (&app.faults, is_preflight) {
        (Some(f), false) => f.take(&Target::Api { path: &path }, &app.stats),
        _ => None,
    };
    let (mut resp, cors) = match (fired, app.faults.as_ref()) {
        (Some(mut fired), Some(faults)) => {
            let cors = !fired.action.no_cors;
            let resp = match faults::apply_to_call(faults, req, &mut fired).await {
                Applied::Answer(resp) => resp,
                Applied::Proceed(req) => route(&app, req, allowed_origin.as_deref()).await,
            };
            (resp, cors)
        }
        _ => (route(&app, req, allowed_origin.as_deref()).await, true),
    };
    if let Some(origin) = allowed_origin.filter(|_| !is_preflight && cors) {
        crate::cors::allow_response(&mut resp, &origin, Some("Retry-After"));
    }
    resp
}

fn endpoint_of(path: &str) -> Option<Endpoint> {
    match path {
        PRESIGN_PATH => Some(Endpoint::Presign),
        VERIFY_PATH => Some(Endpoint::Verify),
        DELETE_PATH => Some(Endpoint::Delete),
        DEPLOY_PATH => Some(Endpoint::Deploy),
        _ => None,
    }
}

/// Answers a CORS preflight for the API or the web listener: 204 with the
/// allowed methods and an echo of the requested headers, or 403 for an origin
/// that is not allowed.
pub(crate) fn preflight<B>(
    req: &Request<B>,
    allowed_origin: Option<&str>,
    methods: &'static str,
) -> Response<RespBody> {
    if req.headers().get(ORIGIN).is_none() {
        // Not a CORS request: say what the resource supports.
        return without_cors(methods);
    }
    let Some(origin) = allowed_origin else {
        return detail(StatusCode::FORBIDDEN, "CORS: origin not allowed.");
    };
    let mut resp = Response::new(util::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    let allow_headers = req
        .headers()
        .get(ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("Authorization, Content-Type"));
    h.insert(ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    h.insert(
        VARY,
        HeaderValue::from_static("Origin, Access-Control-Request-Headers"),
    );
    resp
}

/// The answer to `OPTIONS` of a server without CORS: 200, `{}` and `Allow: methods`.
fn without_cors(methods: &'static str) -> Response<RespBody> {
    let mut resp = util::json(StatusCode::OK, &json!({}));
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(methods));
    resp
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn route<B>(app: &App, req: Request<B>, allowed_origin: Option<&str>) -> Response<RespBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    // Preflights are answered for every path (as CORS middleware does), so that a browser can
    // read the 404 of a wrong path instead of failing on CORS.
    if req.method() == Method::OPTIONS {
        return preflight(&req, allowed_origin, CORS_ALLOWED_METHODS);
    }
    // Counted in `handle`, also when a fault answers instead.
    let Some(endpoint) = endpoint_of(req.uri().path()) else {
        return detail(StatusCode::NOT_FOUND, "Not found.");
    };
    let stats = &app.stats;

    // Authentication: the raw key, no scheme. The key is never echoed.
    let key = match req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes) {
        None | Some(b"") => {
            return detail(
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided.",
            )
        }
        Some(k) => k.to_vec(),
    };
    if !constant_time_eq(&key, app.info.api_key.as_bytes()) {
        return detail(StatusCode::UNAUTHORIZED, "Invalid API key.");
    }

    // Throttling, after authentication as in Django REST framework.
    if let Some(limiter) = &app.limiter {
        let verdict = limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .check(&app.info.api_key, Instant::now());
        if let Err(secs) = verdict {
            bump(&stats.api_429);
            let mut resp = detail(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Request was throttled. Expected available in {secs} seconds."),
            );
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
            return resp;
        }
    }

    if req.method() != Method::POST {
        let mut resp = detail(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method \"{}\" not allowed.", req.method()),
        );
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST, OPTIONS"));
        return resp;
    }

    let body = match util::read_body(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return detail(StatusCode::BAD_REQUEST, e),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return detail(StatusCode::BAD_REQUEST, format!("Invalid JSON body: {e}")),
    };
    let Value::Object(obj) = value else {
        return detail(
            StatusCode::BAD_REQUEST,
            "Invalid JSON body: expected a JSON object",
        );
    };
    let result = match endpoint {
        Endpoint::Presign => presign(app, &obj),
        Endpoint::Verify => verify(app, &obj).await,
        Endpoint::Delete => delete(app, &obj).await,
        Endpoint::Deploy => deploy(app, &obj),
    };
    match result {
        Ok(v) => util::json(StatusCode::OK, &v),
        Err(ApiError(status, msg)) => detail(status, msg),
    }
}

// ---- field extraction -------------------------------------------------------

fn required_str(obj: &Map<String, Value>, field: &str) -> ApiResult<String> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(bad(format!("{field}: This field is required."))),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(bad(format!("{field}: This field may not be blank.")))
        }
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(bad(format!("{field}: Not a valid string."))),
    }
}

fn optional_str(obj: &Map<String, Value>, field: &str) -> ApiResult<Option<String>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(bad(format!("{field}: This field may not be blank.")))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{field}: Not a valid string."))),
    }
}

fn optional_int(obj: &Map<String, Value>, field: &str) -> ApiResult<Option<i64>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad(format!("{field}: A valid integer is required."))),
    }
}

/// A list of integer ids; `None` when absent or null.
fn id_list(obj: &Map<String, Value>, field: &str) -> ApiResult<Option<Vec<i64>>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_i64()
                    .ok_or_else(|| bad(format!("{field}: expected a list of integers, got {v}")))
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(bad(format!("{field}: expected a list of integers"))),
    }
}

fn required_ids(obj: &Map<String, Value>, field: &str) -> ApiResult<Vec<i64>> {
    match id_list(obj, field)? {
        None => Err(bad(format!("{field}: This field is required."))),
        Some(ids) if ids.is_empty() => Err(bad(format!("{field}: must not be empty"))),
        Some(ids) => Ok(ids),
    }
}

fn upload_json(file_uuid: &str, u: &Upload) -> Value {
    json!({
        "id": u.id,
        "file_uuid": file_uuid,
        "file_name": u.file_name,
        "content_type": u.content_type,
        "size": u.size,
        "status": if u.deleted { "deleted" } else { "active" },
    })
}

// ---- endpoints ----------------------------------------------------------------

fn presign(app: &App, obj: &Map<String, Value>) -> ApiResult<Value> {
    let file_name = required_str(obj, "file_name")?;
    let content_type =
        optional_str(obj, "content_type")?.unwrap_or_else(|| "application/octet-stream".to_owned());
    let expires = match optional_int(obj, "expires_in")? {
        None => app.url_expiry_secs,
        Some(n) => u64::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_URL_EXPIRY_SECS).contains(n))
            .ok_or_else(|| {
                bad(format!(
                    "expires_in: must be between 1 and {MAX_URL_EXPIRY_SECS} seconds"
                ))
            })?,
    };
    if HeaderValue::from_str(&content_type).is_err() {
        return Err(bad("content_type: not a valid header value"));
    }

    let file_uuid = uuid::Uuid::new_v4().to_string();
    let key = file_uuid.clone();
    let presigned_url = app.presigner.put_object(&key, &content_type, expires);
    app.registry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .by_uuid
        .insert(
            file_uuid.clone(),
            Upload {
                file_name: file_name.clone(),
                content_type,
                key,
                id: None,
                size: 0,
                deleted: false,
            },
        );
    Ok(json!({
        "presigned_url": presigned_url,
        "file_name": file_name,
        "file_uuid": file_uuid,
    }))
}

async fn verify(app: &App, obj: &Map<String, Value>) -> ApiResult<Value> {
    let file_uuid = required_str(obj, "file_uuid")?;
    let key = {
        let reg = app
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match reg.by_uuid.get(&file_uuid) {
            Some(u) => u.key.clone(),
            None => {
                return Err(ApiError(
                    StatusCode::NOT_FOUND,
                    "file_uuid: no such upload".to_owned(),
                ))
            }
        }
    };
    let path = app.object_path(&key).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            "file_uuid: no such upload".to_owned(),
        )
    })?;
    let size = match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_file() => m.len(),
        _ => {
            return Err(bad(
                "file_uuid: file not uploaded yet (no object in storage)",
            ))
        }
    };
    if size == 0 {
        return Err(bad(
            "file_uuid: file not uploaded yet (the stored object is empty)",
        ));
    }
    let mut guard = app
        .registry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let reg = &mut *guard;
    let upload = reg.by_uuid.get_mut(&file_uuid).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            "file_uuid: no such upload".to_owned(),
        )
    })?;
    if upload.id.is_none() {
        let id = reg.next_id;
        reg.next_id += 1;
        reg.uuid_by_id.insert(id, file_uuid.clone());
        upload.id = Some(id);
    }
    upload.size = size;
    upload.deleted = false;
    Ok(upload_json(&file_uuid, upload))
}

/// Checks that every id names a verified file that is not deleted, and
/// returns the object keys.
fn active_keys(app: &App, ids: &[i64], field: &str) -> ApiResult<Vec<(u64, String)>> {
    let reg = app
        .registry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    ids.iter()
        .map(|&id| {
            let upload = u64::try_from(id)
                .ok()
                .and_then(|n| reg.uuid_by_id.get(&n).map(|uuid| (n, uuid)))
                .and_then(|(n, uuid)| reg.by_uuid.get(uuid).map(|u| (n, u)));
            match upload {
                Some((n, u)) if !u.deleted => Ok((n, u.key.clone())),
                Some(_) => Err(bad(format!("{field}: file id {id} is deleted"))),
                None => Err(bad(format!("{field}: file id {id} does not exist"))),
            }
        })
        .collect()
}

async fn delete(app: &App, obj: &Map<String, Value>) -> ApiResult<Value> {
    let ids = required_ids(obj, "file_ids")?;
    let keys = active_keys(app, &ids, "file_ids")?;
    for (_, key) in &keys {
        remove_object(app, key).await;
    }
    let mut reg = app
        .registry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (id, _) in keys {
        if let Some(uuid) = reg.uuid_by_id.get(&id).cloned() {
            if let Some(u) = reg.by_uuid.get_mut(&uuid) {
                u.deleted = true;
            }
        }
    }
    Ok(json!({ "message": "Files are Deleted Successfully" }))
}

/// Removes an object and the s3s-fs metadata files beside it.
async fn remove_object(app: &App, key: &str) {
    if let Some(path) = app.object_path(key) {
        let _ = tokio::fs::remove_file(path).await;
    }
    let bucket = util::base64_url_no_pad(app.info.bucket.as_bytes());
    let key = util::base64_url_no_pad(key.as_bytes());
    for suffix in ["metadata.json", "internal.json"] {
        let meta = app
            .store_root
            .join(format!(".bucket-{bucket}.object-{key}.{suffix}"));
        let _ = tokio::fs::remove_file(meta).await;
    }
}

fn deploy(app: &App, obj: &Map<String, Value>) -> ApiResult<Value> {
    let ids = required_ids(obj, "file_ids")?;
    let _file_path = required_str(obj, "file_path")?;
    let mut targets = 0;
    for field in ["users", "usergroups", "devices", "devicegroups"] {
        targets += id_list(obj, field)?.map_or(0, |v| v.len());
    }
    if targets == 0 {
        return Err(bad(
            "users, usergroups, devices, devicegroups: at least one target is required",
        ));
    }
    active_keys(app, &ids, "file_ids")?;
    Ok(json!({ "message": "Action Created" }))
}
