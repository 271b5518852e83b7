// The `presigned-upload` command (bin/presigned-upload.js) against the devserver: exit codes, the --json
// document, plain lines, deploy and delete, Ctrl-C (SIGINT to the child), and the key in no output.
// Run: node --test tests/node/   (PU_WEB_BASE: see support.mjs)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devConfig, MiB, requireEnv, ROOT, runNode, stats, unique, uploads } from './support.mjs';

const BIN = join(ROOT, 'bin/presigned-upload.js');
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
let cfg;
let tmp;
let env;

/** Runs the command and checks that the key is in none of its output. */
async function cli(args, opts = {}) {
  const r = await runNode([BIN, ...args], { ...opts, env: { ...env, ...opts.env } });
  const key = opts.env?.HEXNODE_API_KEY ?? env.HEXNODE_API_KEY;
  if (key) {
    assert.ok(!r.stdout.includes(key), `the API key is in stdout: ${r.stdout}`);
    assert.ok(!r.stderr.includes(key), `the API key is in stderr: ${r.stderr}`);
  }
  return r;
}

function file(name, bytes) {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  return path;
}

before(async () => {
  cfg = await devConfig(requireEnv('PU_WEB_BASE', 'the tests need the devserver'));
  tmp = mkdtempSync(join(tmpdir(), 'pu-cli-'));
  env = { HEXNODE_API_KEY: cfg.api_key, HEXNODE_PORTAL: cfg.api_base };
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('--help lists every command and flag; --version prints the version', async () => {
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  for (const word of ['upload', 'deploy', 'delete', '--portal', '--content-type', '--concurrency', '--verify-path', '--deploy',
    '--file-path', '--devices', '--users', '--usergroups', '--devicegroups', '--json', '--help', '--version', 'HEXNODE_API_KEY', 'HEXNODE_PORTAL']) {
    assert.ok(help.stdout.includes(word), `--help does not mention ${word}`);
  }
  const version = await cli(['--version']);
  assert.deepEqual([version.code, version.stdout.trim()], [0, VERSION]);
});

test('usage errors exit 2 before any network call: no key, no portal, unknown flag, missing file', async () => {
  const name = unique('cli-usage');
  const path = file(`${name}.txt`, 'x');
  const before = await stats(cfg.web);
  const cases = [
    [['upload', path], { HEXNODE_API_KEY: '' }, /HEXNODE_API_KEY/],
    [['upload', path], { HEXNODE_PORTAL: '' }, /--portal/],
    [['upload', path, '--api-key=sekrit-value'], {}, /--api-key/],
    [['upload', path, join(tmp, 'missing.bin')], {}, /missing\.bin: no such file/],
    [['upload', path, '--concurrency', '0'], {}, /--concurrency/],
    [['upload', path, '--content-type', 'not a type'], {}, /--content-type/],
    [['upload', path, '--deploy'], {}, /--file-path/],
    [['deploy', '12', '--file-path', '/sdcard'], {}, /--devices/],
    [['delete', 'abc'], {}, /positive whole number/],
    [['frobnicate'], {}, /unknown command/],
    [[], {}, /no command/],
  ];
  for (const [args, extraEnv, message] of cases) {
    const r = await cli(args, { env: extraEnv });
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stdout, '', `${args.join(' ')} printed on stdout`);
    assert.ok(!r.stderr.includes('sekrit-value'), 'a flag value was echoed');
  }
  const after = await stats(cfg.web);
  assert.equal(after.api_presign - before.api_presign, 0, 'a usage error made an API call');
  assert.equal(after.store_put - before.store_put, 0);
  assert.equal((await uploads(cfg.web, name)).length, 0);
});

test('upload --json: one JSON document on stdout, exit 0; then deploy and delete by id', { timeout: 60_000 }, async () => {
  const name = unique('cli-json');
  const a = file(`${name}-a.pdf`, randomBytes(200 * 1024));
  const b = file(`${name}-b.bin`, randomBytes(1 * MiB));
  const before = await stats(cfg.web);
  const r = await cli(['upload', a, b, '--json', '--concurrency', '2', '--deploy', '--file-path', '/sdcard/Download', '--devices', '3,4']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout); // the whole of stdout is one document
  assert.deepEqual(doc.results.map((x) => [x.file, x.ok, x.size]), [[a, true, 200 * 1024], [b, true, MiB]]);
  for (const x of doc.results) {
    assert.equal(typeof x.fileUuid, 'string');
    assert.equal(typeof x.fileId, 'number');
  }
  assert.equal(doc.deploy.ok, true);
  assert.deepEqual(doc.deploy.fileIds, doc.results.map((x) => x.fileId));
  const rows = await uploads(cfg.web, name);
  const pdf = rows.find((x) => x.file_name === `${name}-a.pdf`);
  assert.equal(pdf.stored, true);
  const after = await stats(cfg.web);
  assert.equal(after.api_verify - before.api_verify, 2);
  assert.equal(after.api_deploy - before.api_deploy, 1);

  const ids = doc.results.map((x) => String(x.fileId));
  const dep = await cli(['deploy', ...ids, '--file-path', '/sdcard', '--usergroups', '9', '--json']);
  assert.equal(dep.code, 0, dep.stderr);
  assert.equal(JSON.parse(dep.stdout).deploy.ok, true);
  const del = await cli(['delete', ...ids]);
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, new RegExp(`^deleted ${ids.join(',')}: `));
  assert.ok((await uploads(cfg.web, name)).every((x) => x.deleted));
});

