// A backend for the browser's `Uploader` ("through your backend"), built with presigned-upload in
// Node.js: node:http only. It holds the Hexnode API key; the browser only ever sees presigned URLs.
//   POST /presign {file_name, content_type, size} -> {presigned_url, file_name, file_uuid}
//   POST /verify  {file_uuid}                     -> Hexnode's Verify File Upload answer
// Environment: HEXNODE_PORTAL, HEXNODE_API_KEY (required), PORT (default 8787),
// MAX_UPLOAD_BYTES (default 5 GiB), HEXNODE_VERIFY_PATH (optional).
import http from 'node:http';
import { HexnodeClient } from 'presigned-upload';

const maxSize = Number(process.env.MAX_UPLOAD_BYTES ?? 5 * 1024 ** 3);
// One client, and so one rate limiter, for every request. Its 429s go back to the browser (whose
// Uploader waits as Retry-After says) instead of holding the request here: no retries.
const hexnode = new HexnodeClient({
  portal: process.env.HEXNODE_PORTAL,
  apiKey: process.env.HEXNODE_API_KEY,
  ...(process.env.HEXNODE_VERIFY_PATH ? { verifyPath: process.env.HEXNODE_VERIFY_PATH } : {}),
  retry: { retries: 0 },
});

const CONTENT_TYPE = /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+(\s*;\s*[\w!#$%&'*+.^`|~-]+=("[^"]*"|[\w!#$%&'*+.^`|~-]+))*$/;

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

class BadRequest extends Error {}

async function readJson(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 64 * 1024) throw new BadRequest('body: larger than 64 KiB');
  }
  try {
    const v = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v;
  } catch {}
  throw new BadRequest('body: must be a JSON object');
}

/** An UploadError from the API, as an answer: a 429 keeps its Retry-After. */
function fail(res, e) {
  if (e instanceof BadRequest) return send(res, 400, { detail: e.message });
  if (e.code === 'invalid_input') return send(res, 400, { detail: e.message });
  if (e.code === 'rate_limited') {
    const secs = Math.max(1, Math.ceil((e.retryAfterMs ?? 1000) / 1000));
    return send(res, 429, { detail: e.message }, { 'retry-after': String(secs) });
  }
  send(res, e.code === 'network' ? 504 : 502, { detail: e.message, code: e.code });
}

async function presign(body) {
  const { file_name: name, content_type: type, size } = body;
  if (typeof name !== 'string' || name.trim() === '') throw new BadRequest('file_name: is required (a non-empty string)');
  if (typeof type !== 'string' || !CONTENT_TYPE.test(type)) throw new BadRequest('content_type: must be a MIME type such as application/pdf');
  if (!Number.isSafeInteger(size) || size < 0) throw new BadRequest('size: must be a whole number of bytes');
  if (size > maxSize) throw new BadRequest(`size: ${size} bytes is over the limit of ${maxSize}`);
  const p = await hexnode.generatePresignedUploadUrl(name, type);
  return { presigned_url: p.presignedUrl, file_name: p.fileName, file_uuid: p.fileUuid };
}

async function verify(body) {
  if (typeof body.file_uuid !== 'string' || body.file_uuid === '') throw new BadRequest('file_uuid: is required');
  return (await hexnode.verifyFileUpload(body.file_uuid)).raw;
}

const routes = { '/presign': presign, '/verify': verify };

export const server = http.createServer(async (req, res) => {
  const route = routes[new URL(req.url, 'http://x').pathname];
  if (!route) return send(res, 404, { detail: 'not found' });
  if (req.method !== 'POST') return send(res, 405, { detail: 'use POST' }, { allow: 'POST' });
  try {
    send(res, 200, await route(await readJson(req)));
  } catch (e) {
    fail(res, e);
  }
});

server.listen(Number(process.env.PORT ?? 8787), '127.0.0.1', () => {
  console.log(`backend listening on http://127.0.0.1:${server.address().port}`);
});
