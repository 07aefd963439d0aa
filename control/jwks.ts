/**
 * The JSON Web Key Sets behind RequestAuthentication `jwksUri`s, fetched by
 * the control plane and pushed to proxies inline, as istiod does: proxies
 * never reach out to an issuer. Lookups never wait: the first one for a URI
 * starts a fetch and says "pending"; when the fetch ends, `onChange` asks for
 * a new push. A set that can't be fetched or parsed is replaced by one with no
 * keys, so tokens of that issuer are refused (fail closed) until a later fetch
 * works. Sets are refreshed every `refreshMs` (istiod's default: 20 minutes).
 *
 * @example
 * ```ts
 * const keys = new JwksCache({ onChange: () => schedulePush() });
 * keys.get("https://issuer.example/.well-known/jwks.json"); // undefined at first, then the JSON
 * ```
 * @module
 */
import { logger } from "../util/log.ts";

const log = logger("jwks");

/** A key set with no keys: every token of its issuer fails verification. */
export const NO_KEYS = '{"keys":[]}';

/** Settings of a {@linkcode JwksCache}. */
export interface JwksCacheOptions {
  /** Called when a fetched set differs from what `get` returned before. */
  onChange: () => void;
  /** How often a set is fetched again (default 20 minutes). */
  refreshMs?: number;
  /** How soon a failed fetch is tried again (default 30 s). */
  retryMs?: number;
  /** The largest key set read, in bytes (default 1 MiB). */
  maxBytes?: number;
  fetch?: typeof fetch;
}

interface Entry {
  jwks?: string;
  /** Settles when the first fetch has ended, well or not. */
  first?: Promise<void>;
  fetching: boolean;
  timer?: ReturnType<typeof setTimeout>;
  timeoutMs: number;
  lastUsed: number;
}

/** A cache of fetched key sets, refreshed in the background. */
export class JwksCache {
  readonly #opts: Required<JwksCacheOptions>;
  readonly #entries = new Map<string, Entry>();
  #closed = false;

  constructor(opts: JwksCacheOptions) {
    this.#opts = {
      refreshMs: 20 * 60_000,
      retryMs: 30_000,
      maxBytes: 1 << 20,
      fetch: globalThis.fetch,
      ...opts,
    };
  }

  /**
   * The key set of `uri` as JSON text, or undefined while its first fetch runs.
   * `timeoutMs` bounds each fetch (the rule's `timeout`, default 5 s).
   */
  get(uri: string, timeoutMs = 5_000): string | undefined {
    let e = this.#entries.get(uri);
    if (!e) {
      e = { fetching: false, timeoutMs, lastUsed: Date.now() };
      this.#entries.set(uri, e);
      e.first = this.#fetch(uri, e);
    }
    e.lastUsed = Date.now();
    e.timeoutMs = timeoutMs;
    return e.jwks;
  }

  /**
   * Starts fetching `uris` (each with its timeout) and resolves once every first fetch has
   * ended, so a control plane that starts pushes with the keys rather than without.
   */
  async prefetch(uris: Iterable<[string, number]>): Promise<void> {
    const firsts: Promise<void>[] = [];
    for (const [uri, timeoutMs] of uris) {
      this.get(uri, timeoutMs);
      const first = this.#entries.get(uri)?.first;
      if (first) firsts.push(first);
    }
    await Promise.all(firsts);
  }

  /** Forgets the URIs not in `inUse` (no RequestAuthentication names them any more). */
  retain(inUse: ReadonlySet<string>): void {
    for (const [uri, e] of this.#entries) {
      if (inUse.has(uri)) continue;
      clearTimeout(e.timer);
      this.#entries.delete(uri);
    }
  }

  /** Stops every refresh. */
  close(): void {
    this.#closed = true;
    for (const e of this.#entries.values()) clearTimeout(e.timer);
    this.#entries.clear();
  }

  async #fetch(uri: string, e: Entry): Promise<void> {
    if (e.fetching || this.#closed) return;
    e.fetching = true;
    let next = this.#opts.refreshMs;
    let jwks: string;
    try {
      jwks = await this.#download(uri, e.timeoutMs);
    } catch (err) {
      log.warn("can't fetch a jwksUri; tokens of its issuer are refused until it works", {
        uri,
        error: err,
      });
      jwks = e.jwks && e.jwks !== NO_KEYS ? e.jwks : NO_KEYS; // keep the last good set
      next = this.#opts.retryMs;
    } finally {
      e.fetching = false;
    }
    if (this.#closed || this.#entries.get(uri) !== e) return;
    const changed = jwks !== e.jwks;
    e.jwks = jwks;
    e.timer = setTimeout(() => void this.#fetch(uri, e), next);
    if (changed) {
      try {
        this.#opts.onChange();
      } catch (err) {
        log.error("a key set change couldn't be acted on", { uri, error: err });
      }
    }
  }

  async #download(uri: string, timeoutMs: number): Promise<string> {
    const res = await this.#opts.fetch(uri, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: "application/json" },
      redirect: "follow",
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} from ${uri}`);
    }
    const text = await readLimited(res, this.#opts.maxBytes);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${uri} did not answer with JSON`);
    }
    const obj = parsed as { keys?: unknown; kty?: unknown } | null;
    let keys: unknown[];
    if (obj && Array.isArray(obj.keys)) keys = obj.keys;
    else if (obj && typeof obj.kty === "string") keys = [obj]; // a single key
    else throw new Error(`${uri} answered JSON without a "keys" array`);
    // Only keys go to proxies (entries without "kty" can't verify anything), in a stable form.
    return JSON.stringify({
      keys: keys.filter((k) =>
        typeof k === "object" && k !== null && typeof (k as { kty?: unknown }).kty === "string"
      ),
    });
  }
}

async function readLimited(res: Response, max: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new Error(`the key set is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}
