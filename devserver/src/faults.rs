//! Fault injection, on only with `--faults`: a script posted to `POST /__faults` (web listener)
//! makes the next matching requests fail the way real stores, APIs and networks fail.
//!
//! A script is one rule, an array of rules, or `{"rules": [...], "random": {...}}`. Posting
//! replaces the current script (and clears the log); `DELETE /__faults` clears it; `GET
//! /__faults` shows the rules still armed, the random mode, how many faults fired of each
//! kind, and a log of every fired fault.
//!
//! A rule:
//!
//! ```json
//! {"match": "store_put", "times": 2, "status": 503, "s3_code": "SlowDown", "retry_after": 1}
//! ```
//!
//! * `match` (required): `"store_put"` (a PUT to the store), `"store_complete"` (a
//!   CompleteMultipartUpload to the store: `"status": 200` with an `s3_code` answers S3's
//!   200 whose body is an `<Error>`), `"api"` (any call to the API),
//!   `"backend"` (any call to the sample backend), or an exact path such as
//!   `"/api/v1/filemanagement/verify-file-upload/"` or `"/backend/presign"`;
//! * `times`: how many matching requests it applies to (default 1);
//! * at most one effect: `status` (with optional `retry_after` seconds, `s3_code` and
//!   `message`; store errors are S3 XML, API and backend errors `{"detail": ...}`; a 429 says
//!   Hexnode's "Request was throttled. Expected available in N seconds." with `Retry-After`),
//!   `reset` (`true` or `{"after_bytes": n}`: read part of the body, then drop the connection
//!   with a TCP reset), `expire` (`true`: S3's 403 AccessDenied "Request has expired"),
//!   `bad_json` (`"html"`: 200 with an HTML page; `"truncated"`: 200 with JSON cut short;
//!   `"empty"`: 204 with no body; `"true"` and `"string"`: 200 with the JSON `true` or `"ok"`,
//!   which a verify endpoint may answer);
//! * modifiers, alone or with an effect: `delay_ms` (wait first, then go on) and `no_cors`
//!   (`true`: the answer carries no CORS headers; a preflight still passes).
//!
//! A `message` may quote the request with `{url}` (path and query) and `{authorization}` (the
//! `Authorization` header), to test that clients never repeat what a server echoes.
//!
//! Random mode, `{"random": {"rate": 0.1, "seed": 7, "kinds": [...], "targets": [...],
//! "max_delay_ms": 500}}`, faults each matching request with probability `rate`, choosing one
//! of `kinds` (default: all) that fits the target (`expire` only on the store, `bad_json` only on
//! the API or backend), from a PRNG seeded with `seed`. `targets` defaults to
//! `["store_put", "api"]`. Rules are tried first.
//!
//! While a reset may fire, every response says `Connection: close` and arming one closes idle
//! keep-alive connections: a browser silently resends a request whose *reused* connection
//! dropped, so a reset must meet a fresh connection for the client to see it.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio::sync::Notify;

use crate::stats::{bump, Stats};
use crate::util::{self, BoxError, RespBody};

/// The control endpoint's path (web listener).
pub const FAULTS_PATH: &str = "/__faults";
/// The most log entries kept; older ones are dropped.
pub const MAX_LOG: usize = 10_000;
/// The longest `delay_ms` a rule may ask for (10 minutes).
pub const MAX_DELAY_MS: u64 = 600_000;
/// How many bytes a `reset` reads by default at most before dropping the connection.
pub const DEFAULT_RESET_AFTER_MAX: u64 = 64 * 1024;

/// The kinds of fault, as counted and logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An error status.
    Status,
    /// A dropped connection.
    Reset,
    /// A slow answer.
    Delay,
    /// S3's "Request has expired".
    Expire,
    /// A 200 that is not the JSON promised.
    BadJson,
    /// An answer without CORS headers.
    NoCors,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Status,
        Kind::Reset,
        Kind::Delay,
        Kind::Expire,
        Kind::BadJson,
        Kind::NoCors,
    ];

    /// The snake_case name used in scripts, logs and counters.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Status => "status",
            Kind::Reset => "reset",
            Kind::Delay => "delay",
            Kind::Expire => "expire",
            Kind::BadJson => "bad_json",
            Kind::NoCors => "no_cors",
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The counter of `/__dev/stats` that counts this kind.
    #[must_use]
    pub fn counter(self, stats: &Stats) -> &AtomicU64 {
        match self {
            Kind::Status => &stats.fault_status,
            Kind::Reset => &stats.fault_reset,
            Kind::Delay => &stats.fault_delay,
            Kind::Expire => &stats.fault_expire,
            Kind::BadJson => &stats.fault_bad_json,
            Kind::NoCors => &stats.fault_no_cors,
        }
    }
}

/// Which requests a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// A PUT to the store.
    StorePut,
    /// A CompleteMultipartUpload (`POST ...?uploadId=`) to the store.
    StoreComplete,
    /// Any call to the API listener.
    Api,
    /// Any call to the sample backend.
    Backend,
    /// One exact path of the API or the backend.
    Path(String),
}

