//! The fault matrix: one browser test per failure that stores, APIs and networks really produce,
//! injected by the devserver (`--faults`, `POST /__faults`). Each test asserts the outcome AND
//! the requests that were made (the devserver's counters), and clears its faults at the end.
//! Then: no error message, `toString()` or console line ever shows a secret.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use js_sys::{Array, Function, Promise};
use presigned_upload::bindings::{put_file, HexnodeClient, Uploader};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PRESIGN: &str = "/api/v1/filemanagement/generate-presigned-upload-url/";
const VERIFY: &str = "/api/v1/filemanagement/verify-file-upload/";
/// Retries of the fast policy every test uses (so `retries + 1` attempts).
const RETRIES: u32 = 3;

/// `retry: {retries: 3, minDelayMs: 10, maxDelayMs: 50}` plus `extra` fields.
fn fast_retry(extra: &[(&str, JsValue)]) -> JsValue {
    let mut fields: Vec<(&str, JsValue)> = vec![("retries", RETRIES.into()), ("minDelayMs", 10.into()), ("maxDelayMs", 50.into())];
    fields.extend(extra.iter().cloned());
    o(&fields)
}

/// A Hexnode client on the main devserver, without the client-side limiter, with fast retries.
async fn hexnode(retry: JsValue) -> HexnodeClient {
    let c = config().await;
    HexnodeClient::new(o(&[("portal", c.api_base.into()), ("apiKey", c.api_key.into()), ("rateLimitPerMinute", 0.into()), ("retry", retry)]).unchecked_into())
        .unwrap_or_else(|e| panic!("constructor threw {}", describe(&e)))
}

async fn client() -> HexnodeClient {
    hexnode(fast_retry(&[])).await
}

fn opts(fields: &[(&str, JsValue)]) -> Option<presigned_upload::bindings::UploadOptions> {
    Some(o(fields).unchecked_into())
}

/// Awaits a promise made by [`timed`]: (ok, value or error, page time it settled at).
async fn settle_timed(timed_promise: Promise) -> (bool, JsValue, f64) {
    let r = ok(timed_promise).await;
    let is_ok = get(&r, "ok").as_bool().unwrap_or(false);
    (is_ok, get(&r, if is_ok { "value" } else { "error" }), get_num(&r, "at"))
}

/// Checks that the store holds exactly `f`'s bytes under the result's uuid.
async fn assert_stored(result: &JsValue, f: &web_sys::Blob) {
    let (exists, size, sha) = object(&get_str(result, "fileUuid")).await;
    assert!(exists, "the object is stored");
    assert_eq!(size, f.size());
    assert_eq!(sha, sha256_hex(f).await, "the store holds exactly the file's bytes");
}

// ---------------------------------------------------------------- the store

