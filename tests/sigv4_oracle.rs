//! The package's own SigV4 presigner (src/sigv4.rs) held against an outside one: the rusty-s3
//! crate, which also mints the devserver's URLs. For random buckets (virtual-hosted, path-style,
//! custom endpoints), regions, signing times (with the turn of a day and of a year), expiries
//! from 1 s to 7 days, session tokens, object keys (unicode, spaces, every reserved character,
//! `~`, repeated and trailing `/`) and actions (PutObject with and without a signed content
//! type, UploadPart with `partNumber` and `uploadId`), both must produce the same URL, so the
//! same canonical request and the same signature. A case that differs prints both canonical
//! requests, rebuilt from the two URLs.
//!
//! Only src/sigv4.rs's public signing API is used ([`S3Location`], [`S3Presigner`],
//! [`Credentials`]), never its hash functions.
//!
//! Cases per property: `PROPTEST_CASES` when set (`npm test`: 1000, `npm run fuzz`: more),
//! else 1000.
#![cfg(all(not(target_arch = "wasm32"), feature = "full"))]

use std::time::Duration;

use jiff::Timestamp;
use presigned_upload::sigv4::{self, Credentials, S3Location, S3Presigner};
use proptest::prelude::*;
use rusty_s3::actions::S3Action;
use rusty_s3::{Bucket, UrlStyle};

/// `PROPTEST_CASES` (read by proptest itself) when set, else 1000 cases.
fn config() -> ProptestConfig {
    if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default()
    } else {
        ProptestConfig {
            cases: 1000,
            ..ProptestConfig::default()
        }
    }
}

// ---------------------------------------------------------------- where, who, when

/// Where the bucket lives, as both signers are told.
#[derive(Clone, Debug)]
enum Place {
    /// AWS: `https://{bucket}.s3.{region}.amazonaws.com`.
    AwsVirtual,
    /// AWS path-style: `https://s3.{region}.amazonaws.com/{bucket}`.
    AwsPath,
    /// A custom endpoint (MinIO, the devserver), path-style.
    EndpointPath(String),
    /// A custom endpoint with the bucket in the host name.
    EndpointVirtual(String),
}

/// One signing case, all but the action.
#[derive(Clone, Debug)]
struct Case {
    bucket: String,
    region: String,
    place: Place,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    now_ms: u64,
    expires_secs: u64,
    key: String,
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian), written independently of
/// the code under test (after Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The last time both signers can take: jiff's `Timestamp::MAX`, 9999-12-30T22:00:00Z
/// (src/sigv4.rs goes on to 9999-12-31T23:59:59.999Z).
const MAX_MS: u64 = 253_402_207_200_000;

/// Signing times: anywhere from 1970 to the end of 9999, and near the turn of a day or of a year
/// (a few seconds either side, so the date in the scope changes with the time).
fn now_ms() -> impl Strategy<Value = u64> {
    let turn_of_day = (1i64..2_932_897, -5_000i64..5_000)
        .prop_map(|(day, off)| u64::try_from(day * 86_400_000 + off).unwrap_or(0).min(MAX_MS));
    let turn_of_year = (1971i64..=9999, -5_000i64..5_000).prop_map(|(year, off)| {
        let ms = days_from_civil(year, 1, 1) * 86_400_000 + off;
        u64::try_from(ms).unwrap_or(0).min(MAX_MS)
    });
    let end_of_year = (1970i64..=9998, 0i64..5_000).prop_map(|(year, before)| {
        let ms = days_from_civil(year + 1, 1, 1) * 86_400_000 - 1 - before;
        u64::try_from(ms).unwrap_or(0).min(MAX_MS)
    });
    prop_oneof![
        0u64..=MAX_MS,
        1_600_000_000_000u64..1_900_000_000_000, // this century, where real uploads sign
        turn_of_day,
        turn_of_year,
        end_of_year,
        Just(0u64),
        Just(MAX_MS),
    ]
}

/// Expiries from 1 s to 7 days, with both ends.
fn expires_secs() -> impl Strategy<Value = u64> {
    prop_oneof![1u64..=604_800, Just(1u64), Just(604_800u64), Just(900u64)]
}

/// Bucket names S3 accepts (both signers get the same name; src/sigv4.rs checks it).
fn bucket() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9-]{1,20}[a-z0-9]",
        "[a-z0-9]{1,10}(\\.[a-z0-9][a-z0-9-]{0,8}[a-z0-9]){1,3}",
        "[a-z0-9]{63}",
    ]
    .prop_filter("a valid bucket name", |b| sigv4::is_valid_bucket(b))
}

