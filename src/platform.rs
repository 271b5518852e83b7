//! What the browser (window or Web Worker) gives us: the clock, randomness, timers, `fetch`,
//! and the abort glue. Everything here binds globals, never `window`, so that the same code
//! runs in a dedicated Web Worker.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal};

use crate::error::UploadError;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: i32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_name = fetch)]
    pub(crate) fn global_fetch(input: &web_sys::Request) -> Promise;
}

/// A boxed local future. Shared async steps return one, so that each is compiled once and
/// awaited through a pointer, instead of being inlined into every state machine that awaits it.
pub(crate) type Boxed<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

/// A boxed, local future that settles a JS promise.
type PromiseFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>>;

/// Runs `fut` and returns its JS promise. The future is boxed so that `future_to_promise` and its
/// glue are compiled once for the whole crate, not once per call site (a few KB of .wasm).
pub(crate) fn spawn_promise(fut: impl std::future::Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    wasm_bindgen_futures::future_to_promise(Box::pin(fut) as PromiseFuture)
}

/// Milliseconds since the Unix epoch, from the JS clock.
pub(crate) fn now_ms() -> u64 {
    js_sys::Date::now().max(0.0) as u64
}

/// A random number in `0.0..1.0`, for retry jitter.
pub(crate) fn jitter() -> f64 {
    js_sys::Math::random()
}

fn clamp_timer(ms: u64) -> i32 {
    ms.min(i32::MAX as u64) as i32
}

/// Whether this is a browser (a window or a Web Worker), where CORS applies and a console shows
/// its messages. Node.js has neither: a bare fetch failure there is the network's.
pub(crate) fn in_browser() -> bool {
    let g = js_sys::global();
    ["document", "WorkerGlobalScope"].iter().any(|k| js_sys::Reflect::has(&g, &JsValue::from_str(k)).unwrap_or(false))
}

/// The body hook that the Node.js entry installs (`Symbol.for("presigned-upload.body")`):
/// `hook(init, blob, onProgress | null)` sets the PUT's body on the fetch `init` (with progress:
/// a byte-counting stream, `duplex` and a `Content-Length`). Absent in browsers.
pub(crate) fn body_hook() -> Option<Function> {
    js_sys::Reflect::get(&js_sys::global(), &js_sys::Symbol::for_("presigned-upload.body")).ok()?.dyn_into().ok()
}

/// True when `signal` is present and already aborted.
pub(crate) fn is_aborted(signal: Option<&AbortSignal>) -> bool {
    signal.is_some_and(|s| s.aborted())
}

/// Fails with `aborted` when the signal has fired.
pub(crate) fn check_abort(signal: Option<&AbortSignal>) -> Result<(), UploadError> {
    if is_aborted(signal) {
        Err(UploadError::aborted())
    } else {
        Ok(())
    }
}

/// A `this`-bound method of a JS object, as a function value.
pub(crate) fn bound_method(obj: &JsValue, name: &str) -> Option<Function> {
    let f = js_sys::Reflect::get(obj, &JsValue::from_str(name)).ok()?;
    let f: Function = f.dyn_into().ok()?;
    Some(f.bind0(obj))
}

/// Awaits `promise`, but settles with `Err(aborted)` as soon as `signal` fires.
/// The abort listener is removed again whichever way it ends.
pub(crate) fn race_abort(promise: Promise, signal: Option<&AbortSignal>) -> Boxed<'_, Result<Result<JsValue, JsValue>, UploadError>> {
    Box::pin(race_abort_inner(promise, signal))
}

