/**
 * Gateways of VirtualServices (Istio's `virtualservice.GatewayAnalyzer`): each gateway a
 * VirtualService binds to must exist (`IST0101`; `mesh` is reserved for sidecars), and the
 * Gateway's servers must admit the VirtualService's hosts (`IST0132`), honouring the
 * `namespace/host` form of server hosts (`*` any namespace, `.` the Gateway's own).
 *
 * Unlike istioctl, which warns only when none of the hosts is admitted and then lists them
 * all, mesh lists exactly the hosts the Gateway doesn't admit: those are the ones the gateway
 * won't route.
 * @module
 */
import { hostsIntersect } from "../../api/host.ts";
import type { Gateway, VirtualService } from "../../api/resources.ts";
import { ReferencedResourceNotFound, VirtualServiceHostNotFoundInGateway } from "./messages.ts";
import { type Analyzer, fullName } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";

/** The Gateway a VirtualService's `gateways` entry names (`name` or `namespace/name`). */
export function resolveGateway(
  ref: string,
  vsNamespace: string,
  gateways: readonly Gateway[],
): Gateway | undefined {
  const slash = ref.indexOf("/");
  const ns = slash < 0 ? vsNamespace : ref.slice(0, slash);
  const name = slash < 0 ? ref : ref.slice(slash + 1);
  return gateways.find((g) => g.metadata.namespace === ns && g.metadata.name === name);
}

/** Server hosts of `gw` that admit VirtualServices of `vsNamespace`, without `ns/`. */
export function admittedHosts(gw: Gateway, vsNamespace: string): string[] {
  const out: string[] = [];
  for (const server of gw.spec.servers) {
    for (const raw of server.hosts) {
      const h = raw.toLowerCase();
      const slash = h.indexOf("/");
      if (slash < 0) {
        out.push(h);
        continue;
      }
      const ns = h.slice(0, slash);
      if (
        ns === "*" || ns === vsNamespace || (ns === "." && vsNamespace === gw.metadata.namespace)
      ) {
        out.push(h.slice(slash + 1));
      }
    }
  }
  return out;
}

/** VirtualService hosts that no admitted server host of `gw` covers. */
export function hostsNotInGateway(vs: VirtualService, gw: Gateway): string[] {
  const admitted = admittedHosts(gw, vs.metadata.namespace);
  return vs.spec.hosts.filter((h) => !admitted.some((a) => hostsIntersect(a, h.toLowerCase())));
}

/** Checks the gateways each VirtualService is bound to. */
export const vsGatewayAnalyzer: Analyzer = {
  name: "virtualservice.GatewayAnalyzer",
  description: "Checks the gateways associated with each virtual service",
  codes: [ReferencedResourceNotFound.code, VirtualServiceHostNotFoundInGateway.code],
  analyze(ctx: AnalysisContext): void {
    for (const vs of ctx.virtualServices) {
      const origin = ctx.originOf(vs);
      (vs.spec.gateways ?? []).forEach((ref, i) => {
        if (ref === "mesh") return;
        const gw = resolveGateway(ref, vs.metadata.namespace, ctx.gateways);
        if (!gw) {
          ctx.report(ReferencedResourceNotFound, ["gateway", ref], origin, ["spec", "gateways", i]);
          return;
        }
        const missing = hostsNotInGateway(vs, gw);
        if (missing.length) {
          ctx.report(
            VirtualServiceHostNotFoundInGateway,
            [missing, fullName(vs.metadata), fullName(gw.metadata)],
            origin,
            ["spec", "gateways", i],
          );
        }
      });
    }
  },
};
