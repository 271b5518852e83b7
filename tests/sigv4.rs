//! Browser tests of presigning inside wasm (`new Uploader({ s3 })`) against the devserver's
//! store, which checks SigV4 for real with its dev keys (`/config.json`, `/backend/credentials`).
#![cfg(all(target_arch = "wasm32", feature = "full"))]

mod common;

use common::*;
use js_sys::{Function, Promise};
use presigned_upload::bindings::Uploader;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);


/// A credentials callback that answers `creds` (a JS object, or a function of the call
/// number returning one) and counts its calls in `globalThis[counter]`.
fn counting_credentials(counter: &str, creds: &JsValue) -> Function {
    js_fn(
        "counter, creds",
        "return async () => { globalThis[counter] = (globalThis[counter] || 0) + 1;
           return typeof creds === 'function' ? creds(globalThis[counter]) : creds; };",
    )
    .call2(&JsValue::NULL, &counter.into(), creds)
    .unwrap()
    .unchecked_into()
}

/// The dev credentials as a JS object, with optional extras (`sessionToken`, `expiration`).
fn dev_creds(s: &Store, extra: &[(&str, JsValue)]) -> JsValue {
    let mut fields = vec![("accessKeyId", JsValue::from_str(&s.access_key_id)), ("secretAccessKey", JsValue::from_str(&s.secret_access_key))];
    fields.extend(extra.iter().cloned());
    o(&fields)
}

/// An async function that resolves with `v`.
fn answering(v: &JsValue) -> JsValue {
    js_fn("v", "return async () => v;").call1(&JsValue::NULL, v).unwrap()
}

/// `opts.s3` for the devserver's store (path-style, as it needs) with `credentials` (a
/// callback, or an answer to wrap in one).
fn s3_opts(s: &Store, credentials: &JsValue, extra: &[(&str, JsValue)]) -> JsValue {
    let credentials = if credentials.is_function() { credentials.clone() } else { answering(credentials) };
    let mut fields = vec![
        ("bucket", JsValue::from_str(&s.bucket)),
        ("region", JsValue::from_str(&s.region)),
        ("endpoint", JsValue::from_str(&s.endpoint)),
        ("forcePathStyle", true.into()),
        ("keyPrefix", "sigv4-tests/".into()),
        ("credentials", credentials),
    ];
    fields.extend(extra.iter().cloned());
    o(&fields)
}

fn uploader(opts: JsValue) -> Uploader {
    Uploader::new(opts.unchecked_into()).unwrap_or_else(|e| panic!("constructor threw {}", describe(&e)))
}

fn s3_uploader(s: &Store, credentials: &JsValue) -> Uploader {
    uploader(o(&[("s3", s3_opts(s, credentials, &[]))]))
}

fn upload_opts(fields: &[(&str, JsValue)]) -> Option<presigned_upload::bindings::UploadOptions> {
    Some(o(fields).unchecked_into())
}

/// What the store holds under `key` (each segment URL-encoded): (exists, size, sha256 hex).
async fn stored(key: &str) -> (bool, f64, String) {
    let path: Vec<String> = key.split('/').map(|s| String::from(js_sys::encode_uri_component(s))).collect();
    let v = get_json(&format!("{}/__dev/object/{}", web_base(), path.join("/"))).await;
    (get(&v, "exists").as_bool().unwrap_or(false), get(&v, "size").as_f64().unwrap_or(-1.0), get(&v, "sha256").as_string().unwrap_or_default())
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 36
        && s.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() && !c.is_ascii_uppercase() })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

/// Replaces `globalThis.fetch` with a wrapper that records the URL of every PUT in
/// `globalThis[log]`; returns a function that puts the original back.
fn record_put_urls(log: &str) -> Function {
    js_fn(
        "log",
        "const orig = globalThis.fetch; globalThis[log] = [];
         globalThis.fetch = function (input, init) {
           const url = typeof input === 'string' ? input : input.url;
           const method = (init && init.method) || (typeof input === 'string' ? 'GET' : input.method);
           if (method === 'PUT') globalThis[log].push(url);
           return orig.apply(this, arguments); };
         return () => { globalThis.fetch = orig; };",
    )
    .call1(&JsValue::NULL, &log.into())
    .unwrap()
    .unchecked_into()
}

fn recorded(log: &str) -> Vec<String> {
    js_sys::Array::from(&get(&js_sys::global(), log)).iter().filter_map(|v| v.as_string()).collect()
}

// ---------------------------------------------------------------- signed in wasm, accepted by the store

