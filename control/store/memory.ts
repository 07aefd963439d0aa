/**
 * A {@linkcode ConfigStore} kept in memory: for tests, for embedding the control plane, and as
 * the reference the other backends are held to by the contract suite.
 *
 * @example
 * ```ts
 * const store = new MemoryStore();
 * await store.apply([{ apiVersion: "networking.istio.io/v1", kind: "DestinationRule",
 *   metadata: { name: "reviews" }, spec: { host: "reviews" } }]);
 * store.get("DestinationRule", "default", "reviews");
 * ```
 * @module
 */
import type { Resource } from "../../api/resources.ts";
import {
  deepFreeze,
  keyOf,
  keyString,
  sameContent,
  SerialQueue,
  SnapshotStore,
  validateInputs,
} from "./common.ts";
import type {
  ApplyAction,
  ApplyResult,
  ChangeResult,
  ConfigStore,
  DeleteAction,
  DeleteResult,
  ResourceInput,
  ResourceKey,
  StoreInfo,
} from "./types.ts";

/** Resources in memory; starts at revision 1 (empty, or with `initial`). */
export class MemoryStore extends SnapshotStore implements ConfigStore {
  readonly backend = "memory";
  #queue = new SerialQueue();

  /** `initial` resources must be valid; they make revision 1. */
  constructor(initial: readonly Resource[] = []) {
    super();
    this.cell.publish(initial.map((r) => deepFreeze(structuredClone(r))), []);
  }

  apply(inputs: readonly ResourceInput[]): Promise<ApplyResult> {
    const { resources, diagnostics } = validateInputs(inputs);
    if (diagnostics.some((d) => d.severity === "error")) {
      return Promise.resolve({ ok: false, results: [], diagnostics, revision: this.revision });
    }
    return this.#queue.run(() => {
      const next = new Map(this.cell.current.resources.map((r) => [keyString(keyOf(r)), r]));
      const results: ChangeResult<ApplyAction>[] = [];
      for (const r of resources) {
        const k = keyString(keyOf(r));
        const old = next.get(k);
        const action: ApplyAction = !old
          ? "created"
          : sameContent(old, r)
          ? "unchanged"
          : "configured";
        if (action !== "unchanged") next.set(k, r);
        results.push({ ...keyOf(r), apiVersion: r.apiVersion, action });
      }
      if (results.some((r) => r.action !== "unchanged")) {
        this.cell.publish([...next.values()], []);
      }
      return Promise.resolve({ ok: true, results, diagnostics, revision: this.revision });
    });
  }

  delete(keys: readonly ResourceKey[]): Promise<DeleteResult> {
    return this.#queue.run(() => {
      const next = new Map(this.cell.current.resources.map((r) => [keyString(keyOf(r)), r]));
      const results: ChangeResult<DeleteAction>[] = [];
      for (const key of keys) {
        const k = keyString(key);
        const old = next.get(k);
        next.delete(k);
        results.push({
          kind: key.kind,
          namespace: key.namespace,
          name: key.name,
          apiVersion: old?.apiVersion ?? "",
          action: old ? "deleted" : "notfound",
        });
      }
      if (results.some((r) => r.action === "deleted")) this.cell.publish([...next.values()], []);
      return Promise.resolve({ results, revision: this.revision });
    });
  }

  info(): StoreInfo {
    const s = this.cell.current;
    return {
      backend: this.backend,
      revision: s.revision,
      resources: s.resources.length,
      rejected: [],
    };
  }

  async close(): Promise<void> {
    await this.#queue.idle();
    this.cell.close();
  }
}
