/**
 * Pieces every store shares: validation of resources to apply, the snapshot cell (latest value,
 * index, subscribers, `watch()` iteration), and a write queue.
 * @module
 */
import { type Diagnostic, hasErrors } from "../../api/diagnostic.ts";
import { KINDS, type Resource, validateResource } from "../../api/resources.ts";
import { Watched } from "../../util/watch.ts";
import type { ResourceInput, ResourceKey, StoreSnapshot, WatchOptions } from "./types.ts";

/** `Kind/namespace/name`. */
export function keyString(k: ResourceKey): string {
  return `${k.kind}/${k.namespace}/${k.name}`;
}

/** The key of a resource. */
export function keyOf(r: Resource): ResourceKey {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
}

/** Orders resources by kind, namespace, name. */
export function compareResources(a: Resource, b: Resource): number {
  const ka = keyString(keyOf(a));
  const kb = keyString(keyOf(b));
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Freezes `value` and everything reachable from it. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** JSON with object keys sorted, for comparing decoded documents. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]));
    }
    return v;
  });
}

/** The object that is stored: what a user writes (no `source`). */
export function bodyOf(r: Resource): Pick<Resource, "apiVersion" | "kind" | "metadata" | "spec"> {
  return { apiVersion: r.apiVersion, kind: r.kind, metadata: r.metadata, spec: r.spec };
}

/** Whether two resources are the same object as stored (apiVersion, kind, metadata, spec). */
export function sameContent(a: Resource, b: Resource): boolean {
  return canonical(bodyOf(a)) === canonical(bodyOf(b));
}

/**
 * Validates resources to apply with the same rules as files. Returns the valid ones, with a
 * later duplicate replacing an earlier one, and every diagnostic.
 */
export function validateInputs(
  inputs: readonly ResourceInput[],
): { resources: Resource[]; diagnostics: Diagnostic[] } {
  const byKey = new Map<string, Resource>();
  const diagnostics: Diagnostic[] = [];
  inputs.forEach((input, i) => {
    const file = input?.source?.file ?? "<apply>";
    const line = input?.source?.line ?? i + 1;
    const obj = input && typeof input === "object"
      ? {
        apiVersion: input.apiVersion,
        kind: input.kind,
        metadata: input.metadata,
        spec: input.spec,
      }
      : input;
    const one = validateResource(obj, { file, line });
    diagnostics.push(...one.diagnostics);
    if (one.resources.length === 0 && !hasErrors(one.diagnostics)) {
      diagnostics.push({
        severity: "error",
        file,
        line,
        column: 1,
        kind: typeof input?.kind === "string" ? input.kind : undefined,
        name: typeof input?.metadata?.name === "string" ? input.metadata.name : undefined,
        path: "",
        message: `${String(input?.apiVersion)} ${String(input?.kind)} is not a kind mesh stores; ` +
          `mesh stores networking.istio.io ${KINDS.join(", ")}`,
      });
    }
    for (const r of one.resources) {
      const k = keyString(keyOf(r));
      byKey.delete(k);
      byKey.set(k, deepFreeze(r));
    }
  });
  return { resources: [...byKey.values()], diagnostics };
}

const EMPTY: StoreSnapshot = Object.freeze({
  revision: 0,
  resources: Object.freeze([]) as readonly Resource[],
  diagnostics: Object.freeze([]) as readonly Diagnostic[],
});

/**
 * The latest snapshot of a store, with an index for `get`, subscribers, and `watch()`
 * iteration with latest-value semantics.
 */
export class SnapshotCell {
  /** The latest snapshot as a watched value. */
  readonly watched: Watched<StoreSnapshot> = new Watched<StoreSnapshot>(EMPTY);
  #index = new Map<string, Resource>();
  #closed = false;
  #onClose: Array<() => void> = [];

  /** The latest snapshot. */
  get current(): StoreSnapshot {
    return this.watched.get();
  }