test('without a TTY: plain lines (id, uuid, size); a failure exits 1 and is in the --json document', { timeout: 60_000 }, async () => {
  const name = unique('cli-plain');
  const a = file(`${name}.txt`, 'hello\n');
  const r = await cli(['upload', a, '--content-type', 'text/plain']);
  assert.equal(r.code, 0, r.stderr);
  const [row] = await uploads(cfg.web, name);
  assert.equal(r.stdout, `uploaded ${a}  id ${row.id}  uuid ${row.file_uuid}  6 bytes\n`);
  assert.doesNotMatch(r.stderr, /\x1b\[/, 'no cursor codes without a TTY');

  // Verify fails (no such path): the file is sent but not reported as uploaded.
  const bad = await cli(['upload', a, '--json', '--verify-path', '/api/v1/no-such-verify/']);
  assert.equal(bad.code, 1, bad.stderr);
  const doc = JSON.parse(bad.stdout);
  assert.deepEqual([doc.results[0].file, doc.results[0].ok, doc.results[0].code], [a, false, 'verify_failed']);
  assert.equal(typeof doc.results[0].message, 'string');

  const wrongKey = `wrong-${unique('k')}`;
  const unauth = await cli(['upload', a, '--json'], { env: { HEXNODE_API_KEY: wrongKey } });
  assert.equal(unauth.code, 1);
  assert.equal(JSON.parse(unauth.stdout).results[0].code, 'unauthorized');
});

test('on a terminal (util-linux `script` gives it one): a progress bar per file in flight, then a line per file', { timeout: 120_000 }, async () => {
  const name = unique('cli-tty');
  const big = join(tmp, `${name}.bin`);
  writeFileSync(big, '');
  truncateSync(big, 64 * MiB);
  const log = join(tmp, `${name}.log`);
  const { execFileSync } = await import('node:child_process');
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} upload ${JSON.stringify(big)}`;
  execFileSync('script', ['-qec', command, log], { env: { ...process.env, ...env }, stdio: 'ignore', timeout: 100_000 });
  const text = readFileSync(log, 'utf8');
  assert.ok(!text.includes(env.HEXNODE_API_KEY), 'the API key is in the terminal output');
  const bars = [...text.matchAll(/\[[#-]+\] +(\d+)% [\d.]+ (?:B|KiB|MiB)\/64\.0 MiB [\d.]+ (?:B|KiB|MiB)\/s/g)];
  assert.ok(bars.length >= 1, `no progress bar drawn: ${JSON.stringify(text.slice(0, 400))}`);
  assert.match(text, /\x1b\[\d+A\x1b\[0J/, 'the bars are redrawn in place');
  const [row] = await uploads(cfg.web, name);
  assert.ok(text.includes(`uploaded ${big}  id ${row.id}  uuid ${row.file_uuid}  ${64 * MiB} bytes`), text.slice(-300));
});

test('Ctrl-C (SIGINT) aborts the PUTs in flight, prints what finished, and exits 130', { timeout: 120_000 }, async () => {
  const name = unique('cli-int');
  const small = file(`${name}-small.txt`, 'done before ctrl-c\n');
  const big = join(tmp, `${name}-big.bin`);
  writeFileSync(big, '');
  truncateSync(big, 1024 * MiB); // 1 GiB of zeros, sparse: nothing is held in memory
  const before = await stats(cfg.web);
  let sent = false;
  // --concurrency 1: the small file finishes first, then the big one is interrupted mid-PUT: SIGINT
  // goes when the store has counted the big file's PUT.
  const r = await cli(['upload', small, big, '--concurrency', '1', '--json'], {
    onStderr: async (text, child) => {
      if (sent || !text.includes(`uploaded ${small}`)) return;
      sent = true;
      while ((await stats(cfg.web)).store_put - before.store_put < 2) await new Promise((res) => setTimeout(res, 20));
      child.kill('SIGINT');
    },
  });
  assert.ok(sent, `the small file was never reported: ${r.stderr}`);
  assert.equal(r.code, 130, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.interrupted, true);
  assert.deepEqual([doc.results[0].file, doc.results[0].ok], [small, true]);
  assert.deepEqual([doc.results[1].file, doc.results[1].ok, doc.results[1].code], [big, false, 'aborted']);
  const rows = await uploads(cfg.web, `${name}-big`);
  assert.equal(rows[0].stored, false, 'the interrupted file was stored');
  const after = await stats(cfg.web);
  assert.equal(after.api_verify - before.api_verify, 1, 'only the finished file was verified');
});
