// End-to-end tests of <presigned-upload-form> (js/element.js) in headless Chromium, against the devserver.
// Each test serves a small page (through Playwright's routing, on the devserver's origin) that loads the
// element the way a plain page does: an import map for `presigned-upload/element` (the devserver serves
// js/element.js as /element.js) and `presigned-upload/web` (/pkg/). The demo (www/) is tested by demo.test.mjs.
//
//   PU_WEB_BASE   the devserver's web address, started with --faults (required; `npm test` sets it)
//
// Run: node --test tests/e2e/element.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../support/chromium.mjs';
import { getJson, requireEnv, sha256 } from '../support/env.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT_DIR = join(ROOT, 'test-output');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const TEST_TIMEOUT = 120_000;
const MiB = 1024 * 1024;

let browser;
before(async () => {
  requireEnv('PU_WEB_BASE', 'the tests need the devserver that serves the element, the package and the backend');
  mkdirSync(OUT_DIR, { recursive: true });
  browser = await launchChromium();
});
after(async () => {
  if (browser) await browser.close();
});

const stats = (base) => getJson(`${base}/__dev/stats`);
const storedObject = (base, uuid) => getJson(`${base}/__dev/object/${encodeURIComponent(uuid)}`);

/** Records the element's events as seen on `document` (so they bubbled out of it) in `window.__events`. */
const RECORDER = `
  window.__events = [];
  for (const type of ['upload-start', 'upload-progress', 'upload-success', 'upload-error', 'queue-complete']) {
    document.addEventListener(type, (e) => window.__events.push({ type, bubbles: e.bubbles, composed: e.composed,
      file: e.file ? e.file.name : null, detail: JSON.parse(JSON.stringify(e.detail, (k, v) => (v instanceof File ? { name: v.name } : v instanceof Error ? { name: v.name, code: v.code, message: v.message } : v))) }));
  }`;

/**
 * Opens `url` (a page of www/), or a page made of `body` and the module `script` on the devserver's
 * origin. Records every request the page makes (`page.requests`), the element's events
 * (`window.__events`) and uncaught errors.
 */
async function openPage(base, { url, body, script = "import 'presigned-upload/element';", head = '', width = 1280, colorScheme = 'light' }) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, colorScheme });
  const page = await context.newPage();
  page.pageErrors = [];
  page.on('pageerror', (e) => page.pageErrors.push(e));
  page.requests = [];
  page.on('request', (r) => page.requests.push(r.url()));
  if (url) {
    await page.addInitScript(RECORDER);
    await page.goto(`${base}${url}`);
  } else {
    // A page of the devserver's origin first (a 404), then the test's page built into it: Chromium lets
    // only a page that came from a loopback address reach the loopback store (local network access).
    await page.goto(`${base}/__element-test`);
    page.requests.length = 0;
    await page.evaluate(([recorder, head, body, script]) => {
      document.documentElement.lang = 'en';
      document.head.innerHTML = `<title>Element test</title><meta name="viewport" content="width=device-width, initial-scale=1">${head}`;
      const map = document.createElement('script');
      map.type = 'importmap';
      map.textContent = JSON.stringify({ imports: { 'presigned-upload/web': '/pkg/web/presigned_upload.js', 'presigned-upload/element': '/element.js' } });
      document.head.append(map);
      (0, eval)(recorder);
      document.body.innerHTML = `<main><h1>Upload</h1>${body}</main>`;
      const module = document.createElement('script');
      module.type = 'module';
      module.textContent = script;
      document.body.append(module);
    }, [RECORDER, head, body, script]);
  }
  await page.waitForFunction(() => customElements.get('presigned-upload-form'), null, { timeout: 30_000 });
  return page;
}

async function closePage(page) {
  const errors = page.pageErrors.map((e) => String(e && e.stack ? e.stack : e));
  await page.context().close();
  assert.deepEqual(errors, [], 'uncaught errors in the page');
}

