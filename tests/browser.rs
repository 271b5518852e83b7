//! Browser tests (headless Chromium via `wasm-pack test`) of the public API against the
//! devserver's real S3-protocol store and Hexnode-compatible API.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use js_sys::{Array, Function, Promise};
use presigned_upload::bindings::{put_file, HexnodeClient, Uploader};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn client_with(extra: &[(&str, JsValue)]) -> (HexnodeClient, Config) {
    let c = config().await;
    let mut fields: Vec<(&str, JsValue)> = vec![("portal", c.api_base.clone().into()), ("apiKey", c.api_key.clone().into())];
    fields.extend(extra.iter().cloned());
    let client = HexnodeClient::new(o(&fields).unchecked_into()).unwrap_or_else(|e| panic!("constructor threw {}", describe(&e)));
    (client, c)
}

async fn client() -> (HexnodeClient, Config) {
    client_with(&[]).await
}

fn uploader(opts: JsValue) -> Uploader {
    Uploader::new(opts.unchecked_into()).unwrap_or_else(|e| panic!("constructor threw {}", describe(&e)))
}

fn backend_uploader() -> Uploader {
    let web = web_base();
    uploader(o(&[
        ("presign", format!("{web}/backend/presign").into()),
        ("verify", format!("{web}/backend/verify").into()),
        ("credentials", "omit".into()),
    ]))
}

fn upload_opts(fields: &[(&str, JsValue)]) -> Option<presigned_upload::bindings::UploadOptions> {
    Some(o(fields).unchecked_into())
}

// ---------------------------------------------------------------- the first chain

#[wasm_bindgen_test]
async fn presigned_url_from_the_api_accepts_a_put_of_a_file() {
    let (client, _) = client().await;
    let f = file(1000, "first.bin", "application/x-test");
    let p = ok(client.generate_presigned_upload_url("first.bin".into(), Some("application/x-test".into()))).await;
    assert_eq!(get_str(&p, "contentType"), "application/x-test");
    assert!(get_num(&p, "expiresAt") > now() + 170.0 * 60_000.0, "the URL lives 180 minutes");
    let url = get_str(&p, "presignedUrl");
    let r = ok(put_file(url.into(), f.clone().into(), Some(o(&[("transport", "fetch".into())]).unchecked_into()))).await;
    assert_eq!(get_num(&r, "status"), 200.0);
    assert_eq!(get_num(&r, "size"), 1000.0);
    assert_eq!(get_num(&r, "attempts"), 1.0);
    assert!(get(&r, "etag").as_string().is_some_and(|e| !e.is_empty()), "the store exposes the ETag");
    let (exists, size, sha) = object(&get_str(&p, "fileUuid")).await;
    assert!(exists);
    assert_eq!(size, 1000.0);
    assert_eq!(sha, sha256_hex(&f).await, "the store holds exactly the file's bytes");
}

#[wasm_bindgen_test]
async fn hexnode_upload_generates_puts_and_verifies() {
    let (client, _) = client().await;
    let f = file(4096, "report.pdf", "application/pdf");
    let r = ok(client.upload(f.clone().into(), None)).await;
    assert_eq!(get_str(&r, "fileName"), "report.pdf");
    assert_eq!(get_str(&r, "contentType"), "application/pdf");
    assert_eq!(get_num(&r, "size"), 4096.0);
    assert_eq!(get(&r, "verified").as_bool(), Some(true));
    assert!(get_num(&r, "fileId") >= 1.0);
    assert_eq!(get_num(&r, "attempts"), 1.0);
    assert!(get_num(&r, "durationMs") >= 0.0);
    let raw = get(&r, "verify");
    assert_eq!(get_str(&raw, "status"), "active");
    assert_eq!(get_num(&raw, "size"), 4096.0);
    let (_, _, sha) = object(&get_str(&r, "fileUuid")).await;
    assert_eq!(sha, sha256_hex(&f).await);
}

// ---------------------------------------------------------------- content type

#[wasm_bindgen_test]
async fn content_type_comes_from_option_then_file_type_then_octet_stream() {
    let (client, _) = client().await;
    let r = ok(client.upload(file(10, "a.txt", "text/plain").into(), upload_opts(&[("contentType", "application/json; charset=utf-8".into())]))).await;
    assert_eq!(get_str(&r, "contentType"), "application/json; charset=utf-8");
    assert_eq!(get_str(&get(&r, "verify"), "content_type"), "application/json; charset=utf-8", "the same string went to presign and PUT");
    let r = ok(client.upload(file(10, "b.png", "image/png").into(), None)).await;
    assert_eq!(get_str(&get(&r, "verify"), "content_type"), "image/png");
    let r = ok(client.upload(file(10, "c.bin", "").into(), None)).await;
    assert_eq!(get_str(&get(&r, "verify"), "content_type"), "application/octet-stream");
}