fn region() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("us-east-1".to_owned()),
        Just("eu-west-3".to_owned()),
        Just("ap-southeast-2".to_owned()),
        "[a-z]{2}-[a-z]{4,9}-[1-9]",
        "[a-z0-9-]{1,20}",
    ]
    .prop_filter("a valid region", |r| sigv4::is_valid_region(r))
}

/// Custom endpoints (origin only): loopback with a port, a named host with or without a port.
fn endpoint() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u16..=65_535).prop_map(|p| format!("http://127.0.0.1:{p}")),
        Just("http://127.0.0.1".to_owned()),
        Just("http://localhost:9000".to_owned()),
        Just("https://minio.example.com".to_owned()),
        (1u16..=65_535).prop_map(|p| format!("https://s3.example.org:{p}")),
    ]
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        Just(Place::AwsVirtual),
        Just(Place::AwsPath),
        endpoint().prop_map(Place::EndpointPath),
        endpoint()
            .prop_filter("a host name, not an IP address", |e| !e.contains("127.0.0.1"))
            .prop_map(Place::EndpointVirtual),
    ]
}

/// Session tokens: none, STS-like base64 (with `/`, `+`, `=`), or any text.
fn session_token() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "[A-Za-z0-9/+]{16,400}={0,2}".prop_map(Some),
        any::<String>().prop_map(Some),
    ]
}

/// Object keys from pieces that matter to the encoding: unicode, spaces, every reserved
/// character, `~`, `/` (also repeated, leading and trailing), `%` sequences. Keys that
/// src/sigv4.rs refuses (empty, over 1024 bytes, control characters, `.` or `..` segments)
/// are left out: that refusal is tested in src/sigv4.rs.
fn object_key() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[A-Za-z0-9_.-]{1,12}",
        prop::sample::select(vec![
            "!", "#", "$", "&", "'", "(", ")", "*", "+", ",", ";", "=", "%", "~", " ", "  ", "/", "//", "///",
            ":", "?", "@", "[", "]", "\"", "<", ">", "\\", "^", "`", "{", "|", "}", "%20", "%2F", "+%",
            "é", "ü", "日本語", "файл", "🚀", "\u{a0}", "\u{200b}", "ﬁ", "e\u{301}", "\u{fffd}",
        ])
        .prop_map(String::from),
        any::<char>().prop_map(String::from),
    ];
    (prop::collection::vec(piece, 1..12), any::<bool>(), any::<bool>())
        .prop_map(|(pieces, lead, trail)| {
            let mut k = pieces.concat();
            if lead {
                k.insert(0, '/');
            }
            if trail && !k.ends_with('/') {
                k.push('/');
            }
            k
        })
        .prop_filter("a key src/sigv4.rs accepts", |k| sigv4::check_key(k).is_ok())
}

fn case() -> impl Strategy<Value = Case> {
    (
        (bucket(), region(), place()),
        ("(AKIA|ASIA)[A-Z0-9]{16}", "[A-Za-z0-9/+]{40}", session_token()),
        (now_ms(), expires_secs(), object_key()),
    )
        .prop_map(
            |((bucket, region, place), (access_key_id, secret_access_key, session_token), (now_ms, expires_secs, key))| Case {
                bucket,
                region,
                place,
                access_key_id,
                secret_access_key,
                session_token,
                now_ms,
                expires_secs,
                key,
            },
        )
}

/// Content types: the usual ones, with parameters.
fn content_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("application/octet-stream".to_owned()),
        Just("text/plain; charset=utf-8".to_owned()),
        Just("image/svg+xml".to_owned()),
        "[a-z]{1,12}/[a-z0-9.+-]{1,20}",
        "[a-z]{1,12}/[a-z0-9.+-]{1,20}; [a-z]{1,8}=[A-Za-z0-9\"-]{1,12}",
    ]
}

/// Upload ids: S3's look (base64url-like with `.`, `_`, `-`), or any text without control
/// characters (which src/sigv4.rs refuses).
fn upload_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._-]{20,120}",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        any::<String>().prop_filter("no control characters", |s| !s.is_empty() && !s.chars().any(char::is_control)),
    ]
}

// ---------------------------------------------------------------- the two signers

impl Case {
    /// src/sigv4.rs's location and credentials for this case.
    fn ours(&self) -> (S3Location, Credentials) {
        let (endpoint, path_style) = match &self.place {
            Place::AwsVirtual => (None, false),
            Place::AwsPath => (None, true),
            Place::EndpointPath(e) => (Some(e.as_str()), true),
            Place::EndpointVirtual(e) => (Some(e.as_str()), false),
        };
        let location = S3Location::new(&self.bucket, &self.region, endpoint, path_style, true)
            .unwrap_or_else(|e| panic!("src/sigv4.rs refused the location of {self:?}: {e:?}"));
        let creds = Credentials {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: self.session_token.clone(),
        };
        (location, creds)
    }

