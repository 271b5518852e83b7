//! The sample backend's multipart endpoints (on the web listener), and dev endpoints to
//! inspect multipart uploads.
//!
//! | path | what |
//! | --- | --- |
//! | `POST /backend/multipart/create` | `{file_name, content_type?, size?}` → `{uploadId, key}` (CreateMultipartUpload) |
//! | `POST /backend/multipart/sign-part` | `{uploadId, key, partNumber, size?, expires_in?}` → `{url}`, a presigned UploadPart URL |
//! | `POST /backend/multipart/complete` | `{uploadId, key, parts: [{partNumber, etag}]}` → `{file_uuid, location, etag}` |
//! | `POST /backend/multipart/abort` | `{uploadId, key}` → `{}` (AbortMultipartUpload) |
//! | `POST /backend/multipart/list` | `{uploadId, key}` → `[{partNumber, size, etag}]` |
//! | `GET /__dev/multipart` | `{"uploads": [{uploadId, key, parts}], "counters": {...}}`: the in-progress uploads in the store |
//! | `PUT /__dev/multipart/no-etag` | answers 200 with an `ETag` that CORS does not expose (tests) |
//! | `PUT /__dev/multipart/expired` | answers S3's 403 `AccessDenied` "Request has expired" (tests) |
//!
//! The backend calls the store server-side with presigned requests (the same SigV4 presigner
//! as the API), so it goes through the store's own auth. `list` reads the part files of the
//! s3s-fs layout (`STORE/.upload_id-<id>.part-<n>`), since s3s-fs's ListParts gives no ETag;
//! the ETag is the part's MD5, as s3s-fs answers it to UploadPart. Keys are fresh UUIDs, and
//! `create` registers the key with the API so that `/backend/verify` works after `complete`.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, ETAG};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::api::{self, MAX_BODY};
use crate::util::{self, detail, RespBody};
use crate::{App, Upload, MAX_URL_EXPIRY_SECS};

/// Prefix of the sample backend's multipart endpoints.
pub const BACKEND_MULTIPART_PREFIX: &str = "/backend/multipart/";
/// The dev endpoint listing in-progress multipart uploads.
pub const DEV_MULTIPART_PATH: &str = "/__dev/multipart";
/// A dev endpoint that takes a PUT and answers 200 without exposing its `ETag`.
pub const DEV_NO_ETAG_PATH: &str = "/__dev/multipart/no-etag";
/// A dev endpoint that takes a PUT and answers S3's 403 "Request has expired".
pub const DEV_EXPIRED_PATH: &str = "/__dev/multipart/expired";
/// Methods the preflight of these paths allows.
const METHODS: &str = "GET, POST, PUT, OPTIONS";

/// Counters and the keys of the uploads this backend created.
#[derive(Debug, Default)]
pub struct MultipartState {
    create: AtomicU64,
    sign_part: AtomicU64,
    complete: AtomicU64,
    abort: AtomicU64,
    list: AtomicU64,
    no_etag_put: AtomicU64,
    keys: Mutex<HashMap<String, String>>,
}

impl MultipartState {
    fn counters(&self) -> Value {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "create": g(&self.create),
            "sign_part": g(&self.sign_part),
            "complete": g(&self.complete),
            "abort": g(&self.abort),
            "list": g(&self.list),
            "no_etag_put": g(&self.no_etag_put),
        })
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// True for the paths this module answers.
#[must_use]
pub fn owns(path: &str) -> bool {
    path.starts_with(BACKEND_MULTIPART_PREFIX)
        || path == DEV_MULTIPART_PATH
        || path == DEV_NO_ETAG_PATH
        || path == DEV_EXPIRED_PATH
}

/// Answers one request to a path [`owns`] says is ours, CORS included.
pub(crate) async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<RespBody> {
    let allowed_origin = app.origins.of_request(&req);
    if req.method() == Method::OPTIONS {
        return api::preflight(&req, allowed_origin.as_deref(), METHODS);
    }
    let path = req.uri().path().to_owned();
    let expose = path != DEV_NO_ETAG_PATH;
    let mut resp = route(&app, req, &path).await;
    if let Some(origin) = allowed_origin {
        crate::cors::allow_response(&mut resp, &origin, expose.then_some("Retry-After, ETag"));
    }
    resp
}

/// A failed call: status and `detail`.
struct Fail(StatusCode, String);

fn bad(msg: impl Into<String>) -> Fail {
    Fail(StatusCode::BAD_REQUEST, msg.into())
}

