//! S3's XML error bodies and the classification of a failed presigned PUT.

use crate::text::{cat, num};
use crate::error::{ErrorCode, UploadError};
use crate::retry::is_retryable_status;

/// The longest S3 message quoted in an error message, in characters.
const MAX_QUOTED_CHARS: usize = 300;

/// The useful fields of an S3 `<Error>` body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct S3Error {
    /// `<Code>`, e.g. `SignatureDoesNotMatch`.
    pub code: Option<String>,
    /// `<Message>`.
    pub message: Option<String>,
    /// `<RequestId>`.
    pub request_id: Option<String>,
}

/// Parses an S3 error body, tolerantly: finds the first `<Error>` element
/// (with or without XML declaration, attributes, whitespace; also when
/// wrapped as in `<ErrorResponse>`) and its `<Code>`, `<Message>` and
/// `<RequestId>` children. Text is trimmed, `CDATA` sections are taken as
/// written, and `&lt; &gt; &amp; &quot; &apos;` and numeric entities are
/// decoded. A missing `</Error>` is tolerated (a truncated body).
///
/// `None` when there is no `<Error>` element with a non-empty `Code` or
/// `Message`.
pub fn parse(xml: &str) -> Option<S3Error> {
    let (_, inner_start) = find_open_tag(xml, "Error", 0)?;
    let inner = xml.get(inner_start..)?;
    let inner = match crate::text::find(inner, "</Error") {
        Some(end) => inner.get(..end)?,
        None => inner,
    };
    let err = S3Error {
        code: element_text(inner, "Code"),
        message: element_text(inner, "Message"),
        request_id: element_text(inner, "RequestId"),
    };
    if err.code.is_none() && err.message.is_none() {
        return None;
    }
    Some(err)
}

/// Finds `<name>` or `<name attr...>` from byte `from`; returns the index
/// of `<` and the index just past `>`. A self-closing `<name/>` gives an
/// empty element (start == end of tag).
pub(crate) fn find_open_tag(text: &str, name: &str, from: usize) -> Option<(usize, usize)> {
    let pattern = cat(&["<", name]);
    let mut search = from;
    loop {
        let rest = text.get(search..)?;
        let pos = search + crate::text::find(rest, &pattern)?;
        let after = pos + pattern.len();
        let next = text.get(after..)?.chars().next();
        match next {
            Some('>') => return Some((pos, after + 1)),
            Some(c) if c.is_whitespace() || c == '/' => {
                let close = text.get(after..)?.find('>')?;
                return Some((pos, after + close + 1));
            }
            _ => search = after,
        }
    }
}

/// The decoded, trimmed text of the first `<name>` element inside `inner`.
pub(crate) fn element_text(inner: &str, name: &str) -> Option<String> {
    let (open, start) = find_open_tag(inner, name, 0)?;
    let tag = inner.get(open..start)?;
    if tag.ends_with("/>") {
        return None;
    }
    let body = inner.get(start..)?;
    let close = cat(&["</", name]);
    let raw = match crate::text::find(body, &close) {
        Some(end) => body.get(..end)?,
        None => body.split('<').next().unwrap_or(""),
    };
    let text = decode_xml_text(raw);
    let text = text.trim();
    if text.is_empty() {
        None
    } else {
        Some(text.to_string())
    }
}

/// Decodes entities outside CDATA sections and unwraps CDATA sections.
fn decode_xml_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while !rest.is_empty() {
        match crate::text::find(rest, "<![CDATA[") {
            Some(pos) => {
                out.push_str(&decode_entities(rest.get(..pos).unwrap_or("")));
                let after = rest.get(pos + 9..).unwrap_or("");
                match crate::text::find(after, "]]>") {
                    Some(end) => {
                        out.push_str(after.get(..end).unwrap_or(""));
                        rest = after.get(end + 3..).unwrap_or("");
                    }
                    None => {
                        out.push_str(after);
                        rest = "";
                    }
                }
            }
            None => {
                out.push_str(&decode_entities(rest));
                rest = "";
            }
        }
    }
    out
}

