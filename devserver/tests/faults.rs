//! Fault injection (`--faults`): the control endpoint, and every fault kind doing what it says,
//! driven over real HTTP (hyper's client, and raw TCP where the connection itself matters).

use std::time::{Duration, Instant};

mod common;

use bytes::Bytes;
use common::Resp;
use devserver::{Config, Running};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PRESIGN: &str = "/api/v1/filemanagement/generate-presigned-upload-url/";
const VERIFY: &str = "/api/v1/filemanagement/verify-file-upload/";
const KEY: &str = "hx_fault_test_key";
const ORIGIN: &str = "http://127.0.0.1:4567";

struct Stack {
    running: Running,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Stack {
    async fn start(faults: bool) -> Self {
        let running = devserver::start(Config {
            api_key: Some(KEY.to_owned()),
            faults,
            ..Config::ephemeral()
        })
        .await
        .expect("start");
        Self {
            running,
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    fn web(&self) -> String {
        self.running.info().web_base.clone()
    }
    fn api(&self) -> String {
        self.running.info().api_base.clone()
    }
    fn s3_addr(&self) -> String {
        format!("127.0.0.1:{}", self.running.info().s3_port)
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let resp = self
            .client
            .request(b.body(Full::new(body.into())).unwrap())
            .await
            .expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn script(&self, script: Value) -> Resp {
        self.send(
            Method::POST,
            &format!("{}/__faults", self.web()),
            &[("content-type", "application/json"), ("origin", ORIGIN)],
            script.to_string(),
        )
        .await
    }

    async fn arm(&self, script: Value) {
        let r = self.script(script).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }

    async fn faults(&self) -> Value {
        self.send(Method::GET, &format!("{}/__faults", self.web()), &[], "")
            .await
            .json()
    }

    async fn stats(&self) -> Value {
        self.send(Method::GET, &format!("{}/__dev/stats", self.web()), &[], "")
            .await
            .json()
    }

    async fn api_post(&self, path: &str, body: &Value) -> Resp {
        self.send(
            Method::POST,
            &format!("{}{path}", self.api()),
            &[
                ("authorization", KEY),
                ("content-type", "application/json"),
                ("origin", ORIGIN),
            ],
            body.to_string(),
        )
        .await
    }

    async fn presign(&self, name: &str) -> (String, String) {
        let r = self
            .api_post(
                PRESIGN,
                &json!({ "file_name": name, "content_type": "text/plain" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = r.json();
        (
            v["presigned_url"].as_str().unwrap().to_owned(),
            v["file_uuid"].as_str().unwrap().to_owned(),
        )
    }

    async fn put(&self, url: &str, data: &'static [u8]) -> Resp {
        self.send(
            Method::PUT,
            url,
            &[("content-type", "text/plain"), ("origin", ORIGIN)],
            data,
        )
        .await
    }

    async fn stored(&self, uuid: &str) -> bool {
        self.send(
            Method::GET,
            &format!("{}/__dev/object/{uuid}", self.web()),
            &[],
            "",
        )
        .await
        .json()["exists"]
            == true
    }
}

fn s3_code(xml: &str) -> &str {
    let start = xml.find("<Code>").map_or(0, |i| i + 6);
    let end = xml.find("</Code>").unwrap_or(start);
    &xml[start..end]
}

// ---- the control endpoint --------------------------------------------------------------------

#[tokio::test]
async fn without_the_flag_the_endpoint_is_404_and_nothing_is_faulted() {
    let stack = Stack::start(false).await;
    for method in [Method::GET, Method::POST, Method::DELETE] {
        let r = stack
            .send(
                method.clone(),
                &format!("{}/__faults", stack.web()),
                &[],
                json!({"match": "api", "status": 500}).to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}");
    }
    let (url, _) = stack.presign("a.txt").await;
    assert_eq!(stack.put(&url, b"abc").await.status, StatusCode::OK);
    assert_eq!(stack.stats().await["faults_fired"], 0);
}

#[tokio::test]
async fn scripts_are_validated_shown_replaced_and_cleared_with_cors_for_loopback_pages() {
    let stack = Stack::start(true).await;
    let r = stack
        .script(json!({"match": "store_put", "status": 503, "tims": 2}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("tims"),
        "{}",
        r.text()
    );
    let r = stack
        .send(
            Method::POST,
            &format!("{}/__faults", stack.web()),
            &[("content-type", "application/json")],
            "{nope",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = stack.script(json!([{"match": "store_put", "times": 2, "status": 503}, {"match": VERIFY, "delay_ms": 10}])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    let v = r.json();
    assert_eq!(v["enabled"], true);
    assert_eq!(v["rules"][0]["remaining"], 2);
    assert_eq!(v["rules"][1]["match"], VERIFY);
    assert_eq!(v["random"], Value::Null);

    // Posting replaces the script.
    stack.arm(json!({"random": {"rate": 0.5, "seed": 3}})).await;
    let v = stack.faults().await;
    assert_eq!(v["rules"].as_array().unwrap().len(), 0);
    assert_eq!(v["random"]["seed"], 3);
    assert_eq!(v["random"]["targets"], json!(["store_put", "api"]));

    let r = stack
        .send(
            Method::DELETE,
            &format!("{}/__faults", stack.web()),
            &[("origin", ORIGIN)],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.json()["random"], Value::Null);

    // A page on another loopback port may call it (preflight allows POST and DELETE).
    let r = stack
        .send(
            Method::OPTIONS,
            &format!("{}/__faults", stack.web()),
            &[
                ("origin", ORIGIN),
                ("access-control-request-method", "DELETE"),
                ("access-control-request-headers", "content-type"),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("DELETE"));
    let r = stack
        .send(Method::PUT, &format!("{}/__faults", stack.web()), &[], "")
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

// ---- the store -------------------------------------------------------------------------------

#[tokio::test]
async fn store_status_answers_s3_xml_with_cors_then_the_store_works_again() {
    let stack = Stack::start(true).await;
    let (url, uuid) = stack.presign("s.txt").await;
    stack.arm(json!({"match": "store_put", "times": 2, "status": 503, "s3_code": "SlowDown", "retry_after": 2})).await;
    for _ in 0..2 {
        let r = stack.put(&url, b"hello").await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        let xml = r.text();
        assert_eq!(s3_code(&xml), "SlowDown", "{xml}");
        assert!(
            xml.contains("<Message>Please reduce your request rate.</Message>"),
            "{xml}"
        );
        assert!(xml.contains("<RequestId>"), "{xml}");
        assert_eq!(r.header("retry-after"), Some("2"));
        assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
        assert!(r.header("x-amz-request-id").is_some());
        assert!(!stack.stored(&uuid).await, "a faulted PUT stores nothing");
    }
    assert_eq!(stack.put(&url, b"hello").await.status, StatusCode::OK);
    assert!(stack.stored(&uuid).await);
    let s = stack.stats().await;
    assert_eq!(s["store_put"], 3);
    assert_eq!(s["fault_status"], 2);
    assert_eq!(s["faults_fired"], 2);
    let v = stack.faults().await;
    assert_eq!(v["fired"]["status"], 2);
    assert_eq!(v["rules"][0]["remaining"], 0);
    let log = v["log"].as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["target"], "store_put");
    assert_eq!(log[0]["key"], uuid.as_str());
    assert_eq!(log[0]["status"], 503);
    assert_eq!(log[0]["kinds"], json!(["status"]));

    // Other statuses get S3's usual code, or the one given, and messages may echo the request.
    stack.arm(json!([
        {"match": "store_put", "status": 500},
        {"match": "store_put", "status": 403, "s3_code": "SignatureDoesNotMatch", "message": "saw {url}"}
    ]))
    .await;
    let r = stack.put(&url, b"x").await;
    assert_eq!(
        (r.status, s3_code(&r.text())),
        (StatusCode::INTERNAL_SERVER_ERROR, "InternalError")
    );
    let r = stack.put(&url, b"x").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(s3_code(&r.text()), "SignatureDoesNotMatch");
    assert!(
        r.text().contains("X-Amz-Signature="),
        "{{url}} is echoed: {}",
        r.text()
    );
}

#[tokio::test]
async fn store_expire_answers_like_s3_for_an_expired_url() {
    let stack = Stack::start(true).await;
    let (url, uuid) = stack.presign("e.txt").await;
    stack
        .arm(json!({"match": "store_put", "expire": true}))
        .await;
    let r = stack.put(&url, b"late").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let xml = r.text();
    assert_eq!(s3_code(&xml), "AccessDenied");
    assert!(
        xml.contains("<Message>Request has expired</Message>"),
        "{xml}"
    );
    assert!(
        xml.contains("<X-Amz-Expires>10800</X-Amz-Expires>"),
        "{xml}"
    );
    assert!(
        xml.contains("<ServerTime>") && xml.contains("<RequestId>"),
        "{xml}"
    );
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(!stack.stored(&uuid).await);
    assert_eq!(stack.put(&url, b"late").await.status, StatusCode::OK);
    assert_eq!(stack.stats().await["fault_expire"], 1);
}

/// Sends a raw PUT of `len` bytes and returns what came back before the connection ended, and
/// how it ended (`Err` with the kind of a reset).
async fn raw_put_until_closed(
    addr: &str,
    path: &str,
    len: usize,
) -> (Vec<u8>, Result<(), std::io::ErrorKind>) {
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\nOrigin: {ORIGIN}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    let mut ended = Ok(());
    while sent < len {
        let n = chunk.len().min(len - sent);
        if let Err(e) = sock.write_all(&chunk[..n]).await {
            ended = Err(e.kind());
            break;
        }
        sent += n;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), sock.read(&mut buf))
            .await
            .expect("no hang")
        {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => {
                ended = Err(e.kind());
                break;
            }
        }
    }
    (got, ended)
}

#[tokio::test]
async fn store_reset_drops_the_connection_mid_body_without_any_answer() {
    let stack = Stack::start(true).await;
    let (url, uuid) = stack.presign("r.txt").await;
    let path = url.split_once(&stack.s3_addr()).unwrap().1.to_owned();
    stack
        .arm(json!({"match": "store_put", "times": 2, "reset": true}))
        .await;
    // A large body: the server stops reading part way and resets.
    let (got, ended) = raw_put_until_closed(&stack.s3_addr(), &path, 8 * 1024 * 1024).await;
    assert!(
        got.is_empty(),
        "no response bytes at all: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(ended, Err(std::io::ErrorKind::ConnectionReset));
    // A small body too.
    let (got, ended) = raw_put_until_closed(&stack.s3_addr(), &path, 100).await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert_eq!(ended, Err(std::io::ErrorKind::ConnectionReset));
    assert!(!stack.stored(&uuid).await);
    // The next PUT goes through.
    let (got, _) = raw_put_until_closed(&stack.s3_addr(), &path, 100).await;
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let s = stack.stats().await;
    assert_eq!(
        (s["fault_reset"].as_u64(), s["store_put"].as_u64()),
        (Some(2), Some(3))
    );
}

#[tokio::test]
async fn while_a_reset_is_armed_connections_are_not_kept_alive() {
    let stack = Stack::start(true).await;
    let (url, _) = stack.presign("k.txt").await;
    assert_eq!(stack.put(&url, b"1").await.header("connection"), None);
    stack.arm(json!({"match": "api", "reset": true})).await;
    assert_eq!(
        stack.put(&url, b"1").await.header("connection"),
        Some("close")
    );
    stack.arm(json!({"match": "api", "status": 500})).await;
    assert_eq!(stack.put(&url, b"1").await.header("connection"), None);
    stack
        .arm(json!({"random": {"rate": 0.0001, "kinds": ["reset"], "targets": ["backend"]}}))
        .await;
    assert_eq!(
        stack.put(&url, b"1").await.header("connection"),
        Some("close")
    );
}

#[tokio::test]
async fn delay_slows_the_answer_then_goes_on() {
    let stack = Stack::start(true).await;
    let (url, uuid) = stack.presign("d.txt").await;
    stack
        .arm(json!({"match": "store_put", "delay_ms": 400}))
        .await;
    let t = Instant::now();
    assert_eq!(stack.put(&url, b"slow").await.status, StatusCode::OK);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    assert!(stack.stored(&uuid).await);
    let t = Instant::now();
    assert_eq!(stack.put(&url, b"slow").await.status, StatusCode::OK);
    assert!(t.elapsed() < Duration::from_millis(400));
    // Combined with an effect: the delay, then the error.
    stack
        .arm(json!({"match": VERIFY, "delay_ms": 300, "status": 500}))
        .await;
    let t = Instant::now();
    let r = stack.api_post(VERIFY, &json!({"file_uuid": uuid})).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let s = stack.stats().await;
    assert_eq!(
        (
            s["fault_delay"].as_u64(),
            s["fault_status"].as_u64(),
            s["faults_fired"].as_u64()
        ),
        (Some(2), Some(1), Some(2))
    );
}

#[tokio::test]
async fn no_cors_answers_for_real_but_without_cors_headers_and_the_preflight_still_passes() {
    let stack = Stack::start(true).await;
    let (url, uuid) = stack.presign("c.txt").await;
    stack.arm(json!([{"match": "store_put", "no_cors": true}, {"match": "store_put", "status": 403, "no_cors": true}])).await;
    let pre = stack
        .send(
            Method::OPTIONS,
            &url,
            &[
                ("origin", ORIGIN),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "content-type"),
            ],
            "",
        )
        .await;
    assert_eq!(pre.header("access-control-allow-origin"), Some(ORIGIN));
    let r = stack.put(&url, b"real").await;
    assert_eq!(r.status, StatusCode::OK, "the real answer");
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("access-control-expose-headers"), None);
    assert!(stack.stored(&uuid).await, "the PUT really happened");
    let r = stack.put(&url, b"real").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(
        stack
            .put(&url, b"real")
            .await
            .header("access-control-allow-origin"),
        Some(ORIGIN)
    );
    assert_eq!(stack.stats().await["fault_no_cors"], 2);
}

// ---- the API and the backend -----------------------------------------------------------------

#[tokio::test]
async fn api_statuses_are_hexnode_json_and_are_counted_and_logged() {
    let stack = Stack::start(true).await;
    let (url, uuid) = stack.presign("v.txt").await;
    assert_eq!(stack.put(&url, b"data").await.status, StatusCode::OK);
    stack
        .arm(json!([
            {"match": PRESIGN, "status": 429, "retry_after": 3},
            {"match": PRESIGN, "status": 401},
            {"match": VERIFY, "times": 2, "status": 500},
            {"match": "api", "status": 403, "message": "key {authorization} refused"}
        ]))
        .await;
    let r = stack
        .api_post(PRESIGN, &json!({"file_name": "t.txt"}))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.json()["detail"],
        "Request was throttled. Expected available in 3 seconds."
    );
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    let r = stack
        .api_post(PRESIGN, &json!({"file_name": "t.txt"}))
        .await;
    assert_eq!(
        (r.status, r.json()["detail"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("Invalid API key."))
    );
    for _ in 0..2 {
        let r = stack.api_post(VERIFY, &json!({"file_uuid": uuid})).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.json()["detail"].is_string());
    }
    let r = stack.api_post(VERIFY, &json!({"file_uuid": uuid})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.json()["detail"],
        format!("key {KEY} refused"),
        "{{authorization}} is echoed"
    );
    let r = stack.api_post(VERIFY, &json!({"file_uuid": uuid})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Faulted calls count as calls.
    let s = stack.stats().await;
    assert_eq!(
        (s["api_presign"].as_u64(), s["api_verify"].as_u64()),
        (Some(3), Some(4))
    );
    assert_eq!(s["fault_status"], 5);
    let log = stack.faults().await["log"].as_array().unwrap().clone();
    assert_eq!(log.len(), 5);
    assert_eq!(log[0]["target"], PRESIGN);
    assert_eq!(log[0]["file_name"], "t.txt");
    assert_eq!(log[2]["target"], VERIFY);
    assert_eq!(log[2]["file_uuid"], uuid.as_str());
}

#[tokio::test]
async fn bad_json_answers_200_with_html_or_cut_json() {
    let stack = Stack::start(true).await;
    stack.arm(json!([{"match": PRESIGN, "bad_json": "html"}, {"match": PRESIGN, "bad_json": "truncated"}])).await;
    let r = stack
        .api_post(PRESIGN, &json!({"file_name": "h.txt"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text().starts_with("<!DOCTYPE html>"));
    let r = stack
        .api_post(PRESIGN, &json!({"file_name": "h.txt"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(
        serde_json::from_slice::<Value>(&r.body).is_err(),
        "cut short: {}",
        r.text()
    );
    assert_eq!(stack.stats().await["fault_bad_json"], 2);
    stack.presign("fine.txt").await;
}

#[tokio::test]
async fn api_reset_and_no_cors_and_backend_paths() {
    let stack = Stack::start(true).await;
    stack
        .arm(json!([
            {"match": PRESIGN, "reset": true},
            {"match": "api", "no_cors": true},
            {"match": "/backend/presign", "status": 502}
        ]))
        .await;
    // A reset API call: the client sees the connection drop, no answer.
    let r = stack
        .client
        .request(
            Request::post(format!("{}{PRESIGN}", stack.api()))
                .header("authorization", KEY)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(
                    json!({"file_name": "x"}).to_string(),
                )))
                .unwrap(),
        )
        .await;
    assert!(r.is_err(), "no answer to a reset call");
    // no_cors: the real answer without CORS headers.
    let r = stack
        .api_post(
            PRESIGN,
            &json!({"file_name": "n.txt", "content_type": "text/plain"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json()["presigned_url"].is_string());
    assert_eq!(r.header("access-control-allow-origin"), None);
    // The sample backend.
    let r = stack
        .send(
            Method::POST,
            &format!("{}/backend/presign", stack.web()),
            &[("origin", ORIGIN)],
            json!({"file_name": "b.txt"}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.json()["detail"], "Bad gateway.");
    let s = stack.stats().await;
    assert_eq!(s["backend_presign"], 1);
    assert_eq!(
        (
            s["fault_reset"].as_u64(),
            s["fault_no_cors"].as_u64(),
            s["fault_status"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
}

#[tokio::test]
async fn random_mode_faults_its_targets_at_its_rate() {
    let stack = Stack::start(true).await;
    let (url, _) = stack.presign("rnd.txt").await;
    stack.arm(json!({"random": {"rate": 1.0, "seed": 9, "kinds": ["status", "expire"], "targets": ["store_put"]}})).await;
    for _ in 0..6 {
        let r = stack.put(&url, b"r").await;
        assert!(
            r.status == StatusCode::FORBIDDEN || r.status.is_server_error(),
            "{}",
            r.status
        );
    }
    // API calls are not a target here.
    stack.presign("other.txt").await;
    let v = stack.faults().await;
    assert_eq!(v["log"].as_array().unwrap().len(), 6);
    assert!(v["log"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["source"] == "random"));
    assert_eq!(
        v["fired"]["status"].as_u64().unwrap() + v["fired"]["expire"].as_u64().unwrap(),
        6
    );
    stack.arm(json!({"random": {"rate": 0.0, "seed": 9}})).await;
    assert_eq!(stack.put(&url, b"r").await.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_json_answers_a_204_true_or_a_json_string() {
    let stack = Stack::start(true).await;
    stack
        .arm(json!([
            {"match": VERIFY, "bad_json": "empty"},
            {"match": VERIFY, "bad_json": "true"},
            {"match": VERIFY, "bad_json": "string"}
        ]))
        .await;
    for (status, body) in [
        (StatusCode::NO_CONTENT, ""),
        (StatusCode::OK, "true"),
        (StatusCode::OK, "\"ok\""),
    ] {
        let r = stack.api_post(VERIFY, &json!({"file_uuid": "x"})).await;
        assert_eq!((r.status, r.text().as_str()), (status, body));
        assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    }
    assert_eq!(stack.stats().await["fault_bad_json"], 3);
    let r = stack
        .script(json!({"match": VERIFY, "bad_json": "maybe"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("bad_json"), "{}", r.text());
}

/// A preflight to the store from `origin` for `method` with `headers`.
async fn preflight(stack: &Stack, url: &str, origin: &str, method: &str, headers: &str) -> Resp {
    let mut h = vec![
        ("origin", origin),
        ("access-control-request-method", method),
    ];
    if !headers.is_empty() {
        h.push(("access-control-request-headers", headers));
    }
    stack.send(Method::OPTIONS, url, &h, "").await
}

fn no_cors_header(r: &Resp, what: &str) {
    let cors: Vec<_> = r
        .headers
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{what}: {cors:?}");
}

/// `POST /__cors` with S3's CORS JSON.
async fn set_cors(stack: &Stack, rules: Value) -> Resp {
    stack
        .send(
            Method::POST,
            &format!("{}/__cors", stack.web()),
            &[("content-type", "application/json")],
            rules.to_string(),
        )
        .await
}

#[tokio::test]
async fn bucket_cors_rules_apply_to_every_method_preflight_and_error_as_s3_does() {
    let stack = Stack::start(true).await;
    let s3 = format!("http://{}", stack.s3_addr());
    let (url, uuid) = stack.presign("cors.txt").await;
    // No rule for this origin: nothing carries CORS headers, preflight, GET / and errors
    // included; the PUT itself still works for a client that does not enforce CORS.
    let r = set_cors(&stack, json!([{"AllowedOrigins": ["https://other.example"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"]}])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["rules"], 1);
    let r = preflight(&stack, &url, ORIGIN, "PUT", "content-type").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(s3_code(&r.text()), "AccessForbidden");
    no_cors_header(&r, "preflight from an origin outside the rules");
    let r = stack
        .send(Method::GET, &format!("{s3}/"), &[("origin", ORIGIN)], "")
        .await;
    no_cors_header(&r, "GET /");
    let r = stack.put(&format!("{url}x"), b"bad signature").await;
    assert!(r.status.is_client_error(), "{}", r.status);
    no_cors_header(&r, "an error answer");
    let r = stack.put(&url, b"hello").await;
    assert_eq!(r.status, StatusCode::OK);
    no_cors_header(&r, "a success answer");
    assert!(stack.stored(&uuid).await);

    // A rule for the origin that lacks PUT, then one that lacks the content-type header.
    set_cors(&stack, json!([{"AllowedOrigins": [ORIGIN], "AllowedMethods": ["GET", "POST"], "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]}])).await;
    let r = preflight(&stack, &url, ORIGIN, "PUT", "content-type").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    no_cors_header(&r, "preflight for a method outside the rule");
    let r = preflight(&stack, &url, ORIGIN, "GET", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(r.header("access-control-allow-methods"), Some("GET, POST"));
    let r = stack
        .send(Method::GET, &format!("{s3}/"), &[("origin", ORIGIN)], "")
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some(ORIGIN),
        "GET is in the rule"
    );
    let r = stack.put(&url, b"hello").await;
    no_cors_header(&r, "a PUT outside the rule");
    set_cors(&stack, json!({"CORSRules": [{"AllowedOrigins": ["http://127.0.0.1:*"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["x-amz-*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 60}]})).await;
    let r = preflight(&stack, &url, ORIGIN, "PUT", "content-type").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    no_cors_header(&r, "preflight for a header outside the rule");
    let r = preflight(&stack, &url, ORIGIN, "PUT", "x-amz-date").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("access-control-max-age"), Some("60"));
    assert_eq!(r.header("access-control-allow-headers"), Some("x-amz-date"));
    let r = stack.put(&url, b"hello").await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some(ORIGIN),
        "the actual PUT is matched on origin and method only"
    );
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));

    // Bad rules are refused naming the field; DELETE goes back to the default.
    let r = set_cors(
        &stack,
        json!([{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text().contains("CORSRules[0].AllowedMethods[0]"),
        "{}",
        r.text()
    );
    let r = stack
        .send(Method::DELETE, &format!("{}/__cors", stack.web()), &[], "")
        .await;
    assert_eq!(r.json()["rules"], Value::Null);
    let r = preflight(&stack, &url, ORIGIN, "DELETE", "content-type,x-custom").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("ETag, x-amz-request-id")
    );
}

#[tokio::test]
async fn the_cors_control_is_404_without_faults() {
    let stack = Stack::start(false).await;
    let r = stack
        .send(
            Method::POST,
            &format!("{}/__cors", stack.web()),
            &[("content-type", "application/json")],
            "[]",
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// `POST /backend/multipart/{what}` with a JSON body.
async fn mp(stack: &Stack, what: &str, body: &Value) -> Resp {
    stack
        .send(
            Method::POST,
            &format!("{}/backend/multipart/{what}", stack.web()),
            &[("content-type", "application/json"), ("origin", ORIGIN)],
            body.to_string(),
        )
        .await
}

/// Signs and PUTs one part; gives its ETag.
async fn put_part(stack: &Stack, id: &Value, n: u64, data: Vec<u8>) -> String {
    let mut req = id.clone();
    req["partNumber"] = json!(n);
    req["size"] = json!(data.len());
    let r = mp(stack, "sign-part", &req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let url = r.json()["url"].as_str().unwrap().to_owned();
    let r = stack
        .send(Method::PUT, &url, &[("origin", ORIGIN)], data)
        .await;
    assert_eq!(r.status, StatusCode::OK, "part {n}: {}", r.text());
    assert!(r
        .header("access-control-expose-headers")
        .unwrap_or("")
        .contains("ETag"));
    r.header("etag").expect("ETag").to_owned()
}

async fn in_progress(stack: &Stack) -> Vec<String> {
    let v = stack
        .send(
            Method::GET,
            &format!("{}/__dev/multipart", stack.web()),
            &[],
            "",
        )
        .await
        .json();
    v["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["uploadId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_sample_backends_multipart_endpoints_create_sign_list_complete_and_abort() {
    let stack = Stack::start(true).await;
    let r = mp(
        &stack,
        "create",
        &json!({"file_name": "big.bin", "content_type": "application/octet-stream"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let created = r.json();
    let (upload_id, key) = (
        created["uploadId"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    );
    let id = json!({"uploadId": upload_id, "key": key});
    assert!(in_progress(&stack).await.contains(&upload_id));
    let first = vec![7u8; 5 * 1024 * 1024];
    let e1 = put_part(&stack, &id, 1, first.clone()).await;
    let e2 = put_part(&stack, &id, 2, b"tail".to_vec()).await;
    let r = mp(&stack, "list", &id).await;
    let listed = r.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    assert_eq!(
        (listed[0]["partNumber"].clone(), listed[0]["size"].clone()),
        (json!(1), json!(5 * 1024 * 1024))
    );
    assert_eq!(
        listed[1]["etag"].as_str().map(|e| e.trim_matches('"')),
        Some(e2.trim_matches('"'))
    );
    // A 200 to CompleteMultipartUpload that carries an <Error>: the backend does not take it
    // for a success.
    stack
        .arm(json!({"match": "store_complete", "status": 200, "s3_code": "InternalError"}))
        .await;
    let parts = json!([{"partNumber": 1, "etag": e1}, {"partNumber": 2, "etag": e2}]);
    let mut done = id.clone();
    done["parts"] = parts;
    let r = mp(&stack, "complete", &done).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text());
    assert!(r.text().contains("InternalError"), "{}", r.text());
    let log = stack.faults().await["log"].clone();
    assert_eq!(
        (log[0]["target"].as_str(), log[0]["status"].as_u64()),
        (Some("store_complete"), Some(200))
    );
    assert!(
        in_progress(&stack).await.contains(&upload_id),
        "the failed complete left the upload"
    );
    // Then it completes: the object holds both parts.
    let r = mp(&stack, "complete", &done).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["file_uuid"], key.as_str());
    assert!(!in_progress(&stack).await.contains(&upload_id));
    let obj = stack
        .send(
            Method::GET,
            &format!("{}/__dev/object/{key}", stack.web()),
            &[],
            "",
        )
        .await
        .json();
    assert_eq!(obj["size"], json!(first.len() + 4));

    // Abort drops an upload and its parts; a second abort of it fails.
    let created = mp(&stack, "create", &json!({"file_name": "gone.bin"}))
        .await
        .json();
    let id = json!({"uploadId": created["uploadId"], "key": created["key"]});
    put_part(&stack, &id, 1, b"part".to_vec()).await;
    let r = mp(&stack, "abort", &id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(!in_progress(&stack)
        .await
        .contains(&created["uploadId"].as_str().unwrap().to_owned()));
    assert!(mp(&stack, "abort", &id).await.status.is_client_error());
    // Bad bodies name the field.
    let r = mp(&stack, "complete", &json!({"uploadId": "x", "key": "y"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let counters = stack
        .send(
            Method::GET,
            &format!("{}/__dev/multipart", stack.web()),
            &[],
            "",
        )
        .await
        .json()["counters"]
        .clone();
    assert_eq!(
        (
            counters["create"].as_u64(),
            counters["complete"].as_u64(),
            counters["abort"].as_u64()
        ),
        (Some(2), Some(3), Some(2)),
        "{counters}"
    );
}

#[tokio::test]
async fn random_mode_at_a_middle_rate_faults_about_that_share_and_only_its_targets() {
    let stack = Stack::start(true).await;
    let (url, _) = stack.presign("mid.txt").await;
    // rate 0.3 over 200 PUTs: the seeded PRNG gives the same draws every run; a fair coin
    // of p = 0.3 lands in 40..=80 (3 standard deviations) with probability about 0.998.
    stack.arm(json!({"random": {"rate": 0.3, "seed": 11, "kinds": ["status"], "targets": ["store_put"]}})).await;
    let mut failed = 0;
    for _ in 0..200 {
        let r = stack.put(&url, b"m").await;
        if r.status != StatusCode::OK {
            assert!(
                r.status.is_server_error()
                    || r.status == StatusCode::TOO_MANY_REQUESTS
                    || r.status.is_client_error(),
                "{}",
                r.status
            );
            failed += 1;
        }
    }
    assert!(
        (40..=80).contains(&failed),
        "{failed} of 200 faulted at rate 0.3"
    );
    let v = stack.faults().await;
    assert_eq!(
        v["log"].as_array().unwrap().len(),
        failed,
        "every fault is logged"
    );
    assert_eq!(v["fired"]["status"].as_u64(), Some(failed as u64));
    // API calls are not a target: none faulted.
    for i in 0..20 {
        stack.presign(&format!("api{i}.txt")).await;
    }
    assert_eq!(
        stack.faults().await["log"].as_array().unwrap().len(),
        failed
    );
    // The same seed gives the same faults again.
    stack.arm(json!({"random": {"rate": 0.3, "seed": 11, "kinds": ["status"], "targets": ["store_put"]}})).await;
    let mut again = 0;
    for _ in 0..200 {
        if stack.put(&url, b"m").await.status != StatusCode::OK {
            again += 1;
        }
    }
    assert_eq!(again, failed, "seeded: the same count");
}
