// Deliberately wrong uses of `presigned-upload`: each line marked `// wrong:` must be a type error, and
// no other line may be one. tests/e2e/consumer.test.mjs runs tsc on this file against the packed tarball
// and compares the lines of the errors with the marked lines, so a marked line that type-checks means
// the .d.ts got looser (an `any`, an untyped option) there. Keep each wrong call on one line.

import { HexnodeClient, Uploader, UploadTask, putFile, type UploadAllResult, type UploadErrorCode, type UploadResult } from "presigned-upload";
import init, { initSync } from "presigned-upload/web";

export async function wrong(file: File, url: string): Promise<void> {
  const hx = new HexnodeClient({ portal: "https://acme.hexnodemdm.com", apiKey: "key" });
  const uploader = new Uploader({ presign: "/backend/presign" });

  await putFile(123, file); // wrong: the URL must be a string
  await putFile(url, "file contents"); // wrong: the body must be a File or Blob
  await putFile(url, file, { transport: "websocket" }); // wrong: transport is "auto", "fetch" or "xhr"
  await putFile(url, file, { retry: { retries: "3" } }); // wrong: retries is a number
  await putFile(url, file, { onProgress: (p: string) => p }); // wrong: onProgress receives a Progress
  new HexnodeClient({ portal: 1 }); // wrong: portal is a string (and apiKey is required)
  new HexnodeClient({ portal: "https://acme.hexnodemdm.com" }); // wrong: apiKey is required
  new HexnodeClient({ portal: "https://a.test", apiKey: "k", rateLimitPerMinute: "30" }); // wrong: a number
  await hx.deleteFiles(["a"]); // wrong: file ids are numbers
  await hx.deleteFiles(7); // wrong: an array of ids
  await hx.deployFile({ fileIds: [1] }); // wrong: filePath is required
  await hx.generatePresignedUploadUrl(1); // wrong: the file name is a string
  new Uploader({ presign: 42 }); // wrong: presign is a URL or a callback
  new Uploader({ presign: "/p", credentials: "always" }); // wrong: not a RequestCredentials value
  new Uploader({ presign: "/p", verify: true }); // wrong: verify is a URL, a callback or false
  new Uploader({ presign: async (r: { fileName: string }) => r.fileName }); // wrong: must resolve to PresignJson
  await uploader.upload("not a file"); // wrong: a File or Blob
  await uploader.uploadAll(file); // wrong: a FileList or an array
  await uploader.uploadAll([file], { concurrency: "3" }); // wrong: concurrency is a number
  await uploader.uploadAll([new Blob(["x"])]); // wrong: a Blob goes as { file, fileName }
  const r: UploadResult = uploader.upload(file); // wrong: a Promise, not the result
  const done = await uploader.upload(file);
  console.log(r, done.fileID); // wrong: the field is fileId
  const n: number = done.fileId; // wrong: fileId may be undefined
  const code: UploadErrorCode = "timeout"; // wrong: not an error code
  const entry = (await uploader.uploadAll([file]))[0] as UploadAllResult;
  if (entry.ok) console.log(entry.error); // wrong: no error on a success
  new UploadTask(); // wrong: tasks come from Uploader.createUpload
  const task = uploader.createUpload(file);
  task.state = "running"; // wrong: state is read-only
  console.log((await init()).nothing); // wrong: InitOutput has no such export
  initSync(); // wrong: the module is required
  new Uploader({ s3: { bucket: "uploads" } }); // wrong: s3 needs region and credentials
  new Uploader({ presign: "/p", multipart: { threshold: 1 } }); // wrong: multipart is in presigned-upload/full, not the core build
  new HexnodeClient(); // wrong: the options are required
  new Uploader({ presign: "/p", resume: false }); // wrong: resume is in presigned-upload/full, not the core build
  console.log(n, code);
}
