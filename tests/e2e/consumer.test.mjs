// The npm package as it is consumed: `npm pack` at the root, installed by path into a small Vite app
// (tests/consumer-app/), built with `vite build`, served with `vite preview` (and `vite` dev), and driven in
// headless Chromium to upload through the devserver's sample backend; plus TypeScript checks of
// tests/types/*.ts against the installed package.
//
//   PU_WEB_BASE   the devserver's web address (required; `npm test` sets it)
//
// Needs dist/ built (`bash scripts/build.sh`, or `--dev`); packs it with --ignore-scripts, so it does not
// rebuild. No network: the tarball has no dependencies and vite/typescript come from the root's node_modules.
//
// Run: node --test --test-concurrency=1 tests/e2e/consumer.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { launchChromium } from '../support/chromium.mjs';
import { getJson, requireEnv, sha256 } from '../support/env.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const APP_FIXTURE = join(ROOT, 'tests/consumer-app');
const TYPES_DIR = join(ROOT, 'tests/types');
const VITE_BIN = join(ROOT, 'node_modules/vite/bin/vite.js');
const TSC_BIN = join(ROOT, 'node_modules/typescript/bin/tsc');
const TEST_TIMEOUT = 120_000;
const KiB = 1024;

// What the tarball must hold, beyond wasm-bindgen's `snippets/` (present only when the crate has JS snippets).
const EXPECTED_FILES = [
  'package.json',
  'README.md',
  'LICENSE-MIT',
  'LICENSE-APACHE',
  'dist/bundler/presigned_upload.js',
  'dist/bundler/presigned_upload_bg.js',
  'dist/bundler/presigned_upload_bg.wasm',
  'dist/bundler/presigned_upload.d.ts',
  'dist/web/presigned_upload.js',
  'dist/web/presigned_upload_bg.wasm',
  'dist/web/presigned_upload.d.ts',
  'dist/full/bundler/presigned_upload.js',
  'dist/full/bundler/presigned_upload_bg.js',
  'dist/full/bundler/presigned_upload_bg.wasm',
  'dist/full/bundler/presigned_upload.d.ts',
  'dist/full/web/presigned_upload.js',
  'dist/full/web/presigned_upload_bg.wasm',
  'dist/full/web/presigned_upload.d.ts',
  'js/element.js',
  'js/element.d.ts',
  'js/node.js',
  'js/node-full.js',
  'js/node-body.js',
  'bin/presigned-upload.js',
];
const SNIPPET_RE = /^dist\/(full\/)?(bundler|web)\/snippets\//;

// The environment of child processes: without the npm_* variables of an enclosing `npm test`, so the nested
// npm commands act on the directory they are given and nothing else.
const childEnv = Object.fromEntries(
  Object.entries({ ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }).filter(([k]) => !/^npm_/i.test(k)),
);

/** Runs a command to its end; rejects with its output when it fails or outlasts `timeout`. */
function run(cmd, args, { cwd, timeout = 60_000, allowFailure = false } = {}) {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { cwd, env: childEnv, timeout, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (err && !(allowFailure && typeof err.code === 'number')) {
        reject(new Error(`\`${cmd} ${args.join(' ')}\` (in ${cwd}) failed: ${err.message}\n${stdout}\n${stderr}`));
      } else {
        resolvePromise({ code, stdout, stderr });
      }
    });
  });
}

const children = new Set();

