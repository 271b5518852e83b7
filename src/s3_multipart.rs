//! Multipart uploads signed inside the browser (`new Uploader({ s3, multipart })`): the
//! S3 calls that the app's backend makes otherwise. CreateMultipartUpload (`POST ?uploads`),
//! UploadPart URLs (presigned `PUT ?partNumber&uploadId`, sent by the part loop of
//! `task.rs`), CompleteMultipartUpload (`POST ?uploadId` with the parts' XML),
//! AbortMultipartUpload (`DELETE ?uploadId`) and ListParts (`GET ?uploadId`, all pages).
//!
//! Each call is presigned just before it is sent (and again before every retry). An S3 XML
//! error, also inside a `200` answer, is `upload_rejected` with its `s3Code` (classified as
//! a failed PUT is, by [`crate::s3_error::classify_put_failure`]); a failure without any
//! answer is `network`, or `cors` when the store's origin answers otherwise.

use crate::text::{cat, num};
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, Headers, RequestCache, RequestCredentials, RequestInit, RequestMode};

use crate::error::{ErrorCode, UploadError};
use crate::multipart::DonePart;
use crate::platform::{self, AbortLink};
use crate::retry::{decide, Decision};
use crate::s3_error::{self, element_text, find_open_tag};
use crate::s3_source::S3Core;
use crate::sigv4::S3Presigner;
use crate::transport;

/// How many fresh URLs one call may ask for after expiries.
const MAX_REFRESHES: u32 = 3;
/// ListParts answers at most 1000 parts a page; 10000 parts are 10 pages (one spare).
const MAX_LIST_PAGES: usize = 11;

/// What the store answered to one call.
struct Answer {
    status: u16,
    body: String,
    request_id: Option<String>,
}

/// Why no answer could be read.
enum NoAnswer {
    Aborted,
    Timeout,
    Failed,
}

/// One request to a presigned URL by `fetch`, reading the whole answer as text.
async fn send(method: &str, url: &str, content_type: Option<&str>, body: Option<&str>, signal: Option<&AbortSignal>, timeout_ms: u64) -> Result<Answer, NoAnswer> {
    let link = AbortLink::new(signal, timeout_ms).map_err(|_| NoAnswer::Failed)?;
    let failure = |link: &AbortLink| {
        if link.user_aborted() {
            NoAnswer::Aborted
        } else if link.fired() {
            NoAnswer::Timeout
        } else {
            NoAnswer::Failed
        }
    };
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(ct) = content_type {
        let headers = Headers::new().map_err(|_| NoAnswer::Failed)?;
        headers.set("Content-Type", ct).map_err(|_| NoAnswer::Failed)?;
        init.set_headers(&headers);
    }
    if let Some(b) = body {
        init.set_body(&wasm_bindgen::JsValue::from_str(b));
    }
    init.set_mode(RequestMode::Cors);
    init.set_credentials(RequestCredentials::Omit);
    init.set_cache(RequestCache::NoStore);
    init.set_signal(Some(&link.signal()));
    let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(|_| NoAnswer::Failed)?;
    let resp = match wasm_bindgen_futures::JsFuture::from(platform::global_fetch(&request)).await {
        Ok(r) => r,
        Err(_) => return Err(failure(&link)),
    };
    let resp: web_sys::Response = resp.dyn_into().map_err(|_| NoAnswer::Failed)?;
    let status = resp.status();
    let request_id = resp.headers().get("x-amz-request-id").ok().flatten();
    let text = match resp.text() {
        Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await.map_err(|_| failure(&link))?,
        Err(_) => return Err(NoAnswer::Failed),
    };
    Ok(Answer { status, body: text.as_string().unwrap_or_default(), request_id })
}

/// One multipart call: what it is, for messages, and how to send it.
struct Call<'a> {
    what: &'a str,
    method: &'a str,
    content_type: Option<&'a str>,
    body: Option<&'a str>,
    timeout_ms: u64,
}

