// Uses every export of `presigned-upload` (and `presigned-upload/web`) the way an app would, and pins
// the types that matter, so `tsc --noEmit` on this file fails when the published .d.ts loses or
// loosens something (a method returning `Promise<any>`, an untyped option, a missing export).
// Type-checked only, never run: tests/e2e/consumer.test.mjs checks it against the packed tarball, and
// `npx tsc -p tests/types` checks it against dist/ at the root. Every name exported by the .d.ts files
// must appear here (the e2e test checks that too): when you add an export, use it below.

import {
  HexnodeClient,
  Uploader,
  UploadTask,
  putFile,
  type DeployFileRequest,
  type HexnodeClientOptions,
  type PresignJson,
  type PresignedUpload,
  type Progress,
  type PutFileOptions,
  type PutResult,
  type RetryOptions,
  type UploadAllEntry,
  type UploadAllOptions,
  type UploadAllResult,
  type UploadError,
  type UploadErrorCode,
  type UploadOptions,
  type UploadResult,
  type UploadTaskState,
  type UploaderOptions,
  type VerifyResult,
} from "presigned-upload";
import init, {
  initSync,
  Uploader as WebUploader,
  putFile as webPutFile,
  type InitInput,
  type InitOutput,
  type SyncInitInput,
} from "presigned-upload/web";
// The full build: the same API plus multipart and the in-browser signer (`multipart`, `s3`).
import {
  Uploader as FullUploader,
  type MultipartOptions,
  type PendingUpload,
  type ResumeOptions,
  type S3Credentials,
  type S3Options,
  type UploaderOptions as FullUploaderOptions,
} from "presigned-upload/full";
import { PresignedUploadForm, formatSize, type FormResult } from "presigned-upload/element";

// ---------------------------------------------------------------- type assertions

/** True only when A and B are the same type (not merely assignable). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type IsAny<T> = 0 extends 1 & T ? true : false;
function expectType<T extends true>(_: T): void {}
/** A promise's result, asserted not to be `any`. */
type Resolved<P> = IsAny<Awaited<P>> extends true ? "resolves to any" : Awaited<P>;

// Every promise resolves to a declared type, not `any`.
expectType<Equal<Resolved<ReturnType<typeof putFile>>, PutResult>>(true);
expectType<Equal<Resolved<ReturnType<Uploader["upload"]>>, UploadResult>>(true);
expectType<Equal<Resolved<ReturnType<Uploader["uploadAll"]>>, UploadAllResult[]>>(true);
expectType<Equal<ReturnType<Uploader["createUpload"]>, UploadTask>>(true);
expectType<Equal<Resolved<ReturnType<UploadTask["start"]>>, UploadResult>>(true);
expectType<Equal<UploadTask["state"], UploadTaskState>>(true);
expectType<Equal<Resolved<ReturnType<HexnodeClient["upload"]>>, UploadResult>>(true);
expectType<Equal<Resolved<ReturnType<HexnodeClient["uploadAll"]>>, UploadAllResult[]>>(true);
expectType<Equal<Resolved<ReturnType<HexnodeClient["generatePresignedUploadUrl"]>>, PresignedUpload>>(true);
expectType<Equal<Resolved<ReturnType<HexnodeClient["verifyFileUpload"]>>, VerifyResult>>(true);
expectType<Equal<Resolved<ReturnType<HexnodeClient["deployFile"]>>, { message: string }>>(true);
expectType<Equal<Resolved<ReturnType<HexnodeClient["deleteFiles"]>>, { message: string }>>(true);
// The web entry declares the same API, plus init().
expectType<Equal<typeof webPutFile, typeof putFile>>(true);
expectType<Equal<ConstructorParameters<typeof WebUploader>, ConstructorParameters<typeof Uploader>>>(true);
expectType<Equal<Resolved<ReturnType<typeof init>>, InitOutput>>(true);

