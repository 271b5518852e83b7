// Progress for PUTs in Node.js, where there is no XMLHttpRequest. The wasm looks this hook up by
// `Symbol.for("presigned-upload.body")` when a PUT wants progress and sends the File/Blob as is
// otherwise. The hook gives fetch a stream of the Blob that reports the bytes as fetch takes them,
// and an explicit Content-Length: without it fetch would send the stream chunked, which S3 refuses
// (501 NotImplemented for Transfer-Encoding, 411 MissingContentLength). Node's fetch sends a
// stream with a Content-Length header as a plain body of that length, and fails the request if
// the stream's bytes do not add up to it.
const key = Symbol.for('presigned-upload.body');

const PIECE = 256 * 1024;

/** Sets `init.body` to a byte-counting stream of `blob`, with `duplex` and `Content-Length`. */
function countingBody(init, blob, onProgress) {
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
  Object.defineProperty(globalThis, key, { value: countingBody, configurable: true });
}
