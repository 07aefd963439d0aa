/**
 * Destination hosts of VirtualServices (Istio's `virtualservice.DestinationHostAnalyzer`):
 *
 * - each route and mirror destination must be a host in the registry (`IST0101`), found as
 *   Istio finds it: a host exported everywhere, else one exported to the VirtualService's own
 *   namespace (no `exportTo`) or to one of the namespaces the VirtualService is exported to,
 *   else a wildcard ServiceEntry host visible in its namespace;
 * - a port it names must be one of the host's ports (`IST0101`, `host:port`), and a host with
 *   several ports needs the port named (`IST0112`);
 * - `IST0140`: a VirtualService bound to gateways routes to a host without a subset, where a
 *   VirtualService for that host splits it by subsets: the gateway's requests skip those
 *   subsets.
 * @module
 */
import {
  IngressRouteRulesNotAffected,
  ReferencedResourceNotFound,
  VirtualServiceDestinationPortSelectorRequired,
} from "./messages.ts";
import {
  type Analyzer,
  fullName,
  mirrorDestinations,
  routeDestinations,
  type VsDestination,
} from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import type { ScopedEntry } from "./hosts.ts";
import type { ObjectOrigin } from "./k8s.ts";
import type { VirtualService } from "../../api/resources.ts";

function checkPorts(
  ctx: AnalysisContext,
  origin: ObjectOrigin,
  d: VsDestination,
  entry: ScopedEntry,
): void {
  if (d.port === undefined) {
    if (entry.ports.length > 1) {
      ctx.report(
        VirtualServiceDestinationPortSelectorRequired,
        [d.host, entry.ports.map((p) => p.number)],
        origin,
        d.path,
      );
    }
  } else if (!entry.ports.some((p) => p.number === d.port)) {
    ctx.report(ReferencedResourceNotFound, ["host:port", `${d.host}:${d.port}`], origin, d.path);
  }
}

/** VirtualServices with their destinations that have a subset and are one of their hosts. */
function subsetDestinations(ctx: AnalysisContext): { vs: VirtualService; hosts: string[] }[] {
  const out: { vs: VirtualService; hosts: string[] }[] = [];
  for (const vs of ctx.virtualServices) {
    const hosts = routeDestinations(vs)
      .filter((d) => d.path[1] === "http" && d.subset !== undefined)
      .filter((d) => vs.spec.hosts.includes(d.host))
      .map((d) => d.host);
    if (hosts.length) out.push({ vs, hosts });
  }
  return out;
}

/** Checks that every VirtualService destination exists, with the port it needs. */
export const destinationHostAnalyzer: Analyzer = {
  name: "virtualservice.DestinationHostAnalyzer",
  description: "Checks the destination hosts associated with each virtual service",
  codes: [
    ReferencedResourceNotFound.code,
    VirtualServiceDestinationPortSelectorRequired.code,
    IngressRouteRulesNotAffected.code,
  ],
  analyze(ctx: AnalysisContext): void {
    const withSubsets = subsetDestinations(ctx);
    for (const vs of ctx.virtualServices) {
      const ns = vs.metadata.namespace;
      const exportTo = vs.spec.exportTo ?? [];
      const origin = ctx.originOf(vs);
      for (const d of [...routeDestinations(vs), ...mirrorDestinations(vs)]) {
        const entry = ctx.scopedHosts.lookup(ns, exportTo, d.host);
        if (!entry) {
          ctx.report(
            ReferencedResourceNotFound,
            [d.mirror ? "mirror host" : "host", d.host],
            origin,
            d.path,
          );
          continue;
        }
        checkPorts(ctx, origin, d, entry);
      }
      if ((vs.spec.gateways ?? []).length === 0) continue;
      for (const d of routeDestinations(vs)) {
        if (d.path[1] !== "http" || d.subset !== undefined) continue;
        for (const other of withSubsets) {
          for (const host of other.hosts) {
            if (host !== d.host) continue;
            ctx.report(
              IngressRouteRulesNotAffected,
              [fullName(other.vs.metadata), fullName(vs.metadata)],
              origin,
              d.path,
            );
          }
        }
      }
    }
  },
};
