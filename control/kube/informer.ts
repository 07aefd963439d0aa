/**
 * An informer, as client-go has them: one LIST, then a WATCH from its resourceVersion, kept in a
 * cache of the collection's objects; everything that reads a kind shares one
 * ({@linkcode InformerFactory}).
 *
 * - Bookmarks move the resourceVersion on, so a quiet collection resumes where it was.
 * - A watch the server ends (its timeout, a restart) resumes from the last resourceVersion; one
 *   refused with 410 Gone (the version compacted away) lists again.
 * - A relist replaces the cache by difference: subscribers hear only what really changed (by
 *   resourceVersion), so an API server restart or a dropped watch loses no event and causes no
 *   burst of changes.
 * - Failures (server gone, 403, the CRD missing) are retried with jittered backoff, never
 *   thrown; the last one is kept in `error` for diagnostics and logged once per distinct cause.
 *
 * @example
 * ```ts
 * const inf = new Informer(kube, "/apis/networking.istio.io/v1/virtualservices", { name: "VirtualService" });
 * inf.subscribe((changes) => console.log(changes.length));
 * inf.start();
 * await inf.synced;
 * inf.items();
 * ```
 * @module
 */
import { Backoff } from "../../util/backoff.ts";
import { logger } from "../../util/log.ts";
import { KubeApiError, type KubeClient, type KubeObject } from "./client.ts";

const log = logger("kube");

/** One change to the cache. */
export interface CacheChange<T extends KubeObject = KubeObject> {
  type: "added" | "modified" | "deleted";
  object: T;
}

/** What an informer is given. */
export interface InformerOptions {
  /** For logs and diagnostics: the kind. */
  name: string;
  /** The server ends each watch after about this long (default 5–10 min, jittered). */
  watchSeconds?: () => number;
  backoff?: Backoff;
}

/** `namespace/name`. */
export function objectKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

/** One collection's cache, kept by LIST and WATCH. */
export class Informer<T extends KubeObject = KubeObject> {
  readonly path: string;
  readonly name: string;
  /** Resolves once the first LIST is in the cache. */
  readonly synced: Promise<void>;
  /**
   * Resolves once the first LIST either worked or failed (the CRD missing, a 403): what a
   * caller waits for before it starts with what there is; the informer keeps retrying.
   */
  readonly settled: Promise<void>;
  #synced = Promise.withResolvers<void>();
  #settled = Promise.withResolvers<void>();
  #cache = new Map<string, T>();
  #subs = new Set<(changes: CacheChange<T>[]) => void>();
  #rv = "";
  #kube: KubeClient;
  #o: InformerOptions;
  #backoff: Backoff;
  #stop = new AbortController();
  #running: Promise<void> | undefined;
  #error: string | undefined;
  #lastLogged: string | undefined;
  /** Times a LIST ran (the first, and each relist). */
  lists = 0;

  constructor(kube: KubeClient, path: string, o: InformerOptions) {
    this.#kube = kube;
    this.path = path;
    this.name = o.name;
    this.#o = o;
    this.#backoff = o.backoff ?? new Backoff(200, 30_000);
    this.synced = this.#synced.promise;
    this.settled = this.#settled.promise;
  }

  /** The last failure, while it lasts (undefined once the informer works again). */
  get error(): string | undefined {
    return this.#error;
  }

  /** The resourceVersion the cache is at. */
  get resourceVersion(): string {
    return this.#rv;
  }

  /** Every cached object (not copies: don't change them). */
  items(): T[] {
    return [...this.#cache.values()];
  }

  /** One cached object. */
  get(namespace: string, name: string): T | undefined {
    return this.#cache.get(`${namespace}/${name}`);
  }

  /**
   * Hears every batch of changes (a watch event, or what a relist changed), and an empty
   * batch when {@linkcode error} appears or clears.
   */
  subscribe(fn: (changes: CacheChange<T>[]) => void): () => void {
    this.#subs.add(fn);
    return () => this.#subs.delete(fn);
  }

  /** Starts listing and watching (once). */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Stops watching; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  #emit(changes: CacheChange<T>[], always = false): void {
    if (changes.length === 0 && !always) return;
    for (const fn of this.#subs) {
      try {
        fn(changes);
      } catch (err) {
        log.error("informer subscriber failed", { kind: this.name, error: String(err) });
      }
    }
  }

