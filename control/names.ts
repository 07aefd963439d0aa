/**
 * The names and addresses a sidecar answers DNS for and routes captured connections by
 * (Istio's name table, NDS, with DNS auto-allocation): every service in the proxy's scope,
 * with its addresses (a ServiceEntry's `addresses`, a Kubernetes Service's cluster IP) or,
 * when it has none, an address allocated here from 240.240.0.0/16, as Istio's
 * `DNS_AUTO_ALLOCATE` does, so that a TCP ServiceEntry without addresses works by name.
 *
 * Allocation is stable: a host's address is a hash of its name into the range, and only a
 * collision (two hosts hashing alike, rare in 65,534 addresses) moves the later host, in host
 * order, to the next free address. Wildcard hosts get none (nothing can be resolved to them).
 *
 * @example
 * ```ts
 * const names = nameTable(registry, serviceScope(snapshot, node));
 * // [{ host: "reviews.default.svc.cluster.local", addresses: ["240.240.17.3"], auto: true, ports: [...] }]
 * ```
 * @module
 */
import type { NameEntry, NodeInfo } from "../api/proxy_config.ts";
import type { NamePort } from "../api/name_table.ts";
import type { VirtualService } from "../api/resources.ts";
import type { Service, ServicePort, ServiceRegistry } from "./registry.ts";
import type { ServiceFilter } from "./scope.ts";
import { tcpRouteFor } from "./routes.ts";
import { exportedTo } from "./visibility.ts";

/** The first two octets of auto-allocated addresses (Istio's 240.240.0.0/16). */
export const AUTO_PREFIX = "240.240";
const SPAN = 65534;

/** 32-bit FNV-1a of `s`. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The address of slot `n` (0 … 65533): 240.240.0.1 … 240.240.255.254. */
function slotAddress(n: number): string {
  const v = n + 1;
  return `${AUTO_PREFIX}.${v >> 8}.${v & 255}`;
}

/** Auto-allocated addresses of the services that have none, by host (every service, once). */
export function allocateAddresses(services: Iterable<Service>): Map<string, string> {
  const hosts = [...services]
    .filter((s) => !s.addresses?.length && !s.host.startsWith("*"))
    .map((s) => s.host)
    .sort();
  const used = new Set<number>();
  const out = new Map<string, string>();
  for (const host of hosts) {
    let n = fnv1a(host) % SPAN;
    for (let tries = 0; used.has(n) && tries < SPAN; tries++) n = (n + 1) % SPAN;
    if (used.has(n)) break; // the range is full: the rest get none
    used.add(n);
    out.set(host, slotAddress(n));
  }
  return out;
}

/** Auto-allocated addresses per registry (one allocation per snapshot). */
const allocated = new WeakMap<ServiceRegistry, Map<string, string>>();

/** What {@linkcode nameTable} reads. */
export interface NameTableInput {
  registry: ServiceRegistry;
  /** The proxy's scope (undefined: every service). */
  include: ServiceFilter;
  /** The VirtualServices whose `tcp` routes apply to captured TCP (none: the services' own). */
  virtualServices?: readonly VirtualService[];
  /** The proxy (its namespace and labels pick the VirtualServices and their routes). */
  node?: Pick<NodeInfo, "namespace" | "labels">;
}

const TCP_ROUTED = new Set(["HTTP", "HTTP2", "GRPC", "GRPC-WEB"]);

/** The name table of a proxy. */
export function nameTable(o: NameTableInput): NameEntry[] {
  const { registry, include, node } = o;
  // Only those exported to the proxy's namespace apply to it.
  const visibleVs = node
    ? (o.virtualServices ?? []).filter((vs) =>
      exportedTo(vs.spec.exportTo, vs.metadata.namespace, node.namespace)
    )
    : [];
  const portOf = (svc: Service, p: ServicePort): NamePort => {
    const base: NamePort = {
      port: p.number,
      protocol: p.protocol,
      ...(p.auto ? { sniff: true as const } : {}),
    };
    if (!node || p.auto || TCP_ROUTED.has(p.protocol.toUpperCase())) return base;
    const destinations = tcpRouteFor({
      virtualServices: visibleVs,
      host: svc.host,
      port: p.number,
      registry,
      client: { namespace: node.namespace, labels: node.labels },
    });
    return destinations?.length ? { ...base, destinations } : base;
  };
  let auto = allocated.get(registry);
  if (!auto) {
    auto = allocateAddresses(registry.services.values());
    allocated.set(registry, auto);
  }
  const out: NameEntry[] = [];
  for (const svc of registry.services.values()) {
    if (include && !include(svc)) continue;
    const a = auto.get(svc.host);
    const addresses = svc.addresses?.length ? [...svc.addresses] : a ? [a] : [];
    out.push({
      host: svc.host,
      namespace: svc.namespace,
      addresses,
      ...(a && !svc.addresses?.length ? { auto: true } : {}),
      ports: svc.ports.map((p) => portOf(svc, p)),
    });
  }
  return out.sort((x, y) => (x.host < y.host ? -1 : x.host > y.host ? 1 : 0));
}
