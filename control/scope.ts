/**
 * Which services a proxy gets clusters and endpoints for (Istio's SidecarScope):
 * those exported to its namespace (`exportTo`), narrowed by the hosts of its
 * Sidecar's egress listeners when one applies and has a catch-all (portless)
 * entry (without one the outbound listener routes every service), plus every service a
 * VirtualService visible to it or a tracing provider names (so no route can
 * point at a cluster the proxy lacks). Gateways get every service.
 *
 * @example
 * ```ts
 * const include = serviceScope(snapshot, node);
 * buildClusters(registry, node.namespace, include);
 * ```
 * @module
 */
import type { NodeInfo } from "../api/proxy_config.ts";
import { fqdn } from "../api/host.ts";
import type { Service } from "./registry.ts";
import type { Snapshot } from "./snapshot.ts";
import { exportedTo } from "./visibility.ts";
import { sidecarFor, sidecarHostsAdmit } from "./sidecars.ts";

/** Whether a service is in a proxy's scope; undefined means every service. */
export type ServiceFilter = ((svc: Service) => boolean) | undefined;

/** The hosts VirtualServices exported to `namespace` route or mirror to, as FQDNs. */
export function referencedHosts(snapshot: Snapshot, namespace: string): Set<string> {
  const out = new Set<string>();
  for (const vs of snapshot.virtualServices) {
    if (!exportedTo(vs.spec.exportTo, vs.metadata.namespace, namespace)) continue;
    collectHosts(vs.spec, vs.metadata.namespace, out);
  }
  for (const p of Object.values(snapshot.mesh.tracingProviders ?? {})) {
    out.add(p.service.slice(p.service.indexOf("/") + 1).toLowerCase());
  }
  return out;
}

/** Every `destination.host` and `mirror.host` under `v`. */
function collectHosts(v: unknown, ns: string, out: Set<string>, depth = 0): void {
  if (depth > 12 || !v || typeof v !== "object") return;
  if (Array.isArray(v)) {
    for (const x of v) collectHosts(x, ns, out, depth + 1);
    return;
  }
  for (const [k, x] of Object.entries(v)) {
    if ((k === "destination" || k === "mirror") && x && typeof x === "object") {
      const host = (x as { host?: unknown }).host;
      if (typeof host === "string") out.add(fqdn(host, ns).toLowerCase());
    }
    if (k !== "hosts") collectHosts(x, ns, out, depth + 1);
  }
}

/**
 * The services whose clusters `node` gets, as a filter; undefined for a gateway (all of
 * them). Computed per call; callers share the result per class of proxies
 * ({@linkcode scopeKey}).
 */
export function serviceScope(snapshot: Snapshot, node: NodeInfo): ServiceFilter {
  if (node.mode === "gateway") return undefined;
  const sc = sidecarFor(snapshot, node);
  const egress = sc?.spec.egress ?? [];
  // Without an egress entry that has no port (the catch-all), the outbound listener routes
  // every service (control/sidecars.ts sidecarScope), so every exported one is in scope.
  const narrowed = egress.some((eg) => eg.port === undefined);
  const refs = referencedHosts(snapshot, node.namespace);
  return (svc) => {
    if (refs.has(svc.host)) return true;
    if (!exportedTo(svc.exportTo, svc.namespace, node.namespace)) return false;
    if (!narrowed) return true;
    return egress.some((eg) =>
      sidecarHostsAdmit(eg.hosts, svc.host, svc.namespace, node.namespace)
    );
  };
}

/** What {@linkcode serviceScope} depends on for `node`: its mode, namespace and Sidecar. */
export function scopeKey(snapshot: Snapshot, node: NodeInfo): string {
  if (node.mode === "gateway") return `gateway|${node.namespace}`;
  const sc = sidecarFor(snapshot, node);
  return `sidecar|${node.namespace}|${sc ? `${sc.metadata.namespace}/${sc.metadata.name}` : ""}`;
}
