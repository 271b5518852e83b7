//! Resume after a page reload, the browser half (the full build only): the record of each
//! multipart upload is kept in IndexedDB (through the small `js/resume-store.js`), found again
//! when the same file is selected, checked against `listParts`, and forgotten when the upload
//! ends. The record logic itself is `crate::resume`, tested on the host.

use std::rc::Rc;

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Blob, File};

use super::parts::{with_known_etags, Created, Multi, MultipartCore, Ops};
use crate::error::{ErrorCode, UploadError};
use crate::multipart::DonePart;
use crate::opts::{js_error, object, Opts};
use crate::resume::{self, Fingerprint, Record, Verdict};
use crate::source::Source;

#[wasm_bindgen(typescript_custom_section)]
const TS_RESUME: &'static str = r#"
/** Resume after a reload (multipart uploads): `false` turns it off; default on with `maxAgeMs` 7 days. */
export interface ResumeOptions { /** Records older than this are dropped and their upload aborted. */ maxAgeMs?: number }
export interface UploaderOptions { resume?: boolean | ResumeOptions }
/** A multipart upload that a reload interrupted: select the same file again to resume it. */
export interface PendingUpload {
  id: string; fileName: string; size: number; lastModified: number; type: string;
  /** Bytes of the parts already in the store (as last recorded). */ bytesDone: number;
  /** When the upload started (ms since the epoch). */ startedAt: number;
}
"#;

#[wasm_bindgen(module = "/js/resume-store.js")]
extern "C" {
    #[wasm_bindgen(js_name = resumeAll)]
    fn resume_all() -> Promise;
    #[wasm_bindgen(js_name = resumePut)]
    fn resume_put(id: &str, text: &str) -> Promise;
    #[wasm_bindgen(js_name = resumeDelete)]
    fn resume_delete(id: &str) -> Promise;
    /// Marks `id` as running in this page: `resumeAll` leaves it out (not pending, and not to
    /// be resumed a second time at once).
    #[wasm_bindgen(js_name = resumeClaim)]
    fn claim(id: &str);
    #[wasm_bindgen(js_name = resumeRelease)]
    fn release(id: &str);
}

/// The validated `resume` option: `None` when off.
pub(crate) struct ResumeSettings {
    max_age_ms: u64,
}

/// Reads `opts.resume`: `false` (off), `true`, absent (on, the defaults) or `{ maxAgeMs }`.
pub(super) fn read(o: &Opts<'_>) -> Result<Option<ResumeSettings>, UploadError> {
    let Some(v) = o.raw("resume") else {
        return Ok(Some(ResumeSettings { max_age_ms: resume::DEFAULT_MAX_AGE_MS }));
    };
    if let Some(b) = v.as_bool() {
        return Ok(b.then_some(ResumeSettings { max_age_ms: resume::DEFAULT_MAX_AGE_MS }));
    }
    let r = o.object("resume").map_err(|_| UploadError::invalid_input("opts.resume", "must be true, false or { maxAgeMs }"))?;
    let r = Opts::new(r.as_ref().unwrap_or(&v), "opts.resume")?;
    Ok(Some(ResumeSettings { max_age_ms: resume::max_age(r.number("maxAgeMs")?)? }))
}

/// One multipart upload's resume state.
pub(super) struct Keep {
    fp: Fingerprint,
    source: String,
    max_age_ms: u64,
    /// The record as last written, once the upload exists.
    record: std::cell::RefCell<Option<Record>>,
    /// A resumed upload that was already completed: what `complete` answered.
    done: std::cell::RefCell<Option<(String, Option<String>)>>,
}

