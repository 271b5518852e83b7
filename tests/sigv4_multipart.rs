//! Browser tests of multipart uploads signed inside wasm (`new Uploader({ s3, multipart })`)
//! against the devserver's store, which checks SigV4 for real: CreateMultipartUpload,
//! UploadPart, CompleteMultipartUpload, AbortMultipartUpload and ListParts, no backend.
#![cfg(all(target_arch = "wasm32", feature = "full"))]

mod common;

use common::*;
use js_sys::{Array, Function, Promise};
use presigned_upload::bindings::{UploadOptions, Uploader};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MIB: u32 = 1024 * 1024;


/// An Uploader signing in wasm with `secret`, multipart from 5 MiB in 8 MiB parts.
fn mp_uploader(s: &Store, secret: &str, prefix: &str, mp_extra: &[(&str, JsValue)]) -> Uploader {
    let creds = o(&[("accessKeyId", s.access_key_id.clone().into()), ("secretAccessKey", secret.into())]);
    let credentials = js_fn("v", "return async () => v;").call1(&JsValue::NULL, &creds).unwrap();
    let s3 = o(&[
        ("bucket", s.bucket.clone().into()),
        ("region", s.region.clone().into()),
        ("endpoint", s.endpoint.clone().into()),
        ("forcePathStyle", true.into()),
        ("keyPrefix", prefix.into()),
        ("credentials", credentials),
    ]);
    let mut mp: Vec<(&str, JsValue)> = vec![("threshold", (5 * MIB).into()), ("partSize", (8 * MIB).into())];
    mp.extend(mp_extra.iter().cloned());
    Uploader::new(o(&[("s3", s3), ("multipart", o(&mp)), ("retry", o(&[("retries", 0.into())]))]).unchecked_into())
        .unwrap_or_else(|e| panic!("constructor threw {}", describe(&e)))
}

/// Replaces `globalThis.fetch` with a wrapper that records `[method, url]` of every request
/// to `endpoint` in `globalThis[log]`; returns a function that puts the original back.
fn record_store_calls(log: &str, endpoint: &str) -> Function {
    js_fn(
        "log, endpoint",
        "const orig = globalThis.fetch; globalThis[log] = [];
         globalThis.fetch = function (input, init) {
           const url = typeof input === 'string' ? input : input.url;
           const method = (init && init.method) || (typeof input === 'string' ? 'GET' : input.method);
           if (url.startsWith(endpoint)) globalThis[log].push([method, url]);
           return orig.apply(this, arguments); };
         return () => { globalThis.fetch = orig; };",
    )
    .call2(&JsValue::NULL, &log.into(), &endpoint.into())
    .unwrap()
    .unchecked_into()
}

/// The recorded `(method, url)` pairs.
fn calls(log: &str) -> Vec<(String, String)> {
    Array::from(&get(&js_sys::global(), log))
        .iter()
        .map(|e| {
            let e: Array = e.unchecked_into();
            (e.get(0).as_string().unwrap_or_default(), e.get(1).as_string().unwrap_or_default())
        })
        .collect()
}

/// A query parameter of a URL.
fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| js_sys::decode_uri_component(v).ok().map(String::from)).flatten()
    })
}

/// The part numbers PUT among `calls`, in order.
fn part_puts(calls: &[(String, String)]) -> Vec<u32> {
    calls.iter().filter(|(m, _)| m == "PUT").filter_map(|(_, u)| param(u, "partNumber")?.parse().ok()).collect()
}

/// The upload id that the recorded calls used.
fn upload_id(calls: &[(String, String)]) -> String {
    calls.iter().find_map(|(_, u)| param(u, "uploadId")).unwrap_or_else(|| panic!("no call with an uploadId: {calls:?}"))
}

/// In-progress multipart uploads in the store: (upload id, parts stored).
async fn in_progress() -> Vec<(String, f64)> {
    let v = get_json(&format!("{}/__dev/multipart", web_base())).await;
    let ups: Array = get(&v, "uploads").unchecked_into();
    ups.iter().map(|u| (get_str(&u, "uploadId"), get_num(&u, "parts"))).collect()
}