impl Match {
    fn parse(s: &str, field: &str) -> Result<Match, String> {
        match s {
            "store_put" => Ok(Match::StorePut),
            "store_complete" => Ok(Match::StoreComplete),
            "api" => Ok(Match::Api),
            "backend" => Ok(Match::Backend),
            p if p.starts_with('/') && !p.starts_with(FAULTS_PATH) && !p.starts_with("/__dev") => {
                Ok(Match::Path(p.to_owned()))
            }
            _ => Err(format!(
                "{field}: must be \"store_put\", \"store_complete\", \"api\", \"backend\" or an API or backend path like \"/backend/presign\""
            )),
        }
    }

    fn name(&self) -> String {
        match self {
            Match::StorePut => "store_put".to_owned(),
            Match::StoreComplete => "store_complete".to_owned(),
            Match::Api => "api".to_owned(),
            Match::Backend => "backend".to_owned(),
            Match::Path(p) => p.clone(),
        }
    }

    fn matches(&self, target: &Target<'_>) -> bool {
        match (self, target) {
            (Match::StorePut, Target::StorePut { .. })
            | (Match::StoreComplete, Target::StoreComplete { .. })
            | (Match::Api, Target::Api { .. })
            | (Match::Backend, Target::Backend { .. }) => true,
            (Match::Path(p), Target::Api { path } | Target::Backend { path }) => p == path,
            _ => false,
        }
    }
}

/// The request a fault may apply to.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A PUT to the store, of this object key.
    StorePut {
        /// The object key (the file uuid for uploads).
        key: &'a str,
    },
    /// A CompleteMultipartUpload to the store, of this object key.
    StoreComplete {
        /// The object key.
        key: &'a str,
    },
    /// A call to the API listener.
    Api {
        /// The request path.
        path: &'a str,
    },
    /// A call to the sample backend.
    Backend {
        /// The request path.
        path: &'a str,
    },
}

impl Target<'_> {
    fn is_store(&self) -> bool {
        matches!(self, Target::StorePut { .. } | Target::StoreComplete { .. })
    }

    fn name(&self) -> String {
        match self {
            Target::StorePut { .. } => "store_put".to_owned(),
            Target::StoreComplete { .. } => "store_complete".to_owned(),
            Target::Api { path } | Target::Backend { path } => (*path).to_owned(),
        }
    }
}

/// What a 200-with-the-wrong-body looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadJson {
    /// An HTML page (a login page, a proxy's error page).
    Html,
    /// JSON cut short.
    Truncated,
    /// A 204 with no body.
    Empty,
    /// A 200 with the JSON `true`.
    True,
    /// A 200 with the JSON string `"ok"`.
    Text,
}

/// The main effect of a fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Go on as if nothing happened (after the modifiers).
    Proceed,
    /// Answer this status.
    Status {
        /// The HTTP status.
        status: u16,
        /// `Retry-After`, in seconds.
        retry_after: Option<u64>,
        /// The S3 `<Code>` (store) instead of the status's usual one.
        s3_code: Option<String>,
        /// The message (`<Message>` or `detail`) instead of the usual one.
        message: Option<String>,
    },
    /// Read this many body bytes (`None`: half the body, at most 64 KiB), then drop the
    /// connection with a reset.
    Reset {
        /// Body bytes read before the reset.
        after_bytes: Option<u64>,
    },
    /// S3's 403 AccessDenied "Request has expired".
    Expire,
    /// A 200 that is not the JSON promised.
    BadJson(BadJson),
}

/// A fault to apply to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// Wait this long first.
    pub delay_ms: u64,
    /// Leave the CORS headers off the answer.
    pub no_cors: bool,
    /// What to answer.
    pub effect: Effect,
}

impl Action {
    /// The kinds this action counts as.
    #[must_use]
    pub fn kinds(&self) -> Vec<Kind> {
        let mut out = Vec::new();
        match self.effect {
            Effect::Proceed => {}
            Effect::Status { .. } => out.push(Kind::Status),
            Effect::Reset { .. } => out.push(Kind::Reset),
            Effect::Expire => out.push(Kind::Expire),
            Effect::BadJson(_) => out.push(Kind::BadJson),
        }
        if self.delay_ms > 0 {
            out.push(Kind::Delay);
        }
        if self.no_cors {
            out.push(Kind::NoCors);
        }
        out
    }

    /// Sleeps for `delay_ms`.
    pub async fn delay(&self) {
        if self.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.delay_ms)).await;
        }
    }
}

/// One rule of a script.
#[derive(Clone, Debug)]
struct Rule {
    matches: Match,
    remaining: u32,
    action: Action,
    source: Value,
}

/// The random mode of a script.
#[derive(Clone, Debug)]
struct Random {
    rate: f64,
    seed: u64,
    kinds: Vec<Kind>,
    targets: Vec<Match>,
    max_delay_ms: u64,
    rng: SplitMix64,
}

