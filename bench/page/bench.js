// The page side of `npm run bench`: builds Files in the page and uploads them with each contender.
// bench/run.mjs drives it through Playwright (window.bench.*). Every function returns plain JSON.
//
// Served by the devserver from the same origin as /pkg/ (the release builds of presigned-upload, laid
// out as in dist/) and /uppy.bundle.js (@uppy/core + @uppy/aws-s3 bundled by esbuild --minify, made by
// scripts/bench.sh). The single-PUT contenders use the core build (`presigned-upload/web`), the
// multipart contender the full build (`presigned-upload/full/web`), as an app would import them.

const BUILDS = {
  core: { glue: '/pkg/web/presigned_upload.js', wasm: '/pkg/web/presigned_upload_bg.wasm' },
  full: { glue: '/pkg/full/web/presigned_upload.js', wasm: '/pkg/full/web/presigned_upload_bg.wasm' },
};
const UPPY_BUNDLE = '/uppy.bundle.js';
const MiB = 1024 * 1024;

let pu = null; // the core build's module (web target)
let wasm = null; // its exports (init's return value): wasm.memory is the linear memory
let puFull = null; // the full build's module (web target): multipart
let wasmFull = null; // its exports
let U = null; // { Uppy, AwsS3 }
const files = new Map();

const now = () => performance.now();
const heap = () => (performance.memory ? performance.memory.usedJSHeapSize : null);
const memOf = (w) => (w && w.memory ? w.memory.buffer.byteLength : null);
const wasmBytes = () => memOf(wasm);
const wasmFullBytes = () => memOf(wasmFull);
const collect = () => {
  if (typeof globalThis.gc === 'function') globalThis.gc();
};