#[wasm_bindgen_test]
async fn a_content_type_other_than_the_presigned_one_is_rejected_at_once() {
    let (client, _) = client().await;
    let p = ok(client.generate_presigned_upload_url("x.txt".into(), Some("text/plain".into()))).await;
    let before = stat("store_put").await;
    let e = fails_with(
        put_file(get(&p, "presignedUrl"), blob(100, "text/plain").into(), Some(o(&[("contentType", "image/png".into())]).unchecked_into())),
        "upload_rejected",
    )
    .await;
    assert_eq!(get_str(&e, "s3Code"), "SignatureDoesNotMatch");
    assert_eq!(get_num(&e, "status"), 403.0);
    assert_eq!(get(&e, "retryable").as_bool(), Some(false));
    assert_eq!(stat("store_put").await - before, 1.0, "a 403 is not retried");
}

#[wasm_bindgen_test]
async fn puts_carry_no_authorization_header() {
    let (client, _) = client().await;
    let before = stat("store_put_with_authorization").await;
    let puts = stat("store_put").await;
    ok(client.upload(file(64, "n.txt", "text/plain").into(), None)).await;
    ok(backend_uploader().upload(file(64, "m.txt", "text/plain").into(), None)).await;
    assert!(stat("store_put").await - puts >= 2.0);
    assert_eq!(stat("store_put_with_authorization").await, before);
}

// ---------------------------------------------------------------- the body stays out of wasm

#[wasm_bindgen_test]
async fn a_64_mib_upload_does_not_grow_wasm_memory() {
    let (client, _) = client().await;
    let big = blob(64 * 1024 * 1024, "application/octet-stream");
    let mem = || wasm_bindgen::memory().unchecked_into::<js_sys::WebAssembly::Memory>().buffer().unchecked_into::<js_sys::ArrayBuffer>().byte_length();
    let before = mem();
    for transport in ["fetch", "xhr"] {
        let (progress, log) = progress_recorder();
        let r = ok(client.upload(big.clone().into(), upload_opts(&[("fileName", "big.bin".into()), ("transport", transport.into()), ("onProgress", progress.into())]))).await;
        assert_eq!(get_num(&r, "size"), 64.0 * 1024.0 * 1024.0);
        let (_, size, _) = object(&get_str(&r, "fileUuid")).await;
        assert_eq!(size, 64.0 * 1024.0 * 1024.0);
        let events = check_progress(&log, 64.0 * 1024.0 * 1024.0);
        if transport == "xhr" {
            assert!(events >= 3, "XHR reported progress along the way ({events} events)");
        }
    }
    let grown = mem().saturating_sub(before);
    assert!(grown < 1024 * 1024, "wasm memory grew by {grown} bytes during 64 MiB uploads");
}

// ---------------------------------------------------------------- progress and transport

fn progress_recorder() -> (Function, Array) {
    let log = Array::new();
    let f: Function = js_fn("log", "return (p) => log.push({ phase: p.phase, loaded: p.loaded, total: p.total });")
        .call1(&JsValue::NULL, &log)
        .unwrap()
        .unchecked_into();
    (f, log)
}

fn check_progress(log: &Array, size: f64) -> usize {
    let order = ["presign", "upload", "verify"];
    let mut last_phase = 0usize;
    let mut last_loaded = -1.0;
    let mut upload_events = 0;
    for e in log.iter() {
        let phase = get_str(&e, "phase");
        let idx = order.iter().position(|p| *p == phase).expect("known phase");
        let loaded = get_num(&e, "loaded");
        let total = get_num(&e, "total");
        assert!(idx >= last_phase, "phases out of order: {phase} after {}", order[last_phase]);
        if idx > last_phase {
            last_loaded = -1.0;
        }
        assert!(loaded > last_loaded, "progress went backwards in {phase}: {loaded} after {last_loaded}");
        assert!(loaded <= total);
        if phase == "upload" {
            assert_eq!(total, size);
            upload_events += 1;
        }
        last_phase = idx;
        last_loaded = loaded;
    }
    let last_upload = log.iter().rfind(|e| get_str(e, "phase") == "upload").expect("upload progress");
    assert_eq!(get_num(&last_upload, "loaded"), size, "upload progress ends at loaded == total");
    assert_eq!(order[last_phase], "verify");
    upload_events
}