const rowSelector = (name) => `[data-testid=file-row][data-name="${name}"]`;
const row = (page, name) => page.locator(rowSelector(name));

async function waitForStatus(page, name, statuses, timeout = 60_000) {
  const want = [].concat(statuses);
  try {
    await page.waitForFunction(([sel, want]) => {
      const el = document.querySelector('presigned-upload-form').shadowRoot.querySelector(sel);
      return el && want.includes(el.dataset.status);
    }, [rowSelector(name), want], { timeout, polling: 50 });
  } catch {
    const text = await row(page, name).innerText().catch(() => '(no row)');
    assert.fail(`${name}: expected status ${want.join(' or ')} within ${timeout} ms: ${text.replace(/\s+/g, ' ')}`);
  }
}

/** The element inside the page's shadow roots that has focus: `data-testid` or aria-label. */
const focused = (page) => page.evaluate(() => {
  let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  return a ? a.getAttribute('aria-label') || a.dataset.testid || a.tagName : null;
});

/** Runs axe-core on the page (shadow roots included); fails with each violation's rule and nodes. */
async function assertNoAxeViolations(page, what) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() => window.axe.run(document));
  const violations = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(violations, [], `axe-core violations (${what})`);
  assert.ok(result.passes.length > 10, `axe-core checked almost nothing (${what})`);
}

const wasmRequests = (page) => page.requests.filter((u) => u.endsWith('.wasm'));
const glueRequests = (page) => page.requests.filter((u) => u.endsWith('/presigned_upload.js'));

// ---------------------------------------------------------------- tests

test('plain page with an import map: the element loads the wasm once, when the first file starts, uploads through presign/verify, and fires its events', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the page');
  // www/plain.html is the README's plain page: an import map, `import "presigned-upload/element"`, and
  // <presigned-upload-form presign="/backend/presign" verify="/backend/verify" multiple>.
  const page = await openPage(base, { url: '/plain.html' });
  assert.deepEqual(wasmRequests(page), [], 'the wasm was loaded before any file was chosen');
  assert.deepEqual(glueRequests(page), [], 'presigned-upload/web was imported before any file was chosen');
  // The events cross a shadow root: a listener in a host's shadow tree sees them from the document.
  assert.equal(await page.evaluate(() => document.querySelector('presigned-upload-form').shadowRoot.mode), 'open');

  const files = [
    { name: 'first.txt', mimeType: 'text/plain', buffer: Buffer.from('the first file\n'.repeat(100)) },
    { name: 'second.bin', mimeType: 'application/octet-stream', buffer: randomBytes(3 * MiB) },
  ];
  const before = await stats(base);
  await page.setInputFiles('[data-testid=file-input]', files);
  for (const f of files) await waitForStatus(page, f.name, ['done', 'failed']);
  await page.waitForFunction(() => window.__events.some((e) => e.type === 'queue-complete'), null, { timeout: 10_000 });

  const after = await stats(base);
  assert.equal(after.backend_presign - before.backend_presign, 2, 'one presign per file through /backend/presign');
  assert.equal(after.backend_verify - before.backend_verify, 2, 'one verify per file through /backend/verify');
  assert.equal(wasmRequests(page).length, 1, `the wasm was fetched ${wasmRequests(page).length} times`);
  assert.equal(glueRequests(page).length, 1, 'presigned-upload/web was loaded more than once');

  const events = await page.evaluate(() => window.__events);
  for (const e of events) assert.ok(e.bubbles && e.composed, `${e.type} does not bubble or is not composed`);
  const of = (type, name) => events.filter((e) => e.type === type && (name === undefined || e.file === name));
  for (const f of files) {
    assert.equal(of('upload-start', f.name).length, 1, `${f.name}: upload-start`);
    assert.equal(of('upload-start', f.name)[0].detail.file.name, f.name);
    const progress = of('upload-progress', f.name).map((e) => e.detail);
    const phases = [...new Set(progress.map((p) => p.phase))];
    assert.ok(phases.includes('upload') && phases.includes('verify') && phases.every((p) => ['presign', 'upload', 'verify'].includes(p)), `${f.name}: progress phases ${phases}`);
    const sent = progress.filter((p) => p.phase === 'upload');
    assert.deepEqual([sent.at(-1).loaded, sent.at(-1).total], [f.buffer.length, f.buffer.length], `${f.name}: the last upload progress`);
    const success = of('upload-success', f.name);
    assert.equal(success.length, 1, `${f.name}: upload-success`);
    const result = success[0].detail;
    assert.equal(result.fileName, f.name);
    assert.equal(result.size, f.buffer.length);
    assert.equal(result.verified, true);
    assert.match(String(result.fileId), /^\d+$/);
    const stored = await storedObject(base, result.fileUuid);
    assert.deepEqual([stored.exists, stored.sha256], [true, sha256(f.buffer)], `${f.name}: not stored byte for byte`);
    assert.equal(await row(page, f.name).getAttribute('data-file-id'), String(result.fileId));
    assert.equal(await row(page, f.name).getByTestId('file-via').textContent(), 'via backend');
  }
  assert.equal(of('upload-error').length, 0);
  const complete = of('queue-complete');
  assert.equal(complete.length, 1, 'queue-complete once');
  assert.deepEqual(complete[0].detail.map((r) => [r.file.name, r.ok, r.result.fileName]), files.map((f) => [f.name, true, f.name]));

  // results is read-only and in order; reset() clears the finished rows.
  const state = await page.evaluate(() => {
    'use strict';
    const el = document.querySelector('presigned-upload-form');
    let threw = false;
    try { el.results = []; } catch { threw = true; }
    const results = el.results;
    let frozen = Object.isFrozen(results);
    try { results.push(1); frozen = false; } catch { /* frozen */ }
    return { threw, frozen, names: results.map((r) => r.result.fileName) };
  });
  assert.deepEqual(state, { threw: true, frozen: true, names: files.map((f) => f.name) });
  await page.evaluate(() => document.querySelector('presigned-upload-form').reset());
  assert.equal(await page.locator('[data-testid=file-row]').count(), 0, 'reset() left rows');
  assert.equal(await page.getByTestId('summary').textContent(), 'No files yet.');
  assert.equal(await page.evaluate(() => document.querySelector('presigned-upload-form').results.length), 0);
  await closePage(page);
});

