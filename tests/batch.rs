//! Browser tests of `uploadAll` against the devserver.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use js_sys::{Array, Function};
use presigned_upload::bindings::{HexnodeClient, Uploader};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn backend_uploader() -> Uploader {
    let web = web_base();
    Uploader::new(
        o(&[("presign", format!("{web}/backend/presign").into()), ("verify", format!("{web}/backend/verify").into()), ("credentials", "omit".into())]).unchecked_into(),
    )
    .unwrap()
}

async fn hexnode(web: &str, extra: &[(&str, JsValue)]) -> HexnodeClient {
    let c = config_of(web).await;
    let mut fields: Vec<(&str, JsValue)> = vec![("portal", c.api_base.into()), ("apiKey", c.api_key.into())];
    fields.extend(extra.iter().cloned());
    HexnodeClient::new(o(&fields).unchecked_into()).unwrap()
}

fn entries(v: &JsValue) -> Vec<JsValue> {
    assert!(Array::is_array(v), "uploadAll resolves with an array");
    v.unchecked_ref::<Array>().iter().collect()
}

#[wasm_bindgen_test]
async fn every_input_gets_one_entry_in_order_and_a_failure_does_not_stop_the_others() {
    let files = Array::new();
    files.push(&file(100, "a.txt", "text/plain"));
    files.push(&JsValue::from_str("not a file"));
    files.push(&file(200, "b.txt", "text/plain"));
    files.push(&blob(5, "text/plain")); // a Blob has no name
    files.push(&file(300, "c.txt", "text/plain"));
    let out = ok(backend_uploader().upload_all(files.into(), Some(o(&[("concurrency", 2.into())]).unchecked_into()))).await;
    let out = entries(&out);
    assert_eq!(out.len(), 5);
    let expect_ok = [Some(("a.txt", 100.0)), None, Some(("b.txt", 200.0)), None, Some(("c.txt", 300.0))];
    for (i, (e, want)) in out.iter().zip(expect_ok).enumerate() {
        match want {
            Some((name, size)) => {
                assert_eq!(get(e, "ok").as_bool(), Some(true), "entry {i}: {}", describe(&get(e, "error")));
                let r = get(e, "result");
                assert_eq!(get_str(&r, "fileName"), name);
                assert_eq!(get_num(&r, "size"), size);
                let (exists, stored, _) = object(&get_str(&r, "fileUuid")).await;
                assert!(exists && stored == size, "entry {i} is really stored");
            }
            None => {
                assert_eq!(get(e, "ok").as_bool(), Some(false), "entry {i}");
                assert_eq!(get_str(&get(e, "error"), "code"), "invalid_input");
                assert_eq!(get_str(&get(e, "error"), "name"), "UploadError");
                let msg = get_str(&get(e, "error"), "message");
                assert!(msg.starts_with(&format!("files[{i}]")), "entry {i}: the error names the entry: {msg}");
            }
        }
    }
}

#[wasm_bindgen_test]
async fn blobs_go_as_entries_with_a_file_name() {
    let entry = |file: JsValue, fields: &[(&str, JsValue)]| {
        let mut all = vec![("file", file)];
        all.extend(fields.iter().cloned());
        o(&all)
    };
    let files = Array::new();
    files.push(&entry(blob(64, "").into(), &[("fileName", "from-blob.csv".into()), ("contentType", "text/csv".into())]));
    files.push(&entry(blob(10, "text/plain").into(), &[]));
    files.push(&entry(file(30, "own-name.txt", "text/plain").into(), &[("fileName", "renamed.txt".into())]));
    files.push(&entry(JsValue::from_str("not a blob"), &[("fileName", "x".into())]));
    files.push(&entry(blob(10, "text/plain").into(), &[("fileName", 5.into())]));
    let before = Counts::now().await;
    let out = entries(&ok(backend_uploader().upload_all(files.into(), None)).await);
    assert_eq!(out.len(), 5);
    let r = get(&out[0], "result");
    assert_eq!(get(&out[0], "ok").as_bool(), Some(true), "{}", describe(&get(&out[0], "error")));
    assert_eq!((get_str(&r, "fileName"), get_str(&r, "contentType"), get_num(&r, "size")), ("from-blob.csv".to_owned(), "text/csv".to_owned(), 64.0));
    assert!(object(&get_str(&r, "fileUuid")).await.0, "the Blob is stored");
    let r = get(&out[2], "result");
    assert_eq!(get(&out[2], "ok").as_bool(), Some(true), "{}", describe(&get(&out[2], "error")));
    assert_eq!(get_str(&r, "fileName"), "renamed.txt");
    for (i, field) in [(1, "files[1].fileName"), (3, "files[3].file"), (4, "files[4].fileName")] {
        let e = get(&out[i], "error");
        assert_eq!(get_str(&e, "code"), "invalid_input", "entry {i}");
        assert!(get_str(&e, "message").starts_with(field), "entry {i} names {field}: {}", describe(&e));
    }
    assert_eq!(before.grew_all(&["backend_presign", "store_put"]).await, vec![2.0, 2.0], "refused entries send nothing");
}