async fn route(app: &App, req: Request<Incoming>, path: &str) -> Response<RespBody> {
    let st = &app.multipart;
    if path == DEV_NO_ETAG_PATH {
        if req.method() != Method::PUT {
            return detail(StatusCode::METHOD_NOT_ALLOWED, "PUT only.");
        }
        bump(&st.no_etag_put);
        let _ = req.into_body().collect().await;
        let mut resp = util::response(StatusCode::OK, "text/plain", "");
        resp.headers_mut().insert(
            ETAG,
            HeaderValue::from_static("\"0123456789abcdef0123456789abcdef\""),
        );
        return resp;
    }
    if path == DEV_EXPIRED_PATH {
        let _ = req.into_body().collect().await;
        return util::response(
            StatusCode::FORBIDDEN,
            "application/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message><RequestId>DEVEXPIRED</RequestId></Error>",
        );
    }
    if path == DEV_MULTIPART_PATH {
        return match *req.method() {
            Method::GET | Method::HEAD => dev_list(app).await,
            _ => detail(StatusCode::METHOD_NOT_ALLOWED, "GET only."),
        };
    }
    if req.method() != Method::POST {
        return detail(StatusCode::METHOD_NOT_ALLOWED, "POST only.");
    }
    let body = match util::read_body(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return detail(StatusCode::BAD_REQUEST, e),
    };
    let obj = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(o)) => o,
        _ => {
            return detail(
                StatusCode::BAD_REQUEST,
                "Invalid JSON body: expected a JSON object",
            )
        }
    };
    let result = match &path[BACKEND_MULTIPART_PREFIX.len()..] {
        "create" => {
            bump(&st.create);
            create(app, &obj).await
        }
        "sign-part" => {
            bump(&st.sign_part);
            sign_part(app, &obj)
        }
        "complete" => {
            bump(&st.complete);
            complete(app, &obj).await
        }
        "abort" => {
            bump(&st.abort);
            abort(app, &obj).await
        }
        "list" => {
            bump(&st.list);
            list(app, &obj).await
        }
        _ => Err(Fail(StatusCode::NOT_FOUND, "Not found.".to_owned())),
    };
    match result {
        Ok(v) => util::json(StatusCode::OK, &v),
        Err(Fail(status, msg)) => detail(status, msg),
    }
}

// ---- fields -------------------------------------------------------------------------------

fn str_field(obj: &Map<String, Value>, a: &str, b: &str) -> Option<String> {
    obj.get(a)
        .or_else(|| obj.get(b))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

/// `uploadId` (a UUID, as s3s-fs makes them) and `key` (one this backend created).
fn ids(app: &App, obj: &Map<String, Value>) -> Result<(String, String), Fail> {
    let upload_id = str_field(obj, "uploadId", "upload_id")
        .ok_or_else(|| bad("uploadId: This field is required."))?;
    let key = str_field(obj, "key", "Key").ok_or_else(|| bad("key: This field is required."))?;
    if uuid::Uuid::parse_str(&upload_id).is_err() {
        return Err(bad("uploadId: not an upload id of this store"));
    }
    if uuid::Uuid::parse_str(&key).is_err() || app.object_path(&key).is_none() {
        return Err(bad("key: not a key this backend created"));
    }
    Ok((upload_id, key))
}

// ---- talking to the store -----------------------------------------------------------------

/// Sends one presigned request to the store and returns its status and body.
async fn store_call(
    app: &App,
    method: &str,
    key: &str,
    query: &[(&str, &str)],
    body: Bytes,
) -> Result<(StatusCode, Bytes), Fail> {
    let url = app
        .presigner
        .request(method, key, query, 60)
        .map_err(|e| Fail(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header(CONTENT_TYPE, "application/xml")
        .body(Full::new(body))
        .map_err(|e| {
            Fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot build the store request: {e}"),
            )
        })?;
    let resp = app.client.request(req).await.map_err(|e| {
        Fail(
            StatusCode::BAD_GATEWAY,
            format!("the store did not answer: {e}"),
        )
    })?;
    let status = resp.status();
    let bytes = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            Fail(
                StatusCode::BAD_GATEWAY,
                format!("the store's answer was cut: {e}"),
            )
        })?
        .to_bytes();
    Ok((status, bytes))
}

/// The text of the first `<tag>` element.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..start + len].to_owned())
}