async fn is_in_progress(id: &str) -> bool {
    in_progress().await.iter().any(|(u, _)| u == id)
}

/// What the store holds under `key` (each segment URL-encoded): (exists, size, sha256 hex).
async fn stored(key: &str) -> (bool, f64, String) {
    let path: Vec<String> = key.split('/').map(|s| String::from(js_sys::encode_uri_component(s))).collect();
    let v = get_json(&format!("{}/__dev/object/{}", web_base(), path.join("/"))).await;
    (get(&v, "exists").as_bool().unwrap_or(false), get(&v, "size").as_f64().unwrap_or(-1.0), get(&v, "sha256").as_string().unwrap_or_default())
}

fn fetch_opts(extra: &[(&str, JsValue)]) -> Option<UploadOptions> {
    let mut fields: Vec<(&str, JsValue)> = vec![("transport", "fetch".into())];
    fields.extend(extra.iter().cloned());
    Some(o(&fields).unchecked_into())
}

async fn wait_state(task: &JsValue, want: &str) {
    for _ in 0..400 {
        if get_str(task, "state") == want {
            return;
        }
        sleep_ms(25).await;
    }
    panic!("the task never got to {want:?} (it is {:?})", get_str(task, "state"));
}

#[wasm_bindgen_test]
async fn uploads_24_mib_in_8_mib_parts_signed_in_wasm() {
    let s = store().await;
    let up = mp_uploader(&s, &s.secret_access_key, "sigv4-mp/", &[("concurrency", 2.into())]);
    let f = file(24 * MIB + 5, "big one/ü.bin", "application/x-test");
    let restore = record_store_calls("__mp_big", &s.endpoint);
    let r = up.upload(f.clone().into(), fetch_opts(&[]));
    let r = wasm_bindgen_futures::JsFuture::from(r).await;
    restore.call0(&JsValue::NULL).unwrap();
    let r = r.unwrap_or_else(|e| panic!("{}", describe(&e)));
    let log = calls("__mp_big");
    let uuid = get_str(&r, "fileUuid");
    assert_eq!(uuid.len(), 36, "fileUuid is the key's uuid: {uuid}");
    assert_eq!(get_str(&r, "fileName"), "big one/ü.bin");
    assert_eq!(get_num(&r, "size"), f.size());
    let (exists, size, sha) = stored(&format!("sigv4-mp/{uuid}/big one/ü.bin")).await;
    assert!(exists, "the object is stored: {log:?}");
    assert_eq!(size, f.size());
    assert_eq!(sha, sha256_hex(&f).await, "the store holds exactly the file's bytes");
    // create, 4 parts (3 × 8 MiB and 5 bytes), complete; nothing else.
    assert_eq!(log.iter().filter(|(m, u)| m == "POST" && param(u, "uploads").is_some()).count(), 1, "{log:?}");
    let mut parts = part_puts(&log);
    parts.sort();
    assert_eq!(parts, vec![1, 2, 3, 4], "{log:?}");
    assert_eq!(log.iter().filter(|(m, u)| m == "POST" && param(u, "uploadId").is_some()).count(), 1, "one complete: {log:?}");
    assert!(log.iter().all(|(m, _)| m != "DELETE" && m != "GET"), "no abort, no list: {log:?}");
    assert!(!is_in_progress(&upload_id(&log)).await, "the completed upload is still in progress");
}

