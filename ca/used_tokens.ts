/**
 * Single-use bootstrap tokens: the ids of tokens already spent, kept in the
 * data dir (written atomically) until the tokens expire, so a restart of the
 * control plane doesn't make a spent token good again.
 *
 * @example
 * ```ts
 * const used = await UsedTokens.load("/var/lib/mesh/used-tokens.json");
 * if (!used.claim(id, expiresAt)) throw new Error("already used");
 * await used.save();
 * ```
 * @module
 */
import { atomicWrite } from "../util/atomic_write.ts";

/** Spent token ids with their expiry. */
export class UsedTokens {
  #path: string;
  #used = new Map<string, number>();
  #saving: Promise<void> = Promise.resolve();

  private constructor(path: string) {
    this.#path = path;
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

  /** Writes the list (serialised, atomic). */
  save(): Promise<void> {
    this.#saving = this.#saving.then(() =>
      atomicWrite(this.#path, JSON.stringify(Object.fromEntries(this.#used)), { mode: 0o600 })
    );
    return this.#saving;
  }
}
