// `presigned-upload` in Node.js (the export condition "node"): the core build, loaded from the
// package directory at import time, so there is no init() to call. Node.js 20 or later.
import { readFileSync } from 'node:fs';
import './node-body.js';
import { initSync } from '../dist/web/presigned_upload.js';

initSync({ module: readFileSync(new URL('../dist/web/presigned_upload_bg.wasm', import.meta.url)) });

export { HexnodeClient, Uploader, UploadTask, putFile } from '../dist/web/presigned_upload.js';
