// The package in Node.js (the export condition "node"): HexnodeClient and putFile against the devserver,
// files from disk as `fs.openAsBlob`, progress without XMLHttpRequest, and errors that fit Node.
// Run: node --test tests/node/   (PU_WEB_BASE, PU_LIMITED_WEB_BASE: see support.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, openAsBlob, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HexnodeClient, putFile, Uploader } from 'presigned-upload';
import { devConfig, MiB, object, requireEnv, stats, unique, uploads } from './support.mjs';

let cfg;
let limited;
let tmp;
let big; // a 64 MiB file on disk
let bigSha;

/** Writes `size` random bytes to `path` in 1 MiB pieces; resolves with their sha256. */
async function writeRandom(path, size) {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let left = size; left > 0; left -= MiB) {
    const chunk = randomBytes(Math.min(MiB, left));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r, j) => out.end((e) => (e ? j(e) : r())));
  return hash.digest('hex');
}

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

before(async () => {
  cfg = await devConfig(requireEnv('PU_WEB_BASE', 'the tests need the devserver'));
  limited = await devConfig(requireEnv('PU_LIMITED_WEB_BASE', 'the 429 test needs a devserver started with --rate-limit 10/1s'));
  tmp = mkdtempSync(join(tmpdir(), 'pu-node-'));
  big = join(tmp, 'big.bin');
  bigSha = await writeRandom(big, 64 * MiB);
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('"presigned-upload" resolves to the Node entry in import and in require, with no init()', () => {
  assert.match(import.meta.resolve('presigned-upload'), /\/js\/node\.js$/);
  assert.match(import.meta.resolve('presigned-upload/full'), /\/js\/node-full\.js$/);
  const required = createRequire(import.meta.url)('presigned-upload');
  assert.equal(required.HexnodeClient, HexnodeClient, 'require() gives the same module as import');
  assert.equal(typeof required.putFile, 'function');
});

test('upload, verify, deploy and delete from Node, with a file from disk', { timeout: 60_000 }, async () => {
  const name = `${unique('node-life')}.txt`;
  const path = join(tmp, name);
  const bytes = Buffer.from(`hello from node ${name}\n`);
  writeFileSync(path, bytes);
  const hx = new HexnodeClient({ portal: cfg.api_base, apiKey: cfg.api_key });
  const before = await stats(cfg.web);
  const r = await hx.upload(await openAsBlob(path, { type: 'text/plain' }), { fileName: name });
  assert.equal(r.verified, true);
  assert.equal(r.fileName, name);
  assert.equal(r.contentType, 'text/plain');
  assert.equal(r.size, bytes.length);
  assert.equal(typeof r.fileId, 'number');
  const [row] = await uploads(cfg.web, name);
  assert.deepEqual([row.file_uuid, row.stored, row.size, row.deleted], [r.fileUuid, true, bytes.length, false]);

  const deployed = await hx.deployFile({ fileIds: [r.fileId], filePath: '/sdcard/Download', devices: [7] });
  assert.equal(typeof deployed.message, 'string');
  const deleted = await hx.deleteFiles([r.fileId]);
  assert.equal(typeof deleted.message, 'string');
  assert.equal((await uploads(cfg.web, name))[0].deleted, true);

  const after = await stats(cfg.web);
  assert.equal(after.api_presign - before.api_presign, 1);
  assert.equal(after.api_verify - before.api_verify, 1);
  assert.equal(after.api_deploy - before.api_deploy, 1);
  assert.equal(after.api_delete - before.api_delete, 1);
  assert.equal(after.store_put - before.store_put, 1);
  assert.equal(after.store_put_refused_length - before.store_put_refused_length, 0);
});

test('a 64 MiB file from disk uploads with progress that is monotone and ends at loaded == total', { timeout: 120_000 }, async () => {
  const hx = new HexnodeClient({ portal: cfg.api_base, apiKey: cfg.api_key });
  const name = `${unique('node-big')}.bin`;
  const seen = [];
  const before = await stats(cfg.web);
  const r = await hx.upload(await openAsBlob(big), { fileName: name, onProgress: (p) => seen.push(p) });
  const up = seen.filter((p) => p.phase === 'upload');
  assert.ok(up.every((p) => p.total === 64 * MiB), 'total is the file size');
  for (let i = 1; i < up.length; i++) assert.ok(up[i].loaded >= up[i - 1].loaded, `progress went back at ${i}`);
  assert.equal(up.at(-1).loaded, 64 * MiB);
  const between = up.filter((p) => p.loaded > 0 && p.loaded < p.total).length;
  assert.ok(between >= 8, `progress came from the bytes as they were sent: ${between} events between 0 and the end`);
  assert.equal(r.size, 64 * MiB);
  const stored = await object(cfg.web, r.fileUuid);
  assert.deepEqual([stored.size, stored.sha256], [64 * MiB, bigSha]);
  const after = await stats(cfg.web);
  assert.equal(after.store_put - before.store_put, 1, 'one PUT, accepted the first time');
  assert.equal(after.store_put_refused_length - before.store_put_refused_length, 0, 'the PUT carried a Content-Length');
});

test('putFile with onProgress is accepted; Node\'s fetch sends a stream chunked without a Content-Length, and the store refuses it as S3 does', { timeout: 60_000 }, async () => {
  const hx = new HexnodeClient({ portal: cfg.api_base, apiKey: cfg.api_key });
  const blob = new Blob([randomBytes(3 * MiB)], { type: 'application/octet-stream' });
  const p1 = await hx.generatePresignedUploadUrl(`${unique('node-put')}.bin`, 'application/octet-stream');
  const chunked = await fetch(p1.presignedUrl, { method: 'PUT', body: blob.stream(), duplex: 'half', headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(chunked.status, 501);
  assert.match(await chunked.text(), /<Code>NotImplemented<\/Code>/);

  const seen = [];
  const r = await putFile(p1.presignedUrl, blob, { contentType: 'application/octet-stream', onProgress: (p) => seen.push(p.loaded) });
  assert.equal(r.status, 200);
  assert.equal(r.size, 3 * MiB);
  assert.equal(seen.at(-1), 3 * MiB);
  assert.ok(seen.some((n) => n > 0 && n < 3 * MiB), 'progress during the PUT');
  const stored = await object(cfg.web, p1.fileUuid);
  assert.equal(stored.size, 3 * MiB);
});

test('abort during a 64 MiB PUT rejects with "aborted" and never verifies', { timeout: 60_000 }, async () => {
  const hx = new HexnodeClient({ portal: cfg.api_base, apiKey: cfg.api_key });
  const name = `${unique('node-abort')}.bin`;
  const controller = new AbortController();
  const before = await stats(cfg.web);
  const err = await hx.upload(await openAsBlob(big), {
    fileName: name, signal: controller.signal,
    onProgress: (p) => { if (p.phase === 'upload' && p.loaded >= 8 * MiB) controller.abort(); },
  }).then(() => null, (e) => e);
  assert.ok(err, 'the upload resolved although it was aborted');
  assert.equal(err.name, 'UploadError');
  assert.equal(err.code, 'aborted');
  const after = await stats(cfg.web);
  assert.equal(after.api_verify - before.api_verify, 0, 'an aborted upload was verified');
  assert.equal((await uploads(cfg.web, name))[0].stored, false);
});

test('a wrong key is "unauthorized" (401), and the key is in no message', async () => {
  const apiKey = `wrong-${unique('key')}`;
  const hx = new HexnodeClient({ portal: cfg.api_base, apiKey });
  const err = await hx.upload(new Blob(['x']), { fileName: 'a.txt' }).then(() => null, (e) => e);
  assert.equal(err?.code, 'unauthorized');
  assert.equal(err.status, 401);
  assert.ok(!String(err.message).includes(apiKey) && !String(err).includes(apiKey), err.message);
});

test('429: without retries it is "rate_limited" with retryAfterMs; with them, it is waited out', { timeout: 60_000 }, async () => {
  const before = await stats(limited.web);
  const noRetry = new HexnodeClient({ portal: limited.api_base, apiKey: limited.api_key, rateLimitPerMinute: 0, retry: { retries: 0 } });
  const settled = await Promise.allSettled(Array.from({ length: 14 }, (_, i) => noRetry.generatePresignedUploadUrl(`${unique('rl')}-${i}.txt`)));
  const limitedErrors = settled.filter((s) => s.status === 'rejected').map((s) => s.reason);
  assert.ok(limitedErrors.length >= 1, 'no 429 from a 10/1s limit after 14 calls');
  for (const e of limitedErrors) {
    assert.equal(e.code, 'rate_limited', e.message);
    assert.equal(e.status, 429);
    assert.ok(e.retryAfterMs > 0, `retryAfterMs: ${e.retryAfterMs}`);
  }
  const waiting = new HexnodeClient({ portal: limited.api_base, apiKey: limited.api_key, rateLimitPerMinute: 0 });
  const ok = await Promise.all(Array.from({ length: 14 }, (_, i) => waiting.generatePresignedUploadUrl(`${unique('rl2')}-${i}.txt`)));
  assert.equal(ok.length, 14);
  assert.ok((await stats(limited.web)).api_429 - before.api_429 >= 2);
});

test('in Node a bare fetch failure is "network" with advice about the host and the port, never CORS', { timeout: 60_000 }, async () => {
  const port = await closedPort();
  const hx = new HexnodeClient({ portal: `http://127.0.0.1:${port}`, apiKey: cfg.api_key, retry: { retries: 0 } });
  const e1 = await hx.generatePresignedUploadUrl('a.txt').then(() => null, (e) => e);
  assert.equal(e1?.code, 'network');
  assert.match(e1.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.match(e1.message, /host and the port/);
  assert.doesNotMatch(e1.message, /CORS|browser|console/i);

  const real = new HexnodeClient({ portal: cfg.api_base, apiKey: cfg.api_key });
  const p = await real.generatePresignedUploadUrl(`${unique('node-net')}.txt`, 'text/plain');
  const url = new URL(p.presignedUrl);
  url.port = String(port);
  const e2 = await putFile(url.href, new Blob(['x'], { type: 'text/plain' }), { retry: { retries: 1, minDelayMs: 1, maxDelayMs: 2 } }).then(() => null, (e) => e);
  assert.equal(e2?.code, 'network', e2?.message);
  assert.match(e2.message, /host and port/);
  assert.doesNotMatch(e2.message, /CORS|browser|console/i);
});

test('Uploader runs in Node too, through the devserver\'s sample backend', { timeout: 60_000 }, async () => {
  const up = new Uploader({ presign: `${cfg.web}/backend/presign`, verify: `${cfg.web}/backend/verify` });
  const name = `${unique('node-uploader')}.csv`;
  const r = await up.upload(new File(['a,b\n1,2\n'], name, { type: 'text/csv' }));
  assert.equal(r.verified, true);
  assert.equal((await uploads(cfg.web, name))[0].stored, true);
});