/// A small, seeded PRNG (SplitMix64): the same seed gives the same sequence.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0.0..1.0`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// One fired fault, as logged.
#[derive(Clone, Debug, Serialize)]
pub struct Fired {
    /// Order of firing, from 1.
    pub seq: u64,
    /// `"rule"` or `"random"`.
    pub source: &'static str,
    /// `"store_put"` or the request path.
    pub target: String,
    /// The kinds applied.
    pub kinds: Vec<Kind>,
    /// The status answered, for `status` and `expire`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What a `bad_json` answered: `"html"` or `"truncated"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_json: Option<&'static str>,
    /// The object key of a store PUT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `file_name` of an API or backend request body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// `file_uuid` of an API or backend request body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_uuid: Option<String>,
    /// The action, to apply.
    #[serde(skip)]
    pub action: Action,
}

impl Fired {
    /// Fills `file_name` / `file_uuid` from a JSON request body.
    pub fn note_body(&mut self, body: &[u8]) {
        if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
            let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
            self.file_name = s("file_name");
            self.file_uuid = s("file_uuid");
        }
    }
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    random: Option<Random>,
    log: Vec<Fired>,
    seq: u64,
}

/// The fault injector of a devserver started with `--faults`.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the script with the one in `script` (see the module docs) and clears the log.
    ///
    /// # Errors
    /// A message naming the field that is wrong; the old script stays.
    pub fn set(&self, script: &Value) -> Result<(), String> {
        let (rules, random) = parse_script(script)?;
        let mut st = self.lock();
        st.rules = rules;
        st.random = random;
        st.log.clear();
        Ok(())
    }

    /// Clears the script and the log.
    pub fn clear(&self) {
        let mut st = self.lock();
        st.rules.clear();
        st.random = None;
        st.log.clear();
    }

    /// Whether a reset may fire: then connections should not be kept alive.
    #[must_use]
    pub fn reset_armed(&self) -> bool {
        let st = self.lock();
        st.rules
            .iter()
            .any(|r| r.remaining > 0 && matches!(r.action.effect, Effect::Reset { .. }))
            || st
                .random
                .as_ref()
                .is_some_and(|r| r.rate > 0.0 && r.kinds.contains(&Kind::Reset))
    }

    /// Decides whether `target` gets a fault; when it does, counts it in `stats` and returns it
    /// (log it with [`Faults::record`] once the details are known).
    pub fn take(&self, target: &Target<'_>, stats: &Stats) -> Option<Fired> {
        let mut st = self.lock();
        let mut chosen = None;
        for rule in st.rules.iter_mut() {
            if rule.remaining > 0 && rule.matches.matches(target) {
                rule.remaining -= 1;
                chosen = Some(("rule", rule.action.clone()));
                break;
            }
        }
        if chosen.is_none() {
            if let Some(r) = st.random.as_mut() {
                if r.targets.iter().any(|m| m.matches(target)) && r.rng.next_f64() < r.rate {
                    chosen = random_action(r, target).map(|a| ("random", a));
                }
            }
        }
        let (source, action) = chosen?;
        st.seq += 1;
        let kinds = action.kinds();
        bump(&stats.faults_fired);
        for k in &kinds {
            bump(k.counter(stats));
        }
        let status = match &action.effect {
            Effect::Status { status, .. } => Some(*status),
            Effect::Expire => Some(403),
            _ => None,
        };
        let bad_json = match &action.effect {
            Effect::BadJson(BadJson::Html) => Some("html"),
            Effect::BadJson(BadJson::Truncated) => Some("truncated"),
            _ => None,
        };
        let key = match target {
            Target::StorePut { key } | Target::StoreComplete { key } => Some((*key).to_owned()),
            _ => None,
        };
        Some(Fired {
            seq: st.seq,
            source,
            target: target.name(),
            kinds,
            status,
            bad_json,
            key,
            file_name: None,
            file_uuid: None,
            action,
        })
    }

    /// Adds a fired fault to the log.
    pub fn record(&self, fired: &Fired) {
        let mut st = self.lock();
        if st.log.len() >= MAX_LOG {
            st.log.remove(0);
        }
        st.log.push(fired.clone());
    }

    /// The script and the log, as `GET /__faults` shows them.
    #[must_use]
    pub fn snapshot(&self, stats: &Stats) -> Value {
        let st = self.lock();
        let rules: Vec<Value> = st
            .rules
            .iter()
            .map(|r| {
                let mut v = r.source.clone();
                if let Value::Object(o) = &mut v {
                    o.insert("remaining".to_owned(), json!(r.remaining));
                }
                v
            })
            .collect();
        let random = st.random.as_ref().map(|r| {
            json!({
                "rate": r.rate,
                "seed": r.seed,
                "kinds": r.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                "targets": r.targets.iter().map(Match::name).collect::<Vec<_>>(),
                "max_delay_ms": r.max_delay_ms,
            })
        });
        let mut fired = Map::new();
        for k in Kind::ALL {
            fired.insert(
                k.as_str().to_owned(),
                json!(k.counter(stats).load(std::sync::atomic::Ordering::Relaxed)),
            );
        }
        json!({
            "enabled": true,
            "rules": rules,
            "random": random,
            "fired": fired,
            "log": st.log,
        })
    }
}