#[wasm_bindgen_test]
async fn never_more_than_concurrency_uploads_at_once() {
    let files = Array::new();
    for i in 0..7 {
        files.push(&file(256 * 1024, &format!("c{i}.bin"), "application/octet-stream"));
    }
    let state = js_sys::Object::new();
    let on_file: Function = js_fn(
        "s",
        "s.active = new Set(); s.max = 0; s.started = 0; return (i, p) => {
           if (p.phase === 'presign' && p.loaded === 0) { s.active.add(i); s.started++; s.max = Math.max(s.max, s.active.size); }
           if (p.phase === 'verify' && p.loaded === p.total) { s.active.delete(i); } };",
    )
    .call1(&JsValue::NULL, &state)
    .unwrap()
    .unchecked_into();
    let totals = Array::new();
    let on_total: Function = js_fn("log", "return (p) => log.push(Object.assign({}, p));").call1(&JsValue::NULL, &totals).unwrap().unchecked_into();
    let out = ok(backend_uploader().upload_all(
        files.into(),
        Some(o(&[("concurrency", 3.into()), ("onFileProgress", on_file.into()), ("onProgress", on_total.into())]).unchecked_into()),
    ))
    .await;
    assert!(entries(&out).iter().all(|e| get(e, "ok").as_bool() == Some(true)));
    assert_eq!(get_num(&state, "started"), 7.0);
    assert_eq!(get_num(&state, "max"), 3.0, "at most 3 at once, and the pool was used");
    let last = totals.get(totals.length() - 1);
    assert_eq!(get_num(&last, "count"), 7.0);
    assert_eq!(get_num(&last, "done"), 7.0);
    assert_eq!(get_num(&last, "failed"), 0.0);
    assert_eq!(get_num(&last, "loaded"), get_num(&last, "total"));
    assert_eq!(get_num(&last, "total"), 7.0 * 256.0 * 1024.0);
    let mut prev = -1.0;
    for t in totals.iter() {
        let l = get_num(&t, "loaded");
        assert!(l >= prev, "batch progress never goes back");
        prev = l;
    }
}

#[wasm_bindgen_test]
async fn a_hexnode_batch_shares_the_rate_limiter_and_meets_no_429() {
    // The second devserver allows 10 API calls a second. The client keeps a margin (8 in 1.5 s)
    // so that requests that a loaded machine delays and then sends in a bunch still arrive
    // within the server's limit; without the shared limiter, 20 files (40 calls, 6 at once) would
    // meet 429s at once.
    let web = limited_web_base();
    let client = hexnode(web, &[("rateLimitPerMinute", 8.into()), ("rateLimitWindowMs", 1500.into())]).await;
    sleep_ms(1500).await;
    let before = get_num(&stats_of(web).await, "api_429");
    let files = Array::new();
    for i in 0..20 {
        files.push(&file(1000 + i, &format!("r{i}.txt"), "text/plain"));
    }
    let out = ok(client.upload_all(files.into(), Some(o(&[("concurrency", 6.into())]).unchecked_into()))).await;
    let out = entries(&out);
    assert_eq!(out.len(), 20);
    for (i, e) in out.iter().enumerate() {
        assert_eq!(get(e, "ok").as_bool(), Some(true), "file {i}: {}", describe(&get(e, "error")));
        assert_eq!(get_num(&get(e, "result"), "size"), 1000.0 + i as f64);
    }
    assert_eq!(get_num(&stats_of(web).await, "api_429"), before, "the server never had to throttle");
}

#[wasm_bindgen_test]
async fn abort_mid_batch_keeps_finished_ones_and_aborts_the_rest() {
    let files = Array::new();
    for i in 0..8 {
        files.push(&file(2 * 1024 * 1024, &format!("ab{i}.bin"), "application/octet-stream"));
    }
    let ctl = web_sys::AbortController::new().unwrap();
    let on_total: Function = js_fn("ctl", "return (p) => { if (p.done >= 2 && !ctl.signal.aborted) ctl.abort(); };").call1(&JsValue::NULL, &ctl).unwrap().unchecked_into();
    let verifies = stat("backend_verify").await;
    let out = ok(backend_uploader().upload_all(
        files.into(),
        Some(o(&[("concurrency", 2.into()), ("signal", ctl.signal().into()), ("onProgress", on_total.into())]).unchecked_into()),
    ))
    .await;
    let out = entries(&out);
    assert_eq!(out.len(), 8);
    let oks = out.iter().filter(|e| get(e, "ok").as_bool() == Some(true)).count();
    assert!((2..8).contains(&oks), "{oks} finished before the abort");
    for e in out.iter().filter(|e| get(e, "ok").as_bool() == Some(false)) {
        assert_eq!(get_str(&get(e, "error"), "code"), "aborted");
    }
    for e in out.iter().filter(|e| get(e, "ok").as_bool() == Some(true)) {
        let (exists, _, _) = object(&get_str(&get(e, "result"), "fileUuid")).await;
        assert!(exists);
    }
    sleep_ms(200).await;
    assert_eq!(stat("backend_verify").await - verifies, oks as f64, "only finished files were verified");
}

#[wasm_bindgen_test]
async fn bad_batch_options_are_invalid_input() {
    let up = backend_uploader();
    let e = fails_with(up.upload_all(Array::new().into(), Some(o(&[("concurrency", 17.into())]).unchecked_into())), "invalid_input").await;
    assert!(get_str(&e, "message").contains("concurrency"));
    let e = fails_with(up.upload_all(JsValue::from_str("files"), None), "invalid_input").await;
    assert!(get_str(&e, "message").contains("files"));
    let out = ok(up.upload_all(Array::new().into(), None)).await;
    assert_eq!(entries(&out).len(), 0);
}
