//! Soak: nothing is lost. `uploadAll` of `PU_SOAK_FILES` files (a compile-time variable, 40 by
//! default; `scripts/soak.sh` runs 300) of 1 KiB to 2 MiB, sizes and bytes from a seeded PRNG
//! (`PU_SOAK_SEED`), 6 at once, while the devserver injects random faults (seeded with the
//! same seed) into about 10% of store PUTs and API calls. `PU_SOAK_SEEDS` (default 1) runs that
//! many seeds in a row, from `PU_SOAK_SEED` up: `npm run soak` sweeps 20.
//!
//! The pass rule. Every file is either uploaded with a verified id and its exact bytes in the
//! store, or failed because the faults that hit it leave no other outcome: at least
//! `retries + 1` retryable faults on one step (presign, PUT, verify), more expiries than URL
//! refreshes, or one fault that is not retryable (an HTML page where JSON was expected), with
//! a code that fits. The store holds no duplicate and no second object beside an upload;
//! nothing hangs. A table of the faults injected and the outcomes is printed, with the fault
//! each failure came from. On a failure, the message names the seed and the fault history of
//! the file, to replay with `PU_SOAK_SEED`: the same files and the same sequence of faults
//! (which request meets which fault still depends on timing).
//!
//! Then the exact fault sequences that once left a second object beside a verified upload
//! (issue 14: a PUT whose answer was lost, then an expiry), replayed by scripted faults.
#![cfg(target_arch = "wasm32")]

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::*;
use js_sys::{Array, Promise};
use presigned_upload::bindings::{HexnodeClient, Uploader};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DEFAULT_FILES: usize = 40;
const MIN_SIZE: u64 = 1024;
const MAX_SIZE: u64 = 2 * 1024 * 1024;
const CONCURRENCY: u32 = 6;
const FAULT_RATE: f64 = 0.1;
/// The client's `retry.retries`.
const RETRIES: u32 = 3;
/// How many fresh URLs one upload may ask for after expiries (src/flow.rs `MAX_REFRESHES`).
const MAX_REFRESHES: u32 = 2;
const PRESIGN: &str = "/api/v1/filemanagement/generate-presigned-upload-url/";
const VERIFY: &str = "/api/v1/filemanagement/verify-file-upload/";

fn file_count() -> usize {
    option_env!("PU_SOAK_FILES").and_then(|v| v.trim().parse().ok()).filter(|n| *n > 0).unwrap_or(DEFAULT_FILES)
}

fn seed() -> u64 {
    option_env!("PU_SOAK_SEED").and_then(|v| v.trim().parse().ok()).unwrap_or(20_241_129)
}

fn seed_count() -> u64 {
    option_env!("PU_SOAK_SEEDS").and_then(|v| v.trim().parse().ok()).filter(|n| *n > 0).unwrap_or(1)
}

/// SplitMix64: the same seed gives the same files.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The three places faults are injected, as the table's columns (the steps of an upload).
fn column(target: &str) -> &'static str {
    match target {
        "store_put" => "store_put",
        PRESIGN => "presign",
        VERIFY => "verify",
        _ => "other",
    }
}

/// What a fault does to the client.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Effect {
    /// Nothing to fail on (a delay well under the timeout).
    Harmless,
    /// Retried: a 5xx or 429, a dropped connection, a hidden answer, JSON cut off.
    Retryable,
    /// S3's "Request has expired": a fresh URL.
    Expire,
    /// Not worth a retry: an HTML page where JSON was expected.
    Permanent,
}

/// One injected fault, tied to the file it hit.
struct Hit {
    seq: u64,
    column: &'static str,
    kinds: Vec<String>,
    status: Option<u16>,
    bad_json: Option<String>,
    /// The object key (store) or file uuid (verify) it hit.
    uuid: Option<String>,
}

impl Hit {
    fn effect(&self) -> Effect {
        let has = |k: &str| self.kinds.iter().any(|x| x == k);
        if has("expire") {
            Effect::Expire
        } else if has("bad_json") {
            if self.bad_json.as_deref() == Some("truncated") {
                Effect::Retryable
            } else {
                Effect::Permanent
            }
        } else if has("status") {
            match self.status {
                Some(408 | 429 | 500..=599) => Effect::Retryable,
                _ => Effect::Permanent,
            }
        } else if has("reset") || has("no_cors") {
            Effect::Retryable
        } else {
            Effect::Harmless
        }
    }