/// A random fault for `target`, of a kind that fits it; `None` when no allowed kind fits.
fn random_action(r: &mut Random, target: &Target<'_>) -> Option<Action> {
    let store = target.is_store();
    let fits: Vec<Kind> = r
        .kinds
        .iter()
        .copied()
        .filter(|k| match k {
            Kind::Expire => store,
            Kind::BadJson => !store,
            _ => true,
        })
        .collect();
    if fits.is_empty() {
        return None;
    }
    let kind = fits[r.rng.below(fits.len() as u64) as usize];
    let mut action = Action {
        delay_ms: 0,
        no_cors: false,
        effect: Effect::Proceed,
    };
    match kind {
        Kind::Status => {
            let (status, code, retry_after) = if store {
                [(500, "InternalError", None), (503, "SlowDown", None)][r.rng.below(2) as usize]
            } else {
                [(500, "", None), (503, "", None), (429, "", Some(1))][r.rng.below(3) as usize]
            };
            action.effect = Effect::Status {
                status,
                retry_after,
                s3_code: (!code.is_empty()).then(|| code.to_owned()),
                message: None,
            };
        }
        Kind::Reset => action.effect = Effect::Reset { after_bytes: None },
        Kind::Delay => {
            let lo = r.max_delay_ms.min(50);
            action.delay_ms = lo + r.rng.below(r.max_delay_ms - lo + 1);
        }
        Kind::Expire => action.effect = Effect::Expire,
        Kind::BadJson => {
            action.effect = Effect::BadJson(if r.rng.below(2) == 0 {
                BadJson::Html
            } else {
                BadJson::Truncated
            });
        }
        Kind::NoCors => action.no_cors = true,
    }
    Some(action)
}

// ---- script parsing -------------------------------------------------------------

fn parse_script(script: &Value) -> Result<(Vec<Rule>, Option<Random>), String> {
    match script {
        Value::Array(items) => Ok((parse_rules(items, "")?, None)),
        Value::Object(o) if !o.contains_key("rules") && !o.contains_key("random") => {
            Ok((vec![parse_rule(o, "")?], None))
        }
        Value::Object(o) => {
            if let Some(k) = o
                .keys()
                .find(|k| !["rules", "random"].contains(&k.as_str()))
            {
                return Err(format!(
                    "{k}: unknown field (a script is a rule, an array of rules, or {{\"rules\": [...], \"random\": {{...}}}})"
                ));
            }
            let rules = match o.get("rules") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => parse_rules(items, "rules")?,
                Some(_) => return Err("rules: must be an array of rules".to_owned()),
            };
            let random = match o.get("random") {
                None | Some(Value::Null) => None,
                Some(Value::Object(r)) => Some(parse_random(r)?),
                Some(_) => return Err("random: must be an object".to_owned()),
            };
            Ok((rules, random))
        }
        _ => Err("the script must be a JSON object or array".to_owned()),
    }
}

fn parse_rules(items: &[Value], prefix: &str) -> Result<Vec<Rule>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let at = format!("{prefix}[{i}]");
            match v {
                Value::Object(o) => parse_rule(o, &at),
                _ => Err(format!("{at}: must be an object")),
            }
        })
        .collect()
}

fn field(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn uint(o: &Map<String, Value>, prefix: &str, name: &str, max: u64) -> Result<Option<u64>, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().filter(|n| *n <= max).map(Some).ok_or_else(|| {
            format!(
                "{}: must be a whole number from 0 to {max}",
                field(prefix, name)
            )
        }),
    }
}

fn flag(o: &Map<String, Value>, prefix: &str, name: &str) -> Result<bool, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("{}: must be true or false", field(prefix, name))),
    }
}

fn string(o: &Map<String, Value>, prefix: &str, name: &str) -> Result<Option<String>, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{}: must be a string", field(prefix, name))),
    }
}

const RULE_FIELDS: [&str; 11] = [
    "match",
    "times",
    "status",
    "retry_after",
    "s3_code",
    "message",
    "reset",
    "delay_ms",
    "expire",
    "bad_json",
    "no_cors",
];

