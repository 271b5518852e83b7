// Demo admin-portal upload form for presigned-upload.
// Uses the built package exactly as an app would: the `web` entries served at /pkg/web/ (core) and /pkg/full/web/ (full).
// Hexnode mode needs only the core build; backend mode sends big files in parts, which the full build has.
import initCore, { HexnodeClient } from '/pkg/web/presigned_upload.js';
import initFull, { Uploader } from '/pkg/full/web/presigned_upload.js';

const CONCURRENCY = 3;
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
  fileInput: $('file-input'),
  dropZone: $('drop-zone'),
  summary: $('summary'),
  announcer: $('announcer'),
  cancelAll: $('cancel-all'),
  list: $('file-list'),
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

/** All rows, in the order they were added. */
const rows = [];
/** Rows waiting for a free upload slot (new ones, and paused ones whose Resume waits for a slot). */
const queue = [];
let active = 0;
let nextRowId = 1;
let busyAction = false;

// ---------------------------------------------------------------- helpers

function formatSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = -1;
  do {
    value /= 1024;
    unit += 1;
  } while (value >= 1024 && unit < units.length - 1);
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

function currentMode() {
  return els.modeBackend.checked ? 'backend' : 'hexnode';
}

function modeLabel(mode) {
  return mode === 'backend' ? 'via backend' : 'via API';
}