    fn describe(&self) -> String {
        let mut s = format!("#{} {} {}", self.seq, self.column, self.kinds.join("+"));
        if let Some(st) = self.status {
            s.push_str(&format!("({st})"));
        }
        if let Some(b) = &self.bad_json {
            s.push_str(&format!("({b})"));
        }
        if let Some(u) = &self.uuid {
            s.push_str(&format!(" [{}]", &u[..u.len().min(8)]));
        }
        s
    }
}

/// Why a failed file was allowed to fail, from the faults that hit it: each reason with the
/// codes the failure may carry. Empty: the file should have been uploaded.
fn explanations(hits: &[Hit]) -> Vec<(String, &'static [&'static str])> {
    let mut out: Vec<(String, &'static [&'static str])> = Vec::new();
    for step in ["presign", "store_put", "verify"] {
        let on: Vec<&Hit> = hits.iter().filter(|h| h.column == step).collect();
        for h in on.iter().filter(|h| h.effect() == Effect::Permanent) {
            let codes: &'static [&'static str] = match step {
                // On the presign of a refresh it becomes `url_expired`.
                "presign" => &["bad_response", "url_expired"],
                "store_put" => &["upload_rejected", "url_expired"],
                _ => &["verify_failed"],
            };
            out.push((format!("a permanent fault: {}", h.describe()), codes));
        }
        let retryable: Vec<&&Hit> = on.iter().filter(|h| h.effect() == Effect::Retryable).collect();
        if retryable.len() > RETRIES as usize {
            let codes: &'static [&'static str] = match step {
                "presign" => &["network", "presign_failed", "rate_limited", "url_expired"],
                "store_put" => &["network", "cors", "upload_rejected"],
                _ => &["verify_failed", "rate_limited"],
            };
            let list: Vec<String> = retryable.iter().map(|h| h.describe()).collect();
            out.push((format!("{} retryable faults on {step}: {}", retryable.len(), list.join(", ")), codes));
        }
        let expired = on.iter().filter(|h| h.effect() == Effect::Expire).count();
        if expired > MAX_REFRESHES as usize {
            out.push((format!("{expired} expiries, more than the {MAX_REFRESHES} URL refreshes"), &["url_expired"]));
        }
    }
    out
}