    /// rusty-s3's bucket for the place that src/sigv4.rs chose (it goes path-style by itself
    /// for a dotted bucket over https and for an IP host), and its credentials.
    fn theirs(&self, path_style: bool) -> (Bucket, rusty_s3::Credentials) {
        let endpoint = match &self.place {
            Place::AwsVirtual | Place::AwsPath => format!("https://s3.{}.amazonaws.com", self.region),
            Place::EndpointPath(e) | Place::EndpointVirtual(e) => e.clone(),
        };
        let style = if path_style { UrlStyle::Path } else { UrlStyle::VirtualHost };
        let bucket = Bucket::new(endpoint.parse().expect("endpoint URL"), style, self.bucket.clone(), self.region.clone())
            .unwrap_or_else(|e| panic!("rusty-s3 refused the bucket of {self:?}: {e}"));
        let creds = match &self.session_token {
            Some(t) => rusty_s3::Credentials::new_with_token(&self.access_key_id, &self.secret_access_key, t),
            None => rusty_s3::Credentials::new(&self.access_key_id, &self.secret_access_key),
        };
        (bucket, creds)
    }

    fn time(&self) -> Timestamp {
        Timestamp::from_millisecond(i64::try_from(self.now_ms).expect("ms fit in i64")).expect("a time jiff can hold")
    }

    fn presigner<'a>(&self, location: &'a S3Location, creds: &'a Credentials) -> S3Presigner<'a> {
        S3Presigner { location, credentials: creds, now_ms: self.now_ms, expires_secs: self.expires_secs }
    }
}

/// The canonical request a presigned URL was signed with, rebuilt from the URL itself: the
/// path and the query as sent (both signers send exactly what they signed), the headers that
/// `X-Amz-SignedHeaders` names with the values both were given, and the unsigned payload.
fn canonical_request_of(method: &str, url: &str, headers: &[(&str, &str)]) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, path_query) = after_scheme.split_at(after_scheme.find('/').unwrap_or(after_scheme.len()));
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let query: Vec<&str> = query.split('&').filter(|p| !p.starts_with("X-Amz-Signature=")).collect();
    let signed = query
        .iter()
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .unwrap_or("")
        .replace("%3B", ";");
    let mut canonical_headers = String::new();
    for name in signed.split(';') {
        let value = if name == "host" {
            host
        } else {
            headers.iter().find(|(n, _)| *n == name).map_or("?", |(_, v)| v)
        };
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    format!("{method}\n{path}\n{}\n{canonical_headers}\n{signed}\nUNSIGNED-PAYLOAD", query.join("&"))
}

/// Fails unless the two URLs are equal, printing both canonical requests.
fn same_url(what: &str, case: &Case, method: &str, headers: &[(&str, &str)], ours: &str, theirs: &str) -> Result<(), TestCaseError> {
    if ours == theirs {
        return Ok(());
    }
    let (a, b) = (canonical_request_of(method, ours, headers), canonical_request_of(method, theirs, headers));
    let why = if a == b { "same canonical request, different signature" } else { "different canonical requests" };
    Err(TestCaseError::fail(format!(
        "{what}: src/sigv4.rs and rusty-s3 disagree ({why}) for {case:#?}\n\
         --- src/sigv4.rs URL:\n{ours}\n--- rusty-s3 URL:\n{theirs}\n\
         --- src/sigv4.rs canonical request:\n{a}\n--- rusty-s3 canonical request:\n{b}\n---"
    )))
}

