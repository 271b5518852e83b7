//! Uploads as tasks that can be paused and resumed (`Uploader.createUpload`). A file below the
//! multipart threshold (or any file in the core build) is one PUT through the upload flow;
//! the full build sends larger files in parts ([`parts`]).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortController, AbortSignal, Blob, File};

use crate::error::{ErrorCode, UploadError};
use crate::flow::{self, Progress, PutDone, UploadJob};
use crate::hexnode::Presigned;
use crate::input;
use crate::opts::{js_error, upload_result, Opts};
use crate::platform;
use crate::source::Source;
use crate::transport::{self, TransportKind};

#[wasm_bindgen(typescript_custom_section)]
const TS_TASK: &'static str = r#"
/** Where an `UploadTask` is. */
export type UploadTaskState = "idle" | "running" | "paused" | "done" | "failed" | "aborted";
"#;

#[cfg(feature = "full")]
mod parts;
#[cfg(feature = "full")]
pub(crate) use parts::{read_multipart, MultipartCore};
#[cfg(feature = "full")]
use parts::Multi;
#[cfg(feature = "full")]
pub(crate) mod keep;

/// The `multipart` option is part of the full build only; the core build has no such state.
#[cfg(not(feature = "full"))]
pub(crate) enum MultipartCore {}

/// In the core build `opts.multipart` is refused with the entry that has it.
#[cfg(not(feature = "full"))]
pub(crate) fn read_multipart(opts: &JsValue, _signed_in_browser: bool) -> Result<Option<Rc<MultipartCore>>, UploadError> {
    let o = Opts::new(opts, "opts")?;
    match (o.raw("multipart"), o.raw("resume")) {
        (None, None) => Ok(None),
        (Some(_), _) => Err(UploadError::invalid_input("opts.multipart", crate::error::FULL_BUILD_ONLY)),
        (None, Some(_)) => Err(UploadError::invalid_input("opts.resume", crate::error::FULL_BUILD_ONLY)),
    }
}

// ---- abort plumbing -----------------------------------------------------------------------

/// An abort controller that also fires when `parent` fires. Dropping it unhooks the listener
/// and aborts whatever still uses its signal.
struct Linked {
    controller: AbortController,
    parent: Option<AbortSignal>,
    forward: Option<Function>,
}

impl Linked {
    fn new(parent: Option<&AbortSignal>) -> Result<Self, UploadError> {
        let controller = AbortController::new().map_err(|_| UploadError::new(ErrorCode::Network, "AbortController is not available in this environment."))?;
        let mut forward = None;
        if let (Some(p), Some(f)) = (parent, platform::bound_method(controller.as_ref(), "abort")) {
            if p.aborted() {
                controller.abort();
            } else {
                let _ = p.add_event_listener_with_callback("abort", &f);
                forward = Some(f);
            }
        }
        Ok(Linked { controller, parent: parent.cloned(), forward })
    }

    fn signal(&self) -> AbortSignal {
        self.controller.signal()
    }
}

impl Drop for Linked {
    fn drop(&mut self) {
        if let (Some(p), Some(f)) = (self.parent.as_ref(), self.forward.as_ref()) {
            let _ = p.remove_event_listener_with_callback("abort", f);
        }
        self.controller.abort();
    }
}

// ---- tasks --------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Running,
    Paused,
    Done,
    Failed,
    Aborted,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Running => "running",
            State::Paused => "paused",
            State::Done => "done",
            State::Failed => "failed",
            State::Aborted => "aborted",
        }
    }
}

/// What a single PUT left once it landed: the URL that worked, the PUT's outcome, and a verify
/// answer already had (see `flow::send`).
type Sent = (Presigned, PutDone, Option<crate::backend::Verified>);

/// A single-PUT upload's inputs.
struct Single {
    source: Source,
    body: Blob,
    file_name: String,
    content_type: String,
    size: u64,
    transport: TransportKind,
    timeout_ms: u64,
    progress: Rc<Progress>,
    /// When the first run began, and the PUT once it landed: a resume after that only verifies.
    started: Cell<f64>,
    sent: RefCell<Option<Box<Sent>>>,
}

enum Work {
    Single(Single),
    #[cfg(feature = "full")]
    Multi(Rc<Multi>),
}

struct Shared {
    work: Work,
    user: Option<AbortSignal>,
    state: Cell<State>,
    started: Cell<bool>,
    run: RefCell<Option<AbortController>>,
    wake: RefCell<Option<Function>>,
}

impl Shared {
    /// Holds the task in any state that is not final: before `start()` has run, the run
    /// waits for `resume()`.
    fn pause(&self) {
        if matches!(self.state.get(), State::Idle | State::Running) {
            self.state.set(State::Paused);
            if let Some(c) = self.run.borrow().as_ref() {
                c.abort();
            }
        }
    }

