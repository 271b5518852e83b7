// Resume after a page reload (issue 15), in headless Chromium against the devserver: a multipart
// upload through the sample backend is stopped at a given point, the page is reloaded, the same
// file is selected again, and the store's counters say what was sent the second time.
//
//   PU_WEB_BASE   the devserver's web address (required; `npm test` sets it)
//
// The upload is stopped deterministically: the page's multipart callbacks (which call the sample
// backend's endpoints) never answer at the chosen step, and the test reloads once they were reached.
// Files are built in the page from a seed (name, size, lastModified and bytes are the same after
// the reload, as when the user picks the same file again); node computes the same bytes' SHA-256.
//
// Run: node --test tests/e2e/resume.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { launchChromium } from '../support/chromium.mjs';
import { getJson, sha256 } from '../support/env.mjs';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const SIZE = 12 * MiB; // parts of 5, 5 and 2 MiB
const TEST_TIMEOUT = 120_000;
const LM = 1_700_000_000_000;

function requireEnv(name, why) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: ${why}. Start the devserver (\`. scripts/devserver.sh && devserver_start\`) and export it.`);
  return value.replace(/\/+$/, '');
}

let browser;
let base;
before(async () => {
  base = requireEnv('PU_WEB_BASE', 'the tests need the devserver that serves the package and the sample backend');
  browser = await launchChromium();
});
after(async () => {
  if (browser) await browser.close();
});

// ---------------------------------------------------------------- helpers

/** The counters this test reads: store PUTs, API verifies and the backend's multipart calls. */
async function counters() {
  const [s, m] = await Promise.all([getJson(`${base}/__dev/stats`), getJson(`${base}/__dev/multipart`)]);
  return { put: s.store_put, verify: s.api_verify, ...m.counters, uploads: m.uploads };
}

function delta(a, b) {
  const out = {};
  for (const k of ['put', 'verify', 'create', 'sign_part', 'complete', 'abort', 'list']) out[k] = b[k] - a[k];
  return out;
}