fn parse_rule(o: &Map<String, Value>, prefix: &str) -> Result<Rule, String> {
    if let Some(k) = o.keys().find(|k| !RULE_FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "{}: unknown field (a rule has {})",
            field(prefix, k),
            RULE_FIELDS.join(", ")
        ));
    }
    let matches = match o.get("match") {
        Some(Value::String(s)) => Match::parse(s, &field(prefix, "match"))?,
        _ => {
            return Err(format!(
                "{}: is required (a string)",
                field(prefix, "match")
            ))
        }
    };
    let times = uint(o, prefix, "times", 1_000_000)?.unwrap_or(1);
    if times == 0 {
        return Err(format!("{}: must be at least 1", field(prefix, "times")));
    }
    let delay_ms = uint(o, prefix, "delay_ms", MAX_DELAY_MS)?.unwrap_or(0);
    let no_cors = flag(o, prefix, "no_cors")?;
    let mut effects = Vec::new();
    if let Some(status) = uint(o, prefix, "status", 599)? {
        if status < 200 {
            return Err(format!(
                "{}: must be from 200 to 599",
                field(prefix, "status")
            ));
        }
        effects.push(Effect::Status {
            status: status as u16,
            retry_after: uint(o, prefix, "retry_after", 86_400)?,
            s3_code: string(o, prefix, "s3_code")?,
            message: string(o, prefix, "message")?,
        });
    } else {
        for name in ["retry_after", "s3_code", "message"] {
            if o.get(name).is_some_and(|v| !v.is_null()) {
                return Err(format!("{}: only goes with status", field(prefix, name)));
            }
        }
    }
    match o.get("reset") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => effects.push(Effect::Reset { after_bytes: None }),
        Some(Value::Object(r)) => {
            let at = field(prefix, "reset");
            if let Some(k) = r.keys().find(|k| k.as_str() != "after_bytes") {
                return Err(format!("{at}.{k}: unknown field (reset has after_bytes)"));
            }
            effects.push(Effect::Reset {
                after_bytes: uint(r, &at, "after_bytes", u64::MAX)?,
            });
        }
        Some(_) => {
            return Err(format!(
                "{}: must be true or {{\"after_bytes\": n}}",
                field(prefix, "reset")
            ))
        }
    }
    if flag(o, prefix, "expire")? {
        effects.push(Effect::Expire);
    }
    match o.get("bad_json") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => effects.push(Effect::BadJson(BadJson::Html)),
        Some(Value::String(s)) if s == "html" => effects.push(Effect::BadJson(BadJson::Html)),
        Some(Value::String(s)) if s == "truncated" => {
            effects.push(Effect::BadJson(BadJson::Truncated));
        }
        Some(Value::String(s)) if s == "empty" => effects.push(Effect::BadJson(BadJson::Empty)),
        Some(Value::String(s)) if s == "true" => effects.push(Effect::BadJson(BadJson::True)),
        Some(Value::String(s)) if s == "string" => effects.push(Effect::BadJson(BadJson::Text)),
        Some(_) => {
            return Err(format!(
                "{}: must be \"html\", \"truncated\", \"empty\", \"true\" or \"string\"",
                field(prefix, "bad_json")
            ))
        }
    }
    if effects.len() > 1 {
        return Err(format!(
            "{}: a rule has at most one of status, reset, expire, bad_json",
            if prefix.is_empty() { "rule" } else { prefix }
        ));
    }
    let effect = effects.pop().unwrap_or(Effect::Proceed);
    if effect == Effect::Proceed && delay_ms == 0 && !no_cors {
        return Err(format!(
            "{}: does nothing; give status, reset, expire, bad_json, delay_ms or no_cors",
            if prefix.is_empty() { "rule" } else { prefix }
        ));
    }
    Ok(Rule {
        matches,
        remaining: times as u32,
        action: Action {
            delay_ms,
            no_cors,
            effect,
        },
        source: Value::Object(o.clone()),
    })
}

fn parse_random(o: &Map<String, Value>) -> Result<Random, String> {
    const FIELDS: [&str; 5] = ["rate", "seed", "kinds", "targets", "max_delay_ms"];
    if let Some(k) = o.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "random.{k}: unknown field (random has {})",
            FIELDS.join(", ")
        ));
    }
    let rate = o
        .get("rate")
        .and_then(Value::as_f64)
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or("random.rate: is required, a number from 0 to 1")?;
    let seed = uint(o, "random", "seed", u64::MAX)?.unwrap_or(0);
    let kinds = match o.get("kinds") {
        None | Some(Value::Null) => Kind::ALL.to_vec(),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().and_then(Kind::from_name).ok_or_else(|| {
                    format!(
                        "random.kinds[{i}]: must be one of status, reset, delay, expire, bad_json, no_cors"
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("random.kinds: must be a non-empty array of kind names".to_owned()),
    };
    let targets = match o.get("targets") {
        None | Some(Value::Null) => vec![Match::StorePut, Match::Api],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let at = format!("random.targets[{i}]");
                v.as_str()
                    .ok_or_else(|| format!("{at}: must be a string"))
                    .and_then(|s| Match::parse(s, &at))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("random.targets: must be a non-empty array".to_owned()),
    };
    let max_delay_ms = uint(o, "random", "max_delay_ms", MAX_DELAY_MS)?.unwrap_or(500);
    Ok(Random {
        rate,
        seed,
        kinds,
        targets,
        max_delay_ms,
        rng: SplitMix64::new(seed),
    })
}

// ---- answers --------------------------------------------------------------------

/// What a request looked like, for `{url}` and `{authorization}` in messages.
#[derive(Clone, Debug, Default)]
pub struct Echo {
    /// Path and query as received.
    pub url: String,
    /// The `Authorization` header, if any.
    pub authorization: String,
}

impl Echo {
    /// Takes what messages may quote from a request.
    #[must_use]
    pub fn of<B>(req: &Request<B>) -> Self {
        Echo {
            url: req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            authorization: req
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
        }
    }

    fn fill(&self, message: &str) -> String {
        message
            .replace("{url}", &self.url)
            .replace("{authorization}", &self.authorization)
    }
}

/// S3's usual `<Code>` for a status.
#[must_use]
pub fn default_s3_code(status: u16) -> &'static str {
    match status {
        400 => "InvalidRequest",
        401 | 403 => "AccessDenied",
        404 => "NoSuchKey",
        405 => "MethodNotAllowed",
        409 => "OperationAborted",
        411 => "MissingContentLength",
        412 => "PreconditionFailed",
        413 => "EntityTooLarge",
        429 | 503 => "SlowDown",
        501 => "NotImplemented",
        s if s >= 500 => "InternalError",
        _ => "InvalidRequest",
    }
}

fn default_s3_message(code: &str) -> &'static str {
    match code {
        "SlowDown" => "Please reduce your request rate.",
        "InternalError" => "We encountered an internal error. Please try again.",
        "AccessDenied" => "Access Denied",
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        "NoSuchKey" => "The specified key does not exist.",
        "ServiceUnavailable" => "Service is unable to handle request.",
        "NotImplemented" => "A header you provided implies functionality that is not implemented.",
        _ => "The request failed.",
    }
}

