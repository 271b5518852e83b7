//! The web listener: the demo's static files, the built wasm package, the
//! demo's config, a sample backend that holds the API key, and `/__dev/*`
//! endpoints for tests.
//!
//! | path | what |
//! | --- | --- |
//! | `GET /`, `GET /<file>` | files from `--www` (`index.html` for a directory) |
//! | `GET /pkg/<file>` | files from `--pkg` |
//! | `GET /csp/`, `GET /csp/<file>` | the same files as `/`, sent under the strict Content-Security-Policy of [`strict_csp`] |
//! | `GET /config.json` | API base, key, S3 endpoint, bucket, backend paths |
//! | `POST /backend/presign` | forwards `{file_name, content_type?, expires_in?}` to the API with the key |
//! | `POST /backend/verify` | forwards `{file_uuid}` to the API with the key |
//! | `POST /backend/credentials` | dev only: the store's own keys, `{accessKeyId, secretAccessKey, expiration}` (now + 15 min, ms) |
//! | `GET /__dev/stats` | request counters |
//! | `POST /__dev/stats/reset` | zeroes the counters |
//! | `GET /__dev/object/<key>` | `{"exists", "size", "sha256"}` of a stored object |
//! | `GET /__dev/uploads?prefix=P` | what the API presigned for file names starting with `P`: `[{"file_uuid", "file_name", "id", "deleted", "stored", "size"}]` |
//! | `GET`, `POST`, `DELETE /__faults` | with `--faults`: the fault script ([`crate::faults`]); 404 without |
//! | `GET`, `POST`, `DELETE /__cors` | with `--faults`: the store bucket's CORS rules ([`crate::bucket_cors`]); 404 without |

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{
    HeaderValue, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    RETRY_AFTER,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::api::{self, MAX_BODY, PRESIGN_PATH, VERIFY_PATH};
use crate::faults::{self, Applied, Target, FAULTS_PATH};
use crate::stats::bump;
use crate::util::{self, detail, BoxError, RespBody};
use crate::App;

/// Path of the sample backend's presign endpoint.
pub const BACKEND_PRESIGN_PATH: &str = "/backend/presign";
/// Path of the sample backend's verify endpoint.
pub const BACKEND_VERIFY_PATH: &str = "/backend/verify";
/// Path of the sample backend's dev-only credentials endpoint (for the in-browser signer).
pub const BACKEND_CREDENTIALS_PATH: &str = "/backend/credentials";
/// Where the demo is served under [`strict_csp`].
pub const CSP_PREFIX: &str = "/csp/";

/// The strictest policy the package runs under, as the README's "Content Security Policy"
/// section gives it: scripts from this origin only, WebAssembly compiled without `eval`, and
/// connections to this origin (the demo's files, its config and the sample backend), the API
/// and the store. Nothing else.
#[must_use]
pub fn strict_csp(info: &crate::ReadyInfo) -> String {
    format!(
        "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' {} {}",
        info.api_base, info.s3_endpoint
    )
}

/// Methods the web listener's CORS preflight allows.
pub const CORS_ALLOWED_METHODS: &str = "GET, POST, DELETE, HEAD, OPTIONS";

/// Answers one request to the web listener.
pub(crate) async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<RespBody> {
    if crate::multipart::owns(req.uri().path()) {
        return crate::multipart::handle(app, req).await;
    }
    let allowed_origin = app.origins.of_request(&req);
    if req.method() == Method::OPTIONS {
        return api::preflight(&req, allowed_origin.as_deref(), CORS_ALLOWED_METHODS);
    }
    let path = req.uri().path().to_owned();
    let backend = req.method() == Method::POST
        && (path == BACKEND_PRESIGN_PATH || path == BACKEND_VERIFY_PATH);
    if backend {
        // Counted here, also when a fault answers instead.
        bump(if path == BACKEND_PRESIGN_PATH {
            &app.stats.backend_presign
        } else {
            &app.stats.backend_verify
        });
    }
    let fired = match (&app.faults, backend) {
        (Some(f), true) => f.take(&Target::Backend { path: &path }, &app.stats),
        _ => None,
    };
    let (mut resp, cors) = match (fired, app.faults.as_ref()) {
        (Some(mut fired), Some(faults)) => {
            let cors = !fired.action.no_cors;
            let resp = match faults::apply_to_call(faults, req, &mut fired).await {
                Applied::Answer(resp) => resp,
                Applied::Proceed(req) => route(&app, req).await,
            };
            (resp, cors)
        }
        _ => (route(&app, req).await, true),
    };
    if let Some(origin) = allowed_origin.filter(|_| cors) {
        crate::cors::allow_response(&mut resp, &origin, Some("Retry-After"));
    }
    resp
}

fn method_not_allowed(allow: &'static str) -> Response<RespBody> {
    let mut resp = detail(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

async fn route<B>(app: &App, req: Request<B>) -> Response<RespBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let is_get = method == Method::GET || method == Method::HEAD;
    match path.as_str() {
        "/config.json" if is_get => {
            let info = &app.info;
            let mut resp = util::json(
                StatusCode::OK,
                &json!({
                    "api_base": info.api_base,
                    "api_key": info.api_key,
                    "s3_endpoint": info.s3_endpoint,
                    "bucket": info.bucket,
                    "region": info.region,
                    "access_key_id": info.access_key_id,
                    "secret_access_key": info.secret_access_key,
                    "backend_presign": BACKEND_PRESIGN_PATH,
                    "backend_verify": BACKEND_VERIFY_PATH,
                }),
            );
            resp.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        BACKEND_PRESIGN_PATH if method == Method::POST => forward(app, req, PRESIGN_PATH).await,
        BACKEND_VERIFY_PATH if method == Method::POST => forward(app, req, VERIFY_PATH).await,
        BACKEND_CREDENTIALS_PATH if method == Method::POST => {
            // Dev only: the store's fixed keys, as a credentials endpoint would hand out
            // temporary ones to the in-browser signer.
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() * 1000 + u64::from(d.subsec_millis()));
            util::json(
                StatusCode::OK,
                &json!({
                    "accessKeyId": app.info.access_key_id,
                    "secretAccessKey": app.info.secret_access_key,
                    "expiration": now_ms + 15 * 60 * 1000,
                }),
            )
        }
        FAULTS_PATH => faults_endpoint(app, req).await,
        CORS_PATH => cors_endpoint(app, req).await,
        "/__dev/uploads" if is_get => dev_uploads(app, req.uri().query()).await,
        "/__dev/stats" if is_get => util::json(StatusCode::OK, &app.stats.snapshot()),
        "/__dev/stats/reset" if method == Method::POST => {
            app.stats.reset();
            util::json(StatusCode::OK, &app.stats.snapshot())
        }
        "/config.json" | "/__dev/stats" | "/__dev/uploads" => {
            method_not_allowed("GET, HEAD, OPTIONS")
        }
        BACKEND_PRESIGN_PATH
        | BACKEND_VERIFY_PATH
        | BACKEND_CREDENTIALS_PATH
        | "/__dev/stats/reset" => method_not_allowed("POST, OPTIONS"),
        p if p.starts_with("/__dev/object/") => {
            if !is_get {
                return method_not_allowed("GET, HEAD, OPTIONS");
            }
            dev_object(app, &p["/__dev/object/".len()..]).await
        }
        _ if !is_get => method_not_allowed("GET, HEAD, OPTIONS"),
        p => {
            if let Some(rest) = p.strip_prefix("/pkg/") {
                serve_file(&app.pkg_dir, rest).await
            } else if let Some(rest) = p.strip_prefix(CSP_PREFIX) {
                let mut resp = serve_file(&app.www_dir, rest).await;
                if let Ok(v) = HeaderValue::from_str(&strict_csp(&app.info)) {
                    resp.headers_mut().insert(CONTENT_SECURITY_POLICY, v);
                }
                resp
            } else {
                serve_file(&app.www_dir, p).await
            }
        }
    }
}

/// `/__faults`: 404 without `--faults`; else `GET` shows the script and the log, `POST`
/// replaces the script (400 naming the field when it is wrong), `DELETE` clears it.
async fn faults_endpoint<B>(app: &App, req: Request<B>) -> Response<RespBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let Some(faults) = &app.faults else {
        return detail(
            StatusCode::NOT_FOUND,
            "Not found (fault injection is off: start the devserver with --faults).",
        );
    };
    let method = req.method().clone();
    if method == Method::POST {
        let body = match util::read_body(req.into_body(), MAX_BODY).await {
            Ok(b) => b,
            Err(e) => return detail(StatusCode::BAD_REQUEST, e),
        };
        let script: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return detail(StatusCode::BAD_REQUEST, format!("Invalid JSON body: {e}")),
        };
        if let Err(e) = faults.set(&script) {
            return detail(StatusCode::BAD_REQUEST, e);
        }
        if faults.reset_armed() {
            // A reset must meet a fresh connection for the client to see it.
            app.recycle_connections();
        }
    } else if method == Method::DELETE {
        faults.clear();
    } else if method != Method::GET && method != Method::HEAD {
        return method_not_allowed("GET, POST, DELETE, OPTIONS");
    }
    let mut resp = util::json(StatusCode::OK, &faults.snapshot(&app.stats));
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The control endpoint of the store bucket's CORS rules (web listener, with `--faults`).
pub const CORS_PATH: &str = "/__cors";

/// `/__cors`: 404 without `--faults`; else `POST` replaces the store bucket's CORS rules with
/// S3's JSON (400 naming the field when it is wrong), `DELETE` goes back to the startup rules
/// (`--cors`, or the default), and every method answers `{"rules": ... | null}`.
async fn cors_endpoint<B>(app: &App, req: Request<B>) -> Response<RespBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    if app.faults.is_none() {
        return detail(
            StatusCode::NOT_FOUND,
            "Not found (the CORS control is off: start the devserver with --faults).",
        );
    }
    let method = req.method().clone();
    let set = |rules: Option<crate::bucket_cors::BucketCors>| {
        *app.bucket_cors
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = rules;
    };
    if method == Method::POST {
        let body = match util::read_body(req.into_body(), MAX_BODY).await {
            Ok(b) => b,
            Err(e) => return detail(StatusCode::BAD_REQUEST, e),
        };
        let json: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return detail(StatusCode::BAD_REQUEST, format!("Invalid JSON body: {e}")),
        };
        match crate::bucket_cors::BucketCors::parse(&json) {
            Ok(rules) => set(Some(rules)),
            Err(e) => return detail(StatusCode::BAD_REQUEST, e),
        }
    } else if method == Method::DELETE {
        set(app.startup_cors.clone());
    } else if method != Method::GET && method != Method::HEAD {
        return method_not_allowed("GET, POST, DELETE, OPTIONS");
    }
    let count = app
        .bucket_cors
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
        .map(|c| c.rules.len());
    let mut resp = util::json(StatusCode::OK, &serde_json::json!({ "rules": count }));
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// What the API presigned for file names starting with `prefix` (from the query
/// `prefix=...`), with whether the store holds each object.
async fn dev_uploads(app: &App, query: Option<&str>) -> Response<RespBody> {
    let prefix = query
        .unwrap_or("")
        .split('&')
        .find_map(|p| p.strip_prefix("prefix="))
        .and_then(util::percent_decode)
        .unwrap_or_default();
    let uploads: Vec<(String, crate::Upload)> = {
        let reg = app
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        reg.by_uuid
            .iter()
            .filter(|(_, u)| u.file_name.starts_with(&prefix))
            .map(|(k, u)| (k.clone(), u.clone()))
            .collect()
    };
    let mut out = Vec::with_capacity(uploads.len());
    for (uuid, u) in uploads {
        let meta = match app.object_path(&u.key) {
            Some(p) => tokio::fs::metadata(p).await.ok().filter(|m| m.is_file()),
            None => None,
        };
        out.push(json!({
            "file_uuid": uuid,
            "file_name": u.file_name,
            "id": u.id,
            "deleted": u.deleted,
            "stored": meta.is_some(),
            "size": meta.map_or(0, |m| m.len()),
        }));
    }
    util::json(StatusCode::OK, &serde_json::Value::Array(out))
}