/// Presigns (with `sign`) and sends one call, retried and re-signed as the Uploader's retry
/// policy says. A 2xx answer without an S3 `<Error>` is returned.
async fn request(core: &S3Core, call: &Call<'_>, signal: Option<&AbortSignal>, sign: &dyn Fn(&S3Presigner<'_>) -> Result<String, UploadError>) -> Result<Answer, UploadError> {
    let policy = core.backend.retry;
    let mut retries_done = 0u32;
    let mut refreshes = 0u32;
    loop {
        platform::check_abort(signal)?;
        let (url, _) = core.signer.sign_with(signal, |p| sign(p)).await?;
        let err = match send(call.method, &url, call.content_type, call.body, signal, call.timeout_ms).await {
            Ok(a) if (200..300).contains(&a.status) && s3_error::parse(&a.body).is_none() => return Ok(a),
            Ok(a) => s3_error::classify_put_failure(a.status, &a.body, a.request_id.as_deref()),
            Err(NoAnswer::Aborted) => return Err(UploadError::aborted()),
            Err(NoAnswer::Timeout) => UploadError::new(ErrorCode::Network, cat(&["The ", call.what, " request to the store timed out after ", &num(call.timeout_ms), " ms."])),
            Err(NoAnswer::Failed) => {
                if retries_done >= policy.retries && transport::origin_reachable(&url).await {
                    UploadError::cors(&cat(&[call.what, " request to the store (the bucket's CORS must allow POST, PUT, GET and DELETE)"]))
                } else {
                    UploadError::new(
                        ErrorCode::Network,
                        cat(&["The ", call.what, " request to the store failed before any answer could be read (connection dropped or host unreachable)."]),
                    )
                }
            }
        };
        match decide(&policy, retries_done, &err, platform::jitter()) {
            Decision::Retry { delay_ms } => {
                platform::sleep(delay_ms, signal).await?;
                retries_done += 1;
            }
            Decision::Refresh if refreshes < MAX_REFRESHES => refreshes += 1,
            Decision::Refresh | Decision::Fail => return Err(with_call(err, call.what)),
        }
    }
}

/// Names the call in the message of an S3 refusal.
fn with_call(mut e: UploadError, what: &str) -> UploadError {
    if !crate::text::contains(&e.message, what) {
        e.message = cat(&[what, ": ", &e.message]);
    }
    e
}

fn bad(what: &str, expected: &str) -> UploadError {
    UploadError::new(ErrorCode::BadResponse, cat(&["The store's ", what, " answer is not what was expected: ", expected, "."]))
}

/// CreateMultipartUpload of `key`, signing `content_type` (the object's type). Gives the
/// upload id.
pub(crate) async fn create(core: &S3Core, key: &str, content_type: &str, signal: Option<&AbortSignal>) -> Result<String, UploadError> {
    let call = Call { what: "CreateMultipartUpload", method: "POST", content_type: Some(content_type), body: None, timeout_ms: core.backend.timeout_ms };
    let a = request(core, &call, signal, &|p| p.create_multipart_upload(key, Some(content_type))).await?;
    upload_id_from(&a.body).ok_or_else(|| bad(call.what, "an <InitiateMultipartUploadResult> with an <UploadId>"))
}

/// A presigned UploadPart URL for part `number`, and when it expires (ms since the epoch).
pub(crate) async fn sign_part(core: &S3Core, key: &str, upload_id: &str, number: u32, signal: Option<&AbortSignal>) -> Result<(String, u64), UploadError> {
    core.signer.sign_with(signal, |p| p.upload_part(key, upload_id, number)).await
}

/// CompleteMultipartUpload with `parts` (in part-number order). Gives the object's ETag when
/// the store says it. Not timed out: S3 keeps the connection open while it joins the parts.
pub(crate) async fn complete(core: &S3Core, key: &str, upload_id: &str, parts: &[DonePart], signal: Option<&AbortSignal>) -> Result<Option<String>, UploadError> {
    let body = complete_body(parts);
    let call = Call { what: "CompleteMultipartUpload", method: "POST", content_type: Some("application/xml"), body: Some(&body), timeout_ms: 0 };
    let a = request(core, &call, signal, &|p| p.complete_multipart_upload(key, upload_id)).await?;
    Ok(element_text(&a.body, "ETag"))
}

/// AbortMultipartUpload: the store drops the upload and its parts.
pub(crate) async fn abort(core: &S3Core, key: &str, upload_id: &str) -> Result<(), UploadError> {
    let call = Call { what: "AbortMultipartUpload", method: "DELETE", content_type: None, body: None, timeout_ms: core.backend.timeout_ms };
    request(core, &call, None, &|p| p.abort_multipart_upload(key, upload_id)).await.map(|_| ())
}

/// ListParts, every page: the parts the store holds.
pub(crate) async fn list(core: &S3Core, key: &str, upload_id: &str, signal: Option<&AbortSignal>) -> Result<Vec<DonePart>, UploadError> {
    let call = Call { what: "ListParts", method: "GET", content_type: None, body: None, timeout_ms: core.backend.timeout_ms };
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_LIST_PAGES {
        let a = match marker.as_deref() {
            None => request(core, &call, signal, &|p| p.list_parts(key, upload_id)).await?,
            Some(m) => request(core, &call, signal, &|p| p.object("GET", key, &[("part-number-marker", m), ("uploadId", upload_id)], &[])).await?,
        };
        let page = parts_page(&a.body).ok_or_else(|| bad(call.what, "a <ListPartsResult> of <Part>s with <PartNumber>, <Size> and <ETag>"))?;
        out.extend(page.parts);
        match page.next_marker {
            Some(m) if marker.as_deref() != Some(m.as_str()) => marker = Some(m),
            _ => return Ok(out),
        }
    }
    Ok(out)
}

