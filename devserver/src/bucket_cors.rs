//! The store's bucket CORS configuration, applied as S3 applies it.
//!
//! Without a configuration (the default) the bucket allows every loopback origin (and the
//! `--origin` extras) to `GET`, `PUT`, `HEAD`, `POST` and `DELETE` with any header, and
//! exposes `ETag` and `x-amz-request-id`: what the package needs, multipart included.
//!
//! With `--cors FILE` (S3's JSON: an array of rules, or `{"CORSRules": [...]}`), or at run time
//! with `POST /__cors` (with `--faults`; `DELETE /__cors` goes back to the startup setting),
//! the rules are those of the file, matched as S3 matches them:
//!
//! * a preflight (`OPTIONS`) is allowed by the first rule whose `AllowedOrigins` match the
//!   `Origin`, whose `AllowedMethods` hold `Access-Control-Request-Method`, and whose
//!   `AllowedHeaders` match every header of `Access-Control-Request-Headers`; otherwise it is
//!   answered `403 AccessForbidden` without any `Access-Control-*` header;
//! * any other request gets `Access-Control-Allow-Origin` (and `ExposeHeaders`) only when a
//!   rule matches its origin and method; error answers included. Otherwise no CORS header.
//!
//! A rule's origin and header patterns may hold one `*` wildcard; headers compare without
//! case, origins exactly.

use serde_json::Value;

/// One CORS rule of the bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsRule {
    /// Origins, each with at most one `*`.
    pub allowed_origins: Vec<String>,
    /// Methods: `GET`, `PUT`, `HEAD`, `POST`, `DELETE`.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for, lower case, each with at most one `*`.
    pub allowed_headers: Vec<String>,
    /// Response headers scripts may read.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight answer.
    pub max_age_seconds: Option<u32>,
}

/// What a request is allowed: the headers to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// `Access-Control-Allow-Origin`.
    pub origin: String,
    /// `Access-Control-Allow-Methods` (preflight).
    pub methods: String,
    /// `Access-Control-Expose-Headers`; empty for none.
    pub expose: String,
    /// `Access-Control-Max-Age` (preflight), when given.
    pub max_age: Option<u32>,
}

/// The bucket's CORS rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketCors {
    /// The rules, tried in order.
    pub rules: Vec<CorsRule>,
}

const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];

fn strings(
    rule: &serde_json::Map<String, Value>,
    key: &str,
    at: &str,
    required: bool,
) -> Result<Vec<String>, String> {
    match rule.get(key) {
        None | Some(Value::Null) if !required => Ok(Vec::new()),
        None | Some(Value::Null) => Err(format!("{at}.{key}: is required")),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{at}.{key}[{i}]: must be a string"))
            })
            .collect(),
        Some(_) => Err(format!("{at}.{key}: must be an array of strings")),
    }
}

fn check_wildcards(list: &[String], key: &str, at: &str) -> Result<(), String> {
    match list.iter().position(|p| p.matches('*').count() > 1) {
        Some(i) => Err(format!("{at}.{key}[{i}]: at most one * wildcard")),
        None => Ok(()),
    }
}

impl BucketCors {
    /// Parses S3's CORS JSON: `[rule, ...]` or `{"CORSRules": [rule, ...]}`, each rule with
    /// `AllowedOrigins` and `AllowedMethods` (required), `AllowedHeaders`, `ExposeHeaders`
    /// and `MaxAgeSeconds`. Errors name the field.
    pub fn parse(v: &Value) -> Result<Self, String> {
        let list = match v {
            Value::Array(a) => a,
            Value::Object(o) => match o.get("CORSRules") {
                Some(Value::Array(a)) => a,
                _ => return Err("CORSRules: must be an array of rules".to_owned()),
            },
            _ => return Err("must be an array of CORS rules or {\"CORSRules\": [...]}".to_owned()),
        };
        let mut rules = Vec::with_capacity(list.len());
        for (i, r) in list.iter().enumerate() {
            let at = format!("CORSRules[{i}]");
            let Value::Object(r) = r else {
                return Err(format!("{at}: must be an object"));
            };
            let allowed_origins = strings(r, "AllowedOrigins", &at, true)?;
            check_wildcards(&allowed_origins, "AllowedOrigins", &at)?;
            let allowed_methods = strings(r, "AllowedMethods", &at, true)?;
            if let Some(i) = allowed_methods
                .iter()
                .position(|m| !METHODS.contains(&m.as_str()))
            {
                return Err(format!(
                    "{at}.AllowedMethods[{i}]: must be one of GET, PUT, HEAD, POST, DELETE"
                ));
            }
            let allowed_headers: Vec<String> = strings(r, "AllowedHeaders", &at, false)?
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect();
            check_wildcards(&allowed_headers, "AllowedHeaders", &at)?;
            let expose_headers = strings(r, "ExposeHeaders", &at, false)?;
            let max_age_seconds = match r.get("MaxAgeSeconds") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(
                    || format!("{at}.MaxAgeSeconds: must be a whole number of seconds"),
                )?),
            };
            rules.push(CorsRule {
                allowed_origins,
                allowed_methods,
                allowed_headers,
                expose_headers,
                max_age_seconds,
            });
        }
        Ok(BucketCors { rules })
    }

    /// What a request from `origin` with `method` is allowed; with `request_headers` (lower
    /// case) for a preflight. `None`: no rule matches, so no CORS header at all.
    #[must_use]
    pub fn allowed(
        &self,
        origin: &str,
        method: &str,
        request_headers: &[String],
    ) -> Option<Allowed> {
        let rule = self.rules.iter().find(|r| {
            r.allowed_origins.iter().any(|p| wildcard(p, origin))
                && r.allowed_methods.iter().any(|m| m == method)
                && request_headers
                    .iter()
                    .all(|h| r.allowed_headers.iter().any(|p| wildcard(p, h)))
        })?;
        Some(Allowed {
            origin: origin.to_owned(),
            methods: rule.allowed_methods.join(", "),
            expose: rule.expose_headers.join(", "),
            max_age: rule.max_age_seconds,
        })
    }
}

