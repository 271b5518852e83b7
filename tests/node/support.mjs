// Shared helpers of the Node.js tests (tests/node), which run the package in Node against the devserver.
//   PU_WEB_BASE          the devserver's web address (required; `npm test` sets it)
//   PU_LIMITED_WEB_BASE  a devserver started with `--rate-limit 10/1s` (required; `npm test` sets it)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const MiB = 1024 * 1024;

import { getJson, requireEnv } from '../support/env.mjs';

export { getJson, requireEnv };


/** The devserver's /config.json, with `web` added: api_base, api_key, s3_endpoint... */
export async function devConfig(web) {
  return { ...(await getJson(`${web}/config.json`)), web };
}

export const stats = (web) => getJson(`${web}/__dev/stats`);
export const uploads = (web, prefix) => getJson(`${web}/__dev/uploads?prefix=${encodeURIComponent(prefix)}`);
export const object = (web, key) => getJson(`${web}/__dev/object/${encodeURIComponent(key)}`);

/** A name no other test uses, for /__dev/uploads?prefix= */
export const unique = (tag) => `${tag}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * Runs `node args...` and collects its output. `onStderr(text, child)` sees stderr as it comes.
 * Resolves with { code, signal, stdout, stderr }.
 */
export function runNode(args, { env = {}, onStderr, onStdout, timeoutMs = 120_000 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`node ${args.join(' ')} did not exit in ${timeoutMs} ms; stderr: ${stderr}`)); }, timeoutMs);
    child.stdout.on('data', (d) => { stdout += d; onStdout?.(stdout, child); });
    child.stderr.on('data', (d) => { stderr += d; onStderr?.(stderr, child); });
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolvePromise({ code, signal, stdout, stderr }); });
  });
}

export const SERVER = join(ROOT, 'examples/backend-node/server.mjs');
const children = [];

/** Starts examples/backend-node on a free port for the devserver `dev` (its /config.json); resolves with its base URL. */
export async function startBackend(dev, extraEnv = {}) {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH, PORT: '0', HEXNODE_PORTAL: dev.api_base, HEXNODE_API_KEY: dev.api_key, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example backend did not start: ${output}`)), 20_000);
    const seen = (d) => {
      output += d;
      const m = output.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the example backend exited with ${code}: ${output}`)); });
  });
}

/** Stops every example backend that startBackend started. */
export function stopBackends() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
