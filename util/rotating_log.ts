/**
 * An append-only line log rotated by size: when the next line would take `path` over
 * `maxBytes`, `path` becomes `path.1` (`path.1` becomes `path.2`, ... up to `keep` old files;
 * the oldest is removed), each step an atomic rename, and a new `path` is started.
 *
 * Lines are written whole or not at all: a write the disk cuts short is truncated back to the
 * last whole line. A line that can't be written (a full disk, a read-only file system) is not
 * dropped: it stays queued in memory (up to `maxPendingLines`; past that the oldest are dropped
 * and counted) and goes out with the next write that succeeds; every failure is reported to
 * `onError` with the queue's size, so the caller can log it.
 *
 * @example
 * ```ts
 * const audit = new RotatingLog("/var/lib/mesh/ca/audit.log", { maxBytes: 10 << 20, keep: 3 });
 * await audit.append(JSON.stringify(record) + "\n");
 * ```
 * @module
 */
import { asStorageError, dirOf } from "./atomic_write.ts";

/** Default size at which a log is rotated: 10 MiB. */
export const DEFAULT_MAX_LOG_BYTES = 10 * 1024 * 1024;
/** Default number of rotated files kept (`.1` … `.3`). */
export const DEFAULT_KEEP_LOGS = 3;
/** Default number of unwritten lines kept in memory while the disk refuses them. */
export const DEFAULT_MAX_PENDING_LINES = 10_000;

/** Options of {@linkcode RotatingLog}. */
export interface RotatingLogOptions {
  /** Rotate before a write would take the file over this size. Default 10 MiB. */
  maxBytes?: number;
  /** Rotated files to keep (`path.1` newest … `path.<keep>` oldest). Default 3. */
  keep?: number;
  /** File mode of new log files. Default `0o600`. */
  mode?: number;
  /** Unwritten lines kept for a later write. Default 10 000. */
  maxPendingLines?: number;
  /** Called on each failed write (after the lines were queued again). */
  onError?: (err: unknown, state: { pending: number; dropped: number }) => void;
  /** Called when writing works again after failures. */
  onRecover?: (state: { written: number; dropped: number }) => void;
}

const encoder = new TextEncoder();

/** A size-rotated, append-only log file. */
export class RotatingLog {
  readonly path: string;
  readonly maxBytes: number;
  readonly keep: number;
  #mode: number;
  #maxPending: number;
  #onError?: RotatingLogOptions["onError"];
  #onRecover?: RotatingLogOptions["onRecover"];
  /** Size of `path` as far as this writer knows; undefined until first read. */
  #size?: number;
  #pending: string[] = [];
  #dropped = 0;
  #failing = false;
  #queue: Promise<void> = Promise.resolve();

  constructor(path: string, options: RotatingLogOptions = {}) {
    this.path = path;
    this.maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_MAX_LOG_BYTES);
    this.keep = Math.max(0, Math.floor(options.keep ?? DEFAULT_KEEP_LOGS));
    this.#mode = options.mode ?? 0o600;
    this.#maxPending = Math.max(1, options.maxPendingLines ?? DEFAULT_MAX_PENDING_LINES);
    this.#onError = options.onError;
    this.#onRecover = options.onRecover;
  }

  /** Lines waiting for the disk to take them. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Lines given up on since the last successful write (the queue was full). */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Queues `line` (a newline is added when it lacks one) and writes what is queued. Never
   * rejects: failures go to `onError`, and the lines stay queued.
   */
  append(line: string): Promise<void> {
    this.#pending.push(line.endsWith("\n") ? line : line + "\n");
    if (this.#pending.length > this.#maxPending) {
      this.#dropped += this.#pending.length - this.#maxPending;
      this.#pending.splice(0, this.#pending.length - this.#maxPending);
    }
    return this.flush();
  }

  /** Writes whatever is queued (for example once space is free again). Never rejects. */
  flush(): Promise<void> {
    this.#queue = this.#queue.then(() => this.#write());
    return this.#queue;
  }

  async #write(): Promise<void> {
    if (this.#pending.length === 0) return;
    const lines = this.#pending;
    this.#pending = [];
    let i = 0;
    try {
      if (this.#size === undefined) this.#size = await sizeOf(this.path);
      while (i < lines.length) {
        // As many lines as fit before the limit (at least one: a long line gets a file).
        let bytes = 0;
        let j = i;
        const chunk: string[] = [];
        while (j < lines.length) {
          const n = encoder.encode(lines[j]).length;
          if (chunk.length > 0 && this.#size + bytes + n > this.maxBytes) break;
          if (chunk.length === 0 && this.#size > 0 && this.#size + n > this.maxBytes) break;
          chunk.push(lines[j]);
          bytes += n;
          j++;
        }
        if (chunk.length === 0) {
          await this.#rotate();
          continue;
        }
        await this.#appendWhole(encoder.encode(chunk.join("")));
        i = j;
      }
    } catch (err) {
      // Back to the front of the queue, in order, for the next attempt.
      this.#pending = [...lines.slice(i), ...this.#pending];
      if (this.#pending.length > this.#maxPending) {
        this.#dropped += this.#pending.length - this.#maxPending;
        this.#pending.splice(0, this.#pending.length - this.#maxPending);
      }
      this.#failing = true;
      this.#size = undefined; // read it again next time
      this.#onError?.(asStorageError(err, this.path), {
        pending: this.#pending.length,
        dropped: this.#dropped,
      });
      return;
    }
    if (this.#failing) {
      this.#failing = false;
      this.#onRecover?.({ written: lines.length, dropped: this.#dropped });
      this.#dropped = 0;
    }
  }

  /** Appends `bytes` whole, or truncates the file back to where it was and throws. */
  async #appendWhole(bytes: Uint8Array): Promise<void> {
    const before = this.#size ?? 0;
    const open = () =>
      Deno.open(this.path, { write: true, append: true, create: true, mode: this.#mode });
    let file: Deno.FsFile;
    try {
      file = await open();
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      await Deno.mkdir(dirOf(this.path), { recursive: true, mode: 0o700 });
      file = await open();
    }
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      this.#size = before + bytes.length;
    } catch (err) {
      // A short write leaves half a line: cut it off, so the log stays whole lines.
      await file.truncate(before).catch(() => {});
      throw err;
    } finally {
      file.close();
    }
  }

  /** `path` → `path.1` → … → `path.<keep>` (the oldest removed); each an atomic rename. */
  async #rotate(): Promise<void> {
    const p = (i: number) => `${this.path}.${i}`;
    if (this.keep === 0) {
      await Deno.remove(this.path).catch(ignoreNotFound);
    } else {
      await Deno.remove(p(this.keep)).catch(ignoreNotFound);
      for (let i = this.keep - 1; i >= 1; i--) {
        await Deno.rename(p(i), p(i + 1)).catch(ignoreNotFound);
      }
      await Deno.rename(this.path, p(1)).catch(ignoreNotFound);
    }
    this.#size = 0;
  }

  /** Resolves once every write queued so far was tried. */
  idle(): Promise<void> {
    return this.#queue;
  }
}

function ignoreNotFound(err: unknown): void {
  if (!(err instanceof Deno.errors.NotFound)) throw err;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
}
