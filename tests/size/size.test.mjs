// Size budgets of the npm package, as `size-limit` keeps them for JS libraries: the gzip -9 size of
// each entry's .wasm plus its JS glue, as `npm run build` ships them (release). The budgets live in
// tests/size/budgets.json; each is the size reached, rounded up by at most 2 KB, so that growth is a
// decision (raise the budget in the commit that needs it, and say why) and never an accident.
// Deterministic: sizes of files, no timing. Needs a release `scripts/build.sh` (npm test runs it).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const budgets = JSON.parse(readFileSync(join(ROOT, 'tests/size/budgets.json'), 'utf8'));

/** `gzip -9` size of one file (GNU gzip, as the figures in the README and the issues are measured). */
function gz(rel) {
  const path = join(ROOT, rel);
  assert.ok(existsSync(path), `${rel} is missing: run \`npm run build\` first`);
  return execFileSync('gzip', ['-9', '-n', '-c', path], { maxBuffer: 1 << 26 }).length;
}

test('the measured build is a release build', () => {
  const info = join(ROOT, 'dist/build.json');
  assert.ok(existsSync(info), 'dist/build.json is missing: run `npm run build` first');
  assert.equal(JSON.parse(readFileSync(info, 'utf8')).mode, 'release', 'dist/ holds a dev build: sizes say nothing about the package');
});

/** The JS snippets wasm-bindgen ships beside an entry (`<dir>/snippets/…`): part of what a page loads. */
function snippetsOf(files) {
  const dir = files[0].slice(0, files[0].lastIndexOf('/'));
  const root = join(ROOT, dir, 'snippets');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true })
    .map((f) => `${dir}/snippets/${String(f).split('\\').join('/')}`)
    .filter((f) => f.endsWith('.js'))
    .sort();
}

for (const [build, b] of Object.entries(budgets.builds)) {
  for (const [entry, files] of Object.entries(b.entries)) {
    test(`${entry} (${build}) is within its gzip budget of ${b.budget} B`, () => {
      const parts = [...files, ...snippetsOf(files)].map((f) => [f, gz(f)]);
      const total = parts.reduce((s, [, n]) => s + n, 0);
      const detail = parts.map(([f, n]) => `${f} ${n} B`).join(', ');
      const diff = total - b.budget;
      const goal = b.goal ? `; goal ${b.goal} B (${total - b.goal > 0 ? '+' : ''}${total - b.goal} B)` : '';
      console.log(`size: ${entry} ${total} B gzip -9 (${detail}); budget ${b.budget} B (${diff > 0 ? '+' : ''}${diff} B)${goal}`);
      assert.ok(diff <= 0, `${entry} is ${total} B, ${diff} B over its budget of ${b.budget} B (${detail})`);
    });
  }
}