    fn wake(&self) {
        if let Some(f) = self.wake.borrow_mut().take() {
            let _ = f.call0(&JsValue::UNDEFINED);
        }
    }

    fn resume(&self) {
        if self.state.get() == State::Paused {
            self.state.set(if self.started.get() { State::Running } else { State::Idle });
            self.wake();
        }
    }

    fn abort(&self) {
        match self.state.get() {
            State::Done | State::Failed | State::Aborted => {}
            _ => {
                self.state.set(State::Aborted);
                if let Some(c) = self.run.borrow().as_ref() {
                    c.abort();
                }
                self.wake();
            }
        }
    }

    /// Waits until `resume()` or `abort()` (or the caller's signal).
    async fn wait_resume(&self) -> Result<(), UploadError> {
        while self.state.get() == State::Paused {
            let mut slot = None;
            let p = Promise::new(&mut |resolve, _| slot = Some(resolve));
            *self.wake.borrow_mut() = slot;
            platform::race_abort(p, self.user.as_ref()).await?.map_err(|_| UploadError::aborted())?;
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "full"), allow(unused_variables))]
    async fn run_once(&self, signal: &AbortSignal, resumed: bool) -> Result<JsValue, UploadError> {
        match &self.work {
            Work::Single(s) => {
                let job = UploadJob {
                    body: &s.body,
                    file_name: s.file_name.clone(),
                    content_type: s.content_type.clone(),
                    size: s.size,
                    transport: s.transport,
                    timeout_ms: s.timeout_ms,
                    signal: Some(signal),
                    progress: s.progress.clone(),
                };
                if s.started.get() == 0.0 {
                    s.started.set(js_sys::Date::now());
                }
                let sent = s.sent.borrow().clone();
                let (presigned, put, checked) = match sent {
                    Some(done) => *done,
                    None => {
                        let done = flow::send(&s.source, &job).await?;
                        *s.sent.borrow_mut() = Some(Box::new(done.clone()));
                        done
                    }
                };
                flow::finish(&s.source, &job, presigned, put, checked, s.started.get()).await.map(upload_result)
            }
            #[cfg(feature = "full")]
            Work::Multi(m) => m.run_verified(signal, self.user.as_ref(), resumed).await,
        }
    }

    /// Runs the task to its end, through pauses and resumes.
    async fn start(self: Rc<Self>) -> Result<JsValue, UploadError> {
        if self.started.replace(true) {
            return Err(UploadError::invalid_input("start", "was already called on this task"));
        }
        if self.state.get() == State::Aborted {
            return Err(UploadError::aborted());
        }
        if self.state.get() == State::Idle {
            self.state.set(State::Running);
        }
        let mut resumed = false;
        let result = loop {
            // A pause before the first run (or between runs) holds until `resume()`.
            if let Err(e) = self.wait_resume().await {
                break Err(e);
            }
            if self.state.get() == State::Aborted || platform::is_aborted(self.user.as_ref()) {
                break Err(UploadError::aborted());
            }
            let link = match Linked::new(self.user.as_ref()) {
                Ok(l) => l,
                Err(e) => break Err(e),
            };
            *self.run.borrow_mut() = Some(link.controller.clone());
            let r = self.run_once(&link.signal(), resumed).await;
            *self.run.borrow_mut() = None;
            drop(link);
            match r {
                Ok(v) => break Ok(v),
                Err(e) if e.code == ErrorCode::Aborted && self.state.get() == State::Paused => {
                    #[cfg(feature = "full")]
                    if let Work::Multi(m) = &self.work {
                        m.ledger.borrow_mut().cancel_all();
                    }
                    resumed = true;
                }
                Err(e) if self.state.get() == State::Aborted => break Err(if e.code == ErrorCode::Aborted { e } else { UploadError::aborted() }),
                Err(e) => break Err(e),
            }
        };
        match &result {
            Ok(_) => self.state.set(State::Done),
            Err(e) => {
                #[cfg(feature = "full")]
                if let Work::Multi(m) = &self.work {
                    m.give_up(e.code == ErrorCode::Aborted).await;
                }
                self.state.set(if e.code == ErrorCode::Aborted { State::Aborted } else { State::Failed });
            }
        }
        result
    }
}

/// An upload that can be paused and resumed: made by `Uploader.createUpload(file, opts)`.
///
/// `start()` resolves with the `UploadResult` once the file is uploaded (through any number
/// of pauses). `pause()` stops sending new parts and cancels the ones in flight (their bytes
/// are not counted as done); `resume()` sends only what is missing (asking `listParts` when
/// configured). A file below the multipart threshold is one PUT: pause cancels it and resume
/// sends it again. `abort()` ends the task: `start()` rejects with `aborted`, and a multipart
/// upload is aborted in the store (unless `leaveParts`).
#[wasm_bindgen]
pub struct UploadTask {
    shared: Rc<Shared>,
}

