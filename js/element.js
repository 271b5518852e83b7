// <presigned-upload-form>: see README.md and element.d.ts. Hand-written; keep it under 8 KB gzip.
const MiB = 1048576;
const RUN = ['presign', 'uploading', 'verifying'];
const LIVE = ['queued', 'paused', ...RUN];
const ENDED = ['done', 'failed', 'cancelled', 'refused', 'deleted'];

const STRINGS = {
  drop: 'Drop files here or', choose: 'choose files', pick: 'Choose files to upload', list: 'Files',
  hintMany: 'Several files at once; up to {n} upload in parallel.', hintOne: 'One file at a time.',
  cancelAll: 'Cancel all', none: 'No files yet.', files: '{n} files', file: '{n} file',
  n_done: '{n} done', n_running: '{n} uploading', n_paused: '{n} paused', n_queued: '{n} queued',
  n_pending: '{n} to resume', n_failed: '{n} failed', n_cancelled: '{n} cancelled', n_refused: '{n} refused', n_deleted: '{n} deleted',
  queued: 'Queued', presign: 'Requesting upload URL…', uploading: 'Uploading…', paused: 'Paused',
  verifying: 'Verifying…', done: 'Done — file id {id}', doneNoId: 'Done (not verified)', failed: 'Failed: ',
  http: ' (HTTP {status})', cancelled: 'Cancelled', deleted: 'Deleted — file id {id}', refused: 'Refused: ',
  tooBig: '{name} is {size}, over the {max} limit.', badType: '{name} is not an accepted type ({accept}).',
  tooMany: '{name} is over the limit of {max} files.',
  pause: 'Pause', resume: 'Resume', cancel: 'Cancel', retry: 'Retry', remove: 'Remove', discard: 'Discard',
  pending: '{done} sent: select this file again to resume.',
  label: '{action} upload of {name}', select: 'Select {name}',
  progress: 'Upload progress of {name}', parts: 'multipart: {n} parts', viaApi: 'via API', viaBackend: 'via backend',
  added: '{n} files added.', addedOne: '1 file added.', waiting: 'Resumes when a slot is free',
  noUploader: 'Set the element\'s uploader property, or its presign attribute.',
  loadFailed: 'Could not load presigned-upload/web ({message}); without a bundler, map it in an import map (see the README).',
};

const CSS = `
:host{display:block;container-type:inline-size;color-scheme:light dark;font:var(--pu-font,inherit);color:var(--t);
--a:var(--pu-accent,light-dark(#1f5fbf,#7cb1ff));--t:var(--pu-text,light-dark(#1b2430,#e6edf3));--m:var(--pu-muted,light-dark(#5b6675,#a3b0bd));
--b:var(--pu-border,light-dark(#d8dee7,#3a4654));--s:var(--pu-surface,light-dark(#f8fafd,#18212c));
--ok:var(--pu-success,light-dark(#1a7f37,#56d37a));--no:var(--pu-danger,light-dark(#b42318,#ff8a80));--w:var(--pu-warning,light-dark(#5c4100,#f2c661));
--f:var(--pu-focus,#ffbf47);--r:var(--pu-radius,10px);--g:var(--pu-space,16px)}
:host([hidden]){display:none}*{box-sizing:border-box}[hidden]{display:none!important}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
:focus-visible{outline:3px solid var(--f);outline-offset:2px}
button{font:inherit;font-weight:600;font-size:.875rem;border-radius:6px;border:1px solid var(--m);background:var(--s);color:var(--t);padding:4px 12px;min-height:32px;cursor:pointer}
:disabled{opacity:.5;cursor:not-allowed}
.drop{width:100%;display:flex;flex-direction:column;align-items:center;gap:6px;padding:28px var(--g);border:2px dashed var(--m);border-radius:var(--r);background:var(--s);font-size:1rem;font-weight:400}
.drop:hover,.dragover{border-color:var(--a)}.drop *{pointer-events:none}svg,u{color:var(--a)}
.title{font-weight:600}.hint,.sum,.meta,.pct,.st{color:var(--m);font-size:.875rem;margin:0}
.bar{display:flex;align-items:center;justify-content:space-between;flex-wrap:wrap;gap:12px;margin:var(--g) 0 8px}
ul{list-style:none;margin:0;padding:0}
li{display:grid;grid-template-columns:minmax(0,1.4fr) minmax(150px,1fr) 176px;grid-template-areas:"i p a" "s s a";
align-items:center;gap:4px var(--g);padding:12px 4px;border-bottom:1px solid var(--b)}li:first-child{border-top:1px solid var(--b)}
.i{grid-area:i;display:flex;align-items:center;gap:10px;min-width:0}:host(:not([selectable])) .c{display:none}
.c{width:18px;height:18px;margin:0;flex:none;accent-color:var(--a)}.i>span{display:grid;min-width:0}label{display:contents}
.n{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.meta{display:flex;flex-wrap:wrap;gap:2px 12px}
.p{grid-area:p;display:flex;align-items:center;gap:8px;min-width:0}
progress{flex:1;min-width:0;height:10px;appearance:none;border:0;border-radius:5px;background:var(--b);overflow:hidden}
progress::-webkit-progress-bar{background:var(--b)}progress::-webkit-progress-value{background:currentColor}progress::-moz-progress-bar{background:currentColor}
.pct{font-variant-numeric:tabular-nums;width:4ch;text-align:right}.st{grid-area:s;overflow-wrap:anywhere}
.done{--c:var(--ok)}.failed,.refused{--c:var(--no)}.paused{--c:var(--w)}.cancelled,.deleted{--c:var(--m)}
.st{color:var(--c,var(--m))}.done .st,.paused .st{font-weight:600}li progress{color:var(--c,var(--a))}
.deleted .n{text-decoration:line-through}.a{grid-area:a;display:flex;gap:8px;justify-content:flex-end}
@container (max-width:560px){li{grid-template-columns:minmax(0,1fr);grid-template-areas:"i" "p" "s" "a";gap:6px}
.a{justify-content:flex-start}.a:not(:has(:not([hidden]))){display:none}}`;

