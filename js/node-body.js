// The body of every PUT in Node.js. The wasm looks this hook up by `Symbol.for("presigned-upload.body")`
// (browsers have none: there the File/Blob is the body and XMLHttpRequest reports progress).
//
// Memory: Node's fetch (undici) keeps a copy of a request body (it tees the stream) in case a redirect
// makes it send the body again, so a 1 GiB upload would cost 1 GiB of RSS (nodejs/undici#4058). It
// does not when redirects are errors and the request has no window: a presigned PUT is answered,
// never redirected, so the hook sets `redirect: "error"` and `window: null`.
//
// Progress (there is no XMLHttpRequest): a stream of the Blob that reports the bytes as fetch takes
// them, with an explicit Content-Length. Without it fetch would send the stream chunked, which S3
// refuses (501 NotImplemented for Transfer-Encoding, 411 MissingContentLength); with it Node's fetch
// sends a plain body of that length, and fails the request if the stream's bytes do not add up.
const key = Symbol.for('presigned-upload.body');

const PIECE = 256 * 1024;

/** Sets the PUT's body on `init`: `blob` itself, or with `onProgress` a byte-counting stream of it. */
function nodeBody(init, blob, onProgress) {
  init.redirect = 'error';
  init.window = null;
  if (typeof onProgress !== 'function') {
    init.body = blob;
    return;
  }
  let reader;
  let rest = null; // what is left of the last chunk read: big chunks go out in pieces (views, not copies)
  let loaded = 0;
  init.body = new ReadableStream({
    start() { reader = blob.stream().getReader(); },
    async pull(controller) {
      if (rest === null || rest.byteLength === 0) {
        const { done, value } = await reader.read();
        if (done) { controller.close(); return; }
        rest = value;
      }
      const piece = rest.subarray(0, PIECE);
      rest = rest.subarray(piece.byteLength);
      controller.enqueue(piece);
      loaded += piece.byteLength;
      onProgress({ loaded });
    },
    cancel(reason) { return reader.cancel(reason); },
  }, { highWaterMark: 0 });
  init.duplex = 'half';
  init.headers.set('content-length', String(blob.size));
}

if (typeof globalThis[key] !== 'function') {
  Object.defineProperty(globalThis, key, { value: nodeBody, configurable: true });
}
