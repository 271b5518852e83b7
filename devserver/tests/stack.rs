//! End-to-end tests: the real stack started in-process on free ports, driven
//! over real HTTP (hyper's client, and a raw TCP client where the exact
//! connection behaviour matters).

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

mod common;

use bytes::Bytes;
use common::Resp;
use devserver::presign::Presigner;
use devserver::{Config, Running};
use http::{Method, Request, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ReqBody = UnsyncBoxBody<Bytes, BoxError>;

const PRESIGN: &str = "/api/v1/filemanagement/generate-presigned-upload-url/";
const VERIFY: &str = "/api/v1/filemanagement/verify-file-upload/";
const DELETE: &str = "/api/v1/filemanagement/delete-files/";
const DEPLOY: &str = "/api/v1/actions/deploy-file/";
const KEY: &str = "hx_test_key_123";

// ---- helpers ------------------------------------------------------------------

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let mut rnd = [0u8; 6];
        getrandom::fill(&mut rnd).unwrap();
        let p = std::env::temp_dir().join(format!("devserver-test-{tag}-{}", hex::encode(rnd)));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A body of `remaining` bytes of one value, produced in chunks without ever
/// holding it whole.
struct Repeat {
    chunk: Bytes,
    remaining: u64,
}

impl http_body::Body for Repeat {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(self.chunk.len() as u64);
        self.remaining -= n;
        let data = self.chunk.slice(..usize::try_from(n).unwrap());
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }
}

struct Stack {
    running: Running,
    client: Client<HttpConnector, ReqBody>,
}

impl Stack {
    async fn start(config: Config) -> Self {
        let running = devserver::start(config).await.expect("start");
        let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        Self { running, client }
    }

    async fn default() -> Self {
        Self::start(Config {
            api_key: Some(KEY.to_owned()),
            ..Config::ephemeral()
        })
        .await
    }

    fn s3(&self) -> &str {
        &self.running.info().s3_endpoint
    }
    fn api(&self) -> &str {
        &self.running.info().api_base
    }
    fn web(&self) -> &str {
        &self.running.info().web_base
    }