fn put_object(case: &Case, content_type: Option<&str>) -> Result<(), TestCaseError> {
    let (location, creds) = case.ours();
    let signer = case.presigner(&location, &creds);
    let ours = match content_type {
        Some(ct) => signer.put_object(&case.key, ct),
        None => signer.object("PUT", &case.key, &[], &[]),
    }
    .map_err(|e| TestCaseError::fail(format!("src/sigv4.rs refused {case:?}: {e:?}")))?;
    let (bucket, their_creds) = case.theirs(location.is_path_style());
    let mut action = bucket.put_object(Some(&their_creds), &case.key);
    if let Some(ct) = content_type {
        action.headers_mut().insert("content-type", ct);
    }
    let theirs = action.sign_with_time(Duration::from_secs(case.expires_secs), &case.time());
    let headers: Vec<(&str, &str)> = content_type.map(|ct| ("content-type", ct)).into_iter().collect();
    same_url("PutObject", case, "PUT", &headers, &ours, theirs.as_str())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn put_object_with_a_signed_content_type_matches_rusty_s3(case in case(), ct in content_type()) {
        put_object(&case, Some(&ct))?;
    }

    #[test]
    fn put_object_without_a_signed_content_type_matches_rusty_s3(case in case()) {
        put_object(&case, None)?;
    }

    #[test]
    fn upload_part_matches_rusty_s3(case in case(), part in 1u16..=10_000, id in upload_id()) {
        let (location, creds) = case.ours();
        let ours = case
            .presigner(&location, &creds)
            .upload_part(&case.key, &id, u32::from(part))
            .map_err(|e| TestCaseError::fail(format!("src/sigv4.rs refused {case:?}: {e:?}")))?;
        let (bucket, their_creds) = case.theirs(location.is_path_style());
        let theirs = bucket
            .upload_part(Some(&their_creds), &case.key, part, &id)
            .sign_with_time(Duration::from_secs(case.expires_secs), &case.time());
        same_url("UploadPart", &case, "PUT", &[], &ours, theirs.as_str())?;
    }
}

// ---------------------------------------------------------------- the harness itself

fn example() -> Case {
    Case {
        bucket: "examplebucket".to_owned(),
        region: "us-east-1".to_owned(),
        place: Place::EndpointVirtual("https://s3.amazonaws.com".to_owned()),
        access_key_id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
        session_token: None,
        now_ms: 1_369_353_600_000, // 2013-05-24T00:00:00Z
        expires_secs: 86_400,
        key: "test.txt".to_owned(),
    }
}

#[test]
fn both_signers_give_aws_documented_signature() {
    // The presigned GET of the S3 documentation ("Authenticating Requests: Using Query
    // Parameters"), through both signers: the oracle is right where AWS says what is right.
    let case = example();
    let (location, creds) = case.ours();
    let ours = case.presigner(&location, &creds).object("GET", &case.key, &[], &[]).unwrap();
    let (bucket, their_creds) = case.theirs(false);
    let theirs = bucket.get_object(Some(&their_creds), &case.key).sign_with_time(Duration::from_secs(86_400), &case.time());
    let sig = "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    assert!(ours.ends_with(sig), "{ours}");
    assert_eq!(ours, theirs.as_str());
}

#[test]
fn a_difference_fails_and_prints_both_canonical_requests() {
    // The comparison can fail: a URL for another key is caught, and the report shows both
    // canonical requests with the two paths.
    let case = example();
    let (location, creds) = case.ours();
    let ours = case.presigner(&location, &creds).put_object("a b.txt", "text/plain").unwrap();
    let (bucket, their_creds) = case.theirs(false);
    let mut action = bucket.put_object(Some(&their_creds), "a+b.txt");
    action.headers_mut().insert("content-type", "text/plain");
    let theirs = action.sign_with_time(Duration::from_secs(86_400), &case.time());
    let err = same_url("PutObject", &case, "PUT", &[("content-type", "text/plain")], &ours, theirs.as_str()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("different canonical requests"), "{text}");
    assert!(text.contains("--- src/sigv4.rs canonical request:\nPUT\n/a%20b.txt\n"), "{text}");
    assert!(text.contains("--- rusty-s3 canonical request:\nPUT\n/a%2Bb.txt\n"), "{text}");
    assert!(text.contains("content-type:text/plain\nhost:examplebucket.s3.amazonaws.com\n\ncontent-type;host\nUNSIGNED-PAYLOAD"), "{text}");

    // Same request, other secret: same canonical request, different signature.
    let other = Case { secret_access_key: "another-secret".to_owned(), ..example() };
    let (bucket, their_creds) = other.theirs(false);
    let mut action = bucket.put_object(Some(&their_creds), "a b.txt");
    action.headers_mut().insert("content-type", "text/plain");
    let theirs = action.sign_with_time(Duration::from_secs(86_400), &case.time());
    let text = same_url("PutObject", &case, "PUT", &[("content-type", "text/plain")], &ours, theirs.as_str()).unwrap_err().to_string();
    assert!(text.contains("same canonical request, different signature"), "{text}");
}

#[test]
fn turn_of_day_and_year_times_are_generated_as_meant() {
    // 2024-01-01T00:00:00Z, from the test's own calendar arithmetic.
    assert_eq!(days_from_civil(2024, 1, 1) * 86_400_000, 1_704_067_200_000);
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(9999, 12, 30) * 86_400_000 + 22 * 3_600_000, MAX_MS as i64);
    assert!(Timestamp::from_millisecond(MAX_MS as i64).is_ok());
    assert!(Timestamp::from_millisecond(MAX_MS as i64 + 1).is_err());
}
