/**
 * The push protocol's parts and messages (docs/push-protocol.md): a proxy's
 * config cut into six parts of named items, each versioned by its content and
 * sent whole or as a delta. Shared by the control plane (which splits and
 * diffs) and the proxy (which applies and assembles).
 *
 * @example
 * ```ts
 * const parts = splitItems(config);            // part → [key, value][]
 * const back = assembleConfig(version, parts); // the same config
 * ```
 * @module
 */
import type { Cluster, Endpoint, ProxyConfig } from "./proxy_config.ts";

/** The parts, in the order a proxy applies them (Envoy's CDS, EDS, LDS, RDS, then the rest). */
export const PART_NAMES = [
  "secrets",
  "clusters",
  "endpoints",
  "listeners",
  "routes",
  "policies",
] as const;

/** One part of a proxy's config. */
export type PartName = typeof PART_NAMES[number];

/** The push protocol version a proxy announces in its hello. */
export const PUSH_PROTOCOL = 2;

/** Which part each top-level field of {@linkcode ProxyConfig} goes in (routes, clusters, endpoints apart). */
export const FIELD_PART = {
  trustDomain: "secrets",
  trustDomainAliases: "secrets",
  roots: "secrets",
  signingRoot: "secrets",
  outboundTrafficPolicy: "listeners",
  pathNormalization: "listeners",
  listeners: "listeners",
  egressListeners: "listeners",
  inboundMtls: "listeners",
  inboundProtocol: "listeners",
  tracing: "listeners",
  metrics: "listeners",
  accessLog: "listeners",
  names: "listeners",
  healthProbe: "listeners",
  authz: "policies",
  jwt: "policies",
} as const satisfies Record<
  Exclude<keyof ProxyConfig, "version" | "virtualHosts" | "clusters">,
  PartName
>;

/** A part's items in order: `[key, value]`. */
export type PartItems = Array<[string, unknown]>;

/** A part on the wire: the whole part (no `base`) or a delta from `base`. */
export interface WirePart {
  version: string;
  base?: string;
  /** Items new or changed (all of them without `base`). */
  set: Record<string, unknown>;
  /** The keys in order; absent in a delta that keeps them. */
  order?: string[];
}

/** A message on the push stream, control → proxy (protocol 2). */
export interface PartsPushMessage {
  type: "push";
  nonce: string;
  /** The snapshot revision the parts came from. */
  version: string;
  parts: Partial<Record<PartName, WirePart>>;
}

/** The proxy applied a push: the part versions it now serves. */
export interface PartsAckMessage {
  type: "ack";
  nonce?: string;
  parts?: Partial<Record<PartName, string>>;
  /** Legacy (whole-config) acks name the config version. */
  version?: string;
  certRoot?: string;
}

/** The proxy did not apply a push. */
export interface PartsNackMessage {
  type: "nack";
  nonce?: string;
  /** The part(s) at fault, with why. */
  errors?: Partial<Record<PartName, string>>;
  /** Parts whose `base` the proxy doesn't hold: to be sent whole. */
  resync?: PartName[];
  /** Legacy (whole-config) nacks. */
  version?: string;
  error?: string;
}

/** Cuts a config into the items of each part (absent fields are no items). */
export function splitItems(config: ProxyConfig): Record<PartName, PartItems> {
  const out = Object.fromEntries(PART_NAMES.map((p) => [p, [] as PartItems])) as Record<
    PartName,
    PartItems
  >;
  for (const [field, part] of Object.entries(FIELD_PART)) {
    const v = (config as unknown as Record<string, unknown>)[field];
    if (v !== undefined) out[part].push([field, v]);
  }
  for (const vh of config.virtualHosts) out.routes.push([vh.name, vh]);
  for (const [name, c] of Object.entries(config.clusters)) {
    const { endpoints, ...rest } = c;
    out.clusters.push([name, rest]);
    out.endpoints.push([name, endpoints]);
  }
  return out;
}

/** A part as a proxy holds it: items by key, keys in order. */
export interface HeldPart {
  version: string;
  keys: string[];
  items: Map<string, unknown>;
}

/**
 * Applies a wire part to what is held (undefined: nothing). Throws when it is a delta from
 * another version than the one held (the caller asks for a resync).
 */
export function applyWirePart(held: HeldPart | undefined, wire: WirePart): HeldPart {
  if (wire.base !== undefined && held?.version !== wire.base) {
    throw new BaseMismatch(`delta from ${wire.base}, but ${held?.version ?? "nothing"} is held`);
  }
  const base = wire.base === undefined ? undefined : held;
  const items = new Map(base?.items);
  for (const [k, v] of Object.entries(wire.set)) items.set(k, v);
  const keys = wire.order ?? base?.keys ?? Object.keys(wire.set);
  if (wire.order) {
    const keep = new Set(keys);
    for (const k of [...items.keys()]) if (!keep.has(k)) items.delete(k);
  }
  for (const k of keys) {
    if (!items.has(k)) throw new Error(`part lists ${JSON.stringify(k)} but has no item for it`);
  }
  return { version: wire.version, keys, items };
}

/** A delta whose base the proxy doesn't hold. */
export class BaseMismatch extends Error {
  override name = "BaseMismatch";
}

/** Builds the config a proxy serves from its parts (missing parts count as empty). */
export function assembleConfig(
  version: string,
  parts: Partial<Record<PartName, HeldPart>>,
): ProxyConfig {
  const cfg: Record<string, unknown> = { version, virtualHosts: [], listeners: [], clusters: {} };
  for (const part of ["secrets", "listeners", "policies"] as const) {
    const p = parts[part];
    if (!p) continue;
    for (const k of p.keys) {
      if ((FIELD_PART as Record<string, PartName>)[k] !== part) {
        throw new Error(`${part} has an unknown item ${JSON.stringify(k)}`);
      }
      cfg[k] = p.items.get(k);
    }
  }
  const routes = parts.routes;
  if (routes) cfg.virtualHosts = routes.keys.map((k) => routes.items.get(k));
  const clusters: Record<string, Cluster> = {};
  const eps = parts.endpoints;
  for (const name of parts.clusters?.keys ?? []) {
    const c = parts.clusters!.items.get(name) as Omit<Cluster, "endpoints">;
    clusters[name] = { ...c, endpoints: (eps?.items.get(name) as Endpoint[] | undefined) ?? [] };
  }
  cfg.clusters = clusters;
  if (typeof cfg.trustDomain !== "string") cfg.trustDomain = "";
  if (typeof cfg.roots !== "string") cfg.roots = "";
  cfg.outboundTrafficPolicy ??= "ALLOW_ANY";
  return cfg as unknown as ProxyConfig;
}
