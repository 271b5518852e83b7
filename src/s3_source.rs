//! The "by itself" source of `Uploader`: presigned URLs are made inside the browser with
//! [`crate::sigv4`], from credentials that a JS callback gives. The credentials are cached
//! until 60 s before their `expiration` and asked for again after; concurrent uploads share
//! one pending call. Each upload gets a fresh uuid v4 and the key `{keyPrefix}{uuid}/{fileName}`.

use crate::text::{cat, num};
use std::cell::RefCell;

use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

use crate::error::{ErrorCode, UploadError};
use crate::hexnode::Presigned;
use crate::opts::Opts;
use crate::platform;
use crate::presigned::MAX_EXPIRES_SECS;
use crate::sigv4::{self, Credentials, S3Location, S3Presigner, MAX_KEY_BYTES};
use crate::backend::BackendCore;

#[wasm_bindgen(typescript_custom_section)]
const TS_S3: &'static str = r#"
/** Credentials for presigning in the browser. `expiration`: ms since epoch (a Date or an ISO string is accepted too). */
export interface S3Credentials { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: number | Date | string }
/** Presigning inside the browser (SigV4). Objects go to `{keyPrefix}{uuid}/{fileName}`; URLs live `expiresIn` seconds (default 900).
 * The endpoint defaults to `https://{bucket}.s3.{region}.amazonaws.com`, or `https://s3.{region}.amazonaws.com/{bucket}` with
 * `forcePathStyle`; with `endpoint`, `{endpoint}/{bucket}/{key}` when `forcePathStyle`. Credentials are cached until 60 s
 * before their `expiration`. Prefer short-lived credentials scoped to `s3:PutObject` on the prefix. */
export interface S3Options { bucket: string; region: string; endpoint?: string; forcePathStyle?: boolean; keyPrefix?: string;
  /** seconds, 10..604800 (default 900) */ expiresIn?: number; credentials: () => Promise<S3Credentials> }
/** With `s3`, `presign` is left out: the browser signs the URLs itself. */
export interface UploaderOptions { s3?: S3Options }
"#;

