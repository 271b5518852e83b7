// `npm run bench` (through scripts/bench.sh, which builds everything and starts the devserver first).
//
// Drives headless Chromium on bench/page (served by the devserver, same origin as /pkg/, where both
// builds are laid out as in dist/: core at /pkg/web/, full at /pkg/full/web/) and compares, on the
// same store with the same Files (single-PUT contenders on core, multipart on full):
//   raw fetch PUT (the floor) · putFile (fetch) · putFile (xhr + onProgress) · Uploader.upload
//   (presign + PUT + verify) · Uppy 6 (@uppy/core + @uppy/aws-s3, signRequest, single PUT) · curl from the host;
//   for files of 16 MiB and more also multipart: Uploader.upload with `multipart` (8 MiB parts, 4 at once,
//   the devserver's /backend/multipart/*) · Uppy 6 multipart (shouldUseMultipart, same endpoints).
// Every figure is the median of interleaved runs (the order rotates each round, so drift and position
// cancel); ratios are the medians of the per-round ratios.
//
// Environment (scripts/bench.sh sets all but the last four):
//   PU_WEB_BASE          the devserver's web address (required)
//   BENCH_STORE_DIR      the store's bucket directory; emptied between rounds of big files (optional)
//   BENCH_WORK           a scratch directory (files for curl)
//   BENCH_PKG_DIR        the package served at /pkg/, laid out as dist/ (web, bundler, full/web,
//                        full/bundler); every entry of tests/size/budgets.json is measured for size
//   BENCH_UPPY_BUNDLE    the Uppy bundle served at /uppy.bundle.js
//   BENCH_NAMED_WASM     core's .wasm optimized like the package but with its name section (optional)
//   BENCH_NAMED_WASM_FULL  the same for full (optional)
//   BENCH_NOTE           a line for RESULTS.md about the conditions of the run (optional)
//   BENCH_OUT_DIR        where results.json and RESULTS.md go (default bench/, quick: bench/out/quick)
//   BENCH_QUICK=1        smoke: 1 MiB + 16 MiB (multipart at 16 MiB), 3 runs, 50-file batch
//   BENCH_RUNS=N         rounds per figure, at least 5 (default 7; 1 MiB and startup use 3×N; quick: 3)
//   BENCH_STORE_ON       where the store keeps objects (for the report)
//   BENCH_STRICT=1       exit 1 when a target is missed (default: only when a contender fails)
//   PU_CHROMIUM          the browser (default /usr/bin/chromium)
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../tests/support/chromium.mjs';
import { codeByCrate, compressedSizes, parseWasm } from './wasm-size.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const KiB = 1024;
const QUICK = process.env.BENCH_QUICK === '1';
const RUNS = QUICK ? 3 : Math.max(5, Number(process.env.BENCH_RUNS || 7));
const SIZES = QUICK ? [1 * MiB, 16 * MiB] : [1 * MiB, 64 * MiB, 512 * MiB];
const BIG = SIZES[SIZES.length - 1]; // memory is measured during uploads of this size
const BATCH_COUNT = QUICK ? 50 : 200;
const BATCH_SIZE = 16 * KiB;
const CONCURRENCY = 6;
const STRICT = process.env.BENCH_STRICT === '1';

const BASE = (process.env.PU_WEB_BASE || '').replace(/\/+$/, '');
const abs = (p) => (p ? resolve(p) : '');
const WORK = abs(process.env.BENCH_WORK || join(ROOT, 'bench/out/work'));
const STORE_DIR = abs(process.env.BENCH_STORE_DIR);
const PKG_DIR = abs(process.env.BENCH_PKG_DIR || join(ROOT, 'bench/out/pkg'));
const UPPY_BUNDLE = abs(process.env.BENCH_UPPY_BUNDLE || join(ROOT, 'bench/out/www/uppy.bundle.js'));
const NAMED_WASM = { core: abs(process.env.BENCH_NAMED_WASM), full: abs(process.env.BENCH_NAMED_WASM_FULL) };
const NOTE = (process.env.BENCH_NOTE || '').trim();
// The entries, their files and the issue's goals: the size test's own list (tests/size/budgets.json).
const BUDGETS = JSON.parse(readFileSync(join(ROOT, 'tests/size/budgets.json'), 'utf8'));
const OUT_DIR = abs(process.env.BENCH_OUT_DIR || (QUICK ? join(ROOT, 'bench/out/quick') : join(ROOT, 'bench')));

const PAGE_CONTENDERS = ['raw', 'putFile-fetch', 'putFile-xhr', 'Uploader.upload', 'uppy'];
const CONTENDERS = [...PAGE_CONTENDERS, 'curl'];
// Multipart (issue 7): in the same interleaved rounds as the single PUTs, for files of 16 MiB and more.
const MP_CONTENDERS = ['multipart', 'uppy-multipart'];
const MP_MIN_SIZE = 16 * MiB;
const MP_PART_SIZE = 8 * MiB; // bench/page/bench.js MP.partSize
const MP_CONCURRENCY = 4; // bench/page/bench.js MP.concurrency
const contendersFor = (size) => (size >= MP_MIN_SIZE ? [...CONTENDERS, ...MP_CONTENDERS] : CONTENDERS);
const WHAT = {
  raw: 'fetch PUT of the File (URL presigned before the clock starts)',
  'putFile-fetch': 'putFile, transport "fetch" (URL presigned before)',
  'putFile-xhr': 'putFile, transport "xhr" + onProgress (URL presigned before)',
  'Uploader.upload': 'presign + PUT (fetch) + verify, through /backend/*',
  uppy: 'Uppy 6 upload(): signRequest (presign) + XHR PUT, progress events',
  curl: 'curl -T from the host (no browser): the server\'s ingest limit',
  multipart: `Uploader.upload with multipart (threshold 5 MiB, ${MP_PART_SIZE / MiB} MiB parts, ${MP_CONCURRENCY} in flight): create + signPart per part + PUTs + complete + verify, through /backend/multipart/*`,
  'uppy-multipart': `Uppy 6 upload() with shouldUseMultipart: true, getChunkSize ${MP_PART_SIZE / MiB} MiB (one part at a time: Uppy 6 has no per-file part concurrency), signRequest → the same /backend/multipart/* endpoints`,
};
const BATCH_CONTENDERS = ['raw-pool', 'uploadAll', 'uploadAll+verify', 'uppy'];
const BATCH_WHAT = {
  'raw-pool': '6 async workers: presign + fetch PUT (the floor)',
  uploadAll: 'Uploader.uploadAll, verify: false (presign + PUT, like Uppy)',
  'uploadAll+verify': 'Uploader.uploadAll with verify (presign + PUT + verify)',
  uppy: 'Uppy 6, limit: 6 (signRequest + PUT)',
};

const log = (...a) => console.error('[bench]', ...a);
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** The q-quantile (0..1) with linear interpolation. */
const quantile = (xs, q) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
};
const min = (xs) => (xs.length ? Math.min(...xs) : null);
const max = (xs) => (xs.length ? Math.max(...xs) : null);
const rotate = (arr, k) => arr.map((_, i) => arr[(i + k) % arr.length]);
const mib = (b) => b / MiB;
const sizeLabel = (b) => (b >= MiB ? `${b / MiB} MiB` : `${b / KiB} KiB`);

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]);
}

