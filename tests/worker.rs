//! The same package in a dedicated Web Worker: no `window`, so `fetch` and timers must be the
//! global ones.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use presigned_upload::bindings::HexnodeClient;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
async fn uploads_work_in_a_dedicated_worker_with_both_transports() {
    assert!(js_sys::Reflect::get(&js_sys::global(), &"window".into()).unwrap().is_undefined(), "this runs in a worker");
    let c = config().await;
    let client = HexnodeClient::new(o(&[("portal", c.api_base.clone().into()), ("apiKey", c.api_key.clone().into())]).unchecked_into()).unwrap();
    for transport in ["fetch", "xhr"] {
        let (counts, restore) = spy_transports();
        let log = js_sys::Array::new();
        let cb: js_sys::Function = js_fn("log", "return (p) => log.push(p.phase + ':' + p.loaded);").call1(&JsValue::NULL, &log).unwrap().unchecked_into();
        let f = file(2048, "worker.txt", "text/plain");
        let r = ok(client.upload(f.clone().into(), Some(o(&[("transport", transport.into()), ("onProgress", cb.into())]).unchecked_into()))).await;
        restore.call0(&JsValue::NULL).unwrap();
        // The API calls (presign, verify) always go through fetch; the PUT through the
        // transport asked for.
        let (fetches, xhrs) = (get_num(&counts, "fetch"), get_num(&counts, "xhr"));
        assert_eq!((fetches, xhrs), if transport == "fetch" { (3.0, 0.0) } else { (2.0, 1.0) }, "{transport}: fetch and XHR sends in the worker");
        assert_eq!(get(&r, "verified").as_bool(), Some(true), "{transport}");
        let (_, size, sha) = object(&get_str(&r, "fileUuid")).await;
        assert_eq!(size, 2048.0);
        assert_eq!(sha, sha256_hex(&f).await);
        let entries: Vec<String> = log.iter().filter_map(|v| v.as_string()).collect();
        assert!(entries.contains(&"upload:2048".to_owned()), "{transport}: {entries:?}");
    }
}

#[wasm_bindgen_test]
async fn retry_waits_use_the_global_timer_in_a_worker() {
    let t = now();
    let e = fails(presigned_upload::bindings::put_file(
        "http://127.0.0.1:9/b/k".into(),
        blob(3, "text/plain").into(),
        Some(o(&[("retry", o(&[("retries", 1.into()), ("minDelayMs", 100.into()), ("maxDelayMs", 100.into())]))]).unchecked_into()),
    ))
    .await;
    assert_eq!(get_str(&e, "code"), "network");
    let took = now() - t;
    assert!(took >= 100.0, "waited the 100 ms retry delay: {took} ms");
    assert!(took < 15_000.0, "then gave up: {took} ms");
}