// The error codes are exactly the ones the README documents.
expectType<
  Equal<
    UploadErrorCode,
    | "invalid_input" | "unauthorized" | "forbidden" | "rate_limited" | "presign_failed" | "url_expired"
    | "too_large" | "upload_rejected" | "network" | "cors" | "aborted" | "verify_failed" | "bad_response"
    | "server_error"
  >
>(true);
expectType<Equal<Progress["phase"], "presign" | "upload" | "verify">>(true);
expectType<Equal<UploadTaskState, "idle" | "running" | "paused" | "done" | "failed" | "aborted">>(true);

// ---------------------------------------------------------------- errors

/** What an app writes to tell an `UploadError` from other throws. */
function isUploadError(e: unknown): e is UploadError {
  return e instanceof Error && e.name === "UploadError";
}

/** Exhaustive over the code union: a new code must be handled here (and documented). */
function advice(e: UploadError): string {
  const extra = [e.status, e.s3Code, e.requestId, e.retryAfterMs].filter((x) => x !== undefined).join(" ");
  const retry: boolean = e.retryable;
  switch (e.code) {
    case "invalid_input": return `fix the call: ${e.message}`;
    case "unauthorized": return "check the API key";
    case "forbidden": return "not allowed";
    case "rate_limited": return `slow down ${e.retryAfterMs ?? 0}`;
    case "presign_failed": return "no URL";
    case "url_expired": return "expired";
    case "too_large": return "over 5 GiB";
    case "upload_rejected": return `S3 said ${e.s3Code ?? "?"} (${e.requestId ?? "-"})`;
    case "network": return retry ? "try again" : "offline";
    case "cors": return "configure the bucket's CORS";
    case "aborted": return "cancelled";
    case "verify_failed": return "sent but not verified";
    case "bad_response": return `odd answer ${extra}`;
    case "server_error": return `server failed: ${e.status ?? "?"}`;
    default: {
      const unhandled: never = e.code;
      return unhandled;
    }
  }
}

// ---------------------------------------------------------------- options

const retry: RetryOptions = { retries: 3, minDelayMs: 250, maxDelayMs: 20_000, timeoutMs: 30_000 };

const hexnodeOptions: HexnodeClientOptions = {
  portal: "https://acme.hexnodemdm.com",
  apiKey: "key",
  verifyPath: "/api/v1/filemanagement/verify-file-upload/",
  rateLimitPerMinute: 30,
  rateLimitWindowMs: 60_000,
  retry,
  allowInsecureHttp: false,
};

const presignCallback = async (req: { fileName: string; contentType: string; size: number }): Promise<PresignJson> => {
  const res = await fetch("/my/presign", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ file_name: req.fileName, content_type: req.contentType, size: req.size }),
  });
  const json: PresignJson = await res.json();
  return { presigned_url: json.presigned_url, file_name: json.file_name, file_uuid: json.file_uuid };
};

const multipart: MultipartOptions = {
  threshold: 100 * 1024 * 1024,
  partSize: 8 * 1024 * 1024,
  concurrency: 4,
  leaveParts: false,
  create: "/backend/multipart/create",
  signPart: async ({ uploadId, key, partNumber, size }) => ({ url: `/sign/${uploadId}/${key}/${partNumber}/${size}`, headers: { "x-part": "1" } }),
  complete: async ({ uploadId, key, parts }) => ({ uploadId, key, n: parts.map((p) => p.partNumber + p.etag.length) }),
  abort: "/backend/multipart/abort",
  listParts: async ({ uploadId, key }) => [{ partNumber: 1, size: uploadId.length + key.length, etag: '"e"' }],
};

const withStrings: UploaderOptions = {
  presign: "/backend/presign",
  verify: "/backend/verify",
  headers: { "X-CSRF-Token": "t" },
  credentials: "same-origin",
  retry,
  allowInsecureHttp: false,
};
const withParts: FullUploaderOptions = { ...withStrings, multipart };

const withCallbacks: UploaderOptions = {
  presign: presignCallback,
  verify: async (fileUuid: string) => (await fetch(`/my/verify/${fileUuid}`, { method: "POST" })).json(),
  credentials: "include",
};

