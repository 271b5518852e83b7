// The memory of a big upload in Node.js: a 1 GiB file from disk (`fs.openAsBlob`) through HexnodeClient.upload
// (presign, PUT, verify) on the devserver, once with `onProgress` (the counting stream body) and once without
// (the Blob as the body). Each run is a child process of its own; it samples its RSS every 20 ms and reports the
// growth over its RSS just before the upload (after the package loaded), and the peak. The goal: under 64 MiB.
//
//   node bench/node-rss.mjs            (scripts/bench.sh runs it; needs PU_WEB_BASE, a devserver)
//   BENCH_NODE_MIB=N                   the file's size in MiB (default 1024; BENCH_QUICK=1: 256)
//   BENCH_STORE_DIR                    the store's bucket directory, emptied after each run (optional)
//   BENCH_OUT                          where to write node-rss.json and node-rss.md (default bench/)
//   BENCH_STRICT=1                     exit 1 when the growth is 64 MiB or more
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const LIMIT = 64 * MiB;

if (process.argv[2] === '--child') {
  // One measured upload: argv[3] the file, argv[4] "progress" or "blob".
  const { openAsBlob } = await import('node:fs');
  const { HexnodeClient } = await import('presigned-upload');
  const web = process.env.PU_WEB_BASE;
  const cfg = await (await fetch(`${web}/config.json`)).json();
  const hx = new HexnodeClient({ portal: cfg.api_base, apiKey: cfg.api_key });
  await hx.generatePresignedUploadUrl('warm-up.bin'); // the first call's allocations are not the upload's
  globalThis.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  let events = 0;
  const t0 = performance.now();
  const r = await hx.upload(await openAsBlob(process.argv[3]), {
    fileName: 'rss.bin',
    onProgress: process.argv[4] === 'progress' ? () => { events += 1; peak = Math.max(peak, process.memoryUsage().rss); } : undefined,
  });
  const ms = performance.now() - t0;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  process.stdout.write(JSON.stringify({ mode: process.argv[4], size: r.size, verified: r.verified, baseRss: base, peakRss: peak,
    growth: peak - base, maxRssKiB: process.resourceUsage().maxRSS, progressEvents: events, ms }));
  process.exit(0);
}

const web = process.env.PU_WEB_BASE;
if (!web) throw new Error('PU_WEB_BASE is not set: run through scripts/bench.sh (npm run bench), which starts the devserver');
const sizeMiB = Number(process.env.BENCH_NODE_MIB ?? (process.env.BENCH_QUICK === '1' ? 256 : 1024));
const outDir = resolve(process.env.BENCH_OUT ?? join(ROOT, 'bench'));
const work = mkdtempSync(join(tmpdir(), 'pu-node-rss-'));
const file = join(work, 'big.bin');
const fd = openSync(file, 'w');
ftruncateSync(fd, sizeMiB * MiB); // sparse: the file costs no memory or disk to make
closeSync(fd);

const runs = [];
try {
  for (const mode of ['progress', 'blob']) {
    const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', file, mode],
      { env: process.env, maxBuffer: 1 << 20, cwd: ROOT });
    runs.push(JSON.parse(out.toString()));
    const store = process.env.BENCH_STORE_DIR;
    if (store) for (const name of readdirSync(store)) rmSync(join(store, name), { recursive: true, force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const f = (n) => `${(n / MiB).toFixed(1)} MiB`;
const lines = [
  `## Node.js: memory of a ${sizeMiB} MiB upload from disk`,
  '',
  `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, HexnodeClient.upload of \`fs.openAsBlob(path)\` on the devserver; `
    + 'RSS sampled every 20 ms (and at every progress event) in a child process of its own; growth = peak − RSS just before the upload.',
  '',
  '| body | RSS growth | peak RSS | goal | MiB/s | progress events | verified |',
  '|---|---|---|---|---|---|---|',
  ...runs.map((r) => `| ${r.mode === 'progress' ? 'with onProgress (counting stream)' : 'without onProgress (the Blob)'} | ${f(r.growth)} | ${f(r.peakRss)} | < 64 MiB: ${r.growth < LIMIT ? 'met' : '**missed**'} | ${(r.size / MiB / (r.ms / 1000)).toFixed(0)} | ${r.progressEvents} | ${r.verified} |`),
  '',
];
writeFileSync(join(outDir, 'node-rss.json'), JSON.stringify({ sizeMiB, node: process.version, runs }, null, 2) + '\n');
writeFileSync(join(outDir, 'node-rss.md'), lines.join('\n'));
console.log(lines.join('\n'));
if (runs.some((r) => r.size !== sizeMiB * MiB || !r.verified)) { console.error('bench: a Node.js upload did not finish verified'); process.exit(1); }
if (process.env.BENCH_STRICT === '1' && runs.some((r) => r.growth >= LIMIT)) process.exit(1);
