/**
 * Atomic file writes: write to a temporary file beside the target, fsync it,
 * then rename it over the target, so readers see the old or the new file and
 * never a torn one.
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

/** Writes `data` to `path` atomically (temp file, fsync, rename). */
export async function atomicWrite(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const file = await Deno.open(tmp, {
    write: true,
    createNew: true,
    mode: options.mode ?? 0o644,
  });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (err) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  file.close();
  if (options.mode !== undefined) await Deno.chmod(tmp, options.mode);
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  // Make the rename itself durable.
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some file systems refuse to open directories for sync; the rename is still atomic.
  }
}