#[wasm_bindgen_test]
async fn store_503_slowdown_twice_succeeds_on_the_third_attempt() {
    let client = client().await;
    for transport in ["fetch", "xhr"] {
        arm(r#"{"match": "store_put", "times": 2, "status": 503, "s3_code": "SlowDown"}"#).await;
        let before = Counts::now().await;
        let f = file(3000, "slow.txt", "text/plain");
        let r = ok(client.upload(f.clone().into(), opts(&[("transport", transport.into())]))).await;
        assert_eq!(get_num(&r, "attempts"), 3.0, "{transport}");
        assert_eq!(get(&r, "verified").as_bool(), Some(true));
        assert_eq!(before.grew_all(&["store_put", "fault_status", "api_presign", "api_verify"]).await, vec![3.0, 2.0, 1.0, 1.0], "{transport}");
        assert_stored(&r, &f).await;
    }
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn store_500_on_every_attempt_rejects_upload_rejected_retryable_and_never_verifies() {
    let client = client().await;
    arm(&format!(r#"{{"match": "store_put", "times": {}, "status": 500}}"#, RETRIES + 1)).await;
    let before = Counts::now().await;
    let e = fails_with(client.upload(file(2000, "down.txt", "text/plain").into(), None), "upload_rejected").await;
    assert_eq!(get(&e, "retryable").as_bool(), Some(true));
    assert_eq!(get_num(&e, "status"), 500.0);
    assert_eq!(get_str(&e, "s3Code"), "InternalError");
    assert!(get(&e, "requestId").as_string().is_some_and(|r| !r.is_empty()));
    sleep_ms(100).await;
    assert_eq!(before.grew_all(&["store_put", "fault_status", "api_verify"]).await, vec![f64::from(RETRIES + 1), f64::from(RETRIES + 1), 0.0]);
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn a_connection_reset_mid_body_is_retried_and_succeeds() {
    let client = client().await;
    for transport in ["fetch", "xhr"] {
        arm(r#"{"match": "store_put", "reset": true}"#).await;
        let before = Counts::now().await;
        // 2 MiB: the devserver reads 64 KiB, then resets while the browser is still sending.
        let f = file(2 * 1024 * 1024, "reset.bin", "application/octet-stream");
        let r = ok(client.upload(f.clone().into(), opts(&[("transport", transport.into())]))).await;
        assert_eq!(before.grew_all(&["fault_reset", "store_put", "api_verify"]).await, vec![1.0, 2.0, 1.0], "{transport}");
        assert_eq!(get_num(&r, "attempts"), 2.0, "{transport}: the package saw the reset and retried (not the browser)");
        assert_stored(&r, &f).await;
    }
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn a_403_request_has_expired_gets_a_fresh_url_then_succeeds() {
    let client = client().await;
    arm(r#"{"match": "store_put", "expire": true}"#).await;
    let before = Counts::now().await;
    let f = file(500, "expired.txt", "text/plain");
    let r = ok(client.upload(f.clone().into(), None)).await;
    assert_eq!(before.grew_all(&["fault_expire", "api_presign", "store_put", "api_verify"]).await, vec![1.0, 2.0, 2.0, 1.0], "one more presign, then the PUT");
    assert_eq!(get_num(&r, "attempts"), 2.0);
    let log = get(&fault_state().await, "log").unchecked_into::<Array>();
    let expired_uuid = get_str(&log.get(0), "key");
    assert_ne!(expired_uuid, get_str(&r, "fileUuid"), "the upload finished under the fresh URL's uuid");
    assert!(!object(&expired_uuid).await.0, "nothing was stored under the expired URL");
    assert_stored(&r, &f).await;
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn an_expired_url_is_replaced_before_any_put_is_sent() {
    clear_faults().await;
    // The first presigned URL lives 1 s: already expired by the package's safety margin.
    let presign = counting_presign("__expiry_calls", r#"{"expires_in": 1}"#, &[1]);
    let up = Uploader::new(o(&[("presign", presign.into()), ("verify", format!("{}/backend/verify", web_base()).into()), ("credentials", "omit".into())]).unchecked_into()).unwrap();
    let before = Counts::now().await;
    let f = blob(100, "text/plain");
    let r = ok(up.upload(f.clone().into(), opts(&[("fileName", "late.txt".into())]))).await;
    assert_eq!(global_num("__expiry_calls"), 2.0, "a fresh URL was asked for");
    assert_eq!(before.grew_all(&["store_put", "backend_verify", "faults_fired"]).await, vec![1.0, 1.0, 0.0], "no PUT went out with the expired URL");
    assert_eq!(get_num(&r, "attempts"), 1.0);
    assert_eq!(get(&r, "verified").as_bool(), Some(true));
    assert_stored(&r, &f).await;
}

#[wasm_bindgen_test]
async fn a_403_signature_does_not_match_rejects_at_once() {
    let client = client().await;
    arm(r#"{"match": "store_put", "status": 403, "s3_code": "SignatureDoesNotMatch"}"#).await;
    let before = Counts::now().await;
    let e = fails_with(client.upload(file(100, "sig.txt", "text/plain").into(), None), "upload_rejected").await;
    assert_eq!(get_str(&e, "s3Code"), "SignatureDoesNotMatch");
    assert_eq!(get_num(&e, "status"), 403.0);
    assert_eq!(get(&e, "retryable").as_bool(), Some(false));
    assert!(get_str(&e, "message").contains("Content-Type"), "{}", describe(&e));
    sleep_ms(100).await;
    assert_eq!(before.grew_all(&["store_put", "api_presign", "api_verify"]).await, vec![1.0, 1.0, 0.0], "one PUT, no refresh, no verify");
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn no_cors_on_the_store_error_rejects_cors_with_the_advice_without_hanging() {
    let client = client().await;
    for transport in ["fetch", "xhr"] {
        arm(&format!(r#"{{"match": "store_put", "times": {}, "status": 403, "no_cors": true}}"#, RETRIES + 1)).await;
        let before = Counts::now().await;
        let t = now();
        let e = fails_with(client.upload(file(100, "cors.txt", "text/plain").into(), opts(&[("transport", transport.into())])), "cors").await;
        assert!(now() - t < 10_000.0, "{transport}: took {} ms", now() - t);
        let m = get_str(&e, "message");
        assert!(m.contains("ExposeHeaders") && m.contains("AllowedOrigins"), "{transport}: {m}");
        assert_eq!(before.grew_all(&["store_put", "fault_no_cors", "api_verify"]).await, vec![f64::from(RETRIES + 1), f64::from(RETRIES + 1), 0.0], "{transport}");
    }
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn a_reset_after_readable_answers_is_network_not_cors() {
    // The store's 503s were readable, so its CORS is fine: the last attempt's reset is the
    // network's fault, even though the store is reachable.
    let client = client().await;
    arm(&format!(r#"[{{"match": "store_put", "times": {RETRIES}, "status": 503}}, {{"match": "store_put", "reset": true}}]"#)).await;
    let before = Counts::now().await;
    let e = fails_with(client.upload(file(64 * 1024, "flaky.bin", "application/octet-stream").into(), None), "network").await;
    assert_eq!(get(&e, "retryable").as_bool(), Some(true));
    assert_eq!(before.grew_all(&["store_put", "fault_status", "fault_reset", "api_verify"]).await, vec![f64::from(RETRIES + 1), f64::from(RETRIES), 1.0, 0.0]);
    clear_faults().await;
}

// ---------------------------------------------------------------- the API

#[wasm_bindgen_test]
async fn an_api_429_with_retry_after_1_is_waited_out() {
    let client = client().await;
    for path in [PRESIGN, VERIFY] {
        arm(&format!(r#"{{"match": "{path}", "status": 429, "retry_after": 1}}"#)).await;
        let before = Counts::now().await;
        let t = now();
        ok(client.upload(file(100, "throttled.txt", "text/plain").into(), None)).await;
        let took = now() - t;
        // At least the second asked for; the upper bound only catches a hang (a loaded machine
        // may be slow, never early).
        assert!((950.0..15_000.0).contains(&took), "{path}: waited {took} ms for Retry-After: 1");
        let counter = if path == PRESIGN { "api_presign" } else { "api_verify" };
        assert_eq!(before.grew_all(&[counter, "fault_status", "store_put"]).await, vec![2.0, 1.0, 1.0], "{path}");
    }
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn an_api_401_rejects_unauthorized_without_any_put() {
    let client = client().await;
    arm(&format!(r#"{{"match": "{PRESIGN}", "status": 401}}"#)).await;
    let before = Counts::now().await;
    let e = fails_with(client.upload(file(100, "key.txt", "text/plain").into(), None), "unauthorized").await;
    assert_eq!(get_num(&e, "status"), 401.0);
    assert_eq!(get(&e, "retryable").as_bool(), Some(false));
    assert!(get_str(&e, "message").contains("Invalid API key."), "quotes the detail: {}", describe(&e));
    assert_eq!(before.grew_all(&["api_presign", "store_put", "api_verify"]).await, vec![1.0, 0.0, 0.0]);
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn an_api_200_with_an_html_page_fails_at_once_as_bad_response() {
    let client = client().await;
    // An HTML page (a login page, a proxy) comes back the same on a retry: one presign, no PUT.
    arm(&format!(r#"{{"match": "{PRESIGN}", "bad_json": "html"}}"#)).await;
    let before = Counts::now().await;
    let e = fails_with(client.upload(file(100, "html.txt", "text/plain").into(), None), "bad_response").await;
    assert!(get_str(&e, "message").contains("an HTML page: a proxy or a login page?"), "{}", describe(&e));
    assert_eq!(get(&e, "retryable").as_bool(), Some(false));
    assert_eq!(before.grew_all(&["api_presign", "fault_bad_json", "store_put", "api_verify"]).await, vec![1.0, 1.0, 0.0, 0.0]);
    // The same on verify: one verify call, and the file is not reported uploaded.
    arm(&format!(r#"{{"match": "{VERIFY}", "bad_json": "html"}}"#)).await;
    let before = Counts::now().await;
    let e = fails_with(client.upload(file(100, "html.txt", "text/plain").into(), None), "verify_failed").await;
    assert!(get_str(&e, "message").contains("an HTML page"), "{}", describe(&e));
    assert_eq!(before.grew_all(&["api_presign", "store_put", "api_verify"]).await, vec![1.0, 1.0, 1.0]);
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn an_api_200_with_cut_json_is_retried_like_a_network_error() {
    let client = client().await;
    // Cut once on presign and once on verify: both retried, the upload goes through.
    arm(&format!(r#"[{{"match": "{PRESIGN}", "bad_json": "truncated"}}, {{"match": "{VERIFY}", "bad_json": "truncated"}}]"#)).await;
    let before = Counts::now().await;
    let f = file(100, "cut.txt", "text/plain");
    let r = ok(client.upload(f.clone().into(), None)).await;
    assert_eq!(get(&r, "verified").as_bool(), Some(true));
    assert_stored(&r, &f).await;
    assert_eq!(before.grew_all(&["api_presign", "api_verify", "store_put", "fault_bad_json"]).await, vec![2.0, 2.0, 1.0, 2.0]);
    // Cut on every attempt: `network` after retries + 1 presigns, and no PUT.
    arm(&format!(r#"{{"match": "{PRESIGN}", "times": {}, "bad_json": "truncated"}}"#, RETRIES + 1)).await;
    let before = Counts::now().await;
    let e = fails_with(client.upload(file(100, "cut.txt", "text/plain").into(), None), "network").await;
    assert!(get_str(&e, "message").contains("cut off"), "{}", describe(&e));
    assert_eq!(before.grew_all(&["api_presign", "store_put"]).await, vec![f64::from(RETRIES + 1), 0.0]);
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn verify_404_or_500_rejects_verify_failed_and_never_resolves_as_uploaded() {
    let client = client().await;
    for (status, times) in [(404, 1), (500, RETRIES + 1)] {
        arm(&format!(r#"{{"match": "{VERIFY}", "times": {times}, "status": {status}}}"#)).await;
        let before = Counts::now().await;
        let log = Array::new();
        let on_progress: Function = js_fn("log", "return (p) => log.push(p.phase + ':' + p.loaded + '/' + p.total);").call1(&JsValue::NULL, &log).unwrap().unchecked_into();
        let e = fails_with(client.upload(file(100, "verify.txt", "text/plain").into(), opts(&[("onProgress", on_progress.into())])), "verify_failed").await;
        assert_eq!(get_num(&e, "status"), f64::from(status));
        assert_eq!(get(&e, "retryable").as_bool(), Some(status == 500));
        assert_eq!(before.grew_all(&["store_put", "api_verify"]).await, vec![1.0, f64::from(times)], "{status}");
        let events: Vec<String> = log.iter().filter_map(|v| v.as_string()).collect();
        assert!(events.contains(&"verify:0/1".to_owned()), "{events:?}");
        assert!(!events.contains(&"verify:1/1".to_owned()), "verify never completed: {events:?}");
    }
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn a_verify_2xx_with_an_empty_body_or_json_that_is_not_an_object_counts_as_verified() {
    let web = web_base();
    let hexnode = client().await;
    let backend = Uploader::new(
        o(&[("presign", format!("{web}/backend/presign").into()), ("verify", format!("{web}/backend/verify").into()), ("retry", fast_retry(&[]))]).unchecked_into(),
    )
    .unwrap();
    for (kind, raw) in [("empty", JsValue::NULL), ("true", JsValue::TRUE), ("string", JsValue::from_str("ok"))] {
        for (via, path, counter) in [("hexnode", VERIFY, "api_verify"), ("backend", "/backend/verify", "backend_verify")] {
            arm(&format!(r#"{{"match": "{path}", "bad_json": "{kind}"}}"#)).await;
            let before = Counts::now().await;
            let f = file(100, "verified.txt", "text/plain");
            let p = if via == "hexnode" { hexnode.upload(f.clone().into(), None) } else { backend.upload(f.clone().into(), None) };
            let r = ok(p).await;
            assert_eq!(get(&r, "verified").as_bool(), Some(true), "{kind} via {via}");
            assert!(js_sys::Object::is(&get(&r, "verify"), &raw), "{kind} via {via}: verify is {:?}", get(&r, "verify"));
            assert!(get(&r, "fileId").is_undefined(), "{kind} via {via}: no id in the answer");
            assert_eq!(before.grew_all(&["store_put", counter, "fault_bad_json"]).await, vec![1.0, 1.0, 1.0], "{kind} via {via}");
            assert_stored(&r, &f).await;
        }
    }
    // A 2xx with an HTML page is not a verification: the file was sent, verifying it failed.
    arm(&format!(r#"{{"match": "{VERIFY}", "bad_json": "html"}}"#)).await;
    let e = fails_with(hexnode.upload(file(100, "verified.txt", "text/plain").into(), None), "verify_failed").await;
    assert!(get_str(&e, "message").contains("HTML"), "{}", describe(&e));
    clear_faults().await;
}

const DELETE: &str = "/api/v1/filemanagement/delete-files/";
const DEPLOY: &str = "/api/v1/actions/deploy-file/";

#[wasm_bindgen_test]
async fn delete_and_deploy_errors_get_the_codes_the_readme_table_names() {
    let client = client().await;
    let r = ok(client.upload(file(20, "codes.txt", "text/plain").into(), None)).await;
    let ids: JsValue = Array::of1(&get(&r, "fileId")).into();
    let deploy_req = || o(&[("fileIds", ids.clone()), ("filePath", "/sdcard/Download".into()), ("devices", Array::of1(&5.into()).into())]);
    // (status, times, code): a 5xx still failing after the retries is `server_error`, a refusal
    // of the input `invalid_input` naming the field, never `bad_response`. (408 is pinned by the
    // host tests: Chromium itself resends a request answered 408 on a reused connection.)
    for (status, times, code) in [(500, RETRIES + 1, "server_error"), (503, RETRIES + 1, "server_error"), (404, 1, "invalid_input"), (400, 1, "invalid_input")] {
        for (path, counter) in [(DELETE, "api_delete"), (DEPLOY, "api_deploy")] {
            arm(&format!(r#"{{"match": "{path}", "times": {times}, "status": {status}, "retry_after": 0}}"#)).await;
            let before = Counts::now().await;
            let p = if path == DELETE { client.delete_files(ids.clone()) } else { client.deploy_file(deploy_req().unchecked_into()) };
            let e = fails_with(p, code).await;
            assert_eq!(get_num(&e, "status"), f64::from(status), "{path} {status}: {}", describe(&e));
            assert_eq!(before.grew(counter).await, f64::from(times), "{path} {status}: retried as the policy says");
            if code == "invalid_input" {
                assert!(get_str(&e, "message").starts_with("fileIds"), "{path} {status}: names the field: {}", describe(&e));
            }
        }
    }
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn a_verify_answering_401_403_or_429_after_the_put_keeps_its_code() {
    let no_retry = hexnode(o(&[("retries", 0.into())])).await;
    for (status, code) in [(401, "unauthorized"), (403, "forbidden"), (429, "rate_limited")] {
        arm(&format!(r#"{{"match": "{VERIFY}", "status": {status}, "retry_after": 0}}"#)).await;
        let before = Counts::now().await;
        let e = fails_with(no_retry.upload(file(10, "verify-code.txt", "text/plain").into(), None), code).await;
        assert_eq!(get_num(&e, "status"), f64::from(status));
        assert_eq!(before.grew_all(&["store_put", "api_verify"]).await, vec![1.0, 1.0], "{status}: the PUT landed, then verify failed");
    }
    clear_faults().await;
}

// ---------------------------------------------------------------- abort and timeouts

/// Aborts `ctl` and returns how long after the abort (page time) `p` settled, and its error.
async fn abort_and_time(ctl: &web_sys::AbortController, p: Promise) -> (f64, JsValue) {
    let watched = timed(p);
    let t = now();
    ctl.abort();
    let (is_ok, e, at) = settle_timed(watched).await;
    assert!(!is_ok, "an aborted upload must reject: {:?} after {} ms", js_sys::JSON::stringify(&e), at - t);
    (at - t, e)
}

#[wasm_bindgen_test]
async fn abort_during_the_put_rejects_at_once_and_never_verifies() {
    let client = client().await;
    for transport in ["fetch", "xhr"] {
        arm(r#"{"match": "store_put", "delay_ms": 4000}"#).await;
        let before = Counts::now().await;
        let ctl = web_sys::AbortController::new().unwrap();
        let p = client.upload(file(256 * 1024, "abort.bin", "application/octet-stream").into(), opts(&[("signal", ctl.signal().into()), ("transport", transport.into())]));
        assert!(wait_until(5000.0, || async { before.grew("store_put").await >= 1.0 }).await, "the PUT reached the store");
        sleep_ms(50).await;
        let (took, e) = abort_and_time(&ctl, p).await;
        assert_eq!(get_str(&e, "code"), "aborted", "{transport}: {}", describe(&e));
        assert!(took < 1000.0, "{transport}: rejected {took} ms after the abort");
        assert_eq!(before.grew_all(&["store_put", "api_verify"]).await, vec![1.0, 0.0], "{transport}");
    }
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn abort_during_a_retry_wait_rejects_at_once() {
    let client = hexnode(o(&[("retries", 3.into()), ("minDelayMs", 5000.into()), ("maxDelayMs", 5000.into())])).await;
    arm(r#"{"match": "store_put", "status": 503, "s3_code": "SlowDown"}"#).await;
    let before = Counts::now().await;
    let ctl = web_sys::AbortController::new().unwrap();
    let p = client.upload(file(100, "wait.txt", "text/plain").into(), opts(&[("signal", ctl.signal().into())]));
    assert!(wait_until(5000.0, || async { before.grew("fault_status").await >= 1.0 }).await, "the first PUT got its 503");
    sleep_ms(200).await;
    let (took, e) = abort_and_time(&ctl, p).await;
    assert_eq!(get_str(&e, "code"), "aborted", "{}", describe(&e));
    assert!(took < 1000.0, "rejected {took} ms after the abort");
    assert_eq!(before.grew_all(&["store_put", "api_verify"]).await, vec![1.0, 0.0], "no second PUT after the abort");
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn abort_during_verify_rejects_at_once() {
    let client = client().await;
    arm(&format!(r#"{{"match": "{VERIFY}", "delay_ms": 4000}}"#)).await;
    let before = Counts::now().await;
    let ctl = web_sys::AbortController::new().unwrap();
    let p = client.upload(file(100, "verify-abort.txt", "text/plain").into(), opts(&[("signal", ctl.signal().into())]));
    assert!(wait_until(5000.0, || async { before.grew("api_verify").await >= 1.0 }).await, "verify reached the API");
    sleep_ms(50).await;
    let (took, e) = abort_and_time(&ctl, p).await;
    assert_eq!(get_str(&e, "code"), "aborted", "{}", describe(&e));
    assert!(took < 1000.0, "rejected {took} ms after the abort");
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn a_delay_longer_than_the_timeout_rejects_network_without_hanging() {
    // 300 ms per attempt, 2 attempts: the store (then the API) answers only after 10 s, so
    // anything under 8 s proves the timeouts fired (about 0.7 s; 8 s leaves room for a loaded
    // machine).
    let client = hexnode(o(&[("retries", 1.into()), ("minDelayMs", 10.into()), ("maxDelayMs", 50.into()), ("timeoutMs", 300.into())])).await;
    for (target, counter) in [("store_put", "store_put"), (PRESIGN, "api_presign")] {
        arm(&format!(r#"{{"match": "{target}", "times": 2, "delay_ms": 10000}}"#)).await;
        let before = Counts::now().await;
        let t = now();
        let e = fails_with(client.upload(file(100, "timeout.txt", "text/plain").into(), None), "network").await;
        let took = now() - t;
        assert!(took < 8000.0, "{target}: gave up after {took} ms");
        assert!(get_str(&e, "message").contains("timed out"), "{target}: {}", describe(&e));
        assert_eq!(get(&e, "retryable").as_bool(), Some(true));
        assert_eq!(before.grew(counter).await, 2.0, "{target}: two attempts");
        assert_eq!(before.grew("api_verify").await, 0.0);
    }
    clear_faults().await;
}

// ---------------------------------------------------------------- no secret leaks

/// Wraps `console.log/info/warn/error/debug` so that every line is also kept in the returned
/// array; the function restores them.
fn capture_console() -> (Array, Function) {
    let lines = Array::new();
    let restore: Function = js_fn(
        "lines",
        "const names = ['log', 'info', 'warn', 'error', 'debug']; const orig = {};
         for (const n of names) { orig[n] = console[n]; console[n] = function (...a) { lines.push(a.map(x => { try { return typeof x === 'string' ? x : String(x) + ' ' + JSON.stringify(x); } catch (_) { return String(x); } }).join(' ')); return orig[n].apply(this, a); }; }
         return () => { for (const n of names) console[n] = orig[n]; };",
    )
    .call1(&JsValue::NULL, &lines)
    .unwrap()
    .unchecked_into();
    (lines, restore)
}

/// Keeps every presigned URL the API hands out in this page (read from a copy of the answer),
/// and every URL with a session token that the page sends.
fn capture_presigned_urls() -> (Array, Function) {
    let urls = Array::new();
    let restore: Function = js_fn(
        "urls",
        "const orig = globalThis.fetch;
         globalThis.fetch = async function (input, init) {
           const url = typeof input === 'string' ? input : input.url;
           // A URL signed in the browser (with a session token) is seen as it is sent.
           if (url.includes('X-Amz-Security-Token')) urls.push(url);
           const r = await orig.apply(this, arguments);
           // Read the copy before handing the answer over: the package aborts the request's
           // signal (and with it the copy) once it has read the answer.
           if (url.includes('presign')) { try { const j = JSON.parse(await r.clone().text()); if (j && j.presigned_url) urls.push(j.presigned_url); } catch (_) {} }
           return r; };
         return () => { globalThis.fetch = orig; };",
    )
    .call1(&JsValue::NULL, &urls)
    .unwrap()
    .unchecked_into();
    (urls, restore)
}

/// The secrets of a URL, raw and percent-decoded: the values of `X-Amz-Signature`,
/// `X-Amz-Credential` and `X-Amz-Security-Token`, and the access key id at the head of the
/// credential.
fn url_secrets(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let query = url.split_once('?').map_or("", |(_, q)| q);
    for pair in query.split('&') {
        let Some((k, v)) = pair.split_once('=') else { continue };
        if ["X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token"].iter().any(|n| k.eq_ignore_ascii_case(n)) {
            out.push(v.to_owned());
            if let Some(d) = js_sys::decode_uri_component(v).ok().and_then(|d| d.as_string()) {
                if k.eq_ignore_ascii_case("X-Amz-Credential") {
                    out.push(d.split('/').next().unwrap_or_default().to_owned());
                }
                out.push(d);
            }
        }
    }
    out
}

#[wasm_bindgen_test]
async fn no_error_message_or_console_line_ever_shows_the_key_or_a_url_secret() {
    let c = config().await;
    let (console_lines, restore_console) = capture_console();
    let (urls, restore_fetch) = capture_presigned_urls();
    let client = client().await;
    let no_retry = hexnode(o(&[("retries", 0.into())])).await;
    let mut errors: Vec<(String, JsValue)> = Vec::new();
    let mut expect = |code: &str, e: JsValue| errors.push((code.to_owned(), e));

    // invalid_input
    expect("invalid_input", fails(client.upload("not a file".into(), None)).await);
    // unauthorized, forbidden, rate_limited, presign_failed: servers that echo the key back.
    for (status, code) in [(401, "unauthorized"), (403, "forbidden"), (429, "rate_limited"), (500, "presign_failed")] {
        arm(&format!(r#"{{"match": "{PRESIGN}", "status": {status}, "retry_after": 0, "message": "key {{authorization}} at {{url}}"}}"#)).await;
        expect(code, fails(no_retry.upload(file(10, "k.txt", "text/plain").into(), None)).await);
    }
    // url_expired: the store says "expired" three times (two refreshes are allowed).
    arm(r#"{"match": "store_put", "times": 3, "expire": true}"#).await;
    expect("url_expired", fails(client.upload(file(10, "x.txt", "text/plain").into(), None)).await);
    // too_large: a Blob that says it is 6 GiB.
    let huge: JsValue = js_fn("", "const b = new Blob(['x']); Object.defineProperty(b, 'size', { value: 6 * 1024 * 1024 * 1024 }); return b;").call0(&JsValue::NULL).unwrap();
    expect("too_large", fails(client.upload(huge, opts(&[("fileName", "huge.iso".into())]))).await);
    // upload_rejected: a store that echoes the whole presigned URL in its message.
    arm(r#"{"match": "store_put", "status": 403, "s3_code": "SignatureDoesNotMatch", "message": "Signature mismatch for {url}"}"#).await;
    expect("upload_rejected", fails(client.upload(file(10, "s.txt", "text/plain").into(), None)).await);
    // network: a PUT that times out, and a store that cannot be reached with a real-looking URL.
    let timeouts = hexnode(o(&[("retries", 0.into()), ("timeoutMs", 200.into())])).await;
    arm(r#"{"match": "store_put", "delay_ms": 1500}"#).await;
    expect("network", fails(timeouts.upload(file(10, "t.txt", "text/plain").into(), None)).await);
    let unreachable = "http://127.0.0.1:9/uploads/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAUNREACHABLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20990101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=0badc0ffee0badc0ffee0badc0ffee0badc0ffee0badc0ffee0badc0ffee0bad";
    urls.push(&unreachable.into());
    expect("network", fails(put_file(unreachable.into(), blob(10, "text/plain").into(), Some(o(&[("retry", o(&[("retries", 0.into())]))]).unchecked_into()))).await);
    // cors: the store's errors come without CORS headers.
    arm(&format!(r#"{{"match": "store_put", "times": {}, "status": 403, "no_cors": true}}"#, RETRIES + 1)).await;
    expect("cors", fails(client.upload(file(10, "c.txt", "text/plain").into(), None)).await);
    // aborted
    let ctl = web_sys::AbortController::new().unwrap();
    ctl.abort();
    expect("aborted", fails(client.upload(file(10, "a.txt", "text/plain").into(), opts(&[("signal", ctl.signal().into())]))).await);
    // verify_failed: an API that echoes the key and the URL in its error.
    arm(&format!(r#"{{"match": "{VERIFY}", "status": 500, "message": "verify {{authorization}} {{url}}"}}"#)).await;
    expect("verify_failed", fails(no_retry.upload(file(10, "v.txt", "text/plain").into(), None)).await);
    // upload_rejected with URLs signed in the browser with a session token, from a store that
    // echoes the whole URL: neither the token nor the access key id may show (full build: `s3`).
    let st = store().await;
    let token = "IQoJb3JpZ2luX2VjEXAMPLEsessionTOKENvalue0123456789abcdefABCDEF";
    #[cfg(feature = "full")]
    {
    let creds = o(&[("accessKeyId", st.access_key_id.as_str().into()), ("secretAccessKey", st.secret_access_key.as_str().into()), ("sessionToken", token.into())]);
    let s3 = o(&[
        ("bucket", st.bucket.as_str().into()),
        ("region", st.region.as_str().into()),
        ("endpoint", st.endpoint.as_str().into()),
        ("forcePathStyle", true.into()),
        ("credentials", js_fn("c", "return async () => c;").call1(&JsValue::NULL, &creds).unwrap()),
    ]);
    let signed_here = Uploader::new(o(&[("s3", s3), ("retry", o(&[("retries", 0.into())]))]).unchecked_into()).unwrap();
    arm(r#"{"match": "store_put", "status": 403, "s3_code": "SignatureDoesNotMatch", "message": "Mismatch for {url}"}"#).await;
    expect("upload_rejected", fails(signed_here.upload(file(10, "tok.txt", "text/plain").into(), None)).await);
    assert!(urls.iter().any(|u| u.as_string().is_some_and(|u| u.contains("X-Amz-Security-Token=") && u.contains(&st.access_key_id))), "a URL with a session token was sent");
    }
    // server_error: a delete that fails with 500 and echoes the key and the URL.
    arm(&format!(r#"{{"match": "{DELETE}", "status": 500, "message": "delete {{authorization}} {{url}}"}}"#)).await;
    expect("server_error", fails(no_retry.delete_files(Array::of1(&1.into()).into())).await);
    // bad_response: a login page where JSON was expected.
    arm(&format!(r#"{{"match": "{PRESIGN}", "bad_json": "html"}}"#)).await;
    expect("bad_response", fails(client.upload(file(10, "b.txt", "text/plain").into(), None)).await);
    clear_faults().await;

    restore_fetch.call0(&JsValue::NULL).unwrap();
    restore_console.call0(&JsValue::NULL).unwrap();
    // Every code was provoked.
    let codes: Vec<&str> = errors.iter().map(|(c, _)| c.as_str()).collect();
    for code in [
        "invalid_input", "unauthorized", "forbidden", "rate_limited", "presign_failed", "url_expired", "too_large", "upload_rejected", "network", "cors", "aborted",
        "verify_failed", "bad_response", "server_error",
    ] {
        assert!(codes.contains(&code), "{code} was not provoked");
    }
    let mut secrets = vec![c.api_key.clone(), token.to_owned(), st.access_key_id.clone(), st.secret_access_key.clone()];
    // The full build adds a URL signed in the browser with a session token.
    let min_urls = if cfg!(feature = "full") { 7 } else { 6 };
    assert!(urls.length() >= min_urls, "presigned URLs were seen: {}", urls.length());
    for u in urls.iter() {
        secrets.extend(url_secrets(&u.as_string().unwrap()));
    }
    secrets.retain(|s| s.len() >= 8);
    let lines: Vec<String> = console_lines.iter().filter_map(|l| l.as_string()).collect();
    for (code, e) in &errors {
        assert_eq!(&get_str(e, "code"), code, "{}", describe(e));
        let texts = [get_str(e, "message"), to_string(e), js_sys::JSON::stringify(e).ok().and_then(|s| s.as_string()).unwrap_or_default()];
        for text in &texts {
            for s in &secrets {
                assert!(!text.contains(s.as_str()), "{code}: a secret leaked into {text:?}");
            }
        }
    }
    for line in &lines {
        for s in &secrets {
            assert!(!line.contains(s.as_str()), "a secret leaked to the console: {line:?}");
        }
    }
    assert_eq!(stat("store_put_with_authorization").await, 0.0, "the store never saw an Authorization header");
}