/** Reads an optional non-negative integer field; undefined when empty. */
function readInt(input, name) {
  const raw = input.value.trim();
  if (raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw userError(`${name} must be a whole number ≥ 0`);
  return Number(raw);
}

/** An error shaped like the package's UploadError, for problems found by the form itself. */
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

function announce(text) {
  // Re-setting the same text is not re-announced by every screen reader; clear first.
  els.announcer.textContent = '';
  requestAnimationFrame(() => { els.announcer.textContent = text; });
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

/** How many parts `file` is sent in through the backend (0: one PUT). */
function partCount(file, mp) {
  return file.size >= mp.threshold ? Math.ceil(file.size / mp.partSize) : 0;
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

// ---------------------------------------------------------------- rows

const STATUS_TEXT = {
  queued: 'Queued',
  presign: 'Requesting upload URL…',
  uploading: 'Uploading…',
  paused: 'Paused',
  verifying: 'Verifying…',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
  deleted: 'Deleted',
};

function addFiles(fileList) {
  const files = Array.from(fileList || []);
  if (files.length === 0) return;
  for (const file of files) {
    const row = {
      id: nextRowId++,
      file,
      status: 'queued',
      mode: currentMode(),
      loaded: 0,
      total: file.size,
      percent: 0,
      phases: [],
      controller: null,
      task: null,
      parts: previewParts(file),
      holdsSlot: false,
      resumePending: false,
      cancelRequested: false,
      result: null,
      error: null,
      selected: false,
      el: null,
    };
    row.el = buildRow(row);
    rows.push(row);
    els.list.append(row.el.li);
    renderRow(row);
    queue.push(row);
  }
  announce(`${files.length} file${files.length === 1 ? '' : 's'} added.`);
  updateSummary();
  pump();
}

/** The parts a file would go in with the current mode and settings (for the row before it starts). */
function previewParts(file) {
  if (currentMode() !== 'backend') return 0;
  try {
    return partCount(file, multipartSettings());
  } catch {
    return 0;
  }
}

function buildRow(row) {
  const li = document.createElement('li');
  li.className = 'file-row';
  li.setAttribute('data-testid', 'file-row');
  li.dataset.rowId = String(row.id);
  li.dataset.name = row.file.name;

  const select = document.createElement('input');
  select.type = 'checkbox';
  select.className = 'row-select';
  select.id = `select-${row.id}`;
  select.setAttribute('data-testid', 'row-select');
  select.disabled = true;
  select.addEventListener('change', () => {
    row.selected = select.checked;
    updateSelection();
  });
  const selectLabel = document.createElement('label');
  selectLabel.htmlFor = select.id;
  selectLabel.className = 'sr-only';
  selectLabel.textContent = `Select ${row.file.name}`;

  const info = document.createElement('div');
  info.className = 'file-info';
  const name = document.createElement('span');
  name.className = 'file-name';
  name.setAttribute('data-testid', 'file-name');
  name.textContent = row.file.name;
  name.title = row.file.name;
  const meta = document.createElement('span');
  meta.className = 'file-meta';
  const size = document.createElement('span');
  size.setAttribute('data-testid', 'file-size');
  size.textContent = formatSize(row.file.size);
  const type = document.createElement('span');
  type.setAttribute('data-testid', 'file-type');
  type.textContent = row.file.type || 'application/octet-stream';
  const via = document.createElement('span');
  via.className = 'file-via';
  via.setAttribute('data-testid', 'file-via');
  const parts = document.createElement('span');
  parts.className = 'file-parts';
  parts.setAttribute('data-testid', 'file-parts');
  meta.append(size, type, via, parts);
  info.append(name, meta);

  const progressWrap = document.createElement('div');
  progressWrap.className = 'progress-wrap';
  const progress = document.createElement('progress');
  progress.max = 100;
  progress.value = 0;
  progress.id = `progress-${row.id}`;
  progress.setAttribute('data-testid', 'progress');
  progress.setAttribute('aria-label', `Upload progress of ${row.file.name}`);
  const pct = document.createElement('span');
  pct.className = 'progress-text';
  pct.setAttribute('data-testid', 'progress-text');
  pct.setAttribute('aria-hidden', 'true'); // the <progress> already exposes the value
  progress.textContent = '0%';
  pct.textContent = '0%';
  progressWrap.append(progress, pct);

  const status = document.createElement('p');
  status.className = 'file-status';
  status.setAttribute('data-testid', 'file-status');

  const actions = document.createElement('div');
  actions.className = 'row-actions';
  const pause = document.createElement('button');
  pause.type = 'button';
  pause.className = 'btn btn-small btn-secondary btn-pause';
  pause.textContent = 'Pause';
  pause.setAttribute('data-testid', 'pause');
  pause.setAttribute('aria-label', `Pause upload of ${row.file.name}`);
  pause.addEventListener('click', () => (row.status === 'paused' ? resumeRow(row) : pauseRow(row)));
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.className = 'btn btn-small btn-secondary';
  cancel.textContent = 'Cancel';
  cancel.setAttribute('data-testid', 'cancel');
  cancel.setAttribute('aria-label', `Cancel upload of ${row.file.name}`);
  cancel.addEventListener('click', () => cancelRow(row));
  const retry = document.createElement('button');
  retry.type = 'button';
  retry.className = 'btn btn-small btn-secondary';
  retry.textContent = 'Retry';
  retry.setAttribute('data-testid', 'retry');
  retry.setAttribute('aria-label', `Retry upload of ${row.file.name}`);
  retry.addEventListener('click', () => retryRow(row));
  actions.append(pause, cancel, retry);

  const selectWrap = document.createElement('div');
  selectWrap.className = 'select-wrap';
  selectWrap.append(select, selectLabel);

  li.append(selectWrap, info, progressWrap, status, actions);
  return { li, select, via, parts, progress, pct, status, pause, cancel, retry };
}

function setProgress(row, percent) {
  const p = Math.max(0, Math.min(100, Math.floor(percent)));
  row.percent = p;
  row.el.progress.value = p;
  row.el.progress.textContent = `${p}%`;
  row.el.pct.textContent = `${p}%`;
  row.el.li.dataset.progress = String(p);
}

function renderRow(row) {
  const { li, select, via, parts, status, pause, cancel, retry } = row.el;
  li.dataset.status = row.status;
  li.dataset.phases = row.phases.join(' ');
  li.className = `file-row status-${row.status}`;
  via.textContent = modeLabel(row.mode);
  parts.textContent = row.parts ? `multipart: ${row.parts} parts` : '';
  parts.hidden = !row.parts;
  if (row.parts) li.dataset.parts = String(row.parts);
  else delete li.dataset.parts;

  let text = STATUS_TEXT[row.status];
  status.replaceChildren();
  if (row.status === 'done' && row.result) {
    const r = row.result;
    li.dataset.uuid = r.fileUuid;
    if (r.fileId !== undefined && r.fileId !== null) li.dataset.fileId = String(r.fileId);
    text = r.fileId !== undefined && r.fileId !== null ? `Done — file id ${r.fileId}` : 'Done (not verified)';
    status.textContent = text;
  } else if (row.status === 'failed' && row.error) {
    const { code, message, status: httpStatus } = row.error;
    li.dataset.code = code;
    const codeEl = document.createElement('code');
    codeEl.className = 'error-code';
    codeEl.setAttribute('data-testid', 'error-code');
    codeEl.textContent = code;
    const msgEl = document.createElement('span');
    msgEl.className = 'error-message';
    msgEl.setAttribute('data-testid', 'error-message');
    msgEl.textContent = message;
    // The package's messages usually name the HTTP status already; add it only when they do not.
    const showStatus = httpStatus && !message.includes(String(httpStatus));
    status.append('Failed: ', codeEl, showStatus ? ` (HTTP ${httpStatus}) — ` : ' — ', msgEl);
  } else if (row.status === 'deleted' && row.result) {
    status.textContent = `Deleted — file id ${row.result.fileId}`;
  } else {
    status.textContent = text;
  }
  if (row.status !== 'failed') delete li.dataset.code;

  const running = ['queued', 'presign', 'uploading', 'verifying', 'paused'].includes(row.status);
  cancel.hidden = !running;
  // Pause / Resume: multipart uploads only, once started. It stays in place (disabled) while it
  // cannot act, so the row does not jump: before the parts are sent and after the last one.
  const paused = row.status === 'paused' || row.resumePending;
  pause.hidden = !(row.task && row.parts > 0 && running);
  pause.textContent = paused ? 'Resume' : 'Pause';
  pause.setAttribute('aria-label', `${paused ? 'Resume' : 'Pause'} upload of ${row.file.name}`);
  pause.disabled = !(row.status === 'paused' || (row.status === 'uploading' && (row.uploadPercent || 0) < 100));
  retry.hidden = !(row.status === 'failed' || row.status === 'cancelled');
  const selectable = row.status === 'done' && row.result && row.result.fileId != null;
  select.disabled = !selectable;
  if (!selectable && select.checked) {
    select.checked = false;
    row.selected = false;
  }
}

function cancelRow(row) {
  if (row.task && isActive(row)) {
    // A started task (running, paused, or paused and waiting for a slot): abort() ends its
    // start() with `aborted`, and a multipart upload is aborted in the store.
    const i = queue.indexOf(row);
    if (i >= 0) queue.splice(i, 1);
    row.cancelRequested = true;
    row.task.abort();
    return;
  }
  if (row.status === 'queued') {
    const i = queue.indexOf(row);
    if (i >= 0) queue.splice(i, 1);
    row.status = 'cancelled';
    row.cancelRequested = true;
    renderRow(row);
    announce(`${row.file.name}: cancelled.`);
    updateSummary();
    return;
  }
  if (row.controller && ['presign', 'uploading', 'verifying'].includes(row.status)) {
    row.cancelRequested = true;
    row.controller.abort();
  }
}

function isActive(row) {
  return ['queued', 'presign', 'uploading', 'verifying', 'paused'].includes(row.status);
}

function takeSlot(row) {
  active += 1;
  row.holdsSlot = true;
}

function releaseSlot(row) {
  if (row.holdsSlot) {
    row.holdsSlot = false;
    active -= 1;
  }
}

/** Pauses a running multipart upload: its slot goes to the next file in the queue. */
function pauseRow(row) {
  if (!row.task || row.status !== 'uploading') return;
  row.task.pause();
  if (row.task.state !== 'paused') return; // already past the parts
  row.status = 'paused';
  releaseSlot(row);
  renderRow(row);
  announce(`${row.file.name}: paused at ${row.percent}%.`);
  pump();
}

/** Resumes a paused upload now, or as soon as one of the slots is free. */
function resumeRow(row) {
  if (!row.task || row.status !== 'paused') return;
  if (active < CONCURRENCY) {
    takeSlot(row);
    continueTask(row);
  } else {
    row.status = 'queued';
    row.resumePending = true;
    queue.unshift(row);
    renderRow(row);
    announce(`${row.file.name}: resumes when a slot is free.`);
  }
  updateSummary();
}

function continueTask(row) {
  row.resumePending = false;
  row.status = 'uploading';
  row.task.resume();
  renderRow(row);
  announce(`${row.file.name}: resumed.`);
}

function retryRow(row) {
  if (row.status !== 'failed' && row.status !== 'cancelled') return;
  row.status = 'queued';
  row.mode = currentMode();
  row.error = null;
  row.result = null;
  row.phases = [];
  row.cancelRequested = false;
  row.uploadPercent = 0;
  row.parts = previewParts(row.file);
  setProgress(row, 0);
  renderRow(row);
  queue.push(row);
  updateSummary();
  pump();
}

function pump() {
  while (active < CONCURRENCY && queue.length > 0) {
    const row = queue.shift();
    if (row.status !== 'queued') continue;
    takeSlot(row);
    if (row.resumePending) {
      continueTask(row);
      continue;
    }
    runUpload(row).finally(() => {
      releaseSlot(row);
      updateSummary();
      pump();
    });
  }
  updateSummary();
}

async function runUpload(row) {
  row.mode = currentMode();
  row.status = 'presign';
  row.uploadPercent = 0;
  row.controller = new AbortController();
  renderRow(row);
  let frame = 0;
  const onProgress = (p) => {
    if (row.cancelRequested) return;
    if (!row.phases.includes(p.phase)) row.phases.push(p.phase);
    const nextStatus = p.phase === 'presign' ? 'presign' : p.phase === 'upload' ? 'uploading' : 'verifying';
    const wasSending = (row.uploadPercent || 0) < 100;
    if (p.phase === 'upload' && p.total > 0) row.uploadPercent = (p.loaded / p.total) * 100;
    if (p.phase === 'verify') row.uploadPercent = 100;
    // A paused row stays paused until Resume, whatever a late event says.
    if (row.status === 'paused' || row.resumePending) return;
    if (wasSending && row.uploadPercent >= 100) renderRow(row); // Pause no longer applies
    if (nextStatus !== row.status) {
      row.status = nextStatus;
      renderRow(row);
    }
    // Coalesce progress updates to one DOM write per frame.
    if (!frame) {
      frame = requestAnimationFrame(() => {
        frame = 0;
        if (['presign', 'uploading', 'verifying', 'paused'].includes(row.status)) setProgress(row, row.uploadPercent || 0);
      });
    }
  };
  try {
    const uploader = getUploader(row.mode);
    let result;
    if (row.mode === 'backend') {
      // A task, so that a multipart upload can be paused and resumed (a small file is one PUT).
      row.parts = partCount(row.file, multipartSettings());
      row.task = uploader.createUpload(row.file, { onProgress });
      renderRow(row);
      result = await row.task.start();
    } else {
      row.parts = 0;
      result = await uploader.upload(row.file, { onProgress, signal: row.controller.signal });
    }
    row.result = result;
    row.status = 'done';
    setProgress(row, 100);
    announce(`${row.file.name}: uploaded${result.fileId != null ? `, file id ${result.fileId}` : ''}.`);
  } catch (err) {
    const e = describeError(err);
    if (row.cancelRequested || e.code === 'aborted') {
      row.status = 'cancelled';
      announce(`${row.file.name}: cancelled.`);
    } else {
      row.status = 'failed';
      row.error = e;
      announce(`${row.file.name}: failed, ${e.code}: ${e.message}`);
    }
  } finally {
    if (frame) cancelAnimationFrame(frame);
    row.controller = null;
    row.resumePending = false;
    if (row.task) {
      const task = row.task;
      row.task = null;
      task.free();
    }
    renderRow(row);
    updateSelection();
  }
}

function updateSummary() {
  const count = (s) => rows.filter((r) => r.status === s).length;
  const total = rows.length;
  if (total === 0) {
    els.summary.textContent = 'No files yet.';
  } else {
    const running = rows.filter((r) => ['presign', 'uploading', 'verifying'].includes(r.status)).length;
    const parts = [`${total} file${total === 1 ? '' : 's'}`];
    const done = count('done');
    if (done) parts.push(`${done} done`);
    if (running) parts.push(`${running} uploading`);
    if (count('paused')) parts.push(`${count('paused')} paused`);
    if (count('queued')) parts.push(`${count('queued')} queued`);
    if (count('failed')) parts.push(`${count('failed')} failed`);
    if (count('cancelled')) parts.push(`${count('cancelled')} cancelled`);
    if (count('deleted')) parts.push(`${count('deleted')} deleted`);
    const text = parts.join(', ') + '.';
    if (els.summary.textContent !== text) els.summary.textContent = text;
  }
  els.cancelAll.disabled = !rows.some(isActive);
}

// ---------------------------------------------------------------- deploy / delete

function selectedRows() {
  return rows.filter((r) => r.selected && r.status === 'done' && r.result && r.result.fileId != null);
}

function updateSelection() {
  const selectable = rows.filter((r) => !r.el.select.disabled);
  const selected = selectedRows();
  els.selectAll.disabled = selectable.length === 0;
  els.selectAll.checked = selectable.length > 0 && selected.length === selectable.length;
  els.selectAll.indeterminate = selected.length > 0 && selected.length < selectable.length;
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
  const targets = selectedRows();
  if (targets.length === 0) return;
  const fileIds = targets.map((r) => r.result.fileId);
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
      for (const r of targets) {
        r.status = 'deleted';
        r.selected = false;
        renderRow(r);
      }
    }
    showActionResult('success', answer && answer.message ? answer.message : 'Done');
  } catch (err) {
    const e = describeError(err);
    const showStatus = e.status && !e.message.includes(String(e.status));
    showActionResult('error', `${kind === 'deploy' ? 'Deploy' : 'Delete'} failed: ${e.code}${showStatus ? ` (HTTP ${e.status})` : ''} — ${e.message}`);
  } finally {
    busyAction = false;
    updateSummary();
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
  updateSelection();
}

// ---------------------------------------------------------------- wiring

function wire() {
  // Enter in a settings field must not reload the page.
  $('settings-form').addEventListener('submit', (e) => e.preventDefault());
  els.modeHexnode.addEventListener('change', applyMode);
  els.modeBackend.addEventListener('change', applyMode);
  els.mpThreshold.addEventListener('input', updateMultipartNote);

  els.dropZone.addEventListener('click', () => els.fileInput.click());
  els.fileInput.addEventListener('change', () => {
    addFiles(els.fileInput.files);
    els.fileInput.value = ''; // picking the same file again fires change again
  });

  let depth = 0;
  els.dropZone.addEventListener('dragenter', (e) => {
    e.preventDefault();
    depth += 1;
    els.dropZone.classList.add('dragover');
  });
  els.dropZone.addEventListener('dragover', (e) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
  });
  els.dropZone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) els.dropZone.classList.remove('dragover');
  });
  els.dropZone.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    els.dropZone.classList.remove('dragover');
    if (e.dataTransfer) addFiles(e.dataTransfer.files);
  });
  // A file dropped next to the zone must not navigate away from the page.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());

  els.cancelAll.addEventListener('click', () => {
    // All synchronously, so a slot freed by an abort cannot start a queued one first.
    for (const r of rows) cancelRow(r);
  });

  els.selectAll.addEventListener('change', () => {
    for (const r of rows) {
      if (!r.el.select.disabled) {
        r.el.select.checked = els.selectAll.checked;
        r.selected = els.selectAll.checked;
      }
    }
    updateSelection();
  });

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
    els.dropZone.disabled = true;
    return;
  }
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
