//! AWS Signature Version 4 query-string presigning, for presigning inside the browser.
//!
//! Sans-IO and free of browser APIs: the caller passes the clock (`now_ms`) and the
//! credentials, and gets a URL back. Tested on the host with AWS's published examples.
//!
//! The steps are public and small, as the SigV4 documentation describes them:
//! [`canonical_request`] → [`string_to_sign`] → [`signing_key`] → [`signature`], with
//! [`uri_encode`] for AWS's URI encoding and [`presign`] putting them together for any
//! request. [`S3Location`] says where a bucket's objects live (virtual-hosted or
//! path-style), and [`S3Presigner`] has one method per S3 action: PutObject and the
//! multipart actions (CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts).
//!
//! SHA-256 and HMAC-SHA-256 are implemented here ([`sha256`], [`hmac_sha256`]): a few
//! hundred bytes of wasm, where the `sha2` and `hmac` crates cost several kilobytes.

use crate::text::{cat, num};
use std::fmt;

use crate::error::UploadError;
use crate::presigned::{hostname_is_loopback, split_url, MAX_EXPIRES_SECS};

/// The signing algorithm, as it appears in `X-Amz-Algorithm`.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash of a presigned URL: the body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The service name of S3 in the credential scope.
pub const S3_SERVICE: &str = "s3";
/// The longest S3 object key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The highest part number of a multipart upload.
pub const MAX_PART_NUMBER: u32 = 10_000;

// ---------------------------------------------------------------- SHA-256 and HMAC

/// SHA-256 of `data`, by RustCrypto's `sha2`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// HMAC-SHA-256 (RFC 2104) of `message` under `key`, by RustCrypto's `hmac`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    // HMAC takes a key of any length, so this never fails; the fallback keeps the signer panic-free.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else { return [0; 32] };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

// ---------------------------------------------------------------- encoding and time

/// URI-encodes `input` the way SigV4 wants: every byte except the unreserved
/// `A-Z a-z 0-9 - _ . ~` becomes `%XY` (uppercase hex, UTF-8 bytes); `/` is kept when
/// `encode_slash` is false (object key paths) and encoded otherwise (query names and values).
pub fn uri_encode(input: &str, encode_slash: bool) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (b == b'/' && !encode_slash) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 15)]));
        }
    }
    out
}

/// The last millisecond that [`amz_date`] can write (9999-12-31T23:59:59.999Z).
const MAX_AMZ_DATE_MS: u64 = 253_402_300_799_999;

/// `now_ms` (ms since the Unix epoch) as an `X-Amz-Date`, `YYYYMMDD'T'HHMMSS'Z'`.
/// `None` after the year 9999.
pub fn amz_date(now_ms: u64) -> Option<String> {
    if now_ms > MAX_AMZ_DATE_MS {
        return None;
    }
    let secs = now_ms / 1000;
    let days = i64::try_from(secs / 86_400).ok()?;
    let rem = secs % 86_400;
    // Days to a civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Written digit by digit: cheaper in wasm than `format!` with widths.
    let rem = rem as i64;
    let mut out = String::with_capacity(16);
    for (value, width) in [(year, 4), (month, 2), (day, 2), (-1, 0), (rem / 3600, 2), (rem / 60 % 60, 2), (rem % 60, 2)] {
        if width == 0 {
            out.push('T');
        }
        for p in (0..width).rev() {
            let digit = (value / 10i64.pow(p)).rem_euclid(10);
            out.push(char::from(b'0' + digit as u8));
        }
    }
    out.push('Z');
    Some(out)
}

// ---------------------------------------------------------------- credentials

/// AWS credentials. `Debug` never shows the secret or the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (`AKIA...`, `ASIA...`), which appears in the URL.
    pub access_key_id: String,
    /// The secret access key, used only to derive the signing key.
    pub secret_access_key: String,
    /// The session token of temporary credentials, sent as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    /// The access key id, and `REDACTED` for the secret and the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &crate::presigned::REDACTED)
            .field("session_token", &self.session_token.as_ref().map(|_| crate::presigned::REDACTED))
            .finish()
    }
}

// ---------------------------------------------------------------- the signing steps