const credentials = async (): Promise<S3Credentials> => ({
  accessKeyId: "AKIA...",
  secretAccessKey: "secret",
  sessionToken: "token",
  expiration: new Date(Date.now() + 3_600_000),
});
const s3: S3Options = {
  bucket: "uploads",
  region: "eu-west-1",
  endpoint: "https://s3.example.test",
  forcePathStyle: true,
  keyPrefix: "incoming/",
  expiresIn: 900,
  credentials,
};
const inBrowser: FullUploaderOptions = { s3, verify: false, credentials: "omit" };

// ---------------------------------------------------------------- calls

function showProgress(p: Progress): void {
  const pct: number = p.total ? p.loaded / p.total : 0;
  console.log(p.phase, pct);
}

function describe(r: UploadResult): string {
  const parts: (string | number | boolean | undefined)[] = [
    r.fileUuid, r.fileName, r.contentType, r.size, r.etag, r.verified, r.fileId, r.attempts, r.durationMs,
  ];
  const verify: unknown = r.verify;
  return parts.join(" ") + String(verify);
}

export async function run(file: File, files: FileList, blob: Blob): Promise<void> {
  const controller = new AbortController();
  const uploadOptions: UploadOptions = {
    fileName: "renamed.bin",
    contentType: "application/octet-stream",
    onProgress: showProgress,
    signal: controller.signal,
    transport: "xhr",
  };

  // Through a backend: string endpoints, callbacks, and the browser signing with S3 credentials.
  const uploader = new Uploader(withStrings);
  const r1 = await uploader.upload(file, uploadOptions);
  console.log(describe(r1));
  const r2 = await new Uploader(withCallbacks).upload(blob);
  console.log(r2.fileId?.toFixed(0), r2.etag?.length);
  await new FullUploader(inBrowser).upload(file, { transport: "fetch" });
  await new FullUploader(withParts).uploadAll([file], { concurrency: 2 });
  // Resume after a reload (full build).
  const resume: ResumeOptions = { maxAgeMs: 86_400_000 };
  const resumable = new FullUploader({ ...withParts, resume });
  const pending: PendingUpload[] = await resumable.pendingUploads();
  for (const p of pending) console.log(p.id, p.fileName, p.size, p.lastModified, p.type, p.bytesDone / p.size, new Date(p.startedAt));
  const discarded: boolean = await resumable.discardPending(pending[0].id);
  console.log(discarded, new FullUploader({ ...withParts, resume: false }));
  await new Uploader({ presign: "/p" }).upload(file, null);

  // A pausable task.
  const task: UploadTask = uploader.createUpload(file, { onProgress: showProgress });
  const started = task.start();
  task.pause();
  const state: UploadTaskState = task.state;
  if (state === "paused") task.resume();
  if (task.state === "running") task.abort();
  try {
    await started;
  } catch (e) {
    if (isUploadError(e)) console.log(advice(e));
  }

  // Many files.
  const allOptions: UploadAllOptions = {
    concurrency: 3,
    signal: controller.signal,
    onFileProgress: (index: number, p: Progress) => console.log(index, p.loaded),
    onProgress: ({ loaded, total, done, failed, count }) => console.log(loaded, total, done, failed, count),
  };
  const results: UploadAllResult[] = await uploader.uploadAll(files, allOptions);
  for (const entry of results) {
    if (entry.ok) console.log(describe(entry.result));
    else console.log(entry.error.code, entry.error.retryable, advice(entry.error));
  }
  // A Blob has no name: it goes as an entry with fileName.
  const entry: UploadAllEntry = { file: blob, fileName: "report.csv", contentType: "text/csv" };
  await uploader.uploadAll([file, entry, { file, fileName: "renamed.txt" }]);

  // A URL you already have.
  const putOptions: PutFileOptions = {
    contentType: "image/png",
    onProgress: showProgress,
    signal: controller.signal,
    retry: { retries: 0 },
    transport: "auto",
    allowInsecureHttp: true,
  };
  const put: PutResult = await putFile("https://bucket.s3.amazonaws.com/key?X-Amz-Signature=x", file, putOptions);
  const putSummary: [number, string | undefined, number, number] = [put.status, put.etag, put.size, put.attempts];
  console.log(putSummary);
  await putFile("https://bucket.s3.amazonaws.com/key", blob);

  // The Hexnode API with a key.
  const hx = new HexnodeClient(hexnodeOptions);
  const presigned: PresignedUpload = await hx.generatePresignedUploadUrl("report.pdf", "application/pdf");
  await hx.generatePresignedUploadUrl("notes.txt"); // the content type is optional (application/octet-stream)
  const expires: Date = new Date(presigned.expiresAt);
  console.log(presigned.presignedUrl, presigned.fileName, presigned.fileUuid, presigned.contentType, expires);
  const verified: VerifyResult = await hx.verifyFileUpload(presigned.fileUuid);
  const raw: unknown = verified.raw;
  console.log(verified.fileUuid, verified.fileId, raw);
  const r3 = await hx.upload(file, { onProgress: showProgress, signal: controller.signal });
  const deploy: DeployFileRequest = {
    fileIds: [r3.fileId ?? 0],
    filePath: "/sdcard/Download",
    users: [1],
    usergroups: [2],
    devices: [42],
    devicegroups: [3],
  };
  const deployed: { message: string } = await hx.deployFile(deploy);
  const deleted: { message: string } = await hx.deleteFiles([r3.fileId ?? 0]);
  console.log(deployed.message, deleted.message);
  for (const entry of await hx.uploadAll(files, { concurrency: 2 })) console.log(entry.ok);

  // Freeing the wasm side explicitly (`[Symbol.dispose]()` is left out of the types: scripts/fix-dts.mjs).
  hx.free();
  uploader.free();
}