/// Forwards a JSON body to the API with the key, returning the API's status
/// and body unchanged.
async fn forward<B>(app: &App, req: Request<B>, api_path: &str) -> Response<RespBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let body = match util::read_body(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return detail(StatusCode::BAD_REQUEST, e),
    };
    let Ok(key) = HeaderValue::from_str(&app.info.api_key) else {
        return detail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the API key is not a valid header value",
        );
    };
    let fwd = Request::builder()
        .method(Method::POST)
        .uri(format!("{}{api_path}", app.info.api_base))
        .header(AUTHORIZATION, key)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body));
    let fwd = match fwd {
        Ok(r) => r,
        Err(e) => {
            return detail(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot build the API request: {e}"),
            )
        }
    };
    let resp = match app.client.request(fwd).await {
        Ok(r) => r,
        Err(e) => {
            return detail(
                StatusCode::BAD_GATEWAY,
                format!("the API did not answer: {e}"),
            )
        }
    };
    let status = resp.status();
    let retry_after = resp.headers().get(RETRY_AFTER).cloned();
    let content_type = resp.headers().get(CONTENT_TYPE).cloned();
    let bytes = match Limited::new(resp.into_body(), MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return detail(
                StatusCode::BAD_GATEWAY,
                format!("the API's answer was cut: {e}"),
            )
        }
    };
    let mut out = util::response(status, "application/json", bytes);
    if let Some(v) = content_type {
        out.headers_mut().insert(CONTENT_TYPE, v);
    }
    if let Some(v) = retry_after {
        out.headers_mut().insert(RETRY_AFTER, v);
    }
    out
}