#[wasm_bindgen_test]
async fn a_put_signed_in_wasm_is_accepted_and_stored_byte_for_byte() {
    let s = store().await;
    let creds = js_fn("web", "return () => fetch(web + '/backend/credentials', { method: 'POST' }).then(r => r.json());").call1(&JsValue::NULL, &web_base().into()).unwrap();
    let up = s3_uploader(&s, &creds);
    for (i, (name, mime, transport)) in
        [("report.pdf", "application/pdf", "fetch"), ("a b+ü ✓(1).txt", "text/plain; charset=utf-8", "xhr"), ("dir/inner name.bin", "", "auto")].into_iter().enumerate()
    {
        let f = file(3000 + i as u32, name, mime);
        let r = ok(up.upload(f.clone().into(), upload_opts(&[("transport", transport.into())]))).await;
        let uuid = get_str(&r, "fileUuid");
        assert!(is_uuid_v4(&uuid), "fileUuid {uuid} is a uuid v4");
        assert_eq!(get_str(&r, "fileName"), name);
        let want_type = if mime.is_empty() { "application/octet-stream" } else { mime };
        assert_eq!(get_str(&r, "contentType"), want_type);
        assert_eq!(get(&r, "verified").as_bool(), Some(false), "no verify unless one is given");
        assert_eq!(get_num(&r, "attempts"), 1.0);
        let (exists, size, sha) = stored(&format!("sigv4-tests/{uuid}/{name}")).await;
        assert!(exists, "the store holds sigv4-tests/{uuid}/{name}");
        assert_eq!(size, 3000.0 + i as f64);
        assert_eq!(sha, sha256_hex(&f).await, "the store holds exactly the file's bytes");
    }
}

#[wasm_bindgen_test]
async fn every_upload_gets_a_fresh_uuid_and_verify_runs_when_given() {
    let s = store().await;
    let verify = js_fn("", "return async (uuid) => { globalThis.__s3_verified = uuid; return { id: 77, status: 'active' }; };").call0(&JsValue::NULL).unwrap();
    let up = uploader(o(&[("s3", s3_opts(&s, &dev_creds(&s, &[]), &[])), ("verify", verify)]));
    let b = blob(10, "text/plain");
    let r1 = ok(up.upload(b.clone().into(), upload_opts(&[("fileName", "same.txt".into())]))).await;
    let r2 = ok(up.upload(b.into(), upload_opts(&[("fileName", "same.txt".into())]))).await;
    assert_ne!(get_str(&r1, "fileUuid"), get_str(&r2, "fileUuid"));
    assert_eq!(get(&r2, "verified").as_bool(), Some(true));
    assert_eq!(get_num(&r2, "fileId"), 77.0);
    assert_eq!(get(&js_sys::global(), "__s3_verified").as_string().unwrap(), get_str(&r2, "fileUuid"), "verify got the upload's uuid");
    for r in [r1, r2] {
        assert!(stored(&format!("sigv4-tests/{}/same.txt", get_str(&r, "fileUuid"))).await.0);
    }
}

#[wasm_bindgen_test]
async fn the_url_signs_content_type_and_lives_15_minutes_by_default() {
    let s = store().await;
    let restore = record_put_urls("__s3_puts_default");
    let r1 = up_once(&s, dev_creds(&s, &[]), &[]).await;
    let r2 = up_once(&s, dev_creds(&s, &[]), &[("expiresIn", 60.into())]).await;
    restore.call0(&JsValue::NULL).unwrap();
    for r in [r1, r2] {
        r.unwrap_or_else(|e| panic!("{}", describe(&e)));
    }
    let urls = recorded("__s3_puts_default");
    assert_eq!(urls.len(), 2, "{urls:?}");
    assert!(urls[0].starts_with(&format!("{}/{}/sigv4-tests/", s.endpoint, s.bucket)), "path-style at the endpoint: {}", urls[0]);
    assert!(urls[0].contains("X-Amz-Expires=900&"), "{}", urls[0]);
    assert!(urls[0].contains("X-Amz-SignedHeaders=content-type%3Bhost&"), "{}", urls[0]);
    assert!(!urls[0].contains("X-Amz-Security-Token"));
    assert!(urls[1].contains("X-Amz-Expires=60&"), "{}", urls[1]);
}