/** Starts `vite [args]` in the app and resolves with the address it prints. */
function startVite(cwd, args) {
  const child = spawn(process.execPath, [VITE_BIN, ...args, '--host', '127.0.0.1', '--port', '0', '--strictPort'], {
    cwd,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`vite ${args.join(' ')} printed no address in 30 s:\n${output}`)), 30_000);
    const onData = (d) => {
      output += d;
      const m = output.match(/Local:\s+(http:\/\/\S+?)\/?\s/);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ child, url: m[1] });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => { output += d; });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vite ${args.join(' ')} exited (${code}) before serving:\n${output}`));
    });
  });
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function assertStored(base, uuid, bytes, what) {
  assert.match(uuid ?? '', /^[0-9a-f-]{36}$/, `${what}: no file uuid`);
  const obj = await getJson(`${base}/__dev/object/${encodeURIComponent(uuid)}`);
  assert.equal(obj.exists, true, `${what}: not in the store`);
  assert.equal(obj.size, bytes.length, `${what}: stored size`);
  assert.equal(obj.sha256, sha256(bytes), `${what}: stored bytes differ`);
}

let tmp;
let app; // the consumer app, with the tarball installed
let pkgDir; // app/node_modules/presigned-upload
let packed; // `npm pack --json`'s entry
let browser;

before(async () => {
  // Checked here, so a missing variable or build fails every test instead of skipping any.
  requireEnv('PU_WEB_BASE', 'the consumer test uploads through the devserver\'s sample backend');
  const missing = EXPECTED_FILES.filter((f) => f.startsWith('dist/') && !existsSync(join(ROOT, f)));
  assert.deepEqual(missing, [], 'dist/ is not built: run `bash scripts/build.sh` (or `--dev`) first');

  tmp = mkdtempSync(join(tmpdir(), 'pu-consumer-'));
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: ROOT });
  [packed] = JSON.parse(stdout);

  app = join(tmp, 'app');
  cpSync(APP_FIXTURE, app, { recursive: true });
  await run('npm', ['install', '--prefix', app, '--offline', '--no-audit', '--no-fund', '--loglevel=error', join(tmp, packed.filename)], { cwd: app });
  pkgDir = join(app, 'node_modules/presigned-upload');
  // vite from the root's node_modules, as if installed: it resolves its own dependencies from there.
  symlinkSync(join(ROOT, 'node_modules/vite'), join(app, 'node_modules/vite'), 'dir');

  browser = await launchChromium();
}, { timeout: TEST_TIMEOUT });

after(async () => {
  if (browser) await browser.close().catch(() => {});
  await Promise.all([...children].map(stopChild));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------- the tarball

test('npm pack: the manifest a consumer needs, both wasm-pack targets, README and licenses, nothing else', () => {
  const files = packed.files.map((f) => f.path).sort();
  const extra = files.filter((f) => !EXPECTED_FILES.includes(f) && !SNIPPET_RE.test(f));
  const absent = EXPECTED_FILES.filter((f) => !files.includes(f));
  assert.deepEqual(absent, [], 'files missing from the tarball');
  assert.deepEqual(extra, [], 'files in the tarball that a consumer does not need (fix "files" in package.json)');

  // The installed copy is the tarball's content.
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'presigned-upload');
  const cargoPackage = readFileSync(join(ROOT, 'Cargo.toml'), 'utf8').split(/^(?=\[)/m).find((t) => t.startsWith('[package]')) ?? '';
  const crateVersion = cargoPackage.match(/^version\s*=\s*"([^"]+)"/m)?.[1];
  assert.match(pkg.version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  assert.equal(pkg.version, crateVersion, 'package.json and Cargo.toml versions differ');
  assert.equal(packed.filename, `presigned-upload-${pkg.version}.tgz`);
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.license, 'MIT OR Apache-2.0');
  for (const k of ['s3', 'presigned', 'upload', 'wasm', 'hexnode']) assert.ok(pkg.keywords?.includes(k), `keyword ${k} missing`);
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), [], 'the package must not pull runtime dependencies');
  assert.ok(Array.isArray(pkg.files) && pkg.files.length > 0, 'package.json needs a "files" list');

  // exports: the bundler target by default, the web target at ./web; "types" first in each.
  // In Node.js (the condition "node") the Node entries, which load dist/web or dist/full/web with no init().
  assert.deepEqual(pkg.exports['.'], { types: './dist/bundler/presigned_upload.d.ts', node: './js/node.js', default: './dist/bundler/presigned_upload.js' });
  assert.deepEqual(pkg.exports['./web'], { types: './dist/web/presigned_upload.d.ts', default: './dist/web/presigned_upload.js' });
  // The full build (multipart, the in-browser signer) at ./full and ./full/web.
  assert.deepEqual(pkg.exports['./full'], { types: './dist/full/bundler/presigned_upload.d.ts', node: './js/node-full.js', default: './dist/full/bundler/presigned_upload.js' });
  assert.deepEqual(pkg.bin, { 'presigned-upload': 'bin/presigned-upload.js' });
  assert.deepEqual(pkg.exports['./full/web'], { types: './dist/full/web/presigned_upload.d.ts', default: './dist/full/web/presigned_upload.js' });
  for (const [k, v] of Object.entries(pkg.exports)) {
    if (typeof v === 'object') assert.equal(Object.keys(v)[0], 'types', `exports["${k}"]: "types" must come first`);
  }
  assert.equal(pkg.types, './dist/bundler/presigned_upload.d.ts');
  assert.equal(pkg.main, './dist/bundler/presigned_upload.js');
  // Every path the manifest names is in the tarball.
  const named = [pkg.main, pkg.module, pkg.types, ...Object.values(pkg.exports).flatMap((v) => (typeof v === 'string' ? [v] : Object.values(v))),
    ...Object.values(pkg.typesVersions?.['*'] ?? {}).flat()];
  for (const p of named.filter(Boolean)) assert.ok(files.includes(posix.normalize(p)), `package.json names ${p}, which is not in the tarball`);

  // sideEffects: the bundler entry instantiates the wasm when imported (as wasm-pack declares it); the
  // rest may be tree-shaken.
  assert.ok(Array.isArray(pkg.sideEffects), 'sideEffects must be a list');
  assert.ok(pkg.sideEffects.includes('./dist/bundler/presigned_upload.js'), 'dist/bundler/presigned_upload.js has side effects');
  assert.ok(pkg.sideEffects.includes('./dist/full/bundler/presigned_upload.js'), 'dist/full/bundler/presigned_upload.js has side effects');
  for (const p of pkg.sideEffects.filter((p) => !p.includes('/snippets/'))) assert.ok(files.includes(posix.normalize(p)), `sideEffects names ${p}, not in the tarball`);
  const bundlerEntry = readFileSync(join(pkgDir, 'dist/bundler/presigned_upload.js'), 'utf8');
  assert.match(bundlerEntry, /__wbindgen_start\(\)/, 'the bundler entry no longer starts the wasm: revisit sideEffects');

  // Every relative import and `new URL(…, import.meta.url)` of the JS resolves inside the tarball.
  for (const f of files.filter((f) => f.endsWith('.js'))) {
    const src = readFileSync(join(pkgDir, f), 'utf8');
    const refs = [...src.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g), ...src.matchAll(/new URL\(\s*["']([^"']+)["']\s*,\s*import\.meta\.url/g)];
    for (const [, ref] of refs) {
      const target = posix.normalize(posix.join(posix.dirname(f), ref));
      assert.ok(files.includes(target), `${f} loads ${ref}, which is not in the tarball`);
    }
  }
  for (const f of files.filter((f) => f.endsWith('.wasm'))) {
    assert.deepEqual([...readFileSync(join(pkgDir, f)).subarray(0, 4)], [0, 0x61, 0x73, 0x6d], `${f} is not WebAssembly`);
  }
  for (const f of ['LICENSE-MIT', 'LICENSE-APACHE']) {
    assert.match(readFileSync(join(pkgDir, f), 'utf8'), f === 'LICENSE-MIT' ? /Permission is hereby granted/ : /Apache License\s+Version 2\.0/);
  }
});


test('Node.js: the installed package uploads with no init() (import and require), and its command runs', { timeout: TEST_TIMEOUT }, async () => {
  const base = requireEnv('PU_WEB_BASE', 'the upload goes through the devserver\'s sample backend');
  const script = `
    import { createRequire } from 'node:module';
    import { Uploader } from 'presigned-upload';
    import * as full from 'presigned-upload/full';
    const required = createRequire(import.meta.url)('presigned-upload');
    const up = new Uploader({ presign: '${base}/backend/presign', verify: '${base}/backend/verify' });
    const r = await up.upload(new File(['from the installed package'], 'consumer-node.txt', { type: 'text/plain' }));
    console.log(JSON.stringify({ verified: r.verified, same: required.Uploader === Uploader, full: typeof full.Uploader }));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app });
  assert.deepEqual(JSON.parse(stdout), { verified: true, same: true, full: 'function' });
  const version = await run(join(app, 'node_modules/.bin/presigned-upload'), ['--version'], { cwd: app });
  assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version);
});
// ---------------------------------------------------------------- the Vite app in Chromium

