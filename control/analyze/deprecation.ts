/**
 * Deprecated Istio fields and types (Istio's `deprecation.DeprecationAnalyzer`, `IST0002`):
 * a VirtualService `http[].fault.delay.percent` (use `percentage`), a Sidecar
 * `outboundTrafficPolicy.egressProxy` (ignored), and CustomResourceDefinitions of the removed
 * `rbac.istio.io` kinds.
 * @module
 */
import { Deprecated } from "./messages.ts";
import type { Analyzer } from "./analyzer.ts";
import type { AnalysisContext } from "./context.ts";

const REMOVED_CRDS = ["ClusterRbacConfig", "RbacConfig", "ServiceRole", "ServiceRoleBinding"];

/** Checks for deprecated fields and removed resource types. */
export const deprecationAnalyzer: Analyzer = {
  name: "deprecation.DeprecationAnalyzer",
  description: "Checks for deprecated Istio types and fields",
  codes: [Deprecated.code],
  analyze(ctx: AnalysisContext): void {
    for (const vs of ctx.virtualServices) {
      (vs.spec.http ?? []).forEach((route, i) => {
        const percent = (route?.fault?.delay as { percent?: number } | undefined)?.percent;
        if (!percent || percent <= 0) return;
        ctx.report(
          Deprecated,
          ["HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage"],
          ctx.originOf(vs),
          ["spec", "http", i, "fault", "delay", "percent"],
        );
      });
    }
    for (const sc of ctx.sidecars) {
      if (sc.spec.outboundTrafficPolicy?.egressProxy === undefined) continue;
      ctx.report(Deprecated, ["OutboundTrafficPolicy.EgressProxy ignored"], ctx.originOf(sc), [
        "spec",
        "outboundTrafficPolicy",
        "egressProxy",
      ]);
    }
    for (const crd of ctx.crds) {
      if (crd.group !== "rbac.istio.io" || !REMOVED_CRDS.includes(crd.kind)) continue;
      ctx.report(
        Deprecated,
        [`Custom resource type rbac.istio.io ${crd.kind} is removed`],
        crd.origin,
      );
    }
  },
};
