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
    /// `PUT` requests to the S3 store refused for `Transfer-Encoding` or no `Content-Length`.
    pub store_put_refused_length: AtomicU64,
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
    /// Faults fired (`--faults`), one per faulted request whatever its kinds.
    pub faults_fired: AtomicU64,
    /// Faults that answered an error status.
    pub fault_status: AtomicU64,
    /// Faults that dropped the connection.
    pub fault_reset: AtomicU64,
    /// Faults that delayed the answer.
    pub fault_delay: AtomicU64,
    /// Faults that answered S3's "Request has expired".
    pub fault_expire: AtomicU64,
    /// Faults that answered 200 with a body that is not the JSON promised.
    pub fault_bad_json: AtomicU64,
    /// Faults that left the CORS headers off the answer.
    pub fault_no_cors: AtomicU64,
}

/// Adds one to a counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Stats {
    fn all(&self) -> [(&'static str, &AtomicU64); 19] {
        [
            ("store_put", &self.store_put),
            (
                "store_put_with_authorization",
                &self.store_put_with_authorization,
            ),
            ("store_put_refused_length", &self.store_put_refused_length),
            ("store_options", &self.store_options),
            ("store_other", &self.store_other),
            ("api_presign", &self.api_presign),
            ("api_verify", &self.api_verify),
            ("api_delete", &self.api_delete),
            ("api_deploy", &self.api_deploy),
            ("api_429", &self.api_429),
            ("backend_presign", &self.backend_presign),
            ("backend_verify", &self.backend_verify),
            ("faults_fired", &self.faults_fired),
            ("fault_status", &self.fault_status),
            ("fault_reset", &self.fault_reset),
            ("fault_delay", &self.fault_delay),
            ("fault_expire", &self.fault_expire),
            ("fault_bad_json", &self.fault_bad_json),
            ("fault_no_cors", &self.fault_no_cors),
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
