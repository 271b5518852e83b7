//! Soak: nothing is lost. `uploadAll` of `PU_SOAK_FILES` files (a compile-time variable, 40 by
//! default; `scripts/soak.sh` runs 300) of 1 KiB to 2 MiB, sizes and bytes from a seeded PRNG
//! (`PU_SOAK_SEED`), 6 at once, while the devserver injects random faults into about 10% of
//! store PUTs and API calls. At the end every file is either uploaded with a verified id and
//! its exact bytes in the store, or failed with a code that a fault that hit it explains; the
//! store holds no duplicate and nothing unexplained; nothing hangs. A table of the faults
//! injected and the outcomes is printed.
#![cfg(target_arch = "wasm32")]

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::*;
use js_sys::{Array, Promise};
use presigned_upload::bindings::HexnodeClient;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DEFAULT_FILES: usize = 40;
const MIN_SIZE: u64 = 1024;
const MAX_SIZE: u64 = 2 * 1024 * 1024;
const CONCURRENCY: u32 = 6;
const FAULT_RATE: f64 = 0.1;
const PRESIGN: &str = "/api/v1/filemanagement/generate-presigned-upload-url/";
const VERIFY: &str = "/api/v1/filemanagement/verify-file-upload/";

fn file_count() -> usize {
    option_env!("PU_SOAK_FILES").and_then(|v| v.trim().parse().ok()).filter(|n| *n > 0).unwrap_or(DEFAULT_FILES)
}

fn seed() -> u64 {
    option_env!("PU_SOAK_SEED").and_then(|v| v.trim().parse().ok()).unwrap_or(20_241_129)
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

/// The three places faults are injected, as the table's columns.
fn column(target: &str) -> &'static str {
    match target {
        "store_put" => "store_put",
        PRESIGN => "presign",
        VERIFY => "verify",
        _ => "other",
    }
}

/// The codes a failure may have when this fault hit the file (empty: it cannot fail a file).
/// A fault on the presign call may also hit the presign of a refresh: then `url_expired`.
fn codes_for(column: &str, kind: &str, status: Option<u16>) -> &'static [&'static str] {
    match (column, kind) {
        (_, "delay") => &[],
        ("store_put", "status") => &["upload_rejected"],
        // A bare failure on every attempt: `cors` when the store answered none of them readably.
        ("store_put", "reset" | "no_cors") => &["network", "cors"],
        ("store_put", "expire") => &["url_expired"],
        ("presign", "status") if status == Some(429) => &["rate_limited", "url_expired"],
        ("presign", "status") => &["presign_failed", "url_expired"],
        ("presign", "reset" | "no_cors") => &["network", "url_expired"],
        ("presign", "bad_json") => &["bad_response", "url_expired"],
        ("verify", "status") if status == Some(429) => &["rate_limited"],
        ("verify", _) => &["verify_failed"],
        _ => &[],
    }
}