impl Keep {
    /// The resume state for `blob`, when resume is on and `blob` is a `File` (a `Blob` has no
    /// name nor lastModified to be found again by).
    pub(super) fn new(mp: &MultipartCore, ops: &Ops, blob: &Blob) -> Option<Keep> {
        let s = mp.resume.as_ref()?;
        let f = blob.dyn_ref::<File>()?;
        let lm = f.last_modified();
        Some(Keep {
            fp: Fingerprint {
                name: f.name(),
                size: blob.size() as u64,
                last_modified: if lm.is_finite() && lm >= 0.0 { lm as u64 } else { 0 },
                content_type: blob.type_(),
            },
            source: ops.identity(),
            max_age_ms: s.max_age_ms,
            record: Default::default(),
            done: Default::default(),
        })
    }
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// Every record kept; `None` where IndexedDB is not usable (resume is then off, silently).
async fn all() -> Option<Vec<(String, Record)>> {
    let v = JsFuture::from(resume_all()).await.ok()?;
    if !Array::is_array(&v) {
        return None;
    }
    let mut out = Vec::new();
    for pair in v.unchecked_ref::<Array>().iter() {
        let pair: Array = pair.unchecked_into();
        if let (Some(id), Some(r)) = (pair.get(0).as_string(), pair.get(1).as_string().and_then(|t| Record::decode(&t))) {
            out.push((id, r));
        }
    }
    Some(out)
}

fn put(r: &Record) {
    if let Some(t) = r.encode() {
        let _ = resume_put(&r.id(), &t);
    }
}

fn forget(id: &str) {
    let _ = resume_delete(id);
}

fn created_of(r: &Record) -> Created {
    Created {
        upload_id: r.upload_id.clone(),
        key: r.key.clone(),
        file_uuid: (!r.file_uuid.is_empty()).then(|| r.file_uuid.clone()),
    }
}

/// Aborts a stale upload in the store and forgets its record.
async fn drop_stale(ops: &Ops, id: &str, r: &Record) {
    forget(id);
    ops.abort(&created_of(r)).await;
}

impl Multi {
    /// Before `create`: the upload of the same file found in the records, checked with
    /// `listParts` (the truth when it answers, else the record), with the ledger filled in.
    /// Stale uploads of this source (another file under the name, or too old) are aborted.
    /// `None` when this file starts fresh.
    pub(super) async fn restore(&self, signal: &AbortSignal) -> Result<Option<Created>, UploadError> {
        let Some(k) = &self.keep else { return Ok(None) };
        let Some(records) = all().await else { return Ok(None) };
        let part_size = self.plan.first().map_or(0, |p| p.size());
        let mut found = None;
        for (id, r) in records {
            match resume::judge(&r, &k.fp, &k.source, part_size, now(), k.max_age_ms) {
                Verdict::Ignore => {}
                Verdict::Resume if found.is_none() => found = Some(r),
                Verdict::Resume => {}
                Verdict::Expired | Verdict::Changed => drop_stale(&self.ops, &id, &r).await,
            }
        }
        let Some(mut r) = found else { return Ok(None) };
        let c = created_of(&r);
        claim(&r.id());
        if r.completed_uuid.is_empty() {
            let parts = match self.ops.list(&c, signal).await {
                Ok(Some(listed)) => with_known_etags(listed, &r.parts),
                Ok(None) => r.parts.clone(),
                Err(e) if e.code == ErrorCode::Aborted => {
                    release(&r.id());
                    return Err(e);
                }
                Err(e) if resume::is_gone(&e) => {
                    release(&r.id());
                    drop_stale(&self.ops, &r.id(), &r).await;
                    return Ok(None);
                }
                Err(_) => r.parts.clone(),
            };
            self.ledger.borrow_mut().replace_with_listed(&self.plan, parts);
            r.parts = self.ledger.borrow().finished();
            put(&r);
        } else {
            let etag = (!r.completed_etag.is_empty()).then(|| r.completed_etag.clone());
            *k.done.borrow_mut() = Some((r.completed_uuid.clone(), etag));
            self.completed.set(true);
        }
        *k.record.borrow_mut() = Some(r);
        *self.created.borrow_mut() = Some(c.clone());
        Ok(Some(c))
    }

    /// A resumed upload that was completed before the reload: what `complete` answered.
    pub(super) fn resumed_done(&self) -> Option<(String, Option<String>)> {
        self.keep.as_ref()?.done.borrow_mut().take()
    }

    /// After `create`: the first record of this upload.
    pub(super) fn keep_created(&self, c: &Created) {
        let Some(k) = &self.keep else { return };
        let r = Record {
            file: k.fp.clone(),
            source: k.source.clone(),
            upload_id: c.upload_id.clone(),
            key: c.key.clone(),
            file_uuid: c.file_uuid.clone().unwrap_or_default(),
            part_size: self.plan.first().map_or(0, |p| p.size()),
            started_ms: now(),
            completed_uuid: String::new(),
            completed_etag: String::new(),
            parts: Vec::new(),
        };
        put(&r);
        claim(&r.id());
        *k.record.borrow_mut() = Some(r);
    }