fn default_detail(status: u16, retry_after: u64) -> String {
    match status {
        401 => "Invalid API key.".to_owned(),
        403 => "You do not have permission to perform this action.".to_owned(),
        404 => "Not found.".to_owned(),
        429 => format!("Request was throttled. Expected available in {retry_after} seconds."),
        500 => "A server error occurred.".to_owned(),
        502 => "Bad gateway.".to_owned(),
        503 => "Service temporarily unavailable, try again later.".to_owned(),
        504 => "Gateway timeout.".to_owned(),
        s if s < 300 => "OK".to_owned(),
        _ => "The request failed.".to_owned(),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn s3_xml(status: u16, body: String, request_id: &str) -> Response<RespBody> {
    let mut resp = util::response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        "application/xml",
        body,
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    resp
}

/// The store's answer for a `status` effect: S3 error XML, with `Retry-After` when asked.
#[must_use]
pub fn store_status(
    status: u16,
    retry_after: Option<u64>,
    s3_code: Option<&str>,
    message: Option<&str>,
    echo: &Echo,
    request_id: &str,
) -> Response<RespBody> {
    let code = s3_code.unwrap_or_else(|| default_s3_code(status));
    let message = message.map_or_else(|| default_s3_message(code).to_owned(), |m| echo.fill(m));
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        xml_escape(code),
        xml_escape(&message),
        xml_escape(request_id)
    );
    let mut resp = s3_xml(status, body, request_id);
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// S3's answer to a presigned URL used after its expiry.
#[must_use]
pub fn expired(echo: &Echo, request_id: &str) -> Response<RespBody> {
    let query = echo.url.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        query.split('&').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.eq_ignore_ascii_case(name).then(|| v.to_owned())
        })
    };
    let now = crate::presign::iso8601(jiff::Timestamp::now());
    let expires_secs = param("X-Amz-Expires").unwrap_or_else(|| "0".to_owned());
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message>\
         <X-Amz-Expires>{}</X-Amz-Expires><Expires>{}</Expires><ServerTime>{}</ServerTime><RequestId>{}</RequestId>\
         <HostId>{}</HostId></Error>",
        xml_escape(&expires_secs),
        xml_escape(&now),
        xml_escape(&now),
        xml_escape(request_id),
        util::random_hex(24)
    );
    s3_xml(403, body, request_id)
}