// ---------------------------------------------------------------- the web entry

export async function runWeb(file: File, wasmBytes: ArrayBuffer, wasmModule: WebAssembly.Module): Promise<void> {
  const fromUrl: InitInput = new URL("presigned_upload_bg.wasm", import.meta.url);
  const exports: InitOutput = await init({ module_or_path: fromUrl });
  const memory: WebAssembly.Memory = exports.memory;
  console.log(memory.buffer.byteLength);
  await init(); // the default URL, next to the module
  const bytes: SyncInitInput = wasmBytes;
  initSync({ module: bytes });
  initSync({ module: wasmModule });
  const r = await new WebUploader({ presign: "/backend/presign" }).upload(file);
  console.log(describe(r), (await webPutFile("https://x.test/k", file)).status);
}

// ---------------------------------------------------------------- the element

export function useElement(hx: HexnodeClient, uploader: Uploader, files: File[]): void {
  const form: PresignedUploadForm = document.createElement("presigned-upload-form");
  expectType<Equal<typeof form, PresignedUploadForm>>(true);
  form.uploader = hx;
  form.uploader = uploader;
  form.uploader = () => new WebUploader({ presign: "/backend/presign" });
  form.strings = { drop: "Déposez vos fichiers ici ou" };
  form.disabled = false;
  form.addFiles(files);
  form.addEventListener("upload-success", (e) => {
    const r: UploadResult = e.detail;
    console.log(r.fileUuid, e.file?.name);
  });
  form.addEventListener("upload-error", (e) => console.log(e.detail.code satisfies UploadErrorCode));
  form.addEventListener("upload-progress", (e) => console.log(e.detail.phase, e.detail.loaded / e.detail.total));
  form.addEventListener("queue-complete", (e) => {
    const all: readonly FormResult[] = e.detail;
    for (const r of all) console.log(r.ok ? r.result.fileId : r.error.message);
  });
  form.addEventListener("selection-change", (e) => form.markDeleted(e.detail.selected));
  form.selectAll(true);
  const results: readonly FormResult[] = form.results;
  console.log(results.length, form.selected.length, formatSize(1536));
  form.reset();
  if (form instanceof PresignedUploadForm) form.remove();
}