/** The bytes the page builds for `seed` (the same generator as in the page). */
function bytesOf(size, seed) {
  const b = Buffer.alloc(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
/** Installs the harness in the page: `H.uploader(opts)`, `H.file(...)`, `H.hung`. */
async function harness(page) {
  await page.evaluate(async () => {
    const mod = await import('/pkg/full/web/presigned_upload.js');
    await mod.default();
    const post = async (path, body) => {
      const r = await fetch(`/backend/multipart/${path}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      const text = await r.text();
      if (!r.ok) {
        const e = new Error(`${path}: HTTP ${r.status}: ${text}`);
        e.status = r.status;
        throw e;
      }
      return JSON.parse(text);
    };
    const never = (what) => { window.H.hung.push(what); return new Promise(() => {}); };
    window.H = {
      hung: [],
      progress: [],
      /** An Uploader through the sample backend's multipart callbacks; `stop` names where they hang. */
      uploader({ stop = {}, resume, verify = true } = {}) {
        const opts = {
          presign: '/backend/presign',
          verify: async (uuid) => {
            if (stop.verify) return never('verify');
            const r = await fetch('/backend/verify', {
              method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ file_uuid: uuid }),
            });
            if (!r.ok) throw new Error(`verify: HTTP ${r.status}`);
            return r.json();
          },
          multipart: {
            threshold: 5 * 1048576, partSize: 5 * 1048576, concurrency: 1,
            create: (a) => post('create', { file_name: a.fileName, content_type: a.contentType, size: a.size }),
            signPart: (a) => (stop.sign === a.partNumber ? never(`sign ${a.partNumber}`) : post('sign-part', a)),
            complete: (a) => (stop.complete ? never('complete') : post('complete', a)),
            abort: (a) => post('abort', a),
            listParts: (a) => post('list', a),
          },
        };
        if (resume !== undefined) opts.resume = resume;
        if (!verify) opts.verify = false;
        return new mod.Uploader(opts);
      },
      /** An Uploader signing in the browser (`s3`), multipart in 5 MiB parts; with `stopAtPart`, the PUT
       * of that part never answers. */
      async s3uploader(stopAtPart) {
        const c = await (await fetch('/config.json')).json();
        const credentials = async () => ({ accessKeyId: c.access_key_id, secretAccessKey: c.secret_access_key });
        if (stopAtPart && !window.H.realFetch) {
          const realFetch = window.fetch.bind(window);
          window.H.realFetch = realFetch;
          window.fetch = (input, init) => {
            const req = input instanceof Request ? input : null;
            const method = init?.method ?? req?.method;
            const url = new URL(req ? req.url : String(input), location.href);
            if (method === 'PUT' && url.searchParams.get('partNumber') === String(stopAtPart)) return never(`put ${stopAtPart}`);
            return realFetch(input, init);
          };
        }
        return new mod.Uploader({
          s3: { bucket: c.bucket, region: c.region, endpoint: c.s3_endpoint, forcePathStyle: true, keyPrefix: 'resume-e2e/', credentials },
          verify: false,
          multipart: { threshold: 5 * 1048576, partSize: 5 * 1048576, concurrency: 1 },
        });
      },
      /** The same bytes, name and lastModified for the same arguments: "the same file". */
      file(name, size, seed, lastModified) {
        const b = new Uint8Array(size);
        let x = seed >>> 0;
        for (let i = 0; i < size; i++) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          b[i] = x >>> 24;
        }
        return new File([b], name, { type: 'application/octet-stream', lastModified });
      },
    };
  });
}

async function open(context) {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${base}/plain.html`);
  await harness(page);
  return page;
}

async function reload(page) {
  await page.reload();
  await harness(page);
}

/** Starts uploads of `files` ([name, size, seed, lastModified]) that stop at `stop`; resolves
 * once every one has reached it. */
async function startAndStop(page, stop, files, resume) {
  await page.evaluate(({ stop, files, resume }) => {
    const up = window.H.uploader({ stop, resume });
    for (const f of files) up.upload(window.H.file(...f)).catch((e) => window.H.hung.push(`error ${e.code}: ${e.message}`));
  }, { stop, files, resume });
  await page.waitForFunction((n) => window.H.hung.length >= n, files.length, { timeout: 60_000 });
  const hung = await page.evaluate(() => window.H.hung);
  assert.ok(hung.every((h) => !h.startsWith('error')), `an upload failed before the stop: ${hung}`);
}

/** Uploads `files` again (at once) and resolves with their results and each first upload progress. */
async function uploadAgain(page, files, resume, verify = true) {
  return page.evaluate(async ({ files, resume, verify }) => {
    const up = window.H.uploader({ resume, verify });
    const pending = await up.pendingUploads();
    const results = await Promise.all(files.map(async (f) => {
      const first = [];
      const r = await up.upload(window.H.file(...f), {
        onProgress: (p) => { if (p.phase === 'upload' && first.length === 0) first.push(p.loaded); },
      });
      return { fileUuid: r.fileUuid, size: r.size, verified: r.verified, firstLoaded: first[0] };
    }));
    return { pending, results, after: await up.pendingUploads() };
  }, { files, resume, verify });
}

async function checkStored(result, size, seed) {
  const obj = await getJson(`${base}/__dev/object/${encodeURIComponent(result.fileUuid)}`);
  assert.equal(obj.exists, true, 'the object is not in the store');
  assert.equal(obj.size, size, 'the stored object has the wrong size');
  assert.equal(obj.sha256, sha256(bytesOf(size, seed)), 'the stored bytes differ from the file');
  assert.equal(result.size, size);
}

async function withContext(fn, init) {
  const context = await browser.newContext();
  if (init) await context.addInitScript(init);
  try {
    await fn(context);
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------- reload at each point

const POINTS = [
  // [name, stop, parts sent after the reload, list calls, complete calls]
  ['before any part', { sign: 1 }, 3, 1, 1],
  ['mid-way (part 1 of 3 sent)', { sign: 2 }, 2, 1, 1],
  ['every part sent, before complete', { complete: true }, 0, 1, 1],
  ['after complete, before verify', { verify: true }, 0, 0, 0],
];

for (const [name, stop, sent, lists, completes] of POINTS) {
  test(`reload ${name}: the same file resumes, only the missing parts are sent`, { timeout: TEST_TIMEOUT }, async () => {
    await withContext(async (context) => {
      const seed = 11 + sent + lists;
      const file = [`resume-${sent}-${lists}.bin`, SIZE, seed, LM];
      const page = await open(context);
      await startAndStop(page, stop, [file]);
      await reload(page);
      const before = await counters();
      const { pending, results, after } = await uploadAgain(page, [file]);
      const d = delta(before, await counters());
      assert.equal(pending.length, 1, 'pendingUploads() before the resume');
      assert.equal(pending[0].fileName, file[0]);
      assert.equal(pending[0].size, SIZE);
      assert.equal(pending[0].lastModified, LM);
      const done = SIZE - [PART, PART, SIZE - 2 * PART].slice(3 - sent).reduce((a, b) => a + b, 0);
      assert.equal(d.put, sent, `parts PUT after the reload (${JSON.stringify(d)})`);
      assert.equal(d.sign_part, sent, `parts signed after the reload (${JSON.stringify(d)})`);
      assert.equal(d.create, 0, 'a resumed upload is not created again');
      assert.equal(d.abort, 0, 'nothing is aborted');
      assert.equal(d.list, lists, 'listParts calls');
      assert.equal(d.complete, completes, 'complete calls');
      assert.equal(d.verify, 1, 'verify calls');
      if (!stop.verify) assert.equal(results[0].firstLoaded, done, 'the first progress reports the bytes already there');
      assert.equal(results[0].verified, true);
      await checkStored(results[0], SIZE, seed);
      assert.deepEqual(after, [], 'the record is forgotten once the upload is done');
      assert.deepEqual(page.errors, []);
    });
  });
}

// ---------------------------------------------------------------- edge cases

test('a changed file under the same name starts fresh, and the stale upload is aborted', { timeout: TEST_TIMEOUT }, async () => {
  await withContext(async (context) => {
    const page = await open(context);
    await startAndStop(page, { sign: 2 }, [['same-name.bin', SIZE, 21, LM]]);
    await reload(page);
    const stale = (await page.evaluate(() => window.H.uploader().pendingUploads()))[0];
    const before = await counters();
    const changed = ['same-name.bin', SIZE, 22, LM + 60_000];
    const { results, after } = await uploadAgain(page, [changed]);
    const d = delta(before, await counters());
    assert.equal(d.abort, 1, 'the stale upload is aborted');
    assert.equal(d.create, 1, 'the changed file is a new upload');
    assert.equal(d.put, 3, 'every part of the changed file is sent');
    await checkStored(results[0], SIZE, 22);
    const uploadId = stale.id.split(' ')[1];
    assert.equal((await counters()).uploads.some((u) => u.uploadId === uploadId), false, 'the stale upload is still in the store');
    assert.deepEqual(after, []);
  });
});

test('an upload aborted meanwhile starts fresh (listParts answers 404)', { timeout: TEST_TIMEOUT }, async () => {
  await withContext(async (context) => {
    const page = await open(context);
    const file = ['aborted-meanwhile.bin', SIZE, 31, LM];
    await startAndStop(page, { sign: 2 }, [file]);
    await reload(page);
    const [key, uploadId] = (await page.evaluate(() => window.H.uploader().pendingUploads()))[0].id.split(' ');
    await getJson(`${base}/backend/multipart/abort`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uploadId, key }),
    });
    const before = await counters();
    const { results, after } = await uploadAgain(page, [file]);
    const d = delta(before, await counters());
    assert.equal(d.list, 1);
    assert.equal(d.create, 1, 'a fresh upload is created');
    assert.equal(d.put, 3, 'every part is sent again');
    await checkStored(results[0], SIZE, 31);
    assert.deepEqual(after, []);
  });
});

test('two files resumed at once', { timeout: TEST_TIMEOUT }, async () => {
  await withContext(async (context) => {
    const page = await open(context);
    const files = [['two-a.bin', SIZE, 41, LM], ['two-b.bin', SIZE + 7, 42, LM + 1]];
    await startAndStop(page, { sign: 2 }, files);
    await reload(page);
    const before = await counters();
    const { pending, results, after } = await uploadAgain(page, files);
    const d = delta(before, await counters());
    assert.equal(pending.length, 2);
    assert.deepEqual(pending.map((p) => p.bytesDone), [PART, PART]);
    assert.equal(d.create, 0);
    assert.equal(d.put, 4, 'two missing parts of each file');
    assert.equal(d.list, 2);
    await checkStored(results[0], SIZE, 41);
    await checkStored(results[1], SIZE + 7, 42);
    assert.deepEqual(after, []);
  });
});

// The devserver's API (as Hexnode's) refuses to verify an empty object, so this one is not verified.
test('a 0-byte file: one PUT, no record, nothing pending', { timeout: TEST_TIMEOUT }, async () => {
  await withContext(async (context) => {
    const page = await open(context);
    const before = await counters();
    const { results, after } = await uploadAgain(page, [['empty.bin', 0, 5, LM]], undefined, false);
    const d = delta(before, await counters());
    assert.equal(d.put, 1);
    assert.equal(d.create, 0);
    await checkStored(results[0], 0, 5);
    assert.deepEqual(after, []);
  });
});

test('without IndexedDB resume is off, without an error', { timeout: TEST_TIMEOUT }, async () => {
  await withContext(async (context) => {
    const page = await open(context);
    assert.equal(await page.evaluate(() => typeof indexedDB), 'undefined');
    const file = ['no-idb.bin', SIZE, 51, LM];
    await startAndStop(page, { sign: 2 }, [file]);
    await reload(page);
    const before = await counters();
    const { pending, results, after } = await uploadAgain(page, [file]);
    const d = delta(before, await counters());
    assert.deepEqual(pending, []);
    assert.equal(d.create, 1);
    assert.equal(d.put, 3);
    await checkStored(results[0], SIZE, 51);
    assert.deepEqual(after, []);
    assert.deepEqual(page.errors, []);
  }, () => { Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true }); });
});

test('resume: false keeps no record', { timeout: TEST_TIMEOUT }, async () => {
  await withContext(async (context) => {
    const page = await open(context);
    const file = ['resume-off.bin', SIZE, 61, LM];
    await startAndStop(page, { sign: 2 }, [file], false);
    await reload(page);
    const pendingOn = await page.evaluate(() => window.H.uploader().pendingUploads());
    assert.deepEqual(pendingOn, [], 'a record was kept with resume: false');
    const before = await counters();
    const { results } = await uploadAgain(page, [file], false);
    const d = delta(before, await counters());
    assert.equal(d.create, 1);
    assert.equal(d.put, 3);
    await checkStored(results[0], SIZE, 61);
  });
});

test('a record older than resume.maxAgeMs is dropped and its upload aborted', { timeout: TEST_TIMEOUT }, async () => {
  await withContext(async (context) => {
    const page = await open(context);
    const file = ['too-old.bin', SIZE, 71, LM];
    await startAndStop(page, { sign: 2 }, [file]);
    await reload(page);
    await page.waitForTimeout(5);
    const before = await counters();
    const { pending, results, after } = await uploadAgain(page, [file], { maxAgeMs: 1 });
    const d = delta(before, await counters());
    assert.deepEqual(pending, [], 'an expired record is not pending');
    assert.equal(d.abort, 1, 'the expired upload is aborted');
    assert.equal(d.create, 1);
    assert.equal(d.put, 3);
    await checkStored(results[0], SIZE, 71);
    assert.deepEqual(after, []);
  });
});

test('discardPending(id) aborts the upload and forgets it', { timeout: TEST_TIMEOUT }, async () => {
  await withContext(async (context) => {
    const page = await open(context);
    await startAndStop(page, { sign: 2 }, [['discard-me.bin', SIZE, 81, LM]]);
    await reload(page);
    const before = await counters();
    const r = await page.evaluate(async () => {
      const up = window.H.uploader();
      const pending = await up.pendingUploads();
      const discarded = await up.discardPending(pending[0].id);
      const again = await up.discardPending(pending[0].id);
      return { pending, discarded, again, after: await up.pendingUploads() };
    });
    const d = delta(before, await counters());
    assert.equal(r.pending.length, 1);
    assert.equal(r.pending[0].bytesDone, PART);
    assert.equal(r.discarded, true);
    assert.equal(r.again, false);
    assert.deepEqual(r.after, []);
    assert.equal(d.abort, 1);
    const uploadId = r.pending[0].id.split(' ')[1];
    assert.equal((await counters()).uploads.some((u) => u.uploadId === uploadId), false);
  });
});

test('with the s3 source (signed in the browser): ListParts without ETags, the record gives them', { timeout: TEST_TIMEOUT }, async () => {
  await withContext(async (context) => {
    const page = await open(context);
    const file = ['s3-resume.bin', SIZE, 91, LM];
    await page.evaluate(async (f) => {
      const up = await window.H.s3uploader(2);
      up.upload(window.H.file(...f), { transport: 'fetch' }).catch((e) => window.H.hung.push(`error ${e.code}: ${e.message}`));
    }, file);
    await page.waitForFunction(() => window.H.hung.length >= 1, null, { timeout: 60_000 });
    assert.deepEqual(await page.evaluate(() => window.H.hung), ['put 2']);
    await reload(page);
    const before = await counters();
    const r = await page.evaluate(async (f) => {
      const up = await window.H.s3uploader();
      const pending = await up.pendingUploads();
      const res = await up.upload(window.H.file(...f));
      return { pending, size: res.size, after: await up.pendingUploads() };
    }, file);
    const after = await counters();
    assert.equal(r.pending.length, 1);
    assert.equal(r.pending[0].bytesDone, PART);
    assert.equal(after.put - before.put, 2, 'only parts 2 and 3 are sent again');
    const key = r.pending[0].id.split(' ')[0];
    await checkStored({ fileUuid: key, size: r.size }, SIZE, 91);
    assert.deepEqual(r.after, []);
    assert.deepEqual(page.errors, []);
  });
});

test('an upload running in this page is not pending, and is not resumed twice', { timeout: TEST_TIMEOUT }, async () => {
  await withContext(async (context) => {
    const page = await open(context);
    await startAndStop(page, { sign: 2 }, [['running.bin', SIZE, 101, LM]]);
    assert.deepEqual(await page.evaluate(() => window.H.uploader().pendingUploads()), [], 'a running upload is listed as pending');
    await reload(page);
    assert.equal((await page.evaluate(() => window.H.uploader().pendingUploads())).length, 1, 'after a reload it is pending');
  });
});

// ---------------------------------------------------------------- the form element (item 4)

/** Shows a <presigned-upload-form> (js/element.js, as the devserver serves it) whose uploader is the
 * harness's full-build Uploader, and waits until it shows `n` rows. */
async function showElement(page, n) {
  await page.evaluate(async () => {
    await import('/element.js');
    const el = document.createElement('presigned-upload-form');
    el.id = 'resume-form';
    el.setAttribute('multipart-threshold', String(5 * 1048576));
    el.setAttribute('part-size', String(5 * 1048576));
    el.uploader = window.H.uploader();
    document.body.append(el);
  });
  await page.waitForFunction((n) => document.querySelector('#resume-form').shadowRoot.querySelectorAll('li').length === n, n, { timeout: 30_000 });
  return page.locator('#resume-form');
}

async function rowData(el) {
  return el.locator('[data-testid=file-row]').evaluateAll((lis) => lis.map((li) => ({
    ...li.dataset,
    status: li.dataset.status,
    text: li.querySelector('[data-testid=file-status]').textContent,
    size: li.querySelector('[data-testid=file-size]').textContent,
    buttons: [...li.querySelectorAll('button')].filter((b) => !b.hidden).map((b) => `${b.dataset.testid}: ${b.getAttribute('aria-label')}`),
  })));
}

test('the form element shows a pending upload as a row asking for the file, and resumes it when that file is picked', { timeout: TEST_TIMEOUT }, async () => {
  await withContext(async (context) => {
    const seed = 111;
    const file = ['element-resume.bin', SIZE, seed, LM];
    const page = await open(context);
    await startAndStop(page, { sign: 2 }, [file]);
    await reload(page);
    const el = await showElement(page, 1);
    const [row] = await rowData(el);
    assert.equal(row.status, 'pending');
    assert.equal(row.name, file[0]);
    assert.equal(row.size, '12.0 MiB');
    assert.equal(row.progress, String(Math.floor((PART / SIZE) * 100)), 'the bar shows the bytes already sent');
    assert.equal(row.text, '5.00 MiB sent: select this file again to resume.');
    assert.deepEqual(row.buttons, [`remove: Discard upload of ${file[0]}`], 'a pending row offers Discard, and nothing else');
    assert.match(await el.locator('[data-testid=summary]').textContent(), /^1 file, 1 to resume\.$/);

    // Picked through the element's file input, as the picker does.
    const before = await counters();
    await page.evaluate((f) => {
      const input = document.querySelector('#resume-form').shadowRoot.querySelector('[data-testid=file-input]');
      const dt = new DataTransfer();
      dt.items.add(window.H.file(...f));
      input.files = dt.files;
      input.dispatchEvent(new Event('change'));
    }, file);
    await page.waitForFunction(() => document.querySelector('#resume-form').shadowRoot.querySelector('li').dataset.status === 'done', null, { timeout: 60_000 });
    const d = delta(before, await counters());
    const [done] = await rowData(el);
    assert.equal(await el.locator('[data-testid=file-row]').count(), 1, 'the pending row became the upload row, no second row');
    assert.equal(done.parts, '3');
    assert.equal(d.put, 2, `only the 2 missing parts are sent (${JSON.stringify(d)})`);
    assert.equal(d.sign_part, 2);
    assert.equal(d.create, 0, 'the upload is resumed, not created again');
    assert.equal(d.list, 1);
    assert.equal(d.complete, 1);
    assert.equal(d.abort, 0);
    assert.equal(d.verify, 1);
    const result = await page.evaluate(() => document.querySelector('#resume-form').results[0].result);
    assert.equal(result.fileUuid, done.uuid);
    await checkStored(result, SIZE, seed);
    assert.deepEqual(await page.evaluate(() => window.H.uploader().pendingUploads()), []);
    assert.deepEqual(page.errors, []);
  });
});

test('the form element: Discard on a pending row aborts the upload and removes the row', { timeout: TEST_TIMEOUT }, async () => {
  await withContext(async (context) => {
    const page = await open(context);
    await startAndStop(page, { sign: 2 }, [['element-discard.bin', SIZE, 121, LM]]);
    await reload(page);
    const pending = await page.evaluate(() => window.H.uploader().pendingUploads());
    assert.equal(pending.length, 1);
    const el = await showElement(page, 1);
    const before = await counters();
    await el.getByRole('button', { name: 'Discard upload of element-discard.bin' }).click();
    await page.waitForFunction(() => document.querySelector('#resume-form').shadowRoot.querySelectorAll('li').length === 0, null, { timeout: 30_000 });
    const d = delta(before, await counters());
    assert.equal(d.abort, 1, `the upload is aborted (${JSON.stringify(d)})`);
    assert.equal(d.put + d.create + d.complete, 0);
    const uploadId = pending[0].id.split(' ')[1];
    assert.equal((await counters()).uploads.some((u) => u.uploadId === uploadId), false, 'the upload is still in the store');
    assert.deepEqual(await page.evaluate(() => window.H.uploader().pendingUploads()), []);
    assert.equal(await el.locator('[data-testid=summary]').textContent(), 'No files yet.');
    assert.deepEqual(page.errors, []);
  });
});