/// Sorts a short list by insertion: the few query parameters and headers of a request. The
/// standard library's sorts cost kilobytes of wasm per element type.
fn sort_small(list: &mut [(String, String)]) {
    for i in 1..list.len() {
        let mut j = i;
        while j > 0 && list[j - 1] > list[j] {
            list.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// The canonical query string: each name and value [`uri_encode`]d (`/` too), sorted by
/// name then value, joined as `name=value` with `&`.
pub fn canonical_query(params: &[(&str, &str)]) -> String {
    let mut encoded: Vec<(String, String)> = params.iter().map(|(n, v)| (uri_encode(n, true), uri_encode(v, true))).collect();
    sort_small(&mut encoded);
    let mut out = String::new();
    for (n, v) in encoded {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&n);
        out.push('=');
        out.push_str(&v);
    }
    out
}

/// The canonical headers and the signed-headers list: names lowercased, values trimmed with
/// inner runs of whitespace made one space, sorted by name. `None` when a name repeats.
pub fn canonical_headers(headers: &[(&str, &str)]) -> Option<(String, String)> {
    let mut list: Vec<(String, String)> = headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned())).collect();
    sort_small(&mut list);
    if list.windows(2).any(|w| w[0].0 == w[1].0) {
        return None;
    }
    let (mut canonical, mut signed) = (String::new(), String::new());
    for (name, value) in &list {
        if !signed.is_empty() {
            signed.push(';');
        }
        signed.push_str(name);
        canonical.push_str(name);
        canonical.push(':');
        for (i, word) in value.split_whitespace().enumerate() {
            if i > 0 {
                canonical.push(' ');
            }
            canonical.push_str(word);
        }
        canonical.push('\n');
    }
    Some((canonical, signed))
}

/// The canonical request: method, canonical URI (already encoded), canonical query,
/// canonical headers (each ending in a newline), signed headers and payload hash, one per line.
pub fn canonical_request(method: &str, canonical_uri: &str, canonical_query: &str, canonical_headers: &str, signed_headers: &str, payload_hash: &str) -> String {
    cat(&[method, "\n", canonical_uri, "\n", canonical_query, "\n", canonical_headers, "\n", signed_headers, "\n", payload_hash])
}

/// The credential scope: `date/region/service/aws4_request`.
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    cat(&[date, "/", region, "/", service, "/aws4_request"])
}

/// The string to sign: algorithm, `X-Amz-Date`, scope and the hex SHA-256 of the canonical
/// request, one per line.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    cat(&[ALGORITHM, "\n", amz_date, "\n", scope, "\n", &hex(&sha256(canonical_request.as_bytes()))])
}

/// The signing key: HMAC chain of `"AWS4" + secret` over date (`YYYYMMDD`), region, service
/// and `aws4_request`.
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = cat(&["AWS4", secret_access_key]);
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// The signature: hex HMAC-SHA-256 of the string to sign under the signing key.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex(&hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

// ---------------------------------------------------------------- presign any request

/// One request to presign.
#[derive(Clone, Copy, Debug)]
pub struct PresignRequest<'a> {
    /// The HTTP method, uppercase (`PUT`, `POST`, `GET`, `DELETE`).
    pub method: &'a str,
    /// `https` or `http`.
    pub scheme: &'a str,
    /// The `Host` header as the browser will send it: lowercase `host[:port]`, without a
    /// default port.
    pub host: &'a str,
    /// The path, already URI-encoded (see [`uri_encode`]), starting with `/`.
    pub path: &'a str,
    /// Extra query parameters (not encoded), e.g. `("uploadId", id)`; `("uploads", "")`.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign besides `host`, e.g. `("content-type", "image/png")`. The request
    /// must then carry exactly these values.
    pub headers: &'a [(&'a str, &'a str)],
    /// The region of the credential scope, e.g. `us-east-1`.
    pub region: &'a str,
    /// The service of the credential scope, e.g. `s3`.
    pub service: &'a str,
    /// The signing time, ms since the Unix epoch.
    pub now_ms: u64,
    /// How long the URL is valid, in seconds: 1 to 604800.
    pub expires_secs: u64,
}

/// Whether `s` is a non-empty HTTP token (method or header name).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `s` is a non-empty scope element: visible ASCII without `/`.
fn is_scope_part(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
}

