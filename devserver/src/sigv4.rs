//! AWS Signature Version 4 query-string presigning for S3 URLs.
//!
//! This is the piece a real application backend runs (usually through an AWS
//! SDK) to hand a browser a URL that allows exactly one `PUT` (or `GET`) of one
//! object until the URL expires. The devserver's Hexnode-compatible API uses it
//! to mint upload URLs that its own S3-protocol store then verifies.
//!
//! The payload is not signed (`UNSIGNED-PAYLOAD`), as for every presigned URL.
//! Any extra headers passed in [`PresignRequest::signed_headers`] (for example
//! `content-type`) become part of the signature, so the client must send them
//! with exactly the signed values.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The only signing algorithm this module produces.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The payload hash used in presigned URLs: the body is not known when signing.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// An access key pair.
#[derive(Clone, Copy, Debug)]
pub struct Credentials<'a> {
    /// The access key id (appears in the URL).
    pub access_key_id: &'a str,
    /// The secret access key (never appears in the URL).
    pub secret_access_key: &'a str,
}

/// Everything that goes into one presigned URL.
#[derive(Clone, Debug)]
pub struct PresignRequest<'a> {
    /// HTTP method the URL allows, e.g. `PUT`.
    pub method: &'a str,
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The `Host` header value the client will send, with the port when it is
    /// not the scheme's default (e.g. `127.0.0.1:9000`).
    pub host: &'a str,
    /// The object path, not yet URI-encoded, starting with `/`
    /// (e.g. `/bucket/key` for path-style addressing).
    pub path: &'a str,
    /// Headers to sign besides `host`, as (name, value). Names are matched
    /// case-insensitively and lower-cased in the signature.
    pub signed_headers: &'a [(&'a str, &'a str)],
    /// Region of the credential scope, e.g. `us-east-1`.
    pub region: &'a str,
    /// Service of the credential scope, `s3`.
    pub service: &'a str,
    /// The signing time as `YYYYMMDDTHHMMSSZ` (see [`amz_date`]).
    pub amz_date: &'a str,
    /// Seconds the URL stays valid after `amz_date` (AWS allows 1..=604800).
    pub expires_secs: u64,
}

/// A presigned URL and the parts tests and callers may want to inspect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presigned {
    /// The full URL, including `X-Amz-Signature`.
    pub url: String,
    /// The hex signature.
    pub signature: String,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
}

/// URI-encodes `input` the way SigV4 wants: every byte except the unreserved
/// characters `A-Z a-z 0-9 - _ . ~` becomes `%XX` (upper-case hex); `/` is kept
/// as is when `keep_slash` is true (object paths), encoded otherwise (query
/// names and values).
#[must_use]
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len() * 3);
    for &b in input.as_bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Formats a point in time as SigV4's `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`, UTC).
/// Times before 1970 are clamped to the epoch.
#[must_use]
pub fn amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Converts days since 1970-01-01 to a (year, month, day) civil date
/// (proleptic Gregorian calendar).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Derives the SigV4 signing key for one day, region and service.
#[must_use]
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{secret_access_key}");
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// Trims a header value and folds inner runs of spaces into one, as the
/// canonical-headers rule says.
fn canonical_header_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Builds a presigned URL for `req`, signed with `creds`.
#[must_use]
pub fn presign(req: &PresignRequest<'_>, creds: Credentials<'_>) -> Presigned {
    presign_with_query(req, &[], creds)
}

