//! Validation of the upload's own inputs: content type, file name, size.

use crate::error::{ErrorCode, UploadError};
use crate::hexnode::DEFAULT_CONTENT_TYPE;

/// The most a single presigned PUT can hold: 5 GiB.
pub const MAX_SINGLE_PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// The longest file name accepted, in UTF-8 bytes (S3's key limit).
pub const MAX_FILE_NAME_BYTES: usize = 1024;

/// Whether `value` is a header value the browser sends byte for byte:
/// visible ASCII, space or tab inside, no space or tab at either end (the
/// browser would strip those, and the signature would no longer match).
fn header_value_problem(value: &str) -> Option<&'static str> {
    if !value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
    {
        return Some("must be visible ASCII, spaces or tabs only (no line breaks, control or non-ASCII characters)");
    }
    if value.starts_with([' ', '\t']) || value.ends_with([' ', '\t']) {
        return Some("must not start or end with a space or tab (the browser would strip it and the signature would not match)");
    }
    None
}

/// The Content-Type to send: `option` when given, byte for byte (no
/// trimming; `Some("")` is refused), else the File's `type` when non-empty,
/// else `application/octet-stream`.
///
/// Invalid input naming `contentType` for CR/LF, control or non-ASCII
/// characters, or a leading/trailing space or tab (which browsers strip,
/// breaking a signature over `content-type`).
pub fn resolve_content_type(option: Option<&str>, file_type: &str) -> Result<String, UploadError> {
    match option {
        Some("") => Err(UploadError::invalid_input(
            "contentType",
            "must not be empty; leave it out to use the File's own type",
        )),
        Some(value) => match header_value_problem(value) {
            Some(problem) => Err(UploadError::invalid_input("contentType", problem)),
            None => Ok(value.to_string()),
        },
        None if file_type.is_empty() => Ok(DEFAULT_CONTENT_TYPE.to_string()),
        None => match header_value_problem(file_type) {
            Some(problem) => Err(UploadError::invalid_input(
                "contentType",
                &crate::text::cat(&["the File's type ", problem, "; pass opts.contentType"]),
            )),
            None => Ok(file_type.to_string()),
        },
    }
}

/// The file name: `option` when given, else the File's name.
///
/// Invalid input naming `fileName`: neither given (a Blob has no name),
/// empty or whitespace-only, control characters, longer than 1024 bytes.
/// The name is returned as given (not trimmed).
pub fn resolve_file_name(
    option: Option<&str>,
    file_name: Option<&str>,
) -> Result<String, UploadError> {
    let Some(name) = option.or(file_name) else {
        return Err(UploadError::invalid_input(
            "fileName",
            "a Blob has no name; pass opts.fileName",
        ));
    };
    if name.trim().is_empty() {
        return Err(UploadError::invalid_input("fileName", "must not be empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(UploadError::invalid_input(
            "fileName",
            "must not contain control characters (such as line breaks)",
        ));
    }
    if name.len() > MAX_FILE_NAME_BYTES {
        return Err(UploadError::invalid_input(
            "fileName",
            &crate::text::cat(&[
                "must be at most ",
                &crate::text::num(MAX_FILE_NAME_BYTES as u64),
                " bytes in UTF-8 (it is ",
                &crate::text::num(name.len() as u64),
                ")",
            ]),
        ));
    }
    Ok(name.to_string())
}