    fn with_record(&self, f: impl FnOnce(&mut Record)) {
        if let Some(r) = self.keep.as_ref().and_then(|k| k.record.borrow_mut().as_mut().map(|r| { f(r); r.clone() })) {
            put(&r);
        }
    }

    /// After a part's PUT succeeded.
    pub(super) fn keep_part(&self, p: &DonePart) {
        self.with_record(|r| r.finish(p.clone()));
    }

    /// After `complete` succeeded: a reload before verify resumes with verify alone.
    pub(super) fn keep_completed(&self, done: &(String, Option<String>)) {
        self.with_record(|r| {
            r.completed_uuid = done.0.clone();
            r.completed_etag = done.1.clone().unwrap_or_default();
            r.parts.clear();
        });
    }

    /// The upload ended (verified, aborted or failed): its record is forgotten.
    pub(super) fn keep_forget(&self) {
        if let Some(r) = self.keep.as_ref().and_then(|k| k.record.borrow_mut().take()) {
            release(&r.id());
            forget(&r.id());
        }
    }

    /// The task failed (`by_user`: it was aborted): the record is forgotten unless the parts
    /// are left in the store for a later resume (`leaveParts` and a failure that was not an
    /// abort), then the upload is aborted as before.
    pub(crate) async fn give_up(&self, by_user: bool) {
        if by_user || !self.mp.settings.leave_parts || self.completed.get() {
            self.keep_forget();
        } else if let Some(r) = self.keep.as_ref().and_then(|k| k.record.borrow_mut().take()) {
            // Kept for a later resume, in this page too.
            release(&r.id());
        }
        self.abort_upload().await;
    }
}

/// The records of `up`'s source: `(id, record)`, expired ones aborted and dropped.
async fn pending_of(up_ops: Option<(Ops, u64)>) -> Vec<(String, Record)> {
    let Some((ops, max_age)) = up_ops else { return Vec::new() };
    let source = ops.identity();
    let mut out = Vec::new();
    for (id, r) in all().await.unwrap_or_default() {
        if r.source != source {
            continue;
        }
        if resume::is_expired(&r, now(), max_age) {
            drop_stale(&ops, &id, &r).await;
        } else {
            out.push((id, r));
        }
    }
    out
}

fn ops_of(source: &Source, multipart: Option<&Rc<MultipartCore>>) -> Option<(Ops, u64)> {
    let mp = multipart?;
    let s = mp.resume.as_ref()?;
    Some((Ops::new(source, mp)?, s.max_age_ms))
}

/// `Uploader.pendingUploads()`: the multipart uploads of this source that a reload interrupted
/// (or that failed with `leaveParts`) and that are not running in this page.
pub(crate) fn pending_uploads(source: &Source, multipart: Option<&Rc<MultipartCore>>) -> Promise {
    let ops = ops_of(source, multipart);
    crate::platform::spawn_promise(async move {
        let list = Array::new();
        for (id, r) in pending_of(ops).await {
            let f = |n: u64| JsValue::from_f64(n as f64);
            list.push(&object(&[
                ("id", id.into()),
                ("fileName", r.file.name.as_str().into()),
                ("size", f(r.file.size)),
                ("lastModified", f(r.file.last_modified)),
                ("type", r.file.content_type.as_str().into()),
                ("bytesDone", f(if r.completed_uuid.is_empty() { r.bytes_done() } else { r.file.size })),
                ("startedAt", f(r.started_ms)),
            ]));
        }
        Ok(list.into())
    })
}

/// `Uploader.discardPending(id)`: aborts the pending upload `id` in the store and forgets it;
/// resolves with whether there was such an upload.
pub(crate) fn discard_pending(source: &Source, multipart: Option<&Rc<MultipartCore>>, id: JsValue) -> Promise {
    let ops = ops_of(source, multipart);
    crate::platform::spawn_promise(async move {
        let id = id.as_string().ok_or_else(|| js_error(&UploadError::invalid_input("id", "must be a string from pendingUploads()")))?;
        let ops2 = ops.as_ref().map(|o| o.0.clone());
        for (rid, r) in pending_of(ops).await {
            if rid == id {
                if let Some(o) = &ops2 {
                    drop_stale(o, &rid, &r).await;
                }
                return Ok(JsValue::TRUE);
            }
        }
        Ok(JsValue::FALSE)
    })
}