    async fn send_body(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: ReqBody,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let resp = self
            .client
            .request(b.body(body).unwrap())
            .await
            .expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes();
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Resp {
        let body = UnsyncBoxBody::new(Full::new(body.into()).map_err(|e| match e {}));
        self.send_body(method, url, headers, body).await
    }

    async fn api_post(&self, path: &str, body: &Value) -> Resp {
        let url = format!("{}{path}", self.api());
        self.send(
            Method::POST,
            &url,
            &[("authorization", KEY), ("content-type", "application/json")],
            body.to_string(),
        )
        .await
    }

    /// Presigns through the API and returns (url, file_uuid).
    async fn presign(&self, file_name: &str, content_type: &str) -> (String, String) {
        let r = self
            .api_post(
                PRESIGN,
                &json!({ "file_name": file_name, "content_type": content_type }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = r.json();
        assert_eq!(v["file_name"], file_name);
        (
            v["presigned_url"].as_str().unwrap().to_owned(),
            v["file_uuid"].as_str().unwrap().to_owned(),
        )
    }

    /// A PUT with its `Content-Length`, as browsers send it (also `0` for an empty body).
    async fn put(&self, url: &str, content_type: &str, data: &[u8]) -> Resp {
        self.send(
            Method::PUT,
            url,
            &[
                ("content-type", content_type),
                ("content-length", &data.len().to_string()),
                ("origin", "http://127.0.0.1:12345"),
            ],
            Bytes::copy_from_slice(data),
        )
        .await
    }

    /// Presigns and uploads `data`, returning the file uuid.
    async fn upload(&self, name: &str, data: &[u8]) -> String {
        let (url, uuid) = self.presign(name, "text/plain").await;
        let r = self.put(&url, "text/plain", data).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        uuid
    }

    /// Uploads and verifies, returning the file id and uuid.
    async fn upload_verified(&self, name: &str) -> (i64, String) {
        let uuid = self.upload(name, b"some bytes").await;
        let r = self.api_post(VERIFY, &json!({ "file_uuid": uuid })).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        (r.json()["id"].as_i64().unwrap(), uuid)
    }

    async fn dev_object(&self, key: &str) -> Value {
        let r = self
            .send(
                Method::GET,
                &format!("{}/__dev/object/{key}", self.web()),
                &[],
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        r.json()
    }

    async fn stats(&self) -> Value {
        self.send(Method::GET, &format!("{}/__dev/stats", self.web()), &[], "")
            .await
            .json()
    }
}

fn s3_code(xml: &str) -> &str {
    let start = xml.find("<Code>").map_or(0, |i| i + 6);
    let end = xml.find("</Code>").unwrap_or(start);
    &xml[start..end]
}

/// Replaces the last hex digit of the signature.
fn tamper(url: &str) -> String {
    let last = url.chars().last().unwrap();
    let swapped = if last == '0' { '1' } else { '0' };
    format!("{}{swapped}", &url[..url.len() - 1])
}

// ---- ready file and CLI-level config ---------------------------------------------

#[tokio::test]
async fn ready_file_has_every_field() {
    let dir = TempDir::new("ready");
    let ready = dir.path().join("ready.json");
    let stack = Stack::start(Config {
        ready_file: Some(ready.clone()),
        ..Config::ephemeral()
    })
    .await;
    let v: Value = serde_json::from_slice(&std::fs::read(&ready).unwrap()).unwrap();
    let info = stack.running.info();
    assert_eq!(v["s3_port"], info.s3_port);
    assert_eq!(v["api_port"], info.api_port);
    assert_eq!(v["web_port"], info.web_port);
    assert_ne!(info.s3_port, 0);
    assert_eq!(
        v["s3_endpoint"],
        format!("http://127.0.0.1:{}", info.s3_port)
    );
    assert_eq!(v["api_base"], format!("http://127.0.0.1:{}", info.api_port));
    assert_eq!(v["web_base"], format!("http://127.0.0.1:{}", info.web_port));
    assert_eq!(v["bucket"], "uploads");
    assert_eq!(v["region"], "us-east-1");
    assert_eq!(v["access_key_id"], devserver::DEV_ACCESS_KEY_ID);
    assert_eq!(v["secret_access_key"], devserver::DEV_SECRET_ACCESS_KEY);
    let key = v["api_key"].as_str().unwrap();
    let hex_part = key.strip_prefix("hx_dev_").expect("random key prefix");
    assert_eq!(hex_part.len(), 32);
    assert!(hex_part.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(v.as_object().unwrap().len(), 11);
    // No temporary file is left beside the ready file.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // The temporary data dir exists while running and is gone after shutdown.
    let data = stack.running.data_dir().to_path_buf();
    assert!(data.join("store/uploads").is_dir());
    stack.running.shutdown().await;
    assert!(!data.exists());
}

#[tokio::test]
async fn data_dir_is_kept_and_holds_objects() {
    let dir = TempDir::new("data");
    let stack = Stack::start(Config {
        api_key: Some(KEY.to_owned()),
        data_dir: Some(dir.path().to_path_buf()),
        bucket: "my-bucket".to_owned(),
        ..Config::ephemeral()
    })
    .await;
    let uuid = stack.upload("a.txt", b"kept").await;
    assert_eq!(
        std::fs::read(dir.path().join("store/my-bucket").join(&uuid)).unwrap(),
        b"kept"
    );
    stack.running.shutdown().await;
    assert!(dir.path().join("store/my-bucket").join(&uuid).exists());
}

// ---- S3 store -------------------------------------------------------------------------

#[tokio::test]
async fn presigned_put_stores_the_object() {
    let stack = Stack::default().await;
    let (url, uuid) = stack.presign("hello.txt", "text/plain").await;
    assert!(
        url.starts_with(&format!("{}/uploads/{uuid}?", stack.s3())),
        "{url}"
    );
    assert!(
        url.contains("X-Amz-SignedHeaders=content-type%3Bhost"),
        "{url}"
    );
    assert!(url.contains("X-Amz-Expires=10800"), "{url}");
    uuid::Uuid::parse_str(&uuid).expect("uuid");

    let data = b"hello, presigned world";
    let r = stack.put(&url, "text/plain", data).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let etag = r.header("etag").expect("ETag").to_owned();
    assert!(
        etag.len() == 34 && etag.starts_with('"') && etag.ends_with('"'),
        "{etag}"
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://127.0.0.1:12345")
    );
    assert!(r
        .header("access-control-expose-headers")
        .unwrap()
        .contains("ETag"));
    assert!(r.header("x-amz-request-id").is_some_and(|v| !v.is_empty()));

    let obj = stack.dev_object(&uuid).await;
    assert_eq!(obj["exists"], true);
    assert_eq!(obj["size"], data.len());
    assert_eq!(obj["sha256"], hex::encode(Sha256::digest(data)));

    // Readable through the S3 protocol too, with a presigned GET.
    let info = stack.running.info();
    let get = Presigner::new(
        &info.s3_endpoint,
        &info.bucket,
        &info.region,
        &info.access_key_id,
        &info.secret_access_key,
    )
    .unwrap()
    .get_object(&uuid, 60);
    let r = stack.send(Method::GET, &get, &[], "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(&r.body[..], data);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
}

#[tokio::test]
async fn tampered_signature_is_403_signature_does_not_match_with_cors() {
    let stack = Stack::default().await;
    let (url, uuid) = stack.presign("a.txt", "text/plain").await;
    let r = stack.put(&tamper(&url), "text/plain", b"data").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let xml = r.text();
    assert_eq!(s3_code(&xml), "SignatureDoesNotMatch", "{xml}");
    // Error responses still carry CORS headers for an allowed origin.
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://127.0.0.1:12345")
    );
    assert!(r
        .header("access-control-expose-headers")
        .unwrap()
        .contains("ETag"));
    // The request id is in the header and in the XML.
    let id = r.header("x-amz-request-id").unwrap();
    assert!(
        xml.contains(&format!("<RequestId>{id}</RequestId>")),
        "{xml}"
    );
    assert_eq!(stack.dev_object(&uuid).await["exists"], false);
}

#[tokio::test]
async fn content_type_other_than_signed_is_403() {
    let stack = Stack::default().await;
    let (url, uuid) = stack.presign("a.txt", "text/plain").await;
    let r = stack.put(&url, "application/octet-stream", b"data").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(s3_code(&r.text()), "SignatureDoesNotMatch");
    assert_eq!(stack.dev_object(&uuid).await["exists"], false);
}

#[tokio::test]
async fn expired_url_is_403_request_has_expired() {
    let stack = Stack::default().await;
    let r = stack
        .api_post(
            PRESIGN,
            &json!({ "file_name": "a.txt", "content_type": "text/plain", "expires_in": 1 }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let url = r.json()["presigned_url"].as_str().unwrap().to_owned();
    assert!(url.contains("X-Amz-Expires=1&"), "{url}");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let r = stack.put(&url, "text/plain", b"late").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let xml = r.text();
    assert!(xml.contains("<Code>AccessDenied</Code>"), "{xml}");
    assert!(
        xml.contains("<Message>Request has expired</Message>"),
        "{xml}"
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://127.0.0.1:12345")
    );
}

#[tokio::test]
async fn query_auth_plus_authorization_header_is_400_invalid_argument() {
    let stack = Stack::default().await;
    let (url, _) = stack.presign("a.txt", "text/plain").await;
    let r = stack
        .send(
            Method::PUT,
            &url,
            &[
                ("content-type", "text/plain"),
                ("authorization", "Bearer something"),
                ("origin", "http://localhost:3000"),
            ],
            "data",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let xml = r.text();
    assert_eq!(s3_code(&xml), "InvalidArgument", "{xml}");
    assert!(xml.contains("Only one auth mechanism allowed"), "{xml}");
    assert!(xml.contains("<RequestId>"), "{xml}");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let s = stack.stats().await;
    assert_eq!(s["store_put"], 1);
    assert_eq!(s["store_put_with_authorization"], 1);
}

/// Sends a raw HTTP/1.1 PUT with a `len`-byte body, then reads one response.
/// Fails if the server resets the connection before the whole body is sent.
async fn raw_put(
    addr: &str,
    path_and_query: &str,
    content_type: &str,
    len: usize,
) -> (tokio::net::TcpStream, String) {
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Origin: http://localhost:5\r\nContent-Length: {len}\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 256 * 1024];
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        sock.write_all(&chunk[..n])
            .await
            .unwrap_or_else(|e| panic!("connection failed after {sent} of {len} body bytes: {e}"));
        sent += n;
    }
    let response = read_response(&mut sock).await;
    (sock, response)
}

/// Reads one HTTP/1.1 response with a Content-Length body.
async fn read_response(sock: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                return String::from_utf8_lossy(&buf[..end + 4 + len]).into_owned();
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(60), sock.read(&mut tmp))
            .await
            .expect("response in time")
            .unwrap_or_else(|e| {
                panic!(
                    "reading the response failed: {e}; got so far: {:?}",
                    String::from_utf8_lossy(&buf)
                )
            });
        assert!(
            n > 0,
            "connection closed before a full response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&tmp[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn large_put_with_bad_signature_gets_the_403_not_a_reset() {
    let stack = Stack::default().await;
    let (url, _) = stack.presign("big.bin", "application/octet-stream").await;
    let url = tamper(&url);
    let addr = format!("127.0.0.1:{}", stack.running.info().s3_port);
    let path = url.split_once(&addr).unwrap().1.to_owned();
    let (mut sock, resp) =
        raw_put(&addr, &path, "application/octet-stream", 32 * 1024 * 1024).await;
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
    assert!(
        resp.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{resp}"
    );
    assert!(
        resp.to_ascii_lowercase()
            .contains("access-control-allow-origin: http://localhost:5"),
        "{resp}"
    );
    // The connection is still usable afterwards (keep-alive).
    sock.write_all(format!("GET /uploads/none HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let second = read_response(&mut sock).await;
    assert!(second.starts_with("HTTP/1.1 403"), "{second}");
}

#[tokio::test]
async fn large_put_streams_to_the_store() {
    let stack = Stack::default().await;
    let (url, uuid) = stack.presign("big.bin", "application/octet-stream").await;
    let len: u64 = 24 * 1024 * 1024;
    let body = UnsyncBoxBody::new(Repeat {
        chunk: Bytes::from(vec![7u8; 64 * 1024]),
        remaining: len,
    });
    let r = stack
        .send_body(
            Method::PUT,
            &url,
            &[
                ("content-type", "application/octet-stream"),
                ("content-length", &len.to_string()),
            ],
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let obj = stack.dev_object(&uuid).await;
    assert_eq!(obj["size"], len);
    let mut h = Sha256::new();
    let chunk = vec![7u8; 1024 * 1024];
    for _ in 0..24 {
        h.update(&chunk);
    }
    assert_eq!(obj["sha256"], hex::encode(h.finalize()));
}

#[tokio::test]
async fn store_cors_preflight() {
    let stack = Stack::start(Config {
        extra_origins: vec!["https://app.example".to_owned()],
        ..Config::ephemeral()
    })
    .await;
    let url = format!("{}/uploads/some-key", stack.s3());
    for origin in [
        "http://127.0.0.1:12345",
        "http://localhost:5",
        "http://[::1]:8000",
        "https://app.example",
    ] {
        let r = stack
            .send(
                Method::OPTIONS,
                &url,
                &[
                    ("origin", origin),
                    ("access-control-request-method", "PUT"),
                    ("access-control-request-headers", "content-type,x-custom"),
                ],
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{origin}: {}", r.text());
        assert_eq!(r.header("access-control-allow-origin"), Some(origin));
        let methods = r.header("access-control-allow-methods").unwrap();
        for m in ["GET", "PUT", "HEAD", "POST", "DELETE"] {
            assert!(methods.contains(m), "{methods}");
        }
        assert_eq!(
            r.header("access-control-allow-headers"),
            Some("content-type,x-custom")
        );
        assert!(r.header("access-control-max-age").is_some());
        assert!(r.header("vary").unwrap().contains("Origin"));
    }
    for (origin, method) in [
        ("http://evil.example", "PUT"),
        ("http://127.0.0.1.evil.example", "PUT"),
        ("http://localhost:5", "PATCH"),
    ] {
        let r = stack
            .send(
                Method::OPTIONS,
                &url,
                &[
                    ("origin", origin),
                    ("access-control-request-method", method),
                ],
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin} {method}");
        assert!(r.header("access-control-allow-origin").is_none());
        assert!(r.header("access-control-allow-methods").is_none());
    }
    // A real request from a refused origin gets no CORS headers either.
    let r = stack
        .send(Method::PUT, &url, &[("origin", "http://evil.example")], "x")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.header("access-control-allow-origin").is_none());
    let s = stack.stats().await;
    assert_eq!(s["store_options"], 7);
    assert_eq!(s["store_put"], 1);
}

// ---- API -------------------------------------------------------------------------------

#[tokio::test]
async fn api_requires_the_key() {
    let stack = Stack::default().await;
    let url = format!("{}{PRESIGN}", stack.api());
    let body = json!({ "file_name": "a" }).to_string();
    let r = stack.send(Method::POST, &url, &[], body.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.detail(), "Authentication credentials were not provided.");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let wrong = "hx_wrong_key_value";
    let r = stack
        .send(
            Method::POST,
            &url,
            &[("authorization", wrong)],
            body.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.detail(), "Invalid API key.");
    assert!(!r.text().contains(wrong));
    // A scheme in front of the key is not the key.
    let r = stack
        .send(
            Method::POST,
            &url,
            &[("authorization", &format!("Token {KEY}"))],
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!r.text().contains(KEY));
}

#[tokio::test]
async fn api_validates_bodies_paths_and_methods() {
    let stack = Stack::default().await;
    let url = format!("{}{PRESIGN}", stack.api());
    let auth = [("authorization", KEY)];
    let r = stack.send(Method::POST, &url, &auth, "{not json").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.detail().starts_with("Invalid JSON body: "),
        "{}",
        r.detail()
    );

    let r = stack
        .api_post(PRESIGN, &json!({ "content_type": "text/plain" }))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.detail().starts_with("file_name: "), "{}", r.detail());
    let r = stack.api_post(PRESIGN, &json!({ "file_name": 5 })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.detail().starts_with("file_name: "), "{}", r.detail());
    let r = stack.api_post(PRESIGN, &json!({ "file_name": "" })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.detail().starts_with("file_name: "), "{}", r.detail());
    let r = stack
        .api_post(PRESIGN, &json!({ "file_name": "a", "expires_in": 0 }))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.detail().starts_with("expires_in: "), "{}", r.detail());
    let r = stack
        .api_post(PRESIGN, &json!({ "file_name": "a", "expires_in": "60" }))
        .await;
    assert!(r.detail().starts_with("expires_in: "), "{}", r.detail());
    let r = stack
        .api_post(PRESIGN, &json!({ "file_name": "a", "content_type": 1 }))
        .await;
    assert!(r.detail().starts_with("content_type: "), "{}", r.detail());

    // Default content type.
    let r = stack
        .api_post(PRESIGN, &json!({ "file_name": "a.bin" }))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let url = r.json()["presigned_url"].as_str().unwrap().to_owned();
    let r = stack.put(&url, "application/octet-stream", b"x").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // Without the trailing slash: 404, even with a good key.
    let no_slash = format!("{}{}", stack.api(), PRESIGN.trim_end_matches('/'));
    let r = stack
        .send(
            Method::POST,
            &no_slash,
            &auth,
            json!({ "file_name": "a" }).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("content-type"), Some("application/json"));
    // Wrong method: 405.
    let r = stack
        .send(Method::GET, &format!("{}{PRESIGN}", stack.api()), &auth, "")
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn api_cors() {
    let stack = Stack::default().await;
    let url = format!("{}{PRESIGN}", stack.api());
    let r = stack
        .send(
            Method::OPTIONS,
            &url,
            &[
                ("origin", "http://localhost:4000"),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization,content-type",
                ),
            ],
            "",
        )
        .await;
    assert!(
        r.status == StatusCode::NO_CONTENT || r.status == StatusCode::OK,
        "{}",
        r.status
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:4000")
    );
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("authorization,content-type")
    );
    let r = stack
        .send(
            Method::OPTIONS,
            &url,
            &[
                ("origin", "http://evil.example"),
                ("access-control-request-method", "POST"),
            ],
            "",
        )
        .await;
    assert!(r.header("access-control-allow-origin").is_none());
    // Errors carry the CORS header too, so the page can read the 401.
    let r = stack
        .send(
            Method::POST,
            &url,
            &[("origin", "http://127.0.0.1:9")],
            "{}",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://127.0.0.1:9")
    );
}

#[tokio::test]
async fn api_no_cors_sends_no_cors_header_at_all() {
    let stack = Stack::start(Config {
        api_key: Some(KEY.to_owned()),
        api_no_cors: true,
        ..Config::ephemeral()
    })
    .await;
    let url = format!("{}{PRESIGN}", stack.api());
    let origin = ("origin", "http://localhost:4000");
    // The preflight is answered as by a server that knows nothing of CORS.
    let r = stack
        .send(
            Method::OPTIONS,
            &url,
            &[
                origin,
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization,content-type",
                ),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("allow").unwrap().contains("POST"));
    // Answers, successful or not, carry no CORS header, for a loopback origin too.
    let auth = [
        ("authorization", KEY),
        ("content-type", "application/json"),
        origin,
    ];
    let ok = stack
        .send(Method::POST, &url, &auth, r#"{"file_name": "a.txt"}"#)
        .await;
    let denied = stack.send(Method::POST, &url, &[origin], "{}").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    for r in [&r, &ok, &denied] {
        let cors: Vec<_> = r
            .headers
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .collect();
        assert!(cors.is_empty(), "CORS headers: {cors:?}");
    }
    // The web listener (the sample backend) keeps its CORS.
    let r = stack
        .send(
            Method::GET,
            &format!("{}/config.json", stack.web()),
            &[origin],
            "",
        )
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:4000")
    );
}

#[tokio::test]
async fn csp_path_serves_the_demo_under_the_strict_policy() {
    let root = TempDir::new("csp");
    let www = root.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(www.join("app.js"), "export {}").unwrap();
    std::fs::write(root.path().join("secret.txt"), "secret").unwrap();
    let stack = Stack::start(Config {
        api_key: Some(KEY.to_owned()),
        www_dir: www,
        ..Config::ephemeral()
    })
    .await;
    let info = stack.running.info();
    let want = format!(
        "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' {} {}",
        info.api_base, info.s3_endpoint
    );
    for path in ["/csp/", "/csp/index.html", "/csp/app.js"] {
        let r = stack
            .send(Method::GET, &format!("{}{path}", stack.web()), &[], "")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
        assert_eq!(
            r.header("content-security-policy"),
            Some(want.as_str()),
            "{path}"
        );
    }
    let r = stack
        .send(
            Method::GET,
            &format!("{}/csp/..%2fsecret.txt", stack.web()),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The same file without the prefix has no policy.
    let r = stack
        .send(Method::GET, &format!("{}/", stack.web()), &[], "")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-security-policy").is_none());
}

#[tokio::test]
async fn multipart_backend_signs_every_store_call_and_the_store_accepts_them() {
    // create (POST ?uploads), sign-part (UploadPart), the part PUT, list, complete
    // (POST ?uploadId=), and abort (DELETE ?uploadId=): every URL minted by rusty-s3 and
    // verified by the store.
    let stack = &Stack::default().await;
    let call = |name: &str, body: Value| {
        let url = format!("{}/backend/multipart/{name}", stack.web());
        async move {
            let r = stack
                .send(
                    Method::POST,
                    &url,
                    &[("content-type", "application/json")],
                    body.to_string(),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.text());
            r.json()
        }
    };
    let created = call("create", json!({ "file_name": "big.bin" })).await;
    let (upload_id, key) = (
        created["uploadId"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    );
    let parts: [&[u8]; 2] = [&[b'a'; 5 * 1024 * 1024], b"tail"];
    let mut done = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i + 1;
        let signed = call(
            "sign-part",
            json!({ "uploadId": upload_id, "key": key, "partNumber": n }),
        )
        .await;
        let url = signed["url"].as_str().unwrap();
        assert!(url.contains(&format!("partNumber={n}&uploadId=")), "{url}");
        let r = stack
            .send(Method::PUT, url, &[], Bytes::copy_from_slice(data))
            .await;
        assert_eq!(r.status, StatusCode::OK, "part {n}: {}", r.text());
        done.push(json!({ "partNumber": n, "etag": r.header("etag").unwrap() }));
    }
    let listed = call("list", json!({ "uploadId": upload_id, "key": key })).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    let completed = call(
        "complete",
        json!({ "uploadId": upload_id, "key": key, "parts": done }),
    )
    .await;
    assert_eq!(completed["file_uuid"], key.as_str());
    let obj = stack.dev_object(&key).await;
    assert_eq!(obj["size"], 5 * 1024 * 1024 + 4);

    let other = call("create", json!({ "file_name": "dropped.bin" })).await;
    call(
        "abort",
        json!({ "uploadId": other["uploadId"], "key": other["key"] }),
    )
    .await;
}

#[tokio::test]
async fn api_rate_limit() {
    let stack = Stack::start(Config {
        api_key: Some(KEY.to_owned()),
        rate_limit: Some("3/min".parse().unwrap()),
        ..Config::ephemeral()
    })
    .await;
    for _ in 0..3 {
        let r = stack.api_post(PRESIGN, &json!({ "file_name": "a" })).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    for _ in 0..2 {
        let r = stack.api_post(VERIFY, &json!({ "file_uuid": "x" })).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        let secs: u64 = r
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!((1..=60).contains(&secs), "{secs}");
        assert_eq!(
            r.detail(),
            format!("Request was throttled. Expected available in {secs} seconds.")
        );
    }
    let s = stack.stats().await;
    assert_eq!(s["api_429"], 2);
    assert_eq!(s["api_presign"], 3);
    assert_eq!(s["api_verify"], 2);
}

#[tokio::test]
async fn api_rate_limit_window_frees_slots() {
    let stack = Stack::start(Config {
        api_key: Some(KEY.to_owned()),
        rate_limit: Some("1/1s".parse().unwrap()),
        ..Config::ephemeral()
    })
    .await;
    assert_eq!(
        stack
            .api_post(PRESIGN, &json!({ "file_name": "a" }))
            .await
            .status,
        StatusCode::OK
    );
    let r = stack.api_post(PRESIGN, &json!({ "file_name": "a" })).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after"), Some("1"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        stack
            .api_post(PRESIGN, &json!({ "file_name": "a" }))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn verify_upload() {
    let stack = Stack::default().await;
    let data = b"verify me";
    let uuid = stack.upload("v.txt", data).await;
    let r = stack.api_post(VERIFY, &json!({ "file_uuid": uuid })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["id"], 1);
    assert_eq!(v["file_uuid"], uuid);
    assert_eq!(v["file_name"], "v.txt");
    assert_eq!(v["content_type"], "text/plain");
    assert_eq!(v["size"], data.len());
    assert_eq!(v["status"], "active");
    // Stable per uuid.
    let again = stack
        .api_post(VERIFY, &json!({ "file_uuid": uuid }))
        .await
        .json();
    assert_eq!(again["id"], 1);
    let other = stack.upload("w.txt", b"more").await;
    assert_eq!(
        stack
            .api_post(VERIFY, &json!({ "file_uuid": other }))
            .await
            .json()["id"],
        2
    );

    let r = stack
        .api_post(
            VERIFY,
            &json!({ "file_uuid": "00000000-0000-4000-8000-000000000000" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.detail(), "file_uuid: no such upload");

    let (_, not_uploaded) = stack.presign("n.txt", "text/plain").await;
    let r = stack
        .api_post(VERIFY, &json!({ "file_uuid": not_uploaded }))
        .await;
    assert!(r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::NOT_FOUND);
    assert!(r.detail().contains("not uploaded"), "{}", r.detail());

    let (url, empty) = stack.presign("e.txt", "text/plain").await;
    assert_eq!(
        stack.put(&url, "text/plain", b"").await.status,
        StatusCode::OK
    );
    let r = stack.api_post(VERIFY, &json!({ "file_uuid": empty })).await;
    assert!(r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::NOT_FOUND);
    assert!(r.detail().contains("not uploaded"), "{}", r.detail());

    let r = stack.api_post(VERIFY, &json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.detail().starts_with("file_uuid: "));
}

#[tokio::test]
async fn delete_files() {
    let stack = Stack::default().await;
    let (id, uuid) = stack.upload_verified("d.txt").await;
    assert_eq!(stack.dev_object(&uuid).await["exists"], true);

    let r = stack.api_post(DELETE, &json!({ "file_ids": [] })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.detail(), "file_ids: must not be empty");
    let r = stack
        .api_post(DELETE, &json!({ "file_ids": [id, 999] }))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.detail().contains("999"), "{}", r.detail());
    // Nothing was deleted by the refused call.
    assert_eq!(stack.dev_object(&uuid).await["exists"], true);
    let r = stack.api_post(DELETE, &json!({ "file_ids": ["1"] })).await;
    assert!(r.detail().starts_with("file_ids: "), "{}", r.detail());

    let r = stack.api_post(DELETE, &json!({ "file_ids": [id] })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({ "message": "Files are Deleted Successfully" })
    );
    assert_eq!(stack.dev_object(&uuid).await["exists"], false);
    // Deleting again: the id is no longer active.
    let r = stack.api_post(DELETE, &json!({ "file_ids": [id] })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.detail().contains(&id.to_string()));
}

#[tokio::test]
async fn deploy_file() {
    let stack = Stack::default().await;
    let (id, _) = stack.upload_verified("app.apk").await;
    let r = stack
        .api_post(
            DEPLOY,
            &json!({ "file_ids": [id], "file_path": "/sdcard/Download", "devices": [12] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({ "message": "Action Created" }));

    let r = stack
        .api_post(
            DEPLOY,
            &json!({ "file_ids": [id], "file_path": "/sdcard", "users": [], "usergroups": [], "devices": [], "devicegroups": [] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = stack
        .api_post(DEPLOY, &json!({ "file_ids": [id], "file_path": "/sdcard" }))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = stack
        .api_post(DEPLOY, &json!({ "file_ids": [id], "devices": [1] }))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.detail().starts_with("file_path: "), "{}", r.detail());
    let r = stack
        .api_post(
            DEPLOY,
            &json!({ "file_ids": [id], "file_path": "", "devices": [1] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = stack
        .api_post(
            DEPLOY,
            &json!({ "file_ids": [id], "file_path": "/x", "devices": "1" }),
        )
        .await;
    assert!(r.detail().starts_with("devices: "), "{}", r.detail());
    let r = stack
        .api_post(
            DEPLOY,
            &json!({ "file_ids": [42], "file_path": "/x", "devices": [1] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    assert_eq!(
        stack
            .api_post(DELETE, &json!({ "file_ids": [id] }))
            .await
            .status,
        StatusCode::OK
    );
    let r = stack
        .api_post(
            DEPLOY,
            &json!({ "file_ids": [id], "file_path": "/sdcard", "usergroups": [3] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.detail().contains(&id.to_string()), "{}", r.detail());
    assert_eq!(stack.stats().await["api_deploy"], 8);
}

// ---- web listener ------------------------------------------------------------------------

#[tokio::test]
async fn sample_backend_presign_and_verify() {
    let stack = Stack::default().await;
    let web = stack.web().to_owned();
    let r = stack
        .send(
            Method::POST,
            &format!("{web}/backend/presign"),
            &[
                ("content-type", "application/json"),
                ("origin", "http://localhost:5"),
            ],
            json!({ "file_name": "b.txt", "content_type": "text/plain" }).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5")
    );
    let v = r.json();
    let url = v["presigned_url"].as_str().unwrap().to_owned();
    let uuid = v["file_uuid"].as_str().unwrap().to_owned();
    assert_eq!(
        stack.put(&url, "text/plain", b"via backend").await.status,
        StatusCode::OK
    );
    let r = stack
        .send(
            Method::POST,
            &format!("{web}/backend/verify"),
            &[],
            json!({ "file_uuid": uuid }).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["size"], 11);
    assert_eq!(r.json()["status"], "active");
    // The API's errors come back as they are.
    let r = stack
        .send(Method::POST, &format!("{web}/backend/presign"), &[], "{}")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.detail().starts_with("file_name: "));
    let r = stack
        .send(
            Method::POST,
            &format!("{web}/backend/verify"),
            &[],
            json!({ "file_uuid": "nope" }).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let s = stack.stats().await;
    assert_eq!(s["backend_presign"], 2);
    assert_eq!(s["backend_verify"], 2);
    assert_eq!(s["api_presign"], 2);
    assert_eq!(s["api_verify"], 2);
    assert_eq!(s["store_put"], 1);

    let r = stack
        .send(Method::POST, &format!("{web}/__dev/stats/reset"), &[], "")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let s = stack.stats().await;
    assert!(s.as_object().unwrap().values().all(|v| v == 0), "{s}");
    assert_eq!(s.as_object().unwrap().len(), 19);
}

#[tokio::test]
async fn static_files_and_config() {
    let root = TempDir::new("static");
    let www = root.path().join("www");
    let pkg = root.path().join("pkg");
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(www.join("index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(www.join("sub/index.html"), "sub").unwrap();
    std::fs::write(www.join("app.css"), "body{}").unwrap();
    std::fs::write(www.join("logo.svg"), "<svg/>").unwrap();
    std::fs::write(root.path().join("secret.txt"), "secret").unwrap();
    std::fs::write(pkg.join("lib_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(pkg.join("lib.js"), "export {}").unwrap();
    std::fs::write(pkg.join("lib.d.ts"), "export {}").unwrap();
    std::fs::write(pkg.join("package.json"), "{}").unwrap();
    let stack = Stack::start(Config {
        api_key: Some(KEY.to_owned()),
        www_dir: www,
        pkg_dir: pkg,
        ..Config::ephemeral()
    })
    .await;
    let web = stack.web().to_owned();
    let get = |p: &str| format!("{web}{p}");

    let r = stack.send(Method::GET, &get("/"), &[], "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), "<h1>demo</h1>");
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(
        stack.send(Method::GET, &get("/sub/"), &[], "").await.text(),
        "sub"
    );
    for (path, mime) in [
        ("/app.css", "text/css"),
        ("/logo.svg", "image/svg+xml"),
        ("/pkg/lib_bg.wasm", "application/wasm"),
        ("/pkg/lib.js", "text/javascript"),
        ("/pkg/lib.d.ts", "application/typescript"),
        ("/pkg/package.json", "application/json"),
    ] {
        let r = stack.send(Method::GET, &get(path), &[], "").await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.header("content-type").unwrap().starts_with(mime),
            "{path}: {:?}",
            r.header("content-type")
        );
    }
    assert_eq!(
        &stack
            .send(Method::GET, &get("/pkg/lib_bg.wasm"), &[], "")
            .await
            .body[..],
        b"\0asm\x01\0\0\0"
    );
    for path in [
        "/missing.html",
        "/pkg/missing.js",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/pkg/..%2F..%2Fsecret.txt",
    ] {
        let r = stack.send(Method::GET, &get(path), &[], "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text().contains("secret"), "{path}");
    }
    // A raw request line with `..` is refused too (clients normalise it away).
    let addr = format!("127.0.0.1:{}", stack.running.info().web_port);
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    sock.write_all(format!("GET /../secret.txt HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let raw = read_response(&mut sock).await;
    assert!(raw.starts_with("HTTP/1.1 404"), "{raw}");

    let r = stack.send(Method::GET, &get("/config.json"), &[], "").await;
    assert_eq!(r.status, StatusCode::OK);
    let info = stack.running.info();
    assert_eq!(
        r.json(),
        json!({
            "api_base": info.api_base,
            "api_key": KEY,
            "s3_endpoint": info.s3_endpoint,
            "bucket": "uploads",
            "backend_presign": "/backend/presign",
            "backend_verify": "/backend/verify",
            "region": info.region,
            "access_key_id": info.access_key_id,
            "secret_access_key": info.secret_access_key,
        })
    );
}

#[tokio::test]
async fn dev_object_reports_missing_and_refuses_bad_keys() {
    let stack = Stack::default().await;
    let v = stack.dev_object("no-such-key").await;
    assert_eq!(v["exists"], false);
    assert_eq!(v["size"], 0);
    let r = stack
        .send(
            Method::GET,
            &format!("{}/__dev/object/..%2F..%2Fetc%2Fpasswd", stack.web()),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// Sends `head` (request line and headers, without the blank line) and `body` as they are.
async fn raw_request(addr: &str, head: &str, body: &[u8]) -> String {
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(format!("{head}\r\n\r\n").as_bytes()).await.unwrap();
    sock.write_all(body).await.unwrap();
    read_response(&mut sock).await
}

#[tokio::test]
async fn chunked_put_is_501_and_put_without_length_is_411_as_s3() {
    let stack = Stack::default().await;
    let (url, uuid) = stack.presign("c.bin", "application/octet-stream").await;
    let addr = format!("127.0.0.1:{}", stack.running.info().s3_port);
    let path = url.split_once(&addr).unwrap().1.to_owned();

    let chunked = raw_request(
        &addr,
        &format!("PUT {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked"),
        b"5\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert!(chunked.starts_with("HTTP/1.1 501"), "{chunked}");
    assert!(chunked.contains("<Code>NotImplemented</Code>"), "{chunked}");
    assert!(chunked.contains("x-amz-request-id"), "{chunked}");

    let no_length = raw_request(
        &addr,
        &format!("PUT {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream"),
        b"",
    )
    .await;
    assert!(no_length.starts_with("HTTP/1.1 411"), "{no_length}");
    assert!(no_length.contains("<Code>MissingContentLength</Code>"), "{no_length}");

    let s = stack.stats().await;
    assert_eq!(s["store_put"], 2);
    assert_eq!(s["store_put_refused_length"], 2);
    // Neither stored anything; the same URL with a length is accepted.
    let r = stack.put(&url, "application/octet-stream", b"hello").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(stack.dev_object(&uuid).await["size"], 5);
}