fn race_with_timeout(p: Promise, ms: f64) -> Promise {
    js_fn("p, ms", "return Promise.race([p, new Promise(r => setTimeout(() => r('__hang__'), ms))]);")
        .call2(&JsValue::NULL, &p, &JsValue::from_f64(ms))
        .unwrap()
        .unchecked_into()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The Hexnode client every soak uses: no client-side limiter, fast retries.
async fn soak_client() -> HexnodeClient {
    let c = config().await;
    HexnodeClient::new(
        o(&[
            ("portal", c.api_base.into()),
            ("apiKey", c.api_key.into()),
            ("rateLimitPerMinute", 0.into()),
            ("retry", o(&[("retries", RETRIES.into()), ("minDelayMs", 10.into()), ("maxDelayMs", 50.into()), ("timeoutMs", 30_000.into())])),
        ])
        .unchecked_into(),
    )
    .unwrap()
}

#[wasm_bindgen_test]
async fn upload_all_under_random_faults_loses_nothing() {
    let first = seed();
    let count = seed_count();
    let started = now();
    for seed in first..first + count {
        soak_one(seed).await;
    }
    if count > 1 {
        report(&format!(
            "\nsoak sweep: seeds {first}..={} x {} files: all green in {:.1} s\n",
            first + count - 1,
            file_count(),
            (now() - started) / 1000.0
        ));
    }
}

/// One soak run with `seed`: panics naming the seed, and the fault history of the file at
/// fault, when the pass rule breaks.
async fn soak_one(seed: u64) {
    let n = file_count();
    let run = format!("{:08x}", (js_sys::Math::random() * f64::from(u32::MAX)) as u32);
    let prefix = format!("soak-{run}-");
    let name_of = |i: usize| format!("{prefix}{i}.bin");
    let replay = format!("seed {seed} ({n} files; replay: PU_SOAK_SEED={seed} PU_SOAK_SEEDS=1 PU_SOAK_FILES={n} npm run soak)");

    // The files, from the seeded PRNG, and their SHA-256.
    let mut rng = Rng(seed);
    let files = Array::new();
    let mut sizes = Vec::with_capacity(n);
    let mut shas = Vec::with_capacity(n);
    for i in 0..n {
        let size = MIN_SIZE + rng.next() % (MAX_SIZE - MIN_SIZE + 1);
        let bytes = random_bytes(size as u32, rng.next() as u32);
        let f: web_sys::File = js_fn("a, n", "return new File([a], n, { type: 'application/octet-stream' });")
            .call2(&JsValue::NULL, &bytes, &name_of(i).into())
            .unwrap()
            .unchecked_into();
        shas.push(sha256_hex(&f).await);
        sizes.push(size);
        files.push(&f);
    }
    let total_bytes: u64 = sizes.iter().sum();

    let client = soak_client().await;
    let last_totals = js_sys::Object::new();
    let on_total: js_sys::Function = js_fn("last", "return (p) => Object.assign(last, p);").call1(&JsValue::NULL, &last_totals).unwrap().unchecked_into();

    let before = Counts::now().await;
    arm(&format!(r#"{{"random": {{"rate": {FAULT_RATE}, "seed": {seed}, "targets": ["store_put", "api"], "max_delay_ms": 400}}}}"#)).await;
    let started = now();
    let limit_ms = 60_000.0 + 2_000.0 * n as f64;
    let p = client.upload_all(files.into(), Some(o(&[("concurrency", CONCURRENCY.into()), ("onProgress", on_total.into())]).unchecked_into()));
    let settled = wasm_bindgen_futures::JsFuture::from(race_with_timeout(p, limit_ms)).await;
    let took = now() - started;
    let state = fault_state().await;
    clear_faults().await;
    let out = settled.unwrap_or_else(|e| panic!("{replay}: uploadAll rejected: {}", describe(&e)));
    assert!(out.as_string().as_deref() != Some("__hang__"), "{replay}: uploadAll did not settle within {limit_ms} ms: something hangs");
    let counts = before.grew_all(&["store_put", "api_presign", "api_verify", "store_put_with_authorization", "faults_fired"]).await;
    let uploads = get_json(&format!("{}/__dev/uploads?prefix={prefix}", web_base())).await;

    // What the API presigned for this run: uuid -> (file index, verified id, stored, size).
    let mut by_uuid: HashMap<String, (usize, Option<f64>, bool, f64)> = HashMap::new();
    for u in uploads.unchecked_ref::<Array>().iter() {
        let name = get_str(&u, "file_name");
        let i: usize = name.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".bin")).and_then(|r| r.parse().ok()).unwrap_or_else(|| panic!("{replay}: unexpected name {name}"));
        by_uuid.insert(get_str(&u, "file_uuid"), (i, get(&u, "id").as_f64(), get(&u, "stored").as_bool() == Some(true), get_num(&u, "size")));
    }
    let index_of_name = |name: &str| name.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".bin")).and_then(|r| r.parse::<usize>().ok());

    // Which faults hit which file, and the table of faults by kind and place.
    let mut hits: HashMap<usize, Vec<Hit>> = HashMap::new();
    let mut table: BTreeMap<String, BTreeMap<&'static str, u32>> = BTreeMap::new();
    let log: Vec<JsValue> = get(&state, "log").unchecked_into::<Array>().iter().collect();
    let mut unattributed = 0;
    for e in &log {
        let col = column(&get_str(e, "target"));
        let kinds: Vec<String> = get(e, "kinds").unchecked_into::<Array>().iter().filter_map(|k| k.as_string()).collect();
        for k in &kinds {
            *table.entry(k.clone()).or_default().entry(col).or_default() += 1;
        }
        let uuid = get(e, "key").as_string().or_else(|| get(e, "file_uuid").as_string());
        let file = match col {
            "store_put" | "verify" => uuid.as_ref().and_then(|u| by_uuid.get(u).map(|x| x.0)),
            _ => get(e, "file_name").as_string().as_deref().and_then(index_of_name),
        };
        let hit = Hit { seq: get_num(e, "seq") as u64, column: col, kinds, status: get(e, "status").as_f64().map(|s| s as u16), bad_json: get(e, "bad_json").as_string(), uuid };
        match file {
            Some(i) => hits.entry(i).or_default().push(hit),
            None => unattributed += 1,
        }
    }
    for h in hits.values_mut() {
        h.sort_by_key(|h| h.seq);
    }
    let results: Vec<JsValue> = out.unchecked_ref::<Array>().iter().collect();
    // The message of a broken rule about file `i`: the seed, the file's outcome and fault history.
    let fail = |i: usize, what: String| -> ! {
        let r = results.get(i);
        let outcome = match r {
            Some(r) if get(r, "ok").as_bool() == Some(true) => format!("uploaded as {}", get_str(&get(r, "result"), "fileUuid")),
            Some(r) => format!("failed: {}", describe(&get(r, "error"))),
            None => "no result".to_owned(),
        };
        let history: Vec<String> = hits.get(&i).map(|h| h.iter().map(|h| format!("    {}", h.describe())).collect()).unwrap_or_default();
        let presigned: Vec<String> =
            by_uuid.iter().filter(|(_, x)| x.0 == i).map(|(u, x)| format!("{u} (verified: {}, stored: {})", x.1.is_some(), x.2)).collect();
        panic!(
            "soak {replay}: file {i}: {what}\n  outcome: {outcome}\n  presigned: {presigned:?}\n  faults that hit it, in order ({}):\n{}",
            history.len(),
            history.join("\n")
        )
    };

    // Every file: uploaded, verified, its exact bytes stored; or failed as its faults explain.
    if results.len() != n {
        panic!("{replay}: {} results for {n} files", results.len());
    }
    let mut ok_uuids = HashSet::new();
    let mut ids = HashSet::new();
    let mut failed: BTreeMap<String, u32> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut attempts_total = 0.0;
    for (i, r) in results.iter().enumerate() {
        let file_hits = hits.get(&i).map(Vec::as_slice).unwrap_or_default();
        if get(r, "ok").as_bool() == Some(true) {
            let res = get(r, "result");
            let uuid = get_str(&res, "fileUuid");
            if get(&res, "verified").as_bool() != Some(true) {
                fail(i, "resolved unverified".into());
            }
            let Some(id) = get(&res, "fileId").as_f64() else { fail(i, "resolved without a verified id".into()) };
            if !ok_uuids.insert(uuid.clone()) {
                fail(i, format!("uuid {uuid} reported twice"));
            }
            if !ids.insert(id as u64) {
                fail(i, format!("id {id} reported twice"));
            }
            if get_num(&res, "size") != sizes[i] as f64 {
                fail(i, format!("size {} reported for {} bytes", get_num(&res, "size"), sizes[i]));
            }
            attempts_total += get_num(&res, "attempts");
            match by_uuid.get(&uuid) {
                Some(&(idx, server_id, stored, size)) => {
                    if idx != i {
                        fail(i, format!("resolved with the uuid of file {idx}"));
                    }
                    if server_id != Some(id) {
                        fail(i, format!("the API verified it as {server_id:?}, the result says {id}"));
                    }
                    if !(stored && size == sizes[i] as f64) {
                        fail(i, format!("stored {stored}, {size} bytes of {}", sizes[i]));
                    }
                }
                None => fail(i, format!("uuid {uuid} was never presigned for this run")),
            }
        } else {
            let e = get(r, "error");
            let code = get_str(&e, "code");
            *failed.entry(code.clone()).or_default() += 1;
            let why = explanations(file_hits);
            match why.iter().find(|(_, codes)| codes.contains(&code.as_str())) {
                Some((reason, _)) => failures.push(format!("file {i}: {code} <- {reason}")),
                None if why.is_empty() => fail(i, format!("failed with {code}, but no step met {} retryable faults, more expiries than refreshes, or a permanent fault", RETRIES + 1)),
                None => fail(i, format!("failed with {code}, which fits none of: {:?}", why.iter().map(|w| &w.0).collect::<Vec<_>>())),
            }
        }
    }
    let failed_total: u32 = failed.values().sum();
    let done = get_num(&last_totals, "done");
    assert_eq!(done + get_num(&last_totals, "failed"), n as f64, "{replay}: onProgress counted every file");
    assert_eq!(done, ok_uuids.len() as f64, "{replay}: onProgress's done is the uploaded count");
    // Hit files: each one without a reason to fail must be among the uploaded ones.
    let still_uploaded = hits.keys().filter(|i| get(&results[**i], "ok").as_bool() == Some(true)).count();
    let had_to = hits.values().filter(|h| explanations(h).is_empty()).count();
    assert_eq!(still_uploaded + failed_total as usize, hits.len(), "{replay}: every failed file was hit by a fault");
    assert!(still_uploaded >= had_to, "{replay}: {had_to} hit files had no reason to fail, only {still_uploaded} uploaded");

    // The store: exactly one object per uploaded file, the right bytes, nothing unexplained.
    let mut stored_per_file: HashMap<usize, u32> = HashMap::new();
    let mut orphans = 0;
    for (uuid, &(i, server_id, stored, _)) in &by_uuid {
        if server_id.is_some() && !ok_uuids.contains(uuid) {
            // Verified by the API, yet not reported as uploaded: only if every verify answer was hidden.
            let hidden = hits.get(&i).is_some_and(|h| h.iter().any(|h| h.column == "verify" && h.kinds.iter().any(|k| k == "no_cors")));
            if !hidden {
                fail(i, format!("the API verified {uuid} but uploadAll did not report it"));
            }
        }
        if !stored {
            continue;
        }
        *stored_per_file.entry(i).or_default() += 1;
        let (_, _, sha) = object(uuid).await;
        if sha != shas[i] {
            fail(i, format!("the object {uuid} does not hold the file's bytes"));
        }
        if !ok_uuids.contains(uuid) {
            orphans += 1;
            if get(&results[i], "ok").as_bool() == Some(true) {
                fail(i, format!("an extra object {uuid} beside its upload"));
            }
        }
    }
    if let Some((i, c)) = stored_per_file.iter().find(|(_, c)| **c > 1) {
        fail(*i, format!("stored {c} times"));
    }
    for uuid in &ok_uuids {
        assert!(by_uuid.get(uuid).is_some_and(|x| x.2), "{replay}: {uuid} reported uploaded but not stored");
    }
    assert_eq!(counts[3], 0.0, "{replay}: the store never saw an Authorization header");

    // The table.
    let cols = ["store_put", "presign", "verify"];
    let mut t = format!(
        "\nsoak: {n} files ({:.1} MiB, {} B to {} B), concurrency {CONCURRENCY}, fault rate {FAULT_RATE}, seed {seed}: {:.1} s\n",
        mib(total_bytes),
        sizes.iter().min().unwrap_or(&0),
        sizes.iter().max().unwrap_or(&0),
        took / 1000.0
    );
    t.push_str(&format!("  {:<20}{:>10}{:>10}{:>10}{:>10}\n", "faults injected", cols[0], cols[1], cols[2], "total"));
    let mut col_totals = [0u32; 3];
    for (kind, by_col) in &table {
        let row: Vec<u32> = cols.iter().map(|c| by_col.get(c).copied().unwrap_or(0)).collect();
        for (tot, v) in col_totals.iter_mut().zip(&row) {
            *tot += v;
        }
        t.push_str(&format!("  {:<20}{:>10}{:>10}{:>10}{:>10}\n", kind, row[0], row[1], row[2], row.iter().sum::<u32>()));
    }
    t.push_str(&format!(
        "  {:<20}{:>10}{:>10}{:>10}{:>10}   ({} faulted requests, {} not tied to a file)\n",
        "total",
        col_totals[0],
        col_totals[1],
        col_totals[2],
        col_totals.iter().sum::<u32>(),
        log.len(),
        unattributed
    ));
    let failed_list: Vec<String> = failed.iter().map(|(c, k)| format!("{c} {k}")).collect();
    t.push_str(&format!(
        "  outcomes: {} uploaded and verified (bytes match), {failed_total} failed{}\n",
        ok_uuids.len(),
        if failed_list.is_empty() { String::new() } else { format!(": {}", failed_list.join(", ")) }
    ));
    for f in &failures {
        t.push_str(&format!("    {f}\n"));
    }
    t.push_str(&format!("  files hit by a fault: {} ({still_uploaded} of them still uploaded; {had_to} had no reason to fail)\n", hits.len()));
    t.push_str(&format!(
        "  requests: {} store PUTs (attempts per uploaded file: {:.2}), {} presign, {} verify\n",
        counts[0],
        if ok_uuids.is_empty() { 0.0 } else { attempts_total / ok_uuids.len() as f64 },
        counts[1],
        counts[2]
    ));
    t.push_str(&format!(
        "  store: {} objects for {} uploaded files, {orphans} orphans (failed after the PUT landed), 0 duplicates, 0 hangs\n",
        stored_per_file.values().sum::<u32>(),
        ok_uuids.len()
    ));
    report(&t);
    assert!(counts[4] > 0.0 || n < 10, "{replay}: faults were injected");
}