/// Presigns `req` with `creds` (SigV4, query string, unsigned payload) and returns the full
/// URL. `X-Amz-Security-Token` is included (and signed) when there is a session token.
///
/// Invalid input when the expiry is not 1..=604800 s, the time is after 9999, the access key
/// id is empty or has `/` or non-visible characters, the secret is empty, or the method,
/// host, path, region, service or a header is malformed.
pub fn presign(req: &PresignRequest<'_>, creds: &Credentials) -> Result<String, UploadError> {
    let bad = UploadError::invalid_input;
    if !(1..=MAX_EXPIRES_SECS).contains(&req.expires_secs) {
        return Err(bad("expiresIn", "must be from 1 to 604800 seconds"));
    }
    if !is_token(req.method) || req.method.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(bad("method", "must be an uppercase HTTP method"));
    }
    if req.scheme != "https" && req.scheme != "http" {
        return Err(bad("scheme", "must be https or http"));
    }
    if req.host.is_empty() || !req.host.bytes().all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase() && !b"/?#@\\".contains(&b)) {
        return Err(bad("host", "must be a lowercase ASCII host[:port]"));
    }
    if !req.path.starts_with('/') || !req.path.bytes().all(|b| b.is_ascii_graphic() && !b"?#".contains(&b)) {
        return Err(bad("path", "must be an encoded path starting with /"));
    }
    if !is_scope_part(req.region) {
        return Err(bad("region", "must be visible ASCII without /, such as us-east-1"));
    }
    if !is_scope_part(req.service) {
        return Err(bad("service", "must be visible ASCII without /, such as s3"));
    }
    if !is_scope_part(&creds.access_key_id) {
        return Err(bad("accessKeyId", "must be visible ASCII without /"));
    }
    if creds.secret_access_key.is_empty() {
        return Err(bad("secretAccessKey", "must not be empty"));
    }
    for (name, value) in req.headers {
        if !is_token(name) || name.eq_ignore_ascii_case("host") {
            return Err(bad("headers", "must have token names other than host"));
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(bad("headers", "must have values without control characters"));
        }
    }
    let when = amz_date(req.now_ms).ok_or_else(|| bad("now", "must be before the year 10000"))?;
    let date = when.get(..8).unwrap_or_default();
    let scope = credential_scope(date, req.region, req.service);

    let mut headers: Vec<(&str, &str)> = vec![("host", req.host)];
    headers.extend_from_slice(req.headers);
    let (canon_headers, signed_headers) = canonical_headers(&headers).ok_or_else(|| bad("headers", "must not repeat a name"))?;

    let credential = cat(&[&creds.access_key_id, "/", &scope]);
    let expires = num(req.expires_secs);
    let mut params: Vec<(&str, &str)> = vec![
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", &credential),
        ("X-Amz-Date", &when),
        ("X-Amz-Expires", &expires),
        ("X-Amz-SignedHeaders", &signed_headers),
    ];
    if let Some(token) = creds.session_token.as_deref().filter(|t| !t.is_empty()) {
        params.push(("X-Amz-Security-Token", token));
    }
    params.extend_from_slice(req.query);
    let query = canonical_query(&params);

    let creq = canonical_request(req.method, req.path, &query, &canon_headers, &signed_headers, UNSIGNED_PAYLOAD);
    let sts = string_to_sign(&when, &scope, &creq);
    let key = signing_key(&creds.secret_access_key, date, req.region, req.service);
    let sig = signature(&key, &sts);
    Ok(cat(&[req.scheme, "://", req.host, req.path, "?", &query, "&X-Amz-Signature=", &sig]))
}

// ---------------------------------------------------------------- S3

/// Where a bucket's objects live: scheme, host and path prefix, virtual-hosted or path-style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    scheme: String,
    host: String,
    /// The encoded path before the key, without a trailing `/`: `""` (virtual-hosted),
    /// `"/bucket"` (path-style), or with the endpoint's own base path in front.
    prefix: String,
    region: String,
    path_style: bool,
}

/// Whether `bucket` follows S3's naming rules: 3 to 63 of `a-z 0-9 . -`, starting and
/// ending with a letter or digit, no `..`, not an IPv4 address.
pub fn is_valid_bucket(bucket: &str) -> bool {
    let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && edge_ok(bucket.bytes().next())
        && edge_ok(bucket.bytes().last())
        && !crate::text::contains(bucket, "..")
        && crate::presigned::ipv4_octets(bucket).is_none()
}

/// Whether `region` looks like a region name: 1 to 64 of `a-z 0-9 -`.
pub fn is_valid_region(region: &str) -> bool {
    (1..=64).contains(&region.len()) && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether a `/`-separated path has a `.` or `..` segment, which a browser would resolve
/// away before sending (breaking the signature and changing the key).
pub fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|s| s == "." || s == "..")
}

impl S3Location {
    /// Where the bucket's objects live, `scheme://host/prefix`: the identity a resume record
    /// is matched by.
    pub fn identity(&self) -> String {
        crate::text::cat(&[&self.scheme, "://", &self.host, &self.prefix])
    }