/// A store error as a backend error: 4xx stays 400 (with S3's code), the rest is 502.
fn store_error(what: &str, status: StatusCode, body: &[u8]) -> Fail {
    let text = String::from_utf8_lossy(body);
    let code = xml_text(&text, "Code").unwrap_or_default();
    let message = xml_text(&text, "Message").unwrap_or_default();
    let out = if status.is_client_error() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::BAD_GATEWAY
    };
    Fail(
        out,
        format!(
            "{what}: the store answered {} {code} {message}",
            status.as_u16()
        ),
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

// ---- endpoints ----------------------------------------------------------------------------

async fn create(app: &App, obj: &Map<String, Value>) -> Result<Value, Fail> {
    let file_name = str_field(obj, "file_name", "fileName")
        .ok_or_else(|| bad("file_name: This field is required."))?;
    let content_type = str_field(obj, "content_type", "contentType")
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let key = uuid::Uuid::new_v4().to_string();
    let (status, body) = store_call(app, "POST", &key, &[("uploads", "")], Bytes::new()).await?;
    if !status.is_success() {
        return Err(store_error("create", status, &body));
    }
    let upload_id = xml_text(&String::from_utf8_lossy(&body), "UploadId").ok_or_else(|| {
        Fail(
            StatusCode::BAD_GATEWAY,
            "create: the store's answer has no UploadId".to_owned(),
        )
    })?;
    app.registry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .by_uuid
        .insert(
            key.clone(),
            Upload {
                file_name,
                content_type,
                key: key.clone(),
                id: None,
                size: 0,
                deleted: false,
            },
        );
    app.multipart
        .keys
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(upload_id.clone(), key.clone());
    Ok(json!({ "uploadId": upload_id, "key": key }))
}

fn sign_part(app: &App, obj: &Map<String, Value>) -> Result<Value, Fail> {
    let (upload_id, key) = ids(app, obj)?;
    let part = obj
        .get("partNumber")
        .or_else(|| obj.get("part_number"))
        .and_then(Value::as_u64)
        .filter(|n| (1..=10_000).contains(n))
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| bad("partNumber: must be an integer from 1 to 10000"))?;
    let expires = match obj.get("expires_in").and_then(Value::as_u64) {
        None if obj.get("expires_in").is_some_and(|v| !v.is_null()) => {
            return Err(bad(format!(
                "expires_in: must be between 1 and {MAX_URL_EXPIRY_SECS} seconds"
            )))
        }
        None => app.url_expiry_secs,
        Some(n) if (1..=MAX_URL_EXPIRY_SECS).contains(&n) => n,
        Some(_) => {
            return Err(bad(format!(
                "expires_in: must be between 1 and {MAX_URL_EXPIRY_SECS} seconds"
            )))
        }
    };
    let url = app.presigner.upload_part(&key, &upload_id, part, expires);
    Ok(json!({ "url": url }))
}

async fn complete(app: &App, obj: &Map<String, Value>) -> Result<Value, Fail> {
    let (upload_id, key) = ids(app, obj)?;
    let parts = obj
        .get("parts")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("parts: This field is required."))?;
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (i, p) in parts.iter().enumerate() {
        let n = p
            .get("partNumber")
            .or_else(|| p.get("part_number"))
            .and_then(Value::as_u64)
            .ok_or_else(|| bad(format!("parts[{i}].partNumber: must be an integer")))?;
        let etag = p
            .get("etag")
            .or_else(|| p.get("ETag"))
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("parts[{i}].etag: This field is required.")))?;
        xml.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>",
            xml_escape(etag)
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let (status, body) = store_call(
        app,
        "POST",
        &key,
        &[("uploadId", &upload_id)],
        Bytes::from(xml),
    )
    .await?;
    let text = String::from_utf8_lossy(&body);
    // S3 may answer 200 with an <Error> body for CompleteMultipartUpload.
    if !status.is_success() || text.contains("<Error>") {
        return Err(store_error("complete", status, &body));
    }
    app.multipart
        .keys
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&upload_id);
    Ok(json!({
        "file_uuid": key,
        "location": format!("{}/{}/{key}", app.info.s3_endpoint, app.info.bucket),
        "etag": xml_text(&text, "ETag").map(|e| e.replace("&quot;", "\"")),
    }))
}

async fn abort(app: &App, obj: &Map<String, Value>) -> Result<Value, Fail> {
    let (upload_id, key) = ids(app, obj)?;
    let (status, body) = store_call(
        app,
        "DELETE",
        &key,
        &[("uploadId", &upload_id)],
        Bytes::new(),
    )
    .await?;
    if !status.is_success() {
        return Err(store_error("abort", status, &body));
    }
    app.multipart
        .keys
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&upload_id);
    Ok(json!({}))
}