/// Escapes text for an XML element.
fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The CompleteMultipartUpload body: `<CompleteMultipartUpload>` with one `<Part>` (number
/// and ETag) per part.
pub(crate) fn complete_body(parts: &[DonePart]) -> String {
    let mut s = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#);
    for p in parts {
        for piece in ["<Part><PartNumber>", &num(p.number.into()), "</PartNumber><ETag>", &xml_escape(&p.etag), "</ETag></Part>"] {
            s.push_str(piece);
        }
    }
    s.push_str("</CompleteMultipartUpload>");
    s
}

/// The `<UploadId>` of a CreateMultipartUpload answer.
pub(crate) fn upload_id_from(xml: &str) -> Option<String> {
    find_open_tag(xml, "InitiateMultipartUploadResult", 0)?;
    element_text(xml, "UploadId")
}

/// One page of a ListParts answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PartsPage {
    /// The parts on this page.
    pub parts: Vec<DonePart>,
    /// Where the next page starts, when the answer is truncated.
    pub next_marker: Option<String>,
}

/// Reads a ListParts answer; `None` when it is not a `<ListPartsResult>` or a part lacks
/// a valid number or size.
pub(crate) fn parts_page(xml: &str) -> Option<PartsPage> {
    find_open_tag(xml, "ListPartsResult", 0)?;
    let mut parts = Vec::new();
    let mut from = 0;
    while let Some((open, start)) = find_open_tag(xml, "Part", from) {
        if xml.get(open..start).is_some_and(|t| t.ends_with("/>")) {
            from = start;
            continue;
        }
        let rest = xml.get(start..)?;
        let end = rest.find("</Part>")?;
        let inner = rest.get(..end)?;
        let number: u32 = element_text(inner, "PartNumber")?.parse().ok().filter(|n| (1..=10_000).contains(n))?;
        let size: u64 = element_text(inner, "Size")?.parse().ok()?;
        let etag = element_text(inner, "ETag").unwrap_or_default();
        parts.push(DonePart { number, size, etag });
        from = start + end;
    }
    let truncated = element_text(xml, "IsTruncated").is_some_and(|t| t.eq_ignore_ascii_case("true"));
    let next_marker = if truncated { element_text(xml, "NextPartNumberMarker") } else { None };
    Some(PartsPage { parts, next_marker })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn the_complete_body_lists_parts_with_escaped_etags() {
        let parts = [DonePart { number: 1, size: 5, etag: "\"a&b\"".into() }, DonePart { number: 2, size: 1, etag: "\"c\"".into() }];
        let b = complete_body(&parts);
        assert!(b.contains("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"), "{b}");
        assert!(b.contains("<Part><PartNumber>1</PartNumber><ETag>&quot;a&amp;b&quot;</ETag></Part><Part><PartNumber>2</PartNumber>"), "{b}");
        assert!(b.ends_with("</CompleteMultipartUpload>"));
    }

    #[test]
    fn the_upload_id_is_read_from_the_create_answer() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k/x.bin</Key><UploadId> VXBsb2Fk&amp;1 </UploadId></InitiateMultipartUploadResult>"#;
        assert_eq!(upload_id_from(xml).as_deref(), Some("VXBsb2Fk&1"));
        assert_eq!(upload_id_from("<InitiateMultipartUploadResult><UploadId/></InitiateMultipartUploadResult>"), None);
        assert_eq!(upload_id_from("<Other><UploadId>x</UploadId></Other>"), None);
        assert_eq!(upload_id_from(""), None);
    }

    #[test]
    fn list_parts_pages_are_read_with_their_marker() {
        let xml = r#"<ListPartsResult><Bucket>b</Bucket><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker><IsTruncated>true</IsTruncated>
<Part><PartNumber>1</PartNumber><LastModified>x</LastModified><ETag>&quot;e1&quot;</ETag><Size>5242880</Size></Part>
<Part><PartNumber>2</PartNumber><ETag>"e2"</ETag><Size>7</Size></Part></ListPartsResult>"#;
        let page = parts_page(xml).unwrap();
        assert_eq!(page.parts, vec![DonePart { number: 1, size: 5_242_880, etag: "\"e1\"".into() }, DonePart { number: 2, size: 7, etag: "\"e2\"".into() }]);
        assert_eq!(page.next_marker.as_deref(), Some("2"));
        let last = parts_page("<ListPartsResult><IsTruncated>false</IsTruncated><NextPartNumberMarker>9</NextPartNumberMarker></ListPartsResult>").unwrap();
        assert_eq!(last, PartsPage { parts: vec![], next_marker: None });
        assert_eq!(parts_page("<ListPartsResult><Part><PartNumber>0</PartNumber><Size>1</Size></Part></ListPartsResult>"), None);
        assert_eq!(parts_page("<ListPartsResult><Part><PartNumber>1</PartNumber></Part></ListPartsResult>"), None);
        assert_eq!(parts_page("<Error><Code>NoSuchUpload</Code></Error>"), None);
    }
}
