//! Redaction of presigned-URL secrets from any text (URLs, server answers, messages). It uses
//! no other module of the crate but the text helpers, so that [`crate::error`] can redact
//! every message it builds without depending on the URL parser, and the parser can build
//! errors without depending back on it.

/// What [`redact_url`] and [`redact_text`] put in place of a secret value.
pub const REDACTED: &str = "REDACTED";

/// Replaces the values of `X-Amz-Signature`, `X-Amz-Credential` and
/// `X-Amz-Security-Token` (names in any case, also percent-encoded, e.g.
/// `X%2DAmz%2DSignature`) with `REDACTED` and keeps everything else.
///
/// This is the same scanner as [`redact_text`], so a SigV2 `Signature=` /
/// `AWSAccessKeyId=` is redacted too.
pub fn redact_url(url: &str) -> String {
    redact_text(url)
}

/// A parameter or field name whose value is a secret.
struct SecretName {
    /// Lowercase ASCII name.
    name: &'static [u8],
    /// A common word: only matched at a word boundary, and in the
    /// `Name: value` form only when the name was quoted (`"Signature": ...`).
    bare: bool,
}

/// Names whose values [`redact_text`] removes, longest first.
const SECRET_NAMES: &[SecretName] = &[
    SecretName {
        name: b"x-amz-security-token",
        bare: false,
    },
    SecretName {
        name: b"x-amz-credential",
        bare: false,
    },
    SecretName {
        name: b"x-amz-signature",
        bare: false,
    },
    SecretName {
        name: b"awsaccesskeyid",
        bare: true,
    },
    SecretName {
        name: b"credential",
        bare: true,
    },
    SecretName {
        name: b"signature",
        bare: true,
    },
];

/// XML elements whose text [`redact_text`] removes (S3 puts the signature
/// it got in `<SignatureProvided>` of a `SignatureDoesNotMatch` error).
const SECRET_ELEMENTS: &[&[u8]] = &[
    b"signatureprovided",
    b"x-amz-security-token",
    b"x-amz-credential",
    b"x-amz-signature",
    b"awsaccesskeyid",
];

/// Redacts presigned-URL secrets anywhere in arbitrary text: query form
/// (`X-Amz-Signature=abc`, also with an encoded `%3D`), header form
/// (`X-Amz-Signature: abc`), JSON / Python form (`"X-Amz-Signature":"abc"`,
/// also with escaped quotes) and XML form (`<SignatureProvided>abc<`).
///
/// Covered names: `X-Amz-Signature`, `X-Amz-Credential`,
/// `X-Amz-Security-Token` (any case, any character percent-encoded) and, at
/// a word boundary, SigV2's `Signature`, `AWSAccessKeyId` and SigV4 header
/// `Credential`. A value runs until whitespace, a control character or one
/// of ``& # " ' < > ` , ; ) ] } \``, and is replaced by `REDACTED`.
/// Never panics; redacting twice changes nothing more.
pub fn redact_text(text: &str) -> String {
    // Every value range, including those of names that sit inside another
    // value (`X-Amz-Signature=X-Amz-Signature: v`), merged where they
    // overlap. A match can only start at an ASCII byte, which is always a
    // char boundary, so trying every byte is safe.
    let mut last_run: Option<(usize, usize)> = None;
    let mut ranges: Vec<(usize, usize)> = (0..text.len())
        .filter_map(|i| secret_value_at(text, i, &mut last_run))
        .filter(|(start, end)| end > start)
        .collect();
    // Insertion sort: few ranges, and no general sort in the .wasm.
    for i in 1..ranges.len() {
        let mut j = i;
        while j > 0 && ranges[j - 1] > ranges[j] {
            ranges.swap(j - 1, j);
            j -= 1;
        }
    }
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0usize;
    for (start, end) in merged {
        match text.get(copied..start) {
            Some(chunk) => out.push_str(chunk),
            None => return REDACTED.to_string(),
        }
        out.push_str(REDACTED);
        copied = end;
    }
    match text.get(copied..) {
        Some(rest) => out.push_str(rest),
        None => return REDACTED.to_string(),
    }
    out
}

/// When a secret name starts at byte `i`, the byte range of its value.
///
/// `last_run` remembers the last terminator-free run found, so that names
/// repeated inside one long value do not rescan it (keeps this linear).
fn secret_value_at(
    text: &str,
    i: usize,
    last_run: &mut Option<(usize, usize)>,
) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let first = *bytes.get(i)?;
    if first == b'<' {
        for name in SECRET_ELEMENTS {
            if let Some(end) = match_name(bytes, i + 1, name) {
                if bytes.get(end) == Some(&b'>') {
                    let start = end + 1;
                    let len = text.get(start..)?.find('<').unwrap_or(text.len() - start);
                    return Some((start, start + len));
                }
            }
        }
        return None;
    }
    if !(first.is_ascii_alphabetic() || first == b'%') {
        return None;
    }
    for secret in SECRET_NAMES {
        let Some(mut k) = match_name(bytes, i, secret.name) else {
            continue;
        };
        if secret.bare && i > 0 {
            let prev = bytes.get(i - 1).copied().unwrap_or(b' ');
            if prev.is_ascii_alphanumeric() || prev == b'-' || prev == b'_' {
                continue;
            }
        }
        let mut quoted = false;
        while let Some(&b) = bytes.get(k) {
            if matches!(b, b'"' | b'\'' | b'\\') {
                quoted = true;
                k += 1;
            } else {
                break;
            }
        }
        k = skip_blanks(bytes, k);
        match bytes.get(k) {
            Some(b'=') => k += 1,
            Some(b':') if !secret.bare || quoted => k += 1,
            Some(b'%')
                if bytes.get(k + 1) == Some(&b'3')
                    && matches!(bytes.get(k + 2), Some(b'D') | Some(b'd')) =>
            {
                k += 3
            }
            _ => continue,
        }
        k = skip_blanks(bytes, k);
        while let Some(&b) = bytes.get(k) {
            if matches!(b, b'"' | b'\'' | b'\\') {
                k += 1;
            } else {
                break;
            }
        }
        if let Some((start, end)) = *last_run {
            if start <= k && k <= end {
                // No terminator in start..end, and `end` is one (or the end).
                return Some((k, end));
            }
        }
        let rest = text.get(k..)?;
        let end = k + rest.find(is_value_terminator).unwrap_or(rest.len());
        *last_run = Some((k, end));
        return Some((k, end));
    }
    None
}

/// Spaces and tabs.
fn skip_blanks(bytes: &[u8], mut k: usize) -> usize {
    while matches!(bytes.get(k), Some(b' ') | Some(b'\t')) {
        k += 1;
    }
    k
}

/// Where a secret value ends.
fn is_value_terminator(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '&' | '#' | '"' | '\'' | '<' | '>' | '`' | ',' | ';' | ')' | ']' | '}' | '\\'
        )
}

/// Matches a lowercase ASCII `name` at byte `i`, each character either
/// literal (any case) or percent-encoded; returns the end index.
fn match_name(bytes: &[u8], i: usize, name: &[u8]) -> Option<usize> {
    let mut j = i;
    for &want in name {
        let b = *bytes.get(j)?;
        if b.to_ascii_lowercase() == want {
            j += 1;
            continue;
        }
        if b == b'%' {
            let hi = crate::text::hex_value(*bytes.get(j + 1)?)?;
            let lo = crate::text::hex_value(*bytes.get(j + 2)?)?;
            if (hi * 16 + lo).to_ascii_lowercase() == want {
                j += 3;
                continue;
            }
        }
        return None;
    }
    Some(j)
}