async function presign(name, type) {
  const res = await fetch('/backend/presign', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ file_name: name, content_type: type }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`/backend/presign answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

async function postJson(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path} answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

// Multipart, the same for both multipart contenders: 8 MiB parts; ours sends 4 at once (Uppy 6 has
// no per-file part concurrency: it sends a file's parts one after the other).
const MP = { threshold: 5 * MiB, partSize: 8 * MiB, concurrency: 4 };

/** presigned-upload's multipart options: the devserver's sample backend endpoints. */
function multipartOptions() {
  return {
    threshold: MP.threshold,
    partSize: MP.partSize,
    concurrency: MP.concurrency,
    create: '/backend/multipart/create',
    signPart: '/backend/multipart/sign-part',
    complete: '/backend/multipart/complete',
    abort: '/backend/multipart/abort',
    listParts: '/backend/multipart/list',
  };
}

/** Loads both builds of the package (init from their URLs) and the Uppy bundle. */
async function setup() {
  if (!pu) {
    pu = await import(BUILDS.core.glue);
    wasm = await pu.default({ module_or_path: BUILDS.core.wasm });
  }
  if (!puFull) {
    puFull = await import(BUILDS.full.glue);
    wasmFull = await puFull.default({ module_or_path: BUILDS.full.wasm });
  }
  if (!U) U = await import(UPPY_BUNDLE);
  return {
    wasmMemoryBytes: wasmBytes(),
    wasmMemoryBytesFull: wasmFullBytes(),
    heapBytes: heap(),
    preciseMemory: !!performance.memory,
    gc: typeof globalThis.gc === 'function',
    userAgent: navigator.userAgent,
  };
}

/** 1 MiB of pseudo-random bytes (xorshift), so nothing along the way can compress it. */
function chunk(seed) {
  const a = new Uint8Array(MiB);
  const v = new Uint32Array(a.buffer);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < v.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v[i] = x >>> 0;
  }
  return a;
}

/** A File of `size` bytes, built from one 1 MiB chunk repeated (the chunk is the only JS memory). */
function makeFile(id, size, type = 'application/octet-stream') {
  const c = chunk(size ^ 0x5bd1e995);
  const parts = [];
  let left = size;
  while (left > 0) {
    const n = Math.min(left, MiB);
    parts.push(n === MiB ? c : c.subarray(0, n));
    left -= n;
  }
  files.set(id, new File(parts, `${id}.bin`, { type }));
  return { id, size };
}

/** `count` Files of `size` bytes each (all different). */
function makeBatch(id, count, size, type = 'application/octet-stream') {
  const c = chunk(count * 7919 + size);
  const list = [];
  for (let i = 0; i < count; i++) {
    const off = (i * 4099) % (MiB - size);
    list.push(new File([c.subarray(off, off + size)], `${id}-${String(i).padStart(4, '0')}.bin`, { type }));
  }
  files.set(id, list);
  return { id, count, size };
}

function dropFiles() {
  files.clear();
  collect();
  return true;
}

/**
 * Samples the JS heap and the wasm memory (`wasmNow`: of the build the contender uses) every 20 ms
 * and on demand, while one upload runs.
 */
function sampler(wasmNow) {
  const s = { heapBefore: heap(), wasmBefore: wasmNow() };
  s.heapPeak = s.heapBefore;
  s.wasmPeak = s.wasmBefore;
  const tick = () => {
    const h = heap();
    const w = wasmNow();
    if (h !== null && h > s.heapPeak) s.heapPeak = h;
    if (w !== null && w > s.wasmPeak) s.wasmPeak = w;
  };
  const iv = setInterval(tick, 20);
  return {
    tick,
    stop() {
      clearInterval(iv);
      tick();
      s.heapAfter = heap();
      s.wasmAfter = wasmNow();
      return s;
    },
  };
}

function describe(e) {
  if (!e) return 'unknown error';
  const parts = [e.name, e.code, e.message].filter(Boolean);
  return parts.join(': ').slice(0, 400);
}

function newUppy(limit) {
  const uppy = new U.Uppy({ autoProceed: false });
  uppy.use(U.AwsS3, {
    shouldUseMultipart: false,
    limit,
    // Uppy 6's contract: one PresignableRequest ({ method: 'PUT', key, contentType }) → { url, key?, headers? }.
    async signRequest(req) {
      if (req.method !== 'PUT' || req.uploadId) throw new Error(`unexpected request ${req.method}`);
      const p = await presign(req.key, req.contentType);
      return { url: p.presigned_url, key: p.file_name };
    },
  });
  return uppy;
}

const xmlEscape = (v) => String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** An S3 XML answer as a `data:` URL: Uppy sends its request there and parses the XML it gets back. */
const xmlAnswer = (xml) => `data:application/xml,${encodeURIComponent(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`)}`;

/**
 * Uppy 6 multipart (`@uppy/aws-s3`, shouldUseMultipart: true) wired to the same backend endpoints as
 * presigned-upload's multipart. Uppy 6 has a single `signRequest(request)` callback for every S3 call
 * and sends each call to S3 itself; it has no createMultipartUpload/completeMultipartUpload callbacks.
 * The devserver's backend makes CreateMultipartUpload and CompleteMultipartUpload server-side
 * (POST /backend/multipart/create|complete, like ours), so for those two the callback calls the
 * backend and hands Uppy the store's answer as a `data:` URL (no second network trip); UploadPart is
 * signed by POST /backend/multipart/sign-part and sent by Uppy to the store (XHR PUT) like any part.
 */
function newUppyMultipart(limit, contentType) {
  const uppy = new U.Uppy({ autoProceed: false });
  const parts = new Map(); // uploadId → [{ partNumber, etag }] from 's3-multipart:part-uploaded'
  uppy.on('s3-multipart:part-uploaded', (file, part) => {
    const id = uppy.getFile(file.id)?.s3Multipart?.uploadId;
    if (id && parts.has(id)) parts.get(id).push({ partNumber: part.PartNumber, etag: part.ETag });
  });
  uppy.use(U.AwsS3, {
    shouldUseMultipart: true,
    limit,
    getChunkSize: () => MP.partSize,
    async signRequest(req) {
      if (req.method === 'POST' && !req.uploadId) {
        // CreateMultipartUpload
        const r = await postJson('/backend/multipart/create', { file_name: req.key, content_type: contentType });
        parts.set(r.uploadId, []);
        return {
          url: xmlAnswer(`<InitiateMultipartUploadResult><Key>${xmlEscape(r.key)}</Key><UploadId>${xmlEscape(r.uploadId)}</UploadId></InitiateMultipartUploadResult>`),
          key: r.key,
        };
      }
      if (req.method === 'PUT' && req.uploadId) {
        const r = await postJson('/backend/multipart/sign-part', { uploadId: req.uploadId, key: req.key, partNumber: req.partNumber });
        return { url: r.url, headers: r.headers };
      }
      if (req.method === 'POST' && req.uploadId) {
        // CompleteMultipartUpload, with the parts Uppy reported
        const list = (parts.get(req.uploadId) || []).slice().sort((a, b) => a.partNumber - b.partNumber);
        const r = await postJson('/backend/multipart/complete', { uploadId: req.uploadId, key: req.key, parts: list });
        parts.delete(req.uploadId);
        return {
          url: xmlAnswer(`<CompleteMultipartUploadResult><Location>${xmlEscape(r.location || req.key)}</Location><Key>${xmlEscape(req.key)}</Key><ETag>${xmlEscape(r.etag || '')}</ETag></CompleteMultipartUploadResult>`),
        };
      }
      if (req.method === 'DELETE' && req.uploadId) {
        await postJson('/backend/multipart/abort', { uploadId: req.uploadId, key: req.key });
        parts.delete(req.uploadId);
        return { url: xmlAnswer('<Empty/>') };
      }
      if (req.method === 'GET' && req.uploadId) {
        const list = await postJson('/backend/multipart/list', { uploadId: req.uploadId, key: req.key });
        const xml = list.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><Size>${p.size}</Size><ETag>${xmlEscape(p.etag)}</ETag></Part>`).join('');
        return { url: xmlAnswer(`<ListPartsResult><UploadId>${xmlEscape(req.uploadId)}</UploadId>${xml}</ListPartsResult>`) };
      }
      throw new Error(`unexpected request ${req.method} ${req.key}`);
    },
  });
  return uppy;
}

/**
 * One upload of file `id` by `contender`. The timed part is the upload call only; presigning for
 * raw/putFile-* and building the Uppy instance happen before the clock starts.
 */
async function run(contender, id, tag) {
  const file = files.get(id);
  if (!file) throw new Error(`no file ${id}`);
  const type = file.type;
  const name = `${contender}-${tag}-${file.name}`;
  collect();
  let call;
  let after = () => {};
  let progressCalls = 0;
  if (contender === 'raw') {
    const url = (await presign(name, type)).presigned_url;
    call = async () => {
      const res = await fetch(url, { method: 'PUT', body: file, headers: { 'Content-Type': type } });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`PUT answered HTTP ${res.status}`);
    };
  } else if (contender === 'putFile-fetch' || contender === 'putFile-xhr') {
    const url = (await presign(name, type)).presigned_url;
    const xhr = contender === 'putFile-xhr';
    call = async () => {
      const opts = { contentType: type, transport: xhr ? 'xhr' : 'fetch' };
      if (xhr) opts.onProgress = () => { progressCalls++; };
      const r = await pu.putFile(url, file, opts);
      if (r.status < 200 || r.status > 299) throw new Error(`putFile status ${r.status}`);
    };
  } else if (contender === 'Uploader.upload') {
    const up = new pu.Uploader({ presign: '/backend/presign', verify: '/backend/verify' });
    call = async () => {
      const r = await up.upload(file, { fileName: name, contentType: type });
      if (!r.verified) throw new Error('not verified');
    };
    after = () => up.free?.();
  } else if (contender === 'multipart') {
    // Multipart is in the full build only (core answers invalid_input naming presigned-upload/full).
    const up = new puFull.Uploader({ presign: '/backend/presign', verify: '/backend/verify', multipart: multipartOptions() });
    call = async () => {
      const r = await up.upload(file, { fileName: name, contentType: type });
      if (!r.verified) throw new Error('not verified');
    };
    after = () => up.free?.();
  } else if (contender === 'uppy-multipart') {
    const uppy = newUppyMultipart(6, type);
    uppy.addFile({ name, type, data: file });
    uppy.on('upload-progress', () => { progressCalls++; });
    call = async () => {
      const r = await uppy.upload();
      if (!r || r.successful.length !== 1 || r.failed.length !== 0) {
        throw new Error(`uppy: ${r ? r.failed.map((f) => f.error).join('; ') : 'no result'}`);
      }
    };
    after = () => uppy.destroy();
  } else if (contender === 'uppy') {
    const uppy = newUppy(6);
    uppy.addFile({ name, type, data: file });
    uppy.on('upload-progress', () => { progressCalls++; });
    call = async () => {
      const r = await uppy.upload();
      if (!r || r.successful.length !== 1 || r.failed.length !== 0) {
        throw new Error(`uppy: ${r ? r.failed.map((f) => f.error).join('; ') : 'no result'}`);
      }
    };
    after = () => uppy.destroy();
  } else {
    throw new Error(`unknown contender ${contender}`);
  }
  const wasmNow = contender === 'multipart' ? wasmFullBytes : wasmBytes;
  const s = sampler(wasmNow);
  const t0 = now();
  let error = null;
  try {
    await call();
  } catch (e) {
    error = describe(e);
  }
  const ms = now() - t0;
  const mem = s.stop();
  try {
    after();
  } catch {}
  collect();
  mem.heapAfterGc = heap();
  mem.wasmAfterGc = wasmNow();
  return { ok: !error, error, ms, bytes: file.size, progressCalls, mem };
}

/** One batch (`id` from makeBatch) by `contender` with `concurrency` uploads at once. */
async function runBatch(contender, id, tag, concurrency) {
  const list = files.get(id);
  if (!list) throw new Error(`no batch ${id}`);
  collect();
  let call;
  let after = () => {};
  const count = list.length;
  if (contender === 'raw-pool') {
    call = async () => {
      let next = 0;
      let failed = 0;
      const worker = async () => {
        while (next < count) {
          const f = list[next++];
          try {
            const p = await presign(`${tag}-${f.name}`, f.type);
            const res = await fetch(p.presigned_url, { method: 'PUT', body: f, headers: { 'Content-Type': f.type } });
            await res.arrayBuffer();
            if (!res.ok) failed++;
          } catch {
            failed++;
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      if (failed) throw new Error(`${failed} of ${count} failed`);
    };
  } else if (contender === 'uploadAll' || contender === 'uploadAll+verify') {
    const up = new pu.Uploader({ presign: '/backend/presign', verify: contender === 'uploadAll' ? false : '/backend/verify' });
    call = async () => {
      const r = await up.uploadAll(list, { concurrency });
      const bad = r.filter((x) => !x.ok);
      if (r.length !== count || bad.length) throw new Error(`${bad.length} of ${count} failed: ${describe(bad[0]?.error)}`);
    };
    after = () => up.free?.();
  } else if (contender === 'uppy') {
    const uppy = newUppy(concurrency);
    uppy.addFiles(list.map((f) => ({ name: `${tag}-${f.name}`, type: f.type, data: f })));
    call = async () => {
      const r = await uppy.upload();
      if (!r || r.successful.length !== count) throw new Error(`uppy: ${r ? r.failed.length : '?'} of ${count} failed`);
    };
    after = () => uppy.destroy();
  } else {
    throw new Error(`unknown batch contender ${contender}`);
  }
  const t0 = now();
  let error = null;
  try {
    await call();
  } catch (e) {
    error = describe(e);
  }
  const ms = now() - t0;
  try {
    after();
  } catch {}
  return { ok: !error, error, ms, count };
}

/**
 * Startup, in a fresh page (a new browser context, so nothing is cached). `kind` is one of:
 *  - "core-url" / "full-url": import the build's glue, then init() from the .wasm URL (fetch + compile
 *    + instantiate);
 *  - "core-bytes" / "full-bytes": init() from bytes already fetched (compile + instantiate only);
 *  - "uppy": import the bundle and build an Uppy with AwsS3.
 */
async function startup(kind) {
  const [build, how] = kind.split('-');
  const b = BUILDS[build];
  if (b && how === 'url') {
    const t0 = now();
    const m = await import(b.glue);
    const t1 = now();
    const w = await m.default({ module_or_path: b.wasm });
    const t2 = now();
    return { importMs: t1 - t0, initMs: t2 - t1, totalMs: t2 - t0, memoryBytes: w.memory.buffer.byteLength };
  }
  if (b && how === 'bytes') {
    const bytes = await (await fetch(b.wasm)).arrayBuffer();
    const m = await import(b.glue);
    const t0 = now();
    await m.default({ module_or_path: bytes });
    const t1 = now();
    return { initMs: t1 - t0, totalMs: t1 - t0 };
  }
  if (kind === 'uppy') {
    const t0 = now();
    const m = await import(UPPY_BUNDLE);
    const t1 = now();
    const uppy = new m.Uppy({ autoProceed: false });
    uppy.use(m.AwsS3, { shouldUseMultipart: false, signRequest: async () => ({ url: 'http://127.0.0.1:1/' }) });
    const t2 = now();
    uppy.destroy();
    return { importMs: t1 - t0, initMs: t2 - t1, totalMs: t2 - t0 };
  }
  throw new Error(`unknown startup kind ${kind}`);
}

/** The wasm linear memory and the JS heap now (after a gc). */
function memoryNow() {
  collect();
  return { wasmMemoryBytes: wasmBytes(), wasmMemoryBytesFull: wasmFullBytes(), heapBytes: heap() };
}

window.bench = { setup, makeFile, makeBatch, dropFiles, run, runBatch, startup, memoryNow };
window.benchLoaded = true;
document.getElementById('status').textContent = 'bench page loaded';