test('a page that passes its own uploader: the element imports nothing, unauthorized says to check the key, and upload-error carries the UploadError', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the page');
  const page = await openPage(base, {
    body: '<presigned-upload-form></presigned-upload-form>',
    script: `
      import init, { HexnodeClient } from 'presigned-upload/web';
      import 'presigned-upload/element';
      await init();
      const c = await (await fetch('/config.json')).json();
      document.querySelector('presigned-upload-form').uploader = new HexnodeClient({ portal: c.api_base, apiKey: 'hx_dev_wrong_key', retry: { retries: 0 } });
      document.body.dataset.ready = 'true';`,
  });
  await page.waitForSelector('body[data-ready=true]');
  const before = await stats(base);
  await page.setInputFiles('[data-testid=file-input]', [{ name: 'denied.txt', mimeType: 'text/plain', buffer: Buffer.from('no') }]);
  await waitForStatus(page, 'denied.txt', ['failed', 'done']);
  assert.equal((await stats(base)).api_presign - before.api_presign, 1);
  assert.equal(wasmRequests(page).length, 1, 'a second copy of the wasm was loaded');
  assert.equal(glueRequests(page).length, 1);

  const r = row(page, 'denied.txt');
  assert.equal(await r.getAttribute('data-code'), 'unauthorized');
  assert.equal(await r.getByTestId('file-via').textContent(), 'via API');
  const message = await r.getByTestId('error-message').textContent();
  assert.match(message, /key/i, `unauthorized does not mention the key: ${message}`);
  assert.doesNotMatch(message, /hx_dev_wrong_key/, 'the message shows the API key');
  assert.match(await r.getByTestId('file-status').textContent(), /^Failed: unauthorized (\(HTTP 401\) )?— /);
  const errors = await page.evaluate(() => window.__events.filter((e) => e.type === 'upload-error'));
  assert.equal(errors.length, 1);
  assert.equal(errors[0].file, 'denied.txt');
  assert.deepEqual([errors[0].detail.name, errors[0].detail.code, errors[0].detail.message], ['UploadError', 'unauthorized', message]);
  assert.equal(await page.evaluate(() => window.__events.filter((e) => e.type === 'upload-success').length), 0);
  await closePage(page);
});

