/**
 * VirtualServices bound to the mesh (sidecars) that claim the same host in the same scope
 * (Istio's `virtualservice.ConflictingMeshGatewayHostsAnalyzer`, `IST0109`). Short hosts are
 * compared as full names in the VirtualService's namespace; `exportTo` scopes them (no
 * `exportTo`, or `*`, is every namespace; `.` its own).
 *
 * Each conflicting VirtualService gets a message; the control plane uses only the first one
 * by namespace/name for sidecars.
 * @module
 */
import { fqdn } from "../../api/host.ts";
import type { VirtualService } from "../../api/resources.ts";
import { ConflictingMeshGatewayVirtualServiceHosts } from "./messages.ts";
import { type Analyzer, fullName } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";
import { exportToOf } from "./hosts.ts";

/** Whether `vs` applies to sidecars (no gateways, or `mesh` among them). */
export function boundToMesh(vs: VirtualService): boolean {
  const gws = vs.spec.gateways ?? [];
  return gws.length === 0 || gws.includes("mesh");
}

/** Checks for VirtualServices that share a host on the mesh gateway. */
export const meshHostsAnalyzer: Analyzer = {
  name: "virtualservice.ConflictingMeshGatewayHostsAnalyzer",
  description:
    "Checks if multiple virtual services associated with the mesh gateway have conflicting hosts",
  codes: [ConflictingMeshGatewayVirtualServiceHosts.code],
  analyze(ctx: AnalysisContext): void {
    const byHost = new Map<string, { host: string; list: VirtualService[] }>();
    for (const vs of ctx.virtualServices) {
      if (!boundToMesh(vs)) continue;
      const ns = vs.metadata.namespace;
      const exportTo = exportToOf(vs.spec.exportTo);
      const scopes = !exportTo || exportTo.includes("*")
        ? ["*"]
        : [...new Set(exportTo.map((e) => (e === "." ? ns : e)))];
      for (const scope of scopes) {
        for (const h of new Set(vs.spec.hosts.map((h) => fqdn(h, ns)))) {
          const key = `${scope}/${h}`;
          const entry = byHost.get(key) ?? { host: h, list: [] };
          entry.list.push(vs);
          byHost.set(key, entry);
        }
      }
    }
    for (const { host, list } of byHost.values()) {
      if (list.length < 2) continue;
      const names = list.map((vs) => fullName(vs.metadata)).join(",");
      for (const vs of list) {
        ctx.report(ConflictingMeshGatewayVirtualServiceHosts, [names, host], ctx.originOf(vs), [
          "metadata",
          "name",
        ]);
      }
    }
  },
};
