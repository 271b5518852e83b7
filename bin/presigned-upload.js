#!/usr/bin/env node
// `presigned-upload`: upload files to Hexnode MDM, deploy and delete them, from a shell or a CI job.
// The API key comes from HEXNODE_API_KEY only (arguments show in `ps`) and is never printed.
// Exit codes: 0 all succeeded, 1 something failed, 2 usage error, 130 interrupted (Ctrl-C).
import { openAsBlob, readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { HexnodeClient } from '../js/node.js';

const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
const HELP = `presigned-upload ${VERSION}: upload files to Hexnode MDM through presigned S3 URLs

Usage:
  presigned-upload upload FILE... [--portal URL] [options]   upload (and verify) files
  presigned-upload deploy ID... --file-path P --devices 1,2  deploy existing file ids
  presigned-upload delete ID...                              delete existing file ids
  presigned-upload --help | --version

Environment:
  HEXNODE_API_KEY   the API key (required; never taken from an argument, never printed)
  HEXNODE_PORTAL    the portal URL, e.g. https://acme.hexnodemdm.com (or --portal)

Options:
  --portal URL          the portal URL (default: HEXNODE_PORTAL)
  --content-type T      upload: the files' type (default: from the extension, else application/octet-stream)
  --concurrency N       upload: files at once, 1 to 16 (default 3)
  --verify-path P       upload: the Verify File Upload path (default /api/v1/filemanagement/verify-file-upload/)
  --deploy              upload: deploy what was uploaded (needs --file-path and a target list)
  --file-path P         deploy: the path on the device, e.g. /sdcard/Download
  --devices IDS         deploy: comma-separated device ids
  --users IDS           deploy: comma-separated user ids
  --usergroups IDS      deploy: comma-separated user group ids
  --devicegroups IDS    deploy: comma-separated device group ids
  --json                print one JSON document on stdout (progress goes to stderr)
  -h, --help            this help
  -v, --version         the version

Exit codes: 0 everything succeeded, 1 something failed, 2 usage error, 130 interrupted.
`;

const TYPES = {
  '.apk': 'application/vnd.android.package-archive', '.ipa': 'application/octet-stream', '.pdf': 'application/pdf',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp',
  '.svg': 'image/svg+xml', '.txt': 'text/plain', '.csv': 'text/csv', '.json': 'application/json', '.xml': 'application/xml',
  '.zip': 'application/zip', '.mp4': 'video/mp4', '.mp3': 'audio/mpeg', '.html': 'text/html', '.doc': 'application/msword',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', '.msi': 'application/x-msi',
  '.pkg': 'application/octet-stream', '.dmg': 'application/x-apple-diskimage', '.mobileconfig': 'application/x-apple-aspen-config',
};

const apiKey = process.env.HEXNODE_API_KEY ?? '';
/** Everything printed goes through here: the key is masked even if some text carried it. */
const clean = (s) => (apiKey.length >= 4 ? String(s).split(apiKey).join('[REDACTED]') : String(s));
const out = (s) => process.stdout.write(clean(s) + '\n');
const err = (s) => process.stderr.write(clean(s) + '\n');

class UsageError extends Error {}

function parse(argv) {
  const options = {
    portal: { type: 'string' }, 'content-type': { type: 'string' }, concurrency: { type: 'string' },
    'verify-path': { type: 'string' }, deploy: { type: 'boolean' }, 'file-path': { type: 'string' },
    devices: { type: 'string' }, users: { type: 'string' }, usergroups: { type: 'string' }, devicegroups: { type: 'string' },
    json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' },
  };
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    // Node's message quotes the unknown flag; a `--flag=value` is cut at `=` so no value is echoed.
    throw new UsageError(String(e.message).replace(/(--?[\w-]+)=[^'"\s]*/g, '$1'));
  }
}

function ids(list, what) {
  return list.map((s) => {
    if (!/^\d+$/.test(s) || Number(s) < 1 || !Number.isSafeInteger(Number(s))) throw new UsageError(`${what}: "${s}" is not a positive whole number`);
    return Number(s);
  });
}

/** The deploy request from the flags, or a usage error naming what is missing. */
function deployRequest(values) {
  if (!values['file-path']) throw new UsageError('deploy needs --file-path P (the path on the device)');
  const req = { filePath: values['file-path'] };
  for (const k of ['devices', 'users', 'usergroups', 'devicegroups']) {
    if (values[k] !== undefined) req[k] = ids(values[k].split(',').filter((s) => s !== ''), `--${k}`);
  }
  if (!['devices', 'users', 'usergroups', 'devicegroups'].some((k) => req[k]?.length)) {
    throw new UsageError('deploy needs at least one of --devices, --users, --usergroups or --devicegroups (comma-separated ids)');
  }
  return req;
}

function client(values) {
  if (!apiKey) throw new UsageError('HEXNODE_API_KEY is not set: export the API key in the environment (it is never taken from an argument)');
  const portal = values.portal ?? process.env.HEXNODE_PORTAL;
  if (!portal) throw new UsageError('no portal: give --portal URL or set HEXNODE_PORTAL');
  const opts = { portal, apiKey };
  if (values['verify-path']) opts.verifyPath = values['verify-path'];
  try {
    return new HexnodeClient(opts);
  } catch (e) {
    throw new UsageError(e.message);
  }
}

const size = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${Math.round(n)} B`);

/** One bar per file in flight on a TTY (redrawn in place), else nothing until a file ends. */
class Bars {
  constructor(stream) { this.stream = stream; this.tty = Boolean(stream.isTTY); this.rows = new Map(); this.drawn = 0; this.timer = null; }
  set(file, loaded, total) {
    const row = this.rows.get(file) ?? { start: Date.now(), loaded: 0, total };
    row.loaded = Math.max(row.loaded, loaded); row.total = total;
    this.rows.set(file, row);
    if (this.tty && !this.timer) this.timer = setTimeout(() => { this.timer = null; this.draw(); }, 100);
  }
  remove(file) { this.rows.delete(file); }
  clear() {
    if (!this.tty || this.drawn === 0) return;
    this.stream.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }
  draw() {
    if (!this.tty) return;
    this.clear();
    const width = Math.max(10, Math.min(30, (this.stream.columns ?? 80) - 60));
    for (const [file, r] of this.rows) {
      const frac = r.total > 0 ? r.loaded / r.total : 1;
      const fill = Math.round(frac * width);
      const secs = Math.max(0.001, (Date.now() - r.start) / 1000);
      this.stream.write(clean(`${basename(file).slice(0, 24).padEnd(24)} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] `
        + `${String(Math.floor(frac * 100)).padStart(3)}% ${size(r.loaded)}/${size(r.total)} ${size(r.loaded / secs)}/s\n`));
    }
    this.drawn = this.rows.size;
  }
  /** Prints `line` above the bars. */
  print(write, line) { this.clear(); write(line); this.draw(); }
  stop() { clearTimeout(this.timer); this.timer = null; this.clear(); }
}

async function upload(files, values, signal, report) {
  if (files.length === 0) throw new UsageError('upload needs at least one FILE');
  let concurrency = 3;
  if (values.concurrency !== undefined) {
    concurrency = Number(values.concurrency);
    if (!/^\d+$/.test(values.concurrency) || concurrency < 1 || concurrency > 16) throw new UsageError('--concurrency must be a whole number from 1 to 16');
  }
  const type = values['content-type'];
  if (type !== undefined && !/^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+(\s*;.*)?$/.test(type)) {
    throw new UsageError(`--content-type: "${type}" is not a MIME type such as application/pdf`);
  }
  for (const f of files) {
    let st;
    try { st = statSync(f); } catch { throw new UsageError(`${f}: no such file`); }
    if (!st.isFile()) throw new UsageError(`${f}: not a regular file`);
  }
  const deploy = values.deploy ? deployRequest(values) : null;
  if (!values.deploy && (values['file-path'] || values.devices || values.users || values.usergroups || values.devicegroups)) {
    throw new UsageError('--file-path and the target lists need --deploy with upload');
  }
  const hx = client(values);
  const bars = new Bars(process.stderr);
  const results = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length && !signal.aborted) {
      const i = next++;
      const file = files[i];
      const contentType = values['content-type'] ?? TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
      try {
        const blob = await openAsBlob(file, { type: contentType });
        bars.set(file, 0, blob.size);
        const r = await hx.upload(blob, {
          fileName: basename(file), contentType, signal,
          onProgress: (p) => { if (p.phase === 'upload') bars.set(file, p.loaded, p.total); },
        });
        results[i] = { file, ok: true, fileUuid: r.fileUuid, fileId: r.fileId ?? null, size: r.size };
      } catch (e) {
        results[i] = { file, ok: false, code: e.code ?? 'invalid_input', message: e.message };
      }
      bars.remove(file);
      report(bars, results[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  bars.stop();
  const done = results.filter(Boolean);
  const doc = { results: done };
  const ok = done.filter((r) => r.ok && r.fileId != null);
  if (deploy && !signal.aborted) {
    if (ok.length === 0) doc.deploy = { ok: false, code: 'invalid_input', message: 'nothing was uploaded with a file id to deploy' };
    else doc.deploy = await deployIds(hx, { ...deploy, fileIds: ok.map((r) => r.fileId) });
  }
  return doc;
}

async function deployIds(hx, req) {
  try {
    const r = await hx.deployFile(req);
    return { ok: true, fileIds: req.fileIds, message: r.message };
  } catch (e) {
    return { ok: false, fileIds: req.fileIds, code: e.code, message: e.message };
  }
}

async function main(argv) {
  const { values, positionals } = parse(argv);
  if (values.help) { process.stdout.write(HELP); return 0; }
  if (values.version) { out(VERSION); return 0; }
  const [command, ...rest] = positionals;
  const json = Boolean(values.json);
  const controller = new AbortController();
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    err('interrupted: aborting the uploads in flight (Ctrl-C again to quit at once)');
    controller.abort();
  });
  const report = (bars, r) => {
    if (json) {
      if (!process.stderr.isTTY) err(r.ok ? `uploaded ${r.file}` : `failed ${r.file}: ${r.code}`);
      return;
    }
    if (r.ok) bars.print(out, `uploaded ${r.file}  id ${r.fileId ?? '-'}  uuid ${r.fileUuid}  ${r.size} bytes`);
    else bars.print(err, `failed ${r.file}: ${r.code}: ${r.message}`);
  };
  let doc;
  if (command === 'upload') {
    doc = await upload(rest, values, controller.signal, report);
  } else if (command === 'deploy' || command === 'delete') {
    if (rest.length === 0) throw new UsageError(`${command} needs at least one file ID`);
    const fileIds = ids(rest, command);
    if (command === 'deploy') {
      const req = deployRequest(values);
      const hx = client(values);
      doc = { results: [], deploy: await deployIds(hx, { ...req, fileIds }) };
    } else {
      const hx = client(values);
      try {
        const r = await hx.deleteFiles(fileIds);
        doc = { results: [], delete: { ok: true, fileIds, message: r.message } };
      } catch (e) {
        doc = { results: [], delete: { ok: false, fileIds, code: e.code, message: e.message } };
      }
    }
  } else if (command === undefined) {
    throw new UsageError('no command: give upload, deploy or delete (see --help)');
  } else {
    throw new UsageError(`unknown command "${command}" (see --help)`);
  }
  if (interrupted) {
    // What finished before Ctrl-C stays reported; the aborted ones are failures.
    doc.interrupted = true;
  }
  if (json) {
    out(JSON.stringify(doc));
  } else {
    for (const k of ['deploy', 'delete']) {
      const a = doc[k];
      if (!a) continue;
      if (a.ok) out(`${k === 'deploy' ? 'deployed' : 'deleted'} ${a.fileIds.join(',')}: ${a.message}`);
      else err(`${k} failed${a.fileIds ? ` for ${a.fileIds.join(',')}` : ''}: ${a.code}: ${a.message}`);
    }
  }
  if (interrupted) return 130;
  const failed = doc.results.some((r) => !r.ok) || doc.deploy?.ok === false || doc.delete?.ok === false;
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => {
    if (e instanceof UsageError) {
      err(`presigned-upload: ${e.message}`);
      process.exitCode = 2;
    } else {
      err(`presigned-upload: ${e && e.message ? e.message : e}`);
      process.exitCode = 1;
    }
  },
);
