/**
 * Several config sources read as one, as Istio's `configSources`: `--config-source=file,kube`
 * serves a config directory and the Kubernetes API together. The snapshot is the union of the
 * sources' snapshots (their diagnostics too); a resource present in more than one source is
 * taken from the first source listed, and the others' copies are reported as warnings. Writes
 * (`mesh apply`, `mesh delete`) go to the first source.
 *
 * @example
 * ```ts
 * const store = new MergedStore([fileStore, kubeStore]);
 * store.backend; // "file+kube"
 * ```
 * @module
 */
import type { Diagnostic } from "../../api/diagnostic.ts";
import type { Resource } from "../../api/resources.ts";
import { canonical, keyOf, keyString, SnapshotStore } from "./common.ts";
import type {
  ApplyResult,
  ConfigStore,
  DeleteResult,
  ResourceInput,
  ResourceKey,
  StoreInfo,
} from "./types.ts";

/** The union of several stores; the first one takes writes. */
export class MergedStore extends SnapshotStore implements ConfigStore {
  readonly backend: string;
  readonly #stores: readonly ConfigStore[];
  readonly #stops: (() => void)[] = [];
  readonly #revisions: number[];

  constructor(stores: readonly ConfigStore[]) {
    super();
    if (stores.length === 0) throw new Error("MergedStore needs at least one store");
    this.#stores = stores;
    this.backend = stores.map((s) => s.backend).join("+");
    this.#revisions = stores.map(() => -1);
    for (const s of stores) this.#stops.push(s.subscribe(() => this.#merge()));
    this.#merge();
  }

  /** Republishes the union when a source's resources or diagnostics changed. */
  #merge(): void {
    const snaps = this.#stores.map((s) => s.snapshot());
    const changed = snaps.some((s, i) => s.revision !== this.#revisions[i]);
    snaps.forEach((s, i) => this.#revisions[i] = s.revision);
    const byKey = new Map<string, { r: Resource; from: string }>();
    const diagnostics: Diagnostic[] = [];
    snaps.forEach((snap, i) => {
      const from = this.#stores[i].backend;
      diagnostics.push(...snap.diagnostics);
      for (const r of snap.resources) {
        const k = keyString(keyOf(r));
        const first = byKey.get(k);
        if (!first) {
          byKey.set(k, { r, from });
          continue;
        }
        diagnostics.push({
          severity: "warning",
          file: r.source?.file ?? `${from}:${k}`,
          line: r.source?.line ?? 1,
          column: 1,
          kind: r.kind,
          name: r.metadata.name,
          path: "",
          message: `${k} is also in the ${first.from} source, which comes first: this copy is ` +
            "not used; remove one of them",
        });
      }
    });
    if (!changed && canonical(diagnostics) === canonical(this.cell.current.diagnostics)) return;
    this.cell.publish(changed ? [...byKey.values()].map((x) => x.r) : undefined, diagnostics);
  }

  async apply(resources: readonly ResourceInput[]): Promise<ApplyResult> {
    const r = await this.#stores[0].apply(resources);
    return { ...r, revision: this.revision };
  }

  async delete(keys: readonly ResourceKey[]): Promise<DeleteResult> {
    const r = await this.#stores[0].delete(keys);
    return { ...r, revision: this.revision };
  }

  info(): StoreInfo {
    const infos = this.#stores.map((s) => s.info());
    return {
      backend: this.backend,
      location: infos.map((i) => `${i.backend}: ${i.location ?? "-"}`).join("; "),
      revision: this.revision,
      resources: this.snapshot().resources.length,
      rejected: infos.flatMap((i) => i.rejected),
    };
  }

  async close(): Promise<void> {
    for (const stop of this.#stops) stop();
    await Promise.all(this.#stores.map((s) => s.close()));
    this.cell.close();
  }
}
