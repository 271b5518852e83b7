//! Which browser origins the devserver's listeners answer CORS requests for.

/// The allowed origins: every port of the loopback hosts `127.0.0.1`,
/// `localhost` and `[::1]` over `http`, plus exact extra origins given with
/// `--origin`.
#[derive(Clone, Debug, Default)]
pub struct Origins {
    extra: Vec<String>,
}

impl Origins {
    /// The loopback origins plus `extra` (compared exactly, ignoring one
    /// trailing `/`).
    #[must_use]
    pub fn new(extra: &[String]) -> Self {
        Self {
            extra: extra
                .iter()
                .map(|o| o.trim_end_matches('/').to_owned())
                .collect(),
        }
    }

    /// True when a request with this `Origin` header may read responses.
    #[must_use]
    pub fn allows(&self, origin: &str) -> bool {
        is_loopback_origin(origin) || self.extra.iter().any(|o| o == origin)
    }
}

impl Origins {
    /// The request's `Origin` when it is one of the allowed origins.
    #[must_use]
    pub fn of_request<B>(&self, req: &http::Request<B>) -> Option<String> {
        req.headers()
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .filter(|o| self.allows(o))
            .map(str::to_owned)
    }
}

/// Lets `origin` read `resp`: `Access-Control-Allow-Origin`, the exposed headers
/// (when given) and `Vary: Origin`.
pub fn allow_response<B>(resp: &mut http::Response<B>, origin: &str, expose: Option<&'static str>) {
    use http::header::{
        HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, VARY,
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    if let Some(e) = expose {
        h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(e));
    }
    h.append(VARY, HeaderValue::from_static("Origin"));
}

/// True for `http://127.0.0.1`, `http://localhost` and `http://[::1]`, with or
/// without a numeric port.
#[must_use]
pub fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    for host in ["127.0.0.1", "localhost", "[::1]"] {
        if let Some(after) = rest.strip_prefix(host) {
            if after.is_empty() {
                return true;
            }
            if let Some(port) = after.strip_prefix(':') {
                return !port.is_empty()
                    && port.len() <= 5
                    && port.bytes().all(|b| b.is_ascii_digit());
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins() {
        for ok in [
            "http://127.0.0.1:12345",
            "http://127.0.0.1",
            "http://localhost:5",
            "http://[::1]:8080",
        ] {
            assert!(is_loopback_origin(ok), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "https://127.0.0.1:1",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example:80",
            "http://localhost:",
            "http://localhost:80/",
            "http://127.0.0.1:80x",
            "null",
            "",
        ] {
            assert!(!is_loopback_origin(bad), "{bad}");
        }
    }

    #[test]
    fn extra_origins_are_exact() {
        let o = Origins::new(&["https://app.example/".to_owned()]);
        assert!(o.allows("https://app.example"));
        assert!(!o.allows("https://app.example.evil"));
        assert!(o.allows("http://localhost:3000"));
    }
}