const HTML = `<style>${CSS}</style>
<label class="sr"><span data-s="pick"></span><input type="file" tabindex="-1" data-testid="file-input"></label>
<button class="drop" part="drop-zone" data-testid="drop-zone">
<svg aria-hidden="true" viewBox="0 0 24 24" width="32" height="32"><path fill="currentColor" d="M11 16V7.8l-2.6 2.6L7 9l5-5 5 5-1.4 1.4-2.6-2.6V16zm-7 4v-5h2v3h12v-3h2v5z"/></svg>
<span class="title"><span data-s="drop"></span> <u data-s="choose"></u></span><span class="hint"></span></button>
<div class="bar"><p class="sum" part="summary" data-testid="summary" role="status" aria-live="polite" aria-atomic="true"></p>
<button part="button cancel-all" data-testid="cancel-all" data-s="cancelAll" disabled></button></div>
<p class="sr" aria-live="polite" data-testid="announcer"></p><ul part="list" data-testid="file-list"></ul>`;

const ROW = `<div class="i"><label><input type="checkbox" class="c" part="checkbox" data-testid="row-select" disabled><span class="sr"></span></label>
<span><span class="n" part="name" data-testid="file-name"></span><span class="meta"><span data-testid="file-size"></span>
<span data-testid="file-type"></span><span data-testid="file-via"></span><span data-testid="file-parts"></span></span></span></div>
<div class="p"><progress part="bar" max="100" value="0" data-testid="progress"></progress><span class="pct" data-testid="progress-text" aria-hidden="true"></span></div>
<p class="st" part="status" data-testid="file-status"></p><div class="a">
<button part="button pause" data-testid="pause" data-s="pause"></button><button part="button cancel" data-testid="cancel" data-s="cancel"></button>
<button part="button retry" data-testid="retry" data-s="retry"></button><button part="button remove" data-testid="remove" data-s="remove"></button></div>`;

export function formatSize(n) {
  let u = 0;
  for (; n >= 1024 && u < 4; u++) n /= 1024;
  return u ? n.toFixed(n < 10 ? 2 : 1) + ' ' + 'KMGT'[u - 1] + 'iB' : n + ' B';
}

function uploadError(message, code = 'invalid_input') {
  return Object.assign(new Error(message), { name: 'UploadError', code });
}

function accepts(file, accept) {
  const name = file.name.toLowerCase();
  return !accept || accept.toLowerCase().split(',').some((a) => {
    a = a.trim();
    return a[0] === '.' ? name.endsWith(a) : a.endsWith('/*') ? file.type.startsWith(a.slice(0, -1)) : a === file.type;
  });
}