/// How long an in-browser presigned URL lives by default: 15 minutes.
pub(crate) const DEFAULT_EXPIRES_SECS: u64 = 900;
/// The shortest `expiresIn`: the upload flow treats a URL as expired 5 s early.
pub(crate) const MIN_EXPIRES_SECS: u64 = 10;
/// Cached credentials are asked for again this long before their expiration.
pub(crate) const REFRESH_BEFORE_MS: u64 = 60_000;
/// The longest `keyPrefix`, in UTF-8 bytes (the key also holds a uuid and the file name).
const MAX_PREFIX_BYTES: usize = 512;
/// The length of `{uuid}/` in a key.
const UUID_PART_BYTES: usize = 37;
/// What the credentials callback must resolve with, for messages.
const CREDENTIALS_SHAPE: &str = "{ accessKeyId, secretAccessKey, sessionToken?, expiration? }";

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues` of the global scope (window or worker).
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &Uint8Array) -> Result<JsValue, JsValue>;
}

/// Credentials as cached, with their expiry (ms since the epoch) when they have one.
#[derive(Clone, Debug)]
struct Cached {
    creds: Credentials,
    expires_at_ms: Option<u64>,
}

impl Cached {
    /// Whether these credentials may still be used at `now_ms` without asking again.
    fn fresh(&self, now_ms: u64) -> bool {
        match self.expires_at_ms {
            None => true,
            Some(at) => now_ms.saturating_add(REFRESH_BEFORE_MS) < at,
        }
    }
}

/// The credentials cache.
enum CredState {
    /// Nothing yet, or the last call failed.
    Empty,
    /// A call to the callback is under way; every presign awaits the same promise.
    Pending(Promise),
    /// Usable credentials.
    Ready(Cached),
}

/// Presigns PUTs in the browser: where the bucket is, the key prefix, the URL lifetime and the
/// credentials callback with its cache.
pub(crate) struct S3Signer {
    location: S3Location,
    key_prefix: String,
    expires_secs: u64,
    callback: Function,
    state: RefCell<CredState>,
}

/// The in-browser S3 source: the signer, and the app's backend settings (its `presign` is
/// `None`) for the optional verify endpoint or callback, retries and transport rules.
pub(crate) struct S3Core {
    pub signer: S3Signer,
    pub backend: BackendCore,
}

/// Checks `keyPrefix`: at most 512 bytes, no control characters, no leading `/`, no `.` or
/// `..` segment. Invalid input naming `s3.keyPrefix`.
pub(crate) fn check_key_prefix(prefix: &str) -> Result<(), UploadError> {
    let bad = |problem: &str| UploadError::invalid_input("s3.keyPrefix", problem);
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(bad("must be at most 512 bytes in UTF-8"));
    }
    if prefix.chars().any(char::is_control) {
        return Err(bad("must not contain control characters"));
    }
    if prefix.starts_with('/') {
        return Err(bad("must not start with / (keys have no leading slash)"));
    }
    // Only whole segments matter: the last one is followed by the uuid.
    if prefix.rsplit_once('/').is_some_and(|(whole, _)| sigv4::has_dot_segment(whole)) {
        return Err(bad("must not have a . or .. segment (the browser would rewrite the URL path)"));
    }
    Ok(())
}

/// Checks that `{prefix}{uuid}/{file_name}` makes a usable key. Invalid input naming `fileName`.
pub(crate) fn check_file_name_for_key(prefix: &str, file_name: &str) -> Result<(), UploadError> {
    if sigv4::has_dot_segment(file_name) {
        return Err(UploadError::invalid_input(
            "fileName",
            "must not be . or .. nor have such a /-separated segment when presigning in the browser (the browser would rewrite the URL path)",
        ));
    }
    let len = prefix.len() + UUID_PART_BYTES + file_name.len();
    if len > MAX_KEY_BYTES {
        return Err(UploadError::invalid_input(
            "fileName",
            &cat(&["the object key {keyPrefix}{uuid}/{fileName} would be ", &num(len as u64), " bytes, and S3 allows at most ", &num(MAX_KEY_BYTES as u64)]),
        ));
    }
    Ok(())
}

/// A uuid v4 (RFC 9562) from 16 random bytes, lowercase hex with hyphens.
pub(crate) fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = sigv4::hex(&bytes);
    let part = |a: usize, b: usize| h.get(a..b).unwrap_or_default();
    cat(&[part(0, 8), "-", part(8, 12), "-", part(12, 16), "-", part(16, 20), "-", part(20, 32)])
}

/// 16 bytes from `crypto.getRandomValues`.
fn random_16() -> Result<[u8; 16], UploadError> {
    let buf = Uint8Array::new_with_length(16);
    get_random_values(&buf).map_err(|_| {
        UploadError::new(ErrorCode::PresignFailed, "crypto.getRandomValues is not available here; it is needed to make the object's uuid.")
    })?;
    let mut out = [0u8; 16];
    buf.copy_to(&mut out);
    Ok(out)
}

/// A `bad_response` about the credentials callback's answer.
fn bad_answer(field: &str, problem: &str) -> UploadError {
    UploadError::new(
        ErrorCode::BadResponse,
        cat(&["credentials answer: `", field, "` ", problem, ". The s3.credentials callback must resolve with ", CREDENTIALS_SHAPE, "."]),
    )
}

/// What the callback's answer says about one field, before checking.
pub(crate) enum Field {
    /// Absent, `undefined` or `null`.
    Missing,
    /// A string.
    Text(String),
    /// A number, or a `Date` / date string as ms since the epoch (NaN when unparsable).
    Number(f64),
    /// Anything else.
    Other,
}

/// The callback's answer, field by field, as read from JS.
pub(crate) struct CredentialsAnswer {
    pub is_object: bool,
    pub access_key_id: Field,
    pub secret_access_key: Field,
    pub session_token: Field,
    pub expiration: Field,
}

/// Checks the callback's answer at `now_ms`. `bad_response` naming the field when one is
/// missing or malformed; `presign_failed` when the credentials have already expired.
pub(crate) fn credentials_from(answer: CredentialsAnswer, now_ms: u64) -> Result<(Credentials, Option<u64>), UploadError> {
    if !answer.is_object {
        return Err(UploadError::new(
            ErrorCode::BadResponse,
            cat(&["credentials answer: must be an object. The s3.credentials callback must resolve with ", CREDENTIALS_SHAPE, "."]),
        ));
    }
    let access_key_id = match answer.access_key_id {
        Field::Text(s) if !s.is_empty() => s,
        Field::Missing | Field::Text(_) => return Err(bad_answer("accessKeyId", "is missing")),
        _ => return Err(bad_answer("accessKeyId", "must be a string")),
    };
    if !access_key_id.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
        return Err(bad_answer("accessKeyId", "must be visible ASCII without / (such as AKIA... or ASIA...)"));
    }
    let secret_access_key = match answer.secret_access_key {
        Field::Text(s) if !s.is_empty() => s,
        Field::Missing | Field::Text(_) => return Err(bad_answer("secretAccessKey", "is missing")),
        _ => return Err(bad_answer("secretAccessKey", "must be a string")),
    };
    let session_token = match answer.session_token {
        Field::Missing => None,
        Field::Text(s) if s.is_empty() => None,
        Field::Text(s) => Some(s),
        _ => return Err(bad_answer("sessionToken", "must be a string")),
    };
    let expires_at_ms = match answer.expiration {
        Field::Missing => None,
        Field::Number(ms) if (1e12..=8.64e15).contains(&ms) => Some(ms as u64),
        Field::Number(ms) if ms.is_finite() && ms > 0.0 && ms < 1e12 => {
            return Err(bad_answer("expiration", "must be in milliseconds since the epoch (it looks like seconds)"))
        }
        _ => return Err(bad_answer("expiration", "must be a time: milliseconds since the epoch, a Date or an ISO date string")),
    };
    if let Some(at) = expires_at_ms {
        if at <= now_ms {
            return Err(UploadError::new(
                ErrorCode::PresignFailed,
                "The s3.credentials callback answered credentials that have already expired (`expiration` is in the past); it must return fresh ones.",
            ));
        }
    }
    Ok((Credentials { access_key_id, secret_access_key, session_token }, expires_at_ms))
}

/// Reads one field of the answer.
fn field_of(answer: &JsValue, key: &str) -> Field {
    let Ok(v) = Reflect::get(answer, &JsValue::from_str(key)) else { return Field::Other };
    if v.is_undefined() || v.is_null() {
        return Field::Missing;
    }
    if let Some(s) = v.as_string() {
        if key == "expiration" {
            return Field::Number(js_sys::Date::parse(&s));
        }
        return Field::Text(s);
    }
    if let Some(n) = v.as_f64() {
        return Field::Number(n);
    }
    if let Some(d) = v.dyn_ref::<js_sys::Date>() {
        return Field::Number(d.get_time());
    }
    Field::Other
}

impl S3Signer {
    /// The bucket's address (see [`S3Location::identity`]) and the key prefix.
    pub(crate) fn identity(&self) -> String {
        crate::text::cat(&[&self.location.identity(), " ", &self.key_prefix])
    }

    /// Reads `opts.s3`. Invalid input naming the field: `s3.bucket`, `s3.region`,
    /// `s3.endpoint`, `s3.forcePathStyle`, `s3.keyPrefix`, `s3.expiresIn`, `s3.credentials`.
    pub(crate) fn read(v: &JsValue, allow_insecure_http: bool) -> Result<Self, UploadError> {
        let o = Opts::new(v, "s3")?;
        let bucket = o.required_string("bucket")?;
        let region = o.required_string("region")?;
        let endpoint = o.string("endpoint")?;
        let force_path_style = o.boolean("forcePathStyle")?.unwrap_or(false);
        let location = S3Location::new(&bucket, &region, endpoint.as_deref(), force_path_style, allow_insecure_http)?;
        let key_prefix = o.string("keyPrefix")?.unwrap_or_default();
        check_key_prefix(&key_prefix)?;
        let expires_secs = match o.number("expiresIn")? {
            None => DEFAULT_EXPIRES_SECS,
            Some(n) if n.fract() == 0.0 && (MIN_EXPIRES_SECS as f64..=MAX_EXPIRES_SECS as f64).contains(&n) => n as u64,
            Some(_) => {
                return Err(UploadError::invalid_input(
                    "s3.expiresIn",
                    "must be a whole number of seconds from 10 (shorter URLs expire before the upload starts) to 604800",
                ))
            }
        };
        let callback = match o.raw("credentials") {
            None => {
                return Err(UploadError::invalid_input(
                    "s3.credentials",
                    &cat(&["is required: an async function that resolves with ", CREDENTIALS_SHAPE]),
                ))
            }
            Some(f) => f.dyn_into::<Function>().map_err(|_| {
                UploadError::invalid_input(
                    "s3.credentials",
                    &cat(&["must be a function that resolves with ", CREDENTIALS_SHAPE, " (wrap fixed credentials: () => Promise.resolve(creds))"]),
                )
            })?,
        };
        Ok(S3Signer { location, key_prefix, expires_secs, callback, state: RefCell::new(CredState::Empty) })
    }

    /// Usable credentials: the cached ones while fresh, else the callback's answer (one call
    /// shared by every upload that waits for it).
    async fn credentials(&self, signal: Option<&AbortSignal>) -> Result<Cached, UploadError> {
        platform::check_abort(signal)?;
        let pending = {
            let mut state = self.state.borrow_mut();
            match &*state {
                CredState::Ready(c) if c.fresh(platform::now_ms()) => return Ok(c.clone()),
                CredState::Pending(p) => p.clone(),
                _ => {
                    let returned = self.callback.call0(&JsValue::UNDEFINED).map_err(|e| {
                        *state = CredState::Empty;
                        callback_failed(&e)
                    })?;
                    let p = Promise::resolve(&returned);
                    *state = CredState::Pending(p.clone());
                    p
                }
            }
        };
        let settled = platform::race_abort(pending.clone(), signal).await?;
        let result = match settled {
            Ok(answer) => {
                let read = CredentialsAnswer {
                    is_object: answer.is_object(),
                    access_key_id: field_of(&answer, "accessKeyId"),
                    secret_access_key: field_of(&answer, "secretAccessKey"),
                    session_token: field_of(&answer, "sessionToken"),
                    expiration: field_of(&answer, "expiration"),
                };
                credentials_from(read, platform::now_ms()).map(|(creds, expires_at_ms)| Cached { creds, expires_at_ms })
            }
            Err(e) => Err(callback_failed(&e)),
        };
        let mut state = self.state.borrow_mut();
        // Only the first waiter of this very call updates the cache.
        if matches!(&*state, CredState::Pending(p) if js_sys::Object::is(p, &pending)) {
            *state = match &result {
                Ok(c) => CredState::Ready(c.clone()),
                Err(_) => CredState::Empty,
            };
        }
        result
    }

    /// A fresh uuid and the key `{keyPrefix}{uuid}/{fileName}` for `file_name`.
    pub(crate) fn new_key(&self, file_name: &str) -> Result<(String, String), UploadError> {
        check_file_name_for_key(&self.key_prefix, file_name)?;
        let file_uuid = uuid_v4(random_16()?);
        let key = cat(&[&self.key_prefix, &file_uuid, "/", file_name]);
        Ok((file_uuid, key))
    }

    /// Signs with usable credentials: `sign` gets a presigner for now, whose URLs live
    /// `expiresIn` (never past the credentials' expiration). Also gives when the URL expires
    /// (ms since the epoch).
    pub(crate) async fn sign_with<R>(
        &self,
        signal: Option<&AbortSignal>,
        sign: impl FnOnce(&S3Presigner<'_>) -> Result<R, UploadError>,
    ) -> Result<(R, u64), UploadError> {
        let cached = self.credentials(signal).await?;
        let now_ms = platform::now_ms();
        let mut expires_secs = self.expires_secs;
        if let Some(at) = cached.expires_at_ms {
            // A URL signed with temporary credentials stops working when they expire.
            let left = at.saturating_sub(now_ms) / 1000;
            if left == 0 {
                return Err(UploadError::new(ErrorCode::PresignFailed, "The credentials from s3.credentials have expired; it must return fresh ones."));
            }
            expires_secs = expires_secs.min(left);
        }
        let presigner = S3Presigner { location: &self.location, credentials: &cached.creds, now_ms, expires_secs };
        let out = sign(&presigner)?;
        Ok((out, (now_ms / 1000 * 1000).saturating_add(expires_secs * 1000)))
    }

    /// A presigned PUT for `file_name` with a fresh uuid, signing `content_type`.
    pub(crate) async fn presign(&self, file_name: &str, content_type: &str, signal: Option<&AbortSignal>) -> Result<Presigned, UploadError> {
        let (file_uuid, key) = self.new_key(file_name)?;
        let (url, expires_at_ms) = self.sign_with(signal, |p| p.put_object(&key, content_type)).await?;
        Ok(Presigned { url, file_name: file_name.to_owned(), file_uuid, content_type: content_type.to_owned(), expires_at_ms })
    }
}

/// A throwing or rejecting credentials callback: `presign_failed` with its message.
fn callback_failed(e: &JsValue) -> UploadError {
    let (_, message) = platform::js_error_parts(e);
    let message = if message.is_empty() { "no message".to_owned() } else { message };
    UploadError::new(ErrorCode::PresignFailed, cat(&["The s3.credentials callback failed: ", &message]))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn answer(ak: Field, sk: Field, token: Field, exp: Field) -> CredentialsAnswer {
        CredentialsAnswer { is_object: true, access_key_id: ak, secret_access_key: sk, session_token: token, expiration: exp }
    }

    fn text(s: &str) -> Field {
        Field::Text(s.to_owned())
    }

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn uuid_v4_has_version_and_variant_bits() {
        let u = uuid_v4([0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let u = uuid_v4([0; 16]);
        assert_eq!(u, "00000000-0000-4000-8000-000000000000");
        assert_eq!(u.len(), 36);
    }

    #[test]
    fn a_good_answer_gives_credentials_and_expiry() {
        let (c, exp) = credentials_from(answer(text("AKIA1"), text("s3cr3t"), text("tok"), Field::Number(NOW as f64 + 900_000.0)), NOW).unwrap();
        assert_eq!(c.access_key_id, "AKIA1");
        assert_eq!(c.session_token.as_deref(), Some("tok"));
        assert_eq!(exp, Some(NOW + 900_000));
        let (c, exp) = credentials_from(answer(text("AKIA1"), text("s3cr3t"), text(""), Field::Missing), NOW).unwrap();
        assert_eq!(c.session_token, None);
        assert_eq!(exp, None);
    }

    #[test]
    fn missing_or_malformed_fields_are_bad_response_naming_the_field_without_the_secret() {
        let cases = [
            (answer(Field::Missing, text("s3cr3t"), Field::Missing, Field::Missing), "`accessKeyId` is missing"),
            (answer(text(""), text("s3cr3t"), Field::Missing, Field::Missing), "`accessKeyId` is missing"),
            (answer(Field::Number(1.0), text("s3cr3t"), Field::Missing, Field::Missing), "`accessKeyId` must be a string"),
            (answer(text("AK IA"), text("s3cr3t"), Field::Missing, Field::Missing), "`accessKeyId` must be visible ASCII"),
            (answer(text("AKIA"), Field::Missing, Field::Missing, Field::Missing), "`secretAccessKey` is missing"),
            (answer(text("AKIA"), Field::Other, Field::Missing, Field::Missing), "`secretAccessKey` must be a string"),
            (answer(text("AKIA"), text("s3cr3t"), Field::Number(3.0), Field::Missing), "`sessionToken` must be a string"),
            (answer(text("AKIA"), text("s3cr3t"), Field::Missing, text("tomorrow")), "`expiration` must be a time"),
            (answer(text("AKIA"), text("s3cr3t"), Field::Missing, Field::Number(f64::NAN)), "`expiration` must be a time"),
            (answer(text("AKIA"), text("s3cr3t"), Field::Missing, Field::Number(1_700_000_900.0)), "looks like seconds"),
        ];
        for (a, want) in cases {
            let e = credentials_from(a, NOW).unwrap_err();
            assert_eq!(e.code, ErrorCode::BadResponse);
            assert!(e.message.contains(want), "{}", e.message);
            assert!(!e.message.contains("s3cr3t"));
            assert!(!format!("{e:?}").contains("s3cr3t"));
        }
        let mut not_object = answer(Field::Missing, Field::Missing, Field::Missing, Field::Missing);
        not_object.is_object = false;
        assert_eq!(credentials_from(not_object, NOW).unwrap_err().code, ErrorCode::BadResponse);
    }

    #[test]
    fn expired_credentials_are_presign_failed() {
        let e = credentials_from(answer(text("AKIA"), text("s3cr3t"), Field::Missing, Field::Number(NOW as f64)), NOW).unwrap_err();
        assert_eq!(e.code, ErrorCode::PresignFailed);
    }

    #[test]
    fn cached_credentials_are_fresh_until_60_s_before_expiry() {
        let c = Cached { creds: Credentials { access_key_id: "a".into(), secret_access_key: "b".into(), session_token: None }, expires_at_ms: Some(NOW + 61_000) };
        assert!(c.fresh(NOW));
        assert!(!c.fresh(NOW + 1_000));
        assert!(!c.fresh(u64::MAX));
        assert!(Cached { expires_at_ms: None, ..c.clone() }.fresh(u64::MAX));
        assert!(!format!("{c:?}").contains("\"b\""));
    }

    #[test]
    fn key_prefix_and_file_name_checks_name_their_field() {
        for ok in ["", "uploads/", "a/b-", "..x/", "x/..y", "x"] {
            assert!(check_key_prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["/a/", "a/../", "../", "./", "a\nb/", &"p".repeat(513)] {
            assert!(check_key_prefix(bad).unwrap_err().message.starts_with("s3.keyPrefix:"), "{bad}");
        }
        for ok in ["a.txt", "dir/a.txt", "...", ".hidden"] {
            assert!(check_file_name_for_key("p/", ok).is_ok(), "{ok}");
        }
        for bad in ["..", ".", "a/../b", "x/."] {
            assert!(check_file_name_for_key("p/", bad).unwrap_err().message.starts_with("fileName:"), "{bad}");
        }
        assert!(check_file_name_for_key(&"p".repeat(512), &"f".repeat(475)).is_ok());
        assert!(check_file_name_for_key(&"p".repeat(512), &"f".repeat(476)).unwrap_err().message.starts_with("fileName:"));
    }
}
