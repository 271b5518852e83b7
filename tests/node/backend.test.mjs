// examples/backend-node against the devserver: the browser's Uploader contract (POST /presign, POST /verify),
// its 400s that name the field, and a 429 passed through with its Retry-After.
// Run: node --test tests/node/   (PU_WEB_BASE, PU_LIMITED_WEB_BASE: see support.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Uploader } from 'presigned-upload';
import { devConfig, requireEnv, SERVER, startBackend, stopBackends, stats, unique, uploads } from './support.mjs';

const post = async (url, body) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, json: await res.json() };
};

let cfg;
let limited;
let base;

before(async () => {
  cfg = await devConfig(requireEnv('PU_WEB_BASE', 'the tests need the devserver'));
  limited = await devConfig(requireEnv('PU_LIMITED_WEB_BASE', 'the 429 test needs a devserver started with --rate-limit 10/1s'));
  base = await startBackend(cfg, { MAX_UPLOAD_BYTES: String(1024 * 1024) });
});

after(stopBackends);

test('the example backend is under 100 lines and uses node:http only', async () => {
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(SERVER, 'utf8');
  assert.ok(text.split('\n').length < 100, `${text.split('\n').length} lines`);
  const imports = [...text.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
  assert.deepEqual(imports.sort(), ['node:http', 'presigned-upload']);
});

test('the browser\'s Uploader uploads through it: presign, PUT, verify', { timeout: 60_000 }, async () => {
  const up = new Uploader({ presign: `${base}/presign`, verify: `${base}/verify` });
  const name = `${unique('example')}.csv`;
  const before = await stats(cfg.web);
  const r = await up.upload(new File(['a,b\n1,2\n'], name, { type: 'text/csv' }));
  assert.equal(r.verified, true);
  assert.equal(typeof r.fileId, 'number');
  const [row] = await uploads(cfg.web, name);
  assert.deepEqual([row.file_uuid, row.stored, row.id], [r.fileUuid, true, r.fileId]);
  const after = await stats(cfg.web);
  assert.equal(after.api_presign - before.api_presign, 1);
  assert.equal(after.api_verify - before.api_verify, 1);
  assert.equal(after.backend_presign - before.backend_presign, 0, 'the devserver\'s own sample backend was used');
});

test('a missing file_name, a bad content_type and a size over the limit are 400s that name the field', async () => {
  const before = await stats(cfg.web);
  const cases = [
    [{ content_type: 'text/plain', size: 1 }, /^file_name: /],
    [{ file_name: '', content_type: 'text/plain', size: 1 }, /^file_name: /],
    [{ file_name: 'a.txt', content_type: 'not a type', size: 1 }, /^content_type: /],
    [{ file_name: 'a.txt', size: 1 }, /^content_type: /],
    [{ file_name: 'a.txt', content_type: 'text/plain', size: 1024 * 1024 + 1 }, /^size: .*over the limit of 1048576/],
    [{ file_name: 'a.txt', content_type: 'text/plain', size: -1 }, /^size: /],
  ];
  for (const [body, detail] of cases) {
    const r = await post(`${base}/presign`, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.json.detail, detail);
  }
  assert.equal((await post(`${base}/verify`, {})).status, 400);
  assert.equal((await stats(cfg.web)).api_presign - before.api_presign, 0, 'a refused request reached the API');
  // The Uploader shows the backend's answer for a file over the limit.
  const up = new Uploader({ presign: `${base}/presign`, verify: `${base}/verify`, retry: { retries: 0 } });
  const err = await up.upload(new File([new Uint8Array(1024 * 1024 + 1)], 'big.bin')).then(() => null, (e) => e);
  assert.equal(err?.name, 'UploadError');
  assert.equal(err.status, 400);
});

test('a 429 from Hexnode passes through with its Retry-After, from one client (one rate limiter)', { timeout: 60_000 }, async () => {
  const limitedBase = await startBackend(limited);
  const before = await stats(limited.web);
  const answers = await Promise.all(Array.from({ length: 14 }, (_, i) => post(`${limitedBase}/presign`, {
    file_name: `${unique('rl-example')}-${i}.txt`, content_type: 'text/plain', size: 1,
  })));
  const ok = answers.filter((a) => a.status === 200);
  const limitedAnswers = answers.filter((a) => a.status === 429);
  assert.equal(ok.length + limitedAnswers.length, 14, JSON.stringify(answers.map((a) => a.status)));
  assert.ok(limitedAnswers.length >= 1, 'no 429 came through');
  for (const a of limitedAnswers) {
    assert.match(a.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    assert.equal(typeof a.json.detail, 'string');
  }
  const after = await stats(limited.web);
  assert.equal(after.api_429 - before.api_429, limitedAnswers.length, 'one API call per request: the 429s were not retried');
});
