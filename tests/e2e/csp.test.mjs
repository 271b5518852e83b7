// The demo under the strict Content-Security-Policy of the README ("Content Security Policy"), sent as a
// header by the devserver at /csp/: `script-src 'self' 'wasm-unsafe-eval'` and a connect-src with this
// origin, the API and the store, nothing else. The page loads the package, uploads through the Hexnode API
// and through the backend, and no CSP violation may be reported to the page (nor logged on its console).
//
//   PU_WEB_BASE   the devserver's web address (required; `npm test` sets it)
//
// Run: node --test tests/e2e/csp.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { launchChromium } from '../support/chromium.mjs';
import { getJson, requireEnv, sha256 } from '../support/env.mjs';

const TEST_TIMEOUT = 120_000;

let browser;

before(async () => {
  requireEnv('PU_WEB_BASE', 'the test needs the devserver that serves www/ and the package');
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
});

const rowSelector = (name) => `[data-testid=file-row][data-name="${name}"]`;

/** Waits until the row of `name` is done or failed, and returns its status, uuid and status text. */
async function finished(page, name) {
  await page.waitForFunction(
    // The rows live in the <presigned-upload-form>'s shadow root.
    (sel) => { const el = document.querySelector('presigned-upload-form').shadowRoot.querySelector(sel); return el && ['done', 'failed', 'cancelled'].includes(el.dataset.status); },
    rowSelector(name),
    { timeout: 60_000, polling: 50 },
  );
  return page.locator(rowSelector(name)).evaluate((el) => ({
    status: el.dataset.status,
    uuid: el.dataset.uuid,
    text: el.querySelector('[data-testid=file-status]').textContent,
  }));
}

async function assertStored(base, row, bytes, name) {
  assert.equal(row.status, 'done', `${name}: ${row.text}`);
  const obj = await getJson(`${base}/__dev/object/${encodeURIComponent(row.uuid)}`);
  assert.equal(obj.exists, true, `${name}: not in the store`);
  assert.equal(obj.sha256, sha256(bytes), `${name}: stored bytes differ`);
}

test('the demo loads and uploads under exactly the strict CSP, and the page sees no violation', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'needed to open the demo');
  const config = await getJson(`${base}/config.json`);
  const policy = `script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ${config.api_base} ${config.s3_endpoint}`;

  const context = await browser.newContext();
  // Before any script of the page runs: record every violation the page is told about.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  const page = await context.newPage();
  const consoleCsp = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) consoleCsp.push(m.text()); });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e && e.stack ? e.stack : e)));

  const response = await page.goto(`${base}/csp/`);
  assert.equal(response.status(), 200);
  assert.equal(response.headers()['content-security-policy'], policy, 'the page is not served under exactly the README policy');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  assert.equal(await page.locator('[data-testid=load-error]').isVisible(), false, 'the page shows a load error');

  // Through the Hexnode API: the API and the store are the only other origins.
  const direct = Buffer.from('uploaded under a strict CSP, through the API\n'.repeat(50));
  await page.setInputFiles('[data-testid=file-input]', [{ name: 'csp-api.txt', mimeType: 'text/plain', buffer: direct }]);
  await assertStored(base, await finished(page, 'csp-api.txt'), direct, 'csp-api.txt');

  // Through the backend (this origin), then the store.
  await page.getByLabel('Through backend').check();
  const viaBackend = Buffer.from('uploaded under a strict CSP, through the backend\n'.repeat(50));
  await page.setInputFiles('[data-testid=file-input]', [{ name: 'csp-backend.txt', mimeType: 'text/plain', buffer: viaBackend }]);
  await assertStored(base, await finished(page, 'csp-backend.txt'), viaBackend, 'csp-backend.txt');

  assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], 'CSP violations reported to the page');
  assert.deepEqual(consoleCsp, [], 'CSP messages on the console');
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');

  // The policy is enforced and the listener hears it: a script the page adds inline is refused (no
  // 'unsafe-inline'), and that is reported to the page as a script-src violation.
  const inlineRan = await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true;';
    document.head.append(s);
    return window.__inlineRan === true;
  });
  assert.equal(inlineRan, false, 'an inline script ran: the policy is not enforced');
  await page.waitForFunction(() => window.__cspViolations.length > 0, null, { timeout: 5_000 });
  assert.match((await page.evaluate(() => window.__cspViolations))[0], /^script-src(-elem)? blocked inline/);
  await context.close();
});