  /**
   * Publishes a new snapshot. `resources` undefined keeps the current set (and revision);
   * otherwise the revision rises by one. Diagnostics equal to the current ones keep their array.
   */
  publish(resources: readonly Resource[] | undefined, diagnostics: readonly Diagnostic[]) {
    const prev = this.current;
    const diags = canonical(diagnostics) === canonical(prev.diagnostics)
      ? prev.diagnostics
      : Object.freeze([...diagnostics]);
    let next: StoreSnapshot;
    if (resources === undefined) {
      next = Object.freeze({
        revision: prev.revision,
        resources: prev.resources,
        diagnostics: diags,
      });
    } else {
      const sorted = Object.freeze([...resources].sort(compareResources));
      this.#index = new Map(sorted.map((r) => [keyString(keyOf(r)), r]));
      next = Object.freeze({ revision: prev.revision + 1, resources: sorted, diagnostics: diags });
    }
    this.watched.set(next);
    return next;
  }

  /** One resource of the current snapshot. */
  get(kind: string, namespace: string, name: string): Resource | undefined {
    return this.#index.get(keyString({ kind, namespace, name }));
  }

  /** Resources of the current snapshot, filtered. */
  list(kind?: string, namespace?: string): readonly Resource[] {
    const all = this.current.resources;
    if (!kind && !namespace) return all;
    return Object.freeze(
      all.filter((r) =>
        (!kind || r.kind === kind) && (!namespace || r.metadata.namespace === namespace)
      ),
    );
  }

  /** See {@linkcode ConfigStore.subscribe}. */
  subscribe(fn: (s: StoreSnapshot) => void): () => void {
    return this.watched.subscribe(fn);
  }

  /** See {@linkcode ConfigStore.watch}. */
  async *watch(options: WatchOptions = {}): AsyncGenerator<StoreSnapshot, void, undefined> {
    const { signal } = options;
    let wake = () => {};
    const onAbort = () => wake();
    signal?.addEventListener("abort", onAbort);
    this.#onClose.push(onAbort);
    try {
      let last: StoreSnapshot | undefined;
      while (!signal?.aborted && !this.#closed) {
        const now = this.current;
        if (!last || now.revision !== last.revision || now.diagnostics !== last.diagnostics) {
          last = now;
          yield now;
          continue;
        }
        const stop = new Promise<void>((resolve) => wake = resolve);
        await Promise.race([this.watched.next(), stop]);
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#onClose = this.#onClose.filter((f) => f !== onAbort);
    }
  }

  /** Ends every `watch()` iteration. */
  close(): void {
    this.#closed = true;
    for (const f of this.#onClose) f();
  }
}

/** Runs async jobs one at a time, in call order. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every job queued before it; resolves or rejects with its result. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#tail.then(fn);
    this.#tail = p.catch(() => {});
    return p;
  }

  /** Resolves when every job queued so far has finished. */
  idle(): Promise<void> {
    return this.#tail.then(() => {});
  }
}

/**
 * The read side every store shares: a {@linkcode SnapshotCell} behind
 * `revision`, `snapshot`, `get`, `list`, `subscribe` and `watch`. Backends
 * extend it and publish to `cell` when their resources change.
 */
export abstract class SnapshotStore {
  protected readonly cell = new SnapshotCell();

  get revision(): number {
    return this.cell.current.revision;
  }

  snapshot(): StoreSnapshot {
    return this.cell.current;
  }

  get(kind: string, namespace: string, name: string): Resource | undefined {
    return this.cell.get(kind, namespace, name);
  }

  list(kind?: string, namespace?: string): readonly Resource[] {
    return this.cell.list(kind, namespace);
  }

  subscribe(fn: (snapshot: StoreSnapshot) => void): () => void {
    return this.cell.subscribe(fn);
  }

  watch(options?: WatchOptions): AsyncIterableIterator<StoreSnapshot> {
    return this.cell.watch(options);
  }
}