#[wasm_bindgen_test]
async fn progress_is_monotone_in_phase_order_and_ends_at_total_with_xhr() {
    let (client, _) = client().await;
    let (cb, log) = progress_recorder();
    let size = 8 * 1024 * 1024;
    let (counts, restore) = spy_transports();
    let r = settle(client.upload(blob(size, "text/plain").into(), upload_opts(&[("fileName", "p.txt".into()), ("onProgress", cb.into())]))).await;
    restore.call0(&JsValue::NULL).unwrap();
    r.unwrap_or_else(|e| panic!("{}", describe(&e)));
    check_progress(&log, size as f64);
    assert_eq!(get_num(&counts, "xhr"), 1.0, "auto chose XHR for the PUT when onProgress was given");
}

#[wasm_bindgen_test]
async fn fetch_transport_reports_start_and_end_of_the_upload() {
    let (client, _) = client().await;
    let (cb, log) = progress_recorder();
    let (counts, restore) = spy_transports();
    let r = settle(client.upload(blob(3000, "text/plain").into(), upload_opts(&[("fileName", "f.txt".into()), ("onProgress", cb.into()), ("transport", "fetch".into())]))).await;
    let xhr_after_forced_fetch = get_num(&counts, "xhr");
    // Without onProgress, auto uses fetch too.
    let r2 = settle(client.upload(blob(3000, "text/plain").into(), upload_opts(&[("fileName", "g.txt".into())]))).await;
    restore.call0(&JsValue::NULL).unwrap();
    r.unwrap_or_else(|e| panic!("{}", describe(&e)));
    r2.unwrap_or_else(|e| panic!("{}", describe(&e)));
    assert_eq!(check_progress(&log, 3000.0), 2);
    assert_eq!(xhr_after_forced_fetch, 0.0);
    assert_eq!(get_num(&counts, "xhr"), 0.0, "auto without onProgress used fetch");
    assert!(get_num(&counts, "fetch") >= 6.0, "presign, PUT and verify went through fetch, twice");
}

#[wasm_bindgen_test]
async fn an_unknown_transport_is_invalid_input() {
    let (client, _) = client().await;
    let e = fails_with(client.upload(blob(3, "text/plain").into(), upload_opts(&[("fileName", "t".into()), ("transport", "carrier-pigeon".into())])), "invalid_input").await;
    assert!(get_str(&e, "message").contains("transport"));
}

// ---------------------------------------------------------------- abort

#[wasm_bindgen_test]
async fn an_already_aborted_signal_rejects_before_any_request() {
    let (client, _) = client().await;
    let ctl = web_sys::AbortController::new().unwrap();
    ctl.abort();
    let before = stat("api_presign").await;
    fails_with(client.upload(blob(10, "text/plain").into(), upload_opts(&[("fileName", "a".into()), ("signal", ctl.signal().into())])), "aborted").await;
    assert_eq!(stat("api_presign").await, before);
}