const same = (p, f) => p.fileName === f.name && p.size === f.size && p.lastModified === f.lastModified && p.type === f.type;

let webModule;

export class PresignedUploadForm extends HTMLElement {
  static observedAttributes = ['accept', 'multiple', 'disabled', 'concurrency'];

  #rows = [];
  #queue = [];
  #active = 0;
  #uploader = null;
  #own = null;
  #strings = STRINGS;
  #ui;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = HTML;
    const $ = (s) => root.querySelector(s);
    const ui = this.#ui = { input: $('input'), drop: $('.drop'), sum: $('.sum'), all: $('.bar button'), say: $('[aria-live]:not(.sum)'), list: $('ul') };
    ui.drop.onclick = () => ui.input.click();
    ui.input.onchange = () => { this.addFiles(ui.input.files); ui.input.value = ''; };
    ui.all.onclick = () => { for (const r of this.#rows) this.#cancel(r); };
    // Its children take no pointer events: enter and leave are the zone's.
    ui.drop.ondragenter = ui.drop.ondragover = ui.drop.ondragleave = ui.drop.ondrop = (e) => {
      e.preventDefault();
      ui.drop.classList.toggle('dragover', /^drag(en|ov)/.test(e.type));
      if (e.type === 'drop' && e.dataTransfer) this.addFiles(e.dataTransfer.files);
    };
  }

  connectedCallback() {
    // A property set before define() shadows the setter.
    for (const p of ['uploader', 'strings']) {
      if (Object.hasOwn(this, p)) { const v = this[p]; delete this[p]; this[p] = v; }
    }
    this.#sync();
    this.#pending();
  }

  attributeChangedCallback() { this.#sync(); this.#pump(); }

  get uploader() { return this.#uploader; }
  set uploader(v) { this.#uploader = v; this.#sync(); this.#pending(); }

  get strings() { return { ...this.#strings }; }
  set strings(v) { this.#strings = { ...STRINGS, ...v }; this.#sync(); }

  get disabled() { return this.hasAttribute('disabled'); }
  set disabled(v) { this.toggleAttribute('disabled', !!v); }

  get results() {
    return Object.freeze(this.#rows.filter((r) => ENDED.includes(r.st)).map(({ file, res, err }) => (res ? { file, ok: true, result: res } : { file, ok: false, error: err })));
  }

  get selected() { return this.#rows.filter((r) => r.sel && this.#selectable(r)).map((r) => r.res); }

  selectAll(on) {
    for (const r of this.#rows) if (this.#selectable(r)) r.sel = r.ui.sel.checked = !!on;
    this.#selection();
  }

  markDeleted(results) {
    const ids = new Set([...results].map((r) => r?.fileUuid || r));
    for (const r of this.#rows) if (r.st === 'done' && ids.has(r.res.fileUuid)) { r.st = 'deleted'; this.#render(r); }
    this.#summary();
    this.#selection();
  }

  reset() {
    const had = this.shadowRoot.activeElement;
    for (const r of [...this.#rows]) if (ENDED.includes(r.st)) this.#remove(r);
    if (had && !had.isConnected) this.#ui.drop.focus();
    this.#pending();
  }

  addFiles(list) {
    let files = [...(list || [])];
    if (!files.length || this.disabled) return;
    if (!this.hasAttribute('multiple')) files = files.slice(0, 1);
    const maxSize = this.#num('max-size');
    const maxFiles = this.#num('max-files');
    const accept = this.getAttribute('accept') || '';
    let added = 0;
    const said = [];
    for (const file of files) {
      const v = { name: file.name, accept, size: formatSize(file.size), max: formatSize(maxSize) };
      const why = maxFiles && this.#rows.filter((x) => x.st !== 'refused' && !x.pend).length >= maxFiles ? this.#t('tooMany', { ...v, max: maxFiles })
        : !accepts(file, accept) ? this.#t('badType', v) : maxSize && file.size > maxSize ? this.#t('tooBig', v) : '';
      // A pending row's file: that row resumes.
      const r = this.#rows.find((x) => x.pend && same(x.pend, file)) || this.#row({ file, sent: 0, phases: [], parts: 0 });
      Object.assign(r, { file, st: 'queued', pct: 0, pend: null });
      if (why) {
        r.st = 'refused';
        r.err = uploadError(why);
        said.push(why);
        this.#emit('upload-error', r.err, file);
      } else {
        this.#queue.push(r);
        added++;
      }
      this.#render(r);
    }
    if (added) said.unshift(this.#t(added === 1 ? 'addedOne' : 'added', { n: added }));
    this.#say(said.join(' '));
    this.#pump();
  }

  // A row per upload a reload interrupted (full build).
  async #pending() {
    const list = await this.#uploader?.pendingUploads?.().catch(() => []);
    for (const r of this.#rows.filter((x) => x.pend)) this.#remove(r);
    for (const p of list || []) {
      if (!this.#rows.some((x) => same(p, x.file))) this.#render(this.#row({ file: { name: p.fileName, ...p }, pend: p, st: 'pending', pct: (p.bytesDone / p.size) * 100 || 0, phases: [] }));
    }
    this.#summary();
  }

  #t(key, vars = {}) {
    return String(this.#strings[key] ?? STRINGS[key]).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));
  }

  #num(name) { const v = Number(this.getAttribute(name)); return v > 0 ? v : 0; }

  #emit(type, detail, file) {
    this.dispatchEvent(Object.assign(new CustomEvent(type, { detail, bubbles: true, composed: true }), { file }));
  }

  #say(text) {
    const el = this.#ui.say;
    el.textContent = ''; // so that the same text is read again
    requestAnimationFrame(() => { el.textContent = text; });
  }

  #sync() {
    const { input, drop, list } = this.#ui;
    const t = (k, v) => this.#t(k, v);
    input.accept = this.getAttribute('accept') || '';
    input.multiple = this.hasAttribute('multiple');
    input.disabled = drop.disabled = this.disabled;
    for (const el of this.shadowRoot.querySelectorAll('[data-s]:not(li *)')) el.textContent = t(el.dataset.s);
    drop.querySelector('.hint').textContent = input.multiple ? t('hintMany', { n: this.#limit() }) : t('hintOne');
    list.setAttribute('aria-label', t('list'));
    for (const r of this.#rows) this.#render(r);
    this.#summary();
  }

  #limit() { return Math.min(16, this.#num('concurrency') || 3); }

  async #resolve() {
    let u = this.#uploader;
    if (typeof u === 'function') u = u();
    if (u) return u;
    const presign = this.getAttribute('presign');
    if (!presign) throw uploadError(this.#t('noUploader'));
    const verify = this.getAttribute('verify');
    const key = presign + '\n' + verify;
    if (this.#own?.key !== key) {
      const m = await (webModule ||= import('presigned-upload/web').then(async (mod) => (await mod.default(), mod))).catch((e) => {
        webModule = null;
        throw uploadError(this.#t('loadFailed', { message: e.message || e }));
      });
      const abs = (p) => new URL(p, document.baseURI).href;
      this.#own = { key, uploader: new m.Uploader({ presign: abs(presign), verify: verify ? abs(verify) : false }) };
    }
    return this.#own.uploader;
  }

  #parts(file, up) {
    const at = this.#num('multipart-threshold');
    if (!at || !up?.createUpload || file.size < at) return 0;
    return Math.ceil(file.size / (this.#num('part-size') || Math.max(8 * MiB, Math.ceil(file.size / 10000))));
  }

  #selectable(r) { return r.st === 'done' && r.res?.fileId != null; }

  #selection() {
    this.#emit('selection-change', { selected: this.selected, selectable: this.#rows.filter((r) => this.#selectable(r)).length });
  }

  #row(r) {
    const li = document.createElement('li');
    li.innerHTML = ROW;
    li.setAttribute('part', 'row');
    li.dataset.testid = 'file-row';
    li.dataset.name = r.file.name;
    const q = (s) => li.querySelector(s);
    const [size, type, via, parts] = q('.meta').children;
    const ui = r.ui = { li, sel: q('input'), bar: q('progress'), pct: q('.pct'), st: q('.st'), via, parts, b: li.querySelectorAll('button') };
    q('.n').textContent = q('.n').title = r.file.name;
    size.textContent = formatSize(r.file.size);
    type.textContent = r.file.type || 'application/octet-stream';
    ui.sel.onchange = () => { r.sel = ui.sel.checked; this.#selection(); };
    const act = { pause: () => (r.st === 'paused' ? this.#resume(r) : this.#pause(r)), cancel: () => this.#cancel(r), retry: () => this.#retry(r), remove: () => (r.pend ? this.#uploader.discardPending(r.pend.id).then(() => this.#remove(r, true), (e) => this.#say(e.message || e)) : this.#remove(r, true)) };
    li.onclick = (e) => act[e.target.dataset.s]?.();
    this.#ui.list.append(li);
    this.#rows.push(r);
    return r;
  }

  #setPct(r, p) {
    r.pct = p = Math.max(0, Math.min(100, Math.floor(p)));
    r.ui.bar.value = p;
    r.ui.pct.textContent = r.ui.bar.textContent = p + '%';
    r.ui.li.dataset.progress = p;
  }

  #render(r, tell) {
    const { li, sel, via, parts, st, b: [pause, cancel, retry, remove] } = r.ui;
    const t = (k, v) => this.#t(k, { name: r.file.name, ...v });
    const focused = this.shadowRoot.activeElement;
    const { res, err: e } = r;
    const d = li.dataset;
    const data = (k, v) => (v == null ? delete d[k] : (d[k] = v));
    const failed = r.st === 'failed';
    data('status', li.className = r.st);
    data('phases', r.phases.join(' '));
    data('parts', r.parts || null);
    data('uuid', res?.fileUuid);
    data('fileId', res?.fileId);
    data('code', failed ? e?.code || 'error' : null);
    this.#setPct(r, r.pct);
    via.textContent = r.up ? t(r.up.deployFile ? 'viaApi' : 'viaBackend') : '';
    parts.textContent = r.parts ? t('parts', { n: r.parts }) : '';
    parts.hidden = !r.parts;
    sel.nextSibling.textContent = t('select');
    r.ui.bar.setAttribute('aria-label', t('progress'));
    if (failed || r.st === 'refused') {
      const msg = String(e?.message || e);
      const code = document.createElement('code');
      const span = document.createElement('span');
      span.dataset.testid = 'error-message';
      span.textContent = msg;
      code.dataset.testid = 'error-code';
      code.textContent = d.code;
      const s = e?.status;
      st.replaceChildren(...(failed ? [t('failed'), code, (s && !msg.includes(s) ? t('http', { status: s }) : '') + ' — '] : [t('refused')]), span);
    } else {
      st.textContent = t(r.st === 'done' && res.fileId == null ? 'doneNoId' : r.wait ? 'waiting' : r.st, { id: res?.fileId, done: formatSize(r.pend?.bytesDone) });
    }
    const live = LIVE.includes(r.st);
    cancel.hidden = !live;
    pause.hidden = !(r.task && r.parts > 0 && live);
    pause.disabled = !(r.st === 'paused' || (r.st === 'uploading' && r.sent < 100));
    retry.hidden = !['failed', 'cancelled'].includes(r.st);
    remove.hidden = live;
    for (const b of r.ui.b) {
      const k = b === pause && (r.st === 'paused' || r.wait) ? 'resume' : b === remove && r.pend ? 'discard' : b.dataset.s;
      b.textContent = t(k);
      b.setAttribute('aria-label', t('label', { action: b.textContent }));
    }
    sel.disabled = !this.#selectable(r);
    if (sel.disabled) r.sel = sel.checked = false;
    if (li.contains(focused) && (focused.hidden || focused.disabled)) this.#focusIn(li);
    if (tell) this.#say(r.file.name + ': ' + st.textContent);
  }

  #focusIn(li) { (li?.querySelector('button:not([hidden],:disabled)') || this.#ui.drop).focus(); }

  #summary() {
    const rows = this.#rows;
    const text = !rows.length ? this.#t('none')
      : [this.#t(rows.length === 1 ? 'file' : 'files', { n: rows.length }),
        ...Object.keys(STRINGS).filter((k) => k[1] === '_').map((k) => {
          const c = rows.filter((r) => (k === 'n_running' ? RUN.includes(r.st) : 'n_' + r.st === k)).length;
          return c ? this.#t(k, { n: c }) : '';
        }).filter(Boolean)].join(', ') + '.';
    if (this.#ui.sum.textContent !== text) this.#ui.sum.textContent = text;
    const all = this.#ui.all;
    const had = this.shadowRoot.activeElement === all;
    all.disabled = !rows.some((r) => LIVE.includes(r.st));
    if (had && all.disabled) this.#ui.drop.focus();
  }

  #pump() {
    while (this.#active < this.#limit() && this.#queue.length) {
      const r = this.#queue.shift();
      if (r.st !== 'queued') continue;
      this.#active++;
      r.slot = true;
      if (r.wait) {
        r.wait = false;
        r.st = 'uploading';
        r.task.resume();
        this.#render(r, true);
        continue;
      }
      this.#run(r).finally(() => {
        this.#free(r);
        this.#pump();
        if (!this.#rows.some((x) => LIVE.includes(x.st))) this.#emit('queue-complete', this.results);
      });
    }
    this.#summary();
  }

  #free(r) { if (r.slot) { r.slot = false; this.#active--; } }

  async #run(r) {
    Object.assign(r, { st: 'presign', sent: 0, phases: [], err: null, res: null, stop: false, ctrl: new AbortController() });
    this.#render(r);
    const file = r.file;
    let frame = 0;
    const onProgress = (p) => {
      if (r.stop) return;
      if (!r.phases.includes(p.phase)) r.phases.push(p.phase);
      const next = p.phase === 'presign' ? 'presign' : p.phase === 'upload' ? 'uploading' : 'verifying';
      const sending = r.sent < 100;
      if (p.phase === 'upload' && p.total > 0) r.sent = (p.loaded / p.total) * 100;
      if (p.phase === 'verify') r.sent = 100;
      this.#emit('upload-progress', { file, ...p }, file);
      if (r.st === 'paused' || r.wait) return; // a late event does not unpause
      if ((sending && r.sent >= 100) || next !== r.st) { r.st = next; this.#render(r); }
      frame ||= requestAnimationFrame(() => { frame = 0; if (RUN.includes(r.st)) this.#setPct(r, r.sent); });
    };
    this.#emit('upload-start', { file }, file);
    try {
      const up = r.up = await this.#resolve();
      if (r.stop) throw uploadError(this.#t('cancelled'), 'aborted');
      r.parts = this.#parts(file, up);
      const opts = { onProgress, signal: r.ctrl.signal };
      if (up.createUpload) {
        r.task = up.createUpload(file, opts);
        this.#render(r);
        r.res = await r.task.start();
      } else r.res = await up.upload(file, opts);
      r.st = 'done';
      r.pct = 100;
      this.#emit('upload-success', r.res, file);
    } catch (e) {
      r.err = e;
      r.st = r.stop || e?.code === 'aborted' ? 'cancelled' : 'failed';
      this.#emit('upload-error', e, file);
    } finally {
      cancelAnimationFrame(frame);
      r.ctrl = null;
      r.wait = false;
      r.task?.free?.();
      r.task = null;
      this.#render(r, true);
      this.#selection();
    }
  }

  #cancel(r) {
    const i = this.#queue.indexOf(r);
    if (i >= 0) this.#queue.splice(i, 1);
    r.stop = true;
    if (r.task && LIVE.includes(r.st)) r.task.abort();
    else if (r.st === 'queued') {
      r.st = 'cancelled';
      this.#render(r, true);
      this.#emit('upload-error', r.err = uploadError(this.#t('cancelled'), 'aborted'), r.file);
      this.#summary();
    } else if (RUN.includes(r.st)) r.ctrl?.abort();
  }

  #pause(r) {
    if (!r.task || r.st !== 'uploading') return;
    r.task.pause();
    if (r.task.state !== 'paused') return; // already past the parts
    r.st = 'paused';
    this.#free(r);
    this.#render(r, true);
    this.#pump();
  }

  #resume(r) {
    if (!r.task || r.st !== 'paused') return;
    r.st = 'queued';
    r.wait = true;
    this.#queue.unshift(r);
    this.#pump();
    if (r.wait) this.#render(r, true);
  }

  #retry(r) {
    Object.assign(r, { st: 'queued', phases: [], pct: 0 }); // #run resets the rest
    this.#render(r);
    this.#queue.push(r);
    this.#pump();
  }

  #remove(r, focus) {
    const i = this.#rows.indexOf(r);
    if (i < 0 || LIVE.includes(r.st)) return;
    this.#rows.splice(i, 1);
    r.ui.li.remove();
    if (focus) this.#focusIn((this.#rows[i] || this.#rows[i - 1] || {}).ui?.li);
    this.#summary();
    this.#selection();
  }
}

if (!customElements.get('presigned-upload-form')) customElements.define('presigned-upload-form', PresignedUploadForm);
