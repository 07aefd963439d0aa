/**
 * Single-use bootstrap tokens: the ids of tokens already spent, kept in the
 * data dir (written atomically) until the tokens expire, so a restart of the
 * control plane doesn't make a spent token good again.
 *
 * A token counts as spent only once that is on disk: when the write fails
 * (disk full, read-only data dir) the claim is undone, so the token still
 * works once the disk is fixed, and the caller can say what went wrong.
 *
 * @example
 * ```ts
 * const used = await UsedTokens.load("/var/lib/mesh/used-tokens.json");
 * if (!(await used.spend(id, expiresAt))) throw new Error("already used");
 * ```
 * @module
 */
import { atomicWrite } from "../util/atomic_write.ts";

/** The spent-token list could not be written; the token was not spent. */
export class UsedTokensSaveError extends Error {
  override name = "UsedTokensSaveError";
  readonly path: string;
  constructor(path: string, cause: Error) {
    super(`can't write ${path}: ${cause.message}`, { cause });
    this.path = path;
  }
}

/** Spent token ids with their expiry. */
export class UsedTokens {
  #path: string;
  #used = new Map<string, number>();
  #saving: Promise<void> = Promise.resolve();

  private constructor(path: string) {
    this.#path = path;
  }

  /** Where the list lives. */
  get path(): string {
    return this.#path;
  }

  /** Loads the list from `path` (missing means empty). */
  static async load(path: string): Promise<UsedTokens> {
    const u = new UsedTokens(path);
    try {
      const data = JSON.parse(await Deno.readTextFile(path));
      for (const [id, exp] of Object.entries(data)) {
        if (typeof exp === "number") u.#used.set(id, exp);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw new Error(
          `can't read ${path}: ${(err as Error).message}; move it away to start over`,
        );
      }
    }
    return u;
  }

  /** Marks `id` spent; returns false when it already was. Synchronous, so two requests can't both win. */
  claim(id: string, expiresAt: Date): boolean {
    const now = Date.now();
    for (const [k, exp] of this.#used) if (exp < now) this.#used.delete(k);
    if (this.#used.has(id)) return false;
    this.#used.set(id, expiresAt.getTime());
    return true;
  }

  /** Undoes a {@linkcode claim} whose spending could not be recorded. */
  unclaim(id: string): void {
    this.#used.delete(id);
  }

  /**
   * Claims `id` and records it on disk. Resolves false when it was already
   * spent; throws {@linkcode UsedTokensSaveError} (with the claim undone) when
   * the list can't be written.
   */
  async spend(id: string, expiresAt: Date): Promise<boolean> {
    if (!this.claim(id, expiresAt)) return false;
    try {
      await this.save();
    } catch (err) {
      this.unclaim(id);
      throw new UsedTokensSaveError(this.#path, err as Error);
    }
    return true;
  }

  /**
   * Writes the list (serialised, atomic). A failed write rejects this call
   * only; the next one tries again.
   */
  save(): Promise<void> {
    const p = this.#saving.then(() =>
      atomicWrite(this.#path, JSON.stringify(Object.fromEntries(this.#used)), { mode: 0o600 })
    );
    this.#saving = p.catch(() => {});
    return p;
  }
}
