//! Presigned URL parsing (expiry, signed headers, transport checks) and the
//! redaction of presigned-URL secrets from any text.
//!
//! The parser is deliberately small and strict: a presigned URL is produced by
//! a machine, so anything odd in it (whitespace, a bad port, a malformed
//! `X-Amz-Date`) is reported before any byte is sent.

use crate::error::UploadError;

/// The field name used in [`parse`]'s errors.
const FIELD: &str = "presignedUrl";

pub use crate::redact::{redact_text, redact_url, REDACTED};

/// The longest lifetime SigV4 allows for a presigned URL (7 days), in seconds.
pub const MAX_EXPIRES_SECS: u64 = 604_800;

/// A parsed presigned (or plain) http(s) URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedUrl {
    /// `"https"` or `"http"`, lowercase.
    pub scheme: String,
    /// `host[:port]` as written, lowercase.
    pub host: String,
    /// The host without port; an IPv6 address without brackets.
    pub hostname: String,
    /// The explicit port, if any.
    pub port: Option<u16>,
    /// The path as written (still percent-encoded); `"/"` when empty.
    pub path: String,
    /// `X-Amz-Date` as milliseconds since the Unix epoch.
    pub amz_date_ms: Option<u64>,
    /// `X-Amz-Expires`, in seconds.
    pub expires_secs: Option<u64>,
    /// `X-Amz-SignedHeaders` split on `;`, lowercased.
    pub signed_headers: Vec<String>,
    /// Whether `X-Amz-Security-Token` is present (temporary credentials).
    pub has_security_token: bool,
    /// Whether the URL is SigV4-presigned: `X-Amz-Algorithm=AWS4-HMAC-SHA256`
    /// and a non-empty signature parameter.
    pub is_sigv4: bool,
}

/// The pieces of an absolute http(s) URL, before any query parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    /// Lowercase scheme.
    pub scheme: String,
    /// Lowercase `host[:port]` as written.
    pub host: String,
    /// Lowercase host without port or IPv6 brackets.
    pub hostname: String,
    /// Explicit port.
    pub port: Option<u16>,
    /// Whether `user[:password]@` was present.
    pub has_userinfo: bool,
    /// The path as written (may be empty).
    pub path: &'a str,
    /// The query without `?`, when a `?` was present.
    pub query: Option<&'a str>,
    /// The fragment without `#`, when a `#` was present.
    pub fragment: Option<&'a str>,
}

/// Splits an absolute http(s) URL. The error is a problem phrase to put
/// after a field name.
pub(crate) fn split_url(url: &str) -> Result<UrlParts<'_>, &'static str> {
    if url.is_empty() {
        return Err("must not be empty");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters");
    }
    let Some((scheme, rest)) = crate::text::split_once(url, "://") else {
        return Err("must be an absolute http(s) URL such as https://host/path");
    };
    let scheme = if scheme.eq_ignore_ascii_case("https") {
        "https"
    } else if scheme.eq_ignore_ascii_case("http") {
        "http"
    } else {
        return Err("must be an absolute http(s) URL such as https://host/path");
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or("");
    let after = rest.get(authority_end..).unwrap_or("");
    let (has_userinfo, host) = match authority.rfind('@') {
        Some(at) => (true, authority.get(at + 1..).unwrap_or("")),
        None => (false, authority),
    };
    if host.is_empty() {
        return Err("has no host");
    }
    // ASCII only: a host that reaches the network is ASCII (browsers IDNA-encode the rest), and
    // full Unicode case mapping costs kilobytes of tables in the .wasm.
    let host = host.to_ascii_lowercase();
    let (hostname, port_text) = if let Some(inner) = host.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Err("has an IPv6 host without its closing bracket");
        };
        let addr = inner.get(..close).unwrap_or("");
        if ipv6_groups(addr).is_none() {
            return Err("has a host that is not a valid IPv6 address");
        }
        let tail = inner.get(close + 1..).unwrap_or("");
        let port_text = if tail.is_empty() {
            None
        } else if let Some(p) = tail.strip_prefix(':') {
            Some(p)
        } else {
            return Err("has characters after the IPv6 host");
        };
        (addr.to_string(), port_text)
    } else {
        let (name, port_text) = match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host.as_str(), None),
        };
        if name.is_empty() {
            return Err("has no host");
        }
        let ok = name.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '.' | '_')
                || !c.is_ascii()
        });
        if !ok {
            return Err("has a host with characters a host name cannot contain");
        }
        (name.to_string(), port_text)
    };
    let port = match port_text {
        None => None,
        Some(p) => {
            Some(parse_port(p).ok_or("has a bad port (it must be a number from 1 to 65535)")?)
        }
    };
    let (before_fragment, fragment) = match after.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (after, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_fragment, None),
    };
    Ok(UrlParts {
        scheme: scheme.to_string(),
        host: host.clone(),
        hostname,
        port,
        has_userinfo,
        path,
        query,
        fragment,
    })
}

