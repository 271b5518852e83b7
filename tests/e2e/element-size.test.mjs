// The <presigned-upload-form> element's own size budget: js/element.js (its JS and its inlined CSS),
// as the package ships it, must stay within 8 KB gzip -9, apart from the wasm's budget. It must also
// never import the wasm statically: a page that passes its own uploader loads no second copy.
//
// Run: node --test tests/e2e/element-size.test.mjs (no devserver needed)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUDGET = 8 * 1024;

test('js/element.js is at most 8 KB gzip -9 and imports the wasm only on demand', (t) => {
  const source = readFileSync(resolve(ROOT, 'js/element.js'));
  const gz = gzipSync(source, { level: 9 }).length;
  t.diagnostic(`js/element.js: ${source.length} B, ${gz} B gzip -9 (budget ${BUDGET} B)`);
  assert.ok(gz <= BUDGET, `js/element.js is ${gz} B gzip -9, over the ${BUDGET} B budget`);

  const text = source.toString('utf8');
  assert.deepEqual(text.match(/^\s*import\s[^(]/gm), null, 'a static import: the element must not load anything eagerly');
  assert.match(text, /import\('presigned-upload\/web'\)/, 'the wasm is loaded through the bare specifier presigned-upload/web');

  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8'));
  assert.deepEqual(pkg.exports['./element'], { types: './js/element.d.ts', default: './js/element.js' });
  for (const f of ['js/element.js', 'js/element.d.ts']) assert.ok(pkg.files.includes(f), `${f} is not in package.json "files"`);
  assert.ok(pkg.sideEffects.includes('./js/element.js'), 'a bundler would drop `import "presigned-upload/element"`');
});