    /// Where the objects of `bucket` in `region` live.
    ///
    /// Without `endpoint`: `https://{bucket}.s3.{region}.amazonaws.com/{key}` (virtual-hosted),
    /// or `https://s3.{region}.amazonaws.com/{bucket}/{key}` with `force_path_style`. With an
    /// endpoint such as `http://127.0.0.1:9000` or `https://minio.example.com`:
    /// `{endpoint}/{bucket}/{key}` with `force_path_style`, else `{scheme}://{bucket}.{host}/{key}`.
    /// Path-style is used anyway when the bucket cannot be a host name label (it has a `.` and
    /// the scheme is https, where the certificate would not match) or the endpoint's host is an
    /// IP address.
    ///
    /// Invalid input naming `s3.bucket`, `s3.region` or `s3.endpoint`. An `http` endpoint is
    /// refused unless its host is loopback or `allow_insecure_http` is set.
    pub fn new(bucket: &str, region: &str, endpoint: Option<&str>, force_path_style: bool, allow_insecure_http: bool) -> Result<Self, UploadError> {
        if !is_valid_bucket(bucket) {
            return Err(UploadError::invalid_input(
                "s3.bucket",
                "must be an S3 bucket name: 3 to 63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit",
            ));
        }
        if !is_valid_region(region) {
            return Err(UploadError::invalid_input("s3.region", "must be a region name such as us-east-1 (lowercase letters, digits and hyphens)"));
        }
        let (scheme, host, base, ip_host) = match endpoint {
            None => ("https".to_owned(), cat(&["s3.", region, ".amazonaws.com"]), String::new(), false),
            Some(e) => Self::endpoint(e, allow_insecure_http)?,
        };
        let path_style = force_path_style || ip_host || (bucket.contains('.') && scheme == "https");
        let (host, prefix) = if path_style {
            (host, cat(&[&base, "/", bucket]))
        } else if endpoint.is_none() {
            (cat(&[bucket, ".s3.", region, ".amazonaws.com"]), base)
        } else {
            (cat(&[bucket, ".", &host]), base)
        };
        Ok(S3Location { scheme, host, prefix, region: region.to_owned(), path_style })
    }

    /// Parses `s3.endpoint`: (scheme, host without default port, encoded base path, host is an
    /// IP address).
    fn endpoint(endpoint: &str, allow_insecure_http: bool) -> Result<(String, String, String, bool), UploadError> {
        let bad = |problem: &str| UploadError::invalid_input("s3.endpoint", problem);
        let parts = split_url(endpoint).map_err(|p| {
            if p.starts_with("must be an absolute") {
                bad("must be an absolute URL such as https://s3.example.com or http://127.0.0.1:9000")
            } else {
                bad(p)
            }
        })?;
        if parts.has_userinfo {
            return Err(bad("must not contain user:password@"));
        }
        if parts.query.is_some() || parts.fragment.is_some() {
            return Err(bad("must not contain a query (?) or fragment (#)"));
        }
        if !parts.host.is_ascii() {
            return Err(bad("must have an ASCII host (write an international name in its xn-- form)"));
        }
        if parts.scheme == "http" && !allow_insecure_http && !hostname_is_loopback(&parts.hostname) {
            return Err(bad("must use https (http is only allowed for loopback hosts or with allowInsecureHttp)"));
        }
        let base = parts.path.trim_end_matches('/');
        if has_dot_segment(base) || base.split('/').any(|s| uri_encode(s, true) != s) {
            return Err(bad("may only have a path of letters, digits, - _ . ~ and /, without . or .. segments"));
        }
        // Browsers leave a default port out of the Host header.
        let default_port = if parts.scheme == "https" { 443 } else { 80 };
        let host = match (parts.port, parts.host.rsplit_once(':')) {
            (Some(p), Some((name, _))) if p == default_port => name.to_owned(),
            _ => parts.host.clone(),
        };
        let ip_host = parts.host.starts_with('[') || crate::presigned::ipv4_octets(&parts.hostname).is_some();
        Ok((parts.scheme, host, base.to_owned(), ip_host))
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The `Host` header requests carry: lowercase, without a default port.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The region of the credential scope.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Whether the bucket is in the path rather than in the host name.
    pub fn is_path_style(&self) -> bool {
        self.path_style
    }

    /// The encoded path of an object: the prefix, `/`, and the key encoded with `/` kept.
    pub fn object_path(&self, key: &str) -> String {
        cat(&[&self.prefix, "/", &uri_encode(key, false)])
    }

    /// The object's URL, without query.
    pub fn object_url(&self, key: &str) -> String {
        cat(&[&self.scheme, "://", &self.host, &self.object_path(key)])
    }
}

/// Checks an object key: 1 to 1024 bytes, no control characters, no `.` or `..` segment.
/// Invalid input naming `key`.
pub fn check_key(key: &str) -> Result<(), UploadError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(UploadError::invalid_input("key", "must be 1 to 1024 bytes long"));
    }
    if key.chars().any(char::is_control) {
        return Err(UploadError::invalid_input("key", "must not contain control characters"));
    }
    if has_dot_segment(key) {
        return Err(UploadError::invalid_input("key", "must not have a . or .. segment (the browser would rewrite the path)"));
    }
    Ok(())
}

/// Presigns S3 object actions for one location, one set of credentials, one time and one
/// lifetime.
#[derive(Clone, Copy, Debug)]
pub struct S3Presigner<'a> {
    /// Where the objects live.
    pub location: &'a S3Location,
    /// Who signs.
    pub credentials: &'a Credentials,
    /// The signing time, ms since the Unix epoch.
    pub now_ms: u64,
    /// How long each URL is valid, in seconds: 1 to 604800.
    pub expires_secs: u64,
}

