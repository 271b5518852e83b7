// End to end: the demo's "Through backend" mode in headless Chromium against examples/backend-node (the
// backend built with the package in Node.js) instead of the devserver's own sample backend. The page's
// /backend/presign and /backend/verify are forwarded to the example, as a reverse proxy in front of it would.
//
//   PU_WEB_BASE   the devserver's web address (required; `npm test` sets it)
//
// Run: node --test --test-concurrency=1 tests/e2e/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { launchChromium } from '../support/chromium.mjs';
import { devConfig, getJson, MiB, requireEnv, startBackend, stopBackends, stats } from '../node/support.mjs';
import { sha256 } from '../support/env.mjs';

let browser;
let cfg;
let example;

before(async () => {
  cfg = await devConfig(requireEnv('PU_WEB_BASE', 'the test needs the devserver that serves www/ and the package'));
  example = await startBackend(cfg);
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
  stopBackends();
});

test('the demo\'s "Through backend" mode uploads through examples/backend-node', { timeout: 180_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const forwarded = [];
  for (const [from, to] of [['/backend/presign', '/presign'], ['/backend/verify', '/verify']]) {
    await page.route(`${cfg.web}${from}`, async (route) => {
      forwarded.push(to);
      const response = await route.fetch({ url: `${example}${to}` });
      await route.fulfill({ response });
    });
  }
  await page.goto(`${cfg.web}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  await page.getByLabel('Through backend').check();

  const files = [
    { name: 'example-backend.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b\n1,2\n') },
    { name: 'example-backend.bin', mimeType: 'application/octet-stream', buffer: randomBytes(3 * MiB) },
  ];
  const before = await stats(cfg.web);
  await page.setInputFiles('[data-testid=file-input]', files);
  for (const f of files) {
    const sel = `[data-testid=file-row][data-name="${f.name}"]`;
    await page.waitForFunction((s) => {
      const el = document.querySelector('presigned-upload-form').shadowRoot.querySelector(s);
      return el && ['done', 'failed'].includes(el.dataset.status);
    }, sel, { timeout: 60_000, polling: 50 });
    const d = await page.locator(sel).evaluate((el) => ({ status: el.dataset.status, uuid: el.dataset.uuid, fileId: el.dataset.fileId,
      text: el.textContent, via: el.querySelector('[data-testid=file-via]').textContent }));
    assert.equal(d.status, 'done', `${f.name}: ${d.text}`);
    assert.equal(d.via, 'via backend');
    assert.match(d.fileId ?? '', /^\d+$/);
    const obj = await getJson(`${cfg.web}/__dev/object/${encodeURIComponent(d.uuid)}`);
    assert.deepEqual([obj.size, obj.sha256], [f.buffer.length, sha256(f.buffer)]);
  }
  const after = await stats(cfg.web);
  assert.deepEqual(forwarded.sort(), ['/presign', '/presign', '/verify', '/verify']);
  assert.equal(after.backend_presign - before.backend_presign, 0, 'the devserver\'s sample backend was used');
  assert.equal(after.api_presign - before.api_presign, 2, 'the example presigns each file once through the API');
  assert.equal(after.api_verify - before.api_verify, 2);
  await context.close();
  assert.deepEqual(errors, [], 'uncaught errors in the page');
});