/// The API's (or backend's) answer for a `status` effect: `{"detail": ...}`, and for a 429
/// Hexnode's throttle text with `Retry-After`.
#[must_use]
pub fn api_status(
    status: u16,
    retry_after: Option<u64>,
    message: Option<&str>,
    echo: &Echo,
) -> Response<RespBody> {
    let wait = retry_after.unwrap_or(1);
    let message = message.map_or_else(|| default_detail(status, wait), |m| echo.fill(m));
    let mut resp = util::detail(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        message,
    );
    if let Some(secs) = retry_after.or((status == 429).then_some(wait)) {
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// A 200 whose body is not the JSON promised.
#[must_use]
pub fn bad_json(kind: BadJson) -> Response<RespBody> {
    let mut resp = match kind {
        BadJson::Html => util::response(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><h1>Please sign in</h1>\
             <form method=\"post\" action=\"/login\"><input name=\"user\"><input type=\"password\" name=\"pw\"></form></body></html>\n",
        ),
        BadJson::Truncated => util::response(
            StatusCode::OK,
            "application/json",
            "{\"presigned_url\": \"http://127.0.0.1:1/uploads/5f0c?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Cred",
        ),
        BadJson::Empty => util::response(StatusCode::NO_CONTENT, "application/json", ""),
        BadJson::True => util::response(StatusCode::OK, "application/json", "true"),
        BadJson::Text => util::response(StatusCode::OK, "application/json", "\"ok\""),
    };
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

// ---- connections ----------------------------------------------------------------------

/// A handle on the connection a request came on, put in every request's extensions by the
/// listeners: a handler can have the connection dropped with a reset.
#[derive(Clone, Debug, Default)]
pub struct ConnCtl {
    kill: Arc<Notify>,
}

impl ConnCtl {
    /// Resolves once [`ConnCtl::kill`] was called.
    pub async fn killed(&self) {
        self.kill.notified().await;
    }

    /// Asks the connection's task to drop the connection at once (with a TCP reset).
    pub fn kill(&self) {
        self.kill.notify_one();
    }
}

/// How many body bytes a reset reads before dropping the connection.
fn reset_after<B>(req: &Request<B>, after_bytes: Option<u64>) -> u64 {
    after_bytes.unwrap_or_else(|| {
        let len = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        (len / 2).min(DEFAULT_RESET_AFTER_MAX)
    })
}

/// Reads part of the body (see [`Effect::Reset`]), then drops the connection. Never answers:
/// the connection's task drops this future with the connection.
pub async fn reset<B>(req: Request<B>, after_bytes: Option<u64>) -> Response<RespBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let after = reset_after(&req, after_bytes);
    let ctl = req.extensions().get::<ConnCtl>().cloned();
    let body = req.into_body();
    let mut body = std::pin::pin!(body);
    let mut read = 0u64;
    while read < after {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(d) = frame.data_ref() {
                    read += d.len() as u64;
                }
            }
            _ => break,
        }
    }
    match ctl {
        Some(ctl) => {
            ctl.kill();
            std::future::pending::<Response<RespBody>>().await
        }
        // Only a request that did not come through a listener has no handle.
        None => util::detail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reset: no connection to drop",
        ),
    }
}

/// What a faulted API or backend call comes to.
pub enum Applied {
    /// Send this answer.
    Answer(Response<RespBody>),
    /// Go on with the request (its body already read).
    Proceed(Request<Full<Bytes>>),
}