/// Builds a presigned URL for `req` that also carries (and signs) the query parameters
/// `extra_query` (not yet encoded), e.g. `partNumber` and `uploadId` for UploadPart, or `uploads`
/// (with an empty value) for CreateMultipartUpload.
#[must_use]
pub fn presign_with_query(
    req: &PresignRequest<'_>,
    extra_query: &[(&str, &str)],
    creds: Credentials<'_>,
) -> Presigned {
    let date = req.amz_date.get(..8).unwrap_or(req.amz_date);
    let scope = format!("{date}/{}/{}/aws4_request", req.region, req.service);

    // Canonical headers: host plus the extra ones, lower-cased and sorted.
    let mut headers: Vec<(String, String)> =
        vec![("host".to_owned(), canonical_header_value(req.host))];
    for (name, value) in req.signed_headers {
        let name = name.to_ascii_lowercase();
        if name != "host" {
            headers.push((name, canonical_header_value(value)));
        }
    }
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();

    let credential = format!("{}/{scope}", creds.access_key_id);
    let expires = req.expires_secs.to_string();
    let mut query: Vec<(String, String)> = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", credential.as_str()),
        ("X-Amz-Date", req.amz_date),
        ("X-Amz-Expires", expires.as_str()),
        ("X-Amz-SignedHeaders", signed_headers.as_str()),
    ]
    .iter()
    .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
    .collect();
    query.extend(
        extra_query
            .iter()
            .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))),
    );
    query.sort();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");

    let canonical_uri = uri_encode(req.path, true);
    let canonical_request = format!(
        "{}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{UNSIGNED_PAYLOAD}",
        req.method
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        req.amz_date,
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = signing_key(creds.secret_access_key, date, req.region, req.service);
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    let url = format!(
        "{}://{}{canonical_uri}?{canonical_query}&X-Amz-Signature={signature}",
        req.scheme, req.host
    );
    Presigned {
        url,
        signature,
        canonical_request,
        string_to_sign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The presigned GET example from the Amazon S3 documentation
    /// ("Authenticating Requests: Using Query Parameters").
    fn aws_example() -> Presigned {
        presign(
            &PresignRequest {
                method: "GET",
                scheme: "https",
                host: "examplebucket.s3.amazonaws.com",
                path: "/test.txt",
                signed_headers: &[],
                region: "us-east-1",
                service: "s3",
                amz_date: "20130524T000000Z",
                expires_secs: 86_400,
            },
            Credentials {
                access_key_id: "AKIAIOSFODNN7EXAMPLE",
                secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            },
        )
    }

    #[test]
    fn aws_documented_example_signature() {
        let p = aws_example();
        assert_eq!(
            p.signature,
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn aws_documented_example_canonical_request_and_url() {
        let p = aws_example();
        assert_eq!(
            p.canonical_request,
            "GET\n/test.txt\n\
             X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n\
             host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
        );
        assert_eq!(
            p.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
        );
        assert_eq!(
            p.url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn signed_content_type_changes_signature_and_signed_headers() {
        let base = PresignRequest {
            method: "PUT",
            scheme: "http",
            host: "127.0.0.1:9000",
            path: "/uploads/abc",
            signed_headers: &[("Content-Type", "text/plain")],
            region: "us-east-1",
            service: "s3",
            amz_date: "20240101T120000Z",
            expires_secs: 60,
        };
        let creds = Credentials {
            access_key_id: "ak",
            secret_access_key: "sk",
        };
        let a = presign(&base, creds);
        assert!(
            a.url.contains("X-Amz-SignedHeaders=content-type%3Bhost"),
            "{}",
            a.url
        );
        assert!(a
            .canonical_request
            .contains("content-type:text/plain\nhost:127.0.0.1:9000\n"));
        let other = PresignRequest {
            signed_headers: &[("content-type", "image/png")],
            ..base.clone()
        };
        assert_ne!(a.signature, presign(&other, creds).signature);
        let no_ct = PresignRequest {
            signed_headers: &[],
            ..base
        };
        assert!(presign(&no_ct, creds)
            .url
            .contains("X-Amz-SignedHeaders=host&"));
    }

    #[test]
    fn uri_encoding_rules() {
        assert_eq!(uri_encode("a b/c~d.e_f-g", true), "a%20b/c~d.e_f-g");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(uri_encode("é+=", false), "%C3%A9%2B%3D");
    }

    #[test]
    fn amz_date_formatting() {
        assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
        // 2013-05-24T00:00:00Z, the AWS example date.
        assert_eq!(
            amz_date(UNIX_EPOCH + Duration::from_secs(1_369_353_600)),
            "20130524T000000Z"
        );
        // A leap day with a time of day.
        assert_eq!(
            amz_date(UNIX_EPOCH + Duration::from_secs(1_709_210_096)),
            "20240229T123456Z"
        );
        // End of a century year that is not a leap year boundary issue: 2100-03-01.
        assert_eq!(
            amz_date(UNIX_EPOCH + Duration::from_secs(4_107_542_400)),
            "21000301T000000Z"
        );
    }
}