// ------------------------------------------------------------------ the browser session

// The shared flags, plus, for the memory figures: exact performance.memory values, and gc() to
// start each run from a collected heap.
const EXTRA_ARGS = ['--enable-precise-memory-info', '--js-flags=--expose-gc'];

class Session {
  constructor(browser) {
    this.browser = browser;
    this.made = new Map(); // id → [fn, args] to re-make files after a page reset
    this.pageErrors = [];
  }
  async open() {
    this.context = await this.browser.newContext();
    this.page = await this.context.newPage();
    this.page.on('pageerror', (e) => this.pageErrors.push(String(e)));
    this.page.on('console', (m) => {
      if (m.type() === 'error') this.pageErrors.push(m.text());
    });
    await this.page.goto(`${BASE}/`);
    await this.page.waitForFunction(() => window.benchLoaded === true, null, { timeout: 30_000 });
    this.setupInfo = await withTimeout(this.page.evaluate(() => window.bench.setup()), 60_000, 'setup');
    for (const [id, [fn, args]] of this.made) await this.page.evaluate(([f, a]) => window.bench[f](...a), [fn, args]);
  }
  async reset() {
    log('resetting the page after a failure');
    try {
      await this.context.close();
    } catch {}
    await this.open();
  }
  async make(fn, ...args) {
    const r = await withTimeout(this.page.evaluate(([f, a]) => window.bench[f](...a), [fn, args]), 120_000, fn);
    this.made.set(args[0], [fn, args]);
    return r;
  }
  async drop() {
    this.made.clear();
    await this.page.evaluate(() => window.bench.dropFiles());
  }
  /** One page call with a timeout; a timeout or a crash resets the page and counts as a failed run. */
  async call(fn, args, timeoutMs) {
    try {
      return await withTimeout(this.page.evaluate(([f, a]) => window.bench[f](...a), [fn, args]), timeoutMs, `${fn}(${args[0]})`);
    } catch (e) {
      const error = String(e.message || e).split('\n')[0];
      await this.reset();
      return { ok: false, error, ms: null };
    }
  }
}

// ------------------------------------------------------------------ host side: presign, curl, store

