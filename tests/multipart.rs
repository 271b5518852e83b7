//! Browser tests of multipart uploads through a backend (the devserver's sample backend) and
//! of upload tasks (pause, resume, abort). The core build runs the single-PUT task tests (its
//! Uploader has no `multipart`); the full build runs them all.
#![cfg(target_arch = "wasm32")]
#![cfg_attr(not(feature = "full"), allow(dead_code, unused_imports))]

mod common;

use common::*;
use js_sys::{Array, Function, Promise};
use presigned_upload::bindings::{UploadOptions, Uploader};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MIB: u32 = 1024 * 1024;

/// A JS harness: multipart callbacks that call the sample backend and record every call.
/// `sign_hook` is the body of `async (r, h, post, web) => ...` returning a signPart answer to
/// use instead of the backend's (or nothing).
fn harness(sign_hook: &str) -> JsValue {
    let make = js_fn(
        "web, hookSrc",
        "const hook = new Function('r', 'h', 'post', 'web', 'return (async () => {' + hookSrc + '})();');
         const post = async (path, body) => {
           const r = await fetch(web + '/backend/multipart/' + path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
           if (!r.ok) throw new Error(path + ' answered ' + r.status + ': ' + await r.text());
           return r.json();
         };
         const h = { signs: [], creates: 0, completes: 0, aborts: 0, lists: [], uploadIds: [], keys: [], progress: [] };
         h.create = async (r) => { h.creates++; if (h.createHook) await h.createHook(r); const v = await post('create', { file_name: r.fileName, content_type: r.contentType, size: r.size }); h.uploadIds.push(v.uploadId); h.keys.push(v.key); return v; };
         h.signPart = async (r) => { h.signs.push(r.partNumber); const own = await hook(r, h, post, web); return own || post('sign-part', r); };
         h.complete = async (r) => { h.completes++; if (h.completeHook) await h.completeHook(r); return post('complete', r); };
         h.abort = (r) => { h.aborts++; return post('abort', r); };
         h.listParts = async (r) => { const v = await post('list', r); h.lists.push(v.map(p => p.partNumber)); return v; };
         h.onProgress = (p) => { h.progress.push([p.phase, p.loaded, p.total]); if (h.onProgressHook) h.onProgressHook(p); };
         return h;",
    );
    make.call2(&JsValue::NULL, &web_base().into(), &sign_hook.into()).unwrap()
}

/// An Uploader whose multipart callbacks are the harness's, with extra multipart fields.
fn mp_uploader(h: &JsValue, extra: &[(&str, JsValue)], retry: Option<JsValue>) -> Uploader {
    let web = web_base();
    let mut mp: Vec<(&str, JsValue)> = vec![
        ("threshold", (5 * MIB).into()),
        ("partSize", (8 * MIB).into()),
        ("create", get(h, "create")),
        ("signPart", get(h, "signPart")),
        ("complete", get(h, "complete")),
        ("abort", get(h, "abort")),
    ];
    mp.extend(extra.iter().cloned());
    let mut fields: Vec<(&str, JsValue)> = vec![
        ("presign", format!("{web}/backend/presign").into()),
        ("verify", format!("{web}/backend/verify").into()),
        ("credentials", "omit".into()),
    ];
    // The core build has no multipart: its tasks are single PUTs whatever the size.
    if cfg!(feature = "full") {
        fields.push(("multipart", o(&mp)));
    }
    if let Some(r) = retry {
        fields.push(("retry", r));
    }
    Uploader::new(o(&fields).unchecked_into()).unwrap_or_else(|e| panic!("constructor threw {}", describe(&e)))
}

fn fast_retry() -> Option<JsValue> {
    Some(o(&[("retries", 3.into()), ("minDelayMs", 10.into()), ("maxDelayMs", 50.into())]))
}

fn opts(h: &JsValue) -> Option<UploadOptions> {
    Some(o(&[("onProgress", get(h, "onProgress"))]).unchecked_into())
}

fn numbers(v: &JsValue) -> Vec<u32> {
    v.dyn_ref::<Array>().map(|a| a.iter().map(|x| x.as_f64().unwrap_or(-1.0) as u32).collect()).unwrap_or_default()
}

fn signs_of(h: &JsValue, part: u32) -> usize {
    numbers(&get(h, "signs")).iter().filter(|n| **n == part).count()
}

/// Upload progress is monotone and ends at `total`.
fn check_progress(h: &JsValue, total: f64) {
    let list: Array = get(h, "progress").unchecked_into();
    let mut last = -1.0;
    let mut seen = 0;
    for e in list.iter() {
        let e: Array = e.unchecked_into();
        if e.get(0).as_string().as_deref() != Some("upload") {
            continue;
        }
        let (loaded, t) = (e.get(1).as_f64().unwrap(), e.get(2).as_f64().unwrap());
        assert_eq!(t, total, "upload progress total");
        assert!(loaded >= last, "progress went back from {last} to {loaded}");
        assert!(loaded <= total);
        last = loaded;
        seen += 1;
    }
    assert!(seen > 0, "no upload progress");
    assert_eq!(last, total, "upload progress must end at the total");
}

/// In-progress multipart uploads in the store (their upload ids).
async fn in_progress() -> Vec<String> {
    let v = get_json(&format!("{}/__dev/multipart", web_base())).await;
    let ups: Array = get(&v, "uploads").unchecked_into();
    ups.iter().map(|u| get_str(&u, "uploadId")).collect()
}

async fn assert_stored(key: &str, f: &web_sys::Blob) {
    let (exists, size, sha) = object(key).await;
    assert!(exists, "object {key} not stored");
    assert_eq!(size, f.size());
    assert_eq!(sha, sha256_hex(f).await, "stored bytes differ");
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn uploads_64_mib_in_8_mib_parts() {
    let h = harness("");
    let up = mp_uploader(&h, &[("concurrency", 4.into())], None);
    let f = file(64 * MIB, "big.bin", "application/x-test");
    let r = ok(up.upload(f.clone().into(), opts(&h))).await;
    let keys: Array = get(&h, "keys").unchecked_into();
    let key = keys.get(0).as_string().unwrap();
    assert_eq!(get_str(&r, "fileUuid"), key);
    assert_eq!(get_str(&r, "fileName"), "big.bin");
    assert_eq!(get_num(&r, "size"), f.size());
    assert_eq!(get(&r, "verified").as_bool(), Some(true), "verify ran after complete");
    assert!(get(&r, "fileId").as_f64().is_some());
    let mut signs = numbers(&get(&h, "signs"));
    signs.sort();
    assert_eq!(signs, (1..=8).collect::<Vec<_>>(), "each part signed once");
    assert_eq!(get_num(&h, "creates"), 1.0);
    assert_eq!(get_num(&h, "completes"), 1.0);
    assert_eq!(get_num(&h, "aborts"), 0.0);
    check_progress(&h, f.size());
    assert_stored(&key, &f).await;
    let uid = get(&h, "uploadIds").unchecked_into::<Array>().get(0).as_string().unwrap();
    assert!(!in_progress().await.contains(&uid), "the completed upload is still in progress");
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn endpoints_as_urls_and_list_parts() {
    let web = web_base();
    let mp = o(&[
        ("threshold", (5 * MIB).into()),
        ("partSize", (5 * MIB).into()),
        ("create", format!("{web}/backend/multipart/create").into()),
        ("signPart", format!("{web}/backend/multipart/sign-part").into()),
        ("complete", format!("{web}/backend/multipart/complete").into()),
        ("abort", format!("{web}/backend/multipart/abort").into()),
        ("listParts", format!("{web}/backend/multipart/list").into()),
    ]);
    let up = Uploader::new(
        o(&[("presign", format!("{web}/backend/presign").into()), ("verify", false.into()), ("credentials", "omit".into()), ("multipart", mp)]).unchecked_into(),
    )
    .unwrap_or_else(|e| panic!("constructor threw {}", describe(&e)));
    let f = file(11 * MIB + 7, "three-parts.bin", "text/plain");
    let r = ok(up.upload(f.clone().into(), None)).await;
    assert_eq!(get(&r, "verified").as_bool(), Some(false));
    assert_stored(&get_str(&r, "fileUuid"), &f).await;
    // A small file still goes as one PUT.
    let small = file(1000, "small.txt", "text/plain");
    let r = ok(up.upload(small.clone().into(), None)).await;
    assert_stored(&get_str(&r, "fileUuid"), &small).await;
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn upload_all_sends_big_files_multipart_and_small_ones_as_one_put() {
    let h = harness("");
    let up = mp_uploader(&h, &[("concurrency", 2.into())], None);
    let files = Array::new();
    let big = file(12 * MIB, "batch-big.bin", "application/octet-stream");
    let small = file(2000, "batch-small.txt", "text/plain");
    let big2 = file(9 * MIB, "batch-big2.bin", "application/octet-stream");
    files.push(&big);
    files.push(&small);
    files.push(&big2);
    let out = ok(up.upload_all(files.into(), Some(o(&[("concurrency", 2.into())]).unchecked_into()))).await;
    let out: Array = out.unchecked_into();
    assert_eq!(out.length(), 3);
    for (i, f) in [&big, &small, &big2].into_iter().enumerate() {
        let e = out.get(i as u32);
        assert_eq!(get(&e, "ok").as_bool(), Some(true), "entry {i}: {}", describe(&get(&e, "error")));
        let r = get(&e, "result");
        assert_eq!(get(&r, "verified").as_bool(), Some(true));
        assert_stored(&get_str(&r, "fileUuid"), f).await;
    }
    assert_eq!(get_num(&h, "creates"), 2.0, "the two big files went multipart");
    assert_eq!(get_num(&h, "completes"), 2.0);
    let mut signs = numbers(&get(&h, "signs"));
    signs.sort();
    assert_eq!(signs, vec![1, 1, 2, 2], "12 MiB and 9 MiB in 8 MiB parts: two parts each");
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn a_part_failing_twice_is_retried_and_succeeds() {
    // Part 3's first two URLs point at a closed port: a network error, retried (re-signed).
    let h = harness("if (r.partNumber === 3 && h.signs.filter(n => n === 3).length <= 2) return { url: 'http://127.0.0.1:9/broken' };");
    let up = mp_uploader(&h, &[("concurrency", 2.into())], fast_retry());
    let f = file(24 * MIB, "retry.bin", "application/octet-stream");
    let r = ok(up.upload(f.clone().into(), opts(&h))).await;
    assert_eq!(signs_of(&h, 3), 3, "part 3: two failures then a success");
    assert_eq!(signs_of(&h, 1), 1);
    assert_eq!(signs_of(&h, 2), 1);
    check_progress(&h, f.size());
    assert_stored(&get_str(&r, "fileUuid"), &f).await;
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn an_expired_part_url_is_re_signed() {
    // Part 2: first a URL that lives 1 s (given late), then S3's 403 "Request has expired".
    let h = harness(
        "if (r.partNumber !== 2) return;
         const n = h.signs.filter(x => x === 2).length;
         if (n === 1) { const v = await post('sign-part', Object.assign({}, r, { expires_in: 1 })); await new Promise(res => setTimeout(res, 1500)); return v; }
         if (n === 2) return { url: web + '/__dev/multipart/expired' };",
    );
    let up = mp_uploader(&h, &[("concurrency", 2.into())], Some(o(&[("retries", 0.into())])));
    let f = file(16 * MIB, "expiry.bin", "application/octet-stream");
    let r = ok(up.upload(f.clone().into(), opts(&h))).await;
    assert_eq!(signs_of(&h, 2), 3, "part 2 re-signed after each expiry, without using retries");
    assert_stored(&get_str(&r, "fileUuid"), &f).await;
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn a_missing_etag_is_a_cors_error_and_the_upload_is_aborted() {
    let h = harness("return { url: web + '/__dev/multipart/no-etag' };");
    let up = mp_uploader(&h, &[], fast_retry());
    let f = file(10 * MIB, "noetag.bin", "application/octet-stream");
    let e = fails_with(up.upload(f.into(), None), "cors").await;
    assert!(get_str(&e, "message").contains("ExposeHeaders: ETag"), "{}", describe(&e));
    assert_eq!(get_num(&h, "aborts"), 1.0, "abort called once");
    let uid = get(&h, "uploadIds").unchecked_into::<Array>().get(0).as_string().unwrap();
    assert!(!in_progress().await.contains(&uid), "parts left behind");
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn abort_calls_abort_once_and_leaves_nothing() {
    let h = harness("");
    let up = mp_uploader(&h, &[("concurrency", 2.into())], None);
    let controller = web_sys::AbortController::new().unwrap();
    let hook = js_fn("c", "return (p) => { if (p.phase === 'upload' && p.loaded >= 8 * 1024 * 1024) c.abort(); };")
        .call1(&JsValue::NULL, &controller)
        .unwrap();
    js_sys::Reflect::set(&h, &"onProgressHook".into(), &hook).unwrap();
    let f = file(64 * MIB, "abort.bin", "application/octet-stream");
    let o2: UploadOptions = o(&[("onProgress", get(&h, "onProgress")), ("signal", controller.signal().into())]).unchecked_into();
    fails_with(up.upload(f.into(), Some(o2)), "aborted").await;
    assert_eq!(get_num(&h, "aborts"), 1.0, "abort called once");
    assert_eq!(get_num(&h, "completes"), 0.0);
    let uid = get(&h, "uploadIds").unchecked_into::<Array>().get(0).as_string().unwrap();
    assert!(!in_progress().await.contains(&uid), "an aborted upload is still in progress");
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn leave_parts_skips_abort() {
    let h = harness("return { url: web + '/__dev/multipart/no-etag' };");
    let up = mp_uploader(&h, &[("leaveParts", true.into())], fast_retry());
    fails_with(up.upload(file(6 * MIB, "leave.bin", "text/plain").into(), None), "cors").await;
    assert_eq!(get_num(&h, "aborts"), 0.0);
    let uid = get(&h, "uploadIds").unchecked_into::<Array>().get(0).as_string().unwrap();
    assert!(in_progress().await.contains(&uid), "leaveParts must leave the upload in progress");
    // Its resume record is kept (IndexedDB, issue 15): pending, and discardPending aborts it.
    let pending: Array = wasm_bindgen_futures::JsFuture::from(up.pending_uploads()).await.unwrap().unchecked_into();
    assert_eq!(pending.length(), 1, "the upload left with leaveParts is pending");
    let p = pending.get(0);
    assert_eq!(get_str(&p, "fileName"), "leave.bin");
    assert_eq!(get_num(&p, "size"), (6 * MIB) as f64);
    let id = get(&p, "id");
    assert!(get_str(&p, "id").contains(&uid), "the id names the upload");
    let discarded = wasm_bindgen_futures::JsFuture::from(up.discard_pending(id)).await.unwrap();
    assert_eq!(discarded.as_bool(), Some(true));
    assert_eq!(get_num(&h, "aborts"), 1.0, "discardPending aborts the upload");
    assert!(!in_progress().await.contains(&uid), "a discarded upload is still in progress");
    let pending: Array = wasm_bindgen_futures::JsFuture::from(up.pending_uploads()).await.unwrap().unchecked_into();
    assert_eq!(pending.length(), 0, "a discarded upload is still pending");
}

async fn wait_state(task: &JsValue, want: &str) {
    for _ in 0..400 {
        if get_str(task, "state") == want {
            return;
        }
        sleep_ms(25).await;
    }
    panic!("the task never got to {want:?} (it is {:?})", get_str(task, "state"));
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn pause_then_resume_sends_only_the_missing_parts() {
    let h = harness("");
    let up = mp_uploader(&h, &[("concurrency", 2.into()), ("listParts", get(&h, "listParts"))], None);
    let f = file(64 * MIB, "pause.bin", "application/octet-stream");
    let task: JsValue = up.create_upload(f.clone().into(), opts(&h)).unwrap_or_else(|e| panic!("createUpload threw {}", describe(&e))).into();
    assert_eq!(get_str(&task, "state"), "idle");
    // Pause once 24 MiB are counted: with 2 parts of 8 MiB in flight, at least one is done.
    let hook = js_fn("t", "let done = false; return (p) => { if (!done && p.phase === 'upload' && p.loaded >= 24 * 1024 * 1024) { done = true; t.pause(); } };")
        .call1(&JsValue::NULL, &task)
        .unwrap();
    js_sys::Reflect::set(&h, &"onProgressHook".into(), &hook).unwrap();
    let start: Function = get(&task, "start").unchecked_into();
    let p: Promise = start.call0(&task).unwrap().unchecked_into();
    wait_state(&task, "paused").await;
    let signed_at_pause = numbers(&get(&h, "signs")).len();
    sleep_ms(400).await;
    assert_eq!(numbers(&get(&h, "signs")).len(), signed_at_pause, "nothing is signed while paused");
    assert_eq!(get_str(&task, "state"), "paused");
    let resume: Function = get(&task, "resume").unchecked_into();
    resume.call0(&task).unwrap();
    let r = ok(p).await;
    assert_eq!(get_str(&task, "state"), "done");
    let lists: Array = get(&h, "lists").unchecked_into();
    assert_eq!(lists.length(), 1, "listParts asked once, at resume");
    let listed = numbers(&lists.get(0));
    assert!(!listed.is_empty() && listed.len() < 8, "listed at resume: {listed:?}");
    let after: Vec<u32> = numbers(&get(&h, "signs"))[signed_at_pause..].to_vec();
    let mut after_sorted = after.clone();
    after_sorted.sort();
    let missing: Vec<u32> = (1..=8).filter(|n| !listed.contains(n)).collect();
    assert_eq!(after_sorted, missing, "after resume exactly the missing parts are sent (listed {listed:?})");
    check_progress(&h, f.size());
    assert_stored(&get_str(&r, "fileUuid"), &f).await;
    assert_eq!(get_num(&h, "aborts"), 0.0);
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn pause_resume_without_list_parts_uses_its_own_record() {
    let h = harness("");
    let up = mp_uploader(&h, &[("concurrency", 1.into())], None);
    let f = file(40 * MIB, "own-record.bin", "application/octet-stream");
    let task: JsValue = up.create_upload(f.clone().into(), opts(&h)).unwrap().into();
    let hook = js_fn("t", "let done = false; return (p) => { if (!done && p.phase === 'upload' && p.loaded >= 16 * 1024 * 1024) { done = true; t.pause(); } };")
        .call1(&JsValue::NULL, &task)
        .unwrap();
    js_sys::Reflect::set(&h, &"onProgressHook".into(), &hook).unwrap();
    let p: Promise = get(&task, "start").unchecked_into::<Function>().call0(&task).unwrap().unchecked_into();
    wait_state(&task, "paused").await;
    let before: Vec<u32> = numbers(&get(&h, "signs"));
    get(&task, "resume").unchecked_into::<Function>().call0(&task).unwrap();
    let r = ok(p).await;
    let after: Vec<u32> = numbers(&get(&h, "signs"))[before.len()..].to_vec();
    // Every part signed before the pause and finished is not signed again.
    for n in &after {
        assert!(!before.contains(n) || *n == *before.last().unwrap(), "part {n} was sent again (before {before:?}, after {after:?})");
    }
    let mut all: Vec<u32> = before.iter().chain(after.iter()).copied().collect();
    all.sort();
    all.dedup();
    assert_eq!(all, (1..=5).collect::<Vec<_>>());
    check_progress(&h, f.size());
    assert_stored(&get_str(&r, "fileUuid"), &f).await;
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn task_abort_while_paused() {
    let h = harness("");
    let up = mp_uploader(&h, &[("concurrency", 1.into())], None);
    let f = file(24 * MIB, "abort-paused.bin", "application/octet-stream");
    let task: JsValue = up.create_upload(f.into(), opts(&h)).unwrap().into();
    let hook = js_fn("t", "let done = false; return (p) => { if (!done && p.phase === 'upload' && p.loaded >= 8 * 1024 * 1024) { done = true; t.pause(); } };")
        .call1(&JsValue::NULL, &task)
        .unwrap();
    js_sys::Reflect::set(&h, &"onProgressHook".into(), &hook).unwrap();
    let p: Promise = get(&task, "start").unchecked_into::<Function>().call0(&task).unwrap().unchecked_into();
    wait_state(&task, "paused").await;
    get(&task, "abort").unchecked_into::<Function>().call0(&task).unwrap();
    fails_with(p, "aborted").await;
    assert_eq!(get_str(&task, "state"), "aborted");
    assert_eq!(get_num(&h, "aborts"), 1.0);
    let uid = get(&h, "uploadIds").unchecked_into::<Array>().get(0).as_string().unwrap();
    assert!(!in_progress().await.contains(&uid));
}

#[wasm_bindgen_test]
async fn a_small_file_task_pauses_and_restarts_its_put() {
    let h = harness("");
    let up = mp_uploader(&h, &[("threshold", (64 * MIB).into())], None);
    let f = file(12 * MIB, "single.bin", "application/octet-stream");
    let task: JsValue = up.create_upload(f.clone().into(), opts(&h)).unwrap().into();
    // The store holds the first PUT's body back for 3 s, so the pause lands while it is sent.
    arm(r#"{"match": "store_put", "delay_ms": 3000}"#).await;
    let before = Counts::now().await;
    let p: Promise = get(&task, "start").unchecked_into::<Function>().call0(&task).unwrap().unchecked_into();
    // Pause once the store saw the PUT begin.
    assert!(wait_until(5000.0, || async { before.grew("store_put").await >= 1.0 }).await, "the PUT reached the store");
    get(&task, "pause").unchecked_into::<Function>().call0(&task).unwrap();
    wait_state(&task, "paused").await;
    sleep_ms(3500).await;
    // The pause stopped the PUT: nothing stored, nothing verified, nothing sent again.
    assert_eq!(before.grew_all(&["backend_presign", "store_put", "backend_verify"]).await, vec![1.0, 1.0, 0.0], "while paused");
    assert!(!get(&h, "progress").unchecked_into::<Array>().iter().any(|e| {
        let e: Array = e.unchecked_into();
        e.get(0).as_string().as_deref() == Some("upload") && e.get(1).as_f64() == Some(f.size())
    }), "the first PUT never completed");
    clear_faults().await;
    get(&task, "resume").unchecked_into::<Function>().call0(&task).unwrap();
    let r = ok(p).await;
    // The restart sent it once more, from a fresh presign, and verified it once.
    assert_eq!(before.grew_all(&["backend_presign", "store_put", "backend_verify"]).await, vec![2.0, 2.0, 1.0], "after the resume");
    assert_eq!(get_num(&r, "attempts"), 1.0, "the restarted PUT went through at once");
    assert_eq!(get_num(&h, "creates"), 0.0, "below the threshold: no multipart");
    assert_stored(&get_str(&r, "fileUuid"), &f).await;
    assert_eq!(get_str(&task, "state"), "done");
    // start() twice is refused.
    let again: Promise = get(&task, "start").unchecked_into::<Function>().call0(&task).unwrap().unchecked_into();
    fails_with(again, "invalid_input").await;
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
fn multipart_options_are_validated() {
    let web = web_base();
    let f = js_fn("", "return async () => ({});");
    let base = |extra: &[(&str, JsValue)], drop: &str| {
        let mut mp: Vec<(&str, JsValue)> = ["create", "signPart", "complete", "abort"].iter().filter(|k| **k != drop).map(|k| (*k, f.clone().into())).collect();
        mp.extend(extra.iter().cloned());
        o(&[("presign", format!("{web}/backend/presign").into()), ("multipart", o(&mp))])
    };
    let cases: Vec<(JsValue, &str)> = vec![
        (base(&[("threshold", (4 * MIB).into())], ""), "multipart.threshold"),
        (base(&[("threshold", (5.0 * f64::from(MIB) + 0.5).into())], ""), "multipart.threshold"),
        (base(&[("partSize", MIB.into())], ""), "multipart.partSize"),
        (base(&[("partSize", 6e9.into())], ""), "multipart.partSize"),
        (base(&[("concurrency", 0.into())], ""), "multipart.concurrency"),
        (base(&[("concurrency", 17.into())], ""), "multipart.concurrency"),
        (base(&[], "create"), "multipart.create"),
        (base(&[], "signPart"), "multipart.signPart"),
        (base(&[], "complete"), "multipart.complete"),
        (base(&[], "abort"), "multipart.abort"),
        (base(&[("listParts", 5.into())], ""), "multipart.listParts"),
    ];
    for (opts, field) in cases {
        let e = match Uploader::new(opts.unchecked_into()) {
            Ok(_) => panic!("{field}: accepted"),
            Err(e) => e,
        };
        assert_eq!(get_str(&e, "code"), "invalid_input", "{field}: {}", describe(&e));
        assert!(get_str(&e, "message").starts_with(field), "{field}: {}", describe(&e));
    }
    assert!(Uploader::new(base(&[("threshold", (5 * MIB).into()), ("partSize", (5 * MIB).into()), ("concurrency", 16.into())], "").unchecked_into()).is_ok());
}

/// The counters that show whether an upload began: presigns (sample backend), PUTs to the
/// store, and multipart creates.
async fn begun(h: &JsValue) -> (f64, f64, f64, f64) {
    let s = stats().await;
    (get_num(&s, "backend_presign"), get_num(&s, "store_put"), get_num(&s, "backend_verify"), get_num(h, "creates"))
}

#[wasm_bindgen_test]
async fn a_pause_right_after_start_holds_until_resume() {
    // One task below the threshold (a single PUT), one above it (multipart).
    let cases: &[(u32, &str)] = if cfg!(feature = "full") { &[(MIB, "held-single.bin"), (6 * MIB, "held-multi.bin")] } else { &[(MIB, "held-single.bin")] };
    for &(size, name) in cases {
        let h = harness("");
        let up = mp_uploader(&h, &[], None);
        let f = file(size, name, "application/octet-stream");
        let task: JsValue = up.create_upload(f.clone().into(), opts(&h)).unwrap().into();
        let before = begun(&h).await;
        let p: Promise = get(&task, "start").unchecked_into::<Function>().call0(&task).unwrap().unchecked_into();
        get(&task, "pause").unchecked_into::<Function>().call0(&task).unwrap();
        sleep_ms(500).await;
        assert_eq!(get_str(&task, "state"), "paused", "{name}");
        assert_eq!(begun(&h).await, before, "{name}: a request went out while paused");
        assert_eq!(get(&h, "progress").unchecked_into::<Array>().length(), 0, "{name}: progress while paused");
        get(&task, "resume").unchecked_into::<Function>().call0(&task).unwrap();
        let r = ok(p).await;
        let after = begun(&h).await;
        if size < 5 * MIB {
            assert_eq!((after.0 - before.0, after.1 - before.1, after.3), (1.0, 1.0, 0.0), "{name}: one presign, one PUT");
        } else {
            assert_eq!((after.0 - before.0, after.3), (0.0, 1.0), "{name}: one create, no single-PUT presign");
        }
        assert_eq!(after.2 - before.2, 1.0, "{name}: one verify");
        assert_stored(&get_str(&r, "fileUuid"), &f).await;
    }
}

#[wasm_bindgen_test]
async fn a_pause_during_verify_resumes_with_verify_only() {
    let web = web_base();
    // A verify callback that pauses the task on its first call and holds that call for 2 s
    // (the pause cancels it), then asks the sample backend.
    let verify = js_fn(
        "web",
        "globalThis.__verifyCalls = 0; return async (uuid) => {
           if (++globalThis.__verifyCalls === 1) { globalThis.__task.pause(); await new Promise(r => setTimeout(r, 2000)); }
           const r = await fetch(web + '/backend/verify', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ file_uuid: uuid }) });
           if (!r.ok) throw new Error('verify answered ' + r.status);
           return r.json(); };",
    )
    .call1(&JsValue::NULL, &web.into())
    .unwrap();
    let up = Uploader::new(o(&[("presign", format!("{web}/backend/presign").into()), ("verify", verify), ("credentials", "omit".into())]).unchecked_into()).unwrap();
    let name = format!("verify-pause-{}.bin", now() as u64);
    let f = file(2 * MIB, &name, "application/octet-stream");
    let task: JsValue = up.create_upload(f.clone().into(), None).unwrap().into();
    js_sys::Reflect::set(&js_sys::global(), &"__task".into(), &task).unwrap();
    let s0 = stats().await;
    let p: Promise = get(&task, "start").unchecked_into::<Function>().call0(&task).unwrap().unchecked_into();
    wait_state(&task, "paused").await;
    js_sys::Reflect::delete_property(js_sys::global().unchecked_ref::<js_sys::Object>(), &"__task".into()).unwrap();
    assert_eq!(global_num("__verifyCalls"), 1.0, "paused during the first verify");
    get(&task, "resume").unchecked_into::<Function>().call0(&task).unwrap();
    let r = ok(p).await;
    let s1 = stats().await;
    assert_eq!(get_num(&s1, "backend_presign") - get_num(&s0, "backend_presign"), 1.0, "one presign, not a second after the resume");
    assert_eq!(get_num(&s1, "store_put") - get_num(&s0, "store_put"), 1.0, "one PUT, not a second after the resume");
    assert_eq!(global_num("__verifyCalls"), 2.0, "verify asked again after the resume");
    assert_eq!(get(&r, "verified").as_bool(), Some(true));
    assert_stored(&get_str(&r, "fileUuid"), &f).await;
    // The store holds one object for this file name: the one the result names.
    let listed = get_json(&format!("{web}/__dev/uploads?prefix={name}")).await;
    let stored: Vec<JsValue> = listed.unchecked_into::<Array>().iter().filter(|u| get(u, "stored").as_bool() == Some(true)).collect();
    assert_eq!(stored.len(), 1, "one object in the store");
    assert_eq!(get_str(&stored[0], "file_uuid"), get_str(&r, "fileUuid"));
}

// ---------------------------------------------------------------- failure paths: abort exactly once

/// Sets `h[name]` to a JS function made from `body` (args `r`).
fn hook(h: &JsValue, name: &str, body: &str) {
    js_sys::Reflect::set(h, &name.into(), &js_fn("r", body)).unwrap();
}

/// Checks the end of a failed multipart upload: `abort` called `aborts` times, and the
/// upload (when one was created) no longer in progress in the store unless `leaveParts`.
async fn check_aborted(h: &JsValue, case: &str, aborts: f64) {
    assert_eq!(get_num(h, "aborts"), aborts, "{case}: abort calls");
    let ids: Array = get(h, "uploadIds").unchecked_into();
    if let Some(uid) = ids.get(0).as_string() {
        assert!(!in_progress().await.contains(&uid), "{case}: the upload is still in progress in the store");
    }
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn a_part_out_of_retries_fails_and_aborts_once() {
    // 500 on every PUT (retryable: 1 + 3 tries), then a 403 (not retryable: 1 try).
    for (rule, code, tries) in [
        (r#"{"match": "store_put", "times": 100, "status": 500}"#, "upload_rejected", 4.0),
        (r#"{"match": "store_put", "times": 100, "status": 403, "s3_code": "AccessDenied", "message": "Access Denied"}"#, "upload_rejected", 1.0),
    ] {
        let h = harness("");
        let up = mp_uploader(&h, &[("concurrency", 1.into())], fast_retry());
        arm(rule).await;
        let before = Counts::now().await;
        let e = fails_with(up.upload(file(6 * MIB, "part-fails.bin", "application/octet-stream").into(), None), code).await;
        clear_faults().await;
        assert!(get_str(&e, "message").contains("Part 1"), "{}", describe(&e));
        assert_eq!(before.grew("store_put").await, tries, "{rule}: tries of the one part");
        assert_eq!(signs_of(&h, 1) as f64, tries, "{rule}: signed before every try");
        assert_eq!(get_num(&h, "completes"), 0.0);
        check_aborted(&h, rule, 1.0).await;
    }
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn create_sign_part_or_complete_that_throw_or_fail_abort_once() {
    let f = || file(6 * MIB, "step-fails.bin", "application/octet-stream");
    // create throws: nothing was created, so nothing to abort.
    let h = harness("");
    hook(&h, "createHook", "throw new Error('create refused');");
    let e = fails_with(mp_uploader(&h, &[], fast_retry()).upload(f().into(), None), "presign_failed").await;
    assert!(get_str(&e, "message").contains("create refused"), "{}", describe(&e));
    assert_eq!((get_num(&h, "creates"), signs_of(&h, 1)), (1.0, 0));
    check_aborted(&h, "create throws", 0.0).await;
    // signPart throws.
    let h = harness("throw new Error('no signature for you');");
    let e = fails_with(mp_uploader(&h, &[], fast_retry()).upload(f().into(), None), "presign_failed").await;
    assert!(get_str(&e, "message").contains("no signature for you"), "{}", describe(&e));
    assert_eq!(get_num(&h, "completes"), 0.0);
    check_aborted(&h, "signPart throws", 1.0).await;
    // signPart answers something that is not a signed part.
    let h = harness("return { nope: true };");
    fails_with(mp_uploader(&h, &[], fast_retry()).upload(f().into(), None), "bad_response").await;
    check_aborted(&h, "signPart answers garbage", 1.0).await;
    // complete throws.
    let h = harness("");
    hook(&h, "completeHook", "throw new Error('complete refused');");
    let e = fails_with(mp_uploader(&h, &[], fast_retry()).upload(f().into(), None), "presign_failed").await;
    assert!(get_str(&e, "message").contains("complete refused"), "{}", describe(&e));
    assert_eq!(get_num(&h, "completes"), 1.0);
    check_aborted(&h, "complete throws", 1.0).await;
    // complete fails: the store answers CompleteMultipartUpload with 200 and an <Error>, which
    // the sample backend turns into a 502.
    let h = harness("");
    arm(r#"{"match": "store_complete", "times": 1, "status": 200, "s3_code": "InternalError"}"#).await;
    let before = Counts::now().await;
    let e = fails_with(mp_uploader(&h, &[], fast_retry()).upload(f().into(), None), "presign_failed").await;
    clear_faults().await;
    assert!(get_str(&e, "message").contains("InternalError"), "{}", describe(&e));
    assert_eq!(before.grew("fault_status").await, 1.0, "the 200-with-<Error> was answered");
    check_aborted(&h, "complete answered 200 with <Error>", 1.0).await;
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn verify_failing_after_complete_is_verify_failed_and_never_aborts() {
    let h = harness("");
    let up = mp_uploader(&h, &[], Some(o(&[("retries", 0.into())])));
    arm(r#"{"match": "/backend/verify", "status": 404}"#).await;
    let e = fails_with(up.upload(file(6 * MIB, "verify-fails.bin", "application/octet-stream").into(), None), "verify_failed").await;
    clear_faults().await;
    assert_eq!(get_num(&e, "status"), 404.0);
    assert_eq!(get_num(&h, "completes"), 1.0);
    check_aborted(&h, "verify fails after complete", 0.0).await;
    let key = get(&h, "keys").unchecked_into::<Array>().get(0).as_string().unwrap();
    assert!(object(&key).await.0, "the completed upload stays stored");
}

#[cfg(feature = "full")]
#[wasm_bindgen_test]
async fn leave_parts_never_aborts_on_any_failure() {
    let h = harness("");
    hook(&h, "completeHook", "throw new Error('complete refused');");
    let up = mp_uploader(&h, &[("leaveParts", true.into())], fast_retry());
    fails_with(up.upload(file(6 * MIB, "leave2.bin", "application/octet-stream").into(), None), "presign_failed").await;
    assert_eq!(get_num(&h, "aborts"), 0.0);
    let uid = get(&h, "uploadIds").unchecked_into::<Array>().get(0).as_string().unwrap();
    assert!(in_progress().await.contains(&uid), "leaveParts leaves the upload in progress");
    let key = get(&h, "keys").unchecked_into::<Array>().get(0).as_string().unwrap();
    let (status, _) = post_json(&format!("{}/backend/multipart/abort", web_base()), &o(&[("uploadId", uid.as_str().into()), ("key", key.into())])).await;
    assert_eq!(status, 200);
}

/// The core build refuses the full build's options, naming the entry to import.
#[cfg(not(feature = "full"))]
#[wasm_bindgen_test]
fn the_core_build_refuses_multipart_and_s3_naming_the_full_entry() {
    let web = web_base();
    let cases = [
        (o(&[("presign", format!("{web}/backend/presign").into()), ("multipart", o(&[("threshold", (5 * MIB).into())]))]), "opts.multipart"),
        (o(&[("s3", o(&[("bucket", "b".into()), ("region", "us-east-1".into())]))]), "opts.s3"),
    ];
    for (opts, field) in cases {
        let e = match Uploader::new(opts.unchecked_into()) {
            Ok(_) => panic!("{field}: accepted by the core build"),
            Err(e) => e,
        };
        assert_eq!(get_str(&e, "code"), "invalid_input", "{field}: {}", describe(&e));
        let m = get_str(&e, "message");
        assert!(m.starts_with(field) && m.contains("presigned-upload/full"), "{field}: {m}");
    }
}