/// `{"exists", "size", "sha256"}` of a stored object, read from disk.
async fn dev_object(app: &App, raw_key: &str) -> Response<RespBody> {
    let Some(path) = util::percent_decode(raw_key)
        .filter(|k| !k.is_empty())
        .and_then(|k| app.object_path(&k))
    else {
        return detail(StatusCode::BAD_REQUEST, "key: not a valid object key");
    };
    let result = tokio::task::spawn_blocking(move || -> std::io::Result<Option<(u64, String)>> {
        let mut file = match std::fs::File::open(&path) {
            Ok(f) if f.metadata()?.is_file() => f,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buf[..n]);
        }
        Ok(Some((size, hex::encode(hasher.finalize()))))
    })
    .await;
    match result {
        Ok(Ok(Some((size, sha256)))) => util::json(
            StatusCode::OK,
            &json!({ "exists": true, "size": size, "sha256": sha256 }),
        ),
        Ok(Ok(None)) => util::json(
            StatusCode::OK,
            &json!({ "exists": false, "size": 0, "sha256": null }),
        ),
        Ok(Err(e)) => detail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the object: {e}"),
        ),
        Err(e) => detail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the object: {e}"),
        ),
    }
}

/// Serves a file under `root` for the URL path `rel`; `index.html` for a
/// directory. Paths that could leave `root` and missing files are 404.
async fn serve_file(root: &Path, rel: &str) -> Response<RespBody> {
    let not_found = || detail(StatusCode::NOT_FOUND, "Not found.");
    let Some(decoded) = util::percent_decode(rel) else {
        return not_found();
    };
    let Some(mut path): Option<PathBuf> = util::safe_join(root, &decoded) else {
        return not_found();
    };
    match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_dir() => path.push("index.html"),
        Ok(_) => {}
        Err(_) => return not_found(),
    }
    match tokio::fs::read(&path).await {
        Ok(data) => {
            let mut resp = util::response(StatusCode::OK, util::mime_for(&path), Bytes::from(data));
            resp.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            resp
        }
        Err(_) => not_found(),
    }
}
