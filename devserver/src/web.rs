//! The web listener: the demo's static files, the built wasm package, the
//! demo's config, a sample backend that holds the API key, and `/__dev/*`
//! endpoints for tests.
//!
//! | path | what |
//! | --- | --- |
//! | `GET /`, `GET /<file>` | files from `--www` (`index.html` for a directory) |
//! | `GET /pkg/<file>` | files from `--pkg` |
//! | `GET /config.json` | API base, key, S3 endpoint, bucket, backend paths |
//! | `POST /backend/presign` | forwards `{file_name, content_type?, expires_in?}` to the API with the key |
//! | `POST /backend/verify` | forwards `{file_uuid}` to the API with the key |
//! | `GET /__dev/stats` | request counters |
//! | `POST /__dev/stats/reset` | zeroes the counters |
//! | `GET /__dev/object/<key>` | `{"exists", "size", "sha256"}` of a stored object |

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ALLOW, AUTHORIZATION,
    CACHE_CONTROL, CONTENT_TYPE, ORIGIN, RETRY_AFTER, VARY,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::api::{self, MAX_BODY, PRESIGN_PATH, VERIFY_PATH};
use crate::stats::bump;
use crate::util::{self, detail, RespBody};
use crate::App;

/// Path of the sample backend's presign endpoint.
pub const BACKEND_PRESIGN_PATH: &str = "/backend/presign";
/// Path of the sample backend's verify endpoint.
pub const BACKEND_VERIFY_PATH: &str = "/backend/verify";
/// Methods the web listener's CORS preflight allows.
pub const CORS_ALLOWED_METHODS: &str = "GET, POST, HEAD, OPTIONS";

/// Answers one request to the web listener.
pub(crate) async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<RespBody> {
    let allowed_origin = req
        .headers()
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| app.origins.allows(o))
        .map(str::to_owned);
    if req.method() == Method::OPTIONS {
        return api::preflight(&req, allowed_origin.as_deref(), CORS_ALLOWED_METHODS);
    }
    let mut resp = route(&app, req).await;
    if let Some(origin) = allowed_origin {
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&origin) {
            h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        h.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
        );
        h.append(VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

fn method_not_allowed(allow: &'static str) -> Response<RespBody> {
    let mut resp = detail(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

async fn route(app: &App, req: Request<Incoming>) -> Response<RespBody> {
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
                    "backend_presign": BACKEND_PRESIGN_PATH,
                    "backend_verify": BACKEND_VERIFY_PATH,
                }),
            );
            resp.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        BACKEND_PRESIGN_PATH if method == Method::POST => {
            bump(&app.stats.backend_presign);
            forward(app, req, PRESIGN_PATH).await
        }
        BACKEND_VERIFY_PATH if method == Method::POST => {
            bump(&app.stats.backend_verify);
            forward(app, req, VERIFY_PATH).await
        }
        "/__dev/stats" if is_get => util::json(StatusCode::OK, &app.stats.snapshot()),
        "/__dev/stats/reset" if method == Method::POST => {
            app.stats.reset();
            util::json(StatusCode::OK, &app.stats.snapshot())
        }
        "/config.json" | "/__dev/stats" => method_not_allowed("GET, HEAD, OPTIONS"),
        BACKEND_PRESIGN_PATH | BACKEND_VERIFY_PATH | "/__dev/stats/reset" => {
            method_not_allowed("POST, OPTIONS")
        }
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
            } else {
                serve_file(&app.www_dir, p).await
            }
        }
    }
}

/// Forwards a JSON body to the API with the key, returning the API's status
/// and body unchanged.
async fn forward(app: &App, req: Request<Incoming>, api_path: &str) -> Response<RespBody> {
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
