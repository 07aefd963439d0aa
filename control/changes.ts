/**
 * What a change can affect (Istio's per-type needs-push checks): the kinds of
 * resources that changed between two store snapshots, and the parts of a
 * proxy's config (api/push_protocol.ts) each kind can change. A Kubernetes
 * Service (a ServiceEntry here) whose only change is its endpoints counts as
 * an endpoint change. Kinds not listed affect every part.
 *
 * @example
 * ```ts
 * const req = new PushRequest();
 * req.addResources(before, after);   // e.g. a VirtualService edited
 * req.affected;                      // Set { "routes", "listeners", "clusters", "endpoints" }
 * ```
 * @module
 */
import type { Resource } from "../api/resources.ts";
import { PART_NAMES, type PartName } from "../api/push_protocol.ts";

/** What endpoint changes touch: endpoint lists, and clusters (`originalDst` without any). */
export const ENDPOINT_PARTS: readonly PartName[] = ["clusters", "endpoints"];

/** The parts each kind of resource can change; a kind not here changes every part. */
export const KIND_AFFECTS: Readonly<Record<string, readonly PartName[]>> = {
  WorkloadEntry: ENDPOINT_PARTS,
  AuthorizationPolicy: ["policies"],
  RequestAuthentication: ["policies"],
  // The inbound listener's mode, and whether endpoints of the workloads it selects take mTLS.
  PeerAuthentication: ["listeners", "clusters", "endpoints"],
  Telemetry: ["listeners"],
  // Routes, gateway and egress listeners' routes, and the services a sidecar's scope names.
  VirtualService: ["routes", "listeners", "clusters", "endpoints"],
  DestinationRule: ["clusters", "endpoints", "routes", "listeners"],
  Gateway: ["listeners", "clusters", "endpoints"],
  // Its template's labels reach its workloads' endpoints; its probe, its proxies' listeners.
  WorkloadGroup: ["clusters", "endpoints", "listeners"],
  // Validation-only kinds.
  ProxyConfig: [],
  WasmPlugin: [],
  EnvoyFilter: [],
};

const config = new WeakMap<object, string>();
const endpoints = new WeakMap<object, string>();

/** A resource's identity and content, without a ServiceEntry's endpoints (cached per object). */
function fingerprint(r: Resource): string {
  let f = config.get(r);
  if (f === undefined) {
    const spec = r.kind === "ServiceEntry"
      ? { ...(r.spec as object), endpoints: undefined }
      : r.spec;
    const m = r.metadata as { labels?: unknown; annotations?: unknown };
    f = JSON.stringify([spec, m.labels, m.annotations]);
    config.set(r, f);
  }
  return f;
}

function endpointPrint(r: Resource): string {
  let f = endpoints.get(r);
  if (f === undefined) {
    f = r.kind === "ServiceEntry"
      ? JSON.stringify((r.spec as { endpoints?: unknown }).endpoints ?? null)
      : "";
    endpoints.set(r, f);
  }
  return f;
}

const keyOf = (r: Resource) => `${r.kind}/${r.metadata.namespace ?? ""}/${r.metadata.name}`;

/** A pending push: what changed since the last one, and since when. */
export class PushRequest {
  /** Parts a change can affect. */
  readonly affected = new Set<PartName>();
  /** What changed, for logs and metrics (`VirtualService`, `endpoints`, `ca`, ...). */
  readonly reasons = new Set<string>();
  /** When the first change of this request happened (ms since the epoch). */
  firstAt?: number;

  #touch(reason: string, parts: readonly PartName[]): void {
    this.firstAt ??= Date.now();
    this.reasons.add(reason);
    for (const p of parts) this.affected.add(p);
  }

  /** Auto-registered workloads joined or left. */
  endpoints(reason = "endpoints"): void {
    this.#touch(reason, ENDPOINT_PARTS);
  }

  /** Key sets of RequestAuthentications were fetched anew. */
  jwks(): void {
    this.#touch("jwks", ["policies"]);
  }

  /** The CA's roots or signing root changed. */
  secrets(): void {
    this.#touch("ca", ["secrets"]);
  }

  /** Adds what differs between two store snapshots' resources. */
  addResources(before: readonly Resource[], after: readonly Resource[]): void {
    const old = new Map(before.map((r) => [keyOf(r), r]));
    const kinds = new Set<string>();
    let endpointsOnly = false;
    for (const r of after) {
      const k = keyOf(r);
      const o = old.get(k);
      old.delete(k);
      if (o === r) continue;
      if (!o || fingerprint(o) !== fingerprint(r)) kinds.add(r.kind);
      else if (endpointPrint(o) !== endpointPrint(r)) endpointsOnly = true;
    }
    for (const r of old.values()) kinds.add(r.kind);
    for (const kind of kinds) this.#touch(kind, KIND_AFFECTS[kind] ?? PART_NAMES);
    if (endpointsOnly) this.endpoints("ServiceEntry endpoints");
  }
}
