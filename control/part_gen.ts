/**
 * Parts per class of proxies, for one snapshot (docs/push-protocol.md): each
 * part is generated once for every set of proxies that get the same one, keyed
 * by what that part depends on, and carried over unchanged from the previous
 * snapshot when the change can't affect it.
 *
 * @example
 * ```ts
 * let gen = new PartGenerator({ snapshot, cache });
 * gen.parts(node).routes.version;
 * gen = gen.next({ snapshot: newer, affected: new Set(["endpoints", "clusters"]), live });
 * ```
 * @module
 */
import type { Cluster, NodeInfo } from "../api/proxy_config.ts";
import { PART_NAMES, type PartName, splitItems } from "../api/push_protocol.ts";
import type { Snapshot } from "./snapshot.ts";
import { ServiceRegistry } from "./registry.ts";
import { type GenContext, generatePart } from "./generate.ts";
import { buildClusters } from "./clusters.ts";
import { scopeKey, serviceScope } from "./scope.ts";
import type { Part, PartCache } from "./parts.ts";

/** Push lines kept per generator (each up to a whole config). */
const LINES_KEPT = 16;

/** Sorted `k=v` of a label set, cached per object. */
const labelKeys = new WeakMap<object, string>();
function labelsKey(labels: Record<string, string>): string {
  let k = labelKeys.get(labels);
  if (k === undefined) {
    k = JSON.stringify(Object.entries(labels).sort((a, b) => a[0] < b[0] ? -1 : 1));
    labelKeys.set(labels, k);
  }
  return k;
}

/** The class key of `node` for `part`: proxies with equal keys get the same part. */
function classKey(part: PartName, node: NodeInfo, scope: string): string {
  switch (part) {
    case "secrets":
      return "";
    case "clusters":
    case "endpoints":
      return scope;
    case "routes":
      return node.mode === "gateway" ? "gateway" : `${scope}|${labelsKey(node.labels)}`;
    case "policies":
      return `${node.mode}|${node.namespace}|${labelsKey(node.labels)}`;
    case "listeners":
      // Tracing names the workload after its app label, else its name or service account.
      return `${scope}|${labelsKey(node.labels)}|${node.appPort ?? ""}|${
        node.labels.app ?? node.workloadName ?? node.serviceAccount
      }|${node.workloadGroup ?? ""}`;
  }
}

/** Settings of a {@linkcode PartGenerator}. */
export interface PartGeneratorOptions {
  snapshot: Snapshot;
  cache: PartCache;
}

/** Parts of one snapshot, per class of proxies. */
export class PartGenerator {
  readonly snapshot: Snapshot;
  readonly #cache: PartCache;
  #ctx?: GenContext;
  readonly #memo = new Map<PartName, Map<string, Part>>();
  /** Clusters with endpoints per scope key, shared by the clusters and endpoints parts. */
  readonly #clusters = new Map<string, Record<string, Cluster>>();
  /** Scope keys per node (sidecarFor scans the Sidecars). */
  readonly #scopes = new WeakMap<NodeInfo, string>();
  /** Parts generated (not reused) so far, for metrics and tests. */
  generated = 0;
  /**
   * Push lines by what they carry (nonce, revision, each part's base and version): proxies of
   * a class moving between the same versions share one string (and so its encoded bytes, and
   * no proxy's push flattens a string of its own). The most recent {@linkcode LINES_KEPT}.
   */
  readonly #lines = new Map<string, string>();

  constructor(opts: PartGeneratorOptions) {
    this.snapshot = opts.snapshot;
    this.#cache = opts.cache;
    for (const p of PART_NAMES) this.#memo.set(p, new Map());
  }
  /** The push line carrying `key` (see `#lines`), built by `build` when not kept. */
  line(key: string, build: () => string): string {
    let line = this.#lines.get(key);
    if (line === undefined) {
      line = build();
      if (this.#lines.size >= LINES_KEPT) this.#lines.delete(this.#lines.keys().next().value!);
      this.#lines.set(key, line);
    }
    return line;
  }

  /**
   * The generator of a newer snapshot: parts not in `affected` carry over for the classes of
   * the `live` proxies (the others are dropped, so classes of gone proxies don't pile up).
   */
  next(
    opts: { snapshot: Snapshot; affected: ReadonlySet<PartName>; live: Iterable<NodeInfo> },
  ): PartGenerator {
    const gen = new PartGenerator({ snapshot: opts.snapshot, cache: this.#cache });
    const keep = PART_NAMES.filter((p) => !opts.affected.has(p));
    if (keep.length === 0) return gen;
    for (const node of opts.live) {
      // Scope keys depend on Sidecars, whose change affects every part: equal across the two.
      const scope = this.#scopeOf(node);
      gen.#scopes.set(node, scope);
      for (const p of keep) {
        const key = classKey(p, node, scope);
        const part = this.#memo.get(p)!.get(key);
        if (part) gen.#memo.get(p)!.set(key, part);
      }
    }
    return gen;
  }

  #scopeOf(node: NodeInfo): string {
    let s = this.#scopes.get(node);
    if (s === undefined) this.#scopes.set(node, s = scopeKey(this.snapshot, node));
    return s;
  }

  get #context(): GenContext {
    if (!this.#ctx) {
      const registry = new ServiceRegistry(this.snapshot);
      this.#ctx = {
        snapshot: this.snapshot,
        registry,
        clusters: (node) => {
          const key = this.#scopeOf(node);
          let c = this.#clusters.get(key);
          if (!c) {
            c = buildClusters(registry, node.namespace, serviceScope(this.snapshot, node));
            this.#clusters.set(key, c);
          }
          return c;
        },
      };
    }
    return this.#ctx;
  }

  /** One part of `node`'s config. */
  part(name: PartName, node: NodeInfo): Part {
    const key = classKey(name, node, this.#scopeOf(node));
    const memo = this.#memo.get(name)!;
    let part = memo.get(key);
    if (!part) {
      const fields = generatePart(name, this.#context, node);
      const items = splitItems(
        { virtualHosts: [], listeners: [], clusters: {}, ...fields } as never,
      );
      part = this.#cache.make(name, items[name]);
      memo.set(key, part);
      this.generated++;
    }
    return part;
  }

  /** Every part of `node`'s config. */
  parts(node: NodeInfo): Record<PartName, Part> {
    const out = {} as Record<PartName, Part>;
    for (const p of PART_NAMES) out[p] = this.part(p, node);
    return out;
  }
}
