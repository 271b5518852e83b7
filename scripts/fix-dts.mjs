#!/usr/bin/env node
// Post-processes the .d.ts files that wasm-pack writes, so that they compile under any `lib`:
//
//   node scripts/fix-dts.mjs <dir>...    e.g. node scripts/fix-dts.mjs dist/web dist/bundler
//
// wasm-bindgen declares `[Symbol.dispose](): void;` on every exported class. `Symbol.dispose` is typed
// only by TypeScript's `esnext.disposable` lib (TypeScript 5.2+), so an app built with
// `lib: ["es2020", "dom"]` and `skipLibCheck: false` fails on the package's types with TS2550. The line
// is removed: `free()` stays declared, and at run time the classes are still disposable (`using`)
// wherever the engine has `Symbol.dispose`; only its type is left out.
//
// Every .d.ts directly in each <dir> is rewritten in place (again and again gives the same file). Fails
// when a <dir> holds no .d.ts, or when `Symbol.dispose` is still there afterwards (wasm-bindgen changed
// how it writes it: update the pattern below).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** One declaration of `[Symbol.dispose]()` on a line of its own, with its indentation and line end. */
const DISPOSE_LINE = /^[ \t]*\[Symbol\.dispose\]\(\)\s*:\s*void;[ \t]*\r?\n/gm;

/** The .d.ts text without wasm-bindgen's `[Symbol.dispose]()` declarations; `removed` counts them. */
export function fixDts(text) {
  let removed = 0;
  const out = text.replace(DISPOSE_LINE, () => {
    removed += 1;
    return '';
  });
  return { text: out, removed };
}

function main(dirs) {
  if (dirs.length === 0) {
    console.error('usage: node scripts/fix-dts.mjs <dir>...  (directories holding wasm-pack .d.ts output)');
    process.exit(2);
  }
  for (const dir of dirs) {
    let names;
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.d.ts'));
    } catch (e) {
      console.error(`fix-dts: cannot read ${dir}: ${e.message}`);
      process.exit(1);
    }
    if (names.length === 0) {
      console.error(`fix-dts: no .d.ts file in ${dir}: build it first (wasm-pack build)`);
      process.exit(1);
    }
    for (const name of names) {
      const path = join(dir, name);
      const { text, removed } = fixDts(readFileSync(path, 'utf8'));
      if (/Symbol\.dispose/.test(text)) {
        console.error(`fix-dts: ${path} still mentions Symbol.dispose in a form this script does not know; update scripts/fix-dts.mjs`);
        process.exit(1);
      }
      if (removed > 0) writeFileSync(path, text);
      console.error(`fix-dts: ${path}: removed ${removed} [Symbol.dispose]() declaration(s)`);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