/// One injected fault, tied to the file it hit.
struct Hit {
    column: &'static str,
    kinds: Vec<String>,
    status: Option<u16>,
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

#[wasm_bindgen_test]
async fn upload_all_under_random_faults_loses_nothing() {
    let n = file_count();
    let seed = seed();
    let run = format!("{:08x}", (js_sys::Math::random() * f64::from(u32::MAX)) as u32);
    let prefix = format!("soak-{run}-");
    let name_of = |i: usize| format!("{prefix}{i}.bin");

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

    let c = config().await;
    let client = HexnodeClient::new(
        o(&[
            ("portal", c.api_base.into()),
            ("apiKey", c.api_key.into()),
            ("rateLimitPerMinute", 0.into()),
            ("retry", o(&[("retries", 3.into()), ("minDelayMs", 10.into()), ("maxDelayMs", 50.into()), ("timeoutMs", 30_000.into())])),
        ])
        .unchecked_into(),
    )
    .unwrap();
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
    let out = settled.unwrap_or_else(|e| panic!("uploadAll rejected: {}", describe(&e)));
    assert!(out.as_string().as_deref() != Some("__hang__"), "uploadAll did not settle within {limit_ms} ms: something hangs");
    let counts = before.grew_all(&["store_put", "api_presign", "api_verify", "store_put_with_authorization", "faults_fired"]).await;
    let uploads = get_json(&format!("{}/__dev/uploads?prefix={prefix}", web_base())).await;

    // What the API presigned for this run: uuid -> (file index, verified id, stored, size).
    let mut by_uuid: HashMap<String, (usize, Option<f64>, bool, f64)> = HashMap::new();
    for u in uploads.unchecked_ref::<Array>().iter() {
        let name = get_str(&u, "file_name");
        let i: usize = name.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".bin")).and_then(|r| r.parse().ok()).unwrap_or_else(|| panic!("unexpected name {name}"));
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
        let file = match col {
            "store_put" => by_uuid.get(&get_str(e, "key")).map(|x| x.0),
            "verify" => get(e, "file_uuid").as_string().and_then(|u| by_uuid.get(&u).map(|x| x.0)),
            _ => get(e, "file_name").as_string().as_deref().and_then(index_of_name),
        };
        match file {
            Some(i) => hits.entry(i).or_default().push(Hit { column: col, kinds, status: get(e, "status").as_f64().map(|s| s as u16) }),
            None => unattributed += 1,
        }
    }

    // Every file: uploaded, verified, its exact bytes stored; or failed with an explained code.
    let results: Vec<JsValue> = out.unchecked_ref::<Array>().iter().collect();
    assert_eq!(results.len(), n, "one entry per file");
    let mut ok_uuids = HashSet::new();
    let mut ids = HashSet::new();
    let mut failed: BTreeMap<String, u32> = BTreeMap::new();
    let mut attempts_total = 0.0;
    let mut problems = Vec::new();
    for (i, r) in results.iter().enumerate() {
        if get(r, "ok").as_bool() == Some(true) {
            let res = get(r, "result");
            let uuid = get_str(&res, "fileUuid");
            assert_eq!(get(&res, "verified").as_bool(), Some(true), "file {i} resolved unverified");
            let id = get(&res, "fileId").as_f64().unwrap_or_else(|| panic!("file {i} has no verified id"));
            assert!(ok_uuids.insert(uuid.clone()), "file {i}: uuid {uuid} reported twice");
            assert!(ids.insert(id as u64), "file {i}: id {id} reported twice");
            assert_eq!(get_num(&res, "size"), sizes[i] as f64);
            attempts_total += get_num(&res, "attempts");
            match by_uuid.get(&uuid) {
                Some(&(idx, server_id, stored, size)) => {
                    assert_eq!(idx, i, "file {i} resolved with the uuid of file {idx}");
                    assert_eq!(server_id, Some(id), "file {i}: the API verified it as {server_id:?}");
                    assert!(stored && size == sizes[i] as f64, "file {i}: stored {stored}, {size} bytes of {}", sizes[i]);
                }
                None => panic!("file {i}: uuid {uuid} was never presigned for this run"),
            }
        } else {
            let e = get(r, "error");
            let code = get_str(&e, "code");
            *failed.entry(code.clone()).or_default() += 1;
            let file_hits = hits.get(&i).map(Vec::as_slice).unwrap_or_default();
            let allowed: HashSet<&str> = file_hits.iter().flat_map(|h| h.kinds.iter().flat_map(move |k| codes_for(h.column, k, h.status).iter().copied())).collect();
            if !allowed.contains(code.as_str()) {
                let seen: Vec<String> = file_hits.iter().map(|h| format!("{}:{}{}", h.column, h.kinds.join("+"), h.status.map(|s| format!("({s})")).unwrap_or_default())).collect();
                problems.push(format!("file {i} failed with {code} ({}) but the faults that hit it were {seen:?}", get_str(&e, "message")));
            }
        }
    }
    assert!(problems.is_empty(), "failures the injected faults do not explain:\n{}", problems.join("\n"));
    assert_eq!(get_num(&last_totals, "done") + get_num(&last_totals, "failed"), n as f64, "onProgress counted every file");

    // The store: exactly one object per uploaded file, the right bytes, nothing unexplained.
    let mut stored_per_file: HashMap<usize, u32> = HashMap::new();
    let mut orphans = 0;
    for (uuid, &(i, server_id, stored, _)) in &by_uuid {
        if server_id.is_some() && !ok_uuids.contains(uuid) {
            // Verified by the API, yet not reported as uploaded: only if every verify answer was hidden.
            let hidden = hits.get(&i).is_some_and(|h| h.iter().any(|h| h.column == "verify" && h.kinds.iter().any(|k| k == "no_cors")));
            assert!(hidden, "file {i}: the API verified {uuid} but uploadAll did not report it");
        }
        if !stored {
            continue;
        }
        *stored_per_file.entry(i).or_default() += 1;
        let (_, _, sha) = object(uuid).await;
        assert_eq!(sha, shas[i], "file {i}: the object {uuid} does not hold the file's bytes");
        if !ok_uuids.contains(uuid) {
            orphans += 1;
            let r = &results[i];
            assert_ne!(get(r, "ok").as_bool(), Some(true), "file {i}: an extra object {uuid} beside its upload");
        }
    }
    let duplicates: Vec<_> = stored_per_file.iter().filter(|(_, c)| **c > 1).collect();
    assert!(duplicates.is_empty(), "files stored more than once: {duplicates:?}");
    for uuid in &ok_uuids {
        assert!(by_uuid.get(uuid).is_some_and(|x| x.2), "{uuid} reported uploaded but not stored");
    }
    assert_eq!(counts[3], 0.0, "the store never saw an Authorization header");

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
    let failed_total: u32 = failed.values().sum();
    let failed_list: Vec<String> = failed.iter().map(|(c, k)| format!("{c} {k}")).collect();
    t.push_str(&format!(
        "  outcomes: {} uploaded and verified (bytes match), {failed_total} failed{}\n",
        ok_uuids.len(),
        if failed_list.is_empty() { String::new() } else { format!(": {}", failed_list.join(", ")) }
    ));
    t.push_str(&format!(
        "  files hit by a fault: {} ({} of them still uploaded)\n",
        hits.len(),
        hits.keys().filter(|i| get(&results[**i], "ok").as_bool() == Some(true)).count()
    ));
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
    assert!(counts[4] > 0.0 || n < 10, "faults were injected");
}
