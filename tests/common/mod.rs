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

/// The number in `globalThis[name]` (0 when unset).
pub fn global_num(name: &str) -> f64 {
    get(&js_sys::global(), name).as_f64().unwrap_or(0.0)
}

/// A JS presign callback that asks the sample backend, with extra JSON fields (e.g. `expires_in`)
/// on the calls listed in `extra_on_calls` (1-based), and counts its calls in `globalThis[counter]`.
pub fn counting_presign(counter: &str, extra: &str, extra_on_calls: &[u32]) -> Function {
    let calls = js_sys::Array::new();
    for c in extra_on_calls {
        calls.push(&JsValue::from(*c));
    }
    let f = js_fn(
        "web, counter, extra, calls",
        "return async (req) => { globalThis[counter] = (globalThis[counter] || 0) + 1; const n = globalThis[counter];
           const body = Object.assign({ file_name: req.fileName, content_type: req.contentType }, calls.includes(n) ? JSON.parse(extra) : {});
           const r = await fetch(web + '/backend/presign', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
           if (!r.ok) throw new Error('backend presign answered ' + r.status);
           return r.json(); };",
    );
    f.apply(&JsValue::NULL, &js_sys::Array::of4(&web_base().into(), &counter.into(), &extra.into(), &calls)).unwrap().unchecked_into()
}

/// Counts calls of `fetch` and `XMLHttpRequest.prototype.send` in this page (or worker), to see which
/// transport ran. Returns the counters object and a function that restores both.
pub fn spy_transports() -> (JsValue, Function) {
    let counts = js_sys::Object::new();
    let restore: Function = js_fn(
        "c",
        "c.fetch = 0; c.xhr = 0; const f = globalThis.fetch; const s = XMLHttpRequest.prototype.send;
         globalThis.fetch = function () { c.fetch++; return f.apply(this, arguments); };
         XMLHttpRequest.prototype.send = function () { c.xhr++; return s.apply(this, arguments); };
         return () => { globalThis.fetch = f; XMLHttpRequest.prototype.send = s; };",
    )
    .call1(&JsValue::NULL, &counts)
    .unwrap()
    .unchecked_into();
    (counts.into(), restore)
}

// ---------------------------------------------------------------- fault injection (`--faults`)

/// Sends `method url` with an optional JSON body (given as JSON text); returns (status, parsed
/// body or null).
pub async fn send_json(method: &str, url: &str, json_text: Option<&str>) -> (u16, JsValue) {
    let mut fields = vec![("method", JsValue::from_str(method))];
    if let Some(text) = json_text {
        fields.push(("headers", o(&[("Content-Type", "application/json".into())])));
        fields.push(("body", text.into()));
    }
    let resp: web_sys::Response = JsFuture::from(fetch_init(url, &o(&fields))).await.unwrap().dyn_into().unwrap();
    let status = resp.status();
    let json = JsFuture::from(resp.json().unwrap()).await.unwrap_or(JsValue::NULL);
    (status, json)
}

/// Replaces the main devserver's fault script with `script` (JSON text, see
/// `devserver/src/faults.rs`); returns what `/__faults` shows afterwards.
pub async fn arm(script: &str) -> JsValue {
    let (status, v) = send_json("POST", &format!("{}/__faults", web_base()), Some(script)).await;
    assert_eq!(status, 200, "POST /__faults {script} answered {status}: {:?} (is the devserver started with --faults?)", js_sys::JSON::stringify(&v));
    v
}

/// Clears the fault script.
pub async fn clear_faults() {
    let (status, _) = send_json("DELETE", &format!("{}/__faults", web_base()), None).await;
    assert_eq!(status, 200, "DELETE /__faults answered {status}");
}

/// `GET /__faults`: the script still armed, `fired` counts and the `log` of fired faults.
pub async fn fault_state() -> JsValue {
    get_json(&format!("{}/__faults", web_base())).await
}

/// A snapshot of the main devserver's counters, to compare with a later one.
pub struct Counts(JsValue);

impl Counts {
    /// The counters now.
    pub async fn now() -> Self {
        Counts(stats().await)
    }

    /// How much counter `name` grew since this snapshot.
    pub async fn grew(&self, name: &str) -> f64 {
        stat(name).await - get_num(&self.0, name)
    }

    /// How much each of `names` grew since this snapshot, in order.
    pub async fn grew_all(&self, names: &[&str]) -> Vec<f64> {
        let later = stats().await;
        names.iter().map(|n| get_num(&later, n) - get_num(&self.0, n)).collect()
    }
}

/// Wraps a promise so that it always resolves, with `{ok, value | error, at}` where `at` is the
/// page's `Date.now()` when the promise settled (the time is taken in the page, not by the test).
pub fn timed(p: Promise) -> Promise {
    js_fn("p", "return p.then(value => ({ ok: true, value, at: Date.now() }), error => ({ ok: false, error, at: Date.now() }));")
        .call1(&JsValue::NULL, &p)
        .unwrap()
        .unchecked_into()
}

/// Polls `cond` every 10 ms for up to `ms`; true once it held.
pub async fn wait_until<F, Fut>(ms: f64, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = now() + ms;
    while now() < until {
        if cond().await {
            return true;
        }
        sleep_ms(10).await;
    }
    cond().await
}

/// `len` pseudo-random bytes (xorshift32 seeded with `seed`), as a JS Uint8Array filled by JS.
pub fn random_bytes(len: u32, seed: u32) -> Uint8Array {
    js_fn(
        "len, seed",
        "const a = new Uint8Array(len); let x = (seed >>> 0) || 0x9e3779b9;
         for (let i = 0; i < len; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; a[i] = x & 255; }
         return a;",
    )
    .call2(&JsValue::NULL, &JsValue::from(len), &JsValue::from(seed))
    .unwrap()
    .unchecked_into()
}

/// Shows `text` in the test run's output: `console.log` (captured by wasm-bindgen-test, shown
/// when the test fails or with `--nocapture`), and the headless runner's `#output` element,
/// whose text the runner prints as the run goes (so it shows for a passing test too).
pub fn report(text: &str) {
    js_fn(
        "t",
        "console.log(t); const out = globalThis.document && document.getElementById('output');
         // With --nocapture the runner already sends console.log to #output.
         const shown = typeof nocapture !== 'undefined' && nocapture;
         if (out && !shown) out.appendChild(document.createTextNode(t + '\\n'));",
    )
    .call1(&JsValue::NULL, &JsValue::from_str(text))
    .unwrap();
}

/// The store's address and dev keys, from `/config.json`.
pub struct Store {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Reads the store's address and dev keys.
pub async fn store() -> Store {
    let c = get_json(&format!("{}/config.json", web_base())).await;
    Store {
        endpoint: get_str(&c, "s3_endpoint"),
        bucket: get_str(&c, "bucket"),
        region: get_str(&c, "region"),
        access_key_id: get_str(&c, "access_key_id"),
        secret_access_key: get_str(&c, "secret_access_key"),
    }
}