/// Checks a File's `size` (a JS number) and returns it in bytes.
///
/// Invalid input naming `file` when NaN, infinite, negative or fractional;
/// [`ErrorCode::TooLarge`] above 5 GiB (exactly 5 GiB is allowed).
pub fn check_size(size: f64) -> Result<u64, UploadError> {
    if size.is_nan() || size.is_infinite() {
        return Err(UploadError::invalid_input(
            "file",
            "its size is not a finite number; pass a File or Blob",
        ));
    }
    if size < 0.0 {
        return Err(UploadError::invalid_input(
            "file",
            "its size must not be negative; pass a File or Blob",
        ));
    }
    if size.fract() != 0.0 {
        return Err(UploadError::invalid_input(
            "file",
            "its size must be a whole number of bytes; pass a File or Blob",
        ));
    }
    if size > MAX_SINGLE_PUT_BYTES as f64 {
        // No float formatting: it would pull about 14 KB of code into the .wasm.
        let shown = if size < 1e18 {
            crate::text::num(size as u64)
        } else {
            "over 10^18".into()
        };
        return Err(UploadError::new(
            ErrorCode::TooLarge,
            crate::text::cat(&[
                "The file is ",
                &shown,
                " bytes, but a single presigned PUT holds at most 5 GiB (",
                &crate::text::num(MAX_SINGLE_PUT_BYTES),
                " bytes). Split the file or use a multipart upload (presigned-upload/full).",
            ]),
        ));
    }
    Ok(size as u64)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn content_type_option_is_used_byte_for_byte() {
        assert_eq!(
            resolve_content_type(Some("Text/Plain; charset=UTF-8"), "image/png").unwrap(),
            "Text/Plain; charset=UTF-8"
        );
        assert_eq!(
            resolve_content_type(Some("a/b;\tq=1"), "").unwrap(),
            "a/b;\tq=1"
        );
    }

    #[test]
    fn content_type_falls_back_to_file_type_then_octet_stream() {
        assert_eq!(
            resolve_content_type(None, "image/png").unwrap(),
            "image/png"
        );
        assert_eq!(
            resolve_content_type(None, "").unwrap(),
            "application/octet-stream"
        );
    }

    #[test]
    fn empty_content_type_option_is_refused() {
        let e = resolve_content_type(Some(""), "image/png").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.starts_with("contentType: must not be empty"));
    }

    #[test]
    fn content_type_with_line_breaks_control_or_non_ascii_is_refused() {
        for bad in [
            "text/plain\r\nX-Evil: 1",
            "text/plain\n",
            "a\u{0}b",
            "a\u{7f}b",
            "tëxt/plain",
        ] {
            let e = resolve_content_type(Some(bad), "").unwrap_err();
            assert!(
                e.message.starts_with("contentType: must be visible ASCII"),
                "{bad:?}: {}",
                e.message
            );
        }
        let e = resolve_content_type(None, "bad\ntype").unwrap_err();
        assert!(
            e.message.starts_with("contentType: the File's type"),
            "{}",
            e.message
        );
    }

    #[test]
    fn content_type_with_surrounding_space_is_refused_because_browsers_strip_it() {
        for bad in [" text/plain", "text/plain ", "\ttext/plain", " "] {
            let e = resolve_content_type(Some(bad), "").unwrap_err();
            assert!(
                e.message.contains("must not start or end with a space"),
                "{bad:?}: {}",
                e.message
            );
        }
    }

    #[test]
    fn file_name_option_wins_over_the_files_name() {
        assert_eq!(
            resolve_file_name(Some("a.txt"), Some("b.txt")).unwrap(),
            "a.txt"
        );
        assert_eq!(resolve_file_name(None, Some(" b.txt ")).unwrap(), " b.txt ");
        assert_eq!(
            resolve_file_name(None, Some("résumé ✓.pdf")).unwrap(),
            "résumé ✓.pdf"
        );
    }

    #[test]
    fn blob_without_name_needs_the_file_name_option() {
        let e = resolve_file_name(None, None).unwrap_err();
        assert_eq!(
            e.message,
            "fileName: a Blob has no name; pass opts.fileName"
        );
    }

    #[test]
    fn empty_control_or_overlong_file_names_are_refused() {
        for bad in ["", "   ", "\t"] {
            assert_eq!(
                resolve_file_name(Some(bad), Some("x")).unwrap_err().message,
                "fileName: must not be empty"
            );
        }
        assert!(resolve_file_name(None, Some("a\nb"))
            .unwrap_err()
            .message
            .contains("control"));
        assert!(resolve_file_name(Some(&"a".repeat(1024)), None).is_ok());
        let e = resolve_file_name(Some(&"é".repeat(513)), None).unwrap_err();
        assert!(e.message.contains("at most 1024 bytes"), "{}", e.message);
    }

    #[test]
    fn size_up_to_exactly_5_gib_is_accepted() {
        assert_eq!(check_size(0.0).unwrap(), 0);
        assert_eq!(check_size(-0.0).unwrap(), 0);
        assert_eq!(check_size(5_368_709_120.0).unwrap(), MAX_SINGLE_PUT_BYTES);
    }

    #[test]
    fn size_over_5_gib_is_too_large() {
        let e = check_size(5_368_709_121.0).unwrap_err();
        assert_eq!(e.code, ErrorCode::TooLarge);
        assert!(
            e.message
                .contains("a single presigned PUT holds at most 5 GiB"),
            "{}",
            e.message
        );
        assert!(!e.retryable);
        assert_eq!(check_size(1e300).unwrap_err().code, ErrorCode::TooLarge);
    }

    #[test]
    fn nan_negative_infinite_or_fractional_size_is_invalid_input() {
        for bad in [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY, 1.5] {
            let e = check_size(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
            assert!(e.message.starts_with("file: "), "{}", e.message);
        }
    }
}