impl S3Presigner<'_> {
    /// Presigns `method` on the object `key` with extra query parameters and signed headers.
    pub fn object(&self, method: &str, key: &str, query: &[(&str, &str)], headers: &[(&str, &str)]) -> Result<String, UploadError> {
        check_key(key)?;
        let path = self.location.object_path(key);
        presign(
            &PresignRequest {
                method,
                scheme: &self.location.scheme,
                host: &self.location.host,
                path: &path,
                query,
                headers,
                region: &self.location.region,
                service: S3_SERVICE,
                now_ms: self.now_ms,
                expires_secs: self.expires_secs,
            },
            self.credentials,
        )
    }

    /// PutObject: `PUT` of the whole body, signing `host` and `content-type` (the PUT must send
    /// exactly `content_type`).
    pub fn put_object(&self, key: &str, content_type: &str) -> Result<String, UploadError> {
        self.object("PUT", key, &[], &[("content-type", content_type)])
    }

    /// CreateMultipartUpload: `POST ?uploads`, signing `content-type` when given (the object's
    /// type; the POST must then send it).
    pub fn create_multipart_upload(&self, key: &str, content_type: Option<&str>) -> Result<String, UploadError> {
        match content_type {
            Some(ct) => self.object("POST", key, &[("uploads", "")], &[("content-type", ct)]),
            None => self.object("POST", key, &[("uploads", "")], &[]),
        }
    }

    /// UploadPart: `PUT ?partNumber=N&uploadId=ID`; `part_number` is 1 to 10000.
    pub fn upload_part(&self, key: &str, upload_id: &str, part_number: u32) -> Result<String, UploadError> {
        check_upload_id(upload_id)?;
        if !(1..=MAX_PART_NUMBER).contains(&part_number) {
            return Err(UploadError::invalid_input("partNumber", "must be from 1 to 10000"));
        }
        let n = part_number.to_string();
        self.object("PUT", key, &[("partNumber", &n), ("uploadId", upload_id)], &[])
    }

    /// CompleteMultipartUpload: `POST ?uploadId=ID` (the body lists the parts).
    pub fn complete_multipart_upload(&self, key: &str, upload_id: &str) -> Result<String, UploadError> {
        check_upload_id(upload_id)?;
        self.object("POST", key, &[("uploadId", upload_id)], &[])
    }

    /// AbortMultipartUpload: `DELETE ?uploadId=ID`.
    pub fn abort_multipart_upload(&self, key: &str, upload_id: &str) -> Result<String, UploadError> {
        check_upload_id(upload_id)?;
        self.object("DELETE", key, &[("uploadId", upload_id)], &[])
    }

    /// ListParts: `GET ?uploadId=ID`.
    pub fn list_parts(&self, key: &str, upload_id: &str) -> Result<String, UploadError> {
        check_upload_id(upload_id)?;
        self.object("GET", key, &[("uploadId", upload_id)], &[])
    }
}