/** Arms the devserver's fault script (`--faults`); the response says what was armed. */
async function armFaults(base, script) {
  const res = await fetch(`${base}/__faults`, { method: script ? 'POST' : 'DELETE', headers: { 'Content-Type': 'application/json' }, body: script ? JSON.stringify(script) : undefined });
  assert.ok(res.ok, `${script ? 'POST' : 'DELETE'} /__faults answered HTTP ${res.status}: ${await res.text()} (is PU_WEB_BASE a devserver started with --faults?)`);
}

test('the error text comes from the UploadError: rate_limited shows the wait, cors gives the fix', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the page (a devserver started with --faults, as `npm test` does)');
  const page = await openPage(base, {
    body: '<presigned-upload-form multiple></presigned-upload-form>',
    script: `
      import init, { HexnodeClient } from 'presigned-upload/web';
      import 'presigned-upload/element';
      await init();
      const c = await (await fetch('/config.json')).json();
      document.querySelector('presigned-upload-form').uploader = new HexnodeClient({ portal: c.api_base, apiKey: c.api_key, retry: { retries: 0 }, rateLimitPerMinute: 0 });
      document.body.dataset.ready = 'true';`,
  });
  await page.waitForSelector('body[data-ready=true]');
  try {
    const before = await stats(base);
    await armFaults(base, { match: 'api', status: 429, retry_after: 7 });
    await page.setInputFiles('[data-testid=file-input]', [{ name: 'throttled.txt', mimeType: 'text/plain', buffer: Buffer.from('t') }]);
    await waitForStatus(page, 'throttled.txt', ['failed', 'done']);
    const throttled = row(page, 'throttled.txt');
    assert.equal(await throttled.getAttribute('data-code'), 'rate_limited');
    assert.match(await throttled.getByTestId('file-status').textContent(), /^Failed: rate_limited .*wait 7 s/);

    await armFaults(base, { match: 'store_put', status: 403, no_cors: true });
    await page.setInputFiles('[data-testid=file-input]', [{ name: 'hidden.txt', mimeType: 'text/plain', buffer: Buffer.from('h') }]);
    await waitForStatus(page, 'hidden.txt', ['failed', 'done']);
    const hidden = row(page, 'hidden.txt');
    assert.equal(await hidden.getAttribute('data-code'), 'cors');
    const advice = await hidden.getByTestId('error-message').textContent();
    for (const rule of [/CORS/, /AllowedOrigins/, /AllowedMethods PUT/, /ExposeHeaders ETag/]) assert.match(advice, rule, `the cors message gives no fix: ${advice}`);
    const after = await stats(base);
    assert.equal(after.fault_status - before.fault_status, 2, 'the two faults did not both fire');
    assert.equal(after.api_verify - before.api_verify, 0, 'a failed upload was verified');
  } finally {
    await armFaults(base, null);
  }
  await closePage(page);
});

