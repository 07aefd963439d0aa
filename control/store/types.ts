/**
 * The one interface every configuration backend implements: read a resource, list them, follow
 * changes, apply and delete. The control plane, the admin API and the CLI only see this
 * interface; the memory store (tests, embedding) and the file store (a watched directory) are two
 * implementations of it, and a Kubernetes store can be a third.
 *
 * Every change produces a new immutable {@linkcode StoreSnapshot} (frozen arrays, frozen
 * resources) whose `revision` is higher than the one before.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "./memory.ts";
 *
 * const store: ConfigStore = new MemoryStore();
 * const result = await store.apply([virtualService]);
 * result.results[0].action; // "created"
 * for await (const snap of store.watch()) console.log(snap.revision, snap.resources.length);
 * ```
 * @module
 */
import type { Diagnostic } from "../../api/diagnostic.ts";
import type { Resource } from "../../api/resources.ts";

/** Identifies one resource: kind (e.g. `VirtualService`), namespace and name. */
export interface ResourceKey {
  kind: string;
  namespace: string;
  name: string;
}

/** What a store holds at one revision. Never mutated; a change makes a new one. */
export interface StoreSnapshot {
  /**
   * Rises by at least one each time the set of resources changes. A snapshot that only changes
   * diagnostics (a file edited into an invalid state) keeps the revision.
   */
  readonly revision: number;
  /** Every resource, sorted by kind, namespace, name. */
  readonly resources: readonly Resource[];
  /** Current errors and warnings of the backing source (files that failed validation). */
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * What a resource to apply looks like: an Istio object. A validated {@linkcode Resource}
 * qualifies; anything else is validated by the store before it is written.
 */
export interface ResourceInput {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  spec: unknown;
  /** Where the caller read it from, for diagnostics; optional. */
  source?: { file: string; line: number };
}

/** What `apply` did to one resource, as kubectl reports it. */
export type ApplyAction = "created" | "configured" | "unchanged";

/** What `delete` did to one resource. */
export type DeleteAction = "deleted" | "notfound";

/** One line of an apply or delete result. */
export interface ChangeResult<A extends string> extends ResourceKey {
  /** `networking.istio.io/v1` etc.; on delete, that of the deleted resource when it existed. */
  apiVersion: string;
  action: A;
  /** Where the resource lives now (file store: path relative to the directory). */
  location?: string;
}

/** The outcome of {@linkcode ConfigStore.apply}. */
export interface ApplyResult {
  /** False when validation failed: then nothing was written and `results` is empty. */
  ok: boolean;
  results: ChangeResult<ApplyAction>[];
  /** Errors (when `ok` is false) and warnings. */
  diagnostics: Diagnostic[];
  /** The store's revision after the apply. */
  revision: number;
}

/** The outcome of {@linkcode ConfigStore.delete}. */
export interface DeleteResult {
  results: ChangeResult<DeleteAction>[];
  /** The store's revision after the delete. */
  revision: number;
}

/** A source file whose current version is rejected (file store only). */
export interface RejectedSource {
  file: string;
  errors: number;
  /** Whether an earlier, valid version of the file keeps serving. */
  servingLastGood: boolean;
}

/** Describes a store for status pages. */
export interface StoreInfo {
  /** `memory`, `file`, ... */
  backend: string;
  /** Where the data lives (file store: the directory). */
  location?: string;
  revision: number;
  resources: number;
  /** Sources whose newest version failed validation. */
  rejected: RejectedSource[];
}

/**
 * The write could not be done as asked, for a reason other than validation (for example the
 * resource lives in a file that fails validation now). Nothing was written.
 */
export class StoreConflictError extends Error {
  override name = "StoreConflictError";
}

/** Options of {@linkcode ConfigStore.watch}. */
export interface WatchOptions {
  /** Ends the iteration when aborted. */
  signal?: AbortSignal;
}

/** A configuration backend. */
export interface ConfigStore {
  /** `memory`, `file`, ... */
  readonly backend: string;
  /** The current revision (that of {@linkcode ConfigStore.snapshot}). */
  readonly revision: number;
  /** The current snapshot. */
  snapshot(): StoreSnapshot;
  /** One resource, or undefined. `kind` is the exact kind, e.g. `VirtualService`. */
  get(kind: string, namespace: string, name: string): Resource | undefined;
  /** Resources of one kind and/or namespace (all when omitted), sorted; frozen. */
  list(kind?: string, namespace?: string): readonly Resource[];
  /** Calls `fn` with each new snapshot; returns a function that stops it. */
  subscribe(fn: (snapshot: StoreSnapshot) => void): () => void;
  /**
   * The current snapshot, then each newer one, with latest-value semantics: a consumer slower
   * than the changes skips intermediate snapshots and always gets the newest one. Ends on
   * `break`, on `signal`, or when the store closes.
   */
  watch(options?: WatchOptions): AsyncIterableIterator<StoreSnapshot>;
  /**
   * Validates every resource; if any has an error, writes nothing and returns `ok: false` with
   * the diagnostics. Otherwise creates or replaces each one (a later duplicate in `resources`
   * wins). Resolves once the change is visible in {@linkcode ConfigStore.snapshot}. Applies are
   * serialised: concurrent calls never interleave.
   *
   * @throws {StoreConflictError} when the store can't write a resource where it lives.
   */
  apply(resources: readonly ResourceInput[]): Promise<ApplyResult>;
  /** Deletes resources; a missing one is reported as `notfound`, not thrown. */
  delete(keys: readonly ResourceKey[]): Promise<DeleteResult>;
  /** Describes the store (backend, location, rejected sources). */
  info(): StoreInfo;
  /** Stops watching and waits for pending writes. */
  close(): Promise<void>;
}