/// Applies a fired fault to a call to the API or the sample backend: reads the (small) JSON
/// body whole to log its `file_name` / `file_uuid`, waits the delay, then answers the effect
/// (API errors are `{"detail": ...}`), drops the connection, or hands the request back.
pub async fn apply_to_call<B>(faults: &Faults, req: Request<B>, fired: &mut Fired) -> Applied
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let echo = Echo::of(&req);
    let (parts, body) = req.into_parts();
    let bytes = util::read_body(body, crate::api::MAX_BODY)
        .await
        .unwrap_or_default();
    fired.note_body(&bytes);
    faults.record(fired);
    fired.action.delay().await;
    match &fired.action.effect {
        Effect::Proceed => Applied::Proceed(Request::from_parts(parts, Full::new(bytes))),
        Effect::Status {
            status,
            retry_after,
            message,
            ..
        } => Applied::Answer(api_status(*status, *retry_after, message.as_deref(), &echo)),
        Effect::Expire => {
            Applied::Answer(expired(&echo, &util::random_hex(8).to_ascii_uppercase()))
        }
        Effect::BadJson(kind) => Applied::Answer(bad_json(*kind)),
        Effect::Reset { .. } => {
            // The body is read already: drop the connection now.
            let req = Request::from_parts(parts, Full::new(Bytes::new()));
            Applied::Answer(reset(req, Some(0)).await)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(v: Value) -> Result<Rule, String> {
        match parse_script(&v)? {
            (mut rules, None) if rules.len() == 1 => Ok(rules.remove(0)),
            other => panic!("not one rule: {other:?}"),
        }
    }

    #[test]
    fn parses_every_effect_and_modifier() {
        let r = rule(json!({"match": "store_put", "times": 2, "status": 503, "s3_code": "SlowDown", "retry_after": 1})).unwrap();
        assert_eq!(r.matches, Match::StorePut);
        assert_eq!(r.remaining, 2);
        assert_eq!(
            r.action.effect,
            Effect::Status {
                status: 503,
                retry_after: Some(1),
                s3_code: Some("SlowDown".into()),
                message: None
            }
        );
        let r = rule(json!({"match": "/backend/presign", "reset": {"after_bytes": 10}})).unwrap();
        assert_eq!(r.matches, Match::Path("/backend/presign".into()));
        assert_eq!(
            r.action.effect,
            Effect::Reset {
                after_bytes: Some(10)
            }
        );
        let r = rule(json!({"match": "api", "delay_ms": 300, "no_cors": true})).unwrap();
        assert_eq!(r.action.kinds(), vec![Kind::Delay, Kind::NoCors]);
        assert_eq!(
            rule(json!({"match": "store_put", "expire": true}))
                .unwrap()
                .action
                .effect,
            Effect::Expire
        );
        assert_eq!(
            rule(json!({"match": "api", "bad_json": "truncated"}))
                .unwrap()
                .action
                .effect,
            Effect::BadJson(BadJson::Truncated)
        );
        assert_eq!(
            rule(json!({"match": "api", "bad_json": true}))
                .unwrap()
                .action
                .effect,
            Effect::BadJson(BadJson::Html)
        );
    }

    #[test]
    fn bad_rules_name_the_field() {
        for (v, needle) in [
            (json!({"match": "nowhere", "status": 500}), "match"),
            (json!({"match": "/__faults", "status": 500}), "match"),
            (json!({"status": 500}), "match"),
            (json!({"match": "api", "status": 99}), "status"),
            (
                json!({"match": "api", "status": 500, "reset": true}),
                "at most one",
            ),
            (json!({"match": "api"}), "does nothing"),
            (json!({"match": "api", "retry_after": 1}), "retry_after"),
            (json!({"match": "api", "status": 500, "times": 0}), "times"),
            (json!({"match": "api", "statu": 500}), "statu"),
            (json!({"match": "api", "bad_json": "xml"}), "bad_json"),
            (json!([{"match": "api", "status": 500}, 3]), "[1]"),
            (json!({"random": {"rate": 2}}), "random.rate"),
            (
                json!({"random": {"rate": 0.1, "kinds": ["boom"]}}),
                "random.kinds[0]",
            ),
            (json!({"rules": [], "other": 1}), "other"),
            (json!("x"), "object or array"),
        ] {
            let e = parse_script(&v)
                .err()
                .unwrap_or_else(|| panic!("accepted {v}"));
            assert!(e.contains(needle), "{e} should name {needle}");
        }
    }

    #[test]
    fn rules_fire_in_order_for_their_count_then_stop() {
        let f = Faults::default();
        let stats = Stats::default();
        f.set(&json!([
            {"match": "store_put", "times": 2, "status": 500},
            {"match": "/api/x/", "delay_ms": 5}
        ]))
        .unwrap();
        let put = Target::StorePut { key: "k" };
        let api = Target::Api { path: "/api/x/" };
        assert!(f.take(&Target::Api { path: "/api/y/" }, &stats).is_none());
        assert_eq!(f.take(&put, &stats).unwrap().status, Some(500));
        assert_eq!(f.take(&put, &stats).unwrap().key.as_deref(), Some("k"));
        assert!(f.take(&put, &stats).is_none());
        assert_eq!(f.take(&api, &stats).unwrap().kinds, vec![Kind::Delay]);
        assert!(f.take(&api, &stats).is_none());
        let s = stats.snapshot();
        assert_eq!(s["fault_status"], 2);
        assert_eq!(s["fault_delay"], 1);
        assert_eq!(s["faults_fired"], 3);
        f.clear();
        assert!(f.take(&put, &stats).is_none());
    }

    #[test]
    fn the_log_says_which_bad_json_answered() {
        let f = Faults::default();
        let stats = Stats::default();
        f.set(&json!([
            {"match": "api", "bad_json": "html"},
            {"match": "api", "bad_json": "truncated"},
            {"match": "api", "status": 500}
        ]))
        .unwrap();
        let api = Target::Api { path: "/a/" };
        let seen: Vec<Option<&str>> = (0..3)
            .map(|_| f.take(&api, &stats).unwrap().bad_json)
            .collect();
        assert_eq!(seen, vec![Some("html"), Some("truncated"), None]);
    }

    #[test]
    fn random_mode_is_seeded_and_fits_kinds_to_targets() {
        let run = |seed: u64| {
            let f = Faults::default();
            let stats = Stats::default();
            f.set(&json!({"random": {"rate": 0.5, "seed": seed}}))
                .unwrap();
            (0..400)
                .map(|i| {
                    let t = if i % 2 == 0 {
                        Target::StorePut { key: "k" }
                    } else {
                        Target::Api { path: "/a/" }
                    };
                    f.take(&t, &stats).map(|x| (i % 2, x.kinds))
                })
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(
            a.iter()
                .map(|x| x.as_ref().map(|y| y.1.clone()))
                .collect::<Vec<_>>(),
            run(7)
                .iter()
                .map(|x| x.as_ref().map(|y| y.1.clone()))
                .collect::<Vec<_>>()
        );
        let fired = a.iter().flatten().count();
        assert!((120..280).contains(&fired), "{fired} of 400 at rate 0.5");
        for (target, kinds) in a.iter().flatten() {
            if *target == 0 {
                assert!(!kinds.contains(&Kind::BadJson));
            } else {
                assert!(!kinds.contains(&Kind::Expire));
            }
        }
        let f = Faults::default();
        f.set(&json!({"random": {"rate": 0.1, "kinds": ["reset"]}}))
            .unwrap();
        assert!(f.reset_armed());
        f.set(&json!({"random": {"rate": 0.1, "kinds": ["delay"]}}))
            .unwrap();
        assert!(!f.reset_armed());
    }

    #[test]
    fn prng_is_uniform_enough() {
        let mut r = SplitMix64::new(1);
        let mut buckets = [0u32; 4];
        for _ in 0..4000 {
            buckets[r.below(4) as usize] += 1;
            let x = r.next_f64();
            assert!((0.0..1.0).contains(&x));
        }
        assert!(
            buckets.iter().all(|b| (850..1150).contains(b)),
            "{buckets:?}"
        );
    }
}