  #fail(err: unknown): void {
    const msg = (err as Error)?.message ?? String(err);
    const was = this.#error;
    this.#error = msg;
    if (was === undefined) this.#emit([], true);
    if (msg !== this.#lastLogged) {
      this.#lastLogged = msg;
      // A kind whose CRD isn't installed (the Gateway API's, often) is normal: noted, retried.
      const absent = err instanceof KubeApiError && err.status === 404;
      (absent ? log.info : log.warn)(
        absent ? "kind not served by the API server; retrying" : "kube watch failing; retrying",
        { kind: this.name, error: msg },
      );
    }
  }

  #ok(): void {
    const was = this.#error;
    this.#error = undefined;
    this.#lastLogged = undefined;
    this.#backoff.reset();
    if (was !== undefined) {
      log.info("kube watch recovered", { kind: this.name });
      this.#emit([], true);
    }
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        if (!this.#rv) await this.#relist(signal);
        await this.#watch(signal);
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof KubeApiError && err.status === 410) {
          this.#rv = ""; // compacted: list again, at once
          continue;
        }
        this.#fail(err);
        this.#settled.resolve();
        await this.#backoff.wait(signal);
      }
    }
  }

  async #relist(signal: AbortSignal): Promise<void> {
    const list = await this.#kube.list<T>(this.path, { signal });
    this.lists++;
    const next = new Map(list.items.map((o) => [objectKey(o), o]));
    const changes: CacheChange<T>[] = [];
    for (const [k, old] of this.#cache) {
      if (!next.has(k)) changes.push({ type: "deleted", object: old });
    }
    for (const [k, o] of next) {
      const old = this.#cache.get(k);
      if (!old) changes.push({ type: "added", object: o });
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) {
        changes.push({ type: "modified", object: o });
      }
    }
    this.#cache = next;
    this.#rv = list.resourceVersion;
    this.#ok();
    this.#synced.resolve();
    this.#settled.resolve();
    this.#emit(changes);
  }

  async #watch(signal: AbortSignal): Promise<void> {
    const seconds = this.#o.watchSeconds?.() ?? 300 + Math.floor(Math.random() * 300);
    let events = 0;
    for await (
      const ev of this.#kube.watch<T>(this.path, {
        resourceVersion: this.#rv,
        signal,
        timeoutSeconds: seconds,
      })
    ) {
      if (ev.type === "ERROR") {
        const s = ev.object;
        throw new KubeApiError(
          s.code ?? 500,
          `WATCH ${this.path}: ${s.message ?? s.reason}`,
          s.reason,
        );
      }
      this.#ok();
      events++;
      const o = ev.object;
      if (o.metadata?.resourceVersion) this.#rv = o.metadata.resourceVersion;
      if (ev.type === "BOOKMARK") continue;
      const k = objectKey(o);
      if (ev.type === "DELETED") {
        if (this.#cache.delete(k)) this.#emit([{ type: "deleted", object: o }]);
        continue;
      }
      const old = this.#cache.get(k);
      this.#cache.set(k, o);
      this.#emit([{ type: old ? "modified" : "added", object: o }]);
    }
    // A watch that ended without an event (a server or proxy answering at once) doesn't spin:
    // the next one waits a backoff step.
    if (events === 0 && !signal.aborted) await this.#backoff.wait(signal);
  }
}

/** One informer per collection path, shared by everything that reads it. */
export class InformerFactory {
  #kube: KubeClient;
  #informers = new Map<string, Informer>();

  constructor(kube: KubeClient) {
    this.#kube = kube;
  }

  /** The (started) informer of `path`. */
  for<T extends KubeObject = KubeObject>(path: string, name: string): Informer<T> {
    let inf = this.#informers.get(path);
    if (!inf) {
      inf = new Informer(this.#kube, path, { name });
      this.#informers.set(path, inf);
      inf.start();
    }
    return inf as unknown as Informer<T>;
  }

  /** Every informer made so far. */
  all(): Informer[] {
    return [...this.#informers.values()];
  }

  /** Stops every informer. */
  async stop(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.stop()));
  }
}
