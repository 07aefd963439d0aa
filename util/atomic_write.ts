/**
 * Atomic file writes: write to a temporary file beside the target, fsync it,
 * then rename it over the target, so readers see the old or the new file and
 * never a torn one. A write that fails (a full disk, a read-only file system)
 * leaves the target as it was and removes its temporary file; those failures
 * are thrown as {@linkcode StorageError}, whose message names the directory and
 * the fix.
 *
 * @example
 * ```ts
 * await atomicWrite("/var/lib/mesh/ca/root-key.pem", pem, { mode: 0o600 });
 * ```
 * @module
 */

/** Options for {@linkcode atomicWrite}. */
export interface AtomicWriteOptions {
  /** File mode of the new file, e.g. `0o600` for private keys. Default `0o644`. */
  mode?: number;
}

/** Error codes that mean "the storage can't take this write" rather than a bug. */
export const STORAGE_ERROR_CODES = ["ENOSPC", "EDQUOT", "EROFS"] as const;
/** One of {@linkcode STORAGE_ERROR_CODES}. */
export type StorageErrorCode = typeof STORAGE_ERROR_CODES[number];

/** The directory of `path` (`.` for a bare name). */
export function dirOf(path: string): string {
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
}

/** The storage error code of `err` (ENOSPC, EDQUOT, EROFS), if it is one. */
export function storageErrorCode(err: unknown): StorageErrorCode | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && (STORAGE_ERROR_CODES as readonly string[]).includes(code)) {
    return code as StorageErrorCode;
  }
  const msg = err instanceof Error ? err.message : "";
  if (/os error 28\b|No space left on device/i.test(msg)) return "ENOSPC";
  if (/os error 122\b|quota exceeded/i.test(msg)) return "EDQUOT";
  if (/os error 30\b|Read-only file system/i.test(msg)) return "EROFS";
  return undefined;
}

/** What is wrong and what to do, for a storage error code in `dir`. */
export function storageProblem(code: StorageErrorCode, dir: string): string {
  switch (code) {
    case "ENOSPC":
      return `no space left on the device of ${dir}; free space in ${dir}`;
    case "EDQUOT":
      return `the disk quota of ${dir} is exhausted; free space in ${dir} or raise the quota`;
    case "EROFS":
      return `${dir} is on a read-only file system; remount it read-write or use a writable directory`;
  }
}

/**
 * A write the storage refused: the disk (or quota) is full, or the file system is read-only.
 * `code` is the errno name, `dir` the directory that needs space (or write access).
 */
export class StorageError extends Error {
  override name = "StorageError";
  readonly code: StorageErrorCode;
  readonly path: string;
  readonly dir: string;

  constructor(code: StorageErrorCode, path: string, options?: { cause?: unknown }) {
    const dir = dirOf(path);
    super(`can't write ${path}: ${storageProblem(code, dir)}`, options);
    this.code = code;
    this.path = path;
    this.dir = dir;
  }
}

/** `err` as a {@linkcode StorageError} for `path` when it is a storage error; else `err`. */
export function asStorageError(err: unknown, path: string): unknown {
  if (err instanceof StorageError) return err;
  const code = storageErrorCode(err);
  return code ? new StorageError(code, path, { cause: err }) : err;
}

/** A new file written and synced beside its target, not yet in place. */
export interface PreparedWrite {
  /** The target. */
  readonly path: string;
  /** Renames the new file over the target (atomic) and syncs the directory. */
  commit(): Promise<void>;
  /** Removes the new file; the target stays as it was. */
  abort(): Promise<void>;
}

/**
 * Writes `data` to a temporary file beside `path` and fsyncs it, without touching `path`: the
 * first half of {@linkcode atomicWrite}, for writing several files all or nothing (prepare them
 * all, then commit them all; abort them all if one fails). A failure removes the temporary file.
 */
export async function prepareAtomicWrite(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<PreparedWrite> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const dir = dirOf(path);
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: options.mode ?? 0o644 });
  } catch (err) {
    throw asStorageError(err, path);
  }
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (err) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw asStorageError(err, path);
  }
  file.close();
  try {
    if (options.mode !== undefined) await Deno.chmod(tmp, options.mode);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw asStorageError(err, path);
  }
  let done = false;
  return {
    path,
    async commit() {
      if (done) return;
      done = true;
      try {
        await Deno.rename(tmp, path);
      } catch (err) {
        await Deno.remove(tmp).catch(() => {});
        throw asStorageError(err, path);
      }
      await syncDir(dir);
    },
    async abort() {
      if (done) return;
      done = true;
      await Deno.remove(tmp).catch(() => {});
    },
  };
}

/** Makes a rename in `dir` durable (best effort: some file systems refuse to sync directories). */
async function syncDir(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // The rename is still atomic.
  }
}

/**
 * Writes `data` to `path` atomically (temp file, fsync, rename). On failure `path` is unchanged
 * and no temporary file is left; a full disk or read-only file system throws
 * {@linkcode StorageError}.
 */
export async function atomicWrite(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await (await prepareAtomicWrite(path, data, options)).commit();
}