/** Opens a page of the app and uploads through Uploader and through putFile; checks both in the store. */
async function uploadThroughPage(url, entry, { putFile = true } = {}) {
  const base = requireEnv('PU_WEB_BASE', 'the sample backend');
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  const wasm = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.stack ?? e}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    if (new URL(r.url()).pathname.endsWith('.wasm')) wasm.push({ status: r.status(), type: r.headers()['content-type'] });
  });
  try {
    await page.goto(`${url}?backend=${encodeURIComponent(base)}`);
    try {
      await page.waitForSelector(`body[data-ready="${entry}"]`, { timeout: 30_000 });
    } catch (e) {
      assert.fail(`${url}: the app did not start (${e.message.split('\n')[0]}): ${problems.join('; ') || 'no page error'}`);
    }
    assert.ok(wasm.some((w) => w.status === 200), `${url}: no .wasm was fetched`);

    const waitResult = async (id) => {
      await page.waitForSelector(`#${id}[data-state=done]`, { timeout: 60_000 });
      const r = JSON.parse(await page.textContent(`#${id}`));
      assert.equal(r.ok, true, `${url} #${id}: ${JSON.stringify(r)}`);
      return r;
    };

    // Uploader: presign and verify through the sample backend, PUT to the store.
    const bytes = randomBytes(1536 * KiB + 7);
    const name = `consumer-${entry}.bin`;
    await page.setInputFiles('#uploader-input', { name, mimeType: 'application/octet-stream', buffer: bytes });
    const { result, phases } = await waitResult('uploader-result');
    assert.equal(result.fileName, name);
    assert.equal(result.contentType, 'application/octet-stream');
    assert.equal(result.size, bytes.length);
    assert.equal(result.verified, true);
    assert.equal(typeof result.fileId, 'number');
    assert.equal(typeof result.etag, 'string');
    for (const phase of ['presign', 'upload', 'verify']) assert.ok(phases.some((p) => p.phase === phase), `no ${phase} progress: ${JSON.stringify(phases)}`);
    const lastUpload = phases.filter((p) => p.phase === 'upload').at(-1);
    assert.deepEqual([lastUpload.loaded, lastUpload.total], [bytes.length, bytes.length], 'upload progress did not reach the end');
    await assertStored(base, result.fileUuid, bytes, `${entry} Uploader`);

    if (putFile) {
      // putFile with a URL the app got from the backend itself.
      const text = Buffer.from(`putFile through ${entry}\n`.repeat(1000));
      await page.setInputFiles('#putfile-input', { name: `put-${entry}.txt`, mimeType: 'text/plain', buffer: text });
      const { fileUuid, put } = await waitResult('putfile-result');
      assert.equal(put.status, 200);
      assert.equal(put.size, text.length);
      assert.equal(put.attempts, 1);
      await assertStored(base, fileUuid, text, `${entry} putFile`);
    }
    assert.deepEqual(problems, [], `${url}: problems in the page`);
    return { wasm };
  } finally {
    await context.close();
  }
}

