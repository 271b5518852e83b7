//! Shared helpers for the browser tests: the devserver's addresses (passed in at compile time
//! by `npm test`), JS object building, Blobs, and the devserver's request counters.
#![allow(dead_code)]

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, File};

/// The main devserver's web base (`http://127.0.0.1:PORT`), passed in at compile time. A test
/// run without it fails with this message (it is never skipped).
#[allow(clippy::option_env_unwrap)]
pub fn web_base() -> &'static str {
    option_env!("PU_WEB_BASE").expect("PU_WEB_BASE is not set: run the browser tests through `npm test`, which starts the devserver")
}

/// A second devserver started with a small `--rate-limit` window.
#[allow(clippy::option_env_unwrap)]
pub fn limited_web_base() -> &'static str {
    option_env!("PU_LIMITED_WEB_BASE").expect("PU_LIMITED_WEB_BASE is not set: run the browser tests through `npm test`")
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_str(url: &str) -> Promise;
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_init(url: &str, init: &JsValue) -> Promise;
}

/// Builds a JS object from pairs.
pub fn o(fields: &[(&str, JsValue)]) -> JsValue {
    let obj = Object::new();
    for (k, v) in fields {
        Reflect::set(&obj, &JsValue::from_str(k), v).unwrap();
    }
    obj.into()
}

/// Reads a property.
pub fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

/// Reads a string property (panics with the property name when it is not a string).
pub fn get_str(v: &JsValue, k: &str) -> String {
    get(v, k).as_string().unwrap_or_else(|| panic!("{k} is not a string: {:?}", get(v, k)))
}

/// Reads a number property.
pub fn get_num(v: &JsValue, k: &str) -> f64 {
    get(v, k).as_f64().unwrap_or_else(|| panic!("{k} is not a number: {:?}", get(v, k)))
}

/// GETs a JSON document.
pub async fn get_json(url: &str) -> JsValue {
    let resp: web_sys::Response = JsFuture::from(fetch_str(url)).await.unwrap().dyn_into().unwrap();
    assert!(resp.ok(), "GET {url} answered {}", resp.status());
    JsFuture::from(resp.json().unwrap()).await.unwrap()
}

/// POSTs JSON and returns (status, parsed body).
pub async fn post_json(url: &str, body: &JsValue) -> (u16, JsValue) {
    let headers = o(&[("Content-Type", "application/json".into())]);
    let init = o(&[
        ("method", "POST".into()),
        ("headers", headers),
        ("body", js_sys::JSON::stringify(body).unwrap().into()),
    ]);
    let resp: web_sys::Response = JsFuture::from(fetch_init(url, &init)).await.unwrap().dyn_into().unwrap();
    let status = resp.status();
    let json = JsFuture::from(resp.json().unwrap()).await.unwrap_or(JsValue::NULL);
    (status, json)
}

/// The devserver's `/config.json`: `api_base`, `api_key`, `s3_endpoint`, `bucket`.
pub struct Config {
    pub web: String,
    pub api_base: String,
    pub api_key: String,
    pub s3_endpoint: String,
}

pub async fn config_of(web: &str) -> Config {
    let c = get_json(&format!("{web}/config.json")).await;
    Config { web: web.to_owned(), api_base: get_str(&c, "api_base"), api_key: get_str(&c, "api_key"), s3_endpoint: get_str(&c, "s3_endpoint") }
}

pub async fn config() -> Config {
    config_of(web_base()).await
}

/// The devserver's request counters.
pub async fn stats_of(web: &str) -> JsValue {
    get_json(&format!("{web}/__dev/stats")).await
}

pub async fn stats() -> JsValue {
    stats_of(web_base()).await
}

/// One counter.
pub async fn stat(name: &str) -> f64 {
    get_num(&stats().await, name)
}

/// What the store holds under `key`: (exists, size, sha256 hex).
pub async fn object(key: &str) -> (bool, f64, String) {
    let v = get_json(&format!("{}/__dev/object/{key}", web_base())).await;
    (get(&v, "exists").as_bool().unwrap_or(false), get(&v, "size").as_f64().unwrap_or(-1.0), get(&v, "sha256").as_string().unwrap_or_default())
}