/// Whether `value` matches `pattern`, which holds at most one `*` (any run of characters).
#[must_use]
pub fn wildcard(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((pre, post)) => {
            value.len() >= pre.len() + post.len() && value.starts_with(pre) && value.ends_with(post)
        }
    }
}

/// The header names of an `Access-Control-Request-Headers` value, lower case.
#[must_use]
pub fn request_headers(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(v: Value) -> BucketCors {
        BucketCors::parse(&v).unwrap()
    }

    #[test]
    fn the_readme_rule_allows_the_put_and_nothing_else() {
        let c = rules(
            json!([{ "AllowedOrigins": ["https://your.app"], "AllowedMethods": ["PUT"],
            "AllowedHeaders": ["content-type"], "ExposeHeaders": ["ETag", "x-amz-request-id"] }]),
        );
        let a = c
            .allowed("https://your.app", "PUT", &["content-type".to_owned()])
            .unwrap();
        assert_eq!(a.origin, "https://your.app");
        assert_eq!(a.expose, "ETag, x-amz-request-id");
        assert!(
            c.allowed("https://your.app", "GET", &[]).is_none(),
            "GET is not in the rule"
        );
        assert!(
            c.allowed("https://other.app", "PUT", &[]).is_none(),
            "another origin"
        );
        assert!(
            c.allowed("https://your.app", "PUT", &["x-custom".to_owned()])
                .is_none(),
            "a header outside the rule"
        );
    }

    #[test]
    fn wildcards_match_one_run_and_headers_compare_lower_case() {
        let c = rules(
            json!({ "CORSRules": [{ "AllowedOrigins": ["http://127.0.0.1:*"], "AllowedMethods": ["PUT", "GET"],
            "AllowedHeaders": ["X-Amz-*", "Content-Type"], "MaxAgeSeconds": 60 }] }),
        );
        let hs = request_headers(Some("Content-Type, x-amz-date"));
        assert_eq!(hs, ["content-type", "x-amz-date"]);
        let a = c.allowed("http://127.0.0.1:8080", "PUT", &hs).unwrap();
        assert_eq!((a.methods.as_str(), a.max_age), ("PUT, GET", Some(60)));
        assert!(c.allowed("http://localhost:8080", "PUT", &hs).is_none());
        assert!(wildcard("*", "anything"));
        assert!(!wildcard("a*a", "a"));
    }

    #[test]
    fn the_first_matching_rule_wins_and_no_rule_means_nothing_allowed() {
        let c = rules(json!([
            { "AllowedOrigins": ["*"], "AllowedMethods": ["GET"] },
            { "AllowedOrigins": ["*"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"] }
        ]));
        assert_eq!(c.allowed("http://x", "GET", &[]).unwrap().expose, "");
        assert_eq!(
            c.allowed("http://x", "PUT", &["content-type".to_owned()])
                .unwrap()
                .expose,
            "ETag"
        );
        assert!(
            c.allowed("http://x", "GET", &["content-type".to_owned()])
                .is_none(),
            "the GET rule allows no header"
        );
        assert!(rules(json!([])).allowed("http://x", "GET", &[]).is_none());
    }

    #[test]
    fn bad_rules_are_refused_naming_the_field() {
        for (v, field) in [
            (json!("x"), "must be an array"),
            (json!({ "Rules": [] }), "CORSRules"),
            (
                json!([{ "AllowedMethods": ["PUT"] }]),
                "CORSRules[0].AllowedOrigins",
            ),
            (
                json!([{ "AllowedOrigins": ["*"] }]),
                "CORSRules[0].AllowedMethods",
            ),
            (
                json!([{ "AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"] }]),
                "CORSRules[0].AllowedMethods[0]",
            ),
            (
                json!([{ "AllowedOrigins": ["*.*"], "AllowedMethods": ["GET"] }]),
                "CORSRules[0].AllowedOrigins[0]",
            ),
            (
                json!([{ "AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "MaxAgeSeconds": -1 }]),
                "CORSRules[0].MaxAgeSeconds",
            ),
        ] {
            let e = BucketCors::parse(&v).unwrap_err();
            assert!(e.contains(field), "{v}: {e}");
        }
    }
}
