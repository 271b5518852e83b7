// Types of `presigned-upload/element`: importing it defines <presigned-upload-form>.
import type { HexnodeClient, Uploader, UploadError, UploadResult } from "presigned-upload/web";

/**
 * What the element can upload with: an `Uploader` or a `HexnodeClient` (from either entry). An
 * `Uploader` of the full build also has `pendingUploads()` and `discardPending(id)`: the element then
 * shows the uploads a reload interrupted (see `PresignedUploadForm`).
 */
export type FormUploader = Pick<Uploader, "upload"> | Pick<HexnodeClient, "upload">;

/** One finished file, in list order. Cancelled and refused files are `ok: false`. */
export type FormResult = { file: File; ok: true; result: UploadResult } | { file: File; ok: false; error: UploadError };

/** An event of the element. `file` is the File it is about (none for `queue-complete` and `selection-change`). */
export interface FormEvent<T> extends CustomEvent<T> { file?: File }

/** The events, all bubbling and composed (they cross the shadow root). */
export interface PresignedUploadFormEventMap {
  "upload-start": FormEvent<{ file: File }>;
  "upload-progress": FormEvent<{ file: File; phase: "presign" | "upload" | "verify"; loaded: number; total: number }>;
  "upload-success": FormEvent<UploadResult>;
  /** Also for a cancelled file (`code` "aborted") and a refused one (`code` "invalid_input", said before any request). */
  "upload-error": FormEvent<UploadError>;
  /** Nothing is running, queued or paused any more: every result so far. */
  "queue-complete": FormEvent<readonly FormResult[]>;
  /** With `selectable`: the ticked rows' results, and how many rows can be ticked. */
  "selection-change": FormEvent<{ selected: UploadResult[]; selectable: number }>;
}

/**
 * `<presigned-upload-form>`: a drop zone and picker, a row per file (name, size, type, progress,
 * status, Pause/Resume, Cancel, Retry, Remove) and Cancel all.
 *
 * Attributes: `presign`, `verify` (backend URLs, used only when `uploader` is not set), `accept`,
 * `max-size` (bytes), `max-files`, `concurrency` (default 3), `multiple`, `disabled`, `selectable`,
 * and `multipart-threshold` / `part-size` (bytes: which files the given uploader sends in parts, so
 * that their rows offer Pause/Resume and show the part count).
 *
 * Resume after a reload: when `uploader` (not a function) has `pendingUploads()`, each pending upload
 * is listed (on connect, when `uploader` is set, after `reset()`) as a row with its name, size and
 * bytes sent that asks for the file again (string `pending`, slot `{done}`), with Discard
 * (the row's `remove` button: `discardPending(id)`, string `discard`). Picking or dropping the same file (name, size,
 * lastModified, type) turns that row into its upload, and the uploader sends only the missing parts.
 */
export class PresignedUploadForm extends HTMLElement {
  /** Wins over `presign`/`verify`. A function is called as each upload starts (a throw fails that file). */
  uploader: FormUploader | (() => FormUploader) | null;
  /** Every visible string. Setting it merges your strings over the defaults; `{name}`-style slots are filled in. */
  strings: Record<string, string>;
  disabled: boolean;
  /** Every finished file in list order. */
  readonly results: readonly FormResult[];
  /** With `selectable`: the results of the ticked rows (done, with a file id). */
  readonly selected: UploadResult[];
  /** Adds files as the picker and a drop do. */
  addFiles(files: FileList | File[]): void;
  /** Removes every finished row, then lists the pending uploads again. */
  reset(): void;
  /** Ticks or clears every selectable row. */
  selectAll(on: boolean): void;
  /** Shows these files (results or file uuids) as deleted. */
  markDeleted(results: Iterable<UploadResult | string>): void;
  addEventListener<K extends keyof PresignedUploadFormEventMap>(type: K, listener: (this: PresignedUploadForm, ev: PresignedUploadFormEventMap[K]) => unknown, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}

/** `1536` → `"1.50 KiB"`, as the rows show sizes. */
export function formatSize(bytes: number): string;

declare global {
  interface HTMLElementTagNameMap { "presigned-upload-form": PresignedUploadForm }
}
