//! Batches: a pool that runs at most `concurrency` tasks at once and keeps one result per
//! input, in input order.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::error::UploadError;
use crate::platform;

/// What one task ends with.
pub(crate) type TaskResult = Result<JsValue, UploadError>;

/// Runs `task(i)` for every `i < count`, at most `concurrency` at once. One task failing does
/// not stop the others; once `signal` fires, tasks that have not started end as `aborted`
/// without starting (running ones see the same signal). Every index gets exactly one result.
pub(crate) async fn run_pool<F, Fut>(count: usize, concurrency: usize, signal: Option<AbortSignal>, task: F) -> Vec<TaskResult>
where
    F: Fn(usize) -> Fut + 'static,
    Fut: Future<Output = TaskResult> + 'static,
{
    let results: Rc<RefCell<Vec<Option<TaskResult>>>> = Rc::new(RefCell::new(vec![None; count]));
    let next = Rc::new(Cell::new(0usize));
    let task = Rc::new(task);
    let workers = Array::new();
    for _ in 0..concurrency.clamp(1, count.max(1)) {
        let (results, next, task, signal) = (results.clone(), next.clone(), task.clone(), signal.clone());
        let worker: Promise = crate::platform::spawn_promise(async move {
            loop {
                let i = next.get();
                if i >= count {
                    break;
                }
                next.set(i + 1);
                let r = if platform::is_aborted(signal.as_ref()) { Err(UploadError::aborted()) } else { task(i).await };
                if let Some(slot) = results.borrow_mut().get_mut(i) {
                    *slot = Some(r);
                }
            }
            Ok(JsValue::UNDEFINED)
        });
        workers.push(&worker);
    }
    // Workers never reject: every task's error is kept as its result.
    let _ = JsFuture::from(Promise::all(&workers)).await;
    let taken = std::mem::take(&mut *results.borrow_mut());
    taken.into_iter().map(|r| r.unwrap_or_else(|| Err(UploadError::aborted()))).collect()
}
