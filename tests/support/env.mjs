// What every end-to-end and Node test shares: the environment that `npm test` sets up, JSON from the
// devserver, and the hash the store's bytes are compared by.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

/**
 * The value of `name` (a devserver address and the like), without trailing slashes. Unset, it
 * throws: a test that needs the devserver fails rather than skips when run without it.
 */
export function requireEnv(name, why) {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: ${why}. Run the end-to-end tests through \`npm test\`, which starts the devserver, ` +
        'or start it yourself (`. scripts/devserver.sh && devserver_start`) and export the variable.',
    );
  }
  return value.replace(/\/+$/, '');
}

/** GETs (or, with `init`, sends) `url` and parses its JSON; fails the test on a non-2xx answer. */
export async function getJson(url, init) {
  const res = await fetch(url, init);
  const text = await res.text();
  assert.ok(res.ok, `${init?.method ?? 'GET'} ${url} answered HTTP ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** Hex SHA-256 of a buffer, to compare with what the store holds. */
export const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