/// `len` bytes of a repeating pattern, as a JS Uint8Array (never in wasm memory for big sizes:
/// filled by JS).
pub fn bytes(len: u32, seed: u8) -> Uint8Array {
    let f = Function::new_with_args(
        "len, seed",
        "const a = new Uint8Array(len); for (let i = 0; i < len; i++) a[i] = (i * 31 + seed) & 255; return a;",
    );
    f.call2(&JsValue::NULL, &JsValue::from(len), &JsValue::from(seed)).unwrap().unchecked_into()
}

/// A Blob of `len` bytes with a MIME type.
pub fn blob(len: u32, mime: &str) -> Blob {
    js_fn("a, t", "return new Blob([a], { type: t });").call2(&JsValue::NULL, &bytes(len, 7), &JsValue::from_str(mime)).unwrap().unchecked_into()
}

/// A File of `len` bytes.
pub fn file(len: u32, name: &str, mime: &str) -> File {
    js_fn("a, n, t", "return new File([a], n, { type: t });")
        .call3(&JsValue::NULL, &bytes(len, 3), &JsValue::from_str(name), &JsValue::from_str(mime))
        .unwrap()
        .unchecked_into()
}

/// SHA-256 of a Blob, hex, computed by the browser.
pub async fn sha256_hex(b: &Blob) -> String {
    let f = Function::new_with_args(
        "b",
        "return b.arrayBuffer().then(buf => crypto.subtle.digest('SHA-256', buf)).then(d => Array.from(new Uint8Array(d)).map(x => x.toString(16).padStart(2, '0')).join(''));",
    );
    let p: Promise = f.call1(&JsValue::NULL, b).unwrap().unchecked_into();
    JsFuture::from(p).await.unwrap().as_string().unwrap()
}

/// Awaits a promise that must resolve.
pub async fn ok(p: Promise) -> JsValue {
    match JsFuture::from(p).await {
        Ok(v) => v,
        Err(e) => panic!("expected success, got {}", describe(&e)),
    }
}

/// Awaits a promise that must reject with an UploadError; returns the error.
pub async fn fails(p: Promise) -> JsValue {
    match JsFuture::from(p).await {
        Ok(v) => panic!("expected an UploadError, got success: {:?}", js_sys::JSON::stringify(&v)),
        Err(e) => {
            assert_eq!(get_str(&e, "name"), "UploadError", "rejected with something else: {}", describe(&e));
            assert!(e.is_instance_of::<js_sys::Error>(), "an UploadError must be an Error");
            e
        }
    }
}

/// Awaits a promise that must reject with `code`.
pub async fn fails_with(p: Promise, code: &str) -> JsValue {
    let e = fails(p).await;
    assert_eq!(get_str(&e, "code"), code, "wrong code: {}", describe(&e));
    e
}

/// `code: message` of a thrown value, for assertion messages.
pub fn describe(e: &JsValue) -> String {
    let code = get(e, "code").as_string().unwrap_or_default();
    let msg = get(e, "message").as_string().unwrap_or_else(|| format!("{e:?}"));
    format!("[{code}] {msg}")
}

/// `String(e)`: what `toString()` shows.
pub fn to_string(e: &JsValue) -> String {
    js_sys::JsString::from(e.clone()).as_string().unwrap_or_default()
}

/// Sleeps in the browser.
pub async fn sleep_ms(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        let g = js_sys::global();
        let st: Function = Reflect::get(&g, &"setTimeout".into()).unwrap().unchecked_into();
        st.call2(&g, &resolve, &JsValue::from(ms)).unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// A JS function from source (test glue only).
pub fn js_fn(args: &str, body: &str) -> Function {
    Function::new_with_args(args, body)
}

/// The current time in ms.
pub fn now() -> f64 {
    js_sys::Date::now()
}