#[wasm_bindgen_test]
async fn pause_then_resume_lists_parts_and_sends_only_the_missing_ones() {
    let s = store().await;
    let up = mp_uploader(&s, &s.secret_access_key, "sigv4-mp-pause/", &[("concurrency", 1.into())]);
    let f = file(40 * MIB, "pause.bin", "application/octet-stream");
    let progress = js_fn("", "return { t: null, done: false };").call0(&JsValue::NULL).unwrap();
    let on_progress = js_fn("h", "return (p) => { if (!h.done && p.phase === 'upload' && p.loaded >= 8 * 1024 * 1024) { h.done = true; h.t.pause(); } };")
        .call1(&JsValue::NULL, &progress)
        .unwrap();
    let restore = record_store_calls("__mp_pause", &s.endpoint);
    let task: JsValue = up.create_upload(f.clone().into(), fetch_opts(&[("onProgress", on_progress)])).unwrap_or_else(|e| panic!("{}", describe(&e))).into();
    js_sys::Reflect::set(&progress, &"t".into(), &task).unwrap();
    let p: Promise = get(&task, "start").unchecked_into::<Function>().call0(&task).unwrap().unchecked_into();
    wait_state(&task, "paused").await;
    sleep_ms(300).await;
    let at_pause = calls("__mp_pause").len();
    let id = upload_id(&calls("__mp_pause"));
    let stored_parts = in_progress().await.into_iter().find(|(u, _)| *u == id).map(|(_, n)| n as u32).unwrap_or(0);
    assert!((1..5).contains(&stored_parts), "parts stored at the pause: {stored_parts}");
    get(&task, "resume").unchecked_into::<Function>().call0(&task).unwrap();
    let r = wasm_bindgen_futures::JsFuture::from(p).await;
    restore.call0(&JsValue::NULL).unwrap();
    let r = r.unwrap_or_else(|e| panic!("{}", describe(&e)));
    let after = calls("__mp_pause")[at_pause..].to_vec();
    let lists = after.iter().filter(|(m, u)| m == "GET" && param(u, "uploadId").is_some()).count();
    assert_eq!(lists, 1, "ListParts asked once, at resume: {after:?}");
    // With one part at a time, parts 1..=stored_parts were stored before the pause.
    assert_eq!(part_puts(&after), ((stored_parts + 1)..=5).collect::<Vec<_>>(), "only the missing parts are sent after resume: {after:?}");
    let uuid = get_str(&r, "fileUuid");
    let (exists, size, sha) = stored(&format!("sigv4-mp-pause/{uuid}/pause.bin")).await;
    assert!(exists && size == f.size());
    assert_eq!(sha, sha256_hex(&f).await);
    assert!(!is_in_progress(&id).await);
}

#[wasm_bindgen_test]
async fn abort_calls_abort_multipart_upload_and_leaves_nothing() {
    let s = store().await;
    let up = mp_uploader(&s, &s.secret_access_key, "sigv4-mp-abort/", &[("concurrency", 1.into())]);
    let controller = web_sys::AbortController::new().unwrap();
    let on_progress = js_fn("c", "return (p) => { if (p.phase === 'upload' && p.loaded >= 8 * 1024 * 1024) c.abort(); };")
        .call1(&JsValue::NULL, &controller)
        .unwrap();
    let restore = record_store_calls("__mp_abort", &s.endpoint);
    let p = up.upload(file(40 * MIB, "abort.bin", "application/octet-stream").into(), fetch_opts(&[("onProgress", on_progress), ("signal", controller.signal().into())]));
    let e = fails_with(p, "aborted").await;
    // The abort is sent after the rejection's cause: give it a moment.
    let id = upload_id(&calls("__mp_abort"));
    let deleted = wait_until(5000.0, || async { calls("__mp_abort").iter().any(|(m, _)| m == "DELETE") }).await;
    restore.call0(&JsValue::NULL).unwrap();
    assert!(deleted, "AbortMultipartUpload sent ({})", describe(&e));
    let log = calls("__mp_abort");
    let deletes: Vec<_> = log.iter().filter(|(m, _)| m == "DELETE").collect();
    assert_eq!(deletes.len(), 1, "{log:?}");
    assert_eq!(param(&deletes[0].1, "uploadId").as_deref(), Some(id.as_str()));
    assert!(log.iter().all(|(m, u)| !(m == "POST" && param(u, "uploadId").is_some())), "no complete: {log:?}");
    assert!(!is_in_progress(&id).await, "the aborted upload is still in progress");
}

