// End-to-end tests of the demo upload form (www/) in headless Chromium, against the devserver.
//
//   PU_WEB_BASE          the devserver's web address (required; `npm test` sets it)
//   PU_LIMITED_WEB_BASE  a second devserver started with a small `--rate-limit` (e.g. 10/1s; required for the
//                        rate-limit test; `npm test` sets it)
//
// Run: node --test --test-concurrency=1 tests/e2e/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../support/chromium.mjs';
import { getJson, requireEnv, sha256 } from '../support/env.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT_DIR = join(ROOT, 'test-output');
const MiB = 1024 * 1024;
const TEST_TIMEOUT = 180_000; // a hung page fails the test instead of the whole run

let browser;
let tmp;

before(async () => {
  // Checked here, so a missing variable fails every test instead of skipping any.
  requireEnv('PU_WEB_BASE', 'the tests need the devserver that serves www/ and the package');
  tmp = mkdtempSync(join(tmpdir(), 'pu-e2e-'));
  mkdirSync(OUT_DIR, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------- helpers

const stats = (base) => getJson(`${base}/__dev/stats`);
const multipart = (base) => getJson(`${base}/__dev/multipart`); // { uploads: [{uploadId, key, parts}], counters }
const storedObject = (base, uuid) => getJson(`${base}/__dev/object/${encodeURIComponent(uuid)}`);

/** Opens the demo in a fresh context and waits until the package is initialised. */
async function openDemo(base, { width = 1280, height = 900 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e));
  page.pageErrors = pageErrors;
  await page.goto(`${base}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  assert.equal(await page.locator('[data-testid=load-error]').isVisible(), false, 'the page shows a load error');
  return page;
}

async function closeDemo(page) {
  const errors = page.pageErrors.map((e) => String(e && e.stack ? e.stack : e));
  await page.context().close();
  assert.deepEqual(errors, [], 'uncaught errors in the page');
}

/** Limits the page's upload bandwidth (Chromium DevTools throttling), so uploads last long enough to act on. */
async function throttleUploads(page, bytesPerSecond) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}

// The rows are in the shadow root of the page's <presigned-upload-form>. Playwright's locators
// pierce it; code run in the page queries `shadowRoot` itself.
const rowSelector = (name) => `[data-testid=file-row][data-name="${name}"]`;
const row = (page, name) => page.locator(rowSelector(name));

/** Waits until the row of `name` has one of `statuses`; fails with the row's text otherwise. */
async function waitForStatus(page, name, statuses, timeout = 60_000) {
  const want = [].concat(statuses);
  try {
    await page.waitForFunction(
      ([sel, want]) => {
        const el = document.querySelector('presigned-upload-form').shadowRoot.querySelector(sel);
        return el && want.includes(el.dataset.status);
      },
      [rowSelector(name), want],
      { timeout, polling: 50 },
    );
  } catch (e) {
    const text = await row(page, name).innerText().catch(() => '(no row)');
    const status = await row(page, name).getAttribute('data-status').catch(() => null);
    assert.fail(`${name}: expected status ${want.join(' or ')} within ${timeout} ms, have ${status}: ${text.replace(/\s+/g, ' ')}`);
  }
  return row(page, name).getAttribute('data-status');
}

async function rowData(page, name) {
  return row(page, name).evaluate((el) => ({
    status: el.dataset.status,
    uuid: el.dataset.uuid,
    fileId: el.dataset.fileId,
    code: el.dataset.code,
    phases: el.dataset.phases,
    progress: el.querySelector('progress').value,
    progressMax: el.querySelector('progress').max,
    progressText: el.querySelector('[data-testid=progress-text]').textContent,
    statusText: el.querySelector('[data-testid=file-status]').textContent,
    size: el.querySelector('[data-testid=file-size]').textContent,
    type: el.querySelector('[data-testid=file-type]').textContent,
    via: el.querySelector('[data-testid=file-via]').textContent,
    cancelVisible: !el.querySelector('[data-testid=cancel]').hidden,
    retryVisible: !el.querySelector('[data-testid=retry]').hidden,
    pauseVisible: !el.querySelector('[data-testid=pause]').hidden,
    parts: el.querySelector('[data-testid=file-parts]').textContent,
  }));
}

/** Asserts that a row is done, fully uploaded and stored byte for byte; returns its data. */
async function assertStored(page, base, name, bytes) {
  const d = await rowData(page, name);
  assert.equal(d.status, 'done', `${name}: ${d.statusText}`);
  assert.equal(d.progress, 100, `${name}: progress bar at ${d.progress}`);
  assert.equal(d.progressMax, 100);
  assert.equal(d.progressText, '100%');
  assert.match(d.fileId ?? '', /^\d+$/, `${name}: no file id shown`);
  assert.equal(d.statusText, `Done — file id ${d.fileId}`);
  assert.match(d.uuid ?? '', /^[0-9a-f-]{36}$/, `${name}: no file uuid on the row`);
  const obj = await storedObject(base, d.uuid);
  assert.equal(obj.exists, true, `${name}: not in the store`);
  assert.equal(obj.size, bytes.length, `${name}: stored size`);
  assert.equal(obj.sha256, sha256(bytes), `${name}: stored bytes differ`);
  return d;
}

/** Opens "Advanced" and fills its fields. */
async function setAdvanced(page, { retries, rateLimit }) {
  const details = page.locator('details.advanced');
  if (!(await details.evaluate((d) => d.open))) await page.locator('details.advanced summary').click();
  if (retries !== undefined) await page.getByLabel('Retries on transient errors').fill(String(retries));
  if (rateLimit !== undefined) await page.getByLabel(/Client rate limit/).fill(String(rateLimit));
}

// ---------------------------------------------------------------- tests

test('three files (one of 20 MiB) upload through the Hexnode API, are stored, and the page looks right at 1280 and 390 px', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the demo');
  const files = [
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello from the e2e test\n'.repeat(200)) },
    { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify({ a: 1, list: [1, 2, 3] })) },
    { name: 'firmware-20MiB.bin', mimeType: 'application/octet-stream', buffer: randomBytes(20 * MiB) },
  ];
  const page = await openDemo(base);
  const before = await stats(base);

  // Prefilled from /config.json.
  const config = await getJson(`${base}/config.json`);
  assert.equal(await page.getByLabel('Portal URL').inputValue(), config.api_base);
  assert.equal(await page.getByLabel('API key').inputValue(), config.api_key);

  await page.setInputFiles('[data-testid=file-input]', files);
  assert.equal(await page.locator('[data-testid=file-row]').count(), 3);

  const big = await rowData(page, 'firmware-20MiB.bin');
  assert.equal(big.size, '20.0 MiB');
  assert.equal(big.type, 'application/octet-stream');
  assert.equal(big.via, 'via API');
  assert.equal((await rowData(page, 'notes.txt')).type, 'text/plain');

  for (const f of files) await waitForStatus(page, f.name, ['done', 'failed', 'cancelled'], 90_000);
  const ids = [];
  for (const f of files) ids.push((await assertStored(page, base, f.name, f.buffer)).fileId);
  assert.equal(new Set(ids).size, 3, `file ids must differ: ${ids}`);

  const after = await stats(base);
  assert.equal(after.api_presign - before.api_presign, 3, 'one presign per file');
  assert.equal(after.api_verify - before.api_verify, 3, 'one verify per file');
  assert.equal(after.store_put_with_authorization - before.store_put_with_authorization, 0, 'the PUT must not carry the API key');
  await assert.doesNotReject(page.locator('[data-testid=summary]').filter({ hasText: '3 files, 3 done.' }).waitFor({ timeout: 5_000 }));
  assert.equal(await page.getByTestId('cancel-all').isDisabled(), true, 'cancel-all enabled with nothing running');

  // Select one so the screenshots show a checked row and the enabled actions.
  await page.getByLabel('Select notes.txt').check();
  await page.locator('body').evaluate(() => { const a = document.activeElement; (a && a.shadowRoot && a.shadowRoot.activeElement || a)?.blur(); });

  await page.screenshot({ path: join(OUT_DIR, 'demo.png'), fullPage: true });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 1280, `horizontal overflow at 1280 px: ${wide}`);
  const bars = await page.$$eval('[data-testid=file-row] progress', (els) => els.map((el) => {
    const r = el.getBoundingClientRect();
    return `${Math.round(r.left)}+${Math.round(r.width)}`;
  }));
  assert.equal(new Set(bars).size, 1, `the progress bars do not line up: ${bars}`);

  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(OUT_DIR, 'demo-mobile.png'), fullPage: true });
  const narrow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(narrow <= 390, `horizontal overflow at 390 px: ${narrow}`);
  // Every row's progress bar, status and name stay inside the viewport.
  const outside = await page.evaluate(() =>
    [...document.querySelector('presigned-upload-form').shadowRoot.querySelectorAll('[data-testid=file-row] progress, [data-testid=file-row] [data-testid=file-status], [data-testid=drop-zone]')]
      .filter((el) => { const r = el.getBoundingClientRect(); return r.left < 0 || r.right > 390 || r.width < 40; })
      .map((el) => el.outerHTML.slice(0, 80)),
  );
  assert.deepEqual(outside, [], 'elements outside the 390 px viewport');
  const layout = await page.evaluate(() => ({
    bars: [...document.querySelector('presigned-upload-form').shadowRoot.querySelectorAll('[data-testid=file-row] progress')].map((el) => el.getBoundingClientRect().width),
    clipped: [...document.querySelector('presigned-upload-form').shadowRoot.querySelectorAll('[data-testid=file-name]')]
      .filter((el) => el.scrollWidth > el.clientWidth)
      .map((el) => el.textContent),
  }));
  assert.ok(layout.bars.every((w) => w >= 0.6 * 390), `progress bars too narrow for a phone: ${layout.bars}`);
  assert.deepEqual(layout.clipped, [], 'short file names are cut off at 390 px');
  await closeDemo(page);
});

test('a wrong API key shows "unauthorized" with a message, and Retry with the right key succeeds', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the demo');
  const page = await openDemo(base);
  const rightKey = await page.getByLabel('API key').inputValue();
  await page.getByLabel('API key').fill('hx_dev_this_key_is_wrong');

  const bytes = Buffer.from('not authorised yet');
  await page.setInputFiles('[data-testid=file-input]', [{ name: 'denied.txt', mimeType: 'text/plain', buffer: bytes }]);
  await waitForStatus(page, 'denied.txt', ['failed', 'done']);
  const d = await rowData(page, 'denied.txt');
  assert.equal(d.status, 'failed');
  assert.equal(d.code, 'unauthorized');
  assert.match(d.statusText, /^Failed: unauthorized (\(HTTP 401\) )?— \S/);
  assert.match(d.statusText, /401/, 'the HTTP status is not shown');
  const message = await row(page, 'denied.txt').getByTestId('error-message').textContent();
  assert.ok(message.trim().length > 10, `the error message is not readable: "${message}"`);
  assert.doesNotMatch(message, /hx_dev_this_key_is_wrong/, 'the error message must not echo the API key');
  assert.equal(d.retryVisible, true, 'no Retry button on the failed row');
  assert.equal(d.cancelVisible, false, 'Cancel still shown on a failed row');
  assert.match(await page.getByTestId('summary').textContent(), /1 failed/);
  assert.match(await page.getByTestId('announcer').textContent(), /unauthorized/);

  await page.getByLabel('API key').fill(rightKey);
  await row(page, 'denied.txt').getByRole('button', { name: 'Retry upload of denied.txt' }).click();
  await waitForStatus(page, 'denied.txt', ['done', 'failed']);
  await assertStored(page, base, 'denied.txt', bytes);
  assert.equal((await rowData(page, 'denied.txt')).code, undefined, 'the old error code is still on the row');
  await closeDemo(page);
});

test('the API rate limit shows "rate_limited" with no retries, and Retry with retries finishes them', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv(
    'PU_LIMITED_WEB_BASE',
    'the rate-limit test needs a second devserver started with a small limit, e.g. `--rate-limit 10/1s`',
  );
  const page = await openDemo(base);
  await setAdvanced(page, { retries: 0, rateLimit: 0 });
  // 15 small files, 3 at a time: 30 API calls within well under a second, over any small limit.
  const files = Array.from({ length: 15 }, (_, i) => ({
    name: `limited-${i}.txt`,
    mimeType: 'text/plain',
    buffer: Buffer.from(`file number ${i}\n`),
  }));
  const before = await stats(base);
  await page.setInputFiles('[data-testid=file-input]', files);
  for (const f of files) await waitForStatus(page, f.name, ['done', 'failed']);

  const failed = [];
  for (const f of files) {
    const d = await rowData(page, f.name);
    if (d.status === 'failed') failed.push({ f, d });
  }
  assert.ok(failed.length > 0, `no upload hit the rate limit (${files.length} files = ${2 * files.length} API calls)`);
  assert.ok((await stats(base)).api_429 > before.api_429, 'the server answered no 429');
  for (const { f, d } of failed) {
    assert.equal(d.code, 'rate_limited', `${f.name}: ${d.statusText}`);
    assert.match(d.statusText, /^Failed: rate_limited (\(HTTP 429\) )?— \S/, f.name);
    assert.match(d.statusText, /429/, `${f.name}: the HTTP status is not shown`);
  }

  // With retries (library default) the client waits for Retry-After and gets through.
  await page.getByLabel('Retries on transient errors').fill('');
  for (const { f } of failed) await row(page, f.name).getByTestId('retry').click();
  for (const { f } of failed) await waitForStatus(page, f.name, ['done', 'failed'], 90_000);
  for (const f of files) await assertStored(page, base, f.name, f.buffer);
  await closeDemo(page);
});

test('cancelling a 64 MiB upload mid-way shows it cancelled and never verifies it', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the demo');
  const path = join(tmp, 'big-64MiB.bin'); // Playwright takes buffers only up to 50 MB
  writeFileSync(path, Buffer.alloc(64 * MiB, 0x5a));
  const page = await openDemo(base);
  await throttleUploads(page, 16 * MiB); // ~4 s for the whole file: time to click
  const before = await stats(base);

  await page.setInputFiles('[data-testid=file-input]', path);
  const name = 'big-64MiB.bin';
  await page.waitForFunction(
    (sel) => { const el = document.querySelector('presigned-upload-form').shadowRoot.querySelector(sel); return el && el.dataset.status === 'uploading' && Number(el.dataset.progress) > 0; },
    rowSelector(name),
    { timeout: 30_000, polling: 20 },
  );
  const atClick = await rowData(page, name);
  assert.ok(atClick.progress > 0 && atClick.progress < 100, `progress when cancelling: ${atClick.progress}`);
  await row(page, name).getByRole('button', { name: `Cancel upload of ${name}` }).click();

  await waitForStatus(page, name, ['cancelled', 'done', 'failed'], 15_000);
  const d = await rowData(page, name);
  assert.equal(d.status, 'cancelled', d.statusText);
  assert.equal(d.statusText, 'Cancelled');
  assert.ok(!d.phases.split(' ').includes('verify'), `phases: ${d.phases}`);
  assert.equal(d.fileId, undefined, 'a cancelled row shows a file id');
  assert.ok(d.progress < 100, `progress after cancel: ${d.progress}`);
  assert.equal(d.cancelVisible, false);
  assert.equal(d.retryVisible, true);
  assert.equal(await page.getByTestId('row-select').isDisabled(), true, 'a cancelled file can be selected for deploy');

  await page.waitForTimeout(1_000); // a late verify would show up in the counters
  const after = await stats(base);
  assert.equal(after.api_verify - before.api_verify, 0, 'verify was called for a cancelled upload');
  assert.equal(after.api_presign - before.api_presign, 1);
  assert.match(await page.getByTestId('summary').textContent(), /1 cancelled/);
  await closeDemo(page);
});

test('at most 3 upload at once, and "Cancel all" cancels the running and the queued ones', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the demo');
  const page = await openDemo(base);
  await throttleUploads(page, 4 * MiB);
  // Record the largest number of rows running at the same time.
  await page.evaluate(() => {
    window.__maxRunning = 0;
    const root = document.querySelector('presigned-upload-form').shadowRoot;
    const running = () => root.querySelectorAll('[data-testid=file-row][data-status=presign], [data-testid=file-row][data-status=uploading], [data-testid=file-row][data-status=verifying]').length;
    new MutationObserver(() => { window.__maxRunning = Math.max(window.__maxRunning, running()); })
      .observe(root.querySelector('[data-testid=file-list]'), { subtree: true, attributes: true, attributeFilter: ['data-status'], childList: true });
  });
  const before = await stats(base);
  // Paths, not buffers: buffers travel through the (throttled) page and take seconds each.
  const files = Array.from({ length: 5 }, (_, i) => ({ name: `part-${i}.bin`, path: join(tmp, `part-${i}.bin`) }));
  for (const [i, f] of files.entries()) writeFileSync(f.path, Buffer.alloc(8 * MiB, i));
  await page.setInputFiles('[data-testid=file-input]', files.map((f) => f.path));
  await page.waitForFunction(() => document.querySelector('presigned-upload-form').shadowRoot.querySelectorAll('[data-testid=file-row][data-status=uploading]').length === 3, null, { timeout: 30_000 });
  const queued = await page.locator('[data-testid=file-row][data-status=queued]').count();
  assert.equal(queued, 2, 'two files should wait while three upload');

  await page.getByRole('button', { name: 'Cancel all' }).click();
  for (const f of files) await waitForStatus(page, f.name, ['cancelled', 'done', 'failed'], 15_000);
  for (const f of files) assert.equal((await rowData(page, f.name)).status, 'cancelled', f.name);
  assert.equal(await page.evaluate(() => window.__maxRunning), 3, 'more or fewer than 3 uploads ran at once');
  await page.waitForTimeout(500);
  const after = await stats(base);
  assert.equal(after.api_presign - before.api_presign, 3, 'a queued file was presigned after Cancel all');
  assert.equal(after.api_verify - before.api_verify, 0);
  assert.equal(await page.getByTestId('cancel-all').isDisabled(), true);
  await closeDemo(page);
});

test('"Through backend" mode uploads through /backend/presign and /backend/verify', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the demo');
  const page = await openDemo(base);
  await page.getByLabel('Through backend').check();
  assert.equal(await page.getByLabel('API key').isVisible(), false, 'the API key field is shown in backend mode');
  assert.equal(await page.getByTestId('backend-actions-note').isVisible(), true);

  const files = [
    { name: 'via-backend.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b\n1,2\n') },
    { name: 'via-backend.bin', mimeType: 'application/octet-stream', buffer: randomBytes(3 * MiB) },
  ];
  const before = await stats(base);
  await page.setInputFiles('[data-testid=file-input]', files);
  for (const f of files) await waitForStatus(page, f.name, ['done', 'failed']);
  for (const f of files) {
    const d = await assertStored(page, base, f.name, f.buffer);
    assert.equal(d.via, 'via backend');
    assert.equal(d.parts, '', `${f.name}: a small file is shown as multipart`);
    assert.equal(d.pauseVisible, false, `${f.name}: a small file has a Pause button`);
  }
  const after = await stats(base);
  assert.equal(after.backend_presign - before.backend_presign, 2, 'presign did not go through the backend');
  assert.equal(after.backend_verify - before.backend_verify, 2, 'verify did not go through the backend');
  assert.equal(after.api_presign - before.api_presign, 2, 'the backend forwards each presign to the API once');

  // Deploy / Delete need the API key: disabled here, even with a file selected.
  await page.getByLabel('Select via-backend.csv').check();
  assert.equal(await page.getByTestId('deploy').isDisabled(), true);
  assert.equal(await page.getByTestId('delete').isDisabled(), true);
  // Back in Hexnode mode they work on the same files.
  await page.getByLabel('Hexnode API').check();
  assert.equal(await page.getByTestId('delete').isEnabled(), true);
  await closeDemo(page);
});

/** Waits until the row of `name` uploads with progress above `min` %. */
async function waitForProgress(page, name, min = 0, timeout = 30_000) {
  await page.waitForFunction(
    ([sel, min]) => { const el = document.querySelector('presigned-upload-form').shadowRoot.querySelector(sel); return el && el.dataset.status === 'uploading' && Number(el.dataset.progress) > min; },
    [rowSelector(name), min],
    { timeout, polling: 20 },
  );
}

/** Waits until the store has no in-progress multipart upload other than those in `before`. */
async function waitNoNewMultipart(base, before, timeout = 10_000) {
  const known = new Set(before.uploads.map((u) => u.uploadId));
  const deadline = Date.now() + timeout;
  let left;
  do {
    left = (await multipart(base)).uploads.filter((u) => !known.has(u.uploadId));
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  } while (Date.now() < deadline);
  assert.deepEqual(left, [], 'multipart uploads left in progress in the store');
}

test('"Through backend": a 40 MiB file goes in 8 MiB parts, Pause keeps its progress, Resume sends only the missing parts', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the demo');
  const name = 'video-40MiB.bin';
  const path = join(tmp, name); // Playwright takes buffers only up to 50 MB
  const bytes = randomBytes(40 * MiB);
  writeFileSync(path, bytes);
  const page = await openDemo(base);
  assert.match(await page.getByTestId('hexnode-multipart-note').textContent(), /Hexnode API has no multipart endpoints/);
  await page.getByLabel('Through backend').check();
  assert.equal(await page.getByTestId('hexnode-multipart-note').isVisible(), false);
  await setAdvanced(page, {});
  assert.equal(await page.getByLabel('Threshold (MiB)').inputValue(), '16');
  assert.equal(await page.getByLabel('Part size (MiB)').inputValue(), '8');
  assert.equal(await page.getByLabel('Parts in parallel per file').inputValue(), '4');
  await throttleUploads(page, 8 * MiB); // 4 parts of 8 MiB at once: ~4 s before the first one is stored
  const before = await multipart(base);
  const statsBefore = await stats(base);

  await page.setInputFiles('[data-testid=file-input]', path);
  await waitForProgress(page, name);
  let d = await rowData(page, name);
  assert.equal(d.parts, 'multipart: 5 parts');
  assert.equal(d.via, 'via backend');
  assert.equal(d.pauseVisible, true, 'no Pause button on a multipart row');
  assert.equal(d.cancelVisible, true);
  const pause = row(page, name).getByTestId('pause');
  assert.equal(await pause.getAttribute('aria-label'), `Pause upload of ${name}`);
  await row(page, name).getByRole('button', { name: `Pause upload of ${name}` }).click();

  await waitForStatus(page, name, ['paused', 'done', 'failed'], 10_000);
  d = await rowData(page, name);
  assert.equal(d.status, 'paused', d.statusText);
  assert.equal(d.statusText, 'Paused');
  assert.ok(d.progress > 0 && d.progress < 100, `progress when paused: ${d.progress}`);
  assert.equal(await pause.textContent(), 'Resume');
  assert.equal(await pause.getAttribute('aria-label'), `Resume upload of ${name}`);
  assert.equal(await pause.evaluate((el) => el === el.getRootNode().activeElement), true, 'focus left the Pause/Resume button');
  assert.match(await page.getByTestId('summary').textContent(), /1 paused/);
  await page.waitForTimeout(600);
  const first = (await rowData(page, name)).progress;
  await page.waitForTimeout(600);
  const second = (await rowData(page, name)).progress;
  assert.equal(second, first, `progress grew while paused: ${first}% → ${second}%`);
  assert.ok(first >= d.progress, `progress went back on pause: ${d.progress}% → ${first}%`);
  const atPause = await multipart(base);
  const mine = atPause.uploads.filter((u) => !before.uploads.some((b) => b.uploadId === u.uploadId));
  assert.equal(mine.length, 1, `one multipart upload in progress: ${JSON.stringify(atPause.uploads)}`);
  const storedAtPause = mine[0].parts;

  await page.screenshot({ path: join(OUT_DIR, 'demo-paused.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(OUT_DIR, 'demo-paused-mobile.png'), fullPage: true });
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, 'horizontal overflow at 390 px while paused');
  await page.setViewportSize({ width: 1280, height: 900 });

  // Resume from the keyboard: the button keeps focus, Enter presses it.
  await pause.focus();
  await page.keyboard.press('Enter');
  await waitForStatus(page, name, ['done', 'failed', 'cancelled'], 30_000);
  d = await assertStored(page, base, name, bytes);
  assert.equal(d.uuid, mine[0].key, 'the row\'s file uuid is the multipart key');
  assert.equal(d.pauseVisible, false, 'Pause shown on a finished row');
  assert.equal(d.cancelVisible, false);

  const after = await multipart(base);
  const c = (k) => after.counters[k] - before.counters[k];
  assert.equal(c('create'), 1);
  assert.equal(c('complete'), 1);
  assert.equal(c('abort'), 0);
  assert.ok(c('list') >= 1, 'resume did not ask which parts are stored');
  assert.equal(after.counters.sign_part - atPause.counters.sign_part, 5 - storedAtPause,
    `resume must send only the ${5 - storedAtPause} missing parts (${storedAtPause} stored at the pause)`);
  await waitNoNewMultipart(base, before);
  const statsAfter = await stats(base);
  assert.equal(statsAfter.backend_verify - statsBefore.backend_verify, 1, 'verified once');
  assert.equal(statsAfter.backend_presign - statsBefore.backend_presign, 0, 'a multipart file must not be presigned as one PUT');
  await closeDemo(page);
});

test('"Through backend": cancelling a multipart upload, running or paused, leaves none in progress in the store', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the demo');
  const files = ['cancel-running-24MiB.bin', 'cancel-paused-24MiB.bin'];
  for (const [i, f] of files.entries()) writeFileSync(join(tmp, f), Buffer.alloc(24 * MiB, 0x30 + i));
  const page = await openDemo(base);
  await page.getByLabel('Through backend').check();
  await throttleUploads(page, 8 * MiB);
  const before = await multipart(base);
  const statsBefore = await stats(base);

  await page.setInputFiles('[data-testid=file-input]', files.map((f) => join(tmp, f)));
  for (const f of files) await waitForProgress(page, f);
  for (const f of files) assert.equal((await rowData(page, f)).parts, 'multipart: 3 parts', f);
  await row(page, files[1]).getByRole('button', { name: `Pause upload of ${files[1]}` }).click();
  await waitForStatus(page, files[1], ['paused', 'done', 'failed'], 10_000);
  assert.equal((await rowData(page, files[1])).status, 'paused');
  for (const f of files) await row(page, f).getByRole('button', { name: `Cancel upload of ${f}` }).click();

  for (const f of files) {
    await waitForStatus(page, f, ['cancelled', 'done', 'failed'], 15_000);
    const d = await rowData(page, f);
    assert.equal(d.status, 'cancelled', `${f}: ${d.statusText}`);
    assert.equal(d.fileId, undefined);
    assert.equal(d.pauseVisible, false, `${f}: Pause shown on a cancelled row`);
    assert.equal(d.retryVisible, true);
  }
  await waitNoNewMultipart(base, before);
  const after = await multipart(base);
  assert.equal(after.counters.abort - before.counters.abort, 2, 'each cancelled upload is aborted once');
  assert.equal(after.counters.complete - before.counters.complete, 0);
  assert.equal((await stats(base)).backend_verify - statsBefore.backend_verify, 0, 'a cancelled upload was verified');
  assert.match(await page.getByTestId('summary').textContent(), /2 cancelled/);
  assert.equal(await page.getByTestId('cancel-all').isDisabled(), true);
  await closeDemo(page);
});

test('Deploy and Delete on the selected files show the API\'s messages', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the demo');
  const page = await openDemo(base);
  const files = [
    { name: 'deploy-a.txt', mimeType: 'text/plain', buffer: Buffer.from('A') },
    { name: 'deploy-b.txt', mimeType: 'text/plain', buffer: Buffer.from('B') },
    { name: 'keep.txt', mimeType: 'text/plain', buffer: Buffer.from('keep me') },
  ];
  await page.setInputFiles('[data-testid=file-input]', files);
  for (const f of files) await waitForStatus(page, f.name, ['done', 'failed']);
  const data = {};
  for (const f of files) data[f.name] = await assertStored(page, base, f.name, f.buffer);

  assert.equal(await page.getByTestId('deploy').isDisabled(), true, 'Deploy enabled with nothing selected');
  await page.getByLabel('Select all uploaded files').check();
  assert.equal(await page.getByTestId('selected-count').textContent(), '3 selected');
  await page.getByLabel('Select keep.txt').uncheck();
  assert.equal(await page.getByTestId('selected-count').textContent(), '2 selected');

  // A bad device list is caught before calling the API.
  const before = await stats(base);
  await page.getByLabel('Device ids (comma-separated)').fill('12, abc');
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await page.locator('[data-testid=action-result][data-kind=error]').waitFor({ timeout: 10_000 });
  assert.match(await page.getByTestId('action-result').textContent(), /invalid_input.*abc/);

  await page.getByLabel('Device ids (comma-separated)').fill('12, 15');
  await page.getByLabel('File path on the device').fill('/sdcard/Download/e2e');
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await page.locator('[data-testid=action-result][data-kind=success]').waitFor({ timeout: 15_000 });
  assert.equal(await page.getByTestId('action-result').textContent(), 'Action Created');
  const mid = await stats(base);
  assert.equal(mid.api_deploy - before.api_deploy, 1, 'exactly one deploy call');

  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.locator('[data-testid=action-result][data-kind=success]', { hasText: 'Files are Deleted Successfully' }).waitFor({ timeout: 15_000 });
  assert.equal(await page.getByTestId('action-result').textContent(), 'Files are Deleted Successfully');
  assert.equal((await stats(base)).api_delete - mid.api_delete, 1);

  for (const name of ['deploy-a.txt', 'deploy-b.txt']) {
    const d = await rowData(page, name);
    assert.equal(d.status, 'deleted', name);
    assert.equal((await storedObject(base, data[name].uuid)).exists, false, `${name} is still in the store`);
  }
  assert.equal((await rowData(page, 'keep.txt')).status, 'done');
  assert.equal((await storedObject(base, data['keep.txt'].uuid)).exists, true, 'an unselected file was deleted');
  assert.equal(await page.getByTestId('selected-count').textContent(), '0 selected');
  assert.equal(await page.getByTestId('delete').isDisabled(), true);

  // The API's own error is shown too: deleting an already deleted id.
  await page.getByLabel('Select keep.txt').check();
  const client = await page.evaluate(async ([id]) => {
    const { HexnodeClient } = await import('/pkg/web/presigned_upload.js');
    const portal = document.getElementById('portal').value;
    const apiKey = document.getElementById('api-key').value;
    try { await new HexnodeClient({ portal, apiKey }).deleteFiles([Number(id)]); return 'ok'; } catch (e) { return e.code; }
  }, [data['keep.txt'].fileId]);
  assert.equal(client, 'ok', 'could not delete keep.txt behind the page');
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.locator('[data-testid=action-result][data-kind=error]').waitFor({ timeout: 15_000 });
  assert.match(await page.getByTestId('action-result').textContent(), /^Delete failed: \w+ (\(HTTP 400\) )?— .*deleted/);
  assert.match(await page.getByTestId('action-result').textContent(), /400/);
  await closeDemo(page);
});

test('keyboard, labels and drag-and-drop: Enter on the drop zone opens the picker, dropped files upload', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the demo');
  const page = await openDemo(base);
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea'), ...document.querySelector('presigned-upload-form').shadowRoot.querySelectorAll('input, select, textarea')]
      .filter((el) => el.labels === null || el.labels.length === 0)
      .map((el) => el.id || el.outerHTML.slice(0, 60)),
  );
  assert.deepEqual(unlabelled, []);
  assert.ok(await page.locator('[aria-live]').count() >= 2, 'no aria-live status region');

  // Listen for the picker now: Playwright turns on file-chooser interception asynchronously, and
  // an Enter pressed before that lands would open a native dialog that never reports here.
  const chooserPromise = page.waitForEvent('filechooser', { timeout: 30_000 });
  chooserPromise.catch(() => {}); // awaited below; avoid an unhandled rejection if we fail earlier
  await page.waitForTimeout(200);

  // Tab until the drop zone has focus (it is a real button, in the tab order).
  let focused = '';
  for (let i = 0; i < 30 && focused !== 'drop-zone'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => {
      const a = document.activeElement;
      const inner = a && a.shadowRoot && a.shadowRoot.activeElement;
      return inner ? inner.dataset.testid : a && a.id;
    });
  }
  assert.equal(focused, 'drop-zone', 'the drop zone is not reachable with Tab');
  await page.keyboard.press('Enter');
  const chooser = await chooserPromise;
  assert.equal(chooser.isMultiple(), true, 'the picker does not allow several files');
  const bytes = Buffer.from('picked with the keyboard');
  await chooser.setFiles([{ name: 'keyboard.txt', mimeType: 'text/plain', buffer: bytes }]);
  await waitForStatus(page, 'keyboard.txt', ['done', 'failed']);
  await assertStored(page, base, 'keyboard.txt', bytes);

  // The row's buttons and checkbox are reachable by their accessible names.
  assert.equal(await page.getByRole('checkbox', { name: 'Select keyboard.txt' }).isEnabled(), true);
  assert.equal(await page.getByRole('progressbar', { name: 'Upload progress of keyboard.txt' }).getAttribute('value'), '100');

  // Dropping files on the zone adds and uploads them like the picker does.
  const dataTransfer = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped one'], 'dropped-1.txt', { type: 'text/plain' }));
    dt.items.add(new File(['dropped two'], 'dropped-2.txt', { type: 'text/plain' }));
    return dt;
  });
  await page.dispatchEvent('[data-testid=drop-zone]', 'dragenter', { dataTransfer });
  assert.equal(await page.locator('[data-testid=drop-zone].dragover').count(), 1, 'no drag-over highlight');
  await page.dispatchEvent('[data-testid=drop-zone]', 'drop', { dataTransfer });
  for (const name of ['dropped-1.txt', 'dropped-2.txt']) {
    await waitForStatus(page, name, ['done', 'failed']);
    await assertStored(page, base, name, Buffer.from(name === 'dropped-1.txt' ? 'dropped one' : 'dropped two'));
  }
  assert.equal(await page.locator('[data-testid=drop-zone].dragover').count(), 0, 'the highlight stays after the drop');
  await closeDemo(page);
});