/// The `X-Amz-Expires` of a signed URL.
fn x_amz_expires(url: &str) -> f64 {
    let v = url.split(['?', '&']).find_map(|p| p.strip_prefix("X-Amz-Expires=")).unwrap_or_else(|| panic!("no X-Amz-Expires in {url}"));
    v.parse().unwrap_or_else(|_| panic!("X-Amz-Expires={v}"))
}

#[wasm_bindgen_test]
async fn credentials_that_expire_soon_cap_x_amz_expires() {
    let s = store().await;
    let restore = record_put_urls("__s3_puts_capped");
    // Credentials left with 120 s; expiresIn asks for 900 (the default) and then 3600.
    let at = now() + 120_000.0;
    let r1 = up_once(&s, dev_creds(&s, &[("expiration", JsValue::from_f64(at))]), &[]).await;
    let r2 = up_once(&s, dev_creds(&s, &[("expiration", JsValue::from_f64(at))]), &[("expiresIn", 3600.into())]).await;
    // With 2 hours left, expiresIn is kept.
    let r3 = up_once(&s, dev_creds(&s, &[("expiration", JsValue::from_f64(now() + 7_200_000.0))]), &[("expiresIn", 3600.into())]).await;
    restore.call0(&JsValue::NULL).unwrap();
    for r in [r1, r2, r3] {
        r.unwrap_or_else(|e| panic!("{}", describe(&e)));
    }
    let urls = recorded("__s3_puts_capped");
    assert_eq!(urls.len(), 3, "{urls:?}");
    for u in &urls[..2] {
        let e = x_amz_expires(u);
        // At most the 120 s left when signing (less the time the test took to get there), and
        // never more: a URL must not outlive its credentials.
        assert!((60.0..=120.0).contains(&e), "X-Amz-Expires={e}, capped to the credentials' 120 s: {u}");
    }
    assert_eq!(x_amz_expires(&urls[2]), 3600.0, "{}", urls[2]);
}

/// One fetch-transport upload with these credentials and extra `s3` options.
async fn up_once(s: &Store, creds: JsValue, extra: &[(&str, JsValue)]) -> Result<JsValue, JsValue> {
    let up = uploader(o(&[("s3", s3_opts(s, &creds, extra))]));
    let p: Promise = up.upload(blob(100, "text/plain").into(), upload_opts(&[("fileName", "one.txt".into()), ("transport", "fetch".into())]));
    wasm_bindgen_futures::JsFuture::from(p).await
}

// ---------------------------------------------------------------- credentials

#[wasm_bindgen_test]
async fn a_wrong_secret_is_upload_rejected_with_signature_does_not_match() {
    let s = store().await;
    let wrong = o(&[("accessKeyId", s.access_key_id.clone().into()), ("secretAccessKey", "not-the-secret-at-all".into())]);
    let up = s3_uploader(&s, &wrong);
    let e = fails_with(up.upload(blob(100, "text/plain").into(), upload_opts(&[("fileName", "wrong.txt".into())])), "upload_rejected").await;
    assert_eq!(get_str(&e, "s3Code"), "SignatureDoesNotMatch");
    assert_eq!(get_num(&e, "status"), 403.0);
    assert_eq!(get(&e, "retryable").as_bool(), Some(false));
    assert!(!to_string(&e).contains("not-the-secret-at-all"));
    assert!(!js_sys::JSON::stringify(&e).map(String::from).unwrap_or_default().contains("not-the-secret-at-all"));
}

#[wasm_bindgen_test]
async fn a_session_token_is_sent_as_x_amz_security_token() {
    let s = store().await;
    let restore = record_put_urls("__s3_puts_token");
    // The devserver's store checks the signature, which covers the token, but not the token
    // itself (real S3 would refuse an unknown one with upload_rejected / InvalidToken).
    let r = up_once(&s, dev_creds(&s, &[("sessionToken", "dev/session+token=".into())]), &[]).await;
    restore.call0(&JsValue::NULL).unwrap();
    let r = r.unwrap_or_else(|e| panic!("{}", describe(&e)));
    assert!(stored(&format!("sigv4-tests/{}/one.txt", get_str(&r, "fileUuid"))).await.0);
    let urls = recorded("__s3_puts_token");
    assert_eq!(urls.len(), 1, "{urls:?}");
    assert!(urls[0].contains("X-Amz-Security-Token=dev%2Fsession%2Btoken%3D&"), "{}", urls[0]);
}