#[wasm_bindgen]
impl UploadTask {
    /// Starts the upload; resolves when it is done. Call it once.
    #[wasm_bindgen(unchecked_return_type = "Promise<UploadResult>")]
    pub fn start(&self) -> Promise {
        let shared = self.shared.clone();
        crate::platform::spawn_promise(async move { shared.start().await.map_err(|e| js_error(&e)) })
    }

    /// Stops sending: in-flight part PUTs are cancelled. Called before or right after
    /// `start()`, nothing is sent until `resume()`. No effect once the task has ended.
    pub fn pause(&self) {
        self.shared.pause();
    }

    /// Continues a paused upload, sending only the parts still missing. No effect unless paused.
    pub fn resume(&self) {
        self.shared.resume();
    }

    /// Ends the upload: `start()` rejects with `aborted`. No effect once it has ended.
    pub fn abort(&self) {
        self.shared.abort();
    }

    /// `"idle"`, `"running"`, `"paused"`, `"done"`, `"failed"` or `"aborted"`.
    #[wasm_bindgen(getter, unchecked_return_type = "UploadTaskState")]
    pub fn state(&self) -> String {
        self.shared.state.get().as_str().to_owned()
    }
}

/// One upload's inputs, however they were read (`createUpload` options or a batch entry).
pub(crate) struct TaskInput {
    pub file: JsValue,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub transport: Option<String>,
    pub signal: Option<AbortSignal>,
    pub progress: Rc<Progress>,
}

/// Reads and validates `createUpload(file, opts)`'s arguments into a task of `source`.
pub(crate) fn prepare(source: &Source, multipart: Option<&Rc<MultipartCore>>, put_timeout_ms: u64, file: &JsValue, opts: &JsValue) -> Result<UploadTask, UploadError> {
    let o = Opts::new(opts, "opts")?;
    let input = TaskInput {
        file: file.clone(),
        file_name: o.string("fileName")?,
        content_type: o.string("contentType")?,
        transport: o.string("transport")?,
        signal: o.signal("signal")?,
        progress: Progress::to_js(o.function("onProgress")?),
    };
    build(source, multipart, put_timeout_ms, input)
}

/// Runs one upload as a task: multipart when `multipart` is configured and the file reaches
/// its threshold, else the single-PUT flow. Used by `uploadAll`.
pub(crate) async fn run(source: &Source, multipart: Option<&Rc<MultipartCore>>, put_timeout_ms: u64, input: TaskInput) -> Result<JsValue, UploadError> {
    let task = build(source, multipart, put_timeout_ms, input)?;
    task.shared.clone().start().await
}

/// Validates one upload's inputs into a task.
fn build(source: &Source, multipart: Option<&Rc<MultipartCore>>, put_timeout_ms: u64, input: TaskInput) -> Result<UploadTask, UploadError> {
    let TaskInput { file, file_name, content_type, transport, signal: user, progress } = input;
    let blob: Blob = file.clone().dyn_into().map_err(|_| UploadError::invalid_input("file", "must be a File or a Blob"))?;
    let own_name = file.dyn_ref::<File>().map(|f| f.name());
    let file_name = input::resolve_file_name(file_name.as_deref(), own_name.as_deref())?;
    let content_type = input::resolve_content_type(content_type.as_deref(), &blob.type_())?;
    let transport = transport::choose(transport.as_deref(), progress.wanted())?;
    let raw = blob.size();
    #[cfg(feature = "full")]
    if let Some(m) = Multi::for_file(source, multipart, &blob, &file_name, &content_type, transport, put_timeout_ms, &progress)? {
        return Ok(UploadTask::of(Work::Multi(m), user));
    }
    #[cfg(not(feature = "full"))]
    let _ = multipart;
    let single = Single {
        size: input::check_size(raw)?,
        source: source.clone(),
        body: blob,
        file_name,
        content_type,
        transport,
        timeout_ms: put_timeout_ms,
        progress,
        started: Cell::new(0.0),
        sent: RefCell::new(None),
    };
    Ok(UploadTask::of(Work::Single(single), user))
}

impl UploadTask {
    fn of(work: Work, user: Option<AbortSignal>) -> UploadTask {
        UploadTask {
            shared: Rc::new(Shared {
                work,
                user,
                state: Cell::new(State::Idle),
                started: Cell::new(false),
                run: RefCell::new(None),
                wake: RefCell::new(None),
            }),
        }
    }
}

/// `Uploader.upload()` when `multipart` is configured: a task of `source`, started at once.
pub(crate) fn start_now(source: &Source, multipart: Option<&Rc<MultipartCore>>, put_timeout_ms: u64, file: JsValue, opts: JsValue) -> Promise {
    let task = prepare(source, multipart, put_timeout_ms, &file, &opts);
    crate::platform::spawn_promise(async move {
        let task = task.map_err(|e| js_error(&e))?;
        task.shared.clone().start().await.map_err(|e| js_error(&e))
    })
}