test('accept, max-size and max-files refuse files before any request, and say why', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the page');
  const page = await openPage(base, {
    body: '<presigned-upload-form presign="/backend/presign" verify="/backend/verify" multiple accept=".txt, image/*" max-size="1000" max-files="2"></presigned-upload-form>',
  });
  const before = await stats(base);
  const requestsBefore = page.requests.length;
  await page.setInputFiles('[data-testid=file-input]', [
    { name: 'too-big.txt', mimeType: 'text/plain', buffer: Buffer.alloc(1001, 0x61) },
    { name: 'tool.exe', mimeType: 'application/x-msdownload', buffer: Buffer.from('MZ') },
  ]);
  for (const name of ['too-big.txt', 'tool.exe']) await waitForStatus(page, name, ['refused']);
  assert.equal(await row(page, 'too-big.txt').getByTestId('file-status').textContent(), 'Refused: too-big.txt is 1001 B, over the 1000 B limit.');
  assert.equal(await row(page, 'tool.exe').getByTestId('file-status').textContent(), 'Refused: tool.exe is not an accepted type (.txt, image/*).');
  for (const name of ['too-big.txt', 'tool.exe']) {
    assert.equal(await row(page, name).getByTestId('retry').isVisible(), false, `${name}: a refused file offers Retry`);
    assert.equal(await row(page, name).getByTestId('remove').isVisible(), true, `${name}: a refused file cannot be removed`);
  }
  const refusals = await page.evaluate(() => window.__events.filter((e) => e.type === 'upload-error').map((e) => [e.file, e.detail.code]));
  assert.deepEqual(refusals, [['too-big.txt', 'invalid_input'], ['tool.exe', 'invalid_input']]);
  assert.deepEqual(page.requests.slice(requestsBefore), [], 'a refused file made a request');
  assert.deepEqual(wasmRequests(page), [], 'a refused file loaded the wasm');

  // Two accepted files fill max-files; a third is refused and the two upload.
  await page.setInputFiles('[data-testid=file-input]', [
    { name: 'ok.txt', mimeType: 'text/plain', buffer: Buffer.alloc(1000, 0x62) },
    { name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47]) },
    { name: 'third.txt', mimeType: 'text/plain', buffer: Buffer.from('3') },
  ]);
  await waitForStatus(page, 'third.txt', ['refused']);
  assert.equal(await row(page, 'third.txt').getByTestId('file-status').textContent(), 'Refused: third.txt is over the limit of 2 files.');
  for (const name of ['ok.txt', 'photo.png']) await waitForStatus(page, name, ['done']);
  const after = await stats(base);
  assert.equal(after.backend_presign - before.backend_presign, 2, 'only the two accepted files were presigned');
  assert.equal(after.store_put - before.store_put, 2, 'only the two accepted files reached the store');
  assert.equal(await page.getByTestId('summary').textContent(), '5 files, 2 done, 3 refused.');
  await assertNoAxeViolations(page, 'refused and done rows');
  await closePage(page);
});