/// Decodes the five XML entities and numeric character references; anything
/// else is kept as written.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or(""));
        let tail = rest.get(amp..).unwrap_or("");
        // An entity is short; look for ';' in the next few bytes only.
        let semi = tail
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        let decoded = semi.and_then(|semi| {
            let name = tail.get(1..semi)?;
            let c = match name {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let num = name.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex)
                            if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
                        {
                            u32::from_str_radix(hex, 16).ok()?
                        }
                        Some(_) => return None,
                        None if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => {
                            num.parse().ok()?
                        }
                        None => return None,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, semi + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = tail.get(len..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

/// Shortens a quoted server text to [`MAX_QUOTED_CHARS`] characters.
pub(crate) fn quote_short(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => cat(&[text.get(..cut).unwrap_or(""), "…"]),
        None => text.to_string(),
    }
}

/// Whether the failure means the presigned URL (or its session token) has
/// expired: HTTP 400/403 with S3 code `ExpiredToken`, or HTTP 403 whose
/// message mentions "expired" (S3: `AccessDenied` "Request has expired").
fn is_expiry(status: u16, code: Option<&str>, message: Option<&str>) -> bool {
    let code_says = code.is_some_and(|c| c == "ExpiredToken" || c == "TokenRefreshRequired");
    let message_says = message.is_some_and(|m| crate::text::contains(&m.to_ascii_lowercase(), "expired"));
    matches!(status, 400 | 403) && (code_says || (status == 403 && message_says))
}

/// S3 codes that the AWS SDKs retry whatever the status.
fn is_transient_s3_code(code: &str) -> bool {
    matches!(
        code,
        "RequestTimeout" | "SlowDown" | "InternalError" | "ServiceUnavailable" | "Throttling"
    )
}

/// Classifies a failed PUT to a presigned URL from its status, body and
/// `x-amz-request-id` header.
///
/// - URL expired (see below) -> [`ErrorCode::UrlExpired`]: 403 with a
///   message containing "expired" (S3's `AccessDenied` "Request has
///   expired"), or 400/403 with code `ExpiredToken`.
/// - 400 `EntityTooLarge`, or 413 -> [`ErrorCode::TooLarge`].
/// - 408/429/500/502/503/504 (e.g. 503 `SlowDown`), and S3 codes that the
///   AWS SDKs retry whatever the status (`RequestTimeout` comes as 400,
///   `SlowDown`, `InternalError`, `ServiceUnavailable`, `Throttling`) ->
///   [`ErrorCode::UploadRejected`], retryable.
/// - Any other status -> [`ErrorCode::UploadRejected`], not retryable, with
///   a hint per S3 code (`SignatureDoesNotMatch`: the Content-Type must
///   equal the presigned one byte for byte and no extra `x-amz-*` header may
///   be sent; `AccessDenied`; `InvalidArgument`...).
///
/// Always carries the status and the S3 code and request id (from the XML,
/// else the header). The message is redacted.
pub fn classify_put_failure(
    status: u16,
    body: &str,
    request_id_header: Option<&str>,
) -> UploadError {
    let parsed = parse(body).unwrap_or_default();
    let code = parsed.code.clone();
    let request_id = parsed.request_id.clone().or_else(|| {
        request_id_header
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
    });
    let said = match (&parsed.code, &parsed.message) {
        (Some(c), Some(m)) => cat(&[" (S3 said ", c, ": ", &quote_short(m), ")"]),
        (Some(c), None) => cat(&[" (S3 said ", c, ")"]),
        (None, Some(m)) => cat(&[" (S3 said: ", &quote_short(m), ")"]),
        (None, None) => String::new(),
    };
    let code_str = code.as_deref();

    let err = if is_expiry(status, code_str, parsed.message.as_deref()) {
        UploadError::new(
            ErrorCode::UrlExpired,
            cat(&[
                "The presigned URL has expired",
                &said,
                ". Ask for a fresh presigned URL and upload again; \
                 if this happens right after presigning, check that this computer's clock is right.",
            ]),
        )
    } else if status == 413 || (status == 400 && code_str == Some("EntityTooLarge")) {
        UploadError::new(
            ErrorCode::TooLarge,
            cat(&[
                "S3 refused the file as too large (HTTP ",
                &num(status.into()),
                ")",
                &said,
                ". A single presigned PUT holds at most 5 GiB, \
                 and the bucket policy or presigned conditions may allow less: upload a smaller file or use a multipart upload.",
            ]),
        )
    } else if is_retryable_status(status) || code_str.is_some_and(is_transient_s3_code) {
        UploadError::new(
            ErrorCode::UploadRejected,
            cat(&[
                "S3 could not take the upload right now (HTTP ",
                &num(status.into()),
                ")",
                &said,
                ". This is usually temporary: try again in a moment.",
            ]),
        )
        .retryable(true)
    } else {
        let hint = match code_str {
            Some("SignatureDoesNotMatch") => {
                "The request does not match what was presigned: the Content-Type must equal, byte for byte, \
                 the one that was presigned, and no extra x-amz-* header may be sent. Also check that the URL \
                 was not altered (re-encoded, truncated) on its way."
            }
            Some("AccessDenied") => {
                "Check that the presigned URL was made for this bucket and object, that the credentials that \
                 signed it may write there (s3:PutObject), and that no bucket policy (or KMS key policy) denies it."
            }
            Some("InvalidArgument") | Some("AuthorizationQueryParametersError") | Some("InvalidRequest") => {
                "Check that the presigned URL is complete and unaltered, and that the request sends only the headers that were presigned."
            }
            Some("RequestTimeTooSkewed") => "Check that the clock of the machine that presigned the URL (and of this computer) is right.",
            Some("NoSuchBucket") => "Check the bucket name and region the URL was presigned for.",
            Some("InvalidAccessKeyId") => "The access key that signed the URL does not exist (any more): presign with valid credentials.",
            Some("MissingContentLength") | Some("NotImplemented") => "The upload had no Content-Length: send a File or Blob, not a stream.",
            _ if (400..500).contains(&status) => "Check the presigned URL and the headers sent with the upload.",
            _ if status >= 500 => "The storage service failed: try again later.",
            _ => "This status was not expected for an upload.",
        };
        UploadError::new(
            ErrorCode::UploadRejected,
            cat(&["S3 refused the upload (HTTP ", &num(status.into()), ")", &said, ". ", hint]),
        )
        .retryable(false)
    };
    err.with_status(status).with_s3(code, request_id)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn xml(code: &str, message: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>REQ1</RequestId><HostId>host</HostId></Error>"
        )
    }

    #[test]
    fn parses_a_typical_s3_error_body() {
        let e = parse(&xml("AccessDenied", "Request has expired")).unwrap();
        assert_eq!(e.code.as_deref(), Some("AccessDenied"));
        assert_eq!(e.message.as_deref(), Some("Request has expired"));
        assert_eq!(e.request_id.as_deref(), Some("REQ1"));
    }

    #[test]
    fn parse_tolerates_whitespace_attributes_cdata_and_missing_end() {
        let body = "  <Error xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n  <Code>\n SlowDown \n</Code>\n <Message><![CDATA[Please <reduce> & retry]]></Message>\n";
        let e = parse(body).unwrap();
        assert_eq!(e.code.as_deref(), Some("SlowDown"));
        assert_eq!(e.message.as_deref(), Some("Please <reduce> & retry"));
        assert_eq!(e.request_id, None);
        let wrapped =
            parse("<ErrorResponse><Error><Code>X</Code></Error></ErrorResponse>").unwrap();
        assert_eq!(wrapped.code.as_deref(), Some("X"));
    }

    #[test]
    fn parse_decodes_named_and_numeric_entities() {
        let e = parse("<Error><Message>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#65;&#x42;&#X43; &bogus; &#xZZ; &#1114112; &</Message></Error>").unwrap();
        assert_eq!(
            e.message.as_deref(),
            Some("a <b> & \"c\" 'd' ABC &bogus; &#xZZ; &#1114112; &")
        );
    }

    #[test]
    fn parse_is_none_without_an_error_element_with_code_or_message() {
        for body in [
            "",
            "not xml",
            "<html>502 Bad Gateway</html>",
            "<Error></Error>",
            "<Error><RequestId>x</RequestId></Error>",
            "<ErrorX><Code>A</Code></ErrorX>",
            "<Error><Code/></Error>",
            "<Error",
        ] {
            assert_eq!(parse(body), None, "{body}");
        }
    }

    #[test]
    fn parse_does_not_take_a_longer_tag_for_code() {
        let e = parse("<Error><CodeX>no</CodeX><Code>Yes</Code></Error>").unwrap();
        assert_eq!(e.code.as_deref(), Some("Yes"));
    }

    #[test]
    fn expired_request_is_url_expired_with_status_and_s3_fields() {
        let e = classify_put_failure(403, &xml("AccessDenied", "Request has expired"), None);
        assert_eq!(e.code, ErrorCode::UrlExpired);
        assert_eq!(e.status, Some(403));
        assert_eq!(e.s3_code.as_deref(), Some("AccessDenied"));
        assert_eq!(e.request_id.as_deref(), Some("REQ1"));
        assert!(
            e.message.starts_with("The presigned URL has expired"),
            "{}",
            e.message
        );
        assert!(!e.retryable);
    }

    #[test]
    fn expired_token_is_url_expired_on_400_and_403() {
        for status in [400, 403] {
            let e = classify_put_failure(
                status,
                &xml("ExpiredToken", "The provided token has expired."),
                None,
            );
            assert_eq!(e.code, ErrorCode::UrlExpired, "{status}");
        }
    }

    #[test]
    fn access_denied_without_expiry_is_a_non_retryable_rejection() {
        let e = classify_put_failure(403, &xml("AccessDenied", "Access Denied"), Some("HDR"));
        assert_eq!(e.code, ErrorCode::UploadRejected);
        assert!(!e.retryable);
        assert_eq!(
            e.request_id.as_deref(),
            Some("REQ1"),
            "XML wins over the header"
        );
        assert!(e.message.contains("AccessDenied: Access Denied"));
        assert!(e.message.contains("s3:PutObject"));
    }

    #[test]
    fn signature_mismatch_explains_the_content_type_rule() {
        let e = classify_put_failure(
            403,
            &xml(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            ),
            None,
        );
        assert_eq!(e.code, ErrorCode::UploadRejected);
        assert!(!e.retryable);
        assert_eq!(e.s3_code.as_deref(), Some("SignatureDoesNotMatch"));
        assert!(e.message.contains("SignatureDoesNotMatch"));
        assert!(e.message.contains("Content-Type must equal, byte for byte"));
        assert!(e.message.contains("x-amz-*"));
    }

    #[test]
    fn signature_mismatch_body_secrets_never_reach_the_message() {
        let body = "<Error><Code>SignatureDoesNotMatch</Code><Message>bad X-Amz-Signature=abcdef0123 here</Message><SignatureProvided>abcdef0123</SignatureProvided><RequestId>R</RequestId></Error>";
        let e = classify_put_failure(403, body, None);
        assert!(!e.to_string().contains("abcdef0123"));
    }

    #[test]
    fn entity_too_large_is_too_large() {
        let e = classify_put_failure(
            400,
            &xml(
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
            ),
            None,
        );
        assert_eq!(e.code, ErrorCode::TooLarge);
        assert!(e.message.contains("5 GiB"));
        assert_eq!(
            classify_put_failure(413, "", None).code,
            ErrorCode::TooLarge
        );
    }

    #[test]
    fn other_400_and_403_are_non_retryable_rejections() {
        for (status, code) in [
            (400, "InvalidArgument"),
            (400, "AuthorizationQueryParametersError"),
            (403, "InvalidAccessKeyId"),
            (404, "NoSuchBucket"),
        ] {
            let e = classify_put_failure(status, &xml(code, "m"), None);
            assert_eq!(e.code, ErrorCode::UploadRejected, "{code}");
            assert!(!e.retryable, "{code}");
            assert!(e.message.contains(code));
        }
    }

    #[test]
    fn slow_down_and_transient_statuses_are_retryable_rejections() {
        let e = classify_put_failure(
            503,
            &xml("SlowDown", "Please reduce your request rate."),
            None,
        );
        assert_eq!(e.code, ErrorCode::UploadRejected);
        assert!(e.retryable);
        assert_eq!(e.status, Some(503));
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(classify_put_failure(status, "", None).retryable, "{status}");
        }
        let timeout = classify_put_failure(
            400,
            &xml(
                "RequestTimeout",
                "Your socket connection to the server was not read from",
            ),
            None,
        );
        assert!(timeout.retryable);
    }

    #[test]
    fn other_statuses_are_not_retryable_and_header_request_id_is_used() {
        for status in [0, 200, 301, 404, 405, 409, 411, 501, 505, 599] {
            let e = classify_put_failure(status, "<html>nope</html>", Some(" HDR-ID "));
            assert_eq!(e.code, ErrorCode::UploadRejected, "{status}");
            assert!(!e.retryable, "{status}");
            assert_eq!(e.status, Some(status));
            assert_eq!(e.request_id.as_deref(), Some("HDR-ID"));
            assert_eq!(e.s3_code, None);
        }
    }

    #[test]
    fn very_long_s3_messages_are_shortened() {
        let long = "x".repeat(5000);
        let e = classify_put_failure(403, &xml("AccessDenied", &long), None);
        assert!(e.message.len() < 1000);
        assert!(e.message.contains('…'));
    }
}
