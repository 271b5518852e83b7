//! Small HTTP and encoding helpers shared by the three listeners.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};

/// A boxed error, the error type of every response body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every response the devserver sends.
pub type RespBody = UnsyncBoxBody<Bytes, BoxError>;

/// A body holding `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> RespBody {
    UnsyncBoxBody::new(Full::new(bytes.into()).map_err(|never| match never {}))
}

/// An empty body.
pub fn empty() -> RespBody {
    full(Bytes::new())
}

/// A response with `status`, a `Content-Type` and `body`.
pub fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<RespBody> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<RespBody> {
    response(status, "application/json", value.to_string())
}

/// A JSON `{"detail": ...}` error response, the API's error shape.
pub fn detail(status: StatusCode, detail: impl Into<String>) -> Response<RespBody> {
    json(status, &serde_json::json!({ "detail": detail.into() }))
}

/// Reads a whole request body of at most `limit` bytes.
///
/// # Errors
/// A message when the body is larger than `limit` or the connection failed.
pub async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, String>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(format!("could not read the request body: {e}")),
    }
}

/// `n` random bytes as lower-case hex.
#[must_use]
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    if getrandom::fill(&mut buf).is_err() {
        // Extremely unlikely; fall back to a v4 UUID's randomness.
        for (i, b) in buf.iter_mut().enumerate() {
            *b = uuid::Uuid::new_v4().as_bytes()[i % 16];
        }
    }
    hex::encode(buf)
}

/// Decodes `%XX` escapes in a URL path. Returns `None` for a bad escape or
/// for bytes that are not UTF-8.
#[must_use]
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let h = bytes.get(i + 1..i + 3)?;
            let h = std::str::from_utf8(h).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Joins a decoded, `/`-separated relative path under `root`, refusing any
/// path that could leave it: `..` or `.` segments, backslashes, NUL bytes,
/// drive-like `:`. Empty segments (`a//b`) are skipped.
#[must_use]
pub fn safe_join(root: &Path, rel: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for seg in rel.split('/') {
        if seg.is_empty() {
            continue;
        }
        if seg == "." || seg == ".." || seg.contains(['\\', '\0', ':']) {
            return None;
        }
        path.push(seg);
    }
    Some(path)
}

/// The `Content-Type` for a file, by extension.
#[must_use]
pub fn mime_for(path: &Path) -> &'static str {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".d.ts") {
        return "application/typescript; charset=utf-8";
    }
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("wasm") => "application/wasm",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("ts") => "application/typescript; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("css") => "text/css; charset=utf-8",
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// URL-safe base64 without padding (how s3s-fs names its metadata files).
#[must_use]
pub fn base64_url_no_pad(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Fc").as_deref(), Some("a b/c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
    }

    #[test]
    fn safe_join_refuses_traversal() {
        let root = Path::new("/srv/www");
        assert_eq!(
            safe_join(root, "a/b.js"),
            Some(PathBuf::from("/srv/www/a/b.js"))
        );
        assert_eq!(safe_join(root, "//a"), Some(PathBuf::from("/srv/www/a")));
        for bad in [
            "../etc/passwd",
            "a/../../x",
            "a/./b",
            "a\\..\\b",
            "c:/x",
            "a\0b",
        ] {
            assert_eq!(safe_join(root, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn mime_types() {
        assert_eq!(mime_for(Path::new("x/app_bg.wasm")), "application/wasm");
        assert!(mime_for(Path::new("app.js")).starts_with("text/javascript"));
        assert!(mime_for(Path::new("app.d.ts")).starts_with("application/typescript"));
        assert_eq!(mime_for(Path::new("package.json")), "application/json");
        assert!(mime_for(Path::new("index.html")).starts_with("text/html"));
        assert!(mime_for(Path::new("s.css")).starts_with("text/css"));
        assert_eq!(mime_for(Path::new("i.png")), "image/png");
        assert_eq!(mime_for(Path::new("i.svg")), "image/svg+xml");
    }

    #[test]
    fn base64_url() {
        assert_eq!(base64_url_no_pad(b""), "");
        assert_eq!(base64_url_no_pad(b"f"), "Zg");
        assert_eq!(base64_url_no_pad(b"fo"), "Zm8");
        assert_eq!(base64_url_no_pad(b"foo"), "Zm9v");
        assert_eq!(base64_url_no_pad(&[0xfb, 0xff]), "-_8");
    }
}