#[wasm_bindgen_test]
async fn credentials_are_cached_and_fetched_again_near_expiration() {
    let s = store().await;
    // Long-lived: one call for two uploads, and one for three concurrent ones.
    let long = dev_creds(&s, &[("expiration", JsValue::from_f64(now() + 15.0 * 60_000.0))]);
    let up = s3_uploader(&s, &counting_credentials("__s3_long", &long).into());
    for name in ["c1.txt", "c2.txt"] {
        ok(up.upload(blob(10, "text/plain").into(), upload_opts(&[("fileName", name.into())]))).await;
    }
    assert_eq!(global_num("__s3_long"), 1.0, "cached for the second upload");
    let up = s3_uploader(&s, &counting_credentials("__s3_many", &long).into());
    let files = js_sys::Array::of3(&file(5, "m1.txt", "text/plain"), &file(6, "m2.txt", "text/plain"), &file(7, "m3.txt", "text/plain"));
    let all = ok(up.upload_all(files.into(), Some(o(&[("concurrency", 3.into())]).unchecked_into()))).await;
    for r in js_sys::Array::from(&all).iter() {
        assert_eq!(get(&r, "ok").as_bool(), Some(true), "{:?}", js_sys::JSON::stringify(&r));
    }
    assert_eq!(global_num("__s3_many"), 1.0, "concurrent uploads share one call");

    // Expiring in 63 s: fresh until 60 s before, then fetched again.
    let soon = js_fn("ak, sk", "return () => ({ accessKeyId: ak, secretAccessKey: sk, expiration: Date.now() + 63000 });")
        .call2(&JsValue::NULL, &s.access_key_id.clone().into(), &s.secret_access_key.clone().into())
        .unwrap();
    let up = s3_uploader(&s, &counting_credentials("__s3_soon", &soon).into());
    ok(up.upload(blob(10, "text/plain").into(), upload_opts(&[("fileName", "s1.txt".into())]))).await;
    ok(up.upload(blob(10, "text/plain").into(), upload_opts(&[("fileName", "s2.txt".into())]))).await;
    assert_eq!(global_num("__s3_soon"), 1.0, "still fresh: more than 60 s left");
    sleep_ms(3200).await;
    ok(up.upload(blob(10, "text/plain").into(), upload_opts(&[("fileName", "s3.txt".into())]))).await;
    assert_eq!(global_num("__s3_soon"), 2.0, "within 60 s of expiration: fetched again");
}

#[wasm_bindgen_test]
async fn a_failing_callback_is_presign_failed_and_a_bad_answer_is_bad_response_naming_the_field() {
    let s = store().await;
    let throws = js_fn("", "return () => { throw new Error('no session'); };").call0(&JsValue::NULL).unwrap();
    let e = fails_with(s3_uploader(&s, &throws).upload(blob(1, "text/plain").into(), upload_opts(&[("fileName", "x.txt".into())])), "presign_failed").await;
    assert!(get_str(&e, "message").contains("no session"), "{}", describe(&e));
    let rejects = js_fn("", "return () => Promise.reject(new Error('STS said no'));").call0(&JsValue::NULL).unwrap();
    let e = fails_with(s3_uploader(&s, &rejects).upload(blob(1, "text/plain").into(), upload_opts(&[("fileName", "x.txt".into())])), "presign_failed").await;
    assert!(get_str(&e, "message").contains("STS said no"), "{}", describe(&e));

    let secret = "sekrit-value-that-must-not-leak";
    for (answer, field) in [
        (o(&[("secretAccessKey", secret.into())]), "accessKeyId"),
        (o(&[("accessKeyId", "AKIA".into())]), "secretAccessKey"),
        (o(&[("accessKeyId", "AKIA".into()), ("secretAccessKey", secret.into()), ("sessionToken", 5.into())]), "sessionToken"),
        (o(&[("accessKeyId", "AKIA".into()), ("secretAccessKey", secret.into()), ("expiration", "soon".into())]), "expiration"),
        (JsValue::from_str("creds"), "object"),
    ] {
        let e = fails_with(s3_uploader(&s, &answer).upload(blob(1, "text/plain").into(), upload_opts(&[("fileName", "x.txt".into())])), "bad_response").await;
        let msg = get_str(&e, "message");
        assert!(msg.contains(field), "{msg} names {field}");
        assert!(!msg.contains(secret) && !to_string(&e).contains(secret), "{msg}");
    }

    // A failed call is not cached: the next upload asks again.
    let flaky = js_fn("ak, sk", "return (n) => { if (n === 1) throw new Error('first fails'); return { accessKeyId: ak, secretAccessKey: sk }; };")
        .call2(&JsValue::NULL, &s.access_key_id.clone().into(), &s.secret_access_key.clone().into())
        .unwrap();
    let up = s3_uploader(&s, &counting_credentials("__s3_flaky", &flaky).into());
    fails_with(up.upload(blob(1, "text/plain").into(), upload_opts(&[("fileName", "f1.txt".into())])), "presign_failed").await;
    ok(up.upload(blob(1, "text/plain").into(), upload_opts(&[("fileName", "f2.txt".into())]))).await;
    assert_eq!(global_num("__s3_flaky"), 2.0);
}