#[wasm_bindgen_test]
async fn abort_during_the_put_rejects_at_once_and_never_verifies() {
    let size = 48 * 1024 * 1024;
    for transport in ["xhr", "fetch"] {
        let (client, _) = client().await;
        // The store holds the body back for 4 s (it has seen the PUT begin), so the abort
        // lands while the bytes are still on their way.
        arm(r#"{"match": "store_put", "delay_ms": 4000}"#).await;
        let before = Counts::now().await;
        let ctl = web_sys::AbortController::new().unwrap();
        let (cb, log) = progress_recorder();
        let p = timed(client.upload(
            blob(size, "application/octet-stream").into(),
            upload_opts(&[("fileName", "abort.bin".into()), ("signal", ctl.signal().into()), ("onProgress", cb.into()), ("transport", transport.into())]),
        ));
        let moving = |log: &Array| log.iter().any(|e| get_str(&e, "phase") == "upload" && get_num(&e, "loaded") > 0.0 && get_num(&e, "loaded") < f64::from(size));
        let began = wait_until(5000.0, || {
            let log = log.clone();
            let before = &before;
            async move { before.grew("store_put").await >= 1.0 && (transport == "fetch" || moving(&log)) }
        })
        .await;
        assert!(began, "{transport}: the store saw the PUT begin{}", if transport == "xhr" { " and bytes were sent" } else { "" });
        let t = now();
        ctl.abort();
        let r = ok(p).await;
        assert_eq!(get(&r, "ok").as_bool(), Some(false), "{transport}: an aborted upload rejects");
        assert_eq!(get_str(&get(&r, "error"), "code"), "aborted", "{transport}: {}", describe(&get(&r, "error")));
        let took = get_num(&r, "at") - t;
        assert!(took < 1000.0, "{transport}: rejected {took} ms after the abort");
        sleep_ms(300).await;
        assert_eq!(before.grew_all(&["store_put", "api_verify"]).await, vec![1.0, 0.0], "{transport}: one PUT, never verified");
        assert!(!log.iter().any(|e| get_str(&e, "phase") == "upload" && get_num(&e, "loaded") == f64::from(size)), "{transport}: the upload never completed");
    }
    clear_faults().await;
}

#[wasm_bindgen_test]
async fn abort_during_presign_and_verify_callbacks_rejects_at_once() {
    let never: Function = js_fn("", "return () => new Promise(() => {});").call0(&JsValue::NULL).unwrap().unchecked_into();
    // During presign.
    let up = uploader(o(&[("presign", never.clone().into())]));
    let ctl = web_sys::AbortController::new().unwrap();
    let p = up.upload(blob(10, "text/plain").into(), upload_opts(&[("fileName", "x".into()), ("signal", ctl.signal().into())]));
    sleep_ms(100).await;
    let t = now();
    ctl.abort();
    fails_with(p, "aborted").await;
    assert!(now() - t < 1000.0, "rejected {} ms after the abort", now() - t);
    // During verify.
    let up = uploader(o(&[("presign", format!("{}/backend/presign", web_base()).into()), ("verify", never.into()), ("credentials", "omit".into())]));
    let ctl = web_sys::AbortController::new().unwrap();
    let (cb, log) = progress_recorder();
    let p = up.upload(blob(10, "text/plain").into(), upload_opts(&[("fileName", "y".into()), ("signal", ctl.signal().into()), ("onProgress", cb.into())]));
    for _ in 0..100 {
        if log.iter().any(|e| get_str(&e, "phase") == "verify") {
            break;
        }
        sleep_ms(20).await;
    }
    assert!(log.iter().any(|e| get_str(&e, "phase") == "verify"), "reached verify");
    let t = now();
    ctl.abort();
    fails_with(p, "aborted").await;
    assert!(now() - t < 1000.0, "rejected {} ms after the abort", now() - t);
}

#[wasm_bindgen_test]
async fn abort_during_a_retry_wait_rejects_at_once() {
    // Nothing listens on port 9: every PUT fails at once and waits 5 s before the next try.
    let ctl = web_sys::AbortController::new().unwrap();
    let url = "http://127.0.0.1:9/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc";
    let p = put_file(
        url.into(),
        blob(10, "text/plain").into(),
        Some(o(&[("signal", ctl.signal().into()), ("retry", o(&[("retries", 3.into()), ("minDelayMs", 5000.into()), ("maxDelayMs", 5000.into())]))]).unchecked_into()),
    );
    sleep_ms(400).await;
    let t = now();
    ctl.abort();
    fails_with(p, "aborted").await;
    assert!(now() - t < 1000.0, "rejected {} ms after the abort", now() - t);
}

// ---------------------------------------------------------------- retries, rate limits, expiry

#[wasm_bindgen_test]
async fn an_unreachable_store_is_a_bounded_network_error() {
    let url = "http://127.0.0.1:9/bucket/key";
    let t = now();
    let e = fails_with(
        put_file(url.into(), blob(10, "text/plain").into(), Some(o(&[("retry", o(&[("retries", 2.into()), ("minDelayMs", 50.into()), ("maxDelayMs", 100.into())]))]).unchecked_into())),
        "network",
    )
    .await;
    assert_eq!(get(&e, "retryable").as_bool(), Some(true));
    let took = now() - t;
    assert!(took >= 50.0, "it waited before retrying");
    // Bounded: two short waits and a probe with a 5 s budget (15 s only catches a hang).
    assert!(took < 15_000.0, "gave up after {took} ms");
}

#[wasm_bindgen_test]
async fn the_client_side_limiter_keeps_a_burst_under_the_api_limit() {
    // The second devserver allows 10 calls per second. The client keeps a margin (8 per 1.5 s):
    // on a loaded machine a call can reach the server well after the client counted it, so a
    // client window only a little longer than the server's flakes; without a limiter, 25 calls in
    // a row meet a 429 at once.
    let c = config_of(limited_web_base()).await;
    let client = HexnodeClient::new(
        o(&[("portal", c.api_base.clone().into()), ("apiKey", c.api_key.into()), ("rateLimitPerMinute", 8.into()), ("rateLimitWindowMs", 1500.into())]).unchecked_into(),
    )
    .unwrap();
    sleep_ms(1500).await;
    let before = get_num(&stats_of(&c.web).await, "api_429");
    let t = now();
    for i in 0..25 {
        ok(client.generate_presigned_upload_url(format!("burst{i}.txt").into(), None)).await;
    }
    assert_eq!(get_num(&stats_of(&c.web).await, "api_429"), before, "the limiter kept every call under the server's limit");
    assert!(now() - t >= 4000.0, "25 calls at 8 per 1.5 s take over 4 s");
}

#[wasm_bindgen_test]
async fn a_429_is_waited_out_as_retry_after_says() {
    let c = config_of(limited_web_base()).await;
    let client = HexnodeClient::new(o(&[("portal", c.api_base.clone().into()), ("apiKey", c.api_key.into()), ("rateLimitPerMinute", 0.into())]).unchecked_into()).unwrap();
    sleep_ms(1200).await;
    let before = get_num(&stats_of(&c.web).await, "api_429");
    // The server allows 10 calls a second and says so in Retry-After; 15 calls in a row meet
    // a 429 and must wait it out (at least the rest of the window: never less than about 1 s
    // in all; a loaded machine is only ever slower).
    let t = now();
    for i in 0..15 {
        ok(client.generate_presigned_upload_url(format!("r{i}.txt").into(), None)).await;
    }
    let took = now() - t;
    let throttled = get_num(&stats_of(&c.web).await, "api_429") - before;
    assert!(throttled >= 1.0, "the server did throttle");
    assert!(throttled <= 3.0, "each 429 was waited out before trying again, not hammered: {throttled}");
    assert!(took >= 900.0, "15 calls at 10 a second took {took} ms: the client did not wait");
}

#[wasm_bindgen_test]
async fn put_file_with_an_expired_url_is_url_expired_without_sending() {
    let (status, p) = post_json(&format!("{}/backend/presign", web_base()), &o(&[("file_name", "old.txt".into()), ("content_type", "text/plain".into()), ("expires_in", 1.into())])).await;
    assert_eq!(status, 200);
    sleep_ms(1500).await;
    let puts = stat("store_put").await;
    fails_with(put_file(get(&p, "presigned_url"), blob(5, "text/plain").into(), None), "url_expired").await;
    assert_eq!(stat("store_put").await, puts);
}

// ---------------------------------------------------------------- bad input

#[wasm_bindgen_test]
async fn bad_constructor_options_throw_invalid_input_naming_the_field() {
    let cases: Vec<(JsValue, &str)> = vec![
        (o(&[("portal", "acme.hexnodemdm.com".into()), ("apiKey", "k123".into())]), "portal"),
        (o(&[("portal", "ftp://acme.hexnodemdm.com".into()), ("apiKey", "k123".into())]), "portal"),
        (o(&[("portal", "http://acme.hexnodemdm.com".into()), ("apiKey", "k123".into())]), "portal"),
        (o(&[("portal", "https://acme.hexnodemdm.com".into())]), "apiKey"),
        (o(&[("portal", "https://acme.hexnodemdm.com".into()), ("apiKey", "k123".into()), ("verifyPath", "/no-slash".into())]), "verifyPath"),
        (o(&[("portal", "https://acme.hexnodemdm.com".into()), ("apiKey", "k123".into()), ("retry", o(&[("retries", (-1).into())]))]), "retries"),
        (o(&[("portal", "https://acme.hexnodemdm.com".into()), ("apiKey", "k123".into()), ("rateLimitPerMinute", 1.5.into())]), "rateLimitPerMinute"),
    ];
    for (opts, field) in cases {
        let e = match HexnodeClient::new(opts.clone().unchecked_into()) {
            Ok(_) => panic!("accepted {:?}", js_sys::JSON::stringify(&opts)),
            Err(e) => e,
        };
        assert_eq!(get_str(&e, "name"), "UploadError");
        assert_eq!(get_str(&e, "code"), "invalid_input");
        assert!(get_str(&e, "message").contains(field), "{} does not name {field}", get_str(&e, "message"));
    }
    assert!(HexnodeClient::new(o(&[("portal", "http://acme.hexnodemdm.com".into()), ("apiKey", "k123".into()), ("allowInsecureHttp", true.into())]).unchecked_into()).is_ok());
    let e = Uploader::new(o(&[]).unchecked_into()).err().expect("presign is required");
    assert!(get_str(&e, "message").contains("presign"));
    let e = Uploader::new(o(&[("presign", "/p".into()), ("credentials", "sometimes".into())]).unchecked_into()).err().expect("bad credentials");
    assert!(get_str(&e, "message").contains("credentials"));
}

#[wasm_bindgen_test]
async fn bad_upload_input_is_refused_before_any_request() {
    let (client, _) = client().await;
    let presigns = stat("api_presign").await;
    let e = fails_with(client.upload("not a file".into(), None), "invalid_input").await;
    assert!(get_str(&e, "message").contains("file"));
    let e = fails_with(client.upload(blob(5, "text/plain").into(), None), "invalid_input").await;
    assert!(get_str(&e, "message").contains("fileName"), "a Blob needs a name: {}", describe(&e));
    let e = fails_with(client.upload(blob(5, "text/plain").into(), upload_opts(&[("fileName", "".into())])), "invalid_input").await;
    assert!(get_str(&e, "message").contains("fileName"));
    let e = fails_with(client.upload(blob(5, "text/plain").into(), upload_opts(&[("fileName", "a".into()), ("contentType", "text/plain\r\nX-Evil: 1".into())])), "invalid_input").await;
    assert!(get_str(&e, "message").contains("contentType"));
    // Over 5 GiB: a Blob whose size says so (no memory needed to test the check).
    let huge: JsValue = js_fn("", "const b = new Blob(['x']); Object.defineProperty(b, 'size', { value: 6 * 1024 * 1024 * 1024 }); return b;").call0(&JsValue::NULL).unwrap();
    fails_with(client.upload(huge, upload_opts(&[("fileName", "huge.iso".into())])), "too_large").await;
    assert_eq!(stat("api_presign").await, presigns, "no request went out for bad input");
}

#[wasm_bindgen_test]
async fn bad_file_ids_and_targetless_deploys_are_invalid_input() {
    let (client, _) = client().await;
    let cases: Vec<(JsValue, &str)> = vec![
        (Array::of2(&1.into(), &(-2).into()).into(), "fileIds[1]"),
        (Array::of1(&1.5.into()).into(), "fileIds[0]"),
        (Array::of1(&"7".into()).into(), "fileIds[0]"),
        (Array::new().into(), "fileIds"),
    ];
    for (ids, field) in cases {
        let e = fails_with(client.delete_files(ids), "invalid_input").await;
        assert!(get_str(&e, "message").contains(field), "{} should name {field}", get_str(&e, "message"));
    }
    let e = fails_with(client.deploy_file(o(&[("fileIds", Array::of1(&1.into()).into()), ("filePath", "/sdcard".into())]).unchecked_into()), "invalid_input").await;
    assert!(get_str(&e, "message").contains("devices"));
    let e = fails_with(client.deploy_file(o(&[("fileIds", Array::of1(&1.into()).into()), ("filePath", "".into()), ("devices", Array::of1(&1.into()).into())]).unchecked_into()), "invalid_input").await;
    assert!(get_str(&e, "message").contains("filePath"));
}

// ---------------------------------------------------------------- lifecycle

#[wasm_bindgen_test]
async fn deploy_and_delete_after_upload() {
    let (client, _) = client().await;
    let r = ok(client.upload(file(50, "deploy.txt", "text/plain").into(), None)).await;
    let id = get_num(&r, "fileId");
    let ids = Array::of1(&id.into());
    let d = ok(client.deploy_file(o(&[("fileIds", ids.clone().into()), ("filePath", "/sdcard/Download".into()), ("devices", Array::of1(&5.into()).into())]).unchecked_into())).await;
    assert_eq!(get_str(&d, "message"), "Action Created");
    let v = ok(client.verify_file_upload(get(&r, "fileUuid"))).await;
    assert_eq!(get_num(&v, "fileId"), id);
    let m = ok(client.delete_files(ids.clone().into())).await;
    assert_eq!(get_str(&m, "message"), "Files are Deleted Successfully");
    let (exists, _, _) = object(&get_str(&r, "fileUuid")).await;
    assert!(!exists, "delete removed the object");
    let e = fails(client.deploy_file(o(&[("fileIds", ids.into()), ("filePath", "/sdcard".into()), ("devices", Array::of1(&5.into()).into())]).unchecked_into())).await;
    assert_eq!(get_num(&e, "status"), 400.0, "a deleted file cannot be deployed: {}", describe(&e));
}

#[wasm_bindgen_test]
async fn a_failed_verify_never_resolves_as_uploaded() {
    let (client, _) = client_with(&[("verifyPath", "/api/v1/filemanagement/no-such-verify/".into()), ("retry", o(&[("retries", 0.into())]))]).await;
    let e = fails_with(client.upload(file(20, "v.txt", "text/plain").into(), None), "verify_failed").await;
    assert_eq!(get_num(&e, "status"), 404.0);
    let throws: Function = js_fn("", "return async () => { throw new Error('backend said no'); };").call0(&JsValue::NULL).unwrap().unchecked_into();
    let up = uploader(o(&[("presign", format!("{}/backend/presign", web_base()).into()), ("verify", throws.into()), ("credentials", "omit".into())]));
    let e = fails_with(up.upload(file(20, "w.txt", "text/plain").into(), None), "verify_failed").await;
    assert!(get_str(&e, "message").contains("backend said no"));
}

#[wasm_bindgen_test]
async fn verify_false_resolves_unverified_after_the_put() {
    let up = uploader(o(&[("presign", format!("{}/backend/presign", web_base()).into()), ("verify", false.into()), ("credentials", "omit".into())]));
    let verifies = stat("backend_verify").await;
    let r = ok(up.upload(file(20, "nv.txt", "text/plain").into(), None)).await;
    assert_eq!(get(&r, "verified").as_bool(), Some(false));
    assert!(get(&r, "fileId").is_undefined());
    assert_eq!(stat("backend_verify").await, verifies);
    let (exists, size, _) = object(&get_str(&r, "fileUuid")).await;
    assert!(exists && size == 20.0);
}

// ---------------------------------------------------------------- the backend mode

#[wasm_bindgen_test]
async fn uploader_with_endpoints_goes_through_the_sample_backend() {
    let before = stat("backend_presign").await;
    let verifies = stat("backend_verify").await;
    let r = ok(backend_uploader().upload(file(300, "b.txt", "text/plain").into(), None)).await;
    assert_eq!(get(&r, "verified").as_bool(), Some(true));
    assert!(get_num(&r, "fileId") >= 1.0);
    assert_eq!(stat("backend_presign").await - before, 1.0);
    assert_eq!(stat("backend_verify").await - verifies, 1.0);
}

#[wasm_bindgen_test]
async fn uploader_with_callbacks_calls_them() {
    let presign = counting_presign("__cb_calls", "{}", &[]);
    let seen = Array::new();
    let verify: Function = js_fn("seen", "return async (uuid) => { seen.push(uuid); return { id: 77, file_uuid: uuid }; };").call1(&JsValue::NULL, &seen).unwrap().unchecked_into();
    let up = uploader(o(&[("presign", presign.into()), ("verify", verify.into())]));
    let r = ok(up.upload(file(30, "cb.txt", "text/plain").into(), None)).await;
    assert_eq!(global_num("__cb_calls"), 1.0);
    assert_eq!(seen.get(0).as_string().unwrap(), get_str(&r, "fileUuid"));
    assert_eq!(get_num(&r, "fileId"), 77.0);
}

#[wasm_bindgen_test]
async fn a_presign_callback_that_throws_is_presign_failed() {
    let bad: Function = js_fn("", "return async () => { throw new Error('no URL for you'); };").call0(&JsValue::NULL).unwrap().unchecked_into();
    let e = fails_with(uploader(o(&[("presign", bad.into())])).upload(file(3, "x", "text/plain").into(), None), "presign_failed").await;
    assert!(get_str(&e, "message").contains("no URL for you"));
    let html: Function = js_fn("", "return async () => ({ nothing: 'here' });").call0(&JsValue::NULL).unwrap().unchecked_into();
    let e = fails_with(uploader(o(&[("presign", html.into())])).upload(file(3, "x", "text/plain").into(), None), "bad_response").await;
    assert!(get_str(&e, "message").contains("presigned_url"));
}

// ---------------------------------------------------------------- security

#[wasm_bindgen_test]
async fn errors_never_show_the_api_key_or_url_secrets() {
    let c = config().await;
    // A wrong key: unauthorized, and the key is nowhere in the error.
    let wrong_key = "hx_wrong_key_0123456789abcdef";
    let bad_client = HexnodeClient::new(o(&[("portal", c.api_base.clone().into()), ("apiKey", wrong_key.into())]).unchecked_into()).unwrap();
    let puts = stat("store_put").await;
    let e = fails_with(bad_client.upload(file(3, "k.txt", "text/plain").into(), None), "unauthorized").await;
    assert_eq!(get_num(&e, "status"), 401.0);
    assert_eq!(stat("store_put").await, puts, "no PUT after a 401");
    for text in [get_str(&e, "message"), to_string(&e)] {
        assert!(!text.contains(wrong_key));
    }
    // A tampered URL: the signature and credential values never appear.
    let (client, _) = client().await;
    let p = ok(client.generate_presigned_upload_url("s.txt".into(), Some("text/plain".into()))).await;
    let url = get_str(&p, "presignedUrl");
    let sig_at = url.find("X-Amz-Signature=").expect("a SigV4 URL") + "X-Amz-Signature=".len();
    let sig: String = url[sig_at..].chars().take_while(|c| *c != '&').collect();
    let tampered = url.replace(&sig, &"0".repeat(sig.len()));
    let cred_at = url.find("X-Amz-Credential=").unwrap() + "X-Amz-Credential=".len();
    let cred: String = url[cred_at..].chars().take_while(|c| *c != '&').collect();
    let e = fails_with(put_file(tampered.into(), blob(3, "text/plain").into(), None), "upload_rejected").await;
    assert_eq!(get_str(&e, "s3Code"), "SignatureDoesNotMatch");
    for text in [get_str(&e, "message"), to_string(&e)] {
        assert!(!text.contains(&sig) && !text.contains(&"0".repeat(sig.len())), "signature leaked: {text}");
        assert!(!text.contains(&cred), "credential leaked: {text}");
        assert!(!text.contains(&c.api_key));
    }
}

#[wasm_bindgen_test]
async fn plain_http_urls_are_refused_unless_loopback_or_allowed() {
    let e = fails_with(put_file("http://example.com/b/k?X-Amz-Signature=abc".into(), blob(3, "text/plain").into(), None), "invalid_input").await;
    assert!(get_str(&e, "message").contains("https"));
    assert!(!get_str(&e, "message").contains("abc"));
    let e = fails_with(put_file("not a url".into(), blob(3, "text/plain").into(), None), "invalid_input").await;
    assert!(get_str(&e, "message").contains("presignedUrl"));
}

#[wasm_bindgen_test]
async fn uploader_string_endpoints_send_the_configured_headers() {
    let seen = Array::new();
    // Wrap fetch to observe what the package sends to the backend.
    let restore: Function = js_fn(
        "seen",
        "const orig = globalThis.fetch; globalThis.fetch = function (input, init) { if (input instanceof Request) { seen.push(input.url + ' ' + input.headers.get('x-app-token')); } return orig.apply(this, arguments); }; return () => { globalThis.fetch = orig; };",
    )
    .call1(&JsValue::NULL, &seen)
    .unwrap()
    .unchecked_into();
    let web = web_base();
    let up = uploader(o(&[
        ("presign", format!("{web}/backend/presign").into()),
        ("verify", format!("{web}/backend/verify").into()),
        ("headers", o(&[("x-app-token", "t-42".into())])),
        ("credentials", "omit".into()),
    ]));
    let r = settle(up.upload(file(3, "h.txt", "text/plain").into(), None)).await;
    restore.call0(&JsValue::NULL).unwrap();
    r.unwrap_or_else(|e| panic!("{}", describe(&e)));
    let lines: Vec<String> = seen.iter().filter_map(|v| v.as_string()).collect();
    assert!(lines.iter().any(|l| l.contains("/backend/presign") && l.ends_with("t-42")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("/backend/verify") && l.ends_with("t-42")), "{lines:?}");
}

async fn settle(p: Promise) -> Result<JsValue, JsValue> {
    wasm_bindgen_futures::JsFuture::from(p).await
}
