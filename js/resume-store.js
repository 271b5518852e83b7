// The IndexedDB half of "resume after a reload" (full build): records kept as text under an
// id in one object store. Every call resolves, never rejects: where IndexedDB is missing or
// refuses (some private modes), `all` resolves with null and the writes do nothing.
let db;
// The records of uploads running in this page: left out of `resumeAll`.
const claimed = new Set();
function open() {
  if (!db) {
    db = new Promise((ok) => {
      try {
        const r = indexedDB.open('presigned-upload', 1);
        r.onupgradeneeded = () => r.result.createObjectStore('resume');
        r.onsuccess = () => ok(r.result);
        r.onerror = r.onblocked = () => ok(null);
      } catch (e) {
        ok(null);
      }
    });
  }
  return db;
}
function run(mode, f) {
  return open().then((d) => new Promise((ok) => {
    if (!d) return ok(null);
    try {
      const t = d.transaction('resume', mode);
      const r = f(t.objectStore('resume'));
      t.oncomplete = () => ok(r.result === undefined ? true : r.result);
      t.onerror = t.onabort = () => ok(null);
    } catch (e) {
      ok(null);
    }
  }));
}
/** [[id, text], ...] of every record, or null where IndexedDB is not usable. */
export function resumeAll() {
  return run('readonly', (s) => {
    const out = [];
    const c = s.openCursor();
    c.onsuccess = () => {
      const k = c.result;
      if (k) { if (!claimed.has(k.key)) out.push([k.key, k.value]); k.continue(); }
    };
    return { get result() { return out; } };
  });
}
/** Keeps `text` under `id`. */
export function resumePut(id, text) {
  return run('readwrite', (s) => s.put(text, id));
}
/** Forgets `id`. */
export function resumeDelete(id) {
  return run('readwrite', (s) => s.delete(id));
}
/** Marks `id` as running in this page. */
export function resumeClaim(id) { claimed.add(id); }
/** `id` no longer runs in this page. */
export function resumeRelease(id) { claimed.delete(id); }