async fn race_abort_inner(promise: Promise, signal: Option<&AbortSignal>) -> Result<Result<JsValue, JsValue>, UploadError> {
    check_abort(signal)?;
    let Some(signal) = signal else {
        return Ok(JsFuture::from(promise).await);
    };
    let mut reject_fn: Option<Function> = None;
    let abort_promise = Promise::new(&mut |_resolve, reject| {
        reject_fn = Some(reject);
    });
    // The executor runs synchronously, so the reject function is always there.
    let Some(listener) = reject_fn else {
        return Ok(JsFuture::from(promise).await);
    };
    let _ = signal.add_event_listener_with_callback("abort", &listener);
    let race = Promise::race(&js_sys::Array::of2(&promise, &abort_promise));
    let out = JsFuture::from(race).await;
    let _ = signal.remove_event_listener_with_callback("abort", &listener);
    if signal.aborted() {
        return Err(UploadError::aborted());
    }
    Ok(out)
}

/// Sleeps `ms` milliseconds, or fails with `aborted` at once when `signal` fires.
pub(crate) fn sleep(ms: u64, signal: Option<&AbortSignal>) -> Boxed<'_, Result<(), UploadError>> {
    Box::pin(sleep_inner(ms, signal))
}

async fn sleep_inner(ms: u64, signal: Option<&AbortSignal>) -> Result<(), UploadError> {
    check_abort(signal)?;
    if ms == 0 {
        return Ok(());
    }
    let mut timer = JsValue::UNDEFINED;
    let promise = Promise::new(&mut |resolve, _reject| {
        timer = set_timeout(&resolve, clamp_timer(ms));
    });
    let out = race_abort(promise, signal).await;
    clear_timeout(&timer);
    out.map(|_| ())
}

/// One operation's own abort controller, linked to the caller's signal and to an optional
/// timeout. Dropping it removes the listener, clears the timer and aborts whatever is still
/// in flight (a future that is dropped cancels its request).
pub(crate) struct AbortLink {
    controller: AbortController,
    user: Option<AbortSignal>,
    forward: Option<Function>,
    timer: Option<JsValue>,
}

impl AbortLink {
    /// Links a new controller to `user` and, when `timeout_ms > 0`, to a timer.
    pub(crate) fn new(user: Option<&AbortSignal>, timeout_ms: u64) -> Result<Self, UploadError> {
        let controller = AbortController::new()
            .map_err(|_| UploadError::new(crate::error::ErrorCode::Network, "AbortController is not available in this environment."))?;
        let abort_fn = bound_method(controller.as_ref(), "abort");
        let mut forward = None;
        if let (Some(sig), Some(f)) = (user, abort_fn.as_ref()) {
            if sig.aborted() {
                controller.abort();
            } else {
                let _ = sig.add_event_listener_with_callback("abort", f);
                forward = Some(f.clone());
            }
        }
        let timer = match (timeout_ms, abort_fn.as_ref()) {
            (0, _) | (_, None) => None,
            (ms, Some(f)) => Some(set_timeout(f, clamp_timer(ms))),
        };
        Ok(AbortLink { controller, user: user.cloned(), forward, timer })
    }

    /// The signal to hand to fetch.
    pub(crate) fn signal(&self) -> AbortSignal {
        self.controller.signal()
    }

    /// Whether the caller aborted (as opposed to the timeout firing).
    pub(crate) fn user_aborted(&self) -> bool {
        is_aborted(self.user.as_ref())
    }

    /// Whether the operation's own signal fired (user abort or timeout).
    pub(crate) fn fired(&self) -> bool {
        self.controller.signal().aborted()
    }
}

impl Drop for AbortLink {
    fn drop(&mut self) {
        if let (Some(sig), Some(f)) = (self.user.as_ref(), self.forward.as_ref()) {
            let _ = sig.remove_event_listener_with_callback("abort", f);
        }
        if let Some(t) = self.timer.take() {
            clear_timeout(&t);
        }
        self.controller.abort();
    }
}

/// The `name` and `message` of a thrown JS value, for classification.
pub(crate) fn js_error_parts(err: &JsValue) -> (String, String) {
    let get = |k: &str| {
        js_sys::Reflect::get(err, &JsValue::from_str(k))
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    if let Some(s) = err.as_string() {
        return (String::new(), s);
    }
    (get("name"), get("message"))
}