/// An upload id must be a non-empty string without control characters.
fn check_upload_id(upload_id: &str) -> Result<(), UploadError> {
    if upload_id.is_empty() || upload_id.chars().any(char::is_control) {
        return Err(UploadError::invalid_input("uploadId", "must be a non-empty string without control characters"));
    }
    Ok(())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn aws_s3_example_creds() -> Credentials {
        Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    #[test]
    fn sha256_fips_vectors() {
        assert_eq!(hex(&sha256(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hex(&sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            hex(&sha256(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            hex(&sha256(b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        );
        let million = vec![b'a'; 1_000_000];
        assert_eq!(hex(&sha256(&million)), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }

    #[test]
    fn hmac_sha256_rfc_4231_vectors() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (vec![0x0b; 20], b"Hi There".to_vec(), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            (vec![0xaa; 20], vec![0xdd; 50], "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            (unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), vec![0xcd; 50], "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
            (vec![0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(hex(&hmac_sha256(&key, &data)), want);
        }
        // Test case 5: output truncated to 128 bits.
        assert_eq!(hex(&hmac_sha256(&[0x0c; 20], b"Test With Truncation"))[..32], *"a3b6167473100ee06e0c796c2955552b");
    }

    #[test]
    fn signing_key_matches_the_sigv4_documentation_example() {
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
        assert_eq!(hex(&key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    }

    #[test]
    fn s3_presigned_get_matches_the_aws_documentation_example() {
        let url = presign(
            &PresignRequest {
                method: "GET",
                scheme: "https",
                host: "examplebucket.s3.amazonaws.com",
                path: "/test.txt",
                query: &[],
                headers: &[],
                region: "us-east-1",
                service: "s3",
                now_ms: 1_369_353_600_000,
                expires_secs: 86_400,
            },
            &aws_s3_example_creds(),
        )
        .unwrap();
        assert_eq!(
            url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
        // The same through the steps, as the documentation lists them.
        let creq = canonical_request(
            "GET",
            "/test.txt",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host",
            "host:examplebucket.s3.amazonaws.com\n",
            "host",
            UNSIGNED_PAYLOAD,
        );
        let sts = string_to_sign("20130524T000000Z", &credential_scope("20130524", "us-east-1", "s3"), &creq);
        assert_eq!(sts, "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
        let key = signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3");
        assert_eq!(signature(&key, &sts), "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    }

    #[test]
    fn uri_encoding_follows_aws_rules() {
        assert_eq!(uri_encode("AZaz09-_.~", true), "AZaz09-_.~");
        assert_eq!(uri_encode("a b+c*d%e/f", true), "a%20b%2Bc%2Ad%25e%2Ff");
        assert_eq!(uri_encode("dir/a b.txt", false), "dir/a%20b.txt");
        assert_eq!(uri_encode("ü✓", false), "%C3%BC%E2%9C%93");
        assert_eq!(uri_encode("!'()=&?#\\", false), "%21%27%28%29%3D%26%3F%23%5C");
    }

    #[test]
    fn amz_date_formats_utc_with_leap_years() {
        assert_eq!(amz_date(0).as_deref(), Some("19700101T000000Z"));
        assert_eq!(amz_date(1_369_353_600_999).as_deref(), Some("20130524T000000Z"));
        assert_eq!(amz_date(951_782_400_000).as_deref(), Some("20000229T000000Z"));
        assert_eq!(amz_date(1_709_251_199_000).as_deref(), Some("20240229T235959Z"));
        assert_eq!(amz_date(MAX_AMZ_DATE_MS).as_deref(), Some("99991231T235959Z"));
        assert_eq!(amz_date(MAX_AMZ_DATE_MS + 1), None);
        assert_eq!(amz_date(u64::MAX), None);
        for ms in [0u64, 86_399_999, 1_000_000_000_000, 4_102_444_800_000, 253_402_300_799_000] {
            let d = amz_date(ms).unwrap();
            assert_eq!(crate::presigned::epoch_ms_from_amz_date(&d), Some(ms / 1000 * 1000), "{d}");
        }
    }

    #[test]
    fn canonical_query_and_headers_sort_and_normalise() {
        assert_eq!(canonical_query(&[("b", "2"), ("a", "x/y"), ("uploads", ""), ("a", "1")]), "a=1&a=x%2Fy&b=2&uploads=");
        let (c, s) = canonical_headers(&[("Host", "h:9000"), ("Content-Type", "  text/plain;   charset=utf-8 ")]).unwrap();
        assert_eq!(c, "content-type:text/plain; charset=utf-8\nhost:h:9000\n");
        assert_eq!(s, "content-type;host");
        assert!(canonical_headers(&[("a", "1"), ("A", "2")]).is_none());
    }

    fn loc_dev() -> S3Location {
        S3Location::new("uploads", "us-east-1", Some("http://127.0.0.1:9000"), true, false).unwrap()
    }

    fn dev_creds(token: Option<&str>) -> Credentials {
        Credentials { access_key_id: "devaccesskey".into(), secret_access_key: "devsecretkey-for-local-testing-only".into(), session_token: token.map(Into::into) }
    }

    #[test]
    fn put_object_signs_host_and_content_type_and_parses_back() {
        let loc = loc_dev();
        let creds = dev_creds(None);
        let p = S3Presigner { location: &loc, credentials: &creds, now_ms: 1_700_000_000_000, expires_secs: 900 };
        let url = p.put_object("pre/0f0e/a b+ü.txt", "text/plain").unwrap();
        assert!(url.starts_with("http://127.0.0.1:9000/uploads/pre/0f0e/a%20b%2B%C3%BC.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&"), "{url}");
        let parsed = crate::presigned::parse(&url).unwrap();
        assert!(parsed.is_sigv4);
        assert_eq!(parsed.signed_headers, vec!["content-type".to_owned(), "host".to_owned()]);
        assert_eq!(parsed.expires_at_ms(), Some(1_700_000_900_000));
        assert!(!parsed.has_security_token);
        assert!(!url.contains("devsecretkey"));
        // Different content types give different signatures.
        let other = p.put_object("pre/0f0e/a b+ü.txt", "image/png").unwrap();
        assert_ne!(url.rsplit_once('=').unwrap().1, other.rsplit_once('=').unwrap().1);
    }

    #[test]
    fn a_session_token_is_sent_and_signed() {
        let loc = loc_dev();
        let with = dev_creds(Some("tok/en+="));
        let without = dev_creds(None);
        let at = |c: &Credentials| S3Presigner { location: &loc, credentials: c, now_ms: 1_700_000_000_000, expires_secs: 60 }.put_object("k", "a/b").unwrap();
        let url = at(&with);
        assert!(url.contains("&X-Amz-Security-Token=tok%2Fen%2B%3D&"), "{url}");
        assert!(crate::presigned::parse(&url).unwrap().has_security_token);
        let sig = |u: &str| u.rsplit_once("X-Amz-Signature=").unwrap().1.to_owned();
        assert_ne!(sig(&url), sig(&at(&without)));
        assert!(!format!("{with:?}").contains("tok/en"));
        assert!(!format!("{with:?}").contains("devsecretkey"));
    }

    #[test]
    fn multipart_actions_have_their_methods_and_queries() {
        let loc = S3Location::new("examplebucket", "eu-west-1", None, false, false).unwrap();
        let creds = aws_s3_example_creds();
        let p = S3Presigner { location: &loc, credentials: &creds, now_ms: 1_369_353_600_000, expires_secs: 3600 };
        let base = "https://examplebucket.s3.eu-west-1.amazonaws.com/big.bin?";
        let create = p.create_multipart_upload("big.bin", Some("video/mp4")).unwrap();
        assert!(create.starts_with(base) && create.contains("X-Amz-SignedHeaders=content-type%3Bhost") && create.contains("&uploads=&"), "{create}");
        let part = p.upload_part("big.bin", "id/1+", 7).unwrap();
        assert!(part.starts_with(&format!("{base}X-Amz-Algorithm")) && part.contains("&partNumber=7&uploadId=id%2F1%2B&X-Amz-Signature="), "{part}");
        assert!(part.contains("X-Amz-SignedHeaders=host&"));
        for url in [p.complete_multipart_upload("big.bin", "id").unwrap(), p.abort_multipart_upload("big.bin", "id").unwrap(), p.list_parts("big.bin", "id").unwrap()] {
            assert!(url.contains("&uploadId=id&X-Amz-Signature="), "{url}");
        }
        // The method is signed: the same query under another method signs differently.
        let sig = |u: String| u.rsplit_once('=').unwrap().1.to_owned();
        assert_ne!(sig(p.complete_multipart_upload("big.bin", "id").unwrap()), sig(p.list_parts("big.bin", "id").unwrap()));
        assert_ne!(sig(p.abort_multipart_upload("big.bin", "id").unwrap()), sig(p.list_parts("big.bin", "id").unwrap()));
        for n in [0, 10_001] {
            assert_eq!(p.upload_part("big.bin", "id", n).unwrap_err().code, ErrorCode::InvalidInput);
        }
        assert!(p.upload_part("big.bin", "", 1).unwrap_err().message.starts_with("uploadId:"));
        assert!(p.create_multipart_upload("big.bin", None).unwrap().contains("X-Amz-SignedHeaders=host&"));
    }

    #[test]
    fn locations_virtual_hosted_path_style_and_endpoints() {
        let l = S3Location::new("my-bucket", "us-west-2", None, false, false).unwrap();
        assert_eq!(l.object_url("a/b.txt"), "https://my-bucket.s3.us-west-2.amazonaws.com/a/b.txt");
        assert!(!l.is_path_style());
        let l = S3Location::new("my-bucket", "us-west-2", None, true, false).unwrap();
        assert_eq!(l.object_url("a/b.txt"), "https://s3.us-west-2.amazonaws.com/my-bucket/a/b.txt");
        let l = S3Location::new("my.bucket", "us-west-2", None, false, false).unwrap();
        assert_eq!(l.object_url("k"), "https://s3.us-west-2.amazonaws.com/my.bucket/k", "dotted buckets use path style over https");
        let l = S3Location::new("uploads", "us-east-1", Some("http://127.0.0.1:9000/"), true, false).unwrap();
        assert_eq!(l.object_url("k"), "http://127.0.0.1:9000/uploads/k");
        let l = S3Location::new("uploads", "us-east-1", Some("http://127.0.0.1:9000"), false, false).unwrap();
        assert_eq!(l.object_url("k"), "http://127.0.0.1:9000/uploads/k", "IP hosts use path style");
        let l = S3Location::new("b1b", "auto", Some("HTTPS://Minio.Example.com:443/s3/"), false, false).unwrap();
        assert_eq!(l.object_url("k"), "https://b1b.minio.example.com/s3/k");
        assert_eq!(l.host(), "b1b.minio.example.com");
        let l = S3Location::new("b1b", "auto", Some("https://minio.example.com:8443"), true, false).unwrap();
        assert_eq!(l.object_url("k"), "https://minio.example.com:8443/b1b/k");
        let l = S3Location::new("b1b", "auto", Some("http://[::1]:80"), false, false).unwrap();
        assert_eq!(l.object_url("k"), "http://[::1]/b1b/k");
        assert!(S3Location::new("b1b", "auto", Some("http://minio.example.com"), true, true).is_ok());
    }

    #[test]
    fn bad_options_name_their_field() {
        let field = |r: Result<S3Location, UploadError>| r.unwrap_err().message.split(':').next().unwrap().to_owned();
        for b in ["", "ab", "Uploads", "-abc", "abc-", "a..b", "a_b", "192.168.0.1", &"a".repeat(64), "a b"] {
            assert_eq!(field(S3Location::new(b, "us-east-1", None, false, false)), "s3.bucket", "{b}");
        }
        for r in ["", "US-EAST-1", "us east", "us/east", &"a".repeat(65)] {
            assert_eq!(field(S3Location::new("bucket", r, None, false, false)), "s3.region", "{r}");
        }
        for e in ["", "s3.example.com", "ftp://h", "http://minio.example.com", "https://u:p@h", "https://h/?x", "https://h#f", "https://h/a/../b", "https://h/a b", "https://h/%41", "https://bücher.example", "https://h:0"] {
            assert_eq!(field(S3Location::new("bucket", "us-east-1", Some(e), true, false)), "s3.endpoint", "{e}");
        }
    }

    #[test]
    fn bad_presign_inputs_are_invalid_input_not_panics() {
        let loc = loc_dev();
        let creds = dev_creds(None);
        let p = |expires_secs, now_ms| S3Presigner { location: &loc, credentials: &creds, now_ms, expires_secs };
        assert!(p(0, 0).put_object("k", "a").unwrap_err().message.starts_with("expiresIn:"));
        assert!(p(604_801, 0).put_object("k", "a").unwrap_err().message.starts_with("expiresIn:"));
        assert!(p(604_800, 0).put_object("k", "a").is_ok());
        assert!(p(1, u64::MAX).put_object("k", "a").unwrap_err().message.starts_with("now:"));
        for key in ["", "a/../b", "..", "./x", "a/.", "a\nb", &"k".repeat(1025)] {
            assert!(p(1, 0).put_object(key, "a").unwrap_err().message.starts_with("key:"), "{key:?}");
        }
        assert!(p(1, 0).put_object("a/.../b", "a").is_ok());
        assert!(p(1, 0).put_object("k", "a\r\nx-evil: 1").unwrap_err().message.starts_with("headers:"));
        let empty = Credentials { access_key_id: String::new(), secret_access_key: "s".into(), session_token: None };
        let q = S3Presigner { location: &loc, credentials: &empty, now_ms: 0, expires_secs: 1 };
        assert!(q.put_object("k", "a").unwrap_err().message.starts_with("accessKeyId:"));
    }

    proptest! {
        #[test]
        fn no_panic_for_any_key_bucket_region_or_credentials(
            bucket in prop_oneof![".{0,70}", "[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]"],
            region in prop_oneof![".{0,70}", "[a-z0-9-]{1,12}"],
            endpoint in proptest::option::of(prop_oneof![".{0,40}", "(https?|HTTP)://[a-zA-Z0-9.:\\[\\]/%-]{0,30}"]),
            path_style: bool, insecure: bool, key in ".{0,200}", ct in ".{0,40}",
            ak in ".{0,30}", sk in ".{0,50}", token in proptest::option::of(".{0,30}"),
            now_ms: u64, expires: u64, part: u32, upload_id in ".{0,20}",
        ) {
            let creds = Credentials { access_key_id: ak, secret_access_key: sk, session_token: token };
            if let Ok(loc) = S3Location::new(&bucket, &region, endpoint.as_deref(), path_style, insecure) {
                let p = S3Presigner { location: &loc, credentials: &creds, now_ms, expires_secs: expires };
                if let Ok(url) = p.put_object(&key, &ct) {
                    prop_assert!(crate::presigned::parse(&url).is_ok(), "{}", url);
                }
                let _ = p.create_multipart_upload(&key, Some(&ct));
                let _ = p.upload_part(&key, &upload_id, part);
                let _ = p.complete_multipart_upload(&key, &upload_id);
                let _ = p.abort_multipart_upload(&key, &upload_id);
                let _ = p.list_parts(&key, &upload_id);
            }
            let _ = signing_key(&creds.secret_access_key, &bucket, &region, &key);
            let _ = amz_date(now_ms);
        }

        #[test]
        fn valid_inputs_always_presign_a_url_that_parses(
            bucket in "[a-z0-9][a-z0-9-]{1,40}[a-z0-9]", region in "[a-z0-9-]{1,20}",
            key in "[^\\p{Cc}]{1,100}", ak in "[A-Z0-9]{4,20}", sk in ".{1,40}",
            now_ms in 0u64..=MAX_AMZ_DATE_MS, expires in 1u64..=604_800,
        ) {
            prop_assume!(!has_dot_segment(&key));
            let loc = S3Location::new(&bucket, &region, None, false, false).unwrap();
            let creds = Credentials { access_key_id: ak, secret_access_key: sk, session_token: None };
            let url = S3Presigner { location: &loc, credentials: &creds, now_ms, expires_secs: expires }.put_object(&key, "application/octet-stream").unwrap();
            let parsed = crate::presigned::parse(&url).unwrap();
            prop_assert_eq!(parsed.expires_secs, Some(expires));
            prop_assert_eq!(parsed.amz_date_ms, Some(now_ms / 1000 * 1000));
        }
    }
}