/// A port: 1 to 5 ASCII digits with a value from 1 to 65535.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|p| *p != 0)
}

/// Whether a lowercase host name (IPv6 without brackets) is a loopback host:
/// `localhost`, `*.localhost`, 127.0.0.0/8, `::1` (also as IPv4-mapped).
pub(crate) fn hostname_is_loopback(hostname: &str) -> bool {
    let name = hostname.strip_suffix('.').unwrap_or(hostname);
    let name = name.to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    if let Some(v4) = ipv4_octets(&name) {
        return v4[0] == 127;
    }
    match ipv6_groups(&name) {
        Some([0, 0, 0, 0, 0, 0, 0, 1]) => true,
        // IPv4-mapped (::ffff:a.b.c.d) of a 127.0.0.0/8 address.
        Some([0, 0, 0, 0, 0, 0xffff, hi, _]) => hi >> 8 == 127,
        _ => false,
    }
}

/// The four octets of a dotted-quad IPv4 address (decimal, no leading zeros), as
/// `std::net::Ipv4Addr` reads them; `None` for anything else.
pub(crate) fn ipv4_octets(text: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = text.split('.');
    for o in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        *o = u8::try_from(digits_u32(p)?).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The eight 16-bit groups of an IPv6 address written as RFC 4291 allows (one `::`, an
/// IPv4 tail), as `std::net::Ipv6Addr` reads it; `None` for anything else.
pub(crate) fn ipv6_groups(text: &str) -> Option<[u16; 8]> {
    fn groups(side: &str, out: &mut [u16; 8], at: usize, room: usize) -> Option<usize> {
        if side.is_empty() {
            return Some(0);
        }
        let items: Vec<&str> = side.split(':').collect();
        let mut n = 0;
        for (i, item) in items.iter().enumerate() {
            if i + 1 == items.len() && item.bytes().any(|b| b == b'.') {
                let v4 = ipv4_octets(item)?;
                if n + 2 > room {
                    return None;
                }
                out[at + n] = u16::from_be_bytes([v4[0], v4[1]]);
                out[at + n + 1] = u16::from_be_bytes([v4[2], v4[3]]);
                n += 2;
            } else {
                if item.is_empty() || item.len() > 4 || n >= room {
                    return None;
                }
                let mut g = 0u16;
                for b in item.bytes() {
                    g = (g << 4) | u16::from(crate::text::hex_value(b)?);
                }
                out[at + n] = g;
                n += 1;
            }
        }
        Some(n)
    }
    let mut out = [0u16; 8];
    match crate::text::split_once(text, "::") {
        None => (groups(text, &mut out, 0, 8)? == 8).then_some(out),
        Some((head, tail)) => {
            if crate::text::contains(tail, "::") {
                return None;
            }
            let h = groups(head, &mut out, 0, 7)?;
            let mut back = [0u16; 8];
            let t = groups(tail, &mut back, 0, 7 - h)?;
            out[8 - t..].copy_from_slice(&back[..t]);
            Some(out)
        }
    }
}

/// Decodes `%XX` sequences; anything malformed is kept as written, and bytes
/// that are not UTF-8 become U+FFFD. `+` is kept (SigV4 never uses it for a
/// space).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(crate::text::hex_value);
            let lo = bytes.get(i + 2).copied().and_then(crate::text::hex_value);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi * 16 + lo);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a presigned PUT URL.
///
/// Refused with an [`crate::error::ErrorCode::InvalidInput`] error naming
/// `presignedUrl`: an empty URL, one that is not an absolute http(s) URL, has
/// no host, contains whitespace or control characters, has a bad port, has
/// `user:password@` (browsers refuse to fetch such URLs), an `X-Amz-Date`
/// that is not `YYYYMMDD'T'HHMMSS'Z'`, or an `X-Amz-Expires` that is not an
/// integer from 1 to 604800.
///
/// Query parameter names compare case-sensitively, as AWS does (so
/// `x-amz-date` is not `X-Amz-Date`); names and values are percent-decoded.
/// When a parameter is repeated, the first occurrence counts. A URL without
/// SigV4 parameters (SigV2, or a plain URL) is accepted with `is_sigv4`
/// false and no known expiry.
pub fn parse(url: &str) -> Result<PresignedUrl, UploadError> {
    let parts = split_url(url).map_err(|problem| UploadError::invalid_input(FIELD, problem))?;
    if parts.has_userinfo {
        return Err(UploadError::invalid_input(
            FIELD,
            "must not contain user:password@ (browsers refuse to send such URLs)",
        ));
    }
    let mut date: Option<String> = None;
    let mut expires: Option<String> = None;
    let mut signed: Option<String> = None;
    let mut algorithm: Option<String> = None;
    let mut signature: Option<String> = None;
    let mut token = false;
    for pair in parts.query.unwrap_or("").split('&') {
        if pair.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(raw_name);
        let slot = match name.as_str() {
            "X-Amz-Date" => &mut date,
            "X-Amz-Expires" => &mut expires,
            "X-Amz-SignedHeaders" => &mut signed,
            "X-Amz-Algorithm" => &mut algorithm,
            "X-Amz-Signature" => &mut signature,
            "X-Amz-Security-Token" => {
                token = true;
                continue;
            }
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(percent_decode(raw_value));
        }
    }
    let amz_date_ms = match date {
        None => None,
        Some(d) => Some(epoch_ms_from_amz_date(&d).ok_or_else(|| {
            UploadError::invalid_input(
                FIELD,
                "X-Amz-Date must be a UTC timestamp like 20130524T000000Z; the URL looks damaged, ask for a new one",
            )
        })?),
    };
    let expires_secs = match expires {
        None => None,
        Some(e) => Some(parse_expires(&e).ok_or_else(|| {
            UploadError::invalid_input(
                FIELD,
                "X-Amz-Expires must be a whole number of seconds from 1 to 604800 (7 days); the URL looks damaged, ask for a new one",
            )
        })?),
    };
    let signed_headers = signed
        .map(|s| {
            s.split(';')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let is_sigv4 = algorithm.as_deref() == Some("AWS4-HMAC-SHA256")
        && signature.as_deref().is_some_and(|s| !s.is_empty());
    let path = if parts.path.is_empty() {
        "/"
    } else {
        parts.path
    };
    Ok(PresignedUrl {
        scheme: parts.scheme,
        host: parts.host,
        hostname: parts.hostname,
        port: parts.port,
        path: path.to_string(),
        amz_date_ms,
        expires_secs,
        signed_headers,
        has_security_token: token,
        is_sigv4,
    })
}

/// `X-Amz-Expires`: ASCII digits, value 1..=604800.
fn parse_expires(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 7 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>()
        .ok()
        .filter(|v| (1..=MAX_EXPIRES_SECS).contains(v))
}

impl PresignedUrl {
    /// When the URL expires (`X-Amz-Date` + `X-Amz-Expires`), in ms since the
    /// epoch; `None` when either is missing.
    pub fn expires_at_ms(&self) -> Option<u64> {
        let date = self.amz_date_ms?;
        let secs = self.expires_secs?;
        Some(date.saturating_add(secs.saturating_mul(1000)))
    }

    /// True when `now_ms + margin_ms >= expires_at`; false when the expiry is
    /// unknown.
    pub fn is_expired(&self, now_ms: u64, margin_ms: u64) -> bool {
        match self.expires_at_ms() {
            Some(at) => now_ms.saturating_add(margin_ms) >= at,
            None => false,
        }
    }

    /// Whether the host is a loopback host: `localhost`, `*.localhost`,
    /// 127.0.0.0/8 or `::1`.
    pub fn is_loopback(&self) -> bool {
        hostname_is_loopback(&self.hostname)
    }

    /// Refuses `http://` unless the host is a loopback host or
    /// `allow_insecure_http` is set: over plain http anyone on the path could
    /// read the file and replay the URL.
    pub fn check_transport(&self, allow_insecure_http: bool) -> Result<(), UploadError> {
        if self.scheme == "https" || allow_insecure_http || self.is_loopback() {
            Ok(())
        } else {
            Err(UploadError::invalid_input(
                FIELD,
                "must use https (http is only allowed for loopback hosts or with allowInsecureHttp)",
            ))
        }
    }

    /// Whether header `name` (any case) is among the signed headers.
    pub fn signs_header(&self, name: &str) -> bool {
        let name = name.trim().to_ascii_lowercase();
        self.signed_headers.contains(&name)
    }
}

/// Milliseconds since the epoch of a civil UTC date-time; `None` when a
/// field is out of range or the date is before 1970.
pub(crate) fn civil_to_epoch_ms(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<u64> {
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = (if y >= 0 { y } else { y - 399 }) / 400;
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    if days < 0 {
        return None;
    }
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    u64::try_from(secs).ok()?.checked_mul(1000)
}

/// Days in a month of the proleptic Gregorian calendar.
fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Parses a run of ASCII digits.
pub(crate) fn digits_u32(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Converts an `X-Amz-Date` such as `"20130524T000000Z"` to milliseconds
/// since the Unix epoch. `None` unless it is exactly `YYYYMMDD'T'HHMMSS'Z'`
/// with a real date from 1970 on.
pub fn epoch_ms_from_amz_date(s: &str) -> Option<u64> {
    if s.len() != 16 || !s.is_ascii() {
        return None;
    }
    if s.get(8..9)? != "T" || s.get(15..16)? != "Z" {
        return None;
    }
    let year = digits_u32(s.get(0..4)?)?;
    let month = digits_u32(s.get(4..6)?)?;
    let day = digits_u32(s.get(6..8)?)?;
    let hour = digits_u32(s.get(9..11)?)?;
    let minute = digits_u32(s.get(11..13)?)?;
    let second = digits_u32(s.get(13..15)?)?;
    civil_to_epoch_ms(i64::from(year), month, day, hour, minute, second)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    const AWS_EXAMPLE: &str = "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    fn problem(url: &str) -> String {
        let e = parse(url).expect_err(url);
        assert_eq!(e.code, ErrorCode::InvalidInput, "{url}");
        assert!(e.message.starts_with("presignedUrl: "), "{}", e.message);
        e.message
    }

    #[test]
    fn aws_documentation_example_parses_with_expiry_and_signed_headers() {
        let u = parse(AWS_EXAMPLE).unwrap();
        assert_eq!(u.scheme, "https");
        assert_eq!(u.host, "examplebucket.s3.amazonaws.com");
        assert_eq!(u.hostname, "examplebucket.s3.amazonaws.com");
        assert_eq!(u.port, None);
        assert_eq!(u.path, "/test.txt");
        assert_eq!(u.amz_date_ms, Some(1_369_353_600_000));
        assert_eq!(u.expires_secs, Some(86_400));
        assert_eq!(u.expires_at_ms(), Some(1_369_353_600_000 + 86_400_000));
        assert_eq!(u.signed_headers, vec!["host".to_string()]);
        assert!(u.is_sigv4);
        assert!(!u.has_security_token);
        assert!(u.signs_header("Host"));
        assert!(!u.signs_header("content-type"));
    }

    #[test]
    fn signed_headers_are_percent_decoded_and_lowercased() {
        let u = parse("https://b.s3.amazonaws.com/k?X-Amz-SignedHeaders=Content-Type%3BHost&X-Amz-Security-Token=abc").unwrap();
        assert_eq!(
            u.signed_headers,
            vec!["content-type".to_string(), "host".to_string()]
        );
        assert!(u.signs_header("CONTENT-TYPE"));
        assert!(u.has_security_token);
        assert!(!u.is_sigv4);
    }

    #[test]
    fn expired_url_is_reported_expired_before_put() {
        let u = parse(AWS_EXAMPLE).unwrap();
        let at = u.expires_at_ms().unwrap();
        assert!(!u.is_expired(at - 60_001, 60_000));
        assert!(u.is_expired(at - 60_000, 60_000));
        assert!(u.is_expired(at, 0));
        assert!(u.is_expired(u64::MAX, u64::MAX));
    }

    #[test]
    fn url_without_sigv4_parameters_is_accepted_with_unknown_expiry() {
        let u = parse("https://bucket.s3.amazonaws.com/key?AWSAccessKeyId=AKIA&Expires=1700000000&Signature=abc%2B").unwrap();
        assert!(!u.is_sigv4);
        assert_eq!(u.expires_at_ms(), None);
        assert!(!u.is_expired(u64::MAX, 0));
        let plain = parse("https://example.com").unwrap();
        assert_eq!(plain.path, "/");
        assert!(!plain.is_sigv4);
    }

    #[test]
    fn query_parameter_names_are_case_sensitive_like_aws() {
        let u = parse(
            "https://h/k?x-amz-date=garbage&x-amz-expires=0&X-AMZ-ALGORITHM=AWS4-HMAC-SHA256",
        )
        .unwrap();
        assert_eq!(u.amz_date_ms, None);
        assert_eq!(u.expires_secs, None);
        assert!(!u.is_sigv4);
    }

    #[test]
    fn percent_encoded_parameter_names_are_recognised() {
        let u = parse("https://h/k?X%2DAmz%2DExpires=60&X-Amz-Date=20200101T000000Z").unwrap();
        assert_eq!(u.expires_secs, Some(60));
    }

    #[test]
    fn first_occurrence_of_a_repeated_parameter_counts() {
        let u = parse("https://h/k?X-Amz-Expires=60&X-Amz-Expires=120").unwrap();
        assert_eq!(u.expires_secs, Some(60));
    }

    #[test]
    fn sigv4_needs_the_algorithm_and_a_non_empty_signature() {
        assert!(
            !parse("https://h/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=")
                .unwrap()
                .is_sigv4
        );
        assert!(
            !parse("https://h/k?X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Signature=ab")
                .unwrap()
                .is_sigv4
        );
        assert!(
            parse("https://h/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab")
                .unwrap()
                .is_sigv4
        );
    }

    #[test]
    fn malformed_urls_are_refused_naming_presigned_url() {
        assert!(problem("").contains("must not be empty"));
        assert!(problem("bucket.s3.amazonaws.com/key").contains("absolute"));
        assert!(problem("ftp://h/k").contains("absolute"));
        assert!(problem("https:///k").contains("no host"));
        assert!(problem("https://h/k k").contains("whitespace"));
        assert!(problem(" https://h/k").contains("whitespace"));
        assert!(problem("https://h/k\n").contains("whitespace"));
        assert!(problem("https://h/k\u{7}").contains("control"));
        assert!(problem("https://h:0/k").contains("port"));
        assert!(problem("https://h:65536/k").contains("port"));
        assert!(problem("https://h:/k").contains("port"));
        assert!(problem("https://h:8x/k").contains("port"));
        assert!(problem("https://a:b:c/k").contains("port"));
        assert!(problem("https://user:pw@h/k").contains("user:password"));
        assert!(problem("https://[::1/k").contains("IPv6"));
        assert!(problem("https://[nope]/k").contains("IPv6"));
        assert!(problem("https://[::1]x/k").contains("IPv6"));
        assert!(problem("https://ho$t/k").contains("host"));
    }

    #[test]
    fn bad_amz_date_and_expires_are_refused() {
        for d in [
            "2013-05-24",
            "20130524T000000",
            "20131324T000000Z",
            "20130230T000000Z",
            "20130524T240000Z",
            "19691231T235959Z",
            "2013052４T00000Z",
        ] {
            assert!(
                problem(&format!("https://h/k?X-Amz-Date={d}")).contains("X-Amz-Date"),
                "{d}"
            );
        }
        for e in [
            "0",
            "604801",
            "-1",
            "1.5",
            "",
            "abc",
            "99999999999999999999",
        ] {
            assert!(
                problem(&format!("https://h/k?X-Amz-Expires={e}")).contains("X-Amz-Expires"),
                "{e}"
            );
        }
        assert_eq!(
            parse("https://h/k?X-Amz-Expires=604800")
                .unwrap()
                .expires_secs,
            Some(604_800)
        );
        assert_eq!(
            parse("https://h/k?X-Amz-Expires=1").unwrap().expires_secs,
            Some(1)
        );
    }

    #[test]
    fn host_and_port_are_split_and_lowercased() {
        let u = parse("HTTPS://MyBucket.S3.Amazonaws.com:8443/Key?x=1#frag").unwrap();
        assert_eq!(u.scheme, "https");
        assert_eq!(u.host, "mybucket.s3.amazonaws.com:8443");
        assert_eq!(u.hostname, "mybucket.s3.amazonaws.com");
        assert_eq!(u.port, Some(8443));
        assert_eq!(u.path, "/Key");
        let v6 = parse("http://[::1]:9000/b/k").unwrap();
        assert_eq!(v6.host, "[::1]:9000");
        assert_eq!(v6.hostname, "::1");
        assert_eq!(v6.port, Some(9000));
        let q = parse("https://h?X-Amz-Expires=5").unwrap();
        assert_eq!(q.path, "/");
        assert_eq!(q.expires_secs, Some(5));
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for url in [
            "http://localhost/k",
            "http://LOCALHOST:9000/k",
            "http://minio.localhost/k",
            "http://127.0.0.1/k",
            "http://127.9.8.7:80/k",
            "http://[::1]/k",
            "http://[::ffff:127.0.0.1]/k",
            "http://localhost./k",
        ] {
            assert!(parse(url).unwrap().is_loopback(), "{url}");
        }
        for url in [
            "http://10.0.0.1/k",
            "http://128.0.0.1/k",
            "http://localhost.example.com/k",
            "http://[::2]/k",
            "http://mylocalhost/k",
        ] {
            assert!(!parse(url).unwrap().is_loopback(), "{url}");
        }
    }

    #[test]
    fn http_is_refused_unless_loopback_or_explicitly_allowed() {
        let remote = parse("http://bucket.example.com/k").unwrap();
        let e = remote.check_transport(false).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert_eq!(
            e.message,
            "presignedUrl: must use https (http is only allowed for loopback hosts or with allowInsecureHttp)"
        );
        assert!(remote.check_transport(true).is_ok());
        assert!(parse("http://127.0.0.1:9000/k")
            .unwrap()
            .check_transport(false)
            .is_ok());
        assert!(parse("https://bucket.example.com/k")
            .unwrap()
            .check_transport(false)
            .is_ok());
    }

    #[test]
    fn amz_date_converts_with_leap_years_and_century_rules() {
        assert_eq!(epoch_ms_from_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(
            epoch_ms_from_amz_date("20130524T000000Z"),
            Some(1_369_353_600_000)
        );
        assert_eq!(
            epoch_ms_from_amz_date("20000229T000000Z"),
            Some(951_782_400_000)
        );
        assert_eq!(
            epoch_ms_from_amz_date("20240229T235959Z"),
            Some(1_709_251_199_000)
        );
        assert_eq!(epoch_ms_from_amz_date("21000229T000000Z"), None);
        assert_eq!(epoch_ms_from_amz_date("20230229T000000Z"), None);
        assert_eq!(
            epoch_ms_from_amz_date("99991231T235959Z"),
            Some(253_402_300_799_000)
        );
        assert_eq!(epoch_ms_from_amz_date("20130524t000000z"), None);
        assert_eq!(epoch_ms_from_amz_date("2013052+T000000Z"), None);
        assert_eq!(epoch_ms_from_amz_date("é013052T000000Z"), None);
    }

    #[test]
    fn redact_url_replaces_only_secret_values() {
        let r = redact_url(AWS_EXAMPLE);
        assert_eq!(
            r,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=REDACTED"
        );
        let t = redact_url("https://h/k?x-amz-security-token=FQoG%2Fab%2B%3D&a=b");
        assert_eq!(t, "https://h/k?x-amz-security-token=REDACTED&a=b");
    }

    #[test]
    fn redact_url_handles_percent_encoded_names_and_separators() {
        assert_eq!(
            redact_url("https://h/k?X%2DAmz%2DSignature=abc&a=b"),
            "https://h/k?X%2DAmz%2DSignature=REDACTED&a=b"
        );
        assert_eq!(
            redact_url("https://h/k?%58-amz-signature=abc"),
            "https://h/k?%58-amz-signature=REDACTED"
        );
        let nested = redact_url("https://app/cb?next=https%3A%2F%2Fh%2Fk%3FX-Amz-Signature%3Dabc");
        assert!(!nested.contains("abc"), "{nested}");
    }

    #[test]
    fn redact_text_covers_header_json_xml_and_sigv2_forms() {
        let cases = [
            ("X-Amz-Signature: abcdef", "X-Amz-Signature: REDACTED"),
            ("{\"X-Amz-Signature\":\"abcdef\",\"a\":1}", "{\"X-Amz-Signature\":\"REDACTED\",\"a\":1}"),
            ("{\"X-Amz-Credential\" : \"AKIA/x\"}", "{\"X-Amz-Credential\" : \"REDACTED\"}"),
            ("{\\\"X-Amz-Signature\\\":\\\"abcdef\\\"}", "{\\\"X-Amz-Signature\\\":\\\"REDACTED\\\"}"),
            ("{'X-Amz-Security-Token': 'tok+/='}", "{'X-Amz-Security-Token': 'REDACTED'}"),
            ("<SignatureProvided>abc def</SignatureProvided>", "<SignatureProvided>REDACTED</SignatureProvided>"),
            ("?AWSAccessKeyId=AKIA&Expires=1&Signature=xyz%2B", "?AWSAccessKeyId=REDACTED&Expires=1&Signature=REDACTED"),
            ("Authorization: AWS4-HMAC-SHA256 Credential=AKIA/2013/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=fe5f", "Authorization: AWS4-HMAC-SHA256 Credential=REDACTED, SignedHeaders=host, Signature=REDACTED"),
        ];
        for (input, want) in cases {
            assert_eq!(redact_text(input), want, "{input}");
        }
    }

    #[test]
    fn redact_text_leaves_ordinary_prose_alone() {
        for text in [
            "SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided.",
            "Check the credential: it may be wrong",
            "The Signature of the request",
            "X-Amz-Signature=",
            "X-Amz-Date=20130524T000000Z",
            "héllo wörld ✓ Signature",
            "",
        ] {
            assert_eq!(redact_text(text), text);
        }
    }

    #[test]
    fn redact_text_is_idempotent_and_keeps_unicode_around_values() {
        let text = "ünïcødé X-Amz-Signature=abc✓def & more ✓";
        let once = redact_text(text);
        assert_eq!(once, "ünïcødé X-Amz-Signature=REDACTED & more ✓");
        assert_eq!(redact_text(&once), once);
    }

    #[test]
    fn redact_text_catches_a_secret_name_hidden_inside_another_value() {
        let out = redact_text("X-Amz-Signature=X-Amz-Signature: %a====A=");
        assert!(!out.contains("%a====A="), "{out}");
        assert_eq!(redact_text(&out), out);
    }

    #[test]
    fn redact_text_stays_fast_on_many_names_in_one_long_value() {
        let text = "X-Amz-Signature=".repeat(50_000);
        let started = std::time::Instant::now();
        let out = redact_text(&text);
        assert_eq!(out, "X-Amz-Signature=REDACTED");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn redact_text_does_not_panic_on_truncated_percent_sequences() {
        for text in [
            "%",
            "%5",
            "%58",
            "X-Amz-Signature%3",
            "X-Amz-Signature%3D",
            "<",
            "<SignatureProvided>",
            "X-Amz-Signature\"",
            "é%é",
        ] {
            let _ = redact_text(text);
        }
        assert_eq!(
            redact_text("<SignatureProvided>abc"),
            "<SignatureProvided>REDACTED"
        );
    }

    #[test]
    fn percent_decode_keeps_malformed_sequences() {
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn ip_parsers_agree_with_std_on_tricky_addresses() {
        let cases = [
            "127.0.0.1", "0.0.0.0", "255.255.255.255", "256.0.0.1", "127.0.0.01", "127.0.0", "127.0.0.1.", "1.2.3.4.5", "a.b.c.d", "",
            "::1", "::", "1::", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::",
            "fe80::1%eth0", ":::", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4", "abcd:EF01::", "g::1", "1:", ":1",
        ];
        for c in cases {
            assert_eq!(ipv4_octets(c), c.parse::<std::net::Ipv4Addr>().ok().map(|a| a.octets()), "IPv4 {c:?}");
            assert_eq!(ipv6_groups(c), c.parse::<std::net::Ipv6Addr>().ok().map(|a| a.segments()), "IPv6 {c:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn ip_parsers_agree_with_std(s in "[0-9a-fA-F:.]{0,24}") {
            proptest::prop_assert_eq!(ipv4_octets(&s), s.parse::<std::net::Ipv4Addr>().ok().map(|a| a.octets()));
            proptest::prop_assert_eq!(ipv6_groups(&s), s.parse::<std::net::Ipv6Addr>().ok().map(|a| a.segments()));
        }

        #[test]
        fn printed_addresses_round_trip(a: [u8; 4], g: [u16; 8]) {
            let v4 = std::net::Ipv4Addr::from(a);
            proptest::prop_assert_eq!(ipv4_octets(&v4.to_string()), Some(a));
            let v6 = std::net::Ipv6Addr::from(g);
            proptest::prop_assert_eq!(ipv6_groups(&v6.to_string()), Some(g));
        }
    }
}
