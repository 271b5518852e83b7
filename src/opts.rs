//! Reading option objects that come from JS, with errors that name the field; and building the
//! values handed back (results, request bodies, the `UploadError` JS `Error`) with a few
//! `Reflect` calls. Below the JS face: `bindings` and `task` both build on it.

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

use crate::error::UploadError;
use crate::flow::Uploaded;
use crate::text::cat;

/// A JS options object (or `undefined`), and the name it is reported under (`opts`).
pub(crate) struct Opts<'a> {
    value: &'a JsValue,
    name: &'a str,
}

impl<'a> Opts<'a> {
    /// Wraps `value`; `undefined` and `null` read as an empty object. Anything else that is not
    /// an object is refused.
    pub(crate) fn new(value: &'a JsValue, name: &'a str) -> Result<Self, UploadError> {
        if value.is_undefined() || value.is_null() || value.is_object() {
            Ok(Opts { value, name })
        } else {
            Err(UploadError::invalid_input(name, "must be an object"))
        }
    }

    fn path(&self, key: &str) -> String {
        cat(&[self.name, ".", key])
    }

    /// The raw field, `None` when absent, `undefined` or `null`.
    pub(crate) fn raw(&self, key: &str) -> Option<JsValue> {
        if !self.value.is_object() {
            return None;
        }
        let v = Reflect::get(self.value, &JsValue::from_str(key)).ok()?;
        if v.is_undefined() || v.is_null() {
            None
        } else {
            Some(v)
        }
    }

    /// An optional string field.
    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, UploadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => v.as_string().map(Some).ok_or_else(|| UploadError::invalid_input(&self.path(key), "must be a string")),
        }
    }

    /// A required string field.
    pub(crate) fn required_string(&self, key: &str) -> Result<String, UploadError> {
        self.string(key)?.ok_or_else(|| UploadError::invalid_input(&self.path(key), "is required"))
    }

    /// An optional number field.
    pub(crate) fn number(&self, key: &str) -> Result<Option<f64>, UploadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| UploadError::invalid_input(&self.path(key), "must be a number")),
        }
    }

    /// An optional boolean field.
    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, UploadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).ok_or_else(|| UploadError::invalid_input(&self.path(key), "must be true or false")),
        }
    }

    /// An optional function field.
    pub(crate) fn function(&self, key: &str) -> Result<Option<Function>, UploadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => v.dyn_into::<Function>().map(Some).map_err(|_| UploadError::invalid_input(&self.path(key), "must be a function")),
        }
    }

    /// An optional `AbortSignal` field.
    pub(crate) fn signal(&self, key: &str) -> Result<Option<AbortSignal>, UploadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => v.dyn_into::<AbortSignal>().map(Some).map_err(|_| UploadError::invalid_input(&self.path(key), "must be an AbortSignal")),
        }
    }

    /// A nested options object.
    pub(crate) fn object(&self, key: &str) -> Result<Option<JsValue>, UploadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) if v.is_object() && !v.is_function() => Ok(Some(v)),
            Some(_) => Err(UploadError::invalid_input(&self.path(key), "must be an object")),
        }
    }

    /// An optional array of numbers; elements that are not numbers read as NaN so that the
    /// validation that follows names them.
    pub(crate) fn numbers(&self, key: &str) -> Result<Option<Vec<f64>>, UploadError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => numbers_of(&v, &self.path(key)).map(Some),
        }
    }

    /// An optional `Record<string, string>`.
    pub(crate) fn string_map(&self, key: &str) -> Result<Vec<(String, String)>, UploadError> {
        let Some(v) = self.object(key)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for entry in Object::entries(v.unchecked_ref::<Object>()).iter() {
            let pair: js_sys::Array = entry.unchecked_into();
            let k = pair.get(0).as_string().unwrap_or_default();
            let Some(val) = pair.get(1).as_string() else {
                return Err(UploadError::invalid_input(&cat(&[&self.path(key), ".", &k]), "must be a string"));
            };
            out.push((k, val));
        }
        Ok(out)
    }
}

/// Builds a plain JS object from pairs; `undefined` values are left out.
pub(crate) fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        if !v.is_undefined() {
            let _ = Reflect::set(&o, &JsValue::from_str(k), v);
        }
    }
    o.into()
}

/// A JS array of numbers.
pub(crate) fn number_array(ns: &[u64]) -> JsValue {
    let a = js_sys::Array::new();
    for n in ns {
        a.push(&JsValue::from_f64(*n as f64));
    }
    a.into()
}

/// Reads a JS array of numbers (elements that are not numbers become NaN).
pub(crate) fn numbers_of(v: &JsValue, field: &str) -> Result<Vec<f64>, UploadError> {
    if !js_sys::Array::is_array(v) {
        return Err(UploadError::invalid_input(field, "must be an array of numbers"));
    }
    let arr: &js_sys::Array = v.unchecked_ref();
    Ok(arr.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
}

/// Turns an [`UploadError`] into the JS `Error` that promises reject with.
pub(crate) fn js_error(e: &UploadError) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    err.set_name("UploadError");
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&err, &JsValue::from_str(k), &v);
    };
    set("code", e.code.as_str().into());
    set("retryable", e.retryable.into());
    if let Some(s) = e.status {
        set("status", JsValue::from_f64(s as f64));
    }
    if let Some(c) = &e.s3_code {
        set("s3Code", c.into());
    }
    if let Some(r) = &e.request_id {
        set("requestId", r.into());
    }
    if let Some(ms) = e.retry_after_ms {
        set("retryAfterMs", JsValue::from_f64(ms as f64));
    }
    err.into()
}

/// The `UploadResult` object of a finished upload.
pub(crate) fn upload_result(u: Uploaded) -> JsValue {
    let (verified, file_id, raw) = match u.verified {
        Some(v) => (true, v.file_id, v.raw),
        None => (false, None, JsValue::UNDEFINED),
    };
    object(&[
        ("fileUuid", u.presigned.file_uuid.as_str().into()),
        ("fileName", u.presigned.file_name.as_str().into()),
        ("contentType", u.presigned.content_type.as_str().into()),
        ("size", JsValue::from_f64(u.size as f64)),
        ("etag", opt_str(&u.put.etag)),
        ("verified", verified.into()),
        ("fileId", opt_num(file_id)),
        ("verify", raw),
        ("attempts", JsValue::from_f64(u.put.attempts as f64)),
        ("durationMs", JsValue::from_f64(u.duration_ms)),
    ])
}

/// An optional string as a JS value (`undefined` when absent).
pub(crate) fn opt_str(s: &Option<String>) -> JsValue {
    s.as_deref().map(JsValue::from_str).unwrap_or(JsValue::UNDEFINED)
}

/// An optional number as a JS value (`undefined` when absent).
pub(crate) fn opt_num(n: Option<u64>) -> JsValue {
    n.map(|n| JsValue::from_f64(n as f64)).unwrap_or(JsValue::UNDEFINED)
}