/** Opens the element's page: no wasm before a file is chosen, one upload through the backend, one wasm. */
async function uploadThroughElement(url) {
  const base = requireEnv('PU_WEB_BASE', 'the sample backend');
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  const wasm = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.stack ?? e}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    if (new URL(r.url()).pathname.endsWith('.wasm')) wasm.push(r.status());
  });
  try {
    await page.goto(`${url}?backend=${encodeURIComponent(base)}`);
    await page.waitForSelector('body[data-ready="element"]', { timeout: 30_000 });
    assert.deepEqual(wasm, [], `${url}: the element loaded the wasm before any file was chosen`);
    const bytes = randomBytes(700 * KiB);
    await page.setInputFiles('[data-testid=file-input]', { name: 'element.bin', mimeType: 'application/octet-stream', buffer: bytes });
    await page.waitForFunction(() => {
      const row = document.querySelector('presigned-upload-form').shadowRoot.querySelector('[data-testid=file-row]');
      return row && ['done', 'failed'].includes(row.dataset.status);
    }, null, { timeout: 60_000 });
    const row = page.locator('[data-testid=file-row]');
    assert.equal(await row.getAttribute('data-status'), 'done', `${url}: ${await row.innerText()}`);
    await assertStored(base, await row.getAttribute('data-uuid'), bytes, `${url} element`);
    assert.deepEqual(wasm, [200], `${url}: the wasm was not fetched exactly once`);
    assert.deepEqual(problems, [], `${url}: problems in the page`);
  } finally {
    await context.close();
  }
}