/// The part files of one upload in the s3s-fs layout: `(number, size, md5 hex)`.
fn part_files(root: &std::path::Path, upload_id: &str) -> std::io::Result<Vec<(u64, u64, String)>> {
    let prefix = format!(".upload_id-{upload_id}.part-");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        let mut file = std::fs::File::open(entry.path())?;
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let read = file.read(&mut buf)?;
            if read == 0 {
                break;
            }
            size += read as u64;
            hasher.update(&buf[..read]);
        }
        out.push((n, size, hex::encode(hasher.finalize())));
    }
    out.sort();
    Ok(out)
}

async fn list(app: &App, obj: &Map<String, Value>) -> Result<Value, Fail> {
    let (upload_id, _key) = ids(app, obj)?;
    if !app
        .store_root
        .join(format!(".upload-{upload_id}.json"))
        .is_file()
    {
        return Err(Fail(
            StatusCode::NOT_FOUND,
            "uploadId: NoSuchUpload (no such multipart upload in progress)".to_owned(),
        ));
    }
    let root = app.store_root.clone();
    let parts = tokio::task::spawn_blocking(move || part_files(&root, &upload_id))
        .await
        .map_err(|e| Fail(StatusCode::INTERNAL_SERVER_ERROR, format!("list: {e}")))?
        .map_err(|e| {
            Fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("list: cannot read the parts: {e}"),
            )
        })?;
    Ok(Value::Array(
        parts
            .into_iter()
            .map(|(n, size, md5)| json!({ "partNumber": n, "size": size, "etag": format!("\"{md5}\"") }))
            .collect(),
    ))
}

/// `GET /__dev/multipart`: every multipart upload the store has in progress (its
/// `.upload-<id>.json` files), with the key when this backend created it and the number of
/// parts stored so far, and the counters.
async fn dev_list(app: &App) -> Response<RespBody> {
    let root = app.store_root.clone();
    let found = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<(String, usize)>> {
        let mut ids = Vec::new();
        let mut parts: HashMap<String, usize> = HashMap::new();
        for entry in std::fs::read_dir(&root)? {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(id) = name
                .strip_prefix(".upload-")
                .and_then(|n| n.strip_suffix(".json"))
            {
                ids.push(id.to_owned());
            } else if let Some((id, _)) = name
                .strip_prefix(".upload_id-")
                .and_then(|n| n.split_once(".part-"))
            {
                *parts.entry(id.to_owned()).or_default() += 1;
            }
        }
        ids.sort();
        Ok(ids
            .into_iter()
            .map(|id| (id.clone(), parts.get(&id).copied().unwrap_or(0)))
            .collect())
    })
    .await;
    let found = match found {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            return detail(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the store: {e}"),
            )
        }
        Err(e) => {
            return detail(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the store: {e}"),
            )
        }
    };
    let keys = app
        .multipart
        .keys
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let uploads: Vec<Value> = found
        .into_iter()
        .map(|(id, parts)| json!({ "uploadId": id, "key": keys.get(&id), "parts": parts }))
        .collect();
    util::json(
        StatusCode::OK,
        &json!({ "uploads": uploads, "counters": app.multipart.counters() }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_paths() {
        assert!(owns("/backend/multipart/create"));
        assert!(owns("/__dev/multipart"));
        assert!(owns("/__dev/multipart/no-etag"));
        assert!(!owns("/backend/presign"));
        assert!(!owns("/__dev/multipartx"));
    }

    #[test]
    fn xml_text_extraction() {
        let xml = "<InitiateMultipartUploadResult><Bucket>b</Bucket><UploadId>abc-1</UploadId></InitiateMultipartUploadResult>";
        assert_eq!(xml_text(xml, "UploadId").as_deref(), Some("abc-1"));
        assert_eq!(xml_text(xml, "Key"), None);
    }

    #[test]
    fn part_files_reads_the_layout() {
        let dir = std::env::temp_dir().join(format!("mp-test-{}", util::random_hex(4)));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".upload_id-u1.part-2"), b"abc").unwrap();
        std::fs::write(dir.join(".upload_id-u1.part-1"), b"").unwrap();
        std::fs::write(dir.join(".upload_id-u2.part-1"), b"x").unwrap();
        std::fs::write(dir.join(".tmp.1.internal.part"), b"x").unwrap();
        let parts = part_files(&dir, "u1").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0],
            (1, 0, "d41d8cd98f00b204e9800998ecf8427e".to_owned())
        );
        assert_eq!(
            parts[1],
            (2, 3, "900150983cd24fb0d6963f7d28e17f72".to_owned())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
