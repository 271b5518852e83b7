// Demo admin-portal upload page for presigned-upload. The upload form is the package's
// <presigned-upload-form> element; the connection settings and the deploy/delete panel are the page's.
// It imports the built package by path, as a plain page can (no import map: an inline one would
// need 'unsafe-inline' under the strict CSP that /csp/ serves this page with; www/plain.html shows
// the import-map way), and gives the element its uploader, so the element loads no wasm of its own.
// Hexnode mode needs only the core build (presigned-upload/web); backend mode sends big files in
// parts, which only the full build has (presigned-upload/full/web).
import initCore, { HexnodeClient } from '/pkg/web/presigned_upload.js';
import initFull, { Uploader } from '/pkg/full/web/presigned_upload.js';
import '/element.js';

const MiB = 1024 * 1024;
/** Multipart defaults ("Through backend" mode): shown and editable in the Advanced section. */
const MULTIPART_DEFAULTS = { thresholdMiB: 16, partSizeMiB: 8, concurrency: 4 };

const $ = (id) => document.getElementById(id);
const els = {
  loadError: $('load-error'),
  modeHexnode: $('mode-hexnode'),
  modeBackend: $('mode-backend'),
  hexnodeSettings: $('hexnode-settings'),
  backendSettings: $('backend-settings'),
  portal: $('portal'),
  apiKey: $('api-key'),
  retries: $('retries'),
  rateLimit: $('rate-limit'),
  mpThreshold: $('mp-threshold'),
  mpPartSize: $('mp-part-size'),
  mpConcurrency: $('mp-concurrency'),
  form: $('upload-form'),
  selectAll: $('select-all'),
  selectedCount: $('selected-count'),
  backendActionsNote: $('backend-actions-note'),
  actionsForm: $('actions-form'),
  filePath: $('file-path'),
  deviceIds: $('device-ids'),
  deploy: $('deploy'),
  del: $('delete'),
  actionResult: $('action-result'),
};

const config = {
  backendPresign: '/backend/presign',
  backendVerify: '/backend/verify',
  backendMultipart: '/backend/multipart/',
};

let busyAction = false;
/** The element's last `selection-change` detail. */
let selection = { selected: [], selectable: 0 };

// ---------------------------------------------------------------- helpers

function currentMode() {
  return els.modeBackend.checked ? 'backend' : 'hexnode';
}