// ---------------------------------------------------------------- issue 14, replayed

/// Uploads one small file under the fault `script` (armed just before): its outcome (a
/// `{ok, value | error}` object), the uploads the API presigned for it (uuid, verified, stored)
/// and how much the presign, PUT and verify counters grew.
async fn replay(script: &str, name: &str) -> (JsValue, Vec<(String, bool, bool)>, Vec<f64>, web_sys::File) {
    let client = soak_client().await;
    replay_with(script, name, |f| client.upload(f.into(), None)).await
}

/// [`replay`] with any uploader: `upload` starts the upload of the file it is given.
async fn replay_with(script: &str, name: &str, upload: impl FnOnce(web_sys::File) -> Promise) -> (JsValue, Vec<(String, bool, bool)>, Vec<f64>, web_sys::File) {
    let prefix = format!("replay-{:08x}-", (js_sys::Math::random() * f64::from(u32::MAX)) as u32);
    let f = file(64 * 1024, &format!("{prefix}{name}"), "application/octet-stream");
    arm(script).await;
    let before = Counts::now().await;
    let r = ok(timed(upload(f.clone()))).await;
    let counts = before.grew_all(&["api_presign", "store_put", "api_verify"]).await;
    let left = get(&fault_state().await, "rules").unchecked_into::<Array>().iter().map(|r| get_num(&r, "remaining")).sum::<f64>();
    clear_faults().await;
    assert_eq!(left, 0.0, "every scripted fault fired");
    let uploads = get_json(&format!("{}/__dev/uploads?prefix={prefix}", web_base())).await;
    let presigned = uploads.unchecked_ref::<Array>().iter().map(|u| (get_str(&u, "file_uuid"), get(&u, "id").as_f64().is_some(), get(&u, "stored").as_bool() == Some(true))).collect();
    (r, presigned, counts, f)
}