test('vite build + vite preview: Uploader and putFile work through "presigned-upload" and "presigned-upload/web", and the element through "presigned-upload/element"; and esbuild with /web', { timeout: TEST_TIMEOUT }, async () => {
  await run(process.execPath, [VITE_BIN, 'build', '--logLevel', 'warn'], { cwd: app, timeout: 90_000 });
  const assets = readdirSync(join(app, 'dist/assets'));
  assert.ok(assets.filter((f) => f.endsWith('.wasm')).length >= 1, `vite build emitted no .wasm: ${assets}`);

  // esbuild (the README's recipe): it has no loader for the default entry's .wasm import, so /web, with
  // the .wasm copied next to the bundle, where init()'s `new URL(…, import.meta.url)` looks. Served by the
  // same preview server, from dist/esbuild/.
  const out = join(app, 'dist/esbuild');
  await esbuild.build({ absWorkingDir: app, entryPoints: ['web.js'], bundle: true, format: 'esm', outdir: out, logLevel: 'silent' });
  cpSync(join(pkgDir, 'dist/web/presigned_upload_bg.wasm'), join(out, 'presigned_upload_bg.wasm'));
  cpSync(join(app, 'web.html'), join(out, 'index.html'));

  const { child, url } = await startVite(app, ['preview']);
  try {
    for (const [page, entry] of [['index.html', 'bundler'], ['web.html', 'web'], ['esbuild/index.html', 'web']]) {
      const { wasm } = await uploadThroughPage(`${url}/${page}`, entry);
      assert.ok(wasm.every((w) => w.type === 'application/wasm'), `${page}: wasm served as ${JSON.stringify(wasm)}`);
    }
    await uploadThroughElement(`${url}/element.html`);
  } finally {
    await stopChild(child);
  }
});

test('vite (dev server), with the README\'s optimizeDeps.exclude: both entries and the element upload', { timeout: TEST_TIMEOUT }, async () => {
  const { child, url } = await startVite(app, []);
  try {
    await uploadThroughPage(`${url}/index.html`, 'bundler', { putFile: false });
    await uploadThroughPage(`${url}/web.html`, 'web', { putFile: false });
    await uploadThroughElement(`${url}/element.html`);
  } finally {
    await stopChild(child);
  }
});

// ---------------------------------------------------------------- TypeScript

/** Runs tsc in the app with `config` (a tsconfig's compilerOptions) on `file`; returns exit code and errors. */
async function tsc(name, compilerOptions, file) {
  const config = join(app, `tsconfig.${name}.json`);
  writeFileSync(config, JSON.stringify({ compilerOptions: { noEmit: true, types: [], ...compilerOptions }, files: [file] }, null, 2));
  const { code, stdout, stderr } = await run(process.execPath, [TSC_BIN, '-p', config, '--pretty', 'false'], { cwd: app, allowFailure: true });
  const errors = [...stdout.matchAll(/^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/gm)].map(([, f, line, , codeTs, msg]) => ({ file: f, line: Number(line), code: codeTs, msg }));
  return { code, output: `${stdout}${stderr}`.trim(), errors };
}

// The settings of Vite's "vanilla-ts" template (tsconfig.json), which skip checking .d.ts files.
const VITE_TEMPLATE = {
  target: 'ES2022',
  useDefineForClassFields: true,
  module: 'ESNext',
  lib: ['ES2022', 'DOM', 'DOM.Iterable'],
  skipLibCheck: true,
  moduleResolution: 'bundler',
  allowImportingTsExtensions: true,
  verbatimModuleSyntax: true,
  moduleDetection: 'force',
  strict: true,
  noUnusedLocals: true,
  noUnusedParameters: true,
  noFallthroughCasesInSwitch: true,
  noUncheckedSideEffectImports: true,
};

