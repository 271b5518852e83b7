//! Presigning inside wasm in a dedicated Web Worker: the uuid comes from the global `crypto`,
//! and the credentials callback, fetch and timers are the worker's own.
#![cfg(all(target_arch = "wasm32", feature = "full"))]

mod common;

use common::*;
use presigned_upload::bindings::Uploader;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
async fn a_put_signed_in_a_worker_is_accepted_by_the_store() {
    assert!(js_sys::Reflect::get(&js_sys::global(), &"window".into()).unwrap().is_undefined(), "this runs in a worker");
    let web = web_base();
    let c = get_json(&format!("{web}/config.json")).await;
    let credentials = js_fn("web", "return () => fetch(web + '/backend/credentials', { method: 'POST' }).then(r => r.json());").call1(&JsValue::NULL, &web.into()).unwrap();
    let s3 = o(&[
        ("bucket", get(&c, "bucket")),
        ("region", get(&c, "region")),
        ("endpoint", get(&c, "s3_endpoint")),
        ("forcePathStyle", true.into()),
        ("keyPrefix", "sigv4-worker/".into()),
        ("credentials", credentials),
    ]);
    let up = Uploader::new(o(&[("s3", s3)]).unchecked_into()).unwrap_or_else(|e| panic!("constructor threw {}", describe(&e)));
    for transport in ["fetch", "xhr"] {
        let f = file(1500, "worker file.txt", "text/plain");
        let r = ok(up.upload(f.clone().into(), Some(o(&[("transport", transport.into())]).unchecked_into()))).await;
        let uuid = get_str(&r, "fileUuid");
        assert_eq!(uuid.len(), 36, "{uuid}");
        let v = get_json(&format!("{web}/__dev/object/sigv4-worker/{uuid}/worker%20file.txt")).await;
        assert_eq!(get(&v, "exists").as_bool(), Some(true), "{transport}");
        assert_eq!(get_str(&v, "sha256"), sha256_hex(&f).await, "{transport}");
    }
}
