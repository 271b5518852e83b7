// Size figures without extra tools: raw, gzip -9 and brotli (node's zlib) of files, the sections of a
// .wasm, and, from a .wasm that still has its "name" section (cargo's own output, before wasm-bindgen
// and wasm-opt), how many code bytes each Rust crate contributes.
import { readFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** { raw, gzip, brotli } in bytes: gzip at level 9, brotli at quality 11 (the most each does). */
export function compressedSizes(buf) {
  return {
    raw: buf.length,
    gzip: gzipSync(buf, { level: 9 }).length,
    brotli: brotliCompressSync(buf, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: buf.length,
      },
    }).length,
  };
}

export function fileSizes(path) {
  return compressedSizes(readFileSync(path));
}

const SECTION_NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount', 'tag'];

class Reader {
  constructor(buf, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }
  byte() {
    if (this.pos >= this.end) throw new Error('wasm: unexpected end');
    return this.buf[this.pos++];
  }
  u32() {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error('wasm: LEB128 too long');
    }
  }
  bytes(n) {
    if (this.pos + n > this.end) throw new Error('wasm: unexpected end');
    const s = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  name() {
    return this.bytes(this.u32()).toString('utf8');
  }
  limits() {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
}

/** The sections of a .wasm: [{ id, name, size }] (size includes the section header), plus function data. */
export function parseWasm(buf) {
  const r = new Reader(buf);
  const magic = r.bytes(4);
  if (magic[0] !== 0 || magic[1] !== 0x61 || magic[2] !== 0x73 || magic[3] !== 0x6d) throw new Error('not a wasm module');
  r.bytes(4); // version
  const sections = [];
  let importedFuncs = 0;
  let bodies = [];
  let names = null;
  while (r.pos < r.end) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const payloadStart = r.pos;
    const payloadEnd = r.pos + size;
    let name = SECTION_NAMES[id] || `section ${id}`;
    const p = new Reader(buf, payloadStart, payloadEnd);
    if (id === 0) {
      const custom = p.name();
      name = `custom "${custom}"`;
      if (custom === 'name') names = parseNames(p);
    } else if (id === 2) {
      const n = p.u32();
      for (let i = 0; i < n; i++) {
        p.name();
        p.name();
        const kind = p.byte();
        if (kind === 0) {
          p.u32();
          importedFuncs++;
        } else if (kind === 1) {
          p.byte();
          p.limits();
        } else if (kind === 2) {
          p.limits();
        } else if (kind === 3) {
          p.byte();
          p.byte();
        } else if (kind === 4) {
          p.byte();
          p.u32();
        } else {
          throw new Error(`wasm: unknown import kind ${kind}`);
        }
      }
    } else if (id === 10) {
      const n = p.u32();
      bodies = new Array(n);
      for (let i = 0; i < n; i++) {
        const s = p.u32();
        bodies[i] = s + leb128Length(s); // the body and its size prefix
        p.pos += s;
      }
    }
    sections.push({ id, name, size: payloadEnd - start });
    r.pos = payloadEnd;
  }
  return { sections, importedFuncs, bodies, names };
}

