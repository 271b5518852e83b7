//! `HexnodeClient` from another origin when Hexnode's API sends no CORS headers at all: a
//! devserver started with `--api-no-cors` (`PU_NO_CORS_WEB_BASE`). The browser cannot read any
//! answer, so the call fails with no readable answer, and the message must say plainly that
//! the API may not allow other origins and point to `Uploader` with a backend. Bounded: a fast
//! retry policy and a short timeout, so a regression fails in seconds, not after a long loop.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use presigned_upload::bindings::{HexnodeClient, Uploader};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// What the message must say, in these words.
const NO_OTHER_ORIGINS: &str = "Hexnode's API may not allow calls from other origins";

/// The devserver whose API sends no CORS headers (`devserver --api-no-cors`).
#[allow(clippy::option_env_unwrap)]
fn no_cors_web_base() -> &'static str {
    option_env!("PU_NO_CORS_WEB_BASE")
        .expect("PU_NO_CORS_WEB_BASE is not set: run the browser tests through `npm test`, which starts a devserver with --api-no-cors")
}

/// One retry, 10 to 20 ms apart, 2 s per attempt: the whole call is over well within 5 s.
fn bounded_retry() -> wasm_bindgen::JsValue {
    o(&[("retries", 1.into()), ("minDelayMs", 10.into()), ("maxDelayMs", 20.into()), ("timeoutMs", 2000.into())])
}

fn counter(stats: &wasm_bindgen::JsValue, name: &str) -> f64 {
    get_num(stats, name)
}

#[wasm_bindgen_test]
async fn hexnode_api_without_cors_fails_fast_and_points_to_uploader_with_a_backend() {
    let web = no_cors_web_base();
    let c = config_of(web).await;
    let hx = HexnodeClient::new(
        o(&[("portal", c.api_base.clone().into()), ("apiKey", c.api_key.clone().into()), ("rateLimitPerMinute", 0.into()), ("retry", bounded_retry())])
            .unchecked_into(),
    )
    .unwrap_or_else(|e| panic!("constructor threw {}", describe(&e)));
    let before = stats_of(web).await;

    let started = js_sys::Date::now();
    let e = fails(hx.upload(file(1000, "no-cors.txt", "text/plain").into(), None)).await;
    let elapsed = js_sys::Date::now() - started;

    let message = get_str(&e, "message");
    assert_eq!(get_str(&e, "code"), "network", "{}", describe(&e));
    assert!(message.contains(NO_OTHER_ORIGINS), "the message does not say that the API may not allow other origins: {message}");
    assert!(message.contains("`Uploader`") && message.contains("backend"), "the message does not point to Uploader with a backend: {message}");
    assert!(!message.contains(&c.api_key) && !to_string(&e).contains(&c.api_key), "the message shows the API key: {message}");
    assert!(elapsed < 5000.0, "the failure took {elapsed} ms (bounded at 5 s)");

    // The browser never sent the presign POST (its preflight had no CORS answer), and no file
    // went to the store: the failure is CORS, not the API refusing the call.
    let after = stats_of(web).await;
    assert_eq!(counter(&after, "api_presign") - counter(&before, "api_presign"), 0.0, "the presign POST reached the API");
    assert_eq!(counter(&after, "store_put") - counter(&before, "store_put"), 0.0);
}

#[wasm_bindgen_test]
async fn the_advice_works_uploader_through_the_backend_uploads_against_the_same_api() {
    // The same devserver's sample backend calls the no-CORS API server-side, where CORS does
    // not apply: the mode the message points to works.
    let web = no_cors_web_base();
    let uploader = Uploader::new(
        o(&[
            ("presign", format!("{web}/backend/presign").into()),
            ("verify", format!("{web}/backend/verify").into()),
            ("credentials", "omit".into()),
            ("retry", bounded_retry()),
        ])
        .unchecked_into(),
    )
    .unwrap_or_else(|e| panic!("constructor threw {}", describe(&e)));
    let before = stats_of(web).await;
    let r = ok(uploader.upload(file(1000, "via-backend.txt", "text/plain").into(), None)).await;
    assert_eq!(get(&r, "verified").as_bool(), Some(true));
    let after = stats_of(web).await;
    assert_eq!(counter(&after, "api_presign") - counter(&before, "api_presign"), 1.0);
    assert_eq!(counter(&after, "api_verify") - counter(&before, "api_verify"), 1.0);
}

#[wasm_bindgen_test]
async fn a_backend_that_fails_unreadably_gets_no_hexnode_advice() {
    // The advice is for Hexnode's API only: an app's own backend that cannot be reached is
    // told as a network or CORS failure of that backend.
    // Port 1: nothing listens there (and browsers refuse the port), so fetch fails at once.
    let uploader = Uploader::new(o(&[("presign", "http://127.0.0.1:1/backend/presign".into()), ("retry", bounded_retry())]).unchecked_into())
    .unwrap_or_else(|e| panic!("constructor threw {}", describe(&e)));
    let started = js_sys::Date::now();
    let e = fails(uploader.upload(file(10, "nowhere.txt", "text/plain").into(), None)).await;
    assert!(js_sys::Date::now() - started < 5000.0);
    let message = get_str(&e, "message");
    assert!(!message.contains(NO_OTHER_ORIGINS), "{message}");
    assert!(message.contains("failed before an answer could be read"), "{message}");
}