test('TypeScript: tests/types/usage.ts type-checks against the installed package, and uses every export', { timeout: TEST_TIMEOUT }, async () => {
  cpSync(join(TYPES_DIR, 'usage.ts'), join(app, 'usage.ts'));

  // Every name the two .d.ts files export is imported by usage.ts (noUnusedLocals then makes sure it is used).
  const exportsOf = (f) => new Set([...readFileSync(join(pkgDir, f), 'utf8').matchAll(/^\s*export\s+(?:declare\s+)?(?:default\s+)?(?:interface|type|class|function|const|enum)\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]));
  const main = exportsOf('dist/bundler/presigned_upload.d.ts');
  const web = exportsOf('dist/web/presigned_upload.d.ts');
  const full = exportsOf('dist/full/bundler/presigned_upload.d.ts');
  const usage = readFileSync(join(TYPES_DIR, 'usage.ts'), 'utf8');
  const importedFrom = (spec) => {
    const m = usage.match(new RegExp(`^import\\s+(?:(\\w+)\\s*,\\s*)?\\{([^}]*)\\}\\s*from\\s*"${spec.replace('/', '\\/')}";`, 'm'));
    assert.ok(m, `usage.ts has no \`import { … } from "${spec}"\``);
    const names = m[2].split(',').map((s) => s.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]).filter(Boolean);
    return { default: m[1], names: new Set(names) };
  };
  const fromMain = importedFrom('presigned-upload');
  const fromWeb = importedFrom('presigned-upload/web');
  assert.deepEqual([...main].filter((n) => !fromMain.names.has(n)), [], 'exports of "presigned-upload" that tests/types/usage.ts does not use: add them');
  assert.deepEqual([...web].filter((n) => !main.has(n) && n !== '__wbg_init' && !fromWeb.names.has(n)), [], 'exports of "presigned-upload/web" that usage.ts does not use');
  assert.ok(fromWeb.default, 'usage.ts does not import init (the default export of "presigned-upload/web")');
  const fromFull = importedFrom('presigned-upload/full');
  assert.deepEqual([...full].filter((n) => !fromMain.names.has(n) && !fromFull.names.has(n)), [], 'exports of "presigned-upload/full" that usage.ts does not use');
  for (const n of ['MultipartOptions', 'S3Options', 'S3Credentials']) assert.ok(!main.has(n), `the core build's .d.ts must not offer ${n}`);

  // As a Vite app's tsconfig has it.
  const vite = await tsc('vite', VITE_TEMPLATE, 'usage.ts');
  assert.equal(vite.code, 0, `tsc (Vite's template settings) fails on usage.ts:\n${vite.output}`);

  // Strict about the package's own .d.ts (skipLibCheck off), resolved as Node's ESM does (node16), under the
  // oldest lib the README promises (no ESNext.Disposable: scripts/fix-dts.mjs leaves wasm-bindgen's
  // `[Symbol.dispose]()` out). tests/types/types.test.mjs runs every other combination.
  const strict = await tsc('strict', {
    target: 'ES2020',
    module: 'node16',
    moduleResolution: 'node16',
    lib: ['ES2020', 'DOM'],
    strict: true,
    skipLibCheck: false,
    skipDefaultLibCheck: true,
    exactOptionalPropertyTypes: true,
  }, 'usage.ts');
  assert.equal(strict.code, 0, `tsc (skipLibCheck off, node16 resolution) fails:\n${strict.output}`);
});

test('TypeScript: every line of tests/types/wrong.ts marked `// wrong:` is a type error, and no other line', { timeout: TEST_TIMEOUT }, async () => {
  cpSync(join(TYPES_DIR, 'wrong.ts'), join(app, 'wrong.ts'));
  const lines = readFileSync(join(TYPES_DIR, 'wrong.ts'), 'utf8').split('\n');
  const marked = lines.flatMap((l, i) => (!l.trimStart().startsWith('//') && l.includes('// wrong: ') ? [i + 1] : []));
  assert.ok(marked.length >= 20, `only ${marked.length} marked lines in wrong.ts`);

  // Old-style resolution (moduleResolution "node10", which ignores "exports"): "presigned-upload/web" still
  // resolves, through "typesVersions".
  const r = await tsc('wrong', { ...VITE_TEMPLATE, module: 'ESNext', moduleResolution: 'node10', allowImportingTsExtensions: false, noUnusedLocals: false, noUnusedParameters: false }, 'wrong.ts');
  assert.notEqual(r.code, 0, 'tsc accepted wrong.ts');
  const elsewhere = r.errors.filter((e) => !(e.file === 'wrong.ts' && marked.includes(e.line)));
  assert.deepEqual(elsewhere.map((e) => `${e.file}:${e.line} ${e.code} ${e.msg}`), [], 'type errors outside the marked lines');
  const errorLines = new Set(r.errors.map((e) => e.line));
  const accepted = marked.filter((n) => !errorLines.has(n)).map((n) => `${n}: ${lines[n - 1].trim()}`);
  assert.deepEqual(accepted, [], 'wrong calls that type-check (the .d.ts is too loose there)');
});