async function presignFromHost(name, type) {
  const res = await fetch(`${BASE}/backend/presign`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ file_name: name, content_type: type }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`/backend/presign answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

function writeHostFile(size) {
  const path = join(WORK, `curl-${size}.bin`);
  if (existsSync(path) && statSync(path).size === size) return path;
  mkdirSync(WORK, { recursive: true });
  const chunk = Buffer.alloc(MiB);
  for (let i = 0; i < MiB; i += 4) chunk.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ size) >>> 0, i);
  const fd = openSync(path, 'w');
  try {
    for (let left = size; left > 0; left -= MiB) writeSync(fd, chunk, 0, Math.min(left, MiB));
  } finally {
    closeSync(fd);
  }
  return path;
}

function curlRun(path, size, timeoutMs) {
  return new Promise((resolveRun) => {
    presignFromHost(`curl-${size}-${Date.now()}.bin`, 'application/octet-stream').then(
      (p) => {
        const args = ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', '-X', 'PUT', '-T', path,
          '-H', 'Content-Type: application/octet-stream', '-H', 'Expect:', '--max-time', String(Math.ceil(timeoutMs / 1000)), p.presigned_url];
        const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        child.on('error', (e) => resolveRun({ ok: false, error: `curl: ${e.message}`, ms: null }));
        child.on('close', (code) => {
          const [status, secs] = out.trim().split(' ');
          if (code !== 0 || !/^2\d\d$/.test(status || '')) {
            resolveRun({ ok: false, error: `curl exit ${code}, HTTP ${status}: ${err.trim().slice(0, 200)}`, ms: null });
          } else {
            resolveRun({ ok: true, ms: Number(secs) * 1000, bytes: size });
          }
        });
      },
      (e) => resolveRun({ ok: false, error: String(e.message || e), ms: null }),
    );
  });
}

/** Empties the store's bucket directory between rounds, so big runs do not fill the disk. */
function cleanStore() {
  if (!STORE_DIR || !existsSync(STORE_DIR)) return;
  for (const name of readdirSync(STORE_DIR)) rmSync(join(STORE_DIR, name), { recursive: true, force: true });
}

// ------------------------------------------------------------------ measurements

// Startup, side by side in the same rotated rounds: each build from bytes and from its URL, and Uppy.
const STARTUP_KINDS = ['core-bytes', 'core-url', 'full-bytes', 'full-url', 'uppy'];
const STARTUP_WHAT = {
  'core-bytes': 'core (`presigned-upload/web`): `init()` from bytes already fetched (compile + instantiate)',
  'core-url': 'core: import the glue + `init()` from the .wasm URL (fetch + compile + instantiate)',
  'full-bytes': 'full (`presigned-upload/full/web`): `init()` from bytes already fetched',
  'full-url': 'full: import the glue + `init()` from the .wasm URL',
  uppy: 'Uppy: import the bundle + `new Uppy().use(AwsS3)`',
};

async function measureStartup(browser) {
  const kinds = STARTUP_KINDS;
  const runs = QUICK ? 3 : RUNS * 3;
  const rows = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let r = 0; r < runs; r++) {
    for (const kind of rotate(kinds, r)) {
      const context = await browser.newContext(); // fresh: no HTTP cache, no code cache
      try {
        const page = await context.newPage();
        await page.goto(`${BASE}/`);
        await page.waitForFunction(() => window.benchLoaded === true, null, { timeout: 30_000 });
        rows[kind].push(await withTimeout(page.evaluate((k) => window.bench.startup(k), kind), 60_000, `startup ${kind}`));
      } catch (e) {
        rows[kind].push({ error: String(e.message || e) });
      } finally {
        await context.close();
      }
    }
  }
  const out = {};
  for (const k of kinds) {
    const ok = rows[k].filter((x) => !x.error);
    out[k] = {
      runs: rows[k].length,
      ok: ok.length,
      importMs: median(ok.map((x) => x.importMs)),
      initMs: median(ok.map((x) => x.initMs)),
      totalMs: median(ok.map((x) => x.totalMs)),
      totalMinMs: min(ok.map((x) => x.totalMs)),
      totalMaxMs: max(ok.map((x) => x.totalMs)),
      memoryBytes: ok[0]?.memoryBytes ?? null,
      errors: rows[k].filter((x) => x.error).map((x) => x.error),
    };
  }
  return out;
}

function summarize(results, names, timeKey = 'ms') {
  // results: array of rounds, each { contender: result }
  const out = {};
  for (const c of names) {
    const rs = results.map((round) => round[c]).filter(Boolean);
    const ok = rs.filter((x) => x.ok);
    out[c] = {
      runs: rs.length,
      ok: ok.length,
      times: rs.map((x) => (x.ok ? x[timeKey] : null)),
      medianMs: median(ok.map((x) => x[timeKey])),
      minMs: min(ok.map((x) => x[timeKey])),
      maxMs: max(ok.map((x) => x[timeKey])),
      errors: [...new Set(rs.filter((x) => !x.ok).map((x) => x.error))],
    };
  }
  return out;
}

/** Median over rounds of time(ref) / time(c): > 1 means c is faster than ref (a throughput ratio). */
function pairedRatio(results, c, ref) {
  const xs = [];
  for (const round of results) {
    const a = round[c];
    const b = round[ref];
    if (a?.ok && b?.ok && a.ms > 0) xs.push(b.ms / a.ms);
  }
  return { median: median(xs), p25: quantile(xs, 0.25), p75: quantile(xs, 0.75), min: min(xs), max: max(xs), pairs: xs.length };
}

async function measureThroughput(session) {
  const out = [];
  // A warm-up round (not recorded): first connections, preflights and JIT.
  await session.make('makeFile', 'warm', MiB);
  for (const c of PAGE_CONTENDERS) await session.call('run', [c, 'warm', 'warmup'], 60_000);
  if (SIZES.some((x) => x >= MP_MIN_SIZE)) {
    // Above the multipart threshold (two parts), so the multipart paths are warm too.
    await session.make('makeFile', 'warm-mp', MP_PART_SIZE + MiB);
    for (const c of MP_CONTENDERS) await session.call('run', [c, 'warm-mp', 'warmup'], 60_000);
  }
  await session.drop();

  for (const size of SIZES) {
    const id = `f${size}`;
    const runs = size <= MiB && !QUICK ? RUNS * 3 : RUNS;
    const names = contendersFor(size);
    log(`throughput ${sizeLabel(size)}: ${runs} rounds of ${names.join(', ')}`);
    await session.make('makeFile', id, size);
    const hostFile = writeHostFile(size);
    const timeoutMs = 60_000 + mib(size) * 500;
    const rounds = [];
    for (let r = 0; r < runs; r++) {
      const round = {};
      for (const c of rotate(names, r)) {
        round[c] = c === 'curl' ? await curlRun(hostFile, size, timeoutMs) : await session.call('run', [c, id, `r${r}`], timeoutMs);
        if (!round[c].ok) log(`  ${c} round ${r + 1} failed: ${round[c].error}`);
        // Delete the object at once, so no run pays for the previous one's bytes (page cache, write-back).
        if (size >= 16 * MiB) cleanStore();
      }
      rounds.push(round);
      log(`  round ${r + 1}/${runs}: ` + names.map((c) => `${c} ${round[c].ok ? (mib(size) / (round[c].ms / 1000)).toFixed(0) + ' MiB/s' : 'FAILED'}`).join(', '));
    }
    await session.drop();
    rmSync(hostFile, { force: true });
    const s = summarize(rounds, names);
    const contenders = {};
    for (const c of names) {
      contenders[c] = {
        ...s[c],
        what: WHAT[c],
        mibps: s[c].medianMs ? mib(size) / (s[c].medianMs / 1000) : null,
        mibpsMin: s[c].maxMs ? mib(size) / (s[c].maxMs / 1000) : null,
        mibpsMax: s[c].minMs ? mib(size) / (s[c].minMs / 1000) : null,
        vsRaw: pairedRatio(rounds, c, 'raw'),
        vsUppy: pairedRatio(rounds, c, 'uppy'),
        ...(size >= MP_MIN_SIZE
          ? {
              vsSingle: pairedRatio(rounds, c, 'Uploader.upload'),
              vsPutFile: pairedRatio(rounds, c, 'putFile-fetch'),
              vsUppyMultipart: pairedRatio(rounds, c, 'uppy-multipart'),
            }
          : {}),
        progressCalls: median(rounds.map((x) => x[c]?.progressCalls).filter((x) => x !== undefined)),
      };
    }
    const memory = size === BIG ? memoryOf(rounds, names.filter((c) => c !== 'curl')) : null;
    out.push({ size, runs, contenders, memory });
  }
  return out;
}

function memoryOf(rounds, names) {
  const out = {};
  for (const c of names) {
    const ms = rounds.map((r) => r[c]).filter((x) => x?.ok && x.mem).map((x) => x.mem);
    const wasmGrowth = ms.map((m) => (m.wasmPeak ?? 0) - (m.wasmBefore ?? 0));
    const heapGrowth = ms.map((m) => m.heapPeak - m.heapBefore);
    const heapKept = ms.map((m) => m.heapAfterGc - m.heapBefore);
    out[c] = {
      runs: ms.length,
      wasmGrowthMedian: median(wasmGrowth),
      wasmGrowthMax: max(wasmGrowth),
      wasmBytesAfter: max(ms.map((m) => m.wasmAfterGc ?? 0)),
      heapGrowthMedian: median(heapGrowth),
      heapGrowthMax: max(heapGrowth),
      heapKeptMedian: median(heapKept),
    };
  }
  return out;
}

async function measureBatch(session) {
  const id = 'batch';
  const runs = RUNS;
  log(`batch: ${BATCH_COUNT} files of ${sizeLabel(BATCH_SIZE)}, concurrency ${CONCURRENCY}, ${runs} rounds`);
  await session.make('makeBatch', id, BATCH_COUNT, BATCH_SIZE);
  const rounds = [];
  for (let r = 0; r < runs; r++) {
    const round = {};
    for (const c of rotate(BATCH_CONTENDERS, r)) {
      round[c] = await session.call('runBatch', [c, id, `b${r}`, CONCURRENCY], 180_000);
      if (!round[c].ok) log(`  ${c} round ${r + 1} failed: ${round[c].error}`);
    }
    rounds.push(round);
    cleanStore();
    log(`  round ${r + 1}/${runs}: ` + BATCH_CONTENDERS.map((c) => `${c} ${round[c].ok ? round[c].ms.toFixed(0) + ' ms' : 'FAILED'}`).join(', '));
  }
  await session.drop();
  const s = summarize(rounds, BATCH_CONTENDERS);
  const contenders = {};
  for (const c of BATCH_CONTENDERS) {
    contenders[c] = {
      ...s[c],
      what: BATCH_WHAT[c],
      filesPerSec: s[c].medianMs ? BATCH_COUNT / (s[c].medianMs / 1000) : null,
      vsUppy: pairedRatio(rounds, c, 'uppy'),
      vsRaw: pairedRatio(rounds, c, 'raw-pool'),
    };
  }
  return { count: BATCH_COUNT, size: BATCH_SIZE, concurrency: CONCURRENCY, runs, contenders };
}

const hasTool = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
// gzip -9 with GNU gzip when there is one, as tests/size and the issue measure (node's zlib can differ
// by a few bytes); brotli at quality 11 with node's zlib.
const GZIP_CLI = hasTool('gzip');
function sizesOf(buf) {
  const z = compressedSizes(buf);
  if (GZIP_CLI) {
    const r = spawnSync('gzip', ['-9', '-n', '-c'], { input: buf, maxBuffer: 1 << 28 });
    if (r.status === 0) z.gzip = r.stdout.length;
  }
  return z;
}
const addSizes = (xs) => xs.reduce((a, b) => ({ raw: a.raw + b.raw, gzip: a.gzip + b.gzip, brotli: a.brotli + b.brotli }), { raw: 0, gzip: 0, brotli: 0 });

/** twiggy's views of a named .wasm, or a reason why there are none. */
function twiggyViews(path) {
  if (!TWIGGY) return null;
  const run = (args) => {
    const r = spawnSync(TWIGGY, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
    return r.status === 0 ? r.stdout : null;
  };
  const views = {};
  // Every item with its retained size; sorted here by shallow size, without twiggy's rows for the
  // name section itself (it is not shipped) and other custom sections.
  const top = run(['top', '--retained', '-f', 'json', path]);
  try {
    views.top = top
      ? JSON.parse(top)
          .filter((x) => !/^custom section|subsection$/.test(x.name))
          .sort((a, b) => b.shallow_size - a.shallow_size)
          .slice(0, 20)
          .map((x) => ({ name: x.name.replace(/::h[0-9a-f]{16}$/, '').replace(/\[[0-9a-f]{16}\]/g, ''), shallow: x.shallow_size, retained: x.retained_size }))
      : null;
  } catch {
    views.top = null;
  }
  // Text views, without the symbol hashes (`::h0123…`) and crate disambiguators (`core[0123…]`).
  const clean = (t) => (t ? t.replace(/::h[0-9a-f]{16}/g, '').replace(/\[[0-9a-f]{16}\]/g, '') : null);
  views.dominators = clean(run(['dominators', '-d', '3', '-r', '40', path]));
  views.monos = clean(run(['monos', '-g', '-m', '12', path]));
  return views;
}
const TWIGGY = (() => {
  for (const c of [process.env.TWIGGY, 'twiggy', join(os.homedir(), '.cargo/bin/twiggy')]) {
    if (!c) continue;
    if (spawnSync(c, ['--version'], { encoding: 'utf8' }).status === 0) return c;
  }
  return null;
})();

/**
 * Sizes of every entry in tests/size/budgets.json (both builds, web and bundler), as shipped: each
 * file's gzip -9 and brotli, summed over the .wasm and its glue (as the size test sums them).
 */
function measureSize() {
  const builds = {};
  for (const [build, b] of Object.entries(BUDGETS.builds)) {
    const entries = {};
    for (const [entry, files] of Object.entries(b.entries)) {
      const parts = files.map((f) => {
        const path = join(PKG_DIR, f.replace(/^dist\//, ''));
        if (!existsSync(path)) throw new Error(`${path} is missing: scripts/bench.sh stages dist/ (web, bundler, full/web, full/bundler)`);
        return { file: f, ...sizesOf(readFileSync(path)) };
      });
      const wasm = parts.filter((x) => x.file.endsWith('.wasm'));
      const glue = parts.filter((x) => !x.file.endsWith('.wasm'));
      entries[entry] = { files: parts, wasm: addSizes(wasm), glue: addSizes(glue), total: addSizes(parts) };
    }
    const webWasm = Object.values(b.entries).flat().find((f) => f.endsWith('.wasm') && f.includes('/web/'));
    const wasmBuf = readFileSync(join(PKG_DIR, webWasm.replace(/^dist\//, '')));
    const parsed = parseWasm(wasmBuf);
    let crates = null;
    let twiggy = null;
    const named = NAMED_WASM[build];
    if (named && existsSync(named)) {
      crates = codeByCrate(readFileSync(named), 15);
      twiggy = twiggyViews(named);
    }
    builds[build] = {
      goal: b.goal,
      budget: b.budget,
      entries,
      sections: parsed.sections,
      devBuild: !!parsed.names, // a release build through wasm-opt has no "name" section
      wasmSha256: createHash('sha256').update(wasmBuf).digest('hex'),
      crates,
      twiggy,
    };
  }
  return {
    gzipTool: GZIP_CLI ? 'GNU gzip -9 -n' : "node's zlib at level 9 (no gzip on this machine)",
    uppy: sizesOf(readFileSync(UPPY_BUNDLE)),
    // The form element's own JS and CSS (one file), kept apart from the wasm budgets (issue 12).
    element: sizesOf(readFileSync(join(ROOT, 'js/element.js'))),
    builds,
    cratesSource: 'each build\'s release .wasm run through wasm-bindgen and wasm-opt -Oz --converge like the package, with -g to keep the name section',
    twiggy: TWIGGY ? spawnSync(TWIGGY, ['--version'], { encoding: 'utf8' }).stdout.trim() : null,
    devBuild: Object.values(builds).some((x) => x.devBuild),
  };
}

// ------------------------------------------------------------------ targets and report

const pct = (x) => `${(x * 100).toFixed(1)} %`;
const fmtRatio = (x) => (x === null || x === undefined ? 'n/a' : `${x.toFixed(3)}×`);
const fmtMs = (x) => (x === null || x === undefined ? 'n/a' : x >= 100 ? `${x.toFixed(0)} ms` : `${x.toFixed(1)} ms`);
const fmtBytes = (b) => {
  if (b === null || b === undefined || !Number.isFinite(b)) return 'n/a';
  const a = Math.abs(b);
  const sign = b < 0 ? '−' : '';
  return a >= MiB ? `${sign}${(a / MiB).toFixed(2)} MiB` : a >= KiB ? `${sign}${(a / KiB).toFixed(1)} KiB` : `${sign}${a} B`;
};
const fmtKB = (b) => `${b.toLocaleString('en-US')} B (${(b / 1000).toFixed(1)} KB)`;

function targets(res) {
  const t = [];
  // `r` is a pairedRatio: the verdict is on its median; the spread (middle half of the per-round
  // ratios) says whether the verdict is beyond this machine's run-to-run noise.
  const atLeast = (name, r, goal) => {
    const measured = r?.median;
    if (measured === null || measured === undefined) return t.push({ name, goal: `≥ ${goal.toFixed(2)}×`, measured: 'n/a', met: false, by: 'not measured' });
    const met = measured >= goal;
    const spread = r.p25 !== null ? ` (middle half of rounds ${r.p25.toFixed(2)}–${r.p75.toFixed(2)})` : '';
    const noisy = r.p25 !== null && r.p25 < goal && goal <= r.p75 ? '; within the run-to-run spread' : '';
    t.push({ name, goal: `≥ ${goal.toFixed(2)}×`, measured: `${fmtRatio(measured)}${spread}`, met, noisy: !!noisy,
      by: met ? (noisy ? 'met, within the run-to-run spread' : '') : `missed by ${pct((goal - measured) / goal)} (${fmtRatio(measured)} vs ${goal.toFixed(2)}×)${noisy}` });
  };
  const bigSizes = res.throughput.filter((x) => x.size >= (QUICK ? 16 * MiB : 64 * MiB));
  for (const s of bigSizes) {
    for (const c of ['putFile-fetch', 'putFile-xhr']) {
      atLeast(`throughput ${c}, ${sizeLabel(s.size)} vs raw`, s.contenders[c].vsRaw, 0.97);
      atLeast(`throughput ${c}, ${sizeLabel(s.size)} vs Uppy`, s.contenders[c].vsUppy, 1.0);
    }
  }
  // Multipart: no target was set (issue 7); the ratios are reported, never "missed".
  const report = (name, r) => t.push({
    name,
    goal: 'none (reported)',
    measured: r?.median !== null && r?.median !== undefined ? `${fmtRatio(r.median)}${r.p25 !== null ? ` (middle half of rounds ${r.p25.toFixed(2)}–${r.p75.toFixed(2)})` : ''}` : 'n/a',
    met: true,
    by: 'no target: see Multipart',
  });
  for (const s of res.throughput.filter((x) => x.contenders.multipart)) {
    report(`multipart (Uploader.upload, ${MP_PART_SIZE / MiB} MiB parts × ${MP_CONCURRENCY}), ${sizeLabel(s.size)} vs single PUT (Uploader.upload)`, s.contenders.multipart.vsSingle);
    report(`multipart (Uploader.upload), ${sizeLabel(s.size)} vs Uppy 6 multipart`, s.contenders.multipart.vsUppyMultipart);
  }
  const b = res.batch.contenders;
  atLeast(`batch ${res.batch.count} × ${sizeLabel(res.batch.size)}: uploadAll (no verify) vs Uppy, Uppy's wall time / uploadAll's`, b.uploadAll.vsUppy, 1.0);
  const mem = res.throughput.find((x) => x.size === BIG)?.memory;
  if (mem) {
    const worst = Math.max(...['putFile-fetch', 'putFile-xhr', 'Uploader.upload'].map((c) => mem[c].wasmGrowthMax ?? Infinity));
    const goal = MiB;
    t.push({
      name: `wasm memory growth during one ${sizeLabel(BIG)} upload (worst of putFile fetch/xhr, Uploader.upload)`,
      goal: '≤ 1 MiB',
      measured: fmtBytes(worst),
      met: worst <= goal,
      by: worst <= goal ? '' : `missed by ${fmtBytes(worst - goal)}`,
    });
  }
  // Size: the issue's goals (issue 16) for each entry, gzip -9 of the .wasm + its glue as shipped.
  for (const [build, b] of Object.entries(res.size.builds)) {
    for (const [entry, e] of Object.entries(b.entries)) {
      const total = e.total.gzip;
      t.push({
        name: `size: ${entry} (${build}), .wasm + JS glue as shipped, gzip -9`,
        goal: `≤ ${fmtKB(b.goal)}`,
        measured: `${fmtKB(total)}; budget ${b.budget.toLocaleString('en-US')} B`,
        met: total <= b.goal,
        by: total <= b.goal ? `met by ${fmtKB(b.goal - total)}` : `missed by ${fmtKB(total - b.goal)} (${pct((total - b.goal) / b.goal)})`,
      });
    }
  }
  return t;
}

function markdown(res) {
  const L = [];
  const m = res.meta;
  L.push(`# Benchmark results${QUICK ? ' (QUICK smoke: not for quoting)' : ''}`, '');
  L.push(`Made by \`npm run bench\` (scripts/bench.sh → bench/run.mjs) on ${m.date}.`, '');
  L.push(`- Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memGiB} GiB, ${m.os}; load average ${m.loadBefore.join(' / ')} before, ${m.loadAfter.join(' / ')} after`);
  L.push(`- Browser: ${m.chromium} (headless), Node ${m.node}, curl ${m.curl}`);
  const sha = Object.entries(res.size.builds).map(([k, b]) => `${k} ${b.wasmSha256.slice(0, 16)}…`).join(', ');
  L.push(`- Package: ${m.commit}; web .wasm sha256 ${sha}; devserver release build, objects on ${m.storeOn}`);
  L.push('- Builds: the single-PUT contenders (putFile, Uploader.upload, uploadAll) run on core (`presigned-upload/web`, served at /pkg/web/), the multipart contender on full (`presigned-upload/full/web`, /pkg/full/web/), each loaded as an app would import it.');
  L.push(`- Runs: ${RUNS} interleaved rounds per figure (1 MiB and startup: ${QUICK ? 3 : RUNS * 3}); the order of contenders rotates every round; figures are medians, ratios are medians of per-round ratios.`);
  if (m.busy) L.push(`- ⚠ ${m.busy}`);
  if (m.nice) L.push(`- The bench ran under \`nice\` ${m.nice} (its processes yield to others on this machine).`);
  if (m.note) L.push(`- ⚠ ${m.note}`);
  if (res.size.devBuild) L.push('- ⚠ the package measured is a dev build (dist/ was not rebuilt): its size and speed say nothing about the release package');
  L.push('');

  L.push('## Targets', '', '| target | goal | measured | status |', '|---|---|---|---|');
  for (const t of res.targets) L.push(`| ${t.name} | ${t.goal} | ${t.measured} | ${t.met ? (t.by || 'met') : `**${t.by}**`} |`);
  L.push('', 'Ratios are throughput ratios (> 1 = faster), the median of the per-round ratios; "middle half of rounds" is their 25th–75th percentile. When the goal lies inside it, the verdict could flip on a rerun.');
  L.push('');

  L.push('## Throughput', '');
  L.push('MiB/s = file size / median time. "× raw" and "× Uppy" are throughput ratios (> 1 = faster), medians of the per-round ratios.', '');
  for (const s of res.throughput) {
    L.push(`### ${sizeLabel(s.size)} (${s.runs} rounds)`, '', '| contender | median | MiB/s (min–max) | × raw | × Uppy | ok | what is timed |', '|---|---|---|---|---|---|---|');
    for (const c of CONTENDERS) {
      const x = s.contenders[c];
      const range = x.mibpsMin !== null ? ` (${x.mibpsMin.toFixed(0)}–${x.mibpsMax.toFixed(0)})` : '';
      L.push(`| ${c} | ${fmtMs(x.medianMs)} | ${x.mibps !== null ? x.mibps.toFixed(1) : 'n/a'}${range} | ${fmtRatio(x.vsRaw.median)} | ${fmtRatio(x.vsUppy.median)} | ${x.ok}/${x.runs} | ${x.what} |`);
    }
    const errs = CONTENDERS.flatMap((c) => s.contenders[c].errors.map((e) => `${c}: ${e}`));
    if (errs.length) L.push('', 'Failures: ' + errs.join('; '));
    L.push('');
  }

  const mpSizes = res.throughput.filter((x) => x.contenders.multipart);
  if (mpSizes.length) {
    L.push('## Multipart', '');
    L.push(`presigned-upload's multipart (\`Uploader.upload\` with \`multipart: { threshold: 5 MiB, partSize: ${MP_PART_SIZE / MiB} MiB, concurrency: ${MP_CONCURRENCY} }\` and the devserver's /backend/multipart/* endpoints) against the single PUTs and Uppy 6 multipart (\`@uppy/aws-s3\`, \`shouldUseMultipart: true\`, \`getChunkSize\` ${MP_PART_SIZE / MiB} MiB). Measured in the same interleaved rounds as the Throughput tables (the single-PUT rows are the same runs). Ratios are throughput ratios (> 1 = faster), medians of the per-round ratios, with the middle half of rounds in brackets. No target was set for multipart.`, '');
    L.push('Uppy 6 has one `signRequest` callback for every S3 call (no createMultipartUpload/completeMultipartUpload callbacks) and sends a file\'s parts one at a time. Its callback here calls the same backend endpoints as presigned-upload: sign-part for each part (Uppy PUTs the part to the store), and create/complete, which the devserver\'s backend performs server-side; their S3 answer is handed back to Uppy as a `data:` URL, so each costs one backend round trip, as for presigned-upload.', '');
    const cell = (r) => (r?.median !== null && r?.median !== undefined ? `${fmtRatio(r.median)}${r.p25 !== null ? ` (${r.p25.toFixed(2)}–${r.p75.toFixed(2)})` : ''}` : 'n/a');
    for (const s of mpSizes) {
      L.push(`### ${sizeLabel(s.size)} (${s.runs} rounds)`, '', '| contender | median | MiB/s (min–max) | × single PUT (Uploader.upload) | × putFile-fetch | × Uppy multipart | × Uppy single PUT | ok |', '|---|---|---|---|---|---|---|---|');
      for (const c of ['multipart', 'uppy-multipart', 'Uploader.upload', 'putFile-fetch', 'uppy']) {
        const x = s.contenders[c];
        if (!x) continue;
        const range = x.mibpsMin !== null ? ` (${x.mibpsMin.toFixed(0)}–${x.mibpsMax.toFixed(0)})` : '';
        const label = { multipart: '**multipart** (ours)', 'uppy-multipart': 'uppy-multipart', 'Uploader.upload': 'Uploader.upload (single PUT)', 'putFile-fetch': 'putFile-fetch (single PUT)', uppy: 'uppy (single PUT)' }[c];
        L.push(`| ${label} | ${fmtMs(x.medianMs)} | ${x.mibps !== null ? x.mibps.toFixed(1) : 'n/a'}${range} | ${cell(x.vsSingle)} | ${cell(x.vsPutFile)} | ${cell(x.vsUppyMultipart)} | ${cell(x.vsUppy)} | ${x.ok}/${x.runs} |`);
      }
      const errs = MP_CONTENDERS.flatMap((c) => (s.contenders[c]?.errors || []).map((e) => `${c}: ${e}`));
      if (errs.length) L.push('', 'Failures: ' + errs.join('; '));
      L.push('');
    }
    L.push('What is timed:', '');
    for (const c of MP_CONTENDERS) L.push(`- ${c}: ${WHAT[c]}`);
    L.push('');
  }

  const b = res.batch;
  L.push(`## Batch: ${b.count} files of ${sizeLabel(b.size)}, concurrency ${b.concurrency} (${b.runs} rounds)`, '');
  L.push('| contender | median wall time (min–max) | files/s | × Uppy (Uppy time / this) | × raw pool | ok | what |', '|---|---|---|---|---|---|---|');
  for (const c of BATCH_CONTENDERS) {
    const x = b.contenders[c];
    L.push(`| ${c} | ${fmtMs(x.medianMs)} (${fmtMs(x.minMs)}–${fmtMs(x.maxMs)}) | ${x.filesPerSec ? x.filesPerSec.toFixed(0) : 'n/a'} | ${fmtRatio(x.vsUppy.median)} | ${fmtRatio(x.vsRaw.median)} | ${x.ok}/${x.runs} | ${x.what} |`);
  }
  L.push('');

  const mem = res.throughput.find((x) => x.size === BIG)?.memory;
  if (mem) {
    L.push(`## Memory during one ${sizeLabel(BIG)} upload`, '');
    L.push(`Sampled every 20 ms and at the end of each run (after \`gc()\` before the run). wasm = \`memory.buffer.byteLength\` of the linear memory of the build the contender uses (right after init: core ${fmtBytes(res.wasmMemoryAtInit)}, full ${fmtBytes(res.wasmMemoryAtInitFull)}); JS heap = \`performance.memory.usedJSHeapSize\` (precise).`, '');
    L.push(`Over the whole session (every upload of every size and the batches), core's linear memory went from ${fmtBytes(res.wasmMemoryAtInit)} to ${fmtBytes(res.wasmMemoryAtEnd)} (${fmtBytes(res.wasmMemoryAtEnd - res.wasmMemoryAtInit)}), full's from ${fmtBytes(res.wasmMemoryAtInitFull)} to ${fmtBytes(res.wasmMemoryAtEndFull)} (${fmtBytes(res.wasmMemoryAtEndFull - res.wasmMemoryAtInitFull)}).`, '');
    L.push('| contender | wasm growth, median (max) | wasm memory after | JS heap peak growth, median (max) | JS heap kept after gc, median |', '|---|---|---|---|---|');
    for (const c of [...PAGE_CONTENDERS, ...MP_CONTENDERS].filter((n) => mem[n])) {
      const x = mem[c];
      const noWasm = c === 'raw' || c === 'uppy' || c === 'uppy-multipart';
      const wasmCell = noWasm ? '— (no wasm)' : `${fmtBytes(x.wasmGrowthMedian)} (${fmtBytes(x.wasmGrowthMax)})`;
      const after = noWasm ? '—' : fmtBytes(x.wasmBytesAfter);
      L.push(`| ${c}${noWasm ? '' : c === 'multipart' ? ' (full)' : ' (core)'} | ${wasmCell} | ${after} | ${fmtBytes(x.heapGrowthMedian)} (${fmtBytes(x.heapGrowthMax)}) | ${fmtBytes(x.heapKeptMedian)} |`);
    }
    L.push('');
  }

  const st = res.startup;
  L.push('## Startup (fresh browser context per run: nothing cached)', '');
  L.push(`The five measurements below ran side by side in the same ${st.uppy.runs} rounds (the order rotates every round), each in a fresh browser context, from the devserver on localhost (no network time).`, '');
  L.push('| what | median total (min–max) | import | init / construct | × Uppy (median total) | runs |', '|---|---|---|---|---|---|');
  for (const k of STARTUP_KINDS) {
    const x = st[k];
    if (!x) continue;
    const vs = k !== 'uppy' && x.totalMs && st.uppy.totalMs ? `${(x.totalMs / st.uppy.totalMs).toFixed(2)}×` : k === 'uppy' ? '1.00×' : 'n/a';
    L.push(`| ${STARTUP_WHAT[k]} | ${fmtMs(x.totalMs)} (${fmtMs(x.totalMinMs)}–${fmtMs(x.totalMaxMs)}) | ${fmtMs(x.importMs)} | ${fmtMs(x.initMs)} | ${vs} | ${x.ok}/${x.runs} |`);
  }
  L.push('', '"× Uppy" is the time ratio (< 1 = starts faster than Uppy).', '');

  const z = res.size;
  const num = (n) => n.toLocaleString('en-US');
  L.push('## Size', '', `gzip -9 with ${z.gzipTool} (as tests/size measures), brotli at quality 11 with node's zlib; each file compressed on its own and summed, as tests/size sums them. KB = 1000 bytes. The goals are issue 16's, the budgets tests/size/budgets.json's.`, '');
  L.push('| build | entry | .wasm raw / gzip / brotli | glue raw / gzip / brotli | **total gzip -9** | total brotli | goal (gzip) | budget | × Uppy (gzip) |', '|---|---|---|---|---|---|---|---|---|');
  for (const [build, b] of Object.entries(z.builds)) {
    for (const [entry, e] of Object.entries(b.entries)) {
      const diff = e.total.gzip - b.goal;
      const goalCell = `${num(b.goal)} (${diff > 0 ? `**+${num(diff)}**` : `−${num(-diff)}`})`;
      L.push(`| ${build} | \`${entry}\` | ${num(e.wasm.raw)} / ${num(e.wasm.gzip)} / ${num(e.wasm.brotli)} | ${num(e.glue.raw)} / ${num(e.glue.gzip)} / ${num(e.glue.brotli)} | **${num(e.total.gzip)}** | ${num(e.total.brotli)} | ${goalCell} | ${num(b.budget)} | ${(e.total.gzip / z.uppy.gzip).toFixed(2)}× |`);
    }
  }
  L.push(`| Uppy | @uppy/core + @uppy/aws-s3, esbuild --bundle --minify | — | ${num(z.uppy.raw)} / ${num(z.uppy.gzip)} / ${num(z.uppy.brotli)} | **${num(z.uppy.gzip)}** | ${num(z.uppy.brotli)} | — | — | 1.00× |`);
  L.push('');
  if (z.element) {
    L.push(`The form element (\`presigned-upload/element\`, js/element.js: its JS and CSS in one file, kept apart from the wasm budgets; it loads the core build only when the page gives it no uploader): ${num(z.element.raw)} B raw, **${num(z.element.gzip)} B gzip -9** (goal ≤ 8,192 B, checked by tests/e2e/element-size.test.mjs), ${num(z.element.brotli)} B brotli.`, '');
  }
  const bl = Object.entries(z.builds);
  if (bl.length === 2) {
    const [[, c], [, f]] = bl;
    const cw = Object.values(c.entries).find((e) => e.files.some((x) => x.file.includes('/web/')));
    const fw = Object.values(f.entries).find((e) => e.files.some((x) => x.file.includes('/web/')));
    if (cw && fw) L.push(`What full adds to core (web entries): ${num(fw.total.gzip - cw.total.gzip)} B gzip -9, ${num(fw.total.brotli - cw.total.brotli)} B brotli (multipart and the in-browser SigV4 signer).`, '');
  }

  L.push('### What the .wasm is made of', '', 'Sections of the shipped web .wasm (bytes):', '');
  const secNames = [...new Set(bl.flatMap(([, b]) => b.sections.map((x) => x.name)))];
  L.push(`| section | ${bl.map(([k]) => k).join(' | ')} |`, `|---|${bl.map(() => '---|').join('')}`);
  for (const n of secNames) L.push(`| ${n} | ${bl.map(([, b]) => { const x = b.sections.find((y) => y.name === n); return x ? num(x.size) : '—'; }).join(' | ')} |`);
  L.push('');
  const withCrates = bl.filter(([, b]) => b.crates);
  if (withCrates.length) {
    L.push(`Code bytes per crate, from ${z.cratesSource} (bench/wasm-size.mjs: function bodies attributed by their demangled name; generic code counts for the crate that defines it; approximate):`, '');
    const crateNames = [...new Set(withCrates.flatMap(([, b]) => b.crates.byCrate.map((x) => x.crate)))];
    const get = (b, n) => b.crates.byCrate.find((x) => x.crate === n);
    crateNames.sort((a, b2) => Math.max(...withCrates.map(([, b]) => get(b, b2)?.bytes || 0)) - Math.max(...withCrates.map(([, b]) => get(b, a)?.bytes || 0)));
    const both = withCrates.length === 2;
    L.push(`| crate | ${withCrates.map(([k]) => `${k} bytes | ${k} share`).join(' | ')}${both ? ' | full − core' : ''} |`, `|---|${withCrates.map(() => '---|---|').join('')}${both ? '---|' : ''}`);
    for (const n of crateNames) {
      const cells = withCrates.map(([, b]) => { const x = get(b, n); return x ? `${num(x.bytes)} | ${pct(x.share)}` : '— | —'; });
      const d = both ? ` | ${num((get(withCrates[1][1], n)?.bytes || 0) - (get(withCrates[0][1], n)?.bytes || 0))}` : '';
      L.push(`| ${n} | ${cells.join(' | ')}${d} |`);
    }
    L.push(`| **all code** | ${withCrates.map(([, b]) => `**${num(b.crates.codeBytes)}** | 100 %`).join(' | ')}${both ? ` | **${num(withCrates[1][1].crates.codeBytes - withCrates[0][1].crates.codeBytes)}**` : ''} |`);
    L.push('');
  } else {
    L.push('No per-crate breakdown: no named .wasm was built (BENCH_NO_BUILD=1, or wasm-bindgen or wasm-opt missing).', '');
  }

  if (withCrates.length) L.push('### Largest functions', '');
  if (!z.twiggy) {
    L.push('⚠ twiggy was not found (install it with `cargo install twiggy`): the lists below come from bench/wasm-size.mjs (shallow sizes, rough demangling), and there are no retained sizes, dominator trees or monomorphization counts.', '');
  }
  for (const [k, b] of withCrates) {
    const tt = b.twiggy?.top;
    if (tt && tt.length) {
      const shipped = Object.values(b.entries).find((e) => e.files.some((x) => x.file.includes('/web/')))?.wasm.raw;
      L.push(`**${k}**, the 20 largest items by \`twiggy top --retained\` (shallow = the item's own bytes; retained = the bytes that would go with it, i.e. what only it keeps alive; share = of the shipped web .wasm, ${num(shipped)} B):`, '');
      L.push('| item | shallow bytes | share | retained bytes |', '|---|---|---|---|');
      for (const f of tt) L.push(`| \`${String(f.name).replace(/\|/g, '\\|')}\` | ${num(f.shallow)} | ${pct(f.shallow / shipped)} | ${f.retained !== undefined ? num(f.retained) : 'n/a'} |`);
    } else {
      L.push(`**${k}**, largest function bodies (bench/wasm-size.mjs):`, '');
      L.push('| function | bytes | share of code |', '|---|---|---|');
      for (const f of b.crates.topFunctions) L.push(`| \`${f.name.replace(/\|/g, '\\|')}\` | ${num(f.size)} | ${pct(f.share)} |`);
    }
    L.push('');
  }
  for (const [k, b] of withCrates) {
    if (b.twiggy?.dominators) L.push(`**${k}**, \`twiggy dominators -d 3 -r 40\` (the dominator tree of the call graph: each item's retained size is what only it keeps alive; \`table[0]\`/\`elem[0]\` is the function table that closures and async tasks are called through):`, '', '```', b.twiggy.dominators.trimEnd(), '```', '');
    if (b.twiggy?.monos) L.push(`**${k}**, \`twiggy monos -g -m 12\` (generic functions copied per type; "bloat" = bytes beyond one copy):`, '', '```', b.twiggy.monos.trimEnd(), '```', '');
  }
  if (z.twiggy && withCrates.length) L.push(`(${z.twiggy}, on the same named .wasm files.)`, '');

  L.push('## How to read and rerun', '');
  L.push('- `npm run bench` (full, about 5 minutes once built) rewrites bench/results.json and this file; `BENCH_QUICK=1 npm run bench` is a smoke (1 MiB + 16 MiB, multipart at 16 MiB, 3 runs, 50-file batch) written to bench/out/quick/.');
  L.push('- Blobs are built in the page from 1 MiB of pseudo-random bytes; every contender uploads the same File to the same devserver store (s3s-fs, SigV4 checked; on a RAM disk when /dev/shm has room). Objects of 16 MiB and more are deleted right after each run.');
  L.push('- raw and putFile get their URL from /backend/presign before the clock starts; Uploader.upload and Uppy presign inside the timed call (Uploader.upload also verifies). The multipart contenders (files of 16 MiB and more) create, sign every part and complete inside the timed call; ours also verifies. curl runs on the host against the same store: it is the server\'s own ingest limit, not a browser figure.');
  L.push('- Startup: every figure is in a fresh browser context (no HTTP or code cache); "from bytes" times `init()` on an ArrayBuffer already fetched, "from the URL" times importing the glue plus `init()` fetching the .wasm. Uppy\'s figure is importing its minified bundle plus building `new Uppy().use(AwsS3)`.');
  L.push('- Size: every entry of tests/size/budgets.json, from the files the bench served (staged from dist/ by scripts/bench.sh). The per-crate table is bench/wasm-size.mjs on a copy of each build that keeps its function names; the per-function lists, dominator trees and monomorphizations are twiggy\'s when it is installed.');
  L.push('- Absolute numbers depend on the machine and its load; the ratios are what the targets are about.');
  L.push('');
  return L.join('\n');
}