test('themeable: custom properties and ::part() change the computed style, dark follows prefers-color-scheme, and every string can be overridden', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the page');
  const body = '<presigned-upload-form id="themed" presign="/backend/presign" max-size="10"></presigned-upload-form><presigned-upload-form id="plain"></presigned-upload-form>';
  const head = `<style>
    #themed { --pu-accent: rgb(1, 2, 3); --pu-radius: 3px; --pu-font: italic 20px serif; --pu-space: 7px }
    #themed::part(drop-zone) { border-style: solid }
    #themed::part(row) { background: rgb(250, 240, 230) }
  </style>`;
  const style = (page, id) => page.evaluate((id) => {
    const root = document.getElementById(id).shadowRoot;
    const zone = getComputedStyle(root.querySelector('[data-testid=drop-zone]'));
    const icon = getComputedStyle(root.querySelector('[data-testid=drop-zone] svg'));
    return { icon: icon.color, radius: zone.borderTopLeftRadius, border: zone.borderTopStyle, font: zone.fontFamily, padding: zone.paddingLeft, text: getComputedStyle(root.host).color };
  }, id);

  for (const colorScheme of ['light', 'dark']) {
    const page = await openPage(base, { body, head, colorScheme });
    const themed = await style(page, 'themed');
    const plain = await style(page, 'plain');
    assert.deepEqual([themed.icon, themed.radius, themed.border, themed.font, themed.padding], ['rgb(1, 2, 3)', '3px', 'solid', 'serif', '7px'], `${colorScheme}: the custom properties and ::part() did not apply`);
    assert.deepEqual([plain.radius, plain.border], ['10px', 'dashed']);
    assert.notEqual(plain.icon, 'rgb(1, 2, 3)');
    if (colorScheme === 'light') assert.equal(plain.text, 'rgb(27, 36, 48)', 'light text color');
    else assert.equal(plain.text, 'rgb(230, 237, 243)', 'dark text color (prefers-color-scheme: dark)');

    // Strings, set after the element is defined: the static text and the rows follow.
    await page.evaluate(() => {
      document.getElementById('themed').strings = {
        drop: 'Déposez vos fichiers ici ou', choose: 'parcourez', pick: 'Choisir des fichiers', cancelAll: 'Tout annuler',
        none: 'Aucun fichier.', file: '{n} fichier', files: '{n} fichiers', n_refused: '{n} refusé(s)',
        refused: 'Refusé : ', tooBig: '{name} pèse {size}, plus que {max}.', remove: 'Retirer', label: '{action} l’envoi de {name}',
        hintOne: 'Un fichier à la fois.',
      };
    });
    const themedRoot = page.locator('#themed');
    const zoneText = await themedRoot.getByTestId('drop-zone').innerText();
    assert.equal(zoneText.replace(/\s+/g, ' ').trim(), 'Déposez vos fichiers ici ou parcourez Un fichier à la fois.');
    assert.equal(await themedRoot.getByTestId('summary').textContent(), 'Aucun fichier.');
    assert.equal(await themedRoot.getByTestId('cancel-all').textContent(), 'Tout annuler');
    assert.equal(await themedRoot.getByLabel('Choisir des fichiers').count(), 1);
    await themedRoot.getByTestId('file-input').setInputFiles([{ name: 'gros.txt', mimeType: 'text/plain', buffer: Buffer.alloc(11) }]);
    assert.equal(await themedRoot.getByTestId('file-status').textContent(), 'Refusé : gros.txt pèse 11 B, plus que 10 B.');
    assert.equal(await themedRoot.getByTestId('summary').textContent(), '1 fichier, 1 refusé(s).');
    assert.equal(await themedRoot.getByRole('button', { name: 'Retirer l’envoi de gros.txt' }).textContent(), 'Retirer');
    const rowBg = await themedRoot.getByTestId('file-row').evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.equal(rowBg, 'rgb(250, 240, 230)', '::part(row) did not apply');
    await closePage(page);
  }
});