// ---------------------------------------------------------------- options

#[wasm_bindgen_test]
async fn invalid_options_are_invalid_input_naming_the_field() {
    let s = store().await;
    let creds = answering(&dev_creds(&s, &[]));
    // `opts.s3` with some fields replaced (or removed, with undefined).
    let inner = |over: &[(&str, JsValue)]| {
        let mut fields: Vec<(&str, JsValue)> = vec![("bucket", s.bucket.clone().into()), ("region", s.region.clone().into()), ("credentials", creds.clone())];
        for (k, v) in over {
            fields.retain(|(n, _)| n != k);
            if !v.is_undefined() {
                fields.push((k, v.clone()));
            }
        }
        o(&fields)
    };
    let base = |over: &[(&str, JsValue)]| o(&[("s3", inner(over))]);
    let cases: Vec<(JsValue, &str)> = vec![
        (base(&[("bucket", JsValue::UNDEFINED)]), "s3.bucket"),
        (base(&[("bucket", "Not_A_Bucket".into())]), "s3.bucket"),
        (base(&[("bucket", 5.into())]), "s3.bucket"),
        (base(&[("region", JsValue::UNDEFINED)]), "s3.region"),
        (base(&[("region", "us east 1".into())]), "s3.region"),
        (base(&[("endpoint", "ftp://127.0.0.1:9000".into())]), "s3.endpoint"),
        (base(&[("endpoint", "http://s3.example.com".into())]), "s3.endpoint"),
        (base(&[("endpoint", "http://127.0.0.1:9000/?x=1".into())]), "s3.endpoint"),
        (base(&[("forcePathStyle", "yes".into())]), "s3.forcePathStyle"),
        (base(&[("keyPrefix", "/abs/".into())]), "s3.keyPrefix"),
        (base(&[("keyPrefix", "a/../".into())]), "s3.keyPrefix"),
        (base(&[("expiresIn", 0.into())]), "s3.expiresIn"),
        (base(&[("expiresIn", 9.into())]), "s3.expiresIn"),
        (base(&[("expiresIn", 1.5.into())]), "s3.expiresIn"),
        (base(&[("expiresIn", 604_801.into())]), "s3.expiresIn"),
        (base(&[("credentials", JsValue::UNDEFINED)]), "s3.credentials"),
        (base(&[("credentials", "AKIA:secret".into())]), "s3.credentials"),
        (o(&[("s3", "bucket".into())]), "s3"),
        (o(&[("s3", inner(&[])), ("presign", "/backend/presign".into())]), "presign"),
        (o(&[]), "presign"),
    ];
    for (opts, field) in cases {
        let e = Uploader::new(opts.clone().unchecked_into()).err().unwrap_or_else(|| panic!("accepted {:?}", js_sys::JSON::stringify(&opts)));
        assert_eq!(get_str(&e, "name"), "UploadError");
        assert_eq!(get_str(&e, "code"), "invalid_input", "{}", describe(&e));
        assert!(get_str(&e, "message").contains(field), "{} names {field}", get_str(&e, "message"));
        assert!(!get_str(&e, "message").contains(&s.secret_access_key));
    }
    // http to a non-loopback endpoint is allowed with allowInsecureHttp; the endpoint's defaults.
    assert!(Uploader::new(o(&[("s3", inner(&[("endpoint", "http://s3.example.com".into())])), ("allowInsecureHttp", true.into())]).unchecked_into()).is_ok());
    assert!(Uploader::new(base(&[]).unchecked_into()).is_ok());

    // A file name the browser would rewrite in the URL path is refused before any request.
    let up = s3_uploader(&s, &creds);
    let puts = stat("store_put").await;
    for name in ["..", "a/../b", "."] {
        let e = fails_with(up.upload(blob(1, "text/plain").into(), upload_opts(&[("fileName", name.into())])), "invalid_input").await;
        assert!(get_str(&e, "message").starts_with("fileName:"), "{}", describe(&e));
    }
    assert_eq!(stat("store_put").await, puts);
}