// ------------------------------------------------------------------ main

function loadavg() {
  return os.loadavg().map((x) => x.toFixed(2));
}

async function main() {
  if (!BASE) throw new Error('PU_WEB_BASE is not set: run `npm run bench` (scripts/bench.sh starts the devserver)');
  if (!existsSync(UPPY_BUNDLE)) throw new Error(`no Uppy bundle at ${UPPY_BUNDLE}: run through scripts/bench.sh`);
  mkdirSync(WORK, { recursive: true });
  mkdirSync(OUT_DIR, { recursive: true });
  const t0 = Date.now();
  const loadBefore = loadavg();
  const size = measureSize();
  for (const [build, b] of Object.entries(size.builds)) {
    for (const [entry, e] of Object.entries(b.entries)) log(`size: ${entry} (${build}) ${e.total.gzip} B gzip -9, ${e.total.brotli} B brotli (goal ${b.goal} B)`);
  }
  log(`size: Uppy ${size.uppy.gzip} B gzip -9; twiggy: ${size.twiggy || 'not found (breakdown from bench/wasm-size.mjs only)'}`);

  const browser = await launchChromium(EXTRA_ARGS);
  let res;
  try {
    const chromiumVersion = browser.version();
    log(`Chromium ${chromiumVersion}; ${QUICK ? 'QUICK' : 'full'} run, ${RUNS} rounds per figure`);
    log('startup');
    const startup = await measureStartup(browser);
    const session = new Session(browser);
    await session.open();
    if (!session.setupInfo.preciseMemory) log('warning: performance.memory is missing: no JS heap figures');
    const wasmMemoryAtInit = session.setupInfo.wasmMemoryBytes;
    const wasmMemoryAtInitFull = session.setupInfo.wasmMemoryBytesFull;
    const throughput = await measureThroughput(session);
    const batch = await measureBatch(session);
    const memEnd = await session.page.evaluate(() => window.bench.memoryNow());
    const wasmMemoryAtEnd = memEnd.wasmMemoryBytes;
    const wasmMemoryAtEndFull = memEnd.wasmMemoryBytesFull;
    const curlVersion = (spawnSync('curl', ['--version'], { encoding: 'utf8' }).stdout || '').split(' ')[1] || '?';
    const gitHead = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
    const dirty = spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'Cargo.toml', 'Cargo.lock'], { encoding: 'utf8' }).stdout.trim();
    const loadAfter = loadavg();
    const nproc = os.cpus().length;
    const busy = Math.max(...loadBefore.map(Number), ...loadAfter.map(Number)) > nproc * 0.5
      ? `the machine was busy (load average above ${nproc * 0.5} with ${nproc} CPUs): absolute figures are noisy; ratios less so`
      : '';
    res = {
      meta: {
        date: new Date().toISOString(),
        quick: QUICK,
        runs: RUNS,
        nproc,
        cpu: os.cpus()[0]?.model?.trim() || '?',
        memGiB: Math.round(os.totalmem() / 2 ** 30),
        os: `${os.type()} ${os.release()}`,
        chromium: `Chromium ${chromiumVersion}`,
        node: process.versions.node,
        curl: curlVersion,
        commit: `${gitHead}${dirty ? ' + uncommitted changes in src/' : ''}`,
        loadBefore,
        loadAfter,
        busy,
        nice: os.getPriority(),
        note: NOTE,
        durationSec: Math.round((Date.now() - t0) / 1000),
        storeOn: process.env.BENCH_STORE_ON || 'the devserver\'s data dir',
        pageErrors: session.pageErrors.slice(0, 20),
      },
      wasmMemoryAtInit,
      wasmMemoryAtEnd,
      wasmMemoryAtInitFull,
      wasmMemoryAtEndFull,
      startup,
      throughput,
      batch,
      size,
    };
    res.targets = targets(res);
  } finally {
    await browser.close();
  }
  writeFileSync(join(OUT_DIR, 'results.json'), JSON.stringify(res, null, 2) + '\n');
  const md = markdown(res);
  writeFileSync(join(OUT_DIR, 'RESULTS.md'), md);
  console.log(md);
  log(`wrote ${join(OUT_DIR, 'results.json')} and ${join(OUT_DIR, 'RESULTS.md')} in ${res.meta.durationSec} s`);

  const failedAll = [];
  for (const s of res.throughput) for (const c of Object.keys(s.contenders)) if (s.contenders[c].ok === 0) failedAll.push(`${c} @ ${sizeLabel(s.size)}`);
  for (const c of BATCH_CONTENDERS) if (res.batch.contenders[c].ok === 0) failedAll.push(`batch ${c}`);
  for (const [k, v] of Object.entries(res.startup)) if (v.ok === 0) failedAll.push(`startup ${k}`);
  if (failedAll.length) {
    log(`FAILED: no successful run for ${failedAll.join(', ')}`);
    process.exitCode = 1;
  } else if (STRICT && res.targets.some((t) => !t.met)) {
    log('BENCH_STRICT: a target is missed');
    process.exitCode = 1;
  }
}

// Run when executed (node bench/run.mjs); importing it only gives `markdown`, to re-render a results.json.
export { markdown };
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error('[bench] error:', e.stack || e);
    process.exit(1);
  });
}
