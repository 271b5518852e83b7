//! The bucket CORS configurations that users meet, against the devserver's store with S3's
//! CORS rules (`POST /__cors`, `--faults`): a bucket without a rule for the page's origin,
//! and a rule that lacks `PUT` or the `content-type` header. In each, the upload must fail
//! bounded in time, with a message that names the bucket's CORS and the rule to add: `cors`
//! when the store's origin answers a probe this page may read (the rule allows GET), else
//! `network`, as browsers show such a bucket exactly like an unreachable store.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use presigned_upload::bindings::Uploader;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Sets the store bucket's CORS rules (S3's JSON), or the default with `None`.
async fn bucket_cors(rules: Option<&str>) {
    let url = format!("{}/__cors", web_base());
    let (status, v) = match rules {
        Some(r) => send_json("POST", &url, Some(r)).await,
        None => send_json("DELETE", &url, None).await,
    };
    assert_eq!(status, 200, "/__cors answered {status}: {:?} (is the devserver started with --faults?)", js_sys::JSON::stringify(&v));
}

/// An Uploader as a new user writes it: the sample backend, default retries.
fn uploader() -> Uploader {
    let web = web_base();
    Uploader::new(o(&[("presign", format!("{web}/backend/presign").into()), ("verify", format!("{web}/backend/verify").into())]).unchecked_into()).unwrap()
}

/// Uploads under `rules` and checks the outcome every case shares: `code`, within 15 s (about
/// 2 s of retries; the bound cannot flake on a loaded machine), no PUT ever reached the store,
/// nothing verified, and the message names the bucket's CORS and the rule to add.
async fn fails_naming_cors(case: &str, rules: &str, code: &str) {
    bucket_cors(Some(rules)).await;
    let before = Counts::now().await;
    let started = now();
    // application/octet-stream: text/plain would be a CORS-safelisted content type, never
    // asked for in the preflight.
    let p = uploader().upload(file(1000, "cors.bin", "application/octet-stream").into(), None);
    let r = ok(timed(p)).await;
    bucket_cors(None).await;
    assert_eq!(get(&r, "ok").as_bool(), Some(false), "{case}: the upload must fail");
    let e = get(&r, "error");
    let took = get_num(&r, "at") - started;
    assert_eq!(get_str(&e, "code"), code, "{case}: {}", describe(&e));
    assert!(took < 15_000.0, "{case}: took {took} ms");
    let msg = get_str(&e, "message");
    let opening = if code == "cors" { "The PUT to the presigned URL failed and the browser hid the response" } else { "The PUT to the presigned URL failed on every attempt" };
    assert!(msg.starts_with(opening), "{case}: {msg}");
    for needle in ["bucket's", "CORS", "AllowedOrigins this page's origin", "AllowedMethods PUT", "AllowedHeaders content-type", "ExposeHeaders ETag"] {
        assert!(msg.contains(needle), "{case}: the message lacks {needle:?}: {msg}");
    }
    let grew = before.grew_all(&["backend_presign", "store_options", "store_put", "backend_verify"]).await;
    assert_eq!(grew[0], 1.0, "{case}: one presign");
    assert!(grew[1] >= 1.0, "{case}: the browser asked the store's CORS (preflight)");
    assert_eq!((grew[2], grew[3]), (0.0, 0.0), "{case}: the preflight failed, so no PUT and no verify");
}

const LOOPBACK: &str = r#"["http://127.0.0.1:*", "http://localhost:*"]"#;

#[wasm_bindgen_test]
async fn a_bucket_without_a_rule_for_the_origin_names_the_buckets_cors() {
    bucket_cors(None).await;
    fails_naming_cors(
        "no rule for this origin",
        r#"[{"AllowedOrigins": ["https://your.app"], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]}]"#,
        "network",
    )
    .await;
}

#[wasm_bindgen_test]
async fn a_rule_without_put_or_without_content_type_names_the_buckets_cors() {
    bucket_cors(None).await;
    let rule = |methods: &str, headers: &str| format!(r#"[{{"AllowedOrigins": {LOOPBACK}, "AllowedMethods": {methods}, "AllowedHeaders": {headers}, "ExposeHeaders": ["ETag"]}}]"#);
    fails_naming_cors("a rule without PUT (GET allowed)", &rule(r#"["GET", "POST"]"#, r#"["*"]"#), "cors").await;
    fails_naming_cors("a rule without content-type (GET allowed)", &rule(r#"["GET", "PUT"]"#, r#"["x-amz-*"]"#), "cors").await;
    fails_naming_cors("the README's rule without content-type (PUT only)", &rule(r#"["PUT"]"#, "[]"), "network").await;
}

#[wasm_bindgen_test]
async fn the_readme_rule_for_this_origin_uploads() {
    // The README's rule, with this page's origin: the upload works, and its ETag is read.
    let origin: String = js_sys::Reflect::get(&js_sys::global(), &"location".into())
        .and_then(|l| js_sys::Reflect::get(&l, &"origin".into()))
        .ok()
        .and_then(|o| o.as_string())
        .expect("location.origin");
    bucket_cors(Some(&format!(
        r#"[{{"AllowedOrigins": ["{origin}"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["content-type"], "ExposeHeaders": ["ETag", "x-amz-request-id"]}}]"#
    )))
    .await;
    let f = file(1000, "cors-ok.txt", "text/plain");
    let r = JsFuture::from(uploader().upload(f.into(), None)).await;
    bucket_cors(None).await;
    let r = r.unwrap_or_else(|e| panic!("the README's rule must be enough: {}", describe(&e)));
    assert!(get(&r, "etag").as_string().is_some_and(|e| !e.is_empty()), "the ETag is exposed");
}