#[wasm_bindgen_test]
async fn a_wrong_secret_is_upload_rejected_and_leaves_nothing() {
    let s = store().await;
    let before: Vec<String> = in_progress().await.into_iter().map(|(u, _)| u).collect();
    let up = mp_uploader(&s, "not-the-secret-at-all", "sigv4-mp-wrong/", &[]);
    let restore = record_store_calls("__mp_wrong", &s.endpoint);
    let e = fails_with(up.upload(file(6 * MIB, "wrong.bin", "text/plain").into(), fetch_opts(&[])), "upload_rejected").await;
    restore.call0(&JsValue::NULL).unwrap();
    assert_eq!(get_str(&e, "s3Code"), "SignatureDoesNotMatch", "{}", describe(&e));
    assert_eq!(get_num(&e, "status"), 403.0);
    assert!(get_str(&e, "message").contains("CreateMultipartUpload"), "{}", describe(&e));
    assert!(!to_string(&e).contains("not-the-secret-at-all"));
    let log = calls("__mp_wrong");
    assert_eq!(part_puts(&log), Vec::<u32>::new(), "no part sent: {log:?}");
    let after: Vec<String> = in_progress().await.into_iter().map(|(u, _)| u).collect();
    assert!(after.iter().all(|u| before.contains(u)), "no new in-progress upload: {before:?} → {after:?}");
}

#[wasm_bindgen_test]
async fn endpoint_fields_are_refused_with_s3_and_a_small_file_is_one_put() {
    let s = store().await;
    let f = js_fn("", "return async () => ({});").call0(&JsValue::NULL).unwrap();
    for k in ["create", "signPart", "complete", "abort", "listParts"] {
        let creds = js_fn("", "return async () => ({});").call0(&JsValue::NULL).unwrap();
        let s3 = o(&[("bucket", s.bucket.clone().into()), ("region", s.region.clone().into()), ("credentials", creds)]);
        let e = Uploader::new(o(&[("s3", s3), ("multipart", o(&[(k, f.clone())]))]).unchecked_into()).err().unwrap_or_else(|| panic!("{k} accepted"));
        assert_eq!(get_str(&e, "code"), "invalid_input");
        assert!(get_str(&e, "message").starts_with(&format!("multipart.{k}:")), "{}", describe(&e));
    }
    let up = mp_uploader(&s, &s.secret_access_key, "sigv4-mp-small/", &[]);
    let small = file(1000, "small.txt", "text/plain");
    let r = ok(up.upload(small.clone().into(), None)).await;
    assert!(stored(&format!("sigv4-mp-small/{}/small.txt", get_str(&r, "fileUuid"))).await.0);
}

#[wasm_bindgen_test]
async fn a_200_complete_carrying_an_error_is_upload_rejected_and_aborted_once() {
    let s = store().await;
    // retries 0: the S3 error inside the 200 is not retried, so one complete, then the abort.
    let up = mp_uploader(&s, &s.secret_access_key, "sigv4-mp-complete-error/", &[]);
    arm(r#"{"match": "store_complete", "times": 5, "status": 200, "s3_code": "InternalError", "message": "We encountered an internal error. Please try again."}"#).await;
    let restore = record_store_calls("__mp_complete_error", &s.endpoint);
    let before = Counts::now().await;
    let e = fails_with(up.upload(file(6 * MIB, "complete-error.bin", "application/octet-stream").into(), fetch_opts(&[])), "upload_rejected").await;
    let deleted = wait_until(5000.0, || async { calls("__mp_complete_error").iter().any(|(m, _)| m == "DELETE") }).await;
    restore.call0(&JsValue::NULL).unwrap();
    let fired = before.grew("fault_status").await;
    clear_faults().await;
    assert_eq!(get_str(&e, "s3Code"), "InternalError", "{}", describe(&e));
    assert!(get_str(&e, "message").contains("CompleteMultipartUpload"), "{}", describe(&e));
    assert_eq!(fired, 1.0, "one complete was answered 200 with an <Error>");
    let log = calls("__mp_complete_error");
    let id = upload_id(&log);
    let completes = log.iter().filter(|(m, u)| m == "POST" && param(u, "uploadId").is_some()).count();
    let deletes: Vec<_> = log.iter().filter(|(m, _)| m == "DELETE").collect();
    assert!(deleted, "AbortMultipartUpload sent: {log:?}");
    assert_eq!((completes, deletes.len()), (1, 1), "one complete, one abort: {log:?}");
    assert_eq!(param(&deletes[0].1, "uploadId").as_deref(), Some(id.as_str()));
    assert!(!is_in_progress(&id).await, "the upload is still in progress");
}
