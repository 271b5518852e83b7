//! Request counters exposed to tests at `GET /__dev/stats`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};

/// One counter per kind of request, counted as requests arrive (before auth).
#[derive(Debug, Default)]
pub struct Stats {
    /// `PUT` requests to the S3 store.
    pub store_put: AtomicU64,
    /// `PUT` requests to the S3 store that carried an `Authorization` header.
    pub store_put_with_authorization: AtomicU64,
    /// `OPTIONS` (preflight) requests to the S3 store.
    pub store_options: AtomicU64,
    /// Any other request to the S3 store.
    pub store_other: AtomicU64,
    /// Calls to the presign endpoint of the API.
    pub api_presign: AtomicU64,
    /// Calls to the verify endpoint of the API.
    pub api_verify: AtomicU64,
    /// Calls to the delete endpoint of the API.
    pub api_delete: AtomicU64,
    /// Calls to the deploy endpoint of the API.
    pub api_deploy: AtomicU64,
    /// API calls answered 429 by the rate limit.
    pub api_429: AtomicU64,
    /// Calls to the sample backend's `/backend/presign`.
    pub backend_presign: AtomicU64,
    /// Calls to the sample backend's `/backend/verify`.
    pub backend_verify: AtomicU64,
}

/// Adds one to a counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Stats {
    fn all(&self) -> [(&'static str, &AtomicU64); 11] {
        [
            ("store_put", &self.store_put),
            (
                "store_put_with_authorization",
                &self.store_put_with_authorization,
            ),
            ("store_options", &self.store_options),
            ("store_other", &self.store_other),
            ("api_presign", &self.api_presign),
            ("api_verify", &self.api_verify),
            ("api_delete", &self.api_delete),
            ("api_deploy", &self.api_deploy),
            ("api_429", &self.api_429),
            ("backend_presign", &self.backend_presign),
            ("backend_verify", &self.backend_verify),
        ]
    }

    /// The counters as a JSON object.
    #[must_use]
    pub fn snapshot(&self) -> Value {
        let mut map = serde_json::Map::new();
        for (name, c) in self.all() {
            map.insert(name.to_owned(), json!(c.load(Ordering::Relaxed)));
        }
        Value::Object(map)
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        for (_, c) in self.all() {
            c.store(0, Ordering::Relaxed);
        }
    }
}
