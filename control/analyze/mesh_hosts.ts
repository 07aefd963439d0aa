/**
 * VirtualServices bound to the mesh (sidecars) that claim the same host in the same scope
 * (Istio's `virtualservice.ConflictingMeshGatewayHostsAnalyzer`, `IST0109`), decided as Istio
 * decides it:
 *
 * - each host is made a full name in the VirtualService's namespace and keyed by scope: `*`
 *   when `exportTo` is empty or has `*`, else each namespace it is exported to (`.` is its
 *   own);
 * - VirtualServices with the same scope and host conflict;
 * - a host in a namespace scope also conflicts with every host in the `*` scope it overlaps
 *   (`*.d` and `*.productpage.d`, or `ratings.foo...` and `*.foo...`): a VirtualService
 *   exported everywhere is visible in that namespace too.
 *
 * Each conflicting VirtualService gets one message, naming the host as `scope/fqdn`, as
 * istioctl prints it.
 * @module
 */
import type { VirtualService } from "../../api/resources.ts";
import { ConflictingMeshGatewayVirtualServiceHosts } from "./messages.ts";
import { type Analyzer, fullName } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { istioFqdn, istioHostsMatch } from "./hosts.ts";

/** Whether `vs` applies to sidecars (no gateways, or `mesh` among them). */
export function boundToMesh(vs: VirtualService): boolean {
  const gws = vs.spec.gateways ?? [];
  return gws.length === 0 || gws.includes("mesh");
}

/** The scopes of a resource's `exportTo`, as Istio's analyzers key them: `*` or namespaces. */
export function exportScopes(exportTo: readonly string[] | undefined, namespace: string): string[] {
  if (!exportTo || exportTo.length === 0 || exportTo.includes("*")) return ["*"];
  return [...new Set(exportTo.map((e) => (e === "." ? namespace : e)))];
}

/** Checks for VirtualServices that share a host on the mesh gateway. */
export const meshHostsAnalyzer: Analyzer = {
  name: "virtualservice.ConflictingMeshGatewayHostsAnalyzer",
  description:
    "Checks if multiple virtual services associated with the mesh gateway have conflicting hosts",
  codes: [ConflictingMeshGatewayVirtualServiceHosts.code],
  analyze(ctx: AnalysisContext): void {
    const byKey = new Map<string, { scope: string; host: string; list: VirtualService[] }>();
    for (const vs of ctx.virtualServices) {
      if (!boundToMesh(vs)) continue;
      const ns = vs.metadata.namespace;
      for (const scope of exportScopes(vs.spec.exportTo, ns)) {
        for (const h of vs.spec.hosts) {
          const host = istioFqdn(h, ns);
          const key = `${scope}/${host}`;
          const entry = byKey.get(key) ?? { scope, host, list: [] };
          entry.list.push(vs);
          byKey.set(key, entry);
        }
      }
    }
    const reported = new Set<VirtualService>();
    for (const [key, { scope, host, list }] of byKey) {
      const all = [...list];
      if (scope !== "*") {
        for (const other of byKey.values()) {
          if (other.scope === "*" && istioHostsMatch(host, other.host)) all.push(...other.list);
        }
      }
      if (all.length < 2) continue;
      const names = all.map((vs) => fullName(vs.metadata)).sort().join(",");
      for (const vs of all) {
        if (reported.has(vs)) continue;
        reported.add(vs);
        ctx.report(ConflictingMeshGatewayVirtualServiceHosts, [names, key], ctx.originOf(vs), [
          "metadata",
          "name",
        ]);
      }
    }
  },
};