/** Reads an optional non-negative integer field; undefined when empty. */
function readInt(input, name) {
  const raw = input.value.trim();
  if (raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw userError(`${name} must be a whole number ≥ 0`);
  return Number(raw);
}

/** An error shaped like the package's UploadError, for problems found by the page itself. */
function userError(message) {
  const e = new Error(message);
  e.name = 'UploadError';
  e.code = 'invalid_input';
  return e;
}

function describeError(err) {
  const code = err && typeof err.code === 'string' ? err.code : 'error';
  const message = err && err.message ? String(err.message) : String(err);
  const status = err && typeof err.status === 'number' ? err.status : undefined;
  return { code, message, status };
}

// ---------------------------------------------------------------- clients

const clientCache = new Map();

function retryOptions() {
  const retries = readInt(els.retries, 'Retries');
  return retries === undefined ? undefined : { retries };
}

/** The uploader for `mode` with the form's current settings (cached so the rate limiter is shared). */
function getHexnodeClient() {
  const portal = els.portal.value.trim();
  const apiKey = els.apiKey.value;
  const rateLimitPerMinute = readInt(els.rateLimit, 'Client rate limit');
  const retry = retryOptions();
  const key = JSON.stringify(['hexnode', portal, apiKey, rateLimitPerMinute, retry]);
  let client = clientCache.get(key);
  if (!client) {
    const opts = { portal, apiKey };
    if (rateLimitPerMinute !== undefined) opts.rateLimitPerMinute = rateLimitPerMinute;
    if (retry) opts.retry = retry;
    client = new HexnodeClient(opts); // throws UploadError(invalid_input) for a bad portal or key
    clientCache.set(key, client);
  }
  return client;
}

/** The Advanced section's multipart settings, in bytes. */
function multipartSettings() {
  const thresholdMiB = readInt(els.mpThreshold, 'Multipart threshold') ?? MULTIPART_DEFAULTS.thresholdMiB;
  const partSizeMiB = readInt(els.mpPartSize, 'Part size') ?? MULTIPART_DEFAULTS.partSizeMiB;
  const concurrency = readInt(els.mpConcurrency, 'Parts in parallel') ?? MULTIPART_DEFAULTS.concurrency;
  if (thresholdMiB < 5) throw userError('Multipart threshold must be at least 5 MiB');
  if (partSizeMiB < 5) throw userError('Part size must be at least 5 MiB');
  if (concurrency < 1 || concurrency > 16) throw userError('Parts in parallel must be from 1 to 16');
  return { threshold: thresholdMiB * MiB, partSize: partSizeMiB * MiB, concurrency };
}

function getBackendUploader() {
  const retry = retryOptions();
  const mp = multipartSettings();
  const presign = new URL(config.backendPresign, location.href).href;
  const verify = new URL(config.backendVerify, location.href).href;
  const mpBase = new URL(config.backendMultipart, location.href).href.replace(/\/?$/, '/');
  const key = JSON.stringify(['backend', presign, verify, retry, mp, mpBase]);
  let uploader = clientCache.get(key);
  if (!uploader) {
    const opts = {
      presign,
      verify,
      multipart: {
        ...mp,
        create: `${mpBase}create`,
        signPart: `${mpBase}sign-part`,
        complete: `${mpBase}complete`,
        abort: `${mpBase}abort`,
        listParts: `${mpBase}list`,
      },
    };
    if (retry) opts.retry = retry;
    uploader = new Uploader(opts);
    clientCache.set(key, uploader);
  }
  return uploader;
}

function getUploader(mode) {
  return mode === 'backend' ? getBackendUploader() : getHexnodeClient();
}

// ---------------------------------------------------------------- the upload element

/**
 * Tells the element which files go in parts (it shows Pause and the part count for them): the
 * multipart settings in "Through backend" mode, none with the Hexnode API.
 */
function syncMultipartAttributes() {
  let mp = null;
  try {
    if (currentMode() === 'backend') mp = multipartSettings();
  } catch {
    // An invalid value fails the upload with a message.
  }
  if (mp) {
    els.form.setAttribute('multipart-threshold', String(mp.threshold));
    els.form.setAttribute('part-size', String(mp.partSize));
  } else {
    els.form.removeAttribute('multipart-threshold');
    els.form.removeAttribute('part-size');
  }
}

// ---------------------------------------------------------------- deploy / delete

/** The page's controls follow the element's selection (its `selection-change` events). */
function updateSelection() {
  const { selected, selectable } = selection;
  els.selectAll.disabled = selectable === 0;
  els.selectAll.checked = selectable > 0 && selected.length === selectable;
  els.selectAll.indeterminate = selected.length > 0 && selected.length < selectable;
  els.selectedCount.textContent = `${selected.length} selected`;
  const apiMode = currentMode() === 'hexnode';
  els.deploy.disabled = busyAction || !apiMode || selected.length === 0;
  els.del.disabled = busyAction || !apiMode || selected.length === 0;
}

function showActionResult(kind, text) {
  els.actionResult.className = `action-result ${kind}`;
  els.actionResult.dataset.kind = kind;
  els.actionResult.textContent = text;
}

function parseIds(raw) {
  const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = parts.filter((s) => !/^\d+$/.test(s));
  if (bad.length) throw userError(`Device ids must be whole numbers separated by commas (not “${bad[0]}”)`);
  return parts.map(Number);
}

async function runAction(kind) {
  const targets = els.form.selected; // the UploadResults of the ticked rows
  if (targets.length === 0) return;
  const fileIds = targets.map((r) => r.fileId);
  busyAction = true;
  updateSelection();
  showActionResult('pending', kind === 'deploy' ? 'Deploying…' : 'Deleting…');
  try {
    const client = getHexnodeClient();
    let answer;
    if (kind === 'deploy') {
      const devices = parseIds(els.deviceIds.value);
      if (devices.length === 0) throw userError('Enter at least one device id to deploy to');
      const filePath = els.filePath.value.trim();
      if (!filePath) throw userError('Enter the file path on the device');
      answer = await client.deployFile({ fileIds, filePath, devices });
    } else {
      answer = await client.deleteFiles(fileIds);
      els.form.markDeleted(targets);
    }
    showActionResult('success', answer && answer.message ? answer.message : 'Done');
  } catch (err) {
    const e = describeError(err);
    const showStatus = e.status && !e.message.includes(String(e.status));
    showActionResult('error', `${kind === 'deploy' ? 'Deploy' : 'Delete'} failed: ${e.code}${showStatus ? ` (HTTP ${e.status})` : ''} — ${e.message}`);
  } finally {
    busyAction = false;
    updateSelection();
  }
}

// ---------------------------------------------------------------- mode

function updateMultipartNote() {
  let text = `${MULTIPART_DEFAULTS.thresholdMiB} MiB`;
  try {
    text = `${multipartSettings().threshold / MiB} MiB`;
  } catch {
    // An invalid value fails the upload with a message; the note keeps the default.
  }
  $('mp-note-threshold').textContent = text;
}

function applyMode() {
  const mode = currentMode();
  els.hexnodeSettings.hidden = mode !== 'hexnode';
  els.backendSettings.hidden = mode !== 'backend';
  els.backendActionsNote.hidden = mode !== 'backend';
  document.body.dataset.mode = mode;
  syncMultipartAttributes();
  updateSelection();
}

// ---------------------------------------------------------------- wiring

function wire() {
  // Enter in a settings field must not reload the page.
  $('settings-form').addEventListener('submit', (e) => e.preventDefault());
  els.modeHexnode.addEventListener('change', applyMode);
  els.modeBackend.addEventListener('change', applyMode);
  els.mpThreshold.addEventListener('input', updateMultipartNote);
  for (const input of [els.mpThreshold, els.mpPartSize]) input.addEventListener('input', syncMultipartAttributes);

  els.form.addEventListener('selection-change', (e) => {
    selection = e.detail;
    updateSelection();
  });
  // A file dropped next to the zone must not navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());

  els.selectAll.addEventListener('change', () => els.form.selectAll(els.selectAll.checked));

  els.actionsForm.addEventListener('submit', (e) => {
    e.preventDefault();
    runAction('deploy');
  });
  els.del.addEventListener('click', () => runAction('delete'));
}

async function main() {
  wire();
  applyMode();
  try {
    await Promise.all([initCore(), initFull()]);
  } catch (err) {
    els.loadError.hidden = false;
    els.loadError.textContent = `Could not load the upload module: ${err && err.message ? err.message : err}`;
    els.form.disabled = true;
    return;
  }
  // The element asks for its uploader when each upload starts, so a changed setting (key, mode,
  // retries) applies to the next upload or Retry; a bad setting fails that upload with its message.
  els.form.uploader = () => getUploader(currentMode());
  els.form.disabled = false;
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const c = await res.json();
    if (c.api_base && !els.portal.value) els.portal.value = c.api_base;
    if (c.api_key && !els.apiKey.value) els.apiKey.value = c.api_key;
    if (c.backend_presign) config.backendPresign = c.backend_presign;
    if (c.backend_verify) config.backendVerify = c.backend_verify;
    $('backend-presign-path').textContent = config.backendPresign;
    $('backend-verify-path').textContent = config.backendVerify;
    if (c.backend_multipart) config.backendMultipart = c.backend_multipart;
    $('backend-multipart-path').textContent = config.backendMultipart;
  } catch (err) {
    els.loadError.hidden = false;
    els.loadError.textContent = `Could not read /config.json (${err && err.message ? err.message : err}); enter the portal URL and API key by hand.`;
  }
  document.body.dataset.ready = 'true';
}

main();