/// Issue 14's sequence: the first PUT lands but its answer is lost (`no_cors`: S3 stored it,
/// the browser never saw the 200), the retry meets "Request has expired". Before, the package
/// took a fresh URL and uploaded again, and the first key kept an orphan object. Now it asks
/// verify about the first uuid, finds it there, and ends with it: one presign, two PUTs, one
/// verify, one object.
#[wasm_bindgen_test]
async fn a_lost_put_answer_then_an_expiry_ends_with_the_landed_upload_and_no_second_object() {
    let (r, presigned, counts, f) = replay(r#"[{"match": "store_put", "no_cors": true}, {"match": "store_put", "expire": true}]"#, "lost.bin").await;
    assert_eq!(get(&r, "ok").as_bool(), Some(true), "uploaded: {}", describe(&get(&r, "error")));
    let res = get(&r, "value");
    assert_eq!(get(&res, "verified").as_bool(), Some(true));
    assert_eq!(presigned.len(), 1, "one presign, no fresh URL: {presigned:?}");
    assert_eq!(presigned[0], (get_str(&res, "fileUuid"), true, true), "the landed upload is the one reported");
    assert_eq!(counts, vec![1.0, 2.0, 1.0], "presign, PUT, verify calls");
    let (_, size, sha) = object(&presigned[0].0).await;
    assert_eq!((size, sha), (f.size(), sha256_hex(&f).await));
}

/// A bare failure that did not land (a reset mid-body), then an expiry: verify says the first
/// uuid holds nothing, so a fresh URL is used; still one object.
#[wasm_bindgen_test]
async fn a_reset_put_then_an_expiry_checks_then_uploads_to_a_fresh_url() {
    let (r, presigned, counts, f) = replay(r#"[{"match": "store_put", "reset": true}, {"match": "store_put", "expire": true}]"#, "reset.bin").await;
    assert_eq!(get(&r, "ok").as_bool(), Some(true), "uploaded: {}", describe(&get(&r, "error")));
    let uuid = get_str(&get(&r, "value"), "fileUuid");
    assert_eq!(presigned.len(), 2, "a fresh URL was asked for: {presigned:?}");
    let stored: Vec<_> = presigned.iter().filter(|p| p.2).collect();
    assert_eq!(stored.len(), 1, "one object: {presigned:?}");
    assert_eq!(stored[0], &(uuid, true, true));
    assert_eq!(counts, vec![2.0, 3.0, 2.0], "presign, PUT, verify (the check, then the upload's)");
    let (_, size, sha) = object(&stored[0].0).await;
    assert_eq!((size, sha), (f.size(), sha256_hex(&f).await));
}

/// A lost answer, an expiry, and a verify that cannot answer (500 on every retry): the package
/// cannot tell whether the PUT landed, so it fails rather than send the file to a second key.
#[wasm_bindgen_test]
async fn when_verify_cannot_tell_whether_a_lost_put_landed_the_upload_fails_without_a_second_key() {
    let script = format!(
        r#"[{{"match": "store_put", "no_cors": true}}, {{"match": "store_put", "expire": true}}, {{"match": "{VERIFY}", "times": {}, "status": 500}}]"#,
        RETRIES + 1
    );
    let (r, presigned, counts, _) = replay(&script, "unknown.bin").await;
    assert_eq!(get(&r, "ok").as_bool(), Some(false), "not reported uploaded");
    let e = get(&r, "error");
    assert_eq!(get_str(&e, "code"), "verify_failed", "{}", describe(&e));
    assert!(get_str(&e, "message").contains("answer was lost"), "{}", describe(&e));
    assert_eq!(presigned.len(), 1, "no fresh URL: {presigned:?}");
    assert_eq!(counts, vec![1.0, 2.0, f64::from(RETRIES + 1)], "presign, PUT, verify calls");
}

/// A backend uploader on the main devserver (its sample backend), fast retries; `verify` is
/// its verify endpoint or `false`.
fn backend_uploader(verify: JsValue) -> Uploader {
    let web = web_base();
    Uploader::new(
        o(&[
            ("presign", format!("{web}/backend/presign").into()),
            ("verify", verify),
            ("credentials", "omit".into()),
            ("retry", o(&[("retries", RETRIES.into()), ("minDelayMs", 10.into()), ("maxDelayMs", 50.into())])),
        ])
        .unchecked_into(),
    )
    .unwrap_or_else(|e| panic!("constructor threw {}", describe(&e)))
}

/// The same sequence through a backend: its verify endpoint answers the check.
#[wasm_bindgen_test]
async fn through_a_backend_a_lost_put_answer_then_an_expiry_is_checked_by_its_verify() {
    let up = backend_uploader(format!("{}/backend/verify", web_base()).into());
    let (r, presigned, counts, f) =
        replay_with(r#"[{"match": "store_put", "no_cors": true}, {"match": "store_put", "expire": true}]"#, "backend.bin", |f| up.upload(f.into(), None)).await;
    assert_eq!(get(&r, "ok").as_bool(), Some(true), "uploaded: {}", describe(&get(&r, "error")));
    let res = get(&r, "value");
    assert_eq!(get(&res, "verified").as_bool(), Some(true));
    assert_eq!(presigned.len(), 1, "one presign, no fresh URL: {presigned:?}");
    assert_eq!(presigned[0], (get_str(&res, "fileUuid"), true, true));
    assert_eq!(counts, vec![1.0, 2.0, 1.0], "presign, PUT, verify calls (through the backend)");
    let (_, size, sha) = object(&presigned[0].0).await;
    assert_eq!((size, sha), (f.size(), sha256_hex(&f).await));
}

/// Without verify nothing can tell whether the lost PUT landed: the package takes the fresh
/// URL, and the first key keeps the orphan object that the README warns of. Nothing is called
/// that does not exist.
#[wasm_bindgen_test]
async fn without_verify_a_lost_put_answer_then_an_expiry_leaves_the_orphan_the_readme_warns_of() {
    let up = backend_uploader(false.into());
    let (r, presigned, counts, f) =
        replay_with(r#"[{"match": "store_put", "no_cors": true}, {"match": "store_put", "expire": true}]"#, "noverify.bin", |f| up.upload(f.into(), None)).await;
    assert_eq!(get(&r, "ok").as_bool(), Some(true), "uploaded: {}", describe(&get(&r, "error")));
    let res = get(&r, "value");
    assert_eq!(get(&res, "verified").as_bool(), Some(false));
    assert_eq!(counts, vec![2.0, 3.0, 0.0], "presign, PUT, verify calls");
    assert_eq!(presigned.len(), 2, "a fresh URL: {presigned:?}");
    assert!(presigned.iter().all(|p| p.2), "both keys hold the file: {presigned:?}");
    assert!(presigned.iter().any(|p| p.0 == get_str(&res, "fileUuid")));
    for p in &presigned {
        let (_, size, sha) = object(&p.0).await;
        assert_eq!((size, sha), (f.size(), sha256_hex(&f).await));
    }
}
