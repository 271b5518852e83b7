// `presigned-upload/full` in Node.js (the export condition "node"): the full build (multipart and
// the SigV4 signer), loaded from the package directory at import time: no init() to call.
import { readFileSync } from 'node:fs';
import './node-body.js';
import { initSync } from '../dist/full/web/presigned_upload.js';

initSync({ module: readFileSync(new URL('../dist/full/web/presigned_upload_bg.wasm', import.meta.url)) });

export { HexnodeClient, Uploader, UploadTask, putFile } from '../dist/full/web/presigned_upload.js';