function leb128Length(n) {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** The function-name subsection (id 1) of a "name" section: Map(index → name). */
function parseNames(p) {
  const names = new Map();
  while (p.pos < p.end) {
    const sub = p.byte();
    const size = p.u32();
    const end = p.pos + size;
    if (sub === 1) {
      const n = p.u32();
      for (let i = 0; i < n; i++) {
        const idx = p.u32();
        names.set(idx, p.name());
      }
    }
    p.pos = end;
  }
  return names;
}

/**
 * Rough Rust v0 demangling (`_RNvNtCs…_4core3fmt5write` → `core::fmt::write`): the identifiers in order,
 * from the first crate root on, stopping at the instantiating crate. Enough to name a function and its crate.
 */
function demangleV0(sym) {
  const root = /C(?:s[0-9A-Za-z]*_)?(\d+)/g;
  const m = root.exec(sym);
  if (!m) return sym;
  const parts = [];
  let i = m.index + m[0].length - m[1].length;
  while (i < sym.length) {
    const rest = sym.slice(i, i + 40);
    if (parts.length && /^Cs[0-9A-Za-z]*_\d/.test(rest)) break; // the instantiating crate
    const skip = /^[Bs][0-9A-Za-z]*_/.exec(rest); // a back-reference or a disambiguator
    if (skip) {
      i += skip[0].length;
    } else if (sym[i] >= '0' && sym[i] <= '9') {
      let j = i;
      while (j < sym.length && sym[j] >= '0' && sym[j] <= '9') j++;
      const len = Number(sym.slice(i, j));
      if (sym[j] === '_') j++; // separator before an identifier that starts with a digit or '_'
      const id = sym.slice(j, j + len);
      if (id) parts.push(id);
      i = j + len;
    } else {
      i++;
    }
  }
  return parts.length ? parts.join('::') : sym;
}

/** Rust legacy (`_ZN4core3fmt5write17h…E`) or v0 (`_R…`) mangling → `core::fmt::write`; other names as they are. */
export function demangle(sym) {
  let s = sym;
  if (s.startsWith('_R')) return demangleV0(s);
  if (s.startsWith('_ZN') && s.endsWith('E')) {
    const parts = [];
    let i = 3;
    while (i < s.length - 1) {
      let j = i;
      while (j < s.length && s[j] >= '0' && s[j] <= '9') j++;
      if (j === i) break;
      const len = Number(s.slice(i, j));
      parts.push(s.slice(j, j + len));
      i = j + len;
    }
    s = parts.join('::');
  }
  s = s
    .replace(/\$LT\$/g, '<')
    .replace(/\$GT\$/g, '>')
    .replace(/\$RF\$/g, '&')
    .replace(/\$BP\$/g, '*')
    .replace(/\$C\$/g, ',')
    .replace(/\$SP\$/g, '@')
    .replace(/\$u20\$/g, ' ')
    .replace(/\$u27\$/g, "'")
    .replace(/\$u5b\$/g, '[')
    .replace(/\$u5d\$/g, ']')
    .replace(/\$u7b\$/g, '{')
    .replace(/\$u7d\$/g, '}')
    .replace(/\$u7e\$/g, '~')
    .replace(/\.\./g, '::');
  return s.replace(/::h[0-9a-f]{16}$/, '').replace(/\[[0-9a-f]{16}\]/g, '');
}

/** The crate a (demangled) function name belongs to: the first path segment, looking into `<T as Trait>`. */
export function crateOf(name) {
  if (/externref shim|multivalue shim/.test(name)) return 'exports (wasm-bindgen shims, code inlined into them)';
  if (/^<(?:[ui](?:8|16|32|64|128|size)|f32|f64|char|str|bool|\[[^\]]*\])(?:>|\s)/.test(name)) return 'core';
  if (/^(?:f(?:max|min)f?|fmod|fmodf|sqrtf?|floorf?|ceilf?|truncf?|roundf?)$/.test(name)) return 'compiler_builtins';
  if (name === '?' || /^func\[\d+\]$/.test(name)) return 'unnamed';
  let s = name.replace(/^_+/, '');
  for (let guard = 0; guard < 8; guard++) {
    s = s.replace(/^[<&*\[(\s]+/, '').replace(/^(mut|const|dyn|impl)\s+/, '');
    const m = /^([A-Za-z_][A-Za-z0-9_]*)::/.exec(s);
    if (m) return m[1];
    const as = / as ([A-Za-z_][A-Za-z0-9_]*)::/.exec(s);
    if (as && !/^[A-Za-z_][A-Za-z0-9_]*::/.test(s)) return as[1];
    if (!/^[<&*\[(]/.test(s)) break;
  }
  if (/^(__wbindgen|__wbg|__externref|__wasm_bindgen)/.test(name)) return 'wasm-bindgen (generated)';
  if (/^(mem(cpy|move|set|cmp)|__(ashl|lshr|ashr|mul|div|udiv|umod|mod)|.*fmod)/.test(name)) return 'compiler_builtins';
  if (/^dl(malloc|free|realloc)|^malloc|^free|^realloc|^calloc/.test(name)) return 'dlmalloc';
  return 'other';
}

/** Code bytes per crate from a .wasm with a name section; null when it has none. */
export function codeByCrate(buf, top = 20) {
  const w = parseWasm(buf);
  if (!w.names || w.bodies.length === 0) return null;
  const crates = new Map();
  const fns = [];
  let total = 0;
  w.bodies.forEach((size, i) => {
    const raw = w.names.get(w.importedFuncs + i) || `func[${w.importedFuncs + i}]`;
    const name = demangle(raw);
    const c = crateOf(name);
    crates.set(c, (crates.get(c) || 0) + size);
    fns.push({ name, size });
    total += size;
  });
  const byCrate = [...crates.entries()].map(([crate, bytes]) => ({ crate, bytes, share: bytes / total })).sort((a, b) => b.bytes - a.bytes);
  const topFunctions = fns.sort((a, b) => b.size - a.size).slice(0, top).map((f) => ({ ...f, share: f.size / total }));
  return { codeBytes: total, functions: w.bodies.length, byCrate, topFunctions, sections: w.sections };
}