test('keyboard only: pick, fail, retry, cancel and remove, with focus kept somewhere sensible', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the page');
  // The page's uploader is a function, asked at each start: the test fixes the key between two tries.
  const page = await openPage(base, {
    body: '<button type="button">Before</button><presigned-upload-form multiple></presigned-upload-form>',
    script: `
      import init, { HexnodeClient } from 'presigned-upload/web';
      import 'presigned-upload/element';
      await init();
      const c = await (await fetch('/config.json')).json();
      window.__key = 'hx_dev_wrong_key';
      document.querySelector('presigned-upload-form').uploader = () => new HexnodeClient({ portal: c.api_base, apiKey: window.__key, retry: { retries: 0 } });
      window.__rightKey = c.api_key;
      document.body.dataset.ready = 'true';`,
  });
  await page.waitForSelector('body[data-ready=true]');
  const chooserPromise = page.waitForEvent('filechooser', { timeout: 30_000 });
  chooserPromise.catch(() => {});
  await page.waitForTimeout(200); // Playwright turns file-chooser interception on asynchronously

  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'BUTTON', 'the page\'s own button comes first');
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'drop-zone', 'Tab does not reach the drop zone');
  await page.keyboard.press('Enter');
  const chooser = await chooserPromise;
  assert.equal(chooser.isMultiple(), true);
  const bytes = Buffer.from('typed, not clicked');
  await chooser.setFiles([{ name: 'keys.txt', mimeType: 'text/plain', buffer: bytes }]);
  await waitForStatus(page, 'keys.txt', ['failed', 'done']);
  assert.equal(await row(page, 'keys.txt').getAttribute('data-status'), 'failed');

  // Tab from the drop zone: Cancel all is disabled and skipped; the row's Retry is next.
  await page.evaluate(() => { window.__key = window.__rightKey; });
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'Retry upload of keys.txt');
  await page.keyboard.press('Enter');
  await waitForStatus(page, 'keys.txt', ['done', 'failed']);
  const uuid = await row(page, 'keys.txt').getAttribute('data-uuid');
  assert.equal((await storedObject(base, uuid)).sha256, sha256(bytes));
  assert.equal(await focused(page), 'Remove upload of keys.txt', 'focus did not move from the hidden Retry to Remove');

  // Cancel with Enter while it uploads (throttled): focus goes to the row's Retry.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2 * MiB });
  await page.evaluate(() => document.querySelector('presigned-upload-form').addFiles([new File([new Uint8Array(16 * 1024 * 1024)], 'slow.bin')]));
  await page.waitForFunction(() => {
    const el = document.querySelector('presigned-upload-form').shadowRoot.querySelector('[data-name="slow.bin"]');
    return el && el.dataset.status === 'uploading';
  }, null, { timeout: 30_000 });
  await page.keyboard.press('Shift+Tab'); // from Remove of keys.txt, back through the row to Cancel all
  assert.equal(await focused(page), 'cancel-all');
  for (let i = 0; i < 3 && (await focused(page)) !== 'Cancel upload of slow.bin'; i++) await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'Cancel upload of slow.bin');
  await page.keyboard.press('Enter');
  await waitForStatus(page, 'slow.bin', ['cancelled', 'done', 'failed'], 15_000);
  assert.equal(await row(page, 'slow.bin').getAttribute('data-status'), 'cancelled');
  assert.equal(await focused(page), 'Retry upload of slow.bin', 'focus did not move from the hidden Cancel to Retry');

  // Remove both rows with the keyboard: focus goes to the next row, then to the drop zone.
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'Remove upload of slow.bin');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await focused(page), 'Remove upload of keys.txt');
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('[data-testid=file-row]').count(), 1);
  assert.equal(await focused(page), 'Retry upload of slow.bin', 'focus after removing a row is not on the next row');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('[data-testid=file-row]').count(), 0);
  assert.equal(await focused(page), 'drop-zone', 'focus after removing the last row is not on the drop zone');
  await closePage(page);
});

test('the demo on the element: light and dark at 1280 and 390 px, no axe-core violation', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the demo');
  for (const colorScheme of ['light', 'dark']) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme });
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e));
    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    await page.setInputFiles('[data-testid=file-input]', [
      { name: 'report.pdf', mimeType: 'application/pdf', buffer: randomBytes(200 * 1024) },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('notes\n') },
    ]);
    for (const name of ['report.pdf', 'notes.txt']) await waitForStatus(page, name, ['done']);
    await page.getByLabel('API key').fill('hx_dev_wrong_key');
    await page.setInputFiles('[data-testid=file-input]', [{ name: 'denied.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b') }]);
    await waitForStatus(page, 'denied.csv', ['failed']);
    await page.getByLabel('Select notes.txt').check();
    await page.locator('body').evaluate(() => { const a = document.activeElement; (a && a.shadowRoot && a.shadowRoot.activeElement || a)?.blur(); });
    await assertNoAxeViolations(page, `the demo, ${colorScheme}`);
    await page.locator('#upload-section').screenshot({ path: join(OUT_DIR, `element-${colorScheme}-1280.png`) });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('#upload-section').screenshot({ path: join(OUT_DIR, `element-${colorScheme}-390.png`) });
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, `${colorScheme}: horizontal overflow at 390 px`);
    await assertNoAxeViolations(page, `the demo, ${colorScheme}, 390 px`);
    await context.close();
    assert.deepEqual(pageErrors.map(String), [], 'uncaught errors in the demo');
  }
});
